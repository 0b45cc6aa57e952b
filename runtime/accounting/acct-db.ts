/**
 * Accounting tables in the site database (`carbonedge.db`), all prefixed `acct_`. Migration
 * `accounting/1` is part of the one migration list (runtime/persistence); databases written
 * before that list recorded it as `schema_version` in acct_meta, which adopts it.
 */
import type Database from 'better-sqlite3';
import { hasTable, runMigrations, type Migration } from '../persistence/migrations.js';

export const ACCT_SCHEMA_VERSION = 1;

const ACCOUNTING_1_SQL = `
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
  `;

export const ACCOUNTING_MIGRATIONS: Migration[] = [
  {
    id: 'accounting/1',
    owner: 'accounting',
    description: 'quarters, windows, days, instruments, engine state',
    adopt: (db) => hasTable(db, 'acct_meta') && db.prepare("SELECT 1 FROM acct_meta WHERE key = 'schema_version'").get() !== undefined,
    sql: (db) => {
      db.exec(ACCOUNTING_1_SQL);
      // Kept for older carbonedge versions, which check it.
      db.prepare("INSERT OR IGNORE INTO acct_meta (key, value) VALUES ('schema_version', ?)").run(String(ACCT_SCHEMA_VERSION));
    },
  },
  {
    id: 'accounting/2',
    owner: 'accounting',
    description: 'retired offsets (acct_offset)',
    sql: `CREATE TABLE IF NOT EXISTS acct_offset (
      key TEXT PRIMARY KEY,
      spec TEXT NOT NULL,
      t_co2 TEXT NOT NULL,
      retired_on TEXT NOT NULL,
      added_ms INTEGER NOT NULL
    );`,
  },
  {
    id: 'accounting/3',
    owner: 'accounting',
    description: 'meter-change records (acct_meter_change)',
    sql: `CREATE TABLE IF NOT EXISTS acct_meter_change (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device TEXT NOT NULL,
      point TEXT NOT NULL,
      old_final REAL NOT NULL,
      new_initial REAL NOT NULL,
      at_ms INTEGER NOT NULL,
      recorded_ms INTEGER NOT NULL,
      status TEXT NOT NULL,
      UNIQUE (device, point, at_ms)
    );`,
  },
  {
    id: 'accounting/4',
    owner: 'accounting',
    description: 'hash chain of the quarter records (acct_quarter.hash, prev_hash)',
    sql: 'ALTER TABLE acct_quarter ADD COLUMN hash TEXT; ALTER TABLE acct_quarter ADD COLUMN prev_hash TEXT;',
  },
];

/**
 * Make sure a database has the accounting tables (a database opened without the site's
 * migration list: tests, `carbonedge instruments`), through the same migrations; refuses a
 * database written by a newer carbonedge.
 */
export function migrateAccounting(db: Database.Database): void {
  runMigrations(db, [ACCOUNTING_MIGRATIONS]);
  const row = db.prepare("SELECT value FROM acct_meta WHERE key = 'schema_version'").pluck().get() as string | undefined;
  if (row !== undefined && Number(row) > ACCT_SCHEMA_VERSION) {
    throw new Error(`store.db has accounting schema v${row}, newer than this carbonedge (v${ACCT_SCHEMA_VERSION}); upgrade carbonedge`);
  }
}
