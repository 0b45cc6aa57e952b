import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { isEmptyDatabase, openStoreMeta } from './epoch.js';
import { runMigrations, type Migration } from './migrations.js';
import { classifyOpenError, dirError, IntegrityError, StoreOpenError } from './open-errors.js';

export { StoreOpenError, type StoreErrorCode } from './open-errors.js';

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

/** A zero-length database file found at open: whatever it held is lost; a new store epoch starts. */
export interface ZeroLengthReport {
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
   * A file SQLite calls corrupt (or that fails its integrity check) is moved aside and a fresh
   * database started (default: the gateway does not refuse to start over a corrupt buffer).
   * Any other open error (full disk, I/O, permissions, read-only, locked) is never corruption:
   * it throws a StoreOpenError and leaves the file alone. false: a corrupt file throws too (a
   * CLI working next to a running gateway must not move its file).
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

  /** This database's store epoch (runtime/persistence/epoch.ts); undefined for a legacy database. */
  readonly epoch: string | undefined;
  /** Set when a corrupt file was moved aside at open. */
  readonly corruption: CorruptionReport | undefined;
  /** Set when the file was zero-length at open. */
  readonly zeroLength: ZeroLengthReport | undefined;

  constructor(
    /** For repositories (the classes that own a part's SQL) only. */
    readonly db: DB,
    readonly file: string,
    report: { epoch?: string; corruption?: CorruptionReport; zeroLength?: ZeroLengthReport } = {},
  ) {
    this.epoch = report.epoch;
    this.corruption = report.corruption;
    this.zeroLength = report.zeroLength;
  }

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

  /** Bytes on disk: the database file, its WAL and its shared-memory index (what `store.maxBytes` bounds). */
  fileBytes(): number {
    return this.sideFileBytes('') + this.walBytes() + this.sideFileBytes('-shm');
  }

  /** Bytes of the WAL file on disk. */
  walBytes(): number {
    return this.sideFileBytes('-wal');
  }

  private sideFileBytes(suffix: string): number {
    if (this.file === ':memory:') return 0;
    try {
      return fs.statSync(this.file + suffix).size;
    } catch {
      return 0; // absent
    }
  }

  /**
   * Keep the WAL near `bytes`: the automatic checkpoint runs once it holds that much, and the
   * file is truncated back to it afterwards (SQLite's defaults let it reach ~8 MB with our pages).
   */
  limitWal(bytes: number): void {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(`wal_autocheckpoint = ${Math.max(4, Math.floor(bytes / pageSize))}`);
    this.db.pragma(`journal_size_limit = ${Math.max(0, Math.floor(bytes))}`);
  }

  /** Copy the WAL into the database and truncate it to zero bytes; false when a reader kept it from completing. */
  checkpoint(): boolean {
    if (this.db.inTransaction || this.file === ':memory:') return false;
    const r = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return r[0]?.busy === 0;
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
  // Keep the WAL from growing without bound on the SD card after a large checkpoint (the store
  // lowers both limits to fit its byte cap: Persistence.limitWal()).
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

/** An error while opening, with where it happened (a failing migration on a sound file is not corruption). */
class OpenFailure {
  constructor(
    readonly stage: 'open' | 'migrate',
    readonly err: unknown,
  ) {}
}

function openAndMigrate(opts: OpenDatabaseOptions, now: number): { db: DB; epoch: string | undefined } {
  let stage: 'open' | 'migrate' = 'open';
  let db: DB | undefined;
  try {
    db = new Database(opts.file);
    const isNew = isEmptyDatabase(db);
    if (isNew) applyNewFilePragmas(db);
    applyPragmas(db);
    const check = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
    const problems = check.map((r) => r.quick_check).filter((s) => s !== 'ok');
    if (problems.length) throw new IntegrityError(`integrity check failed: ${problems.slice(0, 5).join('; ')}`);
    // Writes: a read-only file, a full disk or a lock fails here, before anything starts.
    const epoch = openStoreMeta(db, isNew, now);
    stage = 'migrate';
    runMigrations(db, opts.migrations, now);
    return { db, epoch };
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* already unusable */
    }
    throw new OpenFailure(stage, err);
  }
}

/**
 * Create the data directory (and missing parents) one level at a time: `mkdir -p` spins forever
 * under /proc. Throws StoreOpenError (CE_STORE_DIR, CE_STORE_PERMISSION, ...) naming the cause.
 */
export function ensureDataDir(dir: string): void {
  ensureDir(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw dirError(dir, err);
  }
}

function ensureDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw dirError(dir, err);
    const parent = path.dirname(dir);
    if (parent !== dir) ensureDir(parent);
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw dirError(dir, e);
    }
    return;
  }
  if (!st.isDirectory()) throw new StoreOpenError('CE_STORE_DIR', dir, 'not a directory');
}

