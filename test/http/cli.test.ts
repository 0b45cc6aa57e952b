/**
 * `carbonedge status` and `carbonedge read` against a running gateway (a separate `carbonedge run`
 * process) that holds a socat pty: the simulated demo meters answer Modbus RTU on the other end.
 * `read` on the held port reads through the gateway's API instead of failing to lock the port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const ok = havePeer('socat');

describe.runIf(ok)('status and read through a running gateway that holds a pty', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'http-cli-'));
  const file = path.join(dir, 'site.yaml');
  let pty: PtyPair;
  let sim: SimulatedSite;
  let server: SimulatorServer;
  let gateway: ChildProcess;
  let url: string;
  let log = '';

  beforeAll(async () => {
    pty = await new PtyPair().start();
    const { profiles } = loadBuiltinProfiles();
    sim = new SimulatedSite({ profiles, site: { seed: 3 } });
    server = await SimulatorServer.start({ rtu: { path: pty.b, baudRate: 38400 }, devices: sim.devices });
    sim.start();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const site = {
      version: 1,
      site: { id: 'pty-site' },
      gateway: { id: 'pty-gw' },
      buses: [{ id: 'rs485', type: 'rtu', path: pty.a, baudRate: 38400, parity: 'none', timeoutMs: 1000 }],
      devices: [
        { id: 'grid', role: 'grid_meter', bus: 'rs485', unitId: 1, profile: 'eastron-sdm630', pollIntervalMs: 2000 },
        { id: 'pv', role: 'pv_inverter', bus: 'rs485', unitId: 2, profile: 'sunspec-inverter-103', pollIntervalMs: 5000 },
      ],
      http: { listen: `127.0.0.1:${port}` },
    };
    writeFileSync(file, YAML.stringify(site));
    gateway = spawn(process.execPath, [CLI, 'run', '--config', file, '--data', path.join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    gateway.stdout!.on('data', (d) => (log += d));
    gateway.stderr!.on('data', (d) => (log += d));
    await waitFor(
      async () => {
        if (gateway.exitCode !== null) throw new Error(`gateway exited: ${log}`);
        const res = await fetch(`${url}/api/devices`).catch(() => undefined);
        if (!res?.ok) return false;
        const { devices } = (await res.json()) as { devices: { quality: string }[] };
        return devices.every((d) => d.quality === 'good');
      },
      40_000,
      'the gateway to read both devices over the pty',
    );
  }, 60_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway.once('exit', r));
      gateway.kill('SIGTERM');
      await exited;
    }
    sim?.stop();
    await server?.close();
    await pty?.dispose();
  });

  it('status (address from --config): a per-device table with power, energy, quality, age of the last good read, errors; store and uplink', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '--config', file], { encoding: 'utf8' });
    expect(stdout).toMatch(/^pty-site \/ pty-gw: healthy/);
    expect(stdout).toMatch(/device\s+power kW\s+energy kWh\s+quality\s+last good\s+errors/);
    expect(stdout).toMatch(/\ngrid\s+-?\d+\.\d\d\s+\d+\.\d\s+good\s+\d+ s\s+\d+/);
    expect(stdout).toMatch(/\npv\s+/);
    expect(stdout).toMatch(/store: .* backlog \d+ record/);
    expect(stdout).toContain('uplink: not configured');
    const json = JSON.parse((await run(process.execPath, [CLI, 'status', '--url', url, '--json'], { encoding: 'utf8' })).stdout);
    expect(json.devices.map((d: { id: string }) => d.id)).toEqual(['grid', 'pv']);
    expect(json.health.ok).toBe(true);
  });

  it('read on the held port reads through the gateway (no "Cannot lock port" failure)', async () => {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'read', '--profile', 'eastron-sdm630', '--rtu', pty.a, '--baud', '38400', '--parity', 'none', '--unit', '1', '--url', url, '--json'], { encoding: 'utf8' });
    expect(stderr).toContain('held by the running gateway');
    const json = JSON.parse(stdout);
    expect(json.active_power).toMatchObject({ quality: 'good', unit: 'W', canonical: 'active_power' });
    expect(json.voltage_l1.value).toBeGreaterThan(200);
  });

  it('read of a unit the gateway does not have on that port says so, naming what it has', async () => {
    const err = await run(process.execPath, [CLI, 'read', '--profile', 'eastron-sdm630', '--rtu', pty.a, '--baud', '38400', '--parity', 'none', '--unit', '9', '--url', url], { encoding: 'utf8' }).then(
      () => undefined,
      (e: { stderr: string; code: number }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/has no device unit 9 on .*it has grid \(1\), pv \(2\)/);
  });

  it('status against an address where nothing answers fails with exit 1 and says where it asked', async () => {
    const port = await freePort();
    const err = await run(process.execPath, [CLI, 'status', '--url', `http://127.0.0.1:${port}`], { encoding: 'utf8' }).then(
      () => undefined,
      (e: { stderr: string; code: number }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`no gateway API answering at http://127.0.0.1:${port}`);
  });
});
