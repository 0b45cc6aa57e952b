/**
 * Regression (issue 13): a meter replaced by a used one (reading 60,000.5 kWh) with no
 * maxRatePerHour added 7,624.5 kWh of phantom energy, unflagged, `complete: true`. Now the
 * default plausibility limit comes from the device's rated power (profile `ratedPowerW`), the jump
 * is flagged and its window incomplete; a meter-change record closes the old counter exactly.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../runtime/types.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { resolveAccountingSettings } from '../../runtime/accounting/feature-impl.js';
import { AccountingEngine, accountingDevices } from '../../runtime/accounting/live.js';
import { applyMeterChanges } from '../../runtime/accounting/meter-change.js';
import { loadContract } from '../../runtime/uplink/contract.js';
import { siteMeterLookup } from '../../runtime/metering/feature.js';
import { MeteringStage } from '../../runtime/metering/stage.js';
import { ratedMaxRatePerHour } from '../../runtime/metering/plausibility.js';
import { ACCOUNTING, DAY0, demoConfig, profiles, tmpDb } from './helpers.js';

const QUARTER_MS = 900_000;
const records = (db: Database.Database) => (db.prepare('SELECT record FROM acct_quarter ORDER BY start_ms').all() as { record: string }[]).map((r) => JSON.parse(r.record) as Record<string, any>);

/** The grid meter alone; its profile rated `ratedPowerW` (undefined: as shipped). */
function site(db: Database.Database, ratedPowerW?: number) {
  const config = demoConfig(ACCOUNTING);
  config.devices = config.devices.filter((d) => d.id === 'grid');
  const grid = config.devices[0]!;
  const rated = new Map<string, AnyProfile>(profiles);
  if (ratedPowerW !== undefined) rated.set(grid.profile, { ...profiles.get(grid.profile)!, ratedPowerW });
  const stage = new MeteringStage(siteMeterLookup(config, rated));
  const hasPoint = (device: string, point: string) => !!profiles.get(grid.profile)?.points.some((x) => x.id === point || x.canonical === point);
  const devices = accountingDevices(config.devices, {}, hasPoint, { integrationFallback: false });
  const engine = new AccountingEngine(resolveAccountingSettings({ config }, loadFactorLibrary()), devices, { db, metering: stage });
  const feed = (ts: number, kWh: number) => {
    const batch: Reading[] = [{ device: 'grid', point: 'energy_import', canonical: 'energy_import', unit: 'kWh', value: kWh, quality: 'good', ts, source: 't' }];
    engine.ingest(batch, stage.process(batch));
  };
  return { engine, feed, stage };
}

/** 10 s samples, +0.25 kWh each; at i = 40 a used meter reading 60,000.5 kWh replaces the old one (52,386.0 at removal). */
const reading = (i: number) => (i < 40 ? 52_376 + i * 0.25 : 60_000.5 + (i - 40) * 0.25);
const run = (s: ReturnType<typeof site>, before40?: () => void) => {
  for (let i = 0; i <= 90; i++) {
    if (i === 40) before40?.();
    s.feed(DAY0 + i * 10_000, reading(i));
  }
  s.engine.advance(DAY0 + QUARTER_MS + 60_000); // closes the one quarter the samples fill
};
const wh = (qs: Record<string, any>[]) => qs.reduce((a, q) => a + (q.energy_Wh.grid_import ?? 0), 0);

