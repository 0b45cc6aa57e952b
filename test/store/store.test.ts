import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../runtime/store/store.js';
import type { Reading } from '../../runtime/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ce-store-'));
}
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function clockAt(t: number) {
  const c = { t, now: () => c.t };
  return c;
}

function reading(device: string, point: string, value: number | null, ts: number, extra: Partial<Reading> = {}): Reading {
  return { device, point, value, ts, quality: value === null ? 'comm-error' : 'good', source: 'test', ...extra };
}

function outboxRecords(store: Store, stream: string): Record<string, unknown>[] {
  return store.outbox.readOutbox(stream, 0, 1_000_000).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
}

describe('Store', () => {
  it('persists raw readings, closes 1-minute and 15-minute aggregates and enqueues them', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    const store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    // 1 minute of readings every 10 s: 6 samples, one bad.
    const vals = [10, 20, 30, null, 50, 60];
    store.ingest(vals.map((v, i) => reading('grid', 'active_power', v, T0 + i * 10_000, { canonical: 'active_power', unit: 'W' })));
    clock.t = T0 + 59_000;
    store.flush();
    expect(store.db.prepare('SELECT count(*) FROM readings_raw').pluck().get()).toBe(6);
    expect(outboxRecords(store, 'readings-1m')).toHaveLength(0); // bucket still open
    clock.t = T0 + MIN + 2_500; // past the close grace
    store.flush();
    const recs = outboxRecords(store, 'readings-1m');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      id: `gw/readings-1m/${store.persistence.epoch}-1`,
      seq: 1,
      ts: T0,
      device: 'grid',
      point: 'active_power',
      canonical: 'active_power',
      unit: 'W',
      min: 10,
      max: 60,
      mean: 34,
      last: 60,
      count: 5,
      samples: 6,
      quality: 'partial',
    });
    clock.t = T0 + 15 * MIN + 3000;
    store.flush();
    const r15 = outboxRecords(store, 'readings-15m');
    expect(r15).toHaveLength(1);
    expect(r15[0]).toMatchObject({ ts: T0, min: 10, max: 60, count: 5, samples: 6 });
    expect(store.db.prepare('SELECT count(*) FROM readings_1m').pluck().get()).toBe(1);
    expect(store.db.prepare('SELECT count(*) FROM readings_15m').pluck().get()).toBe(1);
    store.close();
  });

  it('summary records are exact JSON whatever the names and values (text-built payloads)', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    const store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw "7"/ü', clock, config: { statsIntervalMs: 0 } });
    const dev = 'Zähler "A"\\1';
    store.ingest([
      reading(dev, 'p/1', -0.1 + 0.2 * 1e-17, T0 + 1000, { unit: '°C' }),
      reading(dev, 'p/1', 1e21, T0 + 2000, { unit: '°C' }),
      reading(dev, 'bad', null, T0 + 1000),
      reading(dev, 'energy_import', 5, T0 + 1000, { canonical: 'energy_import', unit: 'kWh' }),
      reading(dev, 'energy_import', 5.25, T0 + 30_000, { canonical: 'energy_import', unit: 'kWh' }),
    ]);
    clock.t = T0 + MIN + 3000;
    store.flush();
    const rows = store.outbox.readOutbox('readings-1m', 0, 10);
    const recs = rows.map((r) => JSON.parse(r.payload) as Record<string, unknown>);
    expect(rows.map((r) => r.bytes)).toEqual(rows.map((r) => Buffer.byteLength(r.payload)));
    expect(recs).toEqual([
      { id: `gw "7"/ü/readings-1m/${store.persistence.epoch}-1`, seq: 1, ts: T0, device: dev, point: 'p/1', unit: '°C', min: -0.1, max: 1e21, mean: (-0.1 + 1e21) / 2, last: 1e21, count: 2, samples: 2, quality: 'good' },
      { id: `gw "7"/ü/readings-1m/${store.persistence.epoch}-2`, seq: 2, ts: T0, device: dev, point: 'bad', min: null, max: null, mean: null, last: null, count: 0, samples: 1, quality: 'comm-error' },
      {
        id: `gw "7"/ü/readings-1m/${store.persistence.epoch}-3`,
        seq: 3,
        ts: T0,
        device: dev,
        point: 'energy_import',
        canonical: 'energy_import',
        unit: 'kWh',
        min: 5,
        max: 5.25,
        mean: 5.125,
        last: 5.25,
        count: 2,
        samples: 2,
        quality: 'good',
        delta: 0.25,
        deltaFlag: 'first',
      },
    ]);
    // Field order as in the contract's examples: id, seq, ts first.
    expect(Object.keys(recs[2]!)).toEqual(['id', 'seq', 'ts', 'device', 'point', 'canonical', 'unit', 'min', 'max', 'mean', 'last', 'count', 'samples', 'quality', 'delta', 'deltaFlag']);
    // Records enqueued by other parts: id/seq/ts given by the store, whatever the record says.
    store.outbox.enqueue('decision', { id: 'x', seq: 99, ts: 5, note: 'ü"' });
    store.outbox.enqueue('decision', {});
    expect(store.outbox.readOutbox('decision', 0, 10).map((r) => JSON.parse(r.payload))).toEqual([
      { id: `gw "7"/ü/decision/${store.persistence.epoch}-1`, seq: 1, ts: 5, note: 'ü"' },
      { id: `gw "7"/ü/decision/${store.persistence.epoch}-2`, seq: 2, ts: clock.t },
    ]);
    store.close();
  });

  it('turns cumulative counters into deltas; the first delta after a restart covers the downtime; a reset is flagged', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    const e = (v: number, ts: number) => reading('grid', 'energy_import', v, ts, { canonical: 'energy_import', unit: 'kWh' });
    store.ingest([e(100, T0), e(100.5, T0 + 20_000), e(101, T0 + 40_000)]);
    clock.t = T0 + MIN + 3000;
    store.flush();
    let recs = outboxRecords(store, 'readings-1m');
    expect(recs[0]).toMatchObject({ delta: 1, deltaFlag: 'first' });
    store.close();

    // Gateway down for 1 hour; the meter kept counting (101 -> 111).
    const t1 = T0 + 61 * MIN;
    clock.t = t1;
    store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    store.ingest([e(111, t1 + 5000), e(111.2, t1 + 25_000)]);
    clock.t = t1 + MIN + 3000;
    store.flush();
    recs = outboxRecords(store, 'readings-1m');
    const after = recs[recs.length - 1]!;
    expect(after.ts).toBe(t1);
    expect(after.delta as number).toBeCloseTo(10.2, 9);
    expect(after.deltaFlag).toBeUndefined();
    expect(after.seq).toBe(2); // sequence survived the restart
    const row = store.db.prepare('SELECT from_ts FROM energy_deltas WHERE bucket = ?').get(t1) as { from_ts: number };
    expect(row.from_ts).toBe(T0 + 40_000);

    // Meter replaced: counter restarts at 0.3 -> delta 0, flagged, no negative delta.
    const t2 = t1 + 2 * MIN;
    store.ingest([e(0.3, t2 + 1000), e(0.5, t2 + 30_000)]);
    clock.t = t2 + MIN + 3000;
    store.flush();
    recs = outboxRecords(store, 'readings-1m');
    const reset = recs[recs.length - 1]!;
    expect(reset.deltaFlag).toBe('reset');
    expect(reset.delta as number).toBeCloseTo(0.2, 9); // only the increase after the new baseline
    store.close();
  });

  it('rebuilds open aggregate buckets from raw readings after a crash', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    // A closed bucket first, so the store has a closed-before mark.
    store.ingest([reading('pv', 'active_power', 1, T0 + 1000)]);
    clock.t = T0 + MIN + 3000;
    store.flush();
    store.ingest([reading('pv', 'active_power', 5, T0 + MIN + 10_000), reading('pv', 'active_power', 7, T0 + MIN + 20_000)]);
    store.flush();
    // A crash now: what is on disk is the committed database and its WAL (nothing in memory, no
    // close()). Copy them as a power cut would leave them and start again on the copy.
    const crashed = tmpDir();
    dirs.push(crashed);
    for (const suffix of ['', '-wal']) fs.copyFileSync(store.file + suffix, path.join(crashed, path.basename(store.file) + suffix));
    store.close();
    store = new Store({ dataDir: crashed, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    store.ingest([reading('pv', 'active_power', 9, T0 + MIN + 30_000)]);
    clock.t = T0 + 2 * MIN + 3000;
    store.flush();
    const recs = outboxRecords(store, 'readings-1m');
    expect(recs.map((r) => r.seq)).toEqual([1, 2]);
    expect(recs[1]).toMatchObject({ ts: T0 + MIN, min: 5, max: 9, count: 3, last: 9 });
    store.close();
  });

  it('outbox: stable ids, per-stream sequences survive restart and acknowledged deletion', () => {
    const dir = tmpDir();
    dirs.push(dir);
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw7', config: { statsIntervalMs: 0 } });
    // A new database has a store epoch (12 hex digits), kept for its life: part of every record id.
    const epoch = store.persistence.epoch!;
    expect(epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(store.outbox.enqueue('carbon-15m', { ts: 1, a: 1 }).seq).toBe(1);
    expect(store.outbox.enqueue('carbon-15m', { ts: 2, a: 2 }).seq).toBe(2);
    expect(store.outbox.enqueue('decision', { x: true }).seq).toBe(1);
    store.outbox.ack([{ stream: 'carbon-15m', seqs: [1, 2] }]);
    expect(store.outbox.outboxStats().byStream['carbon-15m']!.records).toBe(0);
    store.close();
    store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw7', config: { statsIntervalMs: 0 } });
    expect(store.persistence.epoch).toBe(epoch);
    expect(store.outbox.enqueue('carbon-15m', { ts: 3 }).seq).toBe(3);
    const rows = store.outbox.readOutbox('carbon-15m', 0, 10);
    expect(JSON.parse(rows[0]!.payload)).toEqual({ id: `gw7/carbon-15m/${epoch}-3`, seq: 3, ts: 3 });
    expect(store.outbox.outboxStats()).toMatchObject({ records: 2 });
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL outside store-internal NORMAL sections
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    store.close();
  });

  it('a corrupt database at start is moved aside, a fresh one started, and the event reported upstream', () => {
    const dir = tmpDir();
    dirs.push(dir);
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', config: { statsIntervalMs: 0 } });
    for (let i = 0; i < 200; i++) store.outbox.enqueue('decision', { i, pad: 'x'.repeat(500) });
    store.close();
    const file = path.join(dir, 'carbonedge.db');
    // Overwrite pages in the middle of the file with garbage (the header stays valid).
    const fd = fs.openSync(file, 'r+');
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 4096);
    fs.closeSync(fd);
    store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', config: { statsIntervalMs: 0 } });
    expect(store.corruption).toBeDefined();
    expect(fs.existsSync(store.corruption!.movedTo)).toBe(true);
    expect(path.basename(store.corruption!.movedTo)).toMatch(/^carbonedge\.db\.corrupt-/);
    const stats = outboxRecords(store, 'store-stats');
    expect(stats).toHaveLength(1);
    expect(stats[0]!.corruption).toMatchObject({ movedTo: store.corruption!.movedTo });
    // Fresh and usable.
    expect(store.outbox.enqueue('decision', { ok: 1 }).seq).toBe(1);
    store.close();
  });

  it('a file that is not a database at all is also moved aside', () => {
    const dir = tmpDir();
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, 'carbonedge.db'), 'this is not sqlite'.repeat(1000));
    const store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', config: { statsIntervalMs: 0 } });
    expect(store.corruption?.reason).toMatch(/not a database|cannot open|integrity/);
    store.close();
    const db = new Database(store.corruption!.movedTo, { readonly: true, fileMustExist: true });
    db.close();
  });

  it('a 15-minute aggregate spans a restart in the middle of the quarter hour', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    let store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    for (let m = 0; m < 5; m++) store.ingest([reading('hp', 'active_power', 100 + m, T0 + m * MIN + 1000)]);
    clock.t = T0 + 5 * MIN + 3000;
    store.flush();
    store.close();
    store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
    for (let m = 5; m < 15; m++) store.ingest([reading('hp', 'active_power', 100 + m, T0 + m * MIN + 1000)]);
    clock.t = T0 + 15 * MIN + 3000;
    store.flush();
    const r15 = outboxRecords(store, 'readings-15m');
    expect(r15).toHaveLength(1);
    expect(r15[0]).toMatchObject({ ts: T0, min: 100, max: 114, last: 114, count: 15, samples: 15, quality: 'good' });
    expect(r15[0]!.mean as number).toBeCloseTo(107, 9);
    store.close();
  });

  it('byte cap: drops oldest raw first, then unsent 1-minute summaries; counts drops; keeps store-stats', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    const cap = 2 * 1024 * 1024;
    const store = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0, maxBytes: cap } });
    // 400 points, a reading every 10 s, for 60 minutes (144k readings, 24000 summaries: more than the cap).
    for (let m = 0; m < 60; m++) {
      for (let sec = 0; sec < 60; sec += 10) {
        const ts = T0 + m * MIN + sec * 1000;
        const batch: Reading[] = [];
        for (let p = 0; p < 400; p++) batch.push(reading('d', `p${p}`, p * 1000 + sec, ts));
        store.ingest(batch);
      }
      clock.t = T0 + (m + 1) * MIN + 3000;
      store.flush();
    }
    const st = store.stats();
    expect(st.usedBytes).toBeLessThanOrEqual(cap);
    expect(st.dropped.rawByCap).toBeGreaterThan(0);
    expect(st.dropped.oneMinuteByCap).toBeGreaterThan(0);
    const lost = st.dropped.outboxByCap['readings-1m'] ?? 0;
    expect(lost).toBeGreaterThan(0);
    // What remains of readings-1m is the newest, contiguous up to the last seq.
    const seqs = store.outbox.readOutbox('readings-1m', 0, 1e6).map((r) => r.seq);
    const last = store.outbox.lastSeq('readings-1m');
    expect(last).toBe(60 * 400);
    expect(seqs[seqs.length - 1]).toBe(last);
    expect(seqs.length + lost).toBe(last);
    expect(seqs[0]).toBe(lost + 1);
    // Raw readings of the newest minutes are still there; the oldest are gone.
    const minRaw = store.db.prepare('SELECT min(ts) FROM readings_raw').pluck().get() as number;
    expect(minRaw).toBeGreaterThan(T0);
    // The drops were reported upstream (store-stats records), and none of those was dropped.
    const stats = outboxRecords(store, 'store-stats');
    expect(stats.length).toBeGreaterThan(0);
    expect(stats.map((r) => r.seq)).toEqual(stats.map((_, i) => i + 1));
    const lastStats = stats[stats.length - 1]!;
    expect((lastStats.dropped as { outboxByCap: Record<string, number> }).outboxByCap['readings-1m']).toBeLessThanOrEqual(lost);
    store.close();
    // Counters persist.
    const again = new Store({ dataDir: dir, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0, maxBytes: cap } });
    expect(again.stats().dropped.outboxByCap['readings-1m']).toBe(lost);
    again.close();
  });

  it('retention by age per table keeps what is young and what open buckets still need', () => {
    const dir = tmpDir();
    dirs.push(dir);
    const clock = clockAt(T0);
    const store = new Store({
      dataDir: dir,
      siteId: 's',
      gatewayId: 'gw',
      clock,
      config: { statsIntervalMs: 0, retention: { rawHours: 1, oneMinuteDays: 1, fifteenMinuteDays: 2, energyDays: 1 } },
    });
    const e = (v: number, ts: number) => reading('m', 'energy_import', v, ts, { canonical: 'energy_import' });
    store.ingest([e(1, T0), e(2, T0 + 1000)]);
    clock.t = T0 + 16 * MIN;
    store.flush();
    const count = (t: string) => store.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
    expect([count('readings_raw'), count('readings_1m'), count('readings_15m'), count('energy_deltas')]).toEqual([2, 1, 1, 1]);
    clock.t = T0 + 2 * 3_600_000; // 2 h later: raw (1 h) goes, the rest stays
    store.maintain();
    expect([count('readings_raw'), count('readings_1m'), count('readings_15m'), count('energy_deltas')]).toEqual([0, 1, 1, 1]);
    clock.t = T0 + 36 * 3_600_000; // 1.5 days: 1-minute rows and energy deltas go
    store.maintain();
    expect([count('readings_1m'), count('readings_15m'), count('energy_deltas')]).toEqual([0, 1, 0]);
    clock.t = T0 + 3 * 24 * 3_600_000;
    store.maintain();
    expect(count('readings_15m')).toBe(0);
    // Age retention is not a loss: no drop counted; the counter baseline is kept.
    expect(store.stats().dropped).toMatchObject({ rawByCap: 0, oneMinuteByCap: 0 });
    expect(count('counter_last')).toBe(1);
    store.close();
  });
});
