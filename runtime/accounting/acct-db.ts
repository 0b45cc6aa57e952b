/**
 * Accounting tables in the store's SQLite (`store.db`), all prefixed `acct_`. Migrations are
 * idempotent (CREATE ... IF NOT EXISTS, versioned in acct_meta) so the accounting can open any
 * store database, new or old.
 */
import type Database from 'better-sqlite3';

export const ACCT_SCHEMA_VERSION = 1;

export function migrateAccounting(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS acct_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS acct_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS acct_quarter (
      start_ms INTEGER PRIMARY KEY,
      end_ms INTEGER NOT NULL,
      day TEXT NOT NULL,
      hour TEXT NOT NULL,
      complete INTEGER NOT NULL,
      record TEXT NOT NULL,
      sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS acct_quarter_day ON acct_quarter (day);
    CREATE TABLE IF NOT EXISTS acct_window (
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      start_ms INTEGER NOT NULL,
      totals TEXT NOT NULL,
      PRIMARY KEY (kind, key)
    );
    CREATE TABLE IF NOT EXISTS acct_day (
      day TEXT PRIMARY KEY,
      start_ms INTEGER NOT NULL,
      end_ms INTEGER NOT NULL,
      record TEXT NOT NULL,
      sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS acct_instrument (
      key TEXT PRIMARY KEY,
      spec TEXT NOT NULL,
      total_wh INTEGER NOT NULL,
      remaining_wh INTEGER NOT NULL,
      valid_from_ms INTEGER NOT NULL,
      valid_to_ms INTEGER NOT NULL,
      added_ms INTEGER NOT NULL
    );
  `);
  const row = db.prepare("SELECT value FROM acct_meta WHERE key = 'schema_version'").pluck().get() as string | undefined;
  if (row === undefined) db.prepare("INSERT INTO acct_meta (key, value) VALUES ('schema_version', ?)").run(String(ACCT_SCHEMA_VERSION));
  else if (Number(row) > ACCT_SCHEMA_VERSION) {
    throw new Error(`store.db has accounting schema v${row}, newer than this carbonedge (v${ACCT_SCHEMA_VERSION}); upgrade carbonedge`);
  }
}
