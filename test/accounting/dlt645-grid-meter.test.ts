/**
 * A site whose grid meter is a DL/T 645 meter (behind a TCP serial converter, served by the
 * DL/T 645 simulator): `carbonedge check` accepts it with accounting and a rule reading the
 * meter's power, and the running gateway's accounting counts the meter's import energy.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountingFeature } from '../../runtime/accounting/feature.js';
import { ACCOUNTING } from '../../runtime/accounting/service.js';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { meteringFeature } from '../../runtime/metering/feature.js';
import { loadSiteConfigFile } from '../../tools/cli/site.js';
import { Dlt645Server, fixedMeterValues } from '../../tools/simulator/dlt645-server.js';
import { builtinDlt645Profile } from '../drivers/fixtures.js';
import { waitFor } from '../helpers/peers.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const A = '123456789012';

const siteYaml = (port: number) => `version: 1
site: { id: plant, timezone: Asia/Shanghai }
gateway: { id: gw }
buses:
  - { id: meters, type: dlt645-tcp, host: 127.0.0.1, port: ${port} }
devices:
  - { id: grid, role: grid_meter, bus: meters, address: '${A}', profile: dlt645-2007, pollIntervalMs: 1000 }
accounting:
  gridFactor: CN-2023-national
  marketRemainder: grid-average
control:
  tickMs: 1000
  gpio: { outputs: [{ id: boiler, line: 17 }] }
rules:
  - { id: export-heats, kind: switch, output: gpio.boiler, when: '-grid.active_power > 3000' }
`;

describe('a DL/T 645 grid meter: check passes, accounting counts its energy', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dlt645-grid-'));
  const file = path.join(dir, 'site.yaml');
  const values = fixedMeterValues(0);
  const server = new Dlt645Server({ profile: builtinDlt645Profile(), meters: [{ address: A, values }] });
  beforeAll(async () => {
    writeFileSync(file, siteYaml(await server.listenTcp(0, '127.0.0.1')));
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carbonedge check accepts the site (accounting grid meter and a rule on grid.active_power)', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'check', '--config', file, '--json'], { timeout: 60_000 });
    const summary = JSON.parse(stdout) as { ok: boolean; devices: { id: string; points: number }[]; rules: number };
    expect(summary).toMatchObject({ ok: true, rules: 1 });
    expect(summary.devices[0]!.points).toBe(builtinDlt645Profile().points.length);
  });

  it('the gateway accounts the import energy read from the meter', async () => {
    const site = await loadSiteConfigFile(file);
    // The wall clock is the test's: the quarter-hour the counter moved in closes when it moves on.
    let wallNow = Date.parse('2026-06-01T00:01:00Z');
    const clock = { now: () => wallNow, mono: () => performance.now() };
    const config = { ...site.config, accounting: { ...site.config.accounting, closeGraceMs: 1000 } };
    const gw = new Gateway({ config, profiles: site.profiles, logger: silentLogger(), features: [meteringFeature, accountingFeature, acquisitionFeature], options: { dataDir: dir, clock } });
    await gw.start();
    try {
      const hub = gw.ctx.hub;
      const acct = gw.ctx.services.get(ACCOUNTING)!;
      await waitFor(() => hub.latest('grid', 'energy_import')?.value === values.energy_import, 20_000, 'the first counter reading');
      // 1.5 kWh in ten minutes (9 kW): a plausible step of the counter.
      wallNow = Date.parse('2026-06-01T00:11:00Z');
      server.set(A, 'energy_import', values.energy_import! + 1.5);
      await waitFor(() => hub.latest('grid', 'energy_import')?.value === values.energy_import! + 1.5, 20_000, 'the counter moved');
      wallNow = Date.parse('2026-06-01T00:16:00Z');
      await waitFor(() => Object.values(acct.windows()).some((w) => w.wh.grid_import === 1500 && w.quarters === 1), 20_000, 'accounting counted 1.5 kWh of grid import');
    } finally {
      await gw.stop();
    }
  });
});
