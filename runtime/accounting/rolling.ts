/**
 * Rolling windows of the live accounting (the last 24 h for the local page and API): exact sums
 * of the closed quarter-hours in table acct_quarter that start at or after `since`, with the
 * hourly-matching numerator summed hour by hour like the calendar windows (./windows.ts).
 */
import type Database from 'better-sqlite3';
import { addTotals, emptyTotals, matchedWh, type Totals } from './model.js';

interface QuarterRow {
  hour: string;
  complete: number;
  record: string;
}

export class RollingTotals {
  private readonly since;

  /** `db` has the accounting tables (migration accounting/1). */
  constructor(db: Database.Database) {
    this.since = db.prepare('SELECT hour, complete, record FROM acct_quarter WHERE start_ms >= ? ORDER BY start_ms');
  }

  /** Totals of the closed quarter-hours starting at or after `since` (ms). */
  totals(since: number): Totals {
    const hours = new Map<string, Totals>();
    for (const row of this.since.all(since) as QuarterRow[]) {
      const r = JSON.parse(row.record) as { energy_Wh?: Record<string, number>; co2_g?: Record<string, string> };
      const q: Totals = { ...emptyTotals(), wh: r.energy_Wh ?? {}, co2g: r.co2_g ?? {}, quarters: 1, completeQuarters: row.complete ? 1 : 0 };
      hours.set(row.hour, addTotals(hours.get(row.hour) ?? emptyTotals(), q));
    }
    let out = emptyTotals();
    for (const h of hours.values()) out = addTotals(out, { ...h, matchedWh: matchedWh(h) });
    return out;
  }
}
