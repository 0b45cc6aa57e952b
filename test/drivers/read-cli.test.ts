import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromEngineering, registerCount } from '../../drivers/modbus/codec.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile, type ProfilePoint } from '../../drivers/profiles/types.js';
import { freePort, havePeer } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';
import { f32Words, PymodbusServer, type RegisterImage } from '../helpers/pymodbus.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const ok = havePeer('pymodbus', 'socat');

/** Profiles the issue names; each must be served and read back correctly. */
const METERS = ['eastron-sdm630', 'chint-dtsu666'];
const profiles = modbusProfiles(loadBuiltinProfiles().profiles);
const available = METERS.filter((id) => profiles.has(id));

/** A plausible engineering value for a point (inside its min/max). */
function valueFor(p: ProfilePoint, i: number): number | boolean {
  if (p.type === 'bit' || p.register === 'coil' || p.register === 'discrete') return i % 2 === 0;
  const byCanonical: Record<string, number> = {
    voltage_l1: 230.1, voltage_l2: 231.2, voltage_l3: 229.3, current_l1: 5.25, current_l2: 6.5, current_l3: 7.75,
    frequency: 50.02, power_factor: 0.95, active_power: 1234.5, energy_import: 12345.6, energy_export: 678.9,
  };
  let v = p.canonical && byCanonical[p.canonical] !== undefined ? byCanonical[p.canonical]! : 10 + i * 1.5;
  if (p.min !== undefined && v < p.min) v = p.min;
  if (p.max !== undefined && v > p.max) v = p.max;
  const step = p.scale ?? 1;
  if (p.type !== 'f32' && p.type !== 'f64') v = Math.round(v / step) * step; // representable
  return Number(v.toFixed(6));
}

/** Register image of a profile: every polled point at a known value, filler registers 0. */
function imageOf(profile: Profile): { image: RegisterImage; expected: Map<string, number | boolean> } {
  const image: RegisterImage = { holding: {}, input: {}, coil: {}, discrete: {} };
  const expected = new Map<string, number | boolean>();
  const points = profile.points.filter((p) => p.type !== 'string' && p.scaleFactorPoint === undefined);
  for (const p of points) {
    const n = registerCount(p);
    for (let a = Math.max(0, p.address - 40); a < p.address + n + 40; a++) image[p.register]![a] ??= 0;
  }
  // Registers a profile declares prohibited do not exist on the device: reading them fails.
  for (const r of profile.limits.prohibited) for (let a = r.start; a <= r.end; a++) delete image[r.register]![a];
  points.forEach((p, i) => {
    const v = valueFor(p, i);
    const words = fromEngineering(p, v);
    words.forEach((w, k) => (image[p.register]![p.address + k] = w));
    expected.set(p.id, v);
  });
  return { image, expected };
}

function checkJson(profile: Profile, out: string, expected: Map<string, number | boolean>): void {
  const json = JSON.parse(out) as Record<string, { value: unknown; unit: string | null; quality: string; canonical?: string; source: string; ts: string }>;
  for (const p of profile.points.filter((q) => q.poll !== false)) {
    const r = json[p.id];
    expect(r, p.id).toBeDefined();
    if (!expected.has(p.id)) continue;
    expect(r!.quality, `${p.id}: ${JSON.stringify(r)}`).toBe('good');
    const want = expected.get(p.id)!;
    if (typeof want === 'number') expect(Math.abs((r!.value as number) - want), p.id).toBeLessThanOrEqual(Math.max(1e-6, Math.abs(want) * 1e-6, (p.scale ?? 1) / 2));
    else expect(r!.value, p.id).toBe(want);
    expect(r!.unit).toBe(p.unit ?? null);
    if (p.canonical) expect(r!.canonical).toBe(p.canonical);
    expect(Number.isNaN(Date.parse(r!.ts))).toBe(false);
  }
}

