import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { runMigrations, type Migration } from './migrations.js';

export type DB = Database.Database;
export type SyncLevel = 'FULL' | 'NORMAL';

/** The site database's file name in the data directory (one file shared by every part). */
export const DB_FILE_NAME = 'carbonedge.db';

/** What happened to a database file that failed its integrity check on open. */
export interface CorruptionReport {
  /** Where the bad file (and its -wal / -shm) were moved. */
  movedTo: string;
  reason: string;
  at: number;
}

export interface OpenDatabaseOptions {
  /** Path of the file, or `:memory:` (tests). */
  file: string;
  /** The one ordered migration list: each part's migrations, in this order. */
  migrations: readonly (readonly Migration[])[];
  logger?: Logger;
  now?: number;
  /**
   * A file that cannot be opened, fails its integrity check or cannot be migrated is moved aside
   * and a fresh database started (default: the gateway never refuses to start over its buffer).
   * false: throw instead (a CLI working next to a running gateway must not move its file).
   */
  quarantine?: boolean;
}

/**
 * The one owner of the SQLite connection: opened with WAL, `synchronous=FULL` and an integrity
 * check; migrated from the one list. Parts never get the handle: they get repositories built
 * on it (`new XRepository(persistence)`) and units of work.
 */
export class Persistence {
  private currentSync: SyncLevel = 'FULL';
  private closed = false;

  constructor(
    /** For repositories (the classes that own a part's SQL) only. */
    readonly db: DB,
    readonly file: string,
    readonly corruption?: CorruptionReport,
  ) {}

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Is a unit of work open (possibly another part's)? Writes now commit or roll back with it. */
  get inUnitOfWork(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Run `fn` as one transaction. Nested units of work become savepoints of the outer one: they
   * commit or roll back with it, which is how two parts make their writes one atomic step.
   */
  unitOfWork<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Run `fn` at the given `synchronous` level, then go back to FULL. Only work whose loss on
   * power failure is harmless (re-read raw readings, re-sent acknowledged records) runs at
   * NORMAL. Inside a unit of work the level cannot change: `fn` runs at the current one.
   */
  withSynchronous<T>(level: SyncLevel, fn: () => T): T {
    if (this.db.inTransaction || level === this.currentSync) return fn();
    this.db.pragma(`synchronous = ${level}`);
    this.currentSync = level;
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
      this.currentSync = 'FULL';
    }
  }

  /** Bytes used by the database's live pages. */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /** Bytes of the file and its WAL on disk. */
  fileBytes(): number {
    let total = 0;
    for (const s of ['', '-wal']) {
      try {
        total += fs.statSync(this.file + s).size;
      } catch {
        /* absent */
      }
    }
    return total;
  }

  /** Give free pages back to the file system (auto_vacuum = INCREMENTAL). */
  releaseFreePages(): void {
    this.db.pragma('incremental_vacuum');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* best effort */
    }
    this.db.close();
  }
}

function applyPragmas(db: DB): void {
  db.pragma('journal_mode = WAL');
  // FULL: every commit fsyncs the WAL. Parts lower it to NORMAL only through withSynchronous().
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // Keep the WAL from growing without bound on the SD card after a large checkpoint.
  db.pragma('journal_size_limit = 16777216');
  db.pragma('foreign_keys = OFF');
  // 8 MiB page cache (default 2 MiB): backlog drains delete and read large ranges.
  db.pragma('cache_size = -8192');
}

/** Set before the first table: larger pages suit the wide outbox rows and bulk inserts. */
function applyNewFilePragmas(db: DB): void {
  db.pragma('page_size = 8192');
  db.pragma('auto_vacuum = INCREMENTAL');
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

function openAndMigrate(opts: OpenDatabaseOptions, fresh: boolean, now: number): DB {
  const db = new Database(opts.file);
  try {
    if (fresh) applyNewFilePragmas(db);
    applyPragmas(db);
    const check = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
    const problems = check.map((r) => r.quick_check).filter((s) => s !== 'ok');
    if (problems.length) throw new Error(`integrity check failed: ${problems.slice(0, 5).join('; ')}`);
    runMigrations(db, opts.migrations, now);
    return db;
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already unusable */
    }
    throw err;
  }
}

/**
 * Open (or create) the database: WAL, integrity check (`PRAGMA quick_check`), migrations. A file
 * that cannot be opened, fails the check, or cannot be migrated is moved aside and a fresh
 * database started (unless `quarantine: false`).
 */
export function openDatabase(opts: OpenDatabaseOptions): Persistence {
  const log = opts.logger ?? silentLogger();
  const now = opts.now ?? Date.now();
  const memory = opts.file === ':memory:';
  if (!memory) fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  const fresh = memory || !fs.existsSync(opts.file);
  let reason: string;
  try {
    return new Persistence(openAndMigrate(opts, fresh, now), opts.file);
  } catch (err) {
    if (memory || opts.quarantine === false) throw err;
    const message = (err as Error).message;
    reason = message.startsWith('integrity check failed') ? message : `cannot open: ${message}`;
  }
  const movedTo = quarantine(opts.file, now);
  log.error(
    { file: opts.file, movedTo, reason },
    'STORE DATABASE CORRUPT: moved aside and started a fresh one; buffered data not yet sent is in the moved file',
  );
  return new Persistence(openAndMigrate(opts, true, now), opts.file, { movedTo, reason, at: now });
}

/** Open `<dataDir>/carbonedge.db` with the given migration list. */
export function openPersistence(dataDir: string, migrations: readonly (readonly Migration[])[], logger?: Logger, opts: { now?: number; quarantine?: boolean } = {}): Persistence {
  return openDatabase({ file: path.join(dataDir, DB_FILE_NAME), migrations, logger, ...opts });
}
