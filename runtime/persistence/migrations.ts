import type Database from 'better-sqlite3';

type DB = Database.Database;

/**
 * One schema change, contributed by the part that owns its tables. Migrations run once, in the
 * order of the one list given to openDatabase(), each inside a transaction; their ids are recorded
 * in `persistence_migrations`. Never edit a released migration: add one.
 */
export interface Migration {
  /** Stable id, `<owner>/<n>` (e.g. `store/1`). */
  id: string;
  owner: string;
  description: string;
  sql: string | ((db: DB) => void);
  /**
   * For databases written before the shared migration list: true when this migration's effect is
   * already there (the older per-part bookkeeping says so). The migration is then recorded as
   * applied without running it.
   */
  adopt?: (db: DB) => boolean;
}

export const MIGRATIONS_TABLE = 'persistence_migrations';

/** Does the database have a table (or index) of this name? */
export function hasTable(db: DB, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/**
 * Apply the migrations not yet recorded, in list order. Returns the ids applied (run or adopted)
 * now. Throws on a duplicate id (a programming error) or a failing migration (its transaction
 * rolls back; earlier ones stay committed).
 */
export function runMigrations(db: DB, lists: readonly (readonly Migration[])[], now = Date.now()): { ran: string[]; adopted: string[] } {
  const all = lists.flat();
  const ids = new Set<string>();
  for (const m of all) {
    if (ids.has(m.id)) throw new Error(`duplicate migration id '${m.id}'`);
    ids.add(m.id);
  }
  db.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id TEXT PRIMARY KEY, owner TEXT NOT NULL, applied_at INTEGER NOT NULL, adopted INTEGER NOT NULL)`);
  const applied = new Set(db.prepare(`SELECT id FROM ${MIGRATIONS_TABLE}`).pluck().all() as string[]);
  const record = db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (id, owner, applied_at, adopted) VALUES (?, ?, ?, ?)`);
  const ran: string[] = [];
  const adopted: string[] = [];
  for (const m of all) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      if (m.adopt?.(db)) {
        adopted.push(m.id);
        record.run(m.id, m.owner, now, 1);
        return;
      }
      if (typeof m.sql === 'string') db.exec(m.sql);
      else m.sql(db);
      ran.push(m.id);
      record.run(m.id, m.owner, now, 0);
    })();
  }
  return { ran, adopted };
}
