/**
 * Reading a config, profile or rule file safely: only a regular file (a FIFO would hang the
 * reader, a symlink to /dev/zero would fill memory), and only up to a size limit.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { ConfigIssue } from './errors.js';

/** Largest site config or rule file read (a large real site is ~100 KB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Largest device profile read (the biggest shipped one is ~10 KB). */
export const MAX_PROFILE_BYTES = 1024 * 1024;

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB`;

/**
 * The text of `file`, or an issue saying why it was not read (`what`: e.g. 'the configuration
 * file'). Opened non-blocking so a FIFO never blocks; checked on the open descriptor (no race
 * between the check and the read); never reads more than `maxBytes` + 1 bytes.
 */
export function readTextFile(file: string, what: string, maxBytes: number): { text: string } | { issue: ConfigIssue } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { issue: { file, path: '', code: 'CE_CONFIG_READ', message: `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` } };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : 'not a file';
      return { issue: { file, path: '', code: 'CE_CONFIG_NOT_REGULAR_FILE', message: `cannot read ${what}: expected a regular file, got ${kind}` } };
    }
    const tooLarge = (size?: string): { issue: ConfigIssue } => ({
      issue: { file, path: '', code: 'CE_CONFIG_FILE_TOO_LARGE', message: `${what} is ${size ? `${size}, more` : 'larger'} than the limit of ${MiB(maxBytes)}` },
    });
    if (st.size > maxBytes) return tooLarge(MiB(st.size));
    // The file may grow between fstat and read (being written): read in chunks, stop past the limit.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const r = readSync(fd, chunk, 0, chunk.length, null);
      if (r === 0) break;
      chunks.push(chunk.subarray(0, r));
      total += r;
      if (total > maxBytes) return tooLarge();
    }
    return { text: Buffer.concat(chunks, total).toString('utf8') };
  } catch (err) {
    return { issue: { file, path: '', code: 'CE_CONFIG_READ', message: `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` } };
  } finally {
    closeSync(fd);
  }
}
