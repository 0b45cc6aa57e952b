/**
 * One metering stage for the store and accounting: over random counter sequences (rollovers,
 * resets, implausible jumps, gaps, samples on and off minute and quarter boundaries, gateway
 * restarts), for every meter and quarter-hour the sum of the `readings-1m` deltas equals that
 * meter's energy in the `carbon-15m` record, exactly (in Wh).
 */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { meteringFeature } from '../../runtime/metering/feature.js';
import { storeFeature } from '../../runtime/store/feature.js';
import { ACCOUNTING, accountingFeature } from '../../runtime/accounting/feature.js';
import { STORE } from '../../runtime/store/service.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { DAY0, demoConfig, profiles, tmpDb } from '../accounting/helpers.js';
import { prng } from '../helpers/prng.js';

const QUARTER = 15 * 60_000;
const ROLLOVER = 1000;

/** The demo site's counters and the accounting flow each one feeds. */
const METERS = [
  { device: 'grid', point: 'energy_import', flow: 'grid_import' },
  { device: 'grid', point: 'energy_export', flow: 'grid_export' },
  { device: 'pv', point: 'energy_export', flow: 'pv' },
  { device: 'battery', point: 'energy_import', flow: 'battery_charge' },
  { device: 'battery', point: 'energy_export', flow: 'battery_discharge' },
  { device: 'heatpump', point: 'energy_import', flow: 'heat_pump' },
  { device: 'load', point: 'energy_import', flow: 'load' },
] as const;

function config(): SiteConfig {
  const base = demoConfig();
  return {
    ...base,
    // Counters wrap at 1000 kWh; a jump of more than 400 kWh/h is implausible.
    store: { statsIntervalMs: 0, counters: { rolloverAt: ROLLOVER, maxRatePerHour: 400 } },
  };
}

async function startGateway(dir: string, clock: { now(): number }): Promise<Gateway> {
  const gw = new Gateway({ config: config(), profiles, logger: silentLogger(), options: { dataDir: dir, clock }, features: [meteringFeature, storeFeature, accountingFeature] });
  await gw.start();
  return gw;
}

/** Drive both consumers to `now` deterministically (no wall-clock timers involved). */
function settle(gw: Gateway, now: number): void {
  gw.ctx.services.get(STORE)!.flush(now);
  gw.ctx.services.get(ACCOUNTING)!.engine.advance(now);
}

async function runSequence(seed: number): Promise<{ quarters: number; checked: number; mismatches: string[]; flags: Set<string> }> {
  const rand = prng(seed);
  const { dir, file, db: probe } = tmpDb();
  probe.close();
  let t = DAY0 + Math.floor(rand() * 60_000);
  const clock = { now: () => t };
  let gw = await startGateway(dir, clock);
  const value = new Map<string, number>(METERS.map((m) => [`${m.device}/${m.point}`, 900 + rand() * 99]));
  const end = DAY0 + 6 * 3_600_000;
  while (t < end) {
    // Next sample: mostly 1-40 s later, sometimes exactly on a minute or quarter boundary, sometimes after a gap.
    const r = rand();
    if (r < 0.05) t = Math.ceil((t + 1) / QUARTER) * QUARTER;
    else if (r < 0.15) t = Math.ceil((t + 1) / 60_000) * 60_000;
    else if (r < 0.18) t += 5 * 60_000 + Math.floor(rand() * 20 * 60_000);
    else t += 1000 + Math.floor(rand() * 39_000);
    const batch: Reading[] = [];
    for (const m of METERS) {
      if (rand() < 0.1) continue; // this meter missed this poll
      const k = `${m.device}/${m.point}`;
      let v = value.get(k)!;
      const e = rand();
      if (e < 0.01) v = rand() * 5; // meter replaced: a reset
      else if (e < 0.015) v = (v + 450) % ROLLOVER; // implausible jump
      else v = (v + rand() * 0.4) % ROLLOVER; // normal, wraps at the rollover
      value.set(k, v);
      batch.push({ device: m.device, point: m.point, canonical: m.point, unit: 'kWh', value: Math.round(v * 1e4) / 1e4, quality: 'good', ts: t, source: 'test' });
    }
    gw.ctx.hub.publish(batch);
    settle(gw, t);
    if (rand() < 0.01) {
      // Restart the gateway (clean stop: every part flushed and checkpointed).
      await gw.stop();
      gw = await startGateway(dir, clock);
    }
  }
  // Close everything: an hour later, nothing published.
  t = end + 3_600_000;
  settle(gw, t);
  await gw.stop();

  const db = new Database(file, { readonly: true });
  const deltas = db
    .prepare('SELECT p.device, p.point, r.bucket, r.delta, r.delta_flag AS flag FROM readings_1m r JOIN points p ON p.id = r.point_id WHERE r.delta IS NOT NULL')
    .all() as { device: string; point: string; bucket: number; delta: number; flag: string | null }[];
  const quarters = (db.prepare('SELECT start_ms, record FROM acct_quarter ORDER BY start_ms').all() as { start_ms: number; record: string }[]).map((q) => ({
    start: q.start_ms,
    devices: (JSON.parse(q.record) as { devices: Record<string, Record<string, number>> }).devices,
  }));
  db.close();

  const storeWh = new Map<string, number>();
  const flags = new Set<string>();
  for (const d of deltas) {
    const q = Math.floor(d.bucket / QUARTER) * QUARTER;
    const key = `${d.device}/${d.point}@${q}`;
    storeWh.set(key, (storeWh.get(key) ?? 0) + d.delta * 1000);
    if (d.flag) flags.add(d.flag);
  }
  const mismatches: string[] = [];
  let checked = 0;
  for (const q of quarters) {
    for (const m of METERS) {
      const acct = q.devices[m.device]?.[m.flow] ?? 0;
      const store = Math.round(storeWh.get(`${m.device}/${m.point}@${q.start}`) ?? 0);
      checked++;
      if (acct !== store) mismatches.push(`${new Date(q.start).toISOString()} ${m.device}/${m.point}: carbon-15m ${acct} Wh, readings-1m ${store} Wh`);
    }
  }
  return { quarters: quarters.length, checked, mismatches, flags };
}

describe('metering stage: readings-1m deltas equal carbon-15m energy', () => {
  for (const seed of [1, 2, 3]) {
    it(`random counter sequence #${seed}: every meter, every quarter-hour`, async () => {
      const r = await runSequence(seed);
      expect(r.quarters).toBeGreaterThanOrEqual(24);
      expect(r.checked).toBe(r.quarters * METERS.length);
      expect(r.mismatches).toEqual([]);
      // The sequence did exercise what it claims to.
      expect([...r.flags].sort()).toEqual(expect.arrayContaining(['first', 'implausible', 'reset', 'rollover']));
    });
  }
});