/** What can be said about the directory and file before SQLite touches them; true when the file is zero-length. */
function preflight(file: string): boolean {
  const dir = path.dirname(file);
  ensureDir(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw dirError(dir, err);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return false; // created by SQLite
  }
  if (!st.isFile()) throw new StoreOpenError('CE_STORE_CANNOT_OPEN', file, 'not a regular file');
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw new StoreOpenError('CE_STORE_READ_ONLY', file, `the database file is not writable by this user (${(err as Error).message})`, { cause: err });
  }
  let walSize = 0;
  try {
    walSize = fs.statSync(`${file}-wal`).size;
  } catch {
    /* no WAL */
  }
  return st.size === 0 && walSize === 0;
}

function refuse(file: string, failure: OpenFailure): StoreOpenError {
  const c = classifyOpenError(failure.err, failure.stage);
  return c.corrupt ? new StoreOpenError('CE_STORE_CORRUPT', file, c.reason, { cause: failure.err }) : new StoreOpenError(c.code, file, c.reason, { cause: failure.err });
}

/**
 * Open (or create) the database: WAL, integrity check (`PRAGMA quick_check`), store epoch,
 * migrations. A corrupt file (SQLite says so, or the check fails) is moved aside and a fresh
 * database started (unless `quarantine: false`). Every other failure throws a StoreOpenError
 * naming the path, the cause and a `CE_STORE_...` code, and leaves the file where it is. A
 * zero-length file is reported (logged, `zeroLength`) and starts a new epoch.
 */
export function openDatabase(opts: OpenDatabaseOptions): Persistence {
  const log = opts.logger ?? silentLogger();
  const now = opts.now ?? Date.now();
  const file = opts.file;
  const memory = file === ':memory:';
  const empty = !memory && preflight(file);
  let zeroLength: ZeroLengthReport | undefined;
  if (empty) {
    zeroLength = { reason: 'the database file was zero-length: whatever it held is lost; a new store epoch starts', at: now };
    log.error({ file }, 'STORE DATABASE EMPTY: the file is zero-length (lost on the disk); started a new store epoch, record ids restart under it');
  }
  let reason: string;
  try {
    const r = openAndMigrate(opts, now);
    return new Persistence(r.db, file, { epoch: r.epoch, zeroLength });
  } catch (e) {
    const failure = e instanceof OpenFailure ? e : new OpenFailure('open', e);
    const c = classifyOpenError(failure.err, failure.stage);
    if (!c.corrupt || memory || opts.quarantine === false) throw refuse(file, failure);
    reason = c.reason;
  }
  const movedTo = quarantine(file, now);
  log.error(
    { file, movedTo, reason },
    'STORE DATABASE CORRUPT: moved aside and started a fresh one (a new store epoch); buffered data not yet sent is in the moved file',
  );
  try {
    const r = openAndMigrate(opts, now);
    return new Persistence(r.db, file, { epoch: r.epoch, corruption: { movedTo, reason, at: now } });
  } catch (e) {
    throw refuse(file, e instanceof OpenFailure ? e : new OpenFailure('open', e));
  }
}
/** Open `<dataDir>/carbonedge.db` with the given migration list. */
export function openPersistence(dataDir: string, migrations: readonly (readonly Migration[])[], logger?: Logger, opts: { now?: number; quarantine?: boolean } = {}): Persistence {
  return openDatabase({ file: path.join(dataDir, DB_FILE_NAME), migrations, logger, ...opts });
}
