/**
 * Files that must survive a power cut: written to a temporary file beside the target, fsynced,
 * renamed over the target, and the directory fsynced, so a reader (or the next boot) finds either
 * the old content or the new one, never a torn file.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface AtomicWriteHooks {
  /** Runs after the temporary file is durable and before the rename (tests kill the process here). */
  beforeRename?: (tempFile: string) => void;
}

export function writeFileAtomic(file: string, data: string | Buffer, hooks: AtomicWriteHooks = {}): void {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  const fd = openSync(temp, 'w', 0o640);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  hooks.beforeRename?.(temp);
  renameSync(temp, file);
  fsyncDir(dir);
}

/** Make a rename or unlink in `dir` durable (a no-op where directories cannot be opened). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* some filesystems refuse fsync on directories: the rename is still atomic */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
