/**
 * DL/T 645 end to end: `carbonedge read --address ... --json` (the built CLI) and the gateway's
 * acquisition, both against the meter simulator on a socat pty pair.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtinDlt645Profile } from './fixtures.js';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { loadSiteConfigText } from '../../tools/cli/site.js';
import { Dlt645Server, fixedMeterValues } from '../../tools/simulator/dlt645-server.js';
import { havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const profile = builtinDlt645Profile();
const A = '123456789012';
const B = '000102030425';

interface JsonPoint {
  value: number | null;
  unit: string | null;
  quality: string;
  canonical?: string;
  source: string;
  error?: string;
}

describe.skipIf(!havePeer('socat'))('DL/T 645 meters on a pty pair', () => {
  let pty: PtyPair;
  let server: Dlt645Server | undefined;
  beforeAll(async () => {
    pty = await new PtyPair().start();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await pty?.dispose();
  });
  const serve = async (addresses: string[]) => {
    server = new Dlt645Server({ profile, meters: addresses.map((address, n) => ({ address, values: fixedMeterValues(n) })) });
    await server.listenSerial(pty.b);
    return server;
  };
  const read = (...args: string[]) => run(process.execPath, [CLI, 'read', '--profile', 'dlt645-2007', '--rtu', pty.a, ...args], { timeout: 60_000 });

  it('carbonedge read --profile dlt645-2007 --rtu PATH --baud 2400 --parity even --address 123456789012 --json', async () => {
    await serve([A, B]);
    const { stdout } = await read('--baud', '2400', '--parity', 'even', '--address', A, '--json');
    const json = JSON.parse(stdout) as Record<string, JsonPoint>;
    expect(Object.keys(json)).toEqual(profile.points.map((p) => p.id));
    const expected = fixedMeterValues(0);
    for (const [id, r] of Object.entries(json)) expect({ id, value: r.value, quality: r.quality }).toEqual({ id, value: expected[id], quality: 'good' });
    expect(json.energy_import).toMatchObject({ value: 1206.42, unit: 'kWh', canonical: 'energy_import', source: `dlt645://${pty.a}#${A}/00010000` });
    expect(json.active_power).toMatchObject({ value: 3220.5, unit: 'W', canonical: 'active_power' });
  });

  it('without --address asks the single meter on the line for its address (13h), 2400 8E1 by default', async () => {
    await serve([B]);
    const { stdout } = await read('--json');
    expect((JSON.parse(stdout) as Record<string, JsonPoint>).energy_import!.source).toBe(`dlt645://${pty.a}#${B}/00010000`);
  });

  it('a meter that is not there: exit 1 and what was tried, where', async () => {
    await serve([A]);
    const err = await read('--address', '999999999999', '--timeout', '200').then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`carbonedge read: meter 999999999999 on dlt645://${pty.a} did not answer (profile dlt645-2007):`);
    expect(err?.stderr).toMatch(/DI 00000000: no reply within 200 ms/);
  });

  it('the gateway polls two meters of a dlt645 bus from the site config and publishes their readings', async () => {
    await serve([A, B]);
    const site = loadSiteConfigText(
      `version: 1
site: { id: plant }
gateway: { id: gw }
buses:
  - { id: meters, type: dlt645, path: ${pty.a}, baudRate: 2400, parity: even }
devices:
  - { id: main, role: grid_meter, bus: meters, address: '${A}', profile: dlt645-2007, pollIntervalMs: 1000 }
  - { id: line2, role: submeter, bus: meters, address: '${B}', profile: dlt645-2007, pollIntervalMs: 1000 }
`,
      'site.yaml',
    );
    const gw = new Gateway({ config: site.config, profiles: site.profiles, logger: silentLogger(), features: [acquisitionFeature], options: { dataDir: pty.dir } });
    try {
      await gw.start();
      const hub = gw.ctx.hub;
      await waitFor(() => hub.latest('main', 'frequency')?.quality === 'good' && hub.latest('line2', 'frequency')?.quality === 'good', 20_000, 'both meters read');
      expect(hub.latest('main', 'energy_import')).toMatchObject({ value: 1206.42, quality: 'good', canonical: 'energy_import' });
      expect(hub.latest('line2', 'energy_import')).toMatchObject({ value: 2206.42, quality: 'good' });
    } finally {
      await gw.stop();
    }
  });
});

describe('carbonedge read: DL/T 645 options are validated like a config file', () => {
  const fail = (...args: string[]) =>
    run(process.execPath, [CLI, 'read', '--profile', 'dlt645-2007', ...args], { timeout: 60_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );

  it('--address of 11 digits, --baud 2401, --parity evn: exit 2, each with its flag and code, nothing opened', async () => {
    const r = await fail('--rtu', '/dev/null', '--address', '12345678901', '--baud', '2401', '--parity', 'evn');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--address: expected text matching \^\[0-9\]\{12\}\$, got '12345678901' \[CE_CONFIG_SCHEMA\]/);
    expect(r.stderr).toMatch(/--baud: expected one of 1200, 2400, 4800, 9600, 19200, got 2401 \(did you mean 2400\?\) \[CE_CONFIG_ENUM\]/);
    expect(r.stderr).toMatch(/--parity: expected one of 'none', 'even', 'odd', got 'evn' \(did you mean 'even'\?\) \[CE_CONFIG_ENUM\]/);
  });

  it('--timeout 10 on a converter, --unit for a meter, --address for a Modbus profile: exit 2', async () => {
    const t = await fail('--tcp', '127.0.0.1:1', '--address', '123456789012', '--timeout', '10');
    expect(t.code).toBe(2);
    expect(t.stderr.match(/--timeout: expected a number >= 50, got 10 \[CE_CONFIG_SCHEMA\]/g)).toHaveLength(1);
    const u = await fail('--tcp', '127.0.0.1:1', '--unit', '1');
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/give the meter's --address \(12 digits\) instead of --unit/);
    const m = await run(process.execPath, [CLI, 'read', '--profile', 'eastron-sdm630', '--tcp', '127.0.0.1:1', '--address', '123456789012']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--address is for DL\/T 645 meters/);
  });
});
