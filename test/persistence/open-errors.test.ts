/**
 * Only real corruption is corruption: what openDatabase() moves aside, what it refuses (with a
 * CE_STORE_ code, file left alone), and the store epoch every new database gets.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, StoreOpenError } from '../../runtime/persistence/database.js';
import { classifyOpenError } from '../../runtime/persistence/open-errors.js';
import { STORE_MIGRATIONS } from '../../runtime/store/migrations.js';
import { Store } from '../../runtime/store/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-open-'));
  dirs.push(d);
  return d;
}
const open = (file: string) => openDatabase({ file, migrations: [STORE_MIGRATIONS] });
const aside = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.corrupt-'));

function refusal(fn: () => unknown): StoreOpenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreOpenError);
    return err as StoreOpenError;
  }
  throw new Error('expected a StoreOpenError');
}

describe('openDatabase: corruption vs. other open errors', () => {
  it('classifies SQLite and file-system errors: only CORRUPT / NOTADB / a failed check is corruption', () => {
    const e = (code: string) => Object.assign(new Error(code), { code });
    expect(classifyOpenError(e('SQLITE_CORRUPT'), 'open')).toMatchObject({ corrupt: true });
    expect(classifyOpenError(e('SQLITE_NOTADB'), 'open')).toMatchObject({ corrupt: true });
    expect(classifyOpenError(e('SQLITE_CORRUPT'), 'migrate')).toMatchObject({ corrupt: true });
    expect(classifyOpenError(e('SQLITE_FULL'), 'open')).toMatchObject({ corrupt: false, code: 'CE_STORE_DISK_FULL' });
    expect(classifyOpenError(e('SQLITE_IOERR_WRITE'), 'migrate')).toMatchObject({ corrupt: false, code: 'CE_STORE_IO' });
    expect(classifyOpenError(e('SQLITE_READONLY'), 'open')).toMatchObject({ corrupt: false, code: 'CE_STORE_READ_ONLY' });
    expect(classifyOpenError(e('SQLITE_CANTOPEN'), 'open')).toMatchObject({ corrupt: false, code: 'CE_STORE_CANNOT_OPEN' });
    expect(classifyOpenError(e('EACCES'), 'open')).toMatchObject({ corrupt: false, code: 'CE_STORE_PERMISSION' });
    expect(classifyOpenError(e('SQLITE_BUSY'), 'open')).toMatchObject({ corrupt: false, code: 'CE_STORE_BUSY' });
    expect(classifyOpenError(new Error('no such column'), 'migrate')).toMatchObject({ corrupt: false, code: 'CE_STORE_MIGRATION' });
  });

  it('a healthy database with a hot WAL held by another process is refused (CE_STORE_BUSY), never moved aside', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'carbonedge.db');
    open(file).close();
    // Another process writing with an exclusive lock: its WAL is hot, its lock held.
    const other = new Database(file);
    other.pragma('locking_mode = EXCLUSIVE');
    other.exec('CREATE TABLE other_writer (x); INSERT INTO other_writer VALUES (1)');
    try {
      const err = refusal(() => open(file));
      expect(err.code).toBe('CE_STORE_BUSY');
      expect(err.message).toContain(file);
      expect(aside(dir)).toEqual([]);
    } finally {
      other.close();
    }
    // Once the other process is gone, the same file opens with its data.
    const p = open(file);
    expect(p.corruption).toBeUndefined();
    expect(p.db.prepare('SELECT count(*) FROM other_writer').pluck().get()).toBe(1);
    p.close();
  });

  it('a hot WAL left by a crash is recovered, not taken for corruption', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'carbonedge.db');
    const crashed = path.join(tmpDir(), 'carbonedge.db');
    const p = open(file);
    p.db.pragma('wal_autocheckpoint = 0');
    p.db.exec("CREATE TABLE in_wal (x); INSERT INTO in_wal VALUES ('committed')");
    // Copy the files as a power cut leaves them: committed data only in the -wal.
    for (const s of ['', '-wal']) fs.copyFileSync(file + s, crashed + s);
    expect(fs.statSync(`${crashed}-wal`).size).toBeGreaterThan(0);
    p.close();
    const q = open(crashed);
    expect(q.corruption).toBeUndefined();
    expect(q.db.prepare('SELECT x FROM in_wal').pluck().get()).toBe('committed');
    expect(aside(path.dirname(crashed))).toEqual([]);
    q.close();
  });

  it('a migration failing on a sound database is refused (CE_STORE_MIGRATION), not moved aside', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'carbonedge.db');
    open(file).close();
    const bad = [{ id: 'test/1', owner: 'test', description: 'broken', sql: 'ALTER TABLE no_such_table ADD COLUMN x' }];
    const err = refusal(() => openDatabase({ file, migrations: [STORE_MIGRATIONS, bad] }));
    expect(err.code).toBe('CE_STORE_MIGRATION');
    expect(aside(dir)).toEqual([]);
  });

  it('a corrupt file is still moved aside, and the fresh database gets a new store epoch', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'carbonedge.db');
    const first = open(file);
    const epoch = first.epoch;
    first.close();
    fs.writeFileSync(file, 'this is not sqlite'.repeat(1000));
    fs.rmSync(`${file}-wal`, { force: true });
    const p = open(file);
    expect(p.corruption).toBeDefined();
    expect(aside(dir).length).toBeGreaterThan(0);
    expect(p.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(p.epoch).not.toBe(epoch);
    p.close();
  });
});

describe('store epoch and the zero-length file', () => {
  it('a zero-length database file is reported (zeroLength, in store-stats) and starts a new epoch: ids never reused', () => {
    const dir = tmpDir();
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', config: { statsIntervalMs: 0 } });
    const oldEpoch = store.persistence.epoch!;
    store.outbox.enqueue('decision', { n: 1 });
    const oldId = (JSON.parse(store.outbox.readOutbox('decision', 0, 1)[0]!.payload) as { id: string }).id;
    expect(oldId).toBe(`gw/decision/${oldEpoch}-1`);
    store.close();
    const file = path.join(dir, 'carbonedge.db');
    for (const s of ['-wal', '-shm']) fs.rmSync(file + s, { force: true });
    fs.truncateSync(file, 0);
    store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', config: { statsIntervalMs: 0 } });
    try {
      expect(store.persistence.zeroLength).toMatchObject({ reason: expect.stringMatching(/zero-length/) });
      expect(store.stats().zeroLength).toBeDefined();
      const stats = store.outbox.readOutbox('store-stats', 0, 10).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
      expect(stats).toHaveLength(1);
      expect(stats[0]!.zeroLength).toMatchObject({ reason: expect.stringMatching(/zero-length/) });
      // New epoch: seq 1 again, but a different id.
      expect(store.persistence.epoch).toMatch(/^[0-9a-f]{12}$/);
      expect(store.persistence.epoch).not.toBe(oldEpoch);
      expect(store.outbox.enqueue('decision', { n: 2 }).seq).toBe(1);
      const newId = (JSON.parse(store.outbox.readOutbox('decision', 0, 1)[0]!.payload) as { id: string }).id;
      expect(newId).toBe(`gw/decision/${store.persistence.epoch}-1`);
      expect(newId).not.toBe(oldId);
      // New-file settings apply to it too (it was empty).
      expect(store.db.pragma('page_size', { simple: true })).toBe(8192);
    } finally {
      store.close();
    }
  });
});
