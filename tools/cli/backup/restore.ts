/**
 * `carbonedge restore`: put a backup archive (archive.ts) back. Refuses while a gateway holds
 * the data directory's lock (it holds the lock itself while restoring). The database is checked
 * (integrity_check, and every table's row count against the manifest) before anything is
 * replaced; the files it replaces are moved aside with a `.before-restore-<time>` suffix, the new
 * ones put in place temp -> fsync -> rename.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir } from '../../../runtime/config/data-dir-lock.js';
import { DB_FILE_NAME } from '../../../runtime/persistence/database.js';
import { readArchive } from './archive.js';
import { tableCounts, type BackupManifest } from './backup.js';
import { fsyncPath, installFile } from './durable.js';

export interface RestoreResult {
  manifest: BackupManifest;
  dataDir: string;
  /** Files put in place (absolute). */
  restored: string[];
  /** Files moved aside (absolute). */
  movedAside: string[];
}

function checkDatabase(file: string, manifest: BackupManifest): void {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const ok = db.pragma('integrity_check', { simple: true });
    if (ok !== 'ok') throw new Error(`backup archive: the database fails integrity_check (${String(ok)})`);
    const expected = manifest.tables;
    if (expected && JSON.stringify(tableCounts(db)) !== JSON.stringify(expected)) throw new Error('backup archive: the database rows do not match the manifest');
  } finally {
    db.close();
  }
}

export async function restore(archive: string, opts: { dataDir?: string; configDir?: string; noConfig?: boolean }): Promise<RestoreResult> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = (file: string, moved: string[]) => {
    if (!existsSync(file)) return;
    const to = `${file}.before-restore-${stamp}`;
    renameSync(file, to);
    moved.push(to);
  };
  // The lock refuses while a gateway runs on the data directory (--data, else the archive's).
  let lock = opts.dataDir ? lockDataDir(opts.dataDir) : undefined;
  const work = mkdtempSync(path.join(opts.dataDir ?? os.tmpdir(), '.carbonedge-restore-'));
  const restored: string[] = [];
  const movedAside: string[] = [];
  try {
    // The one place the archive's JSON becomes typed: written by backup() as a BackupManifest.
    const manifest = (await readArchive(archive, work)) as BackupManifest;
    const dataDir = path.resolve(opts.dataDir ?? manifest.dataDir);
    lock ??= lockDataDir(dataDir);
    const extracted = path.join(work, DB_FILE_NAME);
    checkDatabase(extracted, manifest);
    const target = path.join(dataDir, DB_FILE_NAME);
    fsyncPath(extracted);
    for (const f of [target, `${target}-wal`, `${target}-shm`]) aside(f, movedAside);
    installFile(extracted, target);
    restored.push(target);
    const { config } = manifest;
    if (config && !opts.noConfig) {
      const configDir = path.resolve(opts.configDir ?? config.dir);
      const dirs = manifest.profileDirs ?? [];
      for (const entry of manifest.files) {
        let dest: string | undefined;
        if (entry.name.startsWith('config/')) dest = path.join(configDir, entry.name.slice('config/'.length));
        else {
          const d = dirs.find((p) => entry.name.startsWith(`${p.archived}/`));
          if (d) dest = path.join(opts.configDir ? path.join(configDir, d.archived) : d.original, entry.name.slice(d.archived.length + 1));
        }
        if (!dest) continue;
        mkdirSync(path.dirname(dest), { recursive: true });
        const src = path.join(work, entry.name);
        if (existsSync(dest) && readFileSync(dest).equals(readFileSync(src))) continue;
        aside(dest, movedAside);
        installFile(src, dest);
        restored.push(dest);
      }
    }
    return { manifest, dataDir, restored, movedAside };
  } finally {
    lock?.release();
    rmSync(work, { recursive: true, force: true });
  }
}
