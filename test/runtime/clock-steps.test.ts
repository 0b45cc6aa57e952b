/**
 * Steps of the wall clock (NTP setting the clock of a gateway without an RTC battery): polling,
 * backoff, value ages and stale marking run on the monotonic clock, so a step one hour back or
 * forward freezes nothing, never makes an age negative and never ages a fresh value; the step is
 * logged once, with its size. The wall clock only stamps values.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { ModbusUnavailableError } from '../../drivers/modbus/errors.js';
import type { DeviceConfig } from '../../runtime/config/types.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';
import { startMbapPeer, type MbapPeer } from '../drivers/mbap-peer.js';
import { recordReads } from '../helpers/bus-requests.js';
import { freePort, waitFor } from '../helpers/peers.js';
import { TestClock } from '../helpers/test-clock.js';
import { oneRegister } from '../drivers/fixtures.js';

const HOUR = 3_600_000;

const device = (over: Partial<DeviceConfig> = {}): DeviceConfig => ({
  id: 'meter',
  role: 'grid_meter',
  bus: 'plant',
  unitId: 1,
  profile: 'one-register',
  pollIntervalMs: 100,
  ...over,
});

function capturedLogger() {
  const lines: Array<{ msg: string; stepMs?: number; level: number }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, steps: () => lines.filter((l) => l.stepMs !== undefined) };
}

const reading = (ts: number): Reading => ({ device: 'meter', point: 'value', value: 1, quality: 'good', ts, source: 'test' });

describe('ReadingsHub across wall-clock steps (manual clock)', () => {
  for (const step of [-HOUR, HOUR]) {
    const way = step < 0 ? 'back' : 'forward';
    it(`wall clock stepped ${way} one hour: the age is monotonic, stale after exactly the stale age`, () => {
      const clock = new TestClock();
      const hub = new ReadingsHub({ clock });
      hub.setStaleAfter('meter', 1000);
      hub.publish([reading(clock.now())]);
      clock.advance(400);
      clock.stepWall(step);
      expect(hub.ageMs('meter', 'value')).toBe(400);
      expect(hub.sweep()).toBe(0); // forward: not aged by an hour at once
      clock.advance(600);
      expect(hub.sweep()).toBe(0);
      expect(hub.latest('meter', 'value')!.quality).toBe('good');
      clock.advance(1);
      expect(hub.sweep()).toBe(1); // back: not frozen as good for an hour
      expect(hub.latest('meter', 'value')).toMatchObject({ quality: 'stale', error: 'no fresh value for 1001 ms (stale after 1000 ms)' });
      // Invalidation keeps the value's age; it is still counted from the value's reading.
      expect(hub.ageMs('meter', 'value')).toBe(1001);
    });
  }

  it('a value stamped ahead of the wall clock (read before a step back) has age 0, never negative', () => {
    const clock = new TestClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('meter', 1000);
    const ts = clock.now();
    clock.stepWall(-HOUR);
    hub.publish([reading(ts)]);
    expect(hub.ageMs('meter', 'value')).toBe(0);
    clock.advance(1000);
    expect(hub.sweep()).toBe(0);
    clock.advance(1);
    expect(hub.sweep()).toBe(1);
  });

  it('each step is logged once, with its size; slewing and plain time passing are not steps', () => {
    const clock = new TestClock();
    const { logger, steps } = capturedLogger();
    const hub = new ReadingsHub({ clock, logger });
    hub.sweep();
    clock.advance(60_000);
    clock.stepWall(200); // within tolerance: NTP slew / scheduling noise
    hub.sweep();
    expect(steps()).toHaveLength(0);
    clock.stepWall(-HOUR);
    hub.sweep();
    hub.publish([reading(clock.now())]);
    hub.sweep();
    expect(steps()).toEqual([expect.objectContaining({ stepMs: -HOUR, level: 40, msg: expect.stringMatching(/wall clock stepped back by 3600000 ms/) })]);
    clock.advance(5000);
    clock.stepWall(HOUR);
    hub.sweep();
    hub.sweep();
    expect(steps().map((l) => l.stepMs)).toEqual([-HOUR, HOUR]);
    expect(hub.clockSteps.steps).toBe(2);
  });
});

describe('DevicePoller + ReadingsHub with the wall clock stepped inside a poll cycle', () => {
  let peer: MbapPeer | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await peer?.close();
    peer = undefined;
  });

  /** A poller on a real Modbus TCP peer; records the monotonic time each cycle starts (one request per cycle). */
  async function setup(opts: { step: number; atCycle: number; device?: Partial<DeviceConfig>; backoffMs?: number }) {
    peer = await startMbapPeer();
    const clock = new TestClock({ real: true });
    const { logger, steps } = capturedLogger();
    const hub = new ReadingsHub({ clock, logger });
    hub.setStaleAfter('meter', 300);
    const bus = new ModbusBus({ id: 'plant', type: 'tcp', host: '127.0.0.1', port: peer.port }, { clock });
    const reads = recordReads(bus, () => clock.mono());
    const poller = new DevicePoller({ device: device(opts.device), profile: oneRegister, bus, hub, clock, backoff: { baseMs: opts.backoffMs ?? 200 } });
    cleanups.push(() => poller.stop());
    // Closed first: a request still waiting for a silent device fails at once.
    cleanups.push(() => bus.close());
    let cycles = 0;
    let steppedAtCycle: number | undefined;
    let staleRightAfterStep: number | undefined;
    // Publishing happens inside the poll cycle (after it started, before the next is scheduled).
    hub.subscribe(() => {
      if (++cycles !== opts.atCycle) return;
      clock.stepWall(opts.step);
      steppedAtCycle = reads.length;
      staleRightAfterStep = hub.sweep();
    });
    const starts = () => reads.map((r) => r.at);
    return { clock, hub, poller, starts, steps, stepped: () => ({ steppedAtCycle, staleRightAfterStep }) };
  }

  for (const step of [-HOUR, HOUR]) {
    const way = step < 0 ? 'back' : 'forward';
    it(`stepped ${way} one hour: polling continues at the configured interval, ages stay >= 0, the step is logged once`, async () => {
      const { hub, poller, starts, steps, stepped } = await setup({ step, atCycle: 3 });
      poller.start();
      await waitFor(() => starts().length >= 9, 10_000, 'six cycles after the step');
      await poller.stop();
      const { steppedAtCycle, staleRightAfterStep } = stepped();
      expect(steppedAtCycle).toBe(3);
      // Never early (a step forward used to start the next cycle at once), never an hour late.
      const at = starts();
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      for (const g of gaps) expect(g).toBeGreaterThanOrEqual(90);
      expect(poller.stats.complete).toBeGreaterThanOrEqual(9);
      // The value read just before the step is fresh, not an hour old, and no age is negative.
      expect(staleRightAfterStep).toBe(0);
      const age = hub.ageMs('meter', 'value')!;
      expect(age).toBeGreaterThanOrEqual(0);
      expect(hub.latest('meter', 'value')).toMatchObject({ quality: 'good', value: 1007 });
      hub.sweep();
      expect(steps()).toEqual([expect.objectContaining({ stepMs: expect.any(Number) })]);
      expect(Math.abs(steps()[0]!.stepMs! - step)).toBeLessThan(1000);
    });
  }

  it('stepped back one hour while the value is current: a silent device is marked stale by monotonic age', async () => {
    // Device timeout (3 s) far beyond the stale age (300 ms): only the sweep can flag the value.
    const { hub, poller, stepped } = await setup({ step: -HOUR, atCycle: 2, device: { timeoutMs: 3000 } });
    poller.start();
    await waitFor(() => stepped().steppedAtCycle !== undefined, 10_000, 'the step');
    peer!.silent.add(1);
    await waitFor(() => (hub.sweep(), hub.latest('meter', 'value')?.quality === 'stale'), 10_000, 'stale by monotonic age');
    const stale = hub.latest('meter', 'value')!;
    expect(stale.value).toBe(1007);
    expect(stale.error).toMatch(/^no fresh value for \d+ ms \(stale after 300 ms\)$/);
    expect(hub.ageMs('meter', 'value')).toBeGreaterThan(300);
    expect(poller.stats.failed).toBe(0); // the request is still waiting: the sweep flagged it
  });

  it('stepped back one hour while the device is backed off: it is polled again when the backoff expires', async () => {
    const { clock, hub, poller } = await setup({ step: 0, atCycle: 0, device: { timeoutMs: 150 }, backoffMs: 200 });
    poller.start();
    await waitFor(() => hub.latest('meter', 'value')?.quality === 'good', 10_000, 'first good value');
    peer!.silent.add(1);
    await waitFor(() => poller.backedOff !== undefined, 10_000, 'backoff');
    const backedOff = poller.backedOff!;
    // `until` is wall time: about the backoff (200 ms +-20 %) ahead of the wall clock.
    expect(backedOff.until - clock.now()).toBeGreaterThan(0);
    expect(backedOff.until - clock.now()).toBeLessThanOrEqual(240);
    clock.stepWall(-HOUR);
    expect(poller.backedOff!.until - clock.now()).toBeLessThanOrEqual(240);
    peer!.silent.delete(1);
    const complete = poller.stats.complete;
    await waitFor(() => poller.stats.complete > complete + 2, 10_000, 'polled again after the backoff');
    expect(hub.latest('meter', 'value')).toMatchObject({ quality: 'good', value: 1007 });
    expect(poller.backedOff).toBeUndefined();
  });
});

describe('ModbusBus reconnect backoff across a wall-clock step', () => {
  it('stepped back one hour while waiting to reconnect: the next attempt still comes after the backoff', async () => {
    const port = await freePort();
    const clock = new TestClock({ real: true });
    const bus = new ModbusBus({ id: 'plant', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 300 }, { clock, reconnect: { baseMs: 1000, maxMs: 1000 } });
    let peer: MbapPeer | undefined;
    try {
      // Nothing listens: the connect fails and the bus waits 1 s (+-25 %) before the next try.
      await expect(bus.read(1, 'holding', 7, 1)).rejects.toThrow(/cannot open/);
      clock.stepWall(-HOUR);
      const refused = await bus.read(1, 'holding', 7, 1).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ModbusUnavailableError);
      // The wait left is the backoff, not the backoff plus the hour the wall clock went back.
      const left = Number(/next reconnect attempt in (\d+) ms/.exec((refused as Error).message)?.[1]);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(1250);
      peer = await startMbapPeer(port);
      await waitFor(async () => (await bus.read(1, 'holding', 7, 1).catch(() => undefined))?.[0] === 1007, 10_000, 'a read after the reconnect');
    } finally {
      await bus.close();
      await peer?.close();
    }
  });
});
