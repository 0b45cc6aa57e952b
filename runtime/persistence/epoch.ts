import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

type DB = Database.Database;

/**
 * The store epoch: a random id created with every new database and kept in it for its life.
 * Outbox sequence numbers restart at 1 in a new database (after a corrupt one was moved aside, a
 * zero-length file, a wiped data directory), so record ids carry the epoch
 * (`<gateway>/<stream>/<epoch>-<seq>`) and no id is ever reused for other content. A database
 * created before epochs existed has none: its ids stay `<gateway>/<stream>/<seq>` (the legacy
 * epoch, announced as absent).
 */
export const META_TABLE = 'persistence_meta';

/** Lower-case hex, 12 characters (48 random bits). */
export const EPOCH_PATTERN = /^[0-9a-f]{12}$/;

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

/** Does the database hold nothing at all (a file just created, or a zero-length one)? */
export function isEmptyDatabase(db: DB): boolean {
  return db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() === 0;
}

/**
 * Create the meta table, give a new (empty) database its epoch, and record this open. The write
 * is also the probe that the database is writable: a read-only file fails here, before anything
 * starts, rather than at every flush. Returns the epoch, undefined for a legacy database.
 */
export function openStoreMeta(db: DB, isNew: boolean, now: number): string | undefined {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS ${META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const set = db.prepare(`INSERT OR REPLACE INTO ${META_TABLE} (key, value) VALUES (?, ?)`);
    if (isNew) {
      set.run('storeEpoch', newEpoch());
      set.run('createdAt', String(now));
    }
    set.run('openedAt', String(now));
  })();
  return readEpoch(db);
}

export function readEpoch(db: DB): string | undefined {
  const v = db.prepare(`SELECT value FROM ${META_TABLE} WHERE key = 'storeEpoch'`).pluck().get() as string | undefined;
  return v !== undefined && EPOCH_PATTERN.test(v) ? v : undefined;
}
