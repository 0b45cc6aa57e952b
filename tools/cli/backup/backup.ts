/**
 * `carbonedge backup`: a consistent copy of the site database taken while the gateway runs
 * (SQLite's online backup API through better-sqlite3's db.backup(), all pages in one step, so
 * the copy is one snapshot even while the gateway writes), plus the site config and its profile
 * directories, into one archive (archive.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'yaml';
import { DB_FILE_NAME } from '../../../runtime/persistence/database.js';
import { writeArchive, type Manifest } from './archive.js';

export interface SiteFiles {
  /** The config file, when given. */
  config?: string;
  /** gateway.dataDir from the config (not validated: a backup must work with a broken config). */
  dataDir?: string;
  /** Profile directories of the config, absolute. */
  profileDirs: string[];
}

/** What a backup needs from a config file, read without validating it. */
export function siteFiles(config: string | undefined): SiteFiles {
  if (!config) return { profileDirs: [] };
  const doc: unknown = parse(readFileSync(config, 'utf8'));
  const obj = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  const gateway = typeof obj.gateway === 'object' && obj.gateway !== null ? (obj.gateway as Record<string, unknown>) : {};
  const base = path.dirname(path.resolve(config));
  const dirs = Array.isArray(obj.profileDirs) ? obj.profileDirs.filter((d): d is string => typeof d === 'string') : [];
  return {
    config: path.resolve(config),
    dataDir: typeof gateway.dataDir === 'string' ? path.resolve(base, gateway.dataDir) : undefined,
    profileDirs: dirs.map((d) => path.resolve(base, d)),
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** Row counts per table of a database (the manifest records them; restore checks them). */
export function tableCounts(db: Database.Database): Record<string, number> {
  const counts: Record<string, number> = {};
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  for (const t of names) counts[t] = db.prepare(`SELECT count(*) FROM "${t.replace(/"/g, '""')}"`).pluck().get() as number;
  return counts;
}

/** The manifest of a carbonedge backup. */
export interface BackupManifest extends Manifest {
  version: string;
  dataDir: string;
  config?: { file: string; dir: string };
  profileDirs: { archived: string; original: string }[];
  /** Row counts per table of the database copy. */
  tables: Record<string, number>;
}

export async function backup(out: string, opts: { dataDir: string; site: SiteFiles; version: string }): Promise<BackupManifest> {
  const source = path.join(opts.dataDir, DB_FILE_NAME);
  statSync(source); // ENOENT names the file
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'carbonedge-backup-'));
  try {
    const copy = path.join(tmp, DB_FILE_NAME);
    const db = new Database(source, { readonly: true, fileMustExist: true });
    try {
      // After the first (empty) step, copy every remaining page in one step: one read transaction.
      await db.backup(copy, { progress: () => 0x7fffffff });
    } finally {
      db.close();
    }
    const snap = new Database(copy);
    let counts: Record<string, number>;
    try {
      snap.pragma('journal_mode = DELETE'); // one self-contained file
      counts = tableCounts(snap);
    } finally {
      snap.close();
    }
    const sources = new Map<string, string>([[DB_FILE_NAME, copy]]);
    const { config } = opts.site;
    const configDir = config ? path.dirname(config) : undefined;
    const profileDirs: { archived: string; original: string }[] = [];
    if (config && configDir) {
      sources.set(`config/${path.basename(config)}`, config);
      opts.site.profileDirs.forEach((dir, i) => {
        const rel = path.relative(configDir, dir);
        const archived = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `config/${rel}` : `profiles-${i}`;
        profileDirs.push({ archived, original: dir });
        for (const f of filesUnder(dir)) sources.set(`${archived}/${path.relative(dir, f)}`, f);
      });
    }
    const meta: Omit<BackupManifest, 'created' | 'files'> = {
      version: opts.version,
      dataDir: opts.dataDir,
      ...(config && configDir ? { config: { file: path.basename(config), dir: configDir } } : {}),
      profileDirs,
      tables: counts,
    };
    return await writeArchive(out, sources, meta);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
