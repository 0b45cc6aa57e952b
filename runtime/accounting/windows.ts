/**
 * The hour, day, month and year windows of the live accounting (table acct_window): exact sums
 * of their closed quarter-hours, keyed by the site calendar's bucket keys. The hour window also
 * keeps the hourly-matching numerator, which the longer windows sum hour by hour.
 */
import type Database from 'better-sqlite3';
import type { CalendarKeys } from './calendar.js';
import { addTotals, emptyTotals, matchedWh, type Totals } from './model.js';

export type WindowKind = 'hour' | 'day' | 'month' | 'year';

export class WindowTotals {
  private readonly st;

  /** `db` has the accounting tables (migrateAccounting). */
  constructor(db: Database.Database) {
    this.st = {
      get: db.prepare('SELECT totals FROM acct_window WHERE kind = ? AND key = ?').pluck(),
      start: db.prepare('SELECT start_ms FROM acct_window WHERE kind = ? AND key = ?').pluck(),
      put: db.prepare('INSERT OR REPLACE INTO acct_window (kind, key, start_ms, totals) VALUES (?, ?, ?, ?)'),
    };
  }

  totals(kind: WindowKind, key: string): Totals {
    const raw = this.st.get.get(kind, key) as string | undefined;
    return raw ? (JSON.parse(raw) as Totals) : emptyTotals();
  }

  /** Start (ms) of the window's first quarter-hour, if it has one. */
  start(kind: WindowKind, key: string): number | undefined {
    return this.st.start.get(kind, key) as number | undefined;
  }

  /** Add a closed quarter-hour starting at `start` to its hour, day, month and year windows (in the caller's transaction). */
  addQuarter(t: Totals, keys: CalendarKeys, start: number): void {
    const hourBefore = this.totals('hour', keys.hour);
    const hourAfter = addTotals(hourBefore, t);
    hourAfter.matchedWh = matchedWh(hourAfter);
    const dMatched = hourAfter.matchedWh - matchedWh(hourBefore);
    this.st.put.run('hour', keys.hour, start, JSON.stringify(hourAfter));
    for (const [kind, key] of [
      ['day', keys.day],
      ['month', keys.month],
      ['year', keys.year],
    ] as const) {
      const before = this.totals(kind, key);
      const after = addTotals(before, { ...t, matchedWh: dMatched });
      this.st.put.run(kind, key, before.quarters ? (this.start(kind, key) ?? start) : start, JSON.stringify(after));
    }
  }

  /** The hour, day, month and year windows of these keys. */
  current(keys: CalendarKeys): Record<WindowKind, Totals & { key: string }> {
    const of = (kind: WindowKind, key: string) => ({ key, ...this.totals(kind, key) });
    return { hour: of('hour', keys.hour), day: of('day', keys.day), month: of('month', keys.month), year: of('year', keys.year) };
  }
}
