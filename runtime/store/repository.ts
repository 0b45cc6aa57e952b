import type { Persistence } from '../persistence/database.js';
import { ChunkedInsert } from '../persistence/chunked-insert.js';
import type { Quality } from '../types.js';
import type { BucketSummary } from './aggregator.js';
import type { CounterFlag } from '../metering/counter-delta.js';

export interface PointRow {
  id: number;
  device: string;
  point: string;
  canonical?: string;
  unit?: string;
}

export const QUALITY_CODE: Record<Quality, number> = { good: 0, stale: 1, 'comm-error': 2, 'out-of-range': 3 };
const QUALITIES: Quality[] = ['good', 'stale', 'comm-error', 'out-of-range'];
const AGG_COLUMNS = ['bucket', 'point_id', 'min', 'max', 'mean', 'last', 'count', 'samples', 'quality', 'delta', 'delta_flag'];
/** Raw readings per multi-row INSERT (fewer native calls per reading). */
export const RAW_CHUNK = 64;

/** Tables whose old rows retention and the byte cap delete, with their drop counter. */
export type AgedTable = 'readings_1m' | 'readings_15m' | 'energy_deltas';

/** The SQL of the store's tables (points, readings, aggregates, energy deltas, counters, meta). */
export class StoreRepository {
  private readonly st;
  private readonly raw: ChunkedInsert;
  private readonly agg1m: ChunkedInsert;
  private readonly agg15m: ChunkedInsert;

  constructor(private readonly persistence: Persistence) {
    const db = persistence.db;
    this.raw = new ChunkedInsert(db, 'INSERT INTO readings_raw', ['ts', 'point_id', 'value', 'text', 'quality'], RAW_CHUNK);
    this.agg1m = new ChunkedInsert(db, 'INSERT OR REPLACE INTO readings_1m', AGG_COLUMNS, 32);
    this.agg15m = new ChunkedInsert(db, 'INSERT OR REPLACE INTO readings_15m', AGG_COLUMNS, 32);
    this.st = {
      insertPoint: db.prepare('INSERT INTO points (device, point, canonical, unit) VALUES (?, ?, ?, ?)'),
      updatePoint: db.prepare('UPDATE points SET canonical = ?, unit = ? WHERE id = ?'),
      upsertEnergy: db.prepare(
        `INSERT INTO energy_deltas (bucket, point_id, delta, from_ts, to_ts, samples, flag) VALUES (?,?,?,?,?,1,?)
         ON CONFLICT (bucket, point_id) DO UPDATE SET delta = delta + excluded.delta, to_ts = excluded.to_ts,
           samples = samples + 1, flag = COALESCE(excluded.flag, flag)`,
      ),
      upsertCounter: db.prepare('INSERT OR REPLACE INTO counter_last (point_id, value, ts) VALUES (?, ?, ?)'),
      setMeta: db.prepare('INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)'),
      getMeta: db.prepare('SELECT value FROM store_meta WHERE key = ?').pluck(),
      setCounter: db.prepare('INSERT OR REPLACE INTO store_counters (name, value) VALUES (?, ?)'),
      bumpCounter: db.prepare('INSERT INTO store_counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value'),
      rawBounds: db.prepare('SELECT min(rowid) AS lo, max(rowid) AS hi FROM readings_raw'),
      rawAt: db.prepare('SELECT rowid, ts FROM readings_raw WHERE rowid >= ? ORDER BY rowid LIMIT 1'),
    };
  }

  // ---------------------------------------------------------------- points and counters

  insertPoint(device: string, point: string, canonical?: string, unit?: string): number {
    return Number(this.st.insertPoint.run(device, point, canonical ?? null, unit ?? null).lastInsertRowid);
  }

  updatePoint(id: number, canonical?: string, unit?: string): void {
    this.st.updatePoint.run(canonical ?? null, unit ?? null, id);
  }

  allPoints(): PointRow[] {
    const rows = this.persistence.db.prepare('SELECT id, device, point, canonical, unit FROM points').all() as {
      id: number;
      device: string;
      point: string;
      canonical: string | null;
      unit: string | null;
    }[];
    return rows.map((p) => ({ id: p.id, device: p.device, point: p.point, canonical: p.canonical ?? undefined, unit: p.unit ?? undefined }));
  }

  /** Last absolute value per counter point. */
  counterBaselines(): [number, { value: number; ts: number }][] {
    const rows = this.persistence.db.prepare('SELECT point_id, value, ts FROM counter_last').all() as { point_id: number; value: number; ts: number }[];
    return rows.map((c) => [c.point_id, { value: c.value, ts: c.ts }]);
  }

  /** One counter delta into its 1-minute bucket, and the new baseline (same unit of work). */
  recordCounter(bucket: number, pointId: number, delta: number, fromTs: number, value: number, ts: number, flag: CounterFlag | undefined): void {
    this.st.upsertEnergy.run(bucket, pointId, delta, fromTs, ts, flag ?? null);
    this.st.upsertCounter.run(pointId, value, ts);
  }

  // ---------------------------------------------------------------- readings and aggregates

  /** Raw readings as consecutive params (ts, point_id, value, text, quality). */
  insertRaw(params: readonly unknown[]): void {
    if (params.length) this.raw.run(params);
  }

