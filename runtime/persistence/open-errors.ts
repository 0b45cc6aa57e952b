/**
 * Why the site database could not be opened, and whether that is corruption.
 *
 * Only a file SQLite itself calls corrupt (SQLITE_CORRUPT, SQLITE_NOTADB, a failed integrity
 * check) is moved aside. Everything else (a full disk, an I/O error, a permission problem, a
 * read-only file or file system, a database locked by another process, a data directory that
 * cannot be created, a migration that fails on a healthy file) leaves the file where it is: the
 * gateway refuses to start with a StoreOpenError naming the path, the cause and a stable code.
 */

/** Stable codes of a refused store open (README "Error codes"). Append only. */
export const STORE_ERROR_CODES = [
  /** The data directory cannot be created or is not a directory. */
  'CE_STORE_DIR',
  /** Permission denied on the data directory or the database file. */
  'CE_STORE_PERMISSION',
  /** The database file or its file system is read-only. */
  'CE_STORE_READ_ONLY',
  /** The disk is full. */
  'CE_STORE_DISK_FULL',
  /** A disk I/O error (a full disk often reads as one; also a failing card, a file size limit). */
  'CE_STORE_IO',
  /** Another process holds the database locked (e.g. a hot WAL it is still writing). */
  'CE_STORE_BUSY',
  /** A migration failed on a database that is not corrupt. */
  'CE_STORE_MIGRATION',
  /** SQLite cannot open the file for another reason. */
  'CE_STORE_CANNOT_OPEN',
  /** The file is corrupt and the caller (a CLI tool beside a running gateway) may not move it aside. */
  'CE_STORE_CORRUPT',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** The site database cannot be used; nothing was moved or deleted. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
  constructor(
    readonly code: StoreErrorCode,
    /** The file or directory concerned. */
    readonly path: string,
    /** What is wrong, in words. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot open the store database: ${path}: ${reason} [${code}]`, options);
  }
}

/** A failed integrity check (`PRAGMA quick_check`): the one corruption we detect ourselves. */
export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

function codeOf(err: unknown): string {
  const code = err && typeof err === 'object' && 'code' in err ? err.code : undefined;
  return typeof code === 'string' ? code : '';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The refusal for an error that is not corruption. */
function refusal(code: string, message: string): { code: StoreErrorCode; reason: string } {
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return { code: 'CE_STORE_DISK_FULL', reason: `the disk is full (${message})` };
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO' || code === 'EFBIG')
    return { code: 'CE_STORE_IO', reason: `disk I/O error: the disk may be full or failing, or a file size limit reached (${message})` };
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return { code: 'CE_STORE_READ_ONLY', reason: `the database or its file system is read-only (${message})` };
  if (code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code === 'EACCES' || code === 'EPERM') return { code: 'CE_STORE_PERMISSION', reason: `permission denied (${message})` };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return { code: 'CE_STORE_BUSY', reason: `the database is locked by another process (${message})` };
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
    return { code: 'CE_STORE_CANNOT_OPEN', reason: `SQLite cannot open the file (${message})` };
  return { code: 'CE_STORE_CANNOT_OPEN', reason: message };
}

/**
 * Is an error raised while opening, checking or migrating the database corruption (then the file
 * is moved aside), or something else (then the open is refused with a code)?
 * `stage`: a non-SQLite error during migrations is a migration failure, not corruption.
 */
export function classifyOpenError(err: unknown, stage: 'open' | 'migrate'): { corrupt: true; reason: string } | { corrupt: false; code: StoreErrorCode; reason: string } {
  const code = codeOf(err);
  const message = messageOf(err);
  if (err instanceof IntegrityError) return { corrupt: true, reason: message };
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) return { corrupt: true, reason: `${code}: ${message}` };
  if (stage === 'migrate' && (code === '' || code === 'SQLITE_ERROR' || code.startsWith('SQLITE_CONSTRAINT')))
    return { corrupt: false, code: 'CE_STORE_MIGRATION', reason: `a migration failed on a database that passed its integrity check (${message})` };
  return { corrupt: false, ...refusal(code, message) };
}

/** A file-system error on the data directory, as a refusal. */
export function dirError(dir: string, err: unknown): StoreOpenError {
  const code = codeOf(err);
  if (code === 'EACCES' || code === 'EPERM') return new StoreOpenError('CE_STORE_PERMISSION', dir, `the data directory is not writable (${messageOf(err)})`, { cause: err });
  if (code === 'EROFS') return new StoreOpenError('CE_STORE_READ_ONLY', dir, `the data directory is on a read-only file system (${messageOf(err)})`, { cause: err });
  if (code === 'ENOSPC') return new StoreOpenError('CE_STORE_DISK_FULL', dir, `the disk is full (${messageOf(err)})`, { cause: err });
  if (code === 'ENOTDIR') return new StoreOpenError('CE_STORE_DIR', dir, `a part of the path is not a directory (${messageOf(err)})`, { cause: err });
  if (code === 'ENOENT') return new StoreOpenError('CE_STORE_DIR', dir, `the data directory cannot be created here (${messageOf(err)})`, { cause: err });
  return new StoreOpenError('CE_STORE_DIR', dir, messageOf(err), { cause: err });
}
