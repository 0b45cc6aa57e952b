/**
 * SIGTERM reaches the gateway however it is launched, and a stop loses nothing:
 * - `npx carbonedge run` and `npm start` put `npm -> sh -c -> node`; SIGTERM to the npm process
 *   used to kill only the shell and leave node orphaned, holding its ports. Now nothing mentioning
 *   the test's data directory is left, the lock is released (a clean stop, not a kill) and every
 *   outbox record enqueued before the signal is still there, with no gap in the sequences.
 * - exit codes: a config error exits 78 (no restart loop under systemd), an overrun stop 70.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../runtime/config/data-dir-lock.js';
import { EXIT } from '../../tools/cli/exit-codes.js';
import { freePort } from '../helpers/peers.js';
import { assertBuilt, readChildStore } from '../uplink/child-gateway.js';
import { killAllWith, launch, pidsWith, until, untilNoneWith, type Launched } from './processes.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'tools', 'carbonedge.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-signals-'));
let simulator: Launched;
let config: string;

beforeAll(async () => {
  assertBuilt();
  const port = await freePort();
  simulator = launch(process.execPath, [CLI, 'simulate', '--site', 'demo', '--tcp', String(port), '--host', '127.0.0.1']);
  await until(() => simulator.output().includes('serving'), 'simulator serving', simulator.output);
  const printed = spawnSync(process.execPath, [CLI, 'demo', '--print-config', '--port', String(port)], { encoding: 'utf8' });
  expect(printed.status).toBe(0);
  config = path.join(dir, 'site.yaml');
  writeFileSync(config, printed.stdout);
}, 60_000);

afterAll(async () => {
  simulator?.proc.kill('SIGTERM');
  await simulator?.exited;
  killAllWith(dir);
  rmSync(dir, { recursive: true, force: true });
});

/** Start a launcher, wait for records in the outbox, SIGTERM the launcher's own pid; what is left. */
async function stopLauncher(cmd: string, args: string[], data: string) {
  const run = launch(cmd, args, { cwd: ROOT, detached: true });
  try {
    const db = path.join(data, 'carbonedge.db');
    const outboxSize = () => {
      try {
        return readChildStore(data).outbox;
      } catch {
        return 0; // not migrated yet
      }
    };
    await until(() => existsSync(db) && outboxSize() > 0, 'records in the outbox', run.output, 1800);
    const gatewayPids = pidsWith(data).filter((p) => p !== run.proc.pid);
    expect(gatewayPids.length, run.output()).toBeGreaterThan(0);
    const before = readChildStore(data);
    run.proc.kill('SIGTERM'); // the npm process only, as a supervisor or `kill <pid>` would
    await run.exited;
    const left = await untilNoneWith(data);
    return { run, before, after: readChildStore(data), left };
  } finally {
    try {
      process.kill(-run.proc.pid!, 'SIGKILL');
    } catch {
      // The group is gone: nothing was left behind.
    }
  }
}

function expectNothingLost(r: Awaited<ReturnType<typeof stopLauncher>>, data: string): void {
  expect(r.left, r.run.output()).toEqual([]);
  expect(existsSync(path.join(data, LOCK_FILE)), 'lock released by a clean stop').toBe(false);
  expect(r.run.output()).toMatch(/"msg":"stopped"/);
  expect(r.after.outbox).toBeGreaterThanOrEqual(r.before.outbox);
  // Nothing was acknowledged (no uplink): every sequence number ever given is still in the outbox.
  const given = Object.values(r.after.lastSeqs).reduce((a, b) => a + b, 0);
  expect(r.after.outbox).toBe(given);
}

describe('SIGTERM to the launcher leaves no process and loses nothing', () => {
  it('npx carbonedge run', async () => {
    const data = path.join(dir, 'npx-data');
    const r = await stopLauncher('npx', ['carbonedge', 'run', '--config', config, '--data', data], data);
    expectNothingLost(r, data);
    expect(r.run.output()).toMatch(/"signal":"(SIGTERM|parent \d+ exited)"/);
  }, 240_000);

  it('npm start (the demo)', async () => {
    const data = path.join(dir, 'npm-start-data');
    const r = await stopLauncher('npm', ['start', '--', '--data', data, '--port', '0'], data);
    expectNothingLost(r, data);
  }, 240_000);
});

describe('exit codes', () => {
  it('a config error exits 78 (RestartPreventExitStatus), with the error on stderr', () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nsite: {}\n');
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', bad, '--data', path.join(dir, 'bad-data')], { encoding: 'utf8' });
    expect(r.status).toBe(EXIT.config);
    expect(r.stderr).toMatch(/refusing to start/);
  });

  it('a stop that overruns its deadline exits 70 (forced), logged', async () => {
    // A 1 ms deadline: the demo's stop (outputs driven to their safe state over Modbus TCP,
    // simulators closed, store flushed) cannot finish in it.
    const run = launch(process.execPath, [CLI, 'demo', '--port', '0', '--data', path.join(dir, 'forced-data')], { env: { ...process.env, CARBONEDGE_STOP_TIMEOUT_MS: '1' } });
    await until(() => run.output().includes('gateway started'), 'gateway started', run.output);
    run.proc.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code, run.output()).toBe(EXIT.forced);
    expect(run.output()).toMatch(/stop deadline passed/);
  }, 60_000);
});