  /** Aggregate rows of one size as consecutive params (AGG_COLUMNS). */
  insertAggregates(fifteen: boolean, params: readonly unknown[]): void {
    if (params.length) (fifteen ? this.agg15m : this.agg1m).run(params);
  }

  /** Append one aggregate row's params. */
  static aggregateParams(out: unknown[], bucket: number, pointId: number, s: BucketSummary): void {
    out.push(bucket, pointId, s.min, s.max, s.mean, s.last, s.count, s.samples, s.quality, s.delta ?? null, s.deltaFlag ?? null);
  }

  /** Raw readings at or after `ts` (appended in time order), for rebuilding open buckets. */
  *rawSince(ts: number): Generator<{ ts: number; pointId: number; value: number | null; text: string | null; quality: Quality }> {
    const rows = this.persistence.db
      .prepare('SELECT ts, point_id, value, text, quality FROM readings_raw WHERE rowid >= ? AND ts >= ? ORDER BY rowid')
      .iterate(this.rawRowidAt(ts), ts) as IterableIterator<{ ts: number; point_id: number; value: number | null; text: string | null; quality: number }>;
    for (const r of rows) yield { ts: r.ts, pointId: r.point_id, value: r.value, text: r.text, quality: QUALITIES[r.quality] ?? 'comm-error' };
  }

  energySince(bucket: number): { bucket: number; pointId: number; delta: number; flag?: CounterFlag }[] {
    const rows = this.persistence.db.prepare('SELECT bucket, point_id, delta, flag FROM energy_deltas WHERE bucket >= ?').all(bucket) as {
      bucket: number;
      point_id: number;
      delta: number;
      flag: CounterFlag | null;
    }[];
    return rows.map((e) => ({ bucket: e.bucket, pointId: e.point_id, delta: e.delta, flag: e.flag ?? undefined }));
  }

  /** 1-minute aggregates with from <= bucket < to, in bucket order. */
  oneMinuteBetween(from: number, to: number): { bucket: number; pointId: number; summary: BucketSummary }[] {
    const rows = this.persistence.db
      .prepare('SELECT bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag FROM readings_1m WHERE bucket >= ? AND bucket < ? ORDER BY bucket')
      .all(from, to) as {
      bucket: number;
      point_id: number;
      min: number | null;
      max: number | null;
      mean: number | null;
      last: number | null;
      count: number;
      samples: number;
      quality: string;
      delta: number | null;
      delta_flag: CounterFlag | null;
    }[];
    return rows.map((o) => ({
      bucket: o.bucket,
      pointId: o.point_id,
      summary: { min: o.min, max: o.max, mean: o.mean, last: o.last, count: o.count, samples: o.samples, quality: o.quality, delta: o.delta ?? undefined, deltaFlag: o.delta_flag ?? undefined },
    }));
  }

  /**
   * Smallest rowid of readings_raw whose ts is >= `ts` (rows are appended in time order: binary
   * search over rowids, O(log n) lookups, no ts index to maintain on every insert).
   */
  rawRowidAt(ts: number): number {
    const bounds = this.st.rawBounds.get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return 0;
    let lo = bounds.lo;
    let hi = bounds.hi + 1; // answer in [lo, hi]
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.st.rawAt.get(mid) as { rowid: number; ts: number } | undefined;
      if (!row) {
        hi = mid;
        continue;
      }
      if (row.ts >= ts) hi = mid;
      else lo = row.rowid + 1;
    }
    return lo;
  }

  // ---------------------------------------------------------------- retention and byte cap

  /** Delete raw readings before rowid `rowid`; rows deleted. */
  deleteRawBefore(rowid: number): number {
    return this.persistence.db.prepare('DELETE FROM readings_raw WHERE rowid < ?').run(rowid).changes;
  }

  deleteBucketsBefore(table: AgedTable, bucket: number): number {
    return this.persistence.db.prepare(`DELETE FROM ${table} WHERE bucket < ?`).run(bucket).changes;
  }

  /** Byte cap: delete up to `limit` of the oldest raw readings before rowid `rowid`. */
  dropOldestRaw(rowid: number, limit: number): number {
    return this.persistence.db.prepare('DELETE FROM readings_raw WHERE rowid IN (SELECT rowid FROM readings_raw WHERE rowid < ? ORDER BY rowid LIMIT ?)').run(rowid, limit).changes;
  }

  /** Byte cap: delete up to `limit` of the oldest rows of `table` with bucket < `before`. */
  dropOldestBuckets(table: AgedTable, before: number, limit: number): number {
    return this.persistence.db
      .prepare(`DELETE FROM ${table} WHERE (bucket, point_id) IN (SELECT bucket, point_id FROM ${table} WHERE bucket < ? ORDER BY bucket LIMIT ?)`)
      .run(before, limit).changes;
  }

  // ---------------------------------------------------------------- bookkeeping

  getMeta(key: string): string | undefined {
    return this.st.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.st.setMeta.run(key, value);
  }

  counters(): { name: string; value: number }[] {
    return this.persistence.db.prepare('SELECT name, value FROM store_counters').all() as { name: string; value: number }[];
  }

  setCounter(name: string, value: number): void {
    this.st.setCounter.run(name, value);
  }

  bumpCounter(name: string, by: number): void {
    this.st.bumpCounter.run(name, by);
  }
}
