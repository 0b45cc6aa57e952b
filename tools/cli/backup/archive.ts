/**
 * The backup archive: one gzip file holding
 *
 *   line 1   `carbonedge-backup 1`                       (magic and format version)
 *   line 2   the manifest, one line of JSON: { created, gateway, files: [{ name, size, sha256 }], ... }
 *   then     the files' bytes, concatenated in manifest order (sizes from the manifest)
 *
 * A small documented container instead of tar: no dependency, names are plain relative paths
 * (checked on read: no `..`, no absolute path), and every file carries its SHA-256. Written and
 * read as streams (a database of hundreds of MB never sits in memory).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';

export const MAGIC = 'carbonedge-backup 1';

export interface ArchiveEntry {
  /** Relative path inside the archive (`carbonedge.db`, `config/site.yaml`, ...). */
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  created: string;
  files: ArchiveEntry[];
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** An archive name must stay inside the directory it is extracted to. */
export function safeName(name: string): string {
  const norm = path.posix.normalize(name);
  if (!name || path.posix.isAbsolute(norm) || norm.startsWith('../') || norm === '..' || norm.includes('\0')) throw new Error(`unsafe name in backup archive: '${name}'`);
  return norm;
}

/** Write `sources` (archive name -> file on disk) with `meta` into `out` (gzip). */
export async function writeArchive<M extends object>(out: string, sources: Map<string, string>, meta: M): Promise<M & Manifest> {
  const files: ArchiveEntry[] = [];
  for (const [name, file] of sources) files.push({ name: safeName(name), size: statSync(file).size, sha256: await sha256File(file) });
  const manifest: M & Manifest = { ...meta, created: new Date().toISOString(), files };
  const parts = [...sources.values()];
  async function* body() {
    yield Buffer.from(`${MAGIC}\n${JSON.stringify(manifest)}\n`);
    for (const file of parts) for await (const chunk of createReadStream(file)) yield chunk as Buffer;
  }
  await pipeline(body, createGzip(), createWriteStream(out, { flags: 'wx' }));
  return manifest;
}

/**
 * Extract `archive` into `dir` (created); every file's size and SHA-256 checked against the
 * manifest. Returns the manifest. Throws on a wrong magic, a bad name, a short or corrupt file.
 */
export async function readArchive(archive: string, dir: string): Promise<Manifest> {
  let head = Buffer.alloc(0);
  let manifest: Manifest | undefined;
  let index = 0;
  let left = 0;
  let current: { fd: ReturnType<typeof createWriteStream>; hash: ReturnType<typeof createHash>; entry: ArchiveEntry } | undefined;
  const open = () => {
    while (manifest && index < manifest.files.length && !current) {
      const entry = manifest.files[index]!;
      const target = path.join(dir, safeName(entry.name));
      mkdirSync(path.dirname(target), { recursive: true });
      current = { fd: createWriteStream(target), hash: createHash('sha256'), entry };
      left = entry.size;
      if (left === 0) close();
    }
  };
  const closing: Promise<void>[] = [];
  const close = () => {
    const c = current!;
    current = undefined;
    index++;
    if (c.hash.digest('hex') !== c.entry.sha256) throw new Error(`backup archive: ${c.entry.name} does not match its SHA-256 (corrupt archive)`);
    closing.push(new Promise((resolve, reject) => c.fd.end((err?: Error | null) => (err ? reject(err) : resolve()))));
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        let buf = chunk;
        if (!manifest) {
          head = Buffer.concat([head, buf]);
          const first = head.indexOf(10);
          const second = first >= 0 ? head.indexOf(10, first + 1) : -1;
          if (second < 0) {
            if (head.length > 1 << 20) throw new Error('backup archive: no manifest');
            return cb();
          }
          if (head.subarray(0, first).toString() !== MAGIC) throw new Error(`backup archive: not a carbonedge backup (expected '${MAGIC}')`);
          manifest = JSON.parse(head.subarray(first + 1, second).toString()) as Manifest;
          if (!Array.isArray(manifest.files)) throw new Error('backup archive: manifest without files');
          buf = head.subarray(second + 1);
          open();
        }
        while (buf.length) {
          if (!current) throw new Error('backup archive: data after the last file');
          const n = Math.min(left, buf.length);
          const part = buf.subarray(0, n);
          current.hash.update(part);
          current.fd.write(part);
          left -= n;
          buf = buf.subarray(n);
          if (left === 0) {
            close();
            open();
          }
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  mkdirSync(dir, { recursive: true });
  await pipeline(createReadStream(archive), createGunzip(), sink);
  await Promise.all(closing);
  if (!manifest) throw new Error('backup archive: no manifest');
  if (index < manifest.files.length) throw new Error(`backup archive: truncated (${manifest.files[index]!.name} incomplete)`);
  return manifest;
}
