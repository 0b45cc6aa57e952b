/**
 * tools/service/carbonedge.service passes `systemd-analyze verify` with no warning at all (an
 * unknown or misspelt key only warns), and carries what the service needs: Type=notify with the
 * watchdog and NotifyAccess=all (systemd-notify is a child), no restart on exit codes 2 and 78
 * (tools/cli/exit-codes.ts), the dialout and gpio groups, state and config directories, and
 * device access for serial adapters and GPIO chips under the hardening.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../tools/cli/exit-codes.js';
import { haveTools } from './system-peers.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const UNIT = path.join(ROOT, 'tools', 'service', 'carbonedge.service');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `systemd-analyze verify` of `text` as carbonedge.service: exit status and everything it printed. */
function verifyUnit(text: string, where = dir): { status: number | null; output: string } {
  const file = path.join(where, 'carbonedge.service');
  writeFileSync(file, text);
  const r = spawnSync('/usr/bin/systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The unit with ExecStart's program replaced by one that exists here (verify checks it). */
function withBin(text: string, bin: string): string {
  return text.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`);
}

const unit = readFileSync(UNIT, 'utf8');
const keys = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());

describe('systemd unit', () => {
  const tools = haveTools('systemdAnalyze');
  it.skipIf(!tools)('passes systemd-analyze verify without a warning (and a misspelt key would not)', () => {
    const ok = verifyUnit(withBin(unit, path.join(ROOT, 'tools', 'carbonedge.js')));
    expect(ok).toEqual({ status: 0, output: '' });
    const bad = verifyUnit(withBin(unit, path.join(ROOT, 'tools', 'carbonedge.js')).replace('WatchdogSec=', 'WatchdogSecs='));
    expect(bad.output).toMatch(/Unknown key 'WatchdogSecs'/);
  });

  it('notify, watchdog, restart policy, user, groups, directories, device access', () => {
    expect(keys('Type')).toEqual(['notify']);
    expect(keys('NotifyAccess')).toEqual(['all']);
    expect(Number(keys('WatchdogSec')[0])).toBeGreaterThan(0);
    expect(keys('Restart')).toEqual(['on-failure']);
    expect(keys('RestartPreventExitStatus')[0]!.split(/\s+/).map(Number).sort()).toEqual([EXIT.usage, EXIT.config].sort());
    expect(keys('SupplementaryGroups')[0]!.split(/\s+/).sort()).toEqual(['dialout', 'gpio']);
    expect(keys('StateDirectory')).toEqual(['carbonedge']);
    expect(keys('ConfigurationDirectory')).toEqual(['carbonedge']);
    expect(keys('ExecStart')[0]).toMatch(/ run --config \$\{CONFIGURATION_DIRECTORY\}\/site\.yaml --data \$\{STATE_DIRECTORY\}$/);
    expect(keys('PrivateDevices')).toEqual(['no']);
    expect(keys('DeviceAllow')).toEqual(expect.arrayContaining(['char-ttyUSB rw', 'char-ttyAMA rw', 'char-gpiochip rw']));
    expect(keys('StandardError')).toEqual(['journal']);
    // The gateway's own stop deadline fits in systemd's.
    expect(Number(keys('TimeoutStopSec')[0]) * 1000).toBeGreaterThan(25_000);
  });
});