describe.runIf(ok)('carbonedge read against pymodbus-simulated meters', () => {
  it('serves the meter profiles the issue names', () => {
    expect(available).toEqual(METERS);
  });

  it('the images are what the manuals say (hand-encoded check of the codec-built images)', () => {
    // SDM630: input 30001 = voltage L1, float32 ABCD, volts.
    const sdm = imageOf(profiles.get('eastron-sdm630')!).image;
    expect([sdm.input![0], sdm.input![1]]).toEqual(f32Words(230.1));
    // DTSU666: holding 2006H = Ua, float32 ABCD in 0.1 V; 401EH = ImpEp, float32 kWh.
    const dtsu = imageOf(profiles.get('chint-dtsu666')!).image;
    expect([dtsu.holding![0x2006], dtsu.holding![0x2007]]).toEqual(f32Words(2301));
    expect([dtsu.holding![0x401e], dtsu.holding![0x401f]]).toEqual(f32Words(12345.6));
  });

  for (const id of available) {
    describe(id, () => {
      const profile = profiles.get(id)!;
      const { image, expected } = imageOf(profile);
      let tcp: PymodbusServer;
      let rtu: PymodbusServer;
      let rtuTcp: PymodbusServer;
      let pty: PtyPair;
      let port: number;
      let rtuTcpPort: number;
      beforeAll(async () => {
        port = await freePort();
        rtuTcpPort = await freePort();
        pty = await new PtyPair().start();
        [tcp, rtu, rtuTcp] = await Promise.all([
          new PymodbusServer({ mode: 'tcp', port, units: { 1: image } }).start(),
          new PymodbusServer({ mode: 'rtu', device: pty.b, units: { 3: image } }).start(),
          new PymodbusServer({ mode: 'rtu-over-tcp', port: rtuTcpPort, units: { 4: image } }).start(),
        ]);
      });
      afterAll(async () => {
        await tcp?.stop();
        await rtu?.stop();
        await rtuTcp?.stop();
        await pty?.dispose();
      });

      it('--json over Modbus TCP returns every point with value, unit, quality, canonical', async () => {
        const { stdout } = await run('node', [CLI, 'read', '--profile', id, '--tcp', `127.0.0.1:${port}`, '--unit', '1', '--json']);
        checkJson(profile, stdout, expected);
        expect(stdout).toContain(`modbus-tcp://127.0.0.1:${port}#1/`);
      });

      it('--json over Modbus RTU (pty) returns the same values', async () => {
        const { stdout } = await run('node', [CLI, 'read', '--profile', id, '--rtu', pty.a, '--baud', '9600', '--parity', 'none', '--unit', '3', '--json']);
        checkJson(profile, stdout, expected);
        expect(stdout).toContain(`modbus-rtu://${pty.a}#3/`);
      });

      it('--json over RTU-over-TCP returns the same values', async () => {
        const { stdout } = await run('node', [CLI, 'read', '--profile', id, '--rtu-over-tcp', `127.0.0.1:${rtuTcpPort}`, '--unit', '4', '--json']);
        checkJson(profile, stdout, expected);
        expect(stdout).toContain(`modbus-rtu-over-tcp://127.0.0.1:${rtuTcpPort}#4/`);
      });
    });
  }

  it('prints a table by default', async () => {
    const port = await freePort();
    const sdm = profiles.get('eastron-sdm630')!;
    const server = await new PymodbusServer({ mode: 'tcp', port, units: { 1: imageOf(sdm).image } }).start();
    try {
      const { stdout } = await run('node', [CLI, 'read', '--profile', 'eastron-sdm630', '--tcp', `127.0.0.1:${port}`, '--unit', '1']);
      expect(stdout).toMatch(/^point\s+value\s+unit\s+quality\s+canonical/m);
      expect(stdout).toMatch(/^voltage_l1\s+230\.1\s+V\s+good\s+voltage_l1/m);
    } finally {
      await server.stop();
    }
  });

  it('exits non-zero saying what and where when the device cannot be reached', async () => {
    const port = await freePort(); // nothing listens there
    const err = await run('node', [CLI, 'read', '--profile', 'eastron-sdm630', '--tcp', `127.0.0.1:${port}`, '--unit', '1', '--timeout', '300']).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(new RegExp(`cannot reach modbus-tcp://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    // A silent unit on a live bus: reachable bus, unreachable device.
    const p2 = await freePort();
    const server = await new PymodbusServer({ mode: 'tcp', port: p2, units: { 1: {} } }).start();
    try {
      const e2 = await run('node', [CLI, 'read', '--profile', 'eastron-sdm630', '--tcp', `127.0.0.1:${p2}`, '--unit', '9', '--timeout', '300']).catch((e: unknown) => e);
      expect((e2 as { code: number }).code).toBe(1);
      expect((e2 as { stderr: string }).stderr).toMatch(/device unit 9 on modbus-tcp:\/\/127\.0\.0\.1:\d+ did not answer .*no reply within 300 ms/);
    } finally {
      await server.stop();
    }
  });

  it('rejects an unknown profile and bad usage with exit code 2', async () => {
    const e = await run('node', [CLI, 'read', '--profile', 'no-such-meter', '--tcp', '127.0.0.1:502', '--unit', '1']).catch((x: unknown) => x);
    expect((e as { code: number }).code).toBe(2);
    expect((e as { stderr: string }).stderr).toMatch(/unknown profile 'no-such-meter' \(available: .*eastron-sdm630/);
    const u = await run('node', [CLI, 'read', '--profile', 'eastron-sdm630', '--rtu', '/dev/null', '--unit', '1']).catch((x: unknown) => x);
    expect((u as { code: number }).code).toBe(2);
    expect((u as { stderr: string }).stderr).toMatch(/--baud/);
  });

  it('validates the device options like the config: --baud 9200, --parity evn, --unit 0 on a serial bus, --timeout 10 are refused with codes', async () => {
    const fail = (args: string[]) => run('node', [CLI, 'read', '--profile', 'eastron-sdm630', ...args]).then(() => ({ code: 0, stderr: '' }), (x: { code: number; stderr: string }) => x);
    const serial = await fail(['--rtu', '/dev/null', '--baud', '9200', '--parity', 'evn', '--unit', '0']);
    expect(serial.code).toBe(2);
    expect(serial.stderr).toMatch(/--baud: expected one of 1200, .*115200, got 9200 \(did you mean 9600\?\) \[CE_CONFIG_ENUM\]/);
    expect(serial.stderr).toMatch(/--parity: expected one of 'none', 'even', 'odd', got 'evn' \(did you mean 'even'\?\) \[CE_CONFIG_ENUM\]/);
    expect(serial.stderr).toMatch(/--unit: expected a unit id 1\.\.247 on serial bus/);
    const tcp = await fail(['--tcp', '127.0.0.1:1', '--unit', '1', '--timeout', '10']);
    expect(tcp.code).toBe(2);
    expect(tcp.stderr.match(/--timeout: expected a number >= 50, got 10 \[CE_CONFIG_SCHEMA\]/g)).toHaveLength(1);
  });
});
