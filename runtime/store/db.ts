import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';

export type DB = Database.Database;

/** What happened to a database file that failed its integrity check on open. */
export interface CorruptionReport {
  /** Where the bad file (and its -wal / -shm) were moved. */
  movedTo: string;
  reason: string;
  at: number;
}

/**
 * Versioned schema. Each migration runs once, in order, inside a transaction; the applied
 * versions are recorded in `schema_migrations`. Never edit a released migration: add one.
 */
const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'readings, aggregates, counters, outbox',
    sql: `
      CREATE TABLE points (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        point TEXT NOT NULL,
        canonical TEXT,
        unit TEXT,
        UNIQUE (device, point)
      );
      -- Recent raw readings (quality: 0 good, 1 stale, 2 comm-error, 3 out-of-range).
      CREATE TABLE readings_raw (
        ts INTEGER NOT NULL,
        point_id INTEGER NOT NULL,
        value REAL,
        text TEXT,
        quality INTEGER NOT NULL
      );
      -- No index on ts (it would double the insert cost): rows are appended in time order, so
      -- retention finds the cut-off rowid by binary search (Store.rawRowidAt).
      -- Aggregates per point and bucket: min/max/mean/last over good numeric samples.
      CREATE TABLE readings_1m (
        bucket INTEGER NOT NULL,
        point_id INTEGER NOT NULL,
        min REAL, max REAL, mean REAL, last REAL,
        count INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        quality TEXT NOT NULL,
        delta REAL,
        delta_flag TEXT,
        PRIMARY KEY (bucket, point_id)
      ) WITHOUT ROWID;
      CREATE TABLE readings_15m (
        bucket INTEGER NOT NULL,
        point_id INTEGER NOT NULL,
        min REAL, max REAL, mean REAL, last REAL,
        count INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        quality TEXT NOT NULL,
        delta REAL,
        delta_flag TEXT,
        PRIMARY KEY (bucket, point_id)
      ) WITHOUT ROWID;
      -- Energy (counter) deltas per 1-minute bucket, upserted at each flush (crash-consistent
      -- with counter_last, written in the same transaction).
      CREATE TABLE energy_deltas (
        bucket INTEGER NOT NULL,
        point_id INTEGER NOT NULL,
        delta REAL NOT NULL,
        from_ts INTEGER NOT NULL,
        to_ts INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        flag TEXT,
        PRIMARY KEY (bucket, point_id)
      ) WITHOUT ROWID;
      -- Last absolute counter value per meter point: the first delta after a restart covers the downtime.
      CREATE TABLE counter_last (
        point_id INTEGER PRIMARY KEY,
        value REAL NOT NULL,
        ts INTEGER NOT NULL
      );
      -- Everything bound for the cloud: deleted only after the broker's PUBACK.
      CREATE TABLE outbox (
        stream TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        created INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (stream, seq)
      ) WITHOUT ROWID;
      -- Next sequence number per stream: survives restarts and outbox deletions.
      CREATE TABLE outbox_seq (
        stream TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
      );
      CREATE TABLE store_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE store_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function applyPragmas(db: DB): void {
  db.pragma('journal_mode = WAL');
  // FULL: every commit fsyncs the WAL. The store lowers it to NORMAL only around flushes that
  // touch nothing but raw readings / deletions of acknowledged outbox rows (see store.ts).
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // Keep the WAL from growing without bound on the SD card after a large checkpoint.
  db.pragma('journal_size_limit = 16777216');
  db.pragma('foreign_keys = OFF');
  // 8 MiB page cache (default 2 MiB): backlog drains delete and read large ranges.
  db.pragma('cache_size = -8192');
}

function migrate(db: DB): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
}

/** Move `file` and its WAL/SHM side files aside as `<file>.corrupt-<ts>`; returns the new path. */
function quarantine(file: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  const dest = `${file}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, dest + suffix);
  }
  return dest;
}

/**
 * Open (or create) the store database: WAL, integrity check (`PRAGMA quick_check`), migrations.
 * A file that cannot be opened, fails the check, or cannot be migrated is moved aside and a fresh
 * database started: the gateway never refuses to start over its buffer.
 */
export function openStoreDatabase(file: string, log: Logger, now = Date.now()): { db: DB; corruption?: CorruptionReport } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: DB | undefined;
  let reason: string | undefined;
  const fresh = !fs.existsSync(file);
  try {
    db = new Database(file);
    if (fresh) {
      // Set before the first table: larger pages suit the wide outbox rows and bulk inserts.
      db.pragma('page_size = 8192');
      db.pragma('auto_vacuum = INCREMENTAL');
    }
    applyPragmas(db);
    const check = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
    const problems = check.map((r) => r.quick_check).filter((s) => s !== 'ok');
    if (problems.length) reason = `integrity check failed: ${problems.slice(0, 5).join('; ')}`;
    else migrate(db);
  } catch (err) {
    reason = `cannot open: ${(err as Error).message}`;
  }
  if (!reason) return { db: db! };
  try {
    db?.close();
  } catch {
    /* already unusable */
  }
  const movedTo = quarantine(file, now);
  log.error(
    { file, movedTo, reason },
    'STORE DATABASE CORRUPT: moved aside and started a fresh one; buffered data not yet sent is in the moved file',
  );
  const fresh2 = new Database(file);
  fresh2.pragma('page_size = 8192');
  fresh2.pragma('auto_vacuum = INCREMENTAL');
  applyPragmas(fresh2);
  migrate(fresh2);
  return { db: fresh2, corruption: { movedTo, reason, at: now } };
}
