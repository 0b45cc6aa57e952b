/**
 * Full stack, accelerated: the demo site's simulators serve Modbus TCP on loopback, the gateway
 * polls them (acquisition), stores the readings (store) and accounts them (accounting), all on one
 * accelerated clock, for a simulated day. Then `carbonedge inventory --db` (a separate process) on
 * the store the gateway produced must give the day as the exact sum of its 15-minute summaries.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { meteringFeature } from '../../runtime/metering/feature.js';
import { storeFeature } from '../../runtime/store/feature.js';
import { accountingFeature } from '../../runtime/accounting/feature.js';
import { Q } from '../../runtime/accounting/exact.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import { waitFor } from '../helpers/peers.js';
import { STORE } from '../../runtime/store/feature.js';

const SPEED = 2880; // a simulated day in 30 wall seconds
/** Midnight of 2024-06-01 in Europe/Berlin (the demo site's time zone, UTC+2 in summer). */
const MIDNIGHT = Date.parse('2024-05-31T22:00:00Z');
const START = MIDNIGHT - 2 * 3_600_000;
const END = MIDNIGHT + 86_400_000 + 5 * 60_000;
const CLI = path.resolve('tools/carbonedge.js');

describe('gateway over Modbus TCP for a simulated day: inventory --db on its store', async () => {
  const { profiles } = loadBuiltinProfiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acct-gw-'));
  const sim = new SimulatedSite({ profiles, site: { seed: 21, startMs: START, utcOffsetMinutes: 120 }, speed: SPEED, tickMs: 10 });
  const server = await SimulatorServer.start({ tcp: { port: 0, host: '127.0.0.1' }, devices: sim.devices });
  const base = demoSiteConfig({ tcpPort: server.tcpPort! });
  const config: SiteConfig = {
    ...base,
    // Poll as fast as the bus allows: 1 s of simulated time is 0.35 wall ms at this speed.
    devices: base.devices.map((d) => ({ ...d, pollIntervalMs: 1000 })),
    // A gap needs 4 h of simulated silence (5 wall seconds): a busy shared CI machine is not an outage.
    accounting: { ...base.accounting, gapAfterMs: 14_400_000, closeGraceMs: 60_000 },
    control: { enabled: false },
    rules: [],
  };
  // The clock stands still at START until the gateway has read every device once (start-up time
  // on a busy machine must not eat simulated time), then runs SPEED times the wall clock.
  let wall0: number | undefined;
  const clock = { now: () => (wall0 === undefined ? START : START + (Date.now() - wall0) * SPEED) };
  const gw = new Gateway({ config, profiles, logger: silentLogger(), options: { dataDir: dir, clock }, features: [meteringFeature, storeFeature, accountingFeature, acquisitionFeature] });
  await gw.start();
  const store = gw.ctx.services.get(STORE)!;
  try {
    await waitFor(() => base.devices.every((d) => gw.ctx.hub.latest(d.id, 'active_power')?.quality === 'good'), 30_000, 'a first good reading of every device');
    wall0 = Date.now();
    sim.start();
    await waitFor(() => clock.now() >= END, 120_000, 'a simulated day');
    // let the accounting tick close the last quarter of the day
    await waitFor(() => store.db.prepare("SELECT count(*) FROM acct_day WHERE day = '2024-06-01'").pluck().get() === 1, 20_000, 'the day closed');
  } finally {
    await gw.stop();
    sim.stop();
    await server.close();
  }
  const file = path.join(dir, 'carbonedge.db');
  const db = new Database(file, { readonly: true });
  const payloads = (stream: string) => (db.prepare('SELECT payload FROM outbox WHERE stream = ? ORDER BY seq').pluck().all(stream) as string[]).map((p) => JSON.parse(p));
  const q15 = payloads('carbon-15m').filter((r) => r.day === '2024-06-01');
  const day = payloads('carbon-day').find((r) => r.day === '2024-06-01');
  db.close();

  it('the gateway closed 96 complete quarter-hours of the day from polled meters', () => {
    expect(q15.length).toBe(96);
    expect(q15.filter((r) => !r.quality.complete).map((r) => [r.start, r.quality])).toEqual([]);
    expect(q15.reduce((a, r) => a + r.energy_Wh.pv, 0)).toBeGreaterThan(50_000);
    expect(q15.reduce((a, r) => a + r.energy_Wh.grid_import, 0)).toBeGreaterThan(10_000);
    expect(day.quality).toMatchObject({ complete: true, quarters: 96, expectedQuarters: 96 });
  });

  it('carbonedge inventory --db on that store: the day equals the sum of its 15-minute summaries, exactly', () => {
    expect(existsSync(path.resolve('dist/tools/cli/commands/inventory.js'))).toBe(true);
    const out = JSON.parse(execFileSync(process.execPath, [CLI, 'inventory', '--db', file, '--from', '2024-06-01', '--to', '2024-06-01', '--json'], { encoding: 'utf8' }));
    for (const [k, field] of [
      ['scope1', 'scope1_t'],
      ['scope2_location', 'scope2_location_t'],
      ['scope2_market', 'scope2_market_t'],
      ['total_location', 'total_location_t'],
      ['total_market', 'total_market_t'],
    ] as const) {
      const sumG = Q.sum(q15.map((r) => Q.from(r.co2_g[k])));
      expect(Q.from(out.exact[field]).eq(sumG.div(1_000_000)), k).toBe(true);
      expect(Q.from(day.co2_g[k]).eq(sumG), k).toBe(true);
      expect(out[field]).toBe(Number(sumG.div(1_000_000).toFixed(6)));
    }
    expect(out.coverage).toMatchObject({ quarters: 96, complete_quarters: 96 });
    expect(out.energy_MWh.grid_import).toBe(Number(Q.of(q15.reduce((a, r) => a + r.energy_Wh.grid_import, 0), 1_000_000).toFixed(6)));
    expect(out.green_share_annual).toBeGreaterThan(0);
    expect(out.self_sufficiency).toBeGreaterThan(0);
    expect(out.method).toMatchObject({ location_factor: 'CN-2023-national', market_remainder: 'residual', market_remainder_factor: 'CN-2023-residual' });
  });
});
