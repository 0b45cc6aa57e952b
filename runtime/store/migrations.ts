import type { Migration } from '../persistence/migrations.js';
import { hasTable } from '../persistence/migrations.js';

/**
 * The store's tables (readings, aggregates, counters, outbox, store bookkeeping). Databases
 * written before the shared migration list recorded store migrations as integer versions in
 * `schema_migrations`: version n there is migration `store/n` here.
 */
const STORE_1_SQL = `
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
  -- retention finds the cut-off rowid by binary search (RawReadings.rowidAt).
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
`;

/** Was store version `v` applied by the store's own bookkeeping (before the shared list)? */
function legacyStoreVersion(v: number) {
  return (db: Parameters<NonNullable<Migration['adopt']>>[0]) =>
    hasTable(db, 'schema_migrations') && db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(v) !== undefined;
}

export const STORE_MIGRATIONS: Migration[] = [
  {
    id: 'store/1',
    owner: 'store',
    description: 'readings, aggregates, counters, outbox',
    adopt: legacyStoreVersion(1),
    sql: (db) => {
      db.exec(STORE_1_SQL);
      // Also in the old bookkeeping, so that an older carbonedge opening this file does not run it again.
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      db.prepare('INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) VALUES (1, ?, ?)').run('readings, aggregates, counters, outbox', Date.now());
    },
  },
];
