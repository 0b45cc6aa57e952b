/**
 * Manual overrides with an expiry: an operator holds an output at a value (from the CLI
 * `carbonedge override`, or an uplink command through the `rules` service) until it expires or
 * is cleared. Overrides win over every rule. Stored in SQLite table `rules_overrides` of the
 * store so that the CLI (another process) and the running gateway share them; in memory when
 * there is no store (replays, tests).
 */
import type { Override, OverrideSource } from '../../rules/engine.js';
import type { Persistence } from '../persistence/database.js';
import { hasTable, type Migration } from '../persistence/migrations.js';

export const OVERRIDES_MIGRATIONS: Migration[] = [
  {
    id: 'control/overrides/1',
    owner: 'control',
    description: 'manual overrides rules_overrides',
    // Before the shared migration list the table was created on first use.
    adopt: (db) => hasTable(db, 'rules_overrides'),
    sql: `CREATE TABLE rules_overrides (
      output TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      reason TEXT NOT NULL,
      by TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`,
  },
];

export interface OverrideStore extends OverrideSource {
  set(o: Override, now: number): void;
  /** Remove the override of an output; returns whether there was one. */
  clear(output: string): boolean;
  list(now: number): Override[];
}

export class MemoryOverrides implements OverrideStore {
  private readonly map = new Map<string, Override>();
  set(o: Override): void {
    this.map.set(o.output, o);
  }
  clear(output: string): boolean {
    return this.map.delete(output);
  }
  active(now: number): Override[] {
    for (const [k, o] of this.map) if (o.expiresAt <= now) this.map.delete(k);
    return [...this.map.values()];
  }
  list(now: number): Override[] {
    return this.active(now);
  }
}

/** Overrides in table `rules_overrides`: shared by the running gateway and the CLI (another process). */
export class SqliteOverrides implements OverrideStore {
  private readonly select;
  private readonly purge;
  private readonly upsert;
  private readonly remove;
  constructor(private readonly persistence: Persistence) {
    const db = persistence.db;
    this.select = db.prepare('SELECT * FROM rules_overrides WHERE expires_at > ? ORDER BY output');
    this.purge = db.prepare('DELETE FROM rules_overrides WHERE expires_at <= ?');
    this.upsert = db.prepare('INSERT OR REPLACE INTO rules_overrides (output, value, expires_at, reason, by, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.remove = db.prepare('DELETE FROM rules_overrides WHERE output = ?');
  }

  set(o: Override, now: number): void {
    this.persistence.unitOfWork(() => {
      this.purge.run(now);
      this.upsert.run(o.output, JSON.stringify(o.value), o.expiresAt, o.reason, o.by, now);
    });
  }

  clear(output: string): boolean {
    return this.remove.run(output).changes > 0;
  }

  /** Read-only (called every control tick: no writes to the SD card); expired rows are purged by set(). */
  active(now: number): Override[] {
    const rows = this.select.all(now) as { output: string; value: string; expires_at: number; reason: string; by: string }[];
    return rows.map((r) => ({ output: r.output, value: JSON.parse(r.value) as Override['value'], expiresAt: r.expires_at, reason: r.reason, by: r.by }));
  }

  list(now: number): Override[] {
    return this.active(now);
  }
}

/** Parse a duration such as `30m`, `2h`, `90s`, `1d` into ms. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(s.trim());
  if (!m) throw new Error(`duration '${s}' must be a number with s, m, h or d (e.g. 30m)`);
  const n = Number(m[1]);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const ms = n * unit;
  if (ms <= 0 || ms > 7 * 86_400_000) throw new Error(`duration '${s}' must be between 1 s and 7 days`);
  return ms;
}

/** Parse an override value from text: true/false/on/off, a number, or a mode name. */
export function parseOverrideValue(s: string): Override['value'] {
  const t = s.trim();
  if (t === 'true' || t === 'on') return true;
  if (t === 'false' || t === 'off') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}
