/**
 * One gateway per data directory: an exclusive lock file `<dataDir>/carbonedge.lock` holding the
 * owner's pid (and, on Linux, the process's start time, so a pid reused after a reboot or in a
 * fresh container is not mistaken for the owner). Taken with an exclusive create (O_CREAT|O_EXCL);
 * a lock whose owner is gone (SIGKILL, power loss) is taken over; one whose owner runs refuses
 * with its pid. Released on stop and on process exit.
 */
import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

export const LOCK_FILE = 'carbonedge.lock';
/** A lock file still empty (its owner is writing it) is taken as held for this long. */
const FRESH_MS = 5000;

interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (Linux), when known. */
  start?: number;
}

export interface DataDirLock {
  readonly file: string;
  /** Remove the lock file (only if it is still ours). Idempotent. */
  release(): void;
}

/** Locks this process holds (a second lock in the same process is refused too). */
const held = new Set<string>();

function processStart(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ..." with starttime the 22nd field; comm may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function alive(h: Holder): boolean {
  if (h.pid === process.pid) return false; // not held by us (see `held`): a previous life with our pid
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const start = processStart(h.pid);
  return h.start === undefined || start === undefined || start === h.start;
}

function readHolder(file: string): Holder | 'unreadable' | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  const m = /^(\d+)(?: (\d+))?\s*$/.exec(text);
  if (!m) return 'unreadable';
  return { pid: Number(m[1]), ...(m[2] !== undefined ? { start: Number(m[2]) } : {}) };
}

/**
 * Move a stale lock aside (atomic rename). If what was moved is not the lock judged stale (another
 * starter replaced it in between), put it back with an exclusive link and let the caller look again.
 */
function takeOverStale(file: string, judged: Holder | 'unreadable'): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = readHolder(aside);
  const same = judged === 'unreadable' ? moved === 'unreadable' : typeof moved === 'object' && moved.pid === judged.pid && moved.start === judged.start;
  try {
    if (!same) linkSync(aside, file);
  } catch {
    // A third starter holds the lock now: the caller sees it on its next attempt.
  }
  try {
    unlinkSync(aside);
  } catch {
    // Gone already.
  }
}

function refuse(dir: string, file: string, message: string, code: 'CE_CONFIG_DATA_DIR_LOCKED' | 'CE_CONFIG_DATA_DIR'): never {
  throw new ConfigError([{ file, path: '', code, message }], `refusing to start: data directory ${dir}`);
}

/** Take the lock of `dataDir` (created if missing), or throw a ConfigError naming the holder's pid. */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE);
  if (held.has(file)) refuse(dir, file, `another gateway in this process (pid ${process.pid}) already runs on this data directory`, 'CE_CONFIG_DATA_DIR_LOCKED');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    refuse(dir, dir, `cannot create the data directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'CE_CONFIG_DATA_DIR');
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') refuse(dir, file, `cannot create the lock file: ${code ?? (err as Error).message}`, 'CE_CONFIG_DATA_DIR');
      const holder = readHolder(file);
      if (holder === 'gone') continue;
      if (holder === 'unreadable') {
        let age = Infinity;
        try {
          age = Date.now() - statSync(file).mtimeMs;
        } catch {
          continue;
        }
        if (age < FRESH_MS) refuse(dir, file, 'another gateway is starting on this data directory (its lock file is being written)', 'CE_CONFIG_DATA_DIR_LOCKED');
      } else if (alive(holder)) {
        refuse(dir, file, `another gateway (pid ${holder.pid}) runs on this data directory; stop it, or give this one its own --data directory`, 'CE_CONFIG_DATA_DIR_LOCKED');
      }
      takeOverStale(file, holder);
      continue;
    }
    try {
      const start = processStart(process.pid);
      writeSync(fd, `${process.pid}${start === undefined ? '' : ` ${start}`}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    held.add(file);
    const release = () => {
      if (!held.delete(file)) return;
      process.removeListener('exit', release);
      const h = readHolder(file);
      if (typeof h === 'object' && h.pid === process.pid) {
        try {
          unlinkSync(file);
        } catch {
          // Already gone.
        }
      }
    };
    process.on('exit', release);
    return { file, release };
  }
  refuse(dir, file, 'cannot take the lock: it keeps changing hands', 'CE_CONFIG_DATA_DIR_LOCKED');
}
