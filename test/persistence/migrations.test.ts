/**
 * The one migration list: a fresh database gets every part's tables; a database written by the
 * code before runtime/persistence (fixture from commit 690980b, see test/fixtures/make-legacy-db.mjs)
 * migrates in place without re-running anything and keeps its data; a failing migration rolls back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DecisionLogRepository } from '../../runtime/control/decision-log.js';
import { SqliteOverrides } from '../../runtime/control/overrides.js';
import { openDatabase, type Persistence } from '../../runtime/persistence/database.js';
import { MIGRATIONS_TABLE, runMigrations, type Migration } from '../../runtime/persistence/migrations.js';
import { SITE_MIGRATIONS } from '../../tools/cli/site-database.js';
import { Store } from '../../runtime/store/store.js';

const dirs: string[] = [];
const open: Persistence[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-migrations-'));
  dirs.push(d);
  return d;
}
function legacyDb(): string {
  const file = path.join(tmp(), 'carbonedge.db');
  fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(new URL('../fixtures/legacy-690980b.db.gz', import.meta.url))));
  return file;
}
function openSite(file: string): Persistence {
  const p = openDatabase({ file, migrations: SITE_MIGRATIONS, quarantine: false });
  open.push(p);
  return p;
}
const applied = (p: Persistence) =>
  p.db.prepare(`SELECT id, adopted FROM ${MIGRATIONS_TABLE} ORDER BY rowid`).all() as { id: string; adopted: number }[];
const ALL_IDS = SITE_MIGRATIONS.flat().map((m) => m.id);

describe('persistence: one ordered migration list', () => {
  it('a fresh database runs every migration once, in list order, and records it', () => {
    const p = openSite(path.join(tmp(), 'carbonedge.db'));
    expect(applied(p)).toEqual(ALL_IDS.map((id) => ({ id, adopted: 0 })));
    expect(ALL_IDS).toEqual(['store/1', 'accounting/1', 'accounting/2', 'accounting/3', 'accounting/4', 'control/decisions/1', 'control/overrides/1']);
    const tables = p.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['points', 'outbox', 'outbox_seq', 'acct_quarter', 'acct_instrument', 'rules_decisions', 'rules_overrides']));
    // The old bookkeeping is written too, so an older carbonedge does not re-run (and fail on) them.
    expect(p.db.prepare('SELECT version FROM schema_migrations').pluck().all()).toEqual([1]);
    expect(p.db.prepare("SELECT value FROM acct_meta WHERE key = 'schema_version'").pluck().get()).toBe('1');
    // Opening again applies nothing.
    expect(runMigrations(p.db, SITE_MIGRATIONS)).toEqual({ ran: [], adopted: [] });
  });

  it('a database written by the code before this module (690980b) migrates in place: nothing re-run, data kept', () => {
    const file = legacyDb();
    const p = openSite(file);
    // Migrations added after that code (accounting/2: acct_offset, accounting/3: acct_meter_change) run; the older ones are adopted.
    const LATER = new Set(['accounting/2', 'accounting/3', 'accounting/4']);
    expect(applied(p)).toEqual(ALL_IDS.map((id) => ({ id, adopted: LATER.has(id) ? 0 : 1 })));
    // Every part's data is still there and readable through the new repositories.
    expect(new DecisionLogRepository(p).read()).toMatchObject([{ rule: 'r1', reason: 'legacy', status: 'verified', value: true }]);
    expect(new SqliteOverrides(p).list(Date.UTC(2026, 0, 5))).toMatchObject([{ output: 'load.relay', value: false, by: 'fixture' }]);
    expect(p.db.prepare("SELECT value FROM acct_state WHERE key = 'engine'").pluck().get()).toBe('{"legacy":true}');
    p.close();
    open.length = 0;

    // The store continues its sequences and its open buckets from the old file.
    const clock = { now: () => Date.UTC(2026, 0, 5, 10, 30) };
    const store = new Store({ dataDir: path.dirname(file), siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    try {
      expect(store.outbox.lastSeq('readings-1m')).toBe(2);
      expect(store.outbox.lastSeq('carbon-15m')).toBe(1);
      expect(store.outbox.enqueue('carbon-15m', { ts: 1 }).seq).toBe(2);
      // A database from before store epochs keeps its legacy ids (no epoch): the sequences go on.
      expect(store.persistence.epoch).toBeUndefined();
      expect(JSON.parse(store.outbox.readOutbox('carbon-15m', 1, 10)[0]!.payload)).toMatchObject({ id: 'gw/carbon-15m/2', seq: 2 });
      expect(store.outbox.readOutbox('decision', 0, 10).map((r) => JSON.parse(r.payload))).toMatchObject([{ id: 'gw/decision/1', rule: 'r1' }]);
      // The quarter hour 10:00-10:15 was open in the old file: rebuilt and closed now, with the counter delta.
      store.flush();
      const q = store.outbox.readOutbox('readings-15m', 0, 10).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
      expect(q.map((r) => r.point).sort()).toEqual(['active_power', 'energy_import']);
      expect(q.find((r) => r.point === 'energy_import')).toMatchObject({ count: 6, delta: expect.closeTo(0.05, 9) });
    } finally {
      store.close();
    }
  });

  it('a failing migration rolls back and is not recorded; earlier ones stay', () => {
    const p = openDatabase({ file: ':memory:', migrations: [] });
    open.push(p);
    const ms: Migration[] = [
      { id: 't/1', owner: 't', description: 'ok', sql: 'CREATE TABLE a (x)' },
      { id: 't/2', owner: 't', description: 'fails half way', sql: 'CREATE TABLE b (x); CREATE TABLE a (x)' },
    ];
    expect(() => runMigrations(p.db, [ms])).toThrow(/table a already exists/);
    expect(p.db.prepare(`SELECT id FROM ${MIGRATIONS_TABLE}`).pluck().all()).toEqual(['t/1']);
    expect(p.db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    expect(() => runMigrations(p.db, [[ms[0]!], [ms[0]!]])).toThrow(/duplicate migration id 't\/1'/);
  });
});
