import { describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { Q } from '../../runtime/accounting/exact.js';
import { QUARTER_MS, type Totals } from '../../runtime/accounting/live.js';
import { DEMO_DEVICES, DemoSite } from '../../tools/simulator/demo-site.js';
import type { Reading } from '../../runtime/types.js';
import { ACCOUNTING, DAY0, MemoryOutbox, demoConfig, deviceReadings, makeEngine, tmpDb } from './helpers.js';

const quarters = (db: Database.Database, day?: string) =>
  (db.prepare(`SELECT record FROM acct_quarter ${day ? 'WHERE day = ?' : ''} ORDER BY start_ms`).all(...(day ? [day] : [])) as { record: string }[]).map(
    (r) => JSON.parse(r.record) as Record<string, any>,
  );
const sumQ = (rs: Record<string, any>[], k: string) => rs.reduce<Q>((a, r) => a.add(Q.from(r.co2_g[k])), Q.ZERO);
const sumWh = (rs: Record<string, any>[], k: string) => rs.reduce((a, r) => a + r.energy_Wh[k], 0);
const wh = (kwh: number) => Math.round(kwh * 1000);

/** Run the demo site from t0 to t1 in steps, feeding accounting readings to `feed`. */
function drive(site: DemoSite, t0: number, t1: number, stepMs: number, feed: (batch: Reading[], ts: number) => void, skip?: (device: string, ts: number) => boolean) {
  for (let t = t0; t <= t1; t += stepMs) {
    site.step(t);
    const batch = DEMO_DEVICES.filter((d) => !skip?.(d, t)).flatMap((d) => deviceReadings(site, d, t, true));
    feed(batch, t);
  }
}

describe('live accounting over a simulated day', () => {
  const { db } = tmpDb();
  const outbox = new MemoryOutbox();
  const engine = makeEngine(db, { outbox });
  const site = new DemoSite({ seed: 7, startMs: DAY0, utcOffsetMinutes: 480 });
  site.step(DAY0);
  const counters = () => ({
    gi: site.values('grid').energy_import as number,
    ge: site.values('grid').energy_export as number,
    pv: site.values('pv').energy_export as number,
    bi: site.values('battery').energy_import as number,
    be: site.values('battery').energy_export as number,
  });
  const start = counters();
  let end: typeof start | undefined;
  drive(site, DAY0, DAY0 + 86_400_000 + 120_000, 10_000, (batch, t) => {
    engine.ingest(batch);
    if (t === DAY0 + 86_400_000) end = counters();
  });
  const qs = quarters(db, '2024-06-01');

  it('96 quarter-hours, every one complete, energy balance exact in each', () => {
    expect(qs.length).toBe(96);
    expect(qs[0]!.startMs).toBe(DAY0);
    for (const r of qs) {
      const e = r.energy_Wh;
      expect(r.quality.complete).toBe(true);
      expect(e.grid_import + e.pv + e.wind + e.generator + e.battery_discharge).toBe(e.grid_export + e.battery_charge + e.consumption);
      expect(e.renewable_consumed).toBeLessThanOrEqual(e.consumption);
      expect(Q.from(r.co2_g.total_location).eq(Q.from(r.co2_g.scope1).add(Q.from(r.co2_g.scope2_location)))).toBe(true);
      expect(Q.from(r.co2_g.electricity_location).eq(Q.of(e.grid_import).mul('0.5306'))).toBe(true);
    }
  });
  it('quarter-hours add up to the counters exactly: nothing lost, nothing doubled', () => {
    expect(sumWh(qs, 'grid_import')).toBe(wh(end!.gi) - wh(start.gi));
    expect(sumWh(qs, 'grid_export')).toBe(wh(end!.ge) - wh(start.ge));
    expect(sumWh(qs, 'pv')).toBe(wh(end!.pv) - wh(start.pv));
    expect(sumWh(qs, 'battery_charge')).toBe(wh(end!.bi) - wh(start.bi));
    expect(sumWh(qs, 'battery_discharge')).toBe(wh(end!.be) - wh(start.be));
    expect(sumWh(qs, 'pv')).toBeGreaterThan(50_000);
  });
  it('the 96 quarter-hours sum exactly to the day window and the carbon-day record', () => {
    const day = JSON.parse(db.prepare("SELECT totals FROM acct_window WHERE kind = 'day' AND key = '2024-06-01'").pluck().get() as string) as Totals;
    const rec = outbox.of('carbon-day');
    expect(rec.length).toBe(1);
    expect(rec[0]!.day).toBe('2024-06-01');
    expect(rec[0]!.quality).toMatchObject({ complete: true, quarters: 96, expectedQuarters: 96 });
    for (const k of ['scope1', 'scope2_location', 'scope2_market', 'total_location', 'total_market']) {
      expect(Q.from(day.co2g[k]!).eq(sumQ(qs, k)), k).toBe(true);
      expect(rec[0]!.co2_g[k]).toBe(day.co2g[k]);
    }
    for (const k of ['grid_import', 'consumption', 'renewable_consumed', 'instrument_covered']) expect(day.wh[k]).toBe(sumWh(qs, k));
    const fifteen = outbox.of('carbon-15m').filter((r) => r.day === '2024-06-01');
    expect(fifteen.length).toBe(96);
    expect(Q.sum(fifteen.map((r) => Q.from(r.co2_g.total_market))).eq(Q.from(rec[0]!.co2_g.total_market))).toBe(true);
    const g = rec[0]!.green;
    expect(g.self_sufficiency).toBeGreaterThan(0.1);
    expect(g.hourly_matched).toBeGreaterThan(0);
    // within-hour netting: hourly matching is at least the on-site renewable share of each quarter
    expect(g.hourly_matched).toBeGreaterThanOrEqual(g.annual_volumetric - 1e-9);
    expect(rec[0]!.method.remainderFactor.id).toBe('CN-2023-residual');
  });
  it('hour, month and year windows hold the same exact totals', () => {
    const w = engine.windows(DAY0 + 3_600_000);
    expect(w.month!.key).toBe('2024-06');
    expect(Q.from(w.month!.co2g.total_market!).eq(sumQ(qs, 'total_market').add(sumQ(quarters(db).filter((r) => r.day !== '2024-06-01'), 'total_market')))).toBe(true);
    expect(w.year!.quarters).toBe(quarters(db).length);
  });
});

describe('restart in the middle of a window', () => {
  const run = (restartAt?: number, crash = false) => {
    const { db } = tmpDb();
    let engine = makeEngine(db);
    const site = new DemoSite({ seed: 3, startMs: DAY0 + 10 * 3_600_000, utcOffsetMinutes: 480 });
    const t0 = DAY0 + 10 * 3_600_000;
    drive(site, t0, t0 + 2 * 3_600_000 + 60_000, 5_000, (batch, t) => {
      if (restartAt !== undefined && t === t0 + restartAt) {
        if (!crash) engine.stop();
        engine = makeEngine(db); // a new process on the same store
      }
      engine.ingest(batch);
    });
    return quarters(db);
  };
  const base = run();
  it('a clean restart loses and doubles nothing (identical quarter-hours)', () => {
    const r = run(47 * 60_000 + 5_000);
    expect(r.length).toBe(base.length);
    expect(r.map((x) => x.energy_Wh)).toEqual(base.map((x) => x.energy_Wh));
    expect(r.map((x) => x.co2_g)).toEqual(base.map((x) => x.co2_g));
  });
  it('a crash (no stop) falls back to the last checkpoint; counters still give exact totals', () => {
    const r = run(52 * 60_000 + 5_000, true);
    expect(r.map((x) => x.startMs)).toEqual(base.map((x) => x.startMs));
    for (const k of ['grid_import', 'grid_export', 'pv', 'battery_charge', 'battery_discharge', 'consumption']) expect(sumWh(r, k), k).toBe(sumWh(base, k));
    expect(sumQ(r, 'total_location').eq(sumQ(base, 'total_location'))).toBe(true);
  });
});

/** A grid meter + PV + battery with hand-made counters (kWh). */
function synth(db: Database.Database, accounting = ACCOUNTING) {
  const config = demoConfig(accounting);
  config.devices = config.devices.filter((d) => ['grid', 'pv', 'battery'].includes(d.id));
  const outbox = new MemoryOutbox();
  const engine = makeEngine(db, { config, outbox });
  const c = { imp: 1000, exp: 50, pv: 500, bIn: 10, bOut: 9 };
  const sample = (t: number, only?: string[]) => {
    const r = (device: string, point: string, value: number): Reading => ({ device, point, canonical: point, value, quality: 'good', ts: t, source: 'synth' });
    const all = [r('grid', 'energy_import', c.imp), r('grid', 'energy_export', c.exp), r('pv', 'energy_export', c.pv), r('battery', 'energy_import', c.bIn), r('battery', 'energy_export', c.bOut)];
    engine.ingest(only ? all.filter((x) => only.includes(x.device)) : all);
  };
  return { engine, c, sample, outbox };
}

describe('counters, gaps, battery mix, instruments', () => {
  it('a counter reset is flagged and not counted', () => {
    const { db } = tmpDb();
    const { engine, c, sample } = synth(db);
    for (let i = 0; i <= 90; i++) {
      if (i === 40) c.imp = 0.5; // meter replaced
      else c.imp += 0.25;
      sample(DAY0 + i * 10_000);
    }
    engine.advance(DAY0 + 2 * QUARTER_MS + 60_000);
    const qs = quarters(db);
    expect(sumWh(qs, 'grid_import')).toBe(89 * 250);
    expect(qs.flatMap((q) => q.quality.flags).filter((f: any) => f.flag === 'reset')).toEqual([expect.objectContaining({ device: 'grid', point: 'energy_import', flag: 'reset' })]);
  });
  it('a data gap is reported as a gap, never zero-filled, and the energy is booked once after it', () => {
    const { db } = tmpDb();
    const { engine, c, sample } = synth(db);
    const N = 6 * 90; // 90 minutes at 10 s
    for (let i = 0; i <= N; i++) {
      c.pv += 0.1;
      c.exp += 0.1;
      const t = DAY0 + i * 10_000;
      const pvDown = t >= DAY0 + 20 * 60_000 && t < DAY0 + 50 * 60_000;
      sample(t, pvDown ? ['grid', 'battery'] : undefined);
    }
    engine.advance(DAY0 + 6 * QUARTER_MS + 60_000);
    const qs = quarters(db);
    expect(qs.length).toBe(6);
    expect(sumWh(qs, 'pv')).toBe(N * 100);
    const gapQuarters = qs.filter((q) => !q.quality.complete);
    expect(gapQuarters.map((q) => (q.startMs - DAY0) / QUARTER_MS)).toEqual([1, 2, 3]); // pv silent 00:20-00:50
    expect(gapQuarters[0]!.quality.gaps).toEqual([expect.objectContaining({ device: 'pv' })]);
    const catchup = qs.flatMap((q) => q.quality.flags).filter((f: any) => f.flag === 'catchup');
    expect(catchup).toEqual([expect.objectContaining({ device: 'pv', amount: 30 * 6 * 100 + 100 })]);
  });
  it('the battery discharges the mix it was charged with', () => {
    const { db } = tmpDb();
    const { engine, c, sample } = synth(db);
    let i = 0;
    const t = () => DAY0 + i * 60_000;
    sample(t());
    // quarter 0: PV 20 kWh, of which 10 charge the battery, 10 consumed; no import
    for (i = 1; i <= 15; i++) {
      c.pv += 20 / 15;
      c.bIn += 10 / 15;
      sample(t());
    }
    // quarter 1: night, battery discharges 6 kWh, grid imports 4 kWh
    for (; i <= 30; i++) {
      c.bOut += 6 / 15;
      c.imp += 4 / 15;
      sample(t());
    }
    // quarter 2: grid charges the battery 5 kWh and supplies 5 kWh of load
    for (; i <= 45; i++) {
      c.imp += 10 / 15;
      c.bIn += 5 / 15;
      sample(t());
    }
    // quarter 3: battery discharges 6 kWh: pools ren 4, other 5 -> 4/9 renewable
    for (; i <= 60; i++) {
      c.bOut += 6 / 15;
      sample(t());
    }
    engine.advance(DAY0 + 4 * QUARTER_MS + 60_000);
    const [q0, q1, q2, q3] = quarters(db).map((q) => q.energy_Wh);
    expect(q0).toMatchObject({ pv: 20_000, battery_charge: 10_000, consumption: 10_000, renewable_consumed: 10_000 });
    expect(q1).toMatchObject({ battery_discharge: 6_000, grid_import: 4_000, consumption: 10_000, renewable_consumed: 6_000 });
    expect(q2).toMatchObject({ battery_charge: 5_000, consumption: 5_000, renewable_consumed: 0 });
    expect(q3).toMatchObject({ battery_discharge: 6_000, consumption: 6_000, renewable_consumed: Math.floor((6000 * 4000) / 9000) });
  });
  it('instruments cover grid import first-in-first-out; the remainder takes the residual factor', () => {
    const { db } = tmpDb();
    const acc = { ...ACCOUNTING, instruments: [{ type: 'green-power-contract' as const, MWh: 0.005, vintage: 2024, evidence: 'contract GP-2024-017, settlement 2024-06' }] };
    const { engine, c, sample } = synth(db, acc);
    for (let i = 0; i <= 30; i++) {
      c.imp += 0.25; // 3.75 kWh per quarter
      sample(DAY0 + i * 60_000);
    }
    engine.advance(DAY0 + 2 * QUARTER_MS + 60_000);
    const qs = quarters(db);
    expect(qs.map((q) => q.energy_Wh.grid_import)).toEqual([3_750, 3_750]);
    expect(qs.map((q) => q.energy_Wh.instrument_covered)).toEqual([3_750, 1_250]);
    expect(Q.from(qs[0]!.co2_g.electricity_market).isZero()).toBe(true);
    expect(Q.from(qs[1]!.co2_g.electricity_market).eq(Q.of(2_500).mul('0.6096'))).toBe(true);
    expect(Q.from(qs[1]!.co2_g.electricity_location).eq(Q.of(3_750).mul('0.5306'))).toBe(true);
    // the same certificates pushed again are not counted twice
    expect(engine.addInstrument(acc.instruments[0]!, DAY0).added).toBe(false);
    expect(engine.addInstrument({ type: 'GEC', MWh: 1 }, DAY0).issues[0]!.message).toMatch(/missing evidence/);
  });
  it('active power is integrated when a device has no energy counter, and flagged', () => {
    const { db } = tmpDb();
    const config = demoConfig();
    config.devices = config.devices.filter((d) => d.id === 'heatpump');
    const engine = makeEngine(db, { config, hasPoint: (_d, p) => p === 'active_power' });
    expect(engine.devices[0]!.power).toEqual({ point: 'active_power', positive: 'heat_pump' });
    const t0 = DAY0 + 8 * 3_600_000;
    const site = new DemoSite({ seed: 5, startMs: t0, utcOffsetMinutes: 480 });
    site.step(t0);
    const e0 = site.values('heatpump').energy_import as number;
    let e1 = 0;
    drive(site, t0, t0 + 4 * QUARTER_MS + 60_000, 5_000, (batch, t) => {
      engine.ingest(batch.filter((r) => r.device === 'heatpump'));
      if (t === t0 + 4 * QUARTER_MS) e1 = site.values('heatpump').energy_import as number;
    });
    const qs = quarters(db);
    expect(qs.length).toBe(4);
    for (const q of qs) expect(q.quality.integrated).toEqual(['heatpump']);
    const integrated = sumWh(qs, 'heat_pump');
    expect(integrated).toBeGreaterThan(0);
    expect(Math.abs(integrated - wh(e1) + wh(e0)) / (wh(e1) - wh(e0))).toBeLessThan(0.02);
  });
});
