/** Files that must survive a power cut: temp -> fsync -> rename -> fsync of the directory. */
import { closeSync, copyFileSync, fsyncSync, openSync, renameSync } from 'node:fs';
import path from 'node:path';

export function fsyncPath(p: string, flags = 'r'): void {
  const fd = openSync(p, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Put a copy of `src` at `dest` atomically: a reader sees the old file or the whole new one. */
export function installFile(src: string, dest: string): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  copyFileSync(src, tmp);
  fsyncPath(tmp);
  renameSync(tmp, dest);
  fsyncPath(path.dirname(dest));
}