describe('meter replaced by a used meter', () => {
  it('the issue vector as shipped (no rating, no maxRatePerHour) books 7,624.5 kWh of phantom energy', () => {
    const { db } = tmpDb();
    run(site(db));
    // 89 steps of 0.25 kWh + 60,000.5 - 52,385.75 = 22.25 + 7,614.75 kWh: the defect, kept visible
    expect(wh(records(db))).toBe(22_250 + 7_614_750);
  });
  it('rated power 69 kW (SDM630, 3 x 230 V x 100 A): the jump is implausible, not counted, its quarter incomplete', () => {
    expect(ratedMaxRatePerHour(69_000, 'kWh')).toBe(86.25); // 69 kW x 1.25 margin
    expect(ratedMaxRatePerHour(69_000, 'Wh')).toBe(86_250);
    const { db } = tmpDb();
    run(site(db, 69_000));
    const qs = records(db);
    expect(wh(qs)).toBe(89 * 250); // 89 good steps of 0.25 kWh; the jump and the old meter's last step are lost
    const flagged = qs.filter((q) => q.quality.flags.some((f: any) => f.flag === 'implausible'));
    expect(flagged).toHaveLength(1);
    expect(flagged[0]!.quality.complete).toBe(false);
    expect(qs.filter((q) => q !== flagged[0]).every((q) => q.quality.complete)).toBe(true);
  });
  it('a meter-change record closes the old counter exactly: 90 x 0.25 = 22.5 kWh, complete, listed in the record', () => {
    const { db } = tmpDb();
    const s = site(db, 69_000);
    const at = DAY0 + 39 * 10_000 + 5_000;
    run(s, () => expect(s.engine.meterChange({ device: 'grid', point: 'energy_import', oldFinal: 52_386, newInitial: 60_000.5, at })).toEqual({ applied: true }));
    const qs = records(db);
    expect(wh(qs)).toBe(90 * 250);
    expect(qs.every((q) => q.quality.complete)).toBe(true);
    expect(qs.flatMap((q) => q.quality.meterChanges ?? [])).toEqual([{ device: 'grid', point: 'energy_import', at, oldFinal: 52_386, newInitial: 60_000.5, oldAmount: 250, newAmount: 0 }]);
    // The carbon-15m schema accepts the record with its meterChanges.
    const validate = loadContract().record('carbon-15m', 1)!;
    for (const q of qs) expect(validate({ id: "gw/carbon-15m/1", seq: 1, ...q }), JSON.stringify(validate.errors)).toBe(true);
  });
  it('a record that comes after the new meter was read is refused with the reason (the jump stays flagged)', () => {
    const { db } = tmpDb();
    const s = site(db, 69_000);
    run(s);
    expect(s.engine.meterChange({ device: 'grid', point: 'energy_import', oldFinal: 52_386, newInitial: 60_000.5, at: DAY0 + 395_000 })).toMatchObject({ applied: false, reason: expect.stringMatching(/already read after/) });
  });
  it('carbonedge meter-change --add writes acct_meter_change; the running accounting applies it at its next tick', () => {
    const { db, file } = tmpDb();
    const s = site(db, 69_000);
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.resolve('tools/carbonedge.js'), 'meter-change', '--db', file, ...args], { encoding: 'utf8' });
    const at = new Date(DAY0 + 395_000).toISOString();
    const seen = new Set<number>();
    run(s, () => {
      const r = cli('--add', '--device', 'grid', '--point', 'energy_import', '--old-final', '52386', '--new-initial', '60000.5', '--at', at);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/recorded meter change grid\/energy_import/);
      expect(applyMeterChanges(db, seen, (c) => s.engine.meterChange(c))).toHaveLength(1); // what the feature's tick does
    });
    expect(wh(records(db))).toBe(90 * 250);
    expect(JSON.parse(cli('--list', '--json').stdout)).toEqual([expect.objectContaining({ device: 'grid', oldFinal: 52386, newInitial: 60000.5, status: 'pending' })]);
  });
  it('the MQTT instruments channel (contract 1.3) accepts a meter-change command', () => {
    const validate = loadContract().command('instruments')!;
    const meterChange = { device: 'grid', oldFinal: 52_386, newInitial: 60_000.5, at: '2024-06-01T08:55:00+08:00' };
    expect(validate({ type: 'meter-change', issuedAt: '2024-06-01T09:00:00+08:00', meterChange })).toBe(true);
    expect(validate({ type: 'meter-change', issuedAt: '2024-06-01T09:00:00+08:00' })).toBe(false);
    expect(validate({ type: 'add', issuedAt: '2024-06-01T09:00:00+08:00', meterChange })).toBe(false);
  });
});
