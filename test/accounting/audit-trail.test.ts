/**
 * Audit trail (issue 13): quarter records keep their meters and absolute start/end readings, are
 * hash-chained, and `carbonedge verify` detects a changed record and a removed one, and a record
 * whose readings do not give its energy; accounting records are never deleted by retention.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../runtime/types.js';
import { canonicalJson, GENESIS_HASH, recordHash } from '../../runtime/accounting/audit.js';
import { verifyStore } from '../../runtime/accounting/verify.js';
import { DAY0, demoConfig, makeEngine, tmpDb } from './helpers.js';

const QUARTER_MS = 900_000;

/** Four quarter-hours of a grid meter, 30 s samples, +0.1 kWh each (12 kWh per hour). */
function store() {
  const { db, file } = tmpDb();
  const config = demoConfig();
  config.devices = config.devices.filter((d) => d.id === 'grid');
  const engine = makeEngine(db, { config });
  engine.begin(DAY0);
  for (let i = 0; i <= 4 * 30; i++) {
    const r: Reading = { device: 'grid', point: 'energy_import', canonical: 'energy_import', unit: 'kWh', value: 1000 + i * 0.1, quality: 'good', ts: DAY0 + i * 30_000, source: 't' };
    engine.ingest([r]);
  }
  engine.advance(DAY0 + 4 * QUARTER_MS + 60_000);
  return { db, file };
}
const rows = (db: ReturnType<typeof store>['db']) => db.prepare('SELECT start_ms, hash, prev_hash, record FROM acct_quarter ORDER BY start_ms').all() as { start_ms: number; hash: string; prev_hash: string; record: string }[];
const cli = (...args: string[]) => spawnSync(process.execPath, [path.resolve('tools/carbonedge.js'), 'verify', ...args], { encoding: 'utf8' });

describe('quarter records: meters, absolute readings, hash chain', () => {
  it("each record keeps its meter and start/end readings, and the previous record's hash", () => {
    const { db } = store();
    const rs = rows(db);
    expect(rs).toHaveLength(4);
    const first = JSON.parse(rs[0]!.record) as Record<string, any>;
    // Quarter 0: readings 1000.0 at DAY0 .. 1003.0 at DAY0 + 900 s (the sample on the boundary closes it).
    expect(first.audit.meters).toEqual([{ device: 'grid', point: 'energy_import', flow: 'grid_import', start: 1000, startTs: DAY0, end: 1003, endTs: DAY0 + QUARTER_MS, booked: 3000 }]);
    expect(first.energy_Wh.grid_import).toBe(3000);
    expect(first.audit.prevHash).toBe(GENESIS_HASH);
    for (let i = 0; i < rs.length; i++) {
      const rec = JSON.parse(rs[i]!.record);
      expect(rs[i]!.hash).toBe(recordHash(rec));
      expect(rec.audit.prevHash).toBe(i ? rs[i - 1]!.hash : GENESIS_HASH);
      expect(rs[i]!.prev_hash).toBe(rec.audit.prevHash);
    }
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
    expect(verifyStore(db)).toMatchObject({ ok: true, quarters: 4, changed: [], removed: [], recompute: [] });
  });
  it('verify detects a changed record (exit 1, CHANGED)', () => {
    const { db, file } = store();
    const r = rows(db)[1]!;
    const rec = JSON.parse(r.record);
    rec.co2_g.total_market = '1';
    db.prepare('UPDATE acct_quarter SET record = ? WHERE start_ms = ?').run(JSON.stringify(rec), r.start_ms);
    expect(verifyStore(db).changed).toEqual([new Date(r.start_ms).toISOString()]);
    db.close();
    const out = cli('--db', file);
    expect(out.status).toBe(1);
    expect(out.stdout).toMatch(/CHANGED {2}2024-05-31T16:15:00.000Z: the record no longer matches its hash[\s\S]*FAILED/);
  });
  it('verify detects a removed record (the next one points to it)', () => {
    const { db, file } = store();
    const rs = rows(db);
    db.prepare('DELETE FROM acct_quarter WHERE start_ms = ?').run(rs[2]!.start_ms);
    const v = verifyStore(db);
    expect(v.ok).toBe(false);
    expect(v.changed).toEqual([]);
    expect(v.removed).toEqual([{ before: new Date(rs[3]!.start_ms).toISOString(), expectedPrev: rs[1]!.hash, found: rs[2]!.hash }]);
    db.close();
    expect(cli('--db', file, '--json').status).toBe(1);
    expect(cli('--db', file, '--period', '2024-05-31T16:00:00Z..2024-05-31T16:30:00Z').status).toBe(0); // the intact part
  });
  it('a record re-hashed after an edit (a forger who recomputes the hash) still fails: the chain and the readings', () => {
    const { db } = store();
    const rs = rows(db);
    const rec = JSON.parse(rs[1]!.record);
    rec.energy_Wh.grid_import = 2000;
    rec.devices.grid.grid_import = 2000;
    db.prepare('UPDATE acct_quarter SET record = ?, hash = ? WHERE start_ms = ?').run(JSON.stringify(rec), recordHash(rec), rs[1]!.start_ms);
    const v = verifyStore(db);
    expect(v.removed.map((x) => x.before)).toEqual([new Date(rs[2]!.start_ms).toISOString()]); // the next record still points to the original
    expect(v.recompute).toEqual([`${new Date(rs[1]!.start_ms).toISOString()} grid/energy_import`]); // 3 kWh of readings, 2 kWh booked
  });
  it('recomputes against the raw readings still in the store', () => {
    const { db } = store();
    db.exec("CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, device TEXT NOT NULL, point TEXT NOT NULL, canonical TEXT, unit TEXT, UNIQUE (device, point)); CREATE TABLE IF NOT EXISTS readings_raw (ts INTEGER NOT NULL, point_id INTEGER NOT NULL, value REAL, text TEXT, quality INTEGER NOT NULL); INSERT INTO points (id, device, point, canonical, unit) VALUES (1, 'grid', 'energy_import', 'energy_import', 'kWh')");
    db.prepare('INSERT INTO readings_raw (ts, point_id, value, quality) VALUES (?, 1, ?, 0)').run(DAY0, 1000);
    db.prepare('INSERT INTO readings_raw (ts, point_id, value, quality) VALUES (?, 1, ?, 0)').run(DAY0 + QUARTER_MS, 1003);
    expect(verifyStore(db).ok).toBe(true);
    db.prepare('UPDATE readings_raw SET value = 1003.5 WHERE ts = ?').run(DAY0 + QUARTER_MS);
    expect(verifyStore(db).recompute).toEqual(['2024-05-31T16:00:00.000Z grid/energy_import', '2024-05-31T16:15:00.000Z grid/energy_import']);
  });
});

describe('retention', () => {
  it('no runtime code deletes accounting records (acct_quarter, acct_day, acct_window): kept regardless of raw-reading retention', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk('runtime');
    const offenders = files.filter((f) => /(DELETE\s+FROM|DROP\s+TABLE)\s+acct_(quarter|day|window)\b/i.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
