/**
 * The systemd notify protocol against a real NOTIFY_SOCKET (a python3 unix datagram listener),
 * sent by the real `systemd-notify`: READY=1 after start, WATCHDOG=1 pings while every loop is
 * alive, none while one is stuck (the liveness registry), STOPPING=1 on shutdown. Also the whole
 * gateway (`carbonedge demo`) under NOTIFY_SOCKET/WATCHDOG_USEC, stopped by SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PollLoop } from '../../drivers/poll-loop.js';
import { silentLogger } from '../../runtime/logger.js';
import { LivenessRegistry } from '../../runtime/supervision/liveness.js';
import { createSystemdNotifier, watchdogIntervalMs } from '../../runtime/supervision/sd-notify.js';
import { TestClock } from '../helpers/test-clock.js';
import { assertBuilt } from '../uplink/child-gateway.js';
import { NotifyListener } from './notify-listener.js';
import { launch, until } from './processes.js';
import { haveTools } from './system-peers.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-notify-'));
const listeners: NotifyListener[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function listen(name: string): Promise<NotifyListener> {
  const l = await NotifyListener.start(path.join(dir, name));
  listeners.push(l);
  return l;
}

describe('liveness registry', () => {
  it('a poll loop whose cycle hangs is stuck once its report is overdue by more than the grace', async () => {
    const clock = new TestClock();
    const reg = new LivenessRegistry({ clock, graceMs: 1000 });
    let release: () => void = () => undefined;
    let cycles = 0;
    // The first cycle hangs until released; the later ones return at once.
    const cycle = () => (cycles++ === 0 ? new Promise<void>((r) => (release = r)) : Promise.resolve());
    const loop = new PollLoop({ clock, intervalMs: 500, cycle, onSkip: () => undefined, log: silentLogger(), liveness: reg.loop('poll:meter') });
    loop.start();
    await new Promise((r) => setTimeout(r, 20)); // the first cycle starts (and hangs)
    // The hanging cycle was due at once (the first poll): it has the grace to finish.
    clock.advance(900);
    expect(reg.stuck()).toEqual([]);
    clock.advance(200);
    expect(reg.stuck().map((s) => s.name)).toEqual(['poll:meter']);
    release();
    await new Promise((r) => setTimeout(r, 20)); // the cycle ends, the next one is scheduled: a report
    expect(reg.stuck()).toEqual([]);
    await loop.stop();
    clock.advance(10_000);
    expect(reg.stuck()).toEqual([]); // stopped on purpose: closed, never stuck
  });

  it('WATCHDOG_USEC is halved; a WATCHDOG_PID of another process disables the pings', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) })).toBeUndefined();
    expect(watchdogIntervalMs({})).toBeUndefined();
  });
});

describe('systemd notify protocol over a real NOTIFY_SOCKET', () => {
  const peers = haveTools('python', 'systemdNotify');

  it.skipIf(!peers)('READY=1, WATCHDOG=1 while healthy, none while a loop is stuck, pings again after, STOPPING=1', async () => {
    const l = await listen('unit.sock');
    const clock = new TestClock();
    const reg = new LivenessRegistry({ clock, graceMs: 1000 });
    const control = reg.loop('control');
    control.beat(1000);
    const n = createSystemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '100000' }, liveness: reg, logger: silentLogger() })!;
    expect(n).toBeDefined();
    n.ready('running');
    await until(() => l.count('WATCHDOG=1') >= 3, '3 pings while healthy', () => l.lines().join('\n'));
    expect(l.lines()[0]).toBe('READY=1');
    // The control loop stops reporting: 2.5 s of monotonic time pass without a beat.
    clock.advance(2500);
    await until(() => l.lines().some((x) => x.startsWith('STATUS=stuck: control')), 'stuck status', () => l.lines().join('\n'));
    await n.flush();
    const pingsWhenStuck = l.count('WATCHDOG=1');
    const stuckBefore = l.lines().filter((x) => x.startsWith('STATUS=stuck')).length;
    await until(() => l.lines().filter((x) => x.startsWith('STATUS=stuck')).length >= stuckBefore + 5, '5 more watchdog periods', () => l.lines().join('\n'));
    expect(l.count('WATCHDOG=1')).toBe(pingsWhenStuck); // no ping while stuck
    control.beat(1000);
    await until(() => l.count('WATCHDOG=1') > pingsWhenStuck, 'pings resume', () => l.lines().join('\n'));
    n.stopping();
    await n.flush();
    const lines = l.lines();
    expect(lines.slice(lines.lastIndexOf('STOPPING=1') + 1).filter((x) => x === 'WATCHDOG=1')).toEqual([]);
    expect(lines).toContain('STOPPING=1');
  }, 60_000);

  it.skipIf(!peers)('the gateway (carbonedge demo) notifies READY, pings, and STOPPING on SIGTERM, exit 0', async () => {
    assertBuilt();
    const l = await listen('demo.sock');
    const run = launch(process.execPath, [CLI, 'demo', '--port', '0', '--data', path.join(dir, 'demo-data')], {
      env: { ...process.env, NOTIFY_SOCKET: l.socket, WATCHDOG_USEC: '400000' },
    });
    try {
      await until(() => l.count('WATCHDOG=1') >= 3, 'READY and 3 pings', () => `${l.lines().join('\n')}\n${run.output()}`);
      const lines = l.lines();
      expect(lines.indexOf('READY=1')).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf('READY=1')).toBeLessThan(lines.indexOf('WATCHDOG=1'));
      expect(lines).toContain(`MAINPID=${run.proc.pid}`);
      run.proc.kill('SIGTERM');
      const { code } = await run.exited;
      expect(code, run.output()).toBe(0);
      expect(l.lines()).toContain('STOPPING=1');
    } finally {
      run.proc.kill('SIGKILL');
    }
  }, 120_000);
});
