/**
 * `carbonedge scan` (the built CLI, a separate process) against simulated buses: a mixed RS-485
 * line on a pty pair (DTSU666 unit 1, SDM630 unit 12, a DL/T 645 meter), a TCP serial converter
 * with two DL/T 645 meters, and a SunSpec device on Modbus TCP served by pymodbus (an independent
 * implementation). Each scan's snippet, pasted into a site file, passes `carbonedge check`; the
 * line simulator sees read function codes only.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { parseUnits } from '../../tools/cli/commands/scan.js';
import { Dlt645Server, fixedMeterValues, meterValuesFor } from '../../tools/simulator/dlt645-server.js';
import { LineServer } from '../../tools/simulator/line-server.js';
import { buildLine, type SimulatedLine } from '../../tools/simulator/line-site.js';
import type { ScanLine } from '../../tools/scan/sweep.js';
import { builtinDlt645Profile } from '../drivers/fixtures.js';
import { freePort, havePeer } from '../helpers/peers.js';
import { PymodbusServer } from '../helpers/pymodbus.js';
import { PtyPair } from '../helpers/pty.js';
import { chainImage, common, inverter103, meter203 } from '../sunspec/chain-image.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const A = '123456789012';
const B = '000102030425';
const dir = mkdtempSync(path.join(os.tmpdir(), 'scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scanJson(...args: string[]): Promise<{ lines: ScanLine[]; snippet: string; stderr: string }> {
  const r = await run(process.execPath, [CLI, 'scan', ...args, '--json'], { timeout: 120_000 });
  return { ...(JSON.parse(r.stdout) as { lines: ScanLine[]; snippet: string }), stderr: r.stderr };
}

/** Paste the snippet under a site header and run `carbonedge check --json` on it. */
async function check(name: string, snippet: string): Promise<{ ok: boolean; devices: { id: string; profile: string; points: number }[] }> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, `version: 1\nsite: { id: plant }\ngateway: { id: gw }\n${snippet}`);
  return JSON.parse((await run(process.execPath, [CLI, 'check', '--config', file, '--json'], { timeout: 60_000 })).stdout);
}

describe('parseUnits', () => {
  it('ranges and lists of unit ids, ascending; anything else refused', () => {
    expect(parseUnits('1-3,12,2')).toEqual([1, 2, 3, 12]);
    expect(parseUnits('1-247')).toHaveLength(247);
    expect(() => parseUnits('0-5')).toThrow(/1\.\.247/);
    expect(() => parseUnits('5-1')).toThrow(/1\.\.247/);
  });
});

