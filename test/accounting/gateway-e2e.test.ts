/**
 * Full stack, in lockstep: the demo site's simulators serve Modbus TCP on loopback, the gateway
 * polls them (acquisition), stores the readings (store) and accounts them (accounting) for a
 * simulated day. The test moves the site's physics and the gateway's wall clock together, one step
 * at a time, and takes the next step only once every device has been read at the current one: how
 * fast the machine runs changes how long the test takes, never what it sees. Then
 * `carbonedge inventory --db` (a separate process) on the store the gateway produced must give the
 * day as the exact sum of its 15-minute summaries.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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
import type { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';
import { STORE } from '../../runtime/store/feature.js';

/** Simulated time per step: the physics and the gateway's wall clock move together by a quarter-hour (a reading at each quarter's end). */
const STEP_MS = 15 * 60_000;
/** The gateway's monotonic clock runs this many times faster than the real one. */
const MONO_SPEED = 1000;
/** Midnight of 2024-06-01 in Europe/Berlin (the demo site's time zone, UTC+2 in summer). */
const MIDNIGHT = Date.parse('2024-05-31T22:00:00Z');
const START = MIDNIGHT - 2 * 3_600_000;
const END = MIDNIGHT + 86_400_000 + 5 * 60_000;
const CLI = path.resolve('tools/carbonedge.js');

/**
 * Resolves once every device has published, after this call, an `active_power` reading that
 * satisfies `ok` (the deadline is only a guard against hangs).
 */
function nextReading(hub: ReadingsHub, devices: readonly string[], ok: (r: Reading) => boolean, what: string): Promise<void> {
  const pending = new Set(devices);
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      off();
      reject(new Error(`no reading from ${[...pending].join(', ')}: ${what}`));
    }, 30_000);
    const off = hub.subscribe((batch) => {
      for (const r of batch) if (r.point === 'active_power' && ok(r)) pending.delete(r.device);
      if (pending.size) return;
      clearTimeout(deadline);
      off();
      resolve();
    });
  });
}

describe('gateway over Modbus TCP for a simulated day: inventory --db on its store', async () => {
  const { profiles } = loadBuiltinProfiles();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acct-gw-'));
  // Never started: the test steps the physics itself.
  const sim = new SimulatedSite({ profiles, site: { seed: 21, startMs: START, utcOffsetMinutes: 120 } });
  const server = await SimulatorServer.start({ tcp: { port: 0, host: '127.0.0.1' }, devices: sim.devices });
  const base = demoSiteConfig({ tcpPort: server.tcpPort! });
  const config: SiteConfig = {
    ...base,
    // This day is laid out in Central European summer time (the demo config's zone when it was written).
    site: { ...base.site, timezone: 'Europe/Berlin' },
    // Each step waits for polls: as often as the config allows.
    // The five metered devices; the production line counter is not stepped by this harness.
    devices: base.devices.filter((d) => d.role !== 'production_counter').map((d) => ({ ...d, pollIntervalMs: 100 })),
    // Values between steps are not stale: they are the site's state until the next step.
    gateway: { ...base.gateway, staleAfterMs: 86_400_000 },
    // Devices are read once per step: silence longer than two steps is a gap.
    accounting: { ...base.accounting, devices: {}, gapAfterMs: 2 * STEP_MS, closeGraceMs: 60_000 },
    control: { enabled: false },
    rules: [],
  };
  // Wall time is the simulated time the test sets. Intervals (poll schedule, ages, backoff) run on
  // a monotonic clock MONO_SPEED times the real one: a poll cycle of a real millisecond outlasts
  // the poll interval, so the pollers read back to back. The wall clock's steps are only logged.
  let wallNow = START;
  const clock = { now: () => wallNow, mono: () => performance.now() * MONO_SPEED };
  const gw = new Gateway({ config, profiles, logger: silentLogger(), options: { dataDir: dir, clock }, features: [meteringFeature, storeFeature, accountingFeature, acquisitionFeature] });
  await gw.start();
  const store = gw.ctx.services.get(STORE)!;
  const devices = config.devices.map((d) => d.id);
  try {
    const good = (t: number) => (r: Reading) => r.quality === 'good' && r.ts >= t;
    await nextReading(gw.ctx.hub, devices, good(START), 'a first good reading');
    for (let t = START + STEP_MS; t <= END; t += STEP_MS) {
      // The physics first; once every device has finished the cycle that may have been reading
      // when it moved, the wall clock: every reading stamped t is read from the physics at t.
      sim.stepTo(t);
      await nextReading(gw.ctx.hub, devices, () => true, 'a cycle after the physics moved');
      wallNow = t;
      await nextReading(gw.ctx.hub, devices, good(t), `a good reading at ${new Date(t).toISOString()}`);
    }
    wallNow = END + 2 * STEP_MS;
    // let the accounting tick close the last quarter of the day
    await waitFor(() => store.db.prepare("SELECT count(*) FROM acct_day WHERE day = '2024-06-01'").pluck().get() === 1, 20_000, 'the day closed');
  } finally {
    await gw.stop();
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
