/**
 * What a report is built from: an activity file (the inventory input plus organisation, monthly
 * electricity and product footprint) or the gateway store (closed quarter-hour records of a period).
 */
import { loadActivityExtras } from '../../runtime/accounting/activity-extras.js';
import { loadActivityFile } from '../../runtime/accounting/activity.js';
import type { FactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory } from '../../runtime/accounting/inventory.js';
import { inventoryOfDb, withAccountingDb } from '../../runtime/accounting/store-inventory.js';
import { ConfigError } from '../../runtime/config/errors.js';
import type { BuildArgs, MonthRow, ReportInventory } from './model.js';

export type ReportSource = Omit<BuildArgs, 'now'>;

export function fromActivity(file: string, lib: FactorLibrary): ReportSource {
  const input = loadActivityFile(file, lib);
  const inventory: ReportInventory = computeInventory(input, file);
  const extras = loadActivityExtras(file, lib, input);
  const el = input.electricity;
  const monthly: MonthRow[] = (extras.monthly ?? []).map((m) => ({
    month: m.month,
    grid_import_MWh: m.gridImportMWh,
    onsite_renewable_MWh: m.onsiteRenewableConsumedMWh,
    consumption_MWh: m.gridImportMWh + m.onsiteRenewableConsumedMWh,
  }));
  return {
    source: { kind: 'activity', file },
    inventory,
    ...(extras.organisation ? { organisation: extras.organisation } : {}),
    monthly,
    ...(extras.footprint ? { footprint: extras.footprint } : {}),
    electricity: { grid_import_MWh: el.gridImportMWh.toNumber(), grid_export_MWh: el.gridExportMWh.toNumber(), onsite_renewable_MWh: el.onsiteRenewableConsumedMWh.toNumber() },
  };
}

const PERIOD_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/** `--period 2026`, `2026-06` or `2026-06-13` as local days [from, to], both inclusive. */
export function periodDays(period: string): { from: string; to: string } {
  const m = PERIOD_RE.exec(period);
  if (!m) throw new ConfigError([{ file: 'command line', path: '--period', message: `expected YYYY, YYYY-MM or YYYY-MM-DD, got '${period}'` }], 'bad period');
  const [, y, mo, d] = m;
  if (d) return { from: period, to: period };
  if (mo) {
    const last = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
    return { from: `${y}-${mo}-01`, to: `${y}-${mo}-${String(last).padStart(2, '0')}` };
  }
  return { from: `${y}-01-01`, to: `${y}-12-31` };
}

const MWH = 1_000_000;

export function fromDb(file: string, period: string | undefined, lib: FactorLibrary): ReportSource {
  return withAccountingDb(file, (db) => {
    let days: { from: string; to: string };
    if (period) days = periodDays(period);
    else {
      const r = db.prepare('SELECT min(day) AS f, max(day) AS t FROM acct_quarter').get() as { f: string | null; t: string | null };
      if (!r.f || !r.t) throw new ConfigError([{ file, path: '/acct_quarter', message: 'no closed quarter-hours in the store: nothing to report (a gap is not a zero)' }], 'no accounting data');
      days = { from: r.f, to: r.t };
    }
    const of = inventoryOfDb(db, days.from, days.to, lib);
    const { quarters } = of;
    const inventory: ReportInventory = of.inventory;
    const byMonth = new Map<string, { wh: Record<string, number>; loc: number; mkt: number; retained: boolean }>();
    for (const q of quarters) {
      const k = q.day.slice(0, 7);
      const x = byMonth.get(k) ?? { wh: {}, loc: 0, mkt: 0, retained: q.method.onsiteAttributes !== 'sold' };
      for (const [f, v] of Object.entries(q.energy_Wh)) x.wh[f] = (x.wh[f] ?? 0) + v;
      x.loc += Number(q.co2_g.total_location ?? 0);
      x.mkt += Number(q.co2_g.total_market ?? 0);
      byMonth.set(k, x);
    }
    const monthly: MonthRow[] = [...byMonth.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([month, x]) => {
        const consumption = x.wh.consumption ?? 0;
        const green = (x.retained ? (x.wh.renewable_consumed ?? 0) : 0) + (x.wh.instrument_covered ?? 0);
        return {
          month,
          grid_import_MWh: (x.wh.grid_import ?? 0) / MWH,
          onsite_renewable_MWh: (x.wh.renewable_consumed ?? 0) / MWH,
          consumption_MWh: consumption / MWH,
          co2_location_t: x.loc / 1e6,
          co2_market_t: x.mkt / 1e6,
          green_share: consumption > 0 ? Math.min(1, green / consumption) : 0,
        };
      });
    const e = inventory.energy_MWh ?? {};
    return {
      source: { kind: 'db', file },
      inventory,
      monthly,
      electricity: { grid_import_MWh: e.grid_import ?? 0, grid_export_MWh: e.grid_export ?? 0, onsite_renewable_MWh: e.renewable_consumed ?? 0 },
    };
  });
}