describe.skipIf(!havePeer('socat'))('scan --rtu: a mixed RS-485 line on a pty pair', () => {
  let pty: PtyPair;
  let line: SimulatedLine;
  beforeAll(async () => {
    pty = await new PtyPair().start();
    line = buildLine(
      [
        { profile: 'chint-dtsu666', at: 1 },
        { profile: 'eastron-sdm630', at: 12 },
        { profile: 'dlt645-2007', at: A },
      ],
      loadBuiltinProfiles().profiles,
      { generate: false },
    );
    await line.server.listenSerial(pty.b, { baudRate: 9600, parity: 'even' });
  });
  afterAll(async () => {
    await line?.server.close();
    await pty?.dispose();
  });

  it('finds DTSU666 on unit 1 and SDM630 on unit 12 by their identify probes, the DL/T 645 meter by 13h; reads only', async () => {
    const r = await scanJson('--rtu', pty.a, '--baud', '9600', '--parity', 'even', '--units', '1-13', '--timeout', '150');
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({
      type: 'rtu',
      path: pty.a,
      baudRate: 9600,
      parity: 'even',
      units: [
        { unit: 1, profiles: ['chint-dtsu666'] },
        { unit: 12, profiles: ['eastron-sdm630'] },
      ],
      meters: [{ address: A, via: '13h', protocol: 'dlt645-2007' }],
    });
    // Never writes: only FC03 / FC04 reached the line, and no write request at any unit.
    expect([...line.server.functions.keys()].sort()).toEqual([3, 4]);
    expect(line.server.stats.writes.size).toBe(0);
    // Plain progress lines on a non-terminal stderr.
    expect(r.stderr).toMatch(/carbonedge scan: 100 % \(14\/14\) done/);
    // The snippet: the Modbus devices as they are, the DL/T 645 meter (same line) commented with why.
    expect(r.snippet).toMatch(/# DL\/T 645 meters on this line share it with Modbus devices/);
    const checked = await check('mixed', r.snippet);
    expect(checked.ok).toBe(true);
    expect(checked.devices.map((d) => [d.id, d.profile])).toEqual([
      ['chint-dtsu666-1', 'chint-dtsu666'],
      ['eastron-sdm630-12', 'eastron-sdm630'],
    ]);
  });
});

describe('scan --rtu-over-tcp: a DL/T 645-2007 and a DL/T 645-1997 meter behind a TCP serial converter', () => {
  let line: LineServer;
  let port: number;
  beforeAll(async () => {
    const meters2007 = new Dlt645Server({ profile: builtinDlt645Profile(), meters: [{ address: A, values: fixedMeterValues(0) }] });
    const old = builtinDlt645Profile('dlt645-1997');
    const meters1997 = new Dlt645Server({ profile: old, meters: [{ address: B, values: meterValuesFor(old, 1) }] });
    line = new LineServer({ dlt645: [meters2007, meters1997] });
    port = await line.listenTcp(0, '127.0.0.1');
  });
  afterAll(async () => {
    await line?.close();
  });

  it('the 2007 meter answers 13h (a 1997 meter has no read-address); the 1997 one is found at its --address (2007 read, then 1997 read of 9010); the snippet has each its edition\'s profile', async () => {
    const r = await scanJson('--rtu-over-tcp', `127.0.0.1:${port}`, '--units', '1-3', '--timeout', '150', '--address', A, '--address', B, '--address', '999999999999');
    expect(r.lines).toEqual([
      { type: 'rtu-over-tcp', host: '127.0.0.1', port, units: [], meters: [{ address: A, via: '13h', protocol: 'dlt645-2007' }, { address: B, via: 'address', protocol: 'dlt645-1997' }] },
    ]);
    const checked = await check('meters', r.snippet);
    expect(checked.devices.map((d) => [d.id, d.profile])).toEqual([
      [`meter-${A}`, 'dlt645-2007'],
      [`meter-${B}`, 'dlt645-1997'],
    ]);
    expect(line.stats.writes.size + (line.functions.get(5) ?? 0) + (line.functions.get(6) ?? 0) + (line.functions.get(16) ?? 0)).toBe(0);
  });
});

describe('scan --rtu-over-tcp: a Huawei SUN2000 answering for its power meter and battery on one unit id', () => {
  let line: SimulatedLine;
  let port: number;
  beforeAll(async () => {
    const at = (profile: string) => ({ profile, at: 1 });
    line = buildLine([at('huawei-sun2000'), at('huawei-sun2000-dtsu666h'), at('huawei-luna2000')], loadBuiltinProfiles().profiles, { generate: false });
    port = await line.server.listenTcp(0, '127.0.0.1');
  });
  afterAll(async () => {
    await line?.server.close();
  });

  it('finds the three logical devices at unit 1 (sharesUnit huawei-sun2000); the snippet lists each and passes check', async () => {
    const r = await scanJson('--rtu-over-tcp', `127.0.0.1:${port}`, '--units', '1-2', '--timeout', '150');
    // In library order; each is a device of its own in the snippet.
    expect(r.lines[0]!.units).toEqual([{ unit: 1, profiles: ['huawei-luna2000', 'huawei-sun2000-dtsu666h', 'huawei-sun2000'] }]);
    expect(r.snippet).toMatch(/# unit 1 also answers for: Huawei .*\(profiles sharing a unit id: huawei-sun2000\)/);
    const checked = await check('huawei', r.snippet);
    expect(checked.ok).toBe(true);
    expect(checked.devices.map((d) => [d.id, d.profile])).toEqual([
      ['huawei-luna2000-1', 'huawei-luna2000'],
      ['huawei-sun2000-dtsu666h-1', 'huawei-sun2000-dtsu666h'],
      ['huawei-sun2000-1', 'huawei-sun2000'],
    ]);
    expect(line.server.stats.writes.size).toBe(0);
  });

  it('each logical device reads its own registers at the shared unit: `carbonedge read` decodes its documented values', async () => {
    const read = async (profile: string) =>
      JSON.parse((await run(process.execPath, [CLI, 'read', '--profile', profile, '--rtu-over-tcp', `127.0.0.1:${port}`, '--unit', '1', '--json'], { timeout: 60_000 })).stdout) as Record<string, { value: unknown; quality: string }>;
    const [inverter, meter, battery] = await Promise.all(['huawei-sun2000', 'huawei-sun2000-dtsu666h', 'huawei-luna2000'].map(read));
    expect(inverter!.model_name).toMatchObject({ value: 'SUN2000-10KTL-M1', quality: 'good' });
    expect(meter!.active_power).toMatchObject({ value: -2950, quality: 'good' });
    expect(battery!.soc).toMatchObject({ value: 64.5, quality: 'good' });
  });
});

describe.skipIf(!havePeer('pymodbus'))('scan --tcp: a SunSpec device on Modbus TCP (pymodbus)', () => {
  let server: PymodbusServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = await new PymodbusServer({ mode: 'tcp', port, units: { 1: { holding: chainImage(40000, [common('Fronius', 'Symo 10.0-3-M', '3.14.1', 'FR123'), inverter103, meter203]) } } }).start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('reports manufacturer and model (model 1) and lists the model ids; the snippet uses profile sunspec', async () => {
    const text = await run(process.execPath, [CLI, 'scan', '--tcp', `127.0.0.1:${port}`, '--units', '1-2', '--timeout', '200'], { timeout: 120_000 });
    expect(text.stdout).toContain('unit 1: SunSpec device at base 40000: manufacturer Fronius, model Symo 10.0-3-M, version 3.14.1, serial FR123; models 1, 103, 203');
    const r = await scanJson('--tcp', `127.0.0.1:${port}`, '--units', '1-2', '--timeout', '200');
    expect(r.lines[0]!.units).toEqual([{ unit: 1, sunspec: { base: 40000, manufacturer: 'Fronius', model: 'Symo 10.0-3-M', version: '3.14.1', serial: 'FR123', models: [1, 103, 203] }, profiles: [] }]);
    const checked = await check('sunspec', r.snippet);
    expect(checked.devices).toEqual([{ id: 'sunspec-1', role: 'pv_inverter', profile: 'sunspec', points: expect.any(Number) }]);
  });
});
