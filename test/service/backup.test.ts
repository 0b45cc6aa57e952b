/**
 * `carbonedge backup` / `carbonedge restore` with the real CLI: a backup taken while the demo
 * gateway writes restores to a database with the same records (every table's rows as the
 * manifest counted them, every outbox record identical to the source's); restore refuses while a
 * gateway holds the data directory; the config and its profile directory come back byte for byte;
 * a damaged archive is refused and replaces nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../tools/cli/exit-codes.js';
import { assertBuilt, readChildStore } from '../uplink/child-gateway.js';
import { launch, until, type Launched } from './processes.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-backup-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const source = path.join(dir, 'live');
let gateway: Launched;

const outboxSize = () => {
  try {
    return readChildStore(source).outbox;
  } catch {
    return 0;
  }
};

beforeAll(async () => {
  assertBuilt();
  gateway = launch(process.execPath, [CLI, 'demo', '--port', '0', '--speed', '60', '--data', source]);
  await until(() => outboxSize() > 20, 'records in the outbox', gateway.output);
}, 180_000);

afterAll(async () => {
  gateway?.proc.kill('SIGKILL');
  await gateway?.exited;
  rmSync(dir, { recursive: true, force: true });
});

type Row = Record<string, unknown>;
const rows = (file: string, sql: string): Row[] => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as Row[];
  } finally {
    db.close();
  }
};

describe('backup and restore', () => {
  it('a backup under load restores to a database with the same records; restore refuses while the gateway runs', async () => {
    const archive = path.join(dir, 'under-load.ceb');
    const b = cli('backup', archive, '--data', source, '--json');
    expect(b.status, b.stderr).toBe(0);
    const manifest = JSON.parse(b.stdout) as { tables: Record<string, number> };
    expect(manifest.tables.outbox).toBeGreaterThan(20);

    const refused = cli('restore', archive, '--data', source);
    expect(refused.status).toBe(EXIT.locked);
    expect(refused.stderr).toMatch(/CE_CONFIG_DATA_DIR_LOCKED/);

    const target = path.join(dir, 'restored');
    const r = cli('restore', archive, '--data', target, '--json');
    expect(r.status, r.stderr).toBe(0);
    const db = path.join(target, 'carbonedge.db');
    const restored = new Database(db, { readonly: true });
    try {
      expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
      for (const [table, n] of Object.entries(manifest.tables)) expect(restored.prepare(`SELECT count(*) FROM "${table}"`).pluck().get(), table).toBe(n);
    } finally {
      restored.close();
    }
    // Stop the source, then every restored outbox record is the source's, byte for byte.
    gateway.proc.kill('SIGTERM');
    expect((await gateway.exited).code).toBe(0);
    const key = (x: Row) => `${String(x.stream)}/${String(x.seq)}`;
    const live = new Map(rows(path.join(source, 'carbonedge.db'), 'SELECT * FROM outbox').map((x) => [key(x), x]));
    const back = rows(db, 'SELECT * FROM outbox');
    expect(back.length).toBe(manifest.tables.outbox);
    for (const x of back) expect(live.get(key(x)), key(x)).toEqual(x);
    expect(existsSync(path.join(target, 'carbonedge.lock')), 'restore released its lock').toBe(false);
  }, 180_000);

  it('config and profile directory come back byte for byte; a damaged archive is refused and replaces nothing', () => {
    const site = path.join(dir, 'site');
    mkdirSync(path.join(site, 'profiles', 'vendor'), { recursive: true });
    const printed = cli('demo', '--print-config');
    writeFileSync(path.join(site, 'site.yaml'), `${printed.stdout}\nprofileDirs: [profiles]\n`);
    writeFileSync(path.join(site, 'profiles', 'vendor', 'meter.yaml'), 'id: my-meter\n');
    const archive = path.join(dir, 'with-config.ceb');
    const b = cli('backup', archive, '--config', path.join(site, 'site.yaml'), '--data', path.join(dir, 'restored'));
    expect(b.status, b.stderr).toBe(0);

    const conf = path.join(dir, 'conf-back');
    const r = cli('restore', archive, '--data', path.join(dir, 'restored-2'), '--config-dir', conf);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(conf, 'site.yaml'))).toEqual(readFileSync(path.join(site, 'site.yaml')));
    expect(readFileSync(path.join(conf, 'profiles', 'vendor', 'meter.yaml'), 'utf8')).toBe('id: my-meter\n');

    // One byte of the database (the first file, after the two header lines) changed: its SHA-256 no longer matches.
    const raw = gunzipSync(readFileSync(archive));
    const at = raw.indexOf(10, raw.indexOf(10) + 1) + 5000;
    raw[at] = raw[at]! ^ 0xff;
    const damaged = path.join(dir, 'damaged.ceb');
    writeFileSync(damaged, gzipSync(raw));
    const before = readFileSync(path.join(dir, 'restored-2', 'carbonedge.db'));
    const bad = cli('restore', damaged, '--data', path.join(dir, 'restored-2'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/SHA-256/);
    expect(readFileSync(path.join(dir, 'restored-2', 'carbonedge.db')).equals(before)).toBe(true);
  }, 60_000);
});
