import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { OutboxWriter } from '../services.js';
import type { Clock, Quality, Reading } from '../types.js';
import { systemClock } from '../types.js';
import type Database from 'better-sqlite3';
import { counterDelta, type CounterFlag } from '../metering/counter-delta.js';
import { openStoreDatabase, type CorruptionReport, type DB } from './db.js';
import { resolveStoreConfig, type ResolvedStoreConfig, type StoreConfig } from './config-schema.js';

export const DB_FILE_NAME = 'carbonedge.db';

const MINUTE = 60_000;
/** Raw readings per multi-row INSERT (fewer native calls per reading). */
const RAW_CHUNK = 64;
/** Aggregate / outbox rows per multi-row INSERT. */
const ROW_CHUNK = 32;
const values = (n: number, width: number) => Array.from({ length: n }, () => `(${Array.from({ length: width }, () => '?').join(', ')})`).join(', ');
const FIFTEEN = 15 * MINUTE;
const QUALITY_CODE: Record<Quality, number> = { good: 0, stale: 1, 'comm-error': 2, 'out-of-range': 3 };

/** Canonical points that are cumulative counters: the store turns them into deltas. */
export const COUNTER_CANONICALS = new Set(['energy_import', 'energy_export', 'reactive_energy_import', 'reactive_energy_export']);

/** Streams the store itself produces (schemas in runtime/uplink/contract/). */
export const STREAM_READINGS_1M = 'readings-1m';
export const STREAM_READINGS_15M = 'readings-15m';
export const STREAM_STORE_STATS = 'store-stats';

interface PointInfo {
  id: number;
  device: string;
  point: string;
  canonical?: string;
  unit?: string;
  counter: boolean;
  /** `,"device":...,"point":...[,"canonical":...][,"unit":...]`: the fixed part of its summary records (built once). */
  json?: string;
}

/** A finite number as JSON (same text as JSON.stringify), else null. */
const jnum = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? 'null' : String(x));

function pointJson(p: PointInfo): string {
  return (
    `,"device":${JSON.stringify(p.device)},"point":${JSON.stringify(p.point)}` +
    (p.canonical ? `,"canonical":${JSON.stringify(p.canonical)}` : '') +
    (p.unit ? `,"unit":${JSON.stringify(p.unit)}` : '')
  );
}

interface Acc {
  min: number;
  max: number;
  sum: number;
  count: number;
  samples: number;
  last: number | null;
  lastTs: number;
  badQuality?: Quality;
  delta?: number;
  deltaFlag?: CounterFlag;
}

function emptyAcc(): Acc {
  return { min: Infinity, max: -Infinity, sum: 0, count: 0, samples: 0, last: null, lastTs: -Infinity };
}

/** One row of the outbox as the uplink reads it. */
export interface OutboxRow {
  seq: number;
  bytes: number;
  payload: string;
}

export interface OutboxStats {
  records: number;
  bytes: number;
  /** created-time of the oldest unsent record, ms since epoch; undefined when empty. */
  oldestCreated?: number;
  byStream: Record<string, { records: number; bytes: number; lastSeq: number }>;
}

/** Cumulative counters of what the store dropped (retention by age is not a loss: not counted as dropped). */
export interface DropCounters {
  rawByCap: number;
  oneMinuteByCap: number;
  fifteenMinuteByCap: number;
  energyByCap: number;
  /** Unsent outbox records dropped by the byte cap, per stream (a loss the receiver sees as a gap). */
  outboxByCap: Record<string, number>;
  /** Readings that could not be written (disk error), dropped rather than held in memory. */
  readingsOnError: number;
  /** Readings older than an already-closed aggregate bucket: kept raw, not aggregated. */
  lateReadings: number;
}

export interface StoreStats {
  file: string;
  usedBytes: number;
  fileBytes: number;
  maxBytes: number;
  dropped: DropCounters;
  outbox: OutboxStats;
  readingsPersisted: number;
  corruption?: CorruptionReport;
}

export interface StoreOptions {
  dataDir: string;
  /** Default `<dataDir>/carbonedge.db`. */
  file?: string;
  siteId: string;
  gatewayId: string;
  config?: StoreConfig;
  clock?: Clock;
  logger?: Logger;
}

/**
 * The local store: buffers readings from the hub and writes them in batched transactions (raw
 * readings, 1-minute and 15-minute aggregates, energy deltas from cumulative counters), enforces
 * retention by age and a byte cap, and holds the outbox of everything bound for the cloud.
 *
 * Durability: the connection runs with `synchronous=FULL`; every transaction that inserts into the
 * outbox commits at FULL (fsync of the WAL before returning). Only flushes that write nothing but
 * raw readings/aggregates, and deletions of acknowledged outbox rows, run at NORMAL: a power cut may
 * lose the newest raw readings (re-read anyway) or re-send acknowledged records (deduplicated by
 * id), never lose an outbox record.
 */
export class Store implements OutboxWriter {
  readonly db: DB;
  readonly file: string;
  readonly config: ResolvedStoreConfig;
  readonly corruption?: CorruptionReport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly gatewayId: string;
  private readonly siteId: string;

  private buffer: Reading[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** device -> point -> info (two levels: no key string built per reading), and by id. */
  private readonly points = new Map<string, Map<string, PointInfo>>();
  private readonly pointsById = new Map<number, PointInfo>();
  private readonly counterLast = new Map<number, { value: number; ts: number }>();
  private readonly acc1m = new Map<number, Map<number, Acc>>();
  private readonly acc15m = new Map<number, Map<number, Acc>>();
  /** Buckets strictly before these are closed (emitted). */
  private closed1mBefore = 0;
  private closed15mBefore = 0;
  private readonly seqs = new Map<string, number>();
  private readonly dirtySeqs = new Set<string>();
  private readonly rawParams: unknown[] = [];
  private readonly outboxCounts = new Map<string, { records: number; bytes: number }>();
  private readonly dropped: DropCounters;
  private readingsPersisted = 0;
  private capWarned = false;
  private readonly ackListeners = new Set<() => void>();
  private readonly enqueueListeners = new Set<(stream: string) => void>();

  private readonly st: ReturnType<Store['prepare']>;

  constructor(opts: StoreOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.gatewayId = opts.gatewayId;
    this.siteId = opts.siteId;
    this.config = resolveStoreConfig(opts.config);
    this.file = opts.file ?? path.join(opts.dataDir, DB_FILE_NAME);
    const { db, corruption } = openStoreDatabase(this.file, this.log, this.clock.now());
    this.db = db;
    this.corruption = corruption;
    this.st = this.prepare();
    this.dropped = this.loadCounters();
    this.loadState();
    if (corruption) {
      this.bumpCounter('corruptRecoveries', 1);
      this.enqueueStats({ corruption });
    }
  }

  private prepare() {
    const db = this.db;
    return {
      insertPoint: db.prepare('INSERT INTO points (device, point, canonical, unit) VALUES (?, ?, ?, ?)'),
      updatePoint: db.prepare('UPDATE points SET canonical = ?, unit = ? WHERE id = ?'),
      insertRaw: db.prepare('INSERT INTO readings_raw (ts, point_id, value, text, quality) VALUES (?, ?, ?, ?, ?)'),
      insertRawMany: db.prepare(
        `INSERT INTO readings_raw (ts, point_id, value, text, quality) VALUES ${Array.from({ length: RAW_CHUNK }, () => '(?, ?, ?, ?, ?)').join(', ')}`,
      ),
      insert1m: db.prepare(
        'INSERT OR REPLACE INTO readings_1m (bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
      ),
      insert15m: db.prepare(
        'INSERT OR REPLACE INTO readings_15m (bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
      ),
      insert1mMany: db.prepare(
        `INSERT OR REPLACE INTO readings_1m (bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag) VALUES ${values(ROW_CHUNK, 11)}`,
      ),
      insert15mMany: db.prepare(
        `INSERT OR REPLACE INTO readings_15m (bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag) VALUES ${values(ROW_CHUNK, 11)}`,
      ),
      insertOutboxMany: db.prepare(`INSERT INTO outbox (stream, seq, ts, created, bytes, payload) VALUES ${values(ROW_CHUNK, 6)}`),
      upsertEnergy: db.prepare(
        `INSERT INTO energy_deltas (bucket, point_id, delta, from_ts, to_ts, samples, flag) VALUES (?,?,?,?,?,1,?)
         ON CONFLICT (bucket, point_id) DO UPDATE SET delta = delta + excluded.delta, to_ts = excluded.to_ts,
           samples = samples + 1, flag = COALESCE(excluded.flag, flag)`,
      ),
      upsertCounter: db.prepare('INSERT OR REPLACE INTO counter_last (point_id, value, ts) VALUES (?, ?, ?)'),
      setMeta: db.prepare('INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)'),
      getMeta: db.prepare('SELECT value FROM store_meta WHERE key = ?').pluck(),
      insertOutbox: db.prepare('INSERT INTO outbox (stream, seq, ts, created, bytes, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      setSeq: db.prepare('INSERT OR REPLACE INTO outbox_seq (stream, last_seq) VALUES (?, ?)'),
      getSeq: db.prepare('SELECT last_seq FROM outbox_seq WHERE stream = ?').pluck(),
      countOutbox: db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE stream = ?'),
      readOutbox: db.prepare('SELECT seq, bytes, payload FROM outbox WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?'),
      readOutboxUpTo: db.prepare('SELECT seq, bytes, payload FROM outbox WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?'),
      deleteOutboxRange: db.prepare('SELECT count(*) AS n, sum(bytes) AS b FROM outbox WHERE stream = ? AND seq BETWEEN ? AND ?'),
      deleteOutboxRangeExec: db.prepare('DELETE FROM outbox WHERE stream = ? AND seq BETWEEN ? AND ?'),
      oldestOutbox: db.prepare('SELECT seq, created FROM outbox WHERE stream = ? ORDER BY seq LIMIT 1'),
      setCounter: db.prepare('INSERT OR REPLACE INTO store_counters (name, value) VALUES (?, ?)'),
      pageCount: db.prepare('PRAGMA page_count').pluck(),
      freelist: db.prepare('PRAGMA freelist_count').pluck(),
    };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Start the flush, retention and statistics timers. */
  start(): void {
    const c = this.config;
    this.flushTimer = setInterval(() => this.flush(), c.flushIntervalMs);
    this.flushTimer.unref();
    this.maintenanceTimer = setInterval(() => this.maintain(), c.maintenanceIntervalMs);
    this.maintenanceTimer.unref();
    if (c.statsIntervalMs > 0) {
      this.statsTimer = setInterval(() => this.enqueueStats(), c.statsIntervalMs);
      this.statsTimer.unref();
    }
  }

  /** Flush what is buffered and close the database. Open aggregate buckets are rebuilt from raw readings on the next start. */
  close(): void {
    if (this.closed) return;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.flush();
    this.closed = true;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* best effort */
    }
    this.db.close();
  }

  // ------------------------------------------------------------------ readings

  /** Buffer readings (the hub listener); written at the next flush, or now if the buffer is full. */
  ingest(batch: readonly Reading[]): void {
    if (this.closed) return;
    for (const r of batch) this.buffer.push(r);
    if (this.buffer.length >= this.config.flushMaxRows) this.flush();
  }

  /**
   * Write buffered readings in one transaction, update aggregates and counter deltas, and close
   * (persist + enqueue) aggregate buckets that ended more than `closeGraceMs` ago.
   */
  flush(now = this.clock.now()): void {
    if (this.closed) return;
    if (this.db.inTransaction) {
      // Called (through ingest) inside another part's transaction: our writes would commit or
      // roll back with it. Flush right after it instead.
      setImmediate(() => this.flush());
      return;
    }
    this.settleForeign();
    const batch = this.buffer;
    this.buffer = [];
    try {
      const grace = this.config.closeGraceMs;
      let minTs = Infinity;
      for (const r of batch) if (r.ts < minTs) minTs = r.ts;
      const due = (accs: Map<number, Map<number, Acc>>, size: number) =>
        this.closeableBuckets(accs, size, now).length > 0 || (batch.length > 0 && Math.floor(minTs / size) * size + size + grace <= now);
      const anyDue = due(this.acc1m, MINUTE) || due(this.acc15m, FIFTEEN);
      if (batch.length === 0 && !anyDue) return;
      const touchesOutbox = anyDue && (this.config.publish1m || this.config.publish15m);
      this.withSync(touchesOutbox ? 'FULL' : 'NORMAL', () => {
        this.db.transaction(() => {
          for (const r of batch) this.writeReading(r);
          this.flushRaw();
          const closing1m = this.closeableBuckets(this.acc1m, MINUTE, now);
          if (closing1m.length) this.closeBuckets(this.acc1m, closing1m, MINUTE, now);
          // After the 1-minute buckets were folded into their quarter hours.
          const closing15m = this.closeableBuckets(this.acc15m, FIFTEEN, now);
          if (closing15m.length) this.closeBuckets(this.acc15m, closing15m, FIFTEEN, now);
          this.writeSeqs();
        })();
      });
      this.readingsPersisted += batch.length;
      if (touchesOutbox) this.notifyEnqueued(STREAM_READINGS_1M);
    } catch (err) {
      this.rawParams.length = 0;
      this.dropped.readingsOnError += batch.length;
      this.log.error({ err, readings: batch.length }, 'store flush failed; these readings are dropped (counted), the gateway keeps running');
      // The transaction rolled back, but the flush had already moved the in-memory state on
      // (sequence numbers, closed buckets, new point ids, counter baselines): start again from
      // what is committed, as after a restart, so no sequence number is skipped or reused.
      this.reloadState();
    }
    this.enforceCapSafe();
  }

  private pointFor(r: Reading): PointInfo {
    let dev = this.points.get(r.device);
    if (!dev) this.points.set(r.device, (dev = new Map()));
    let p = dev.get(r.point);
    if (!p) {
      const id = Number(this.st.insertPoint.run(r.device, r.point, r.canonical ?? null, r.unit ?? null).lastInsertRowid);
      p = { id, device: r.device, point: r.point, canonical: r.canonical, unit: r.unit, counter: this.isCounter(r.device, r.point, r.canonical) };
      dev.set(r.point, p);
      this.pointsById.set(id, p);
    } else if ((r.canonical !== undefined && p.canonical !== r.canonical) || (r.unit !== undefined && p.unit !== r.unit)) {
      p.canonical = r.canonical ?? p.canonical;
      p.unit = r.unit ?? p.unit;
      p.counter = this.isCounter(p.device, p.point, p.canonical);
      p.json = undefined;
      this.st.updatePoint.run(p.canonical ?? null, p.unit ?? null, p.id);
    }
    return p;
  }

  private isCounter(device: string, point: string, canonical?: string): boolean {
    return (canonical !== undefined && COUNTER_CANONICALS.has(canonical)) || this.config.counterPoints.has(`${device}/${point}`);
  }

  private writeReading(r: Reading): void {
    const p = this.pointFor(r);
    const v = r.value;
    const num = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : null;
    const text = typeof v === 'string' ? v : null;
    const raw = this.rawParams;
    raw.push(r.ts, p.id, num !== null && Number.isFinite(num) ? num : null, text, QUALITY_CODE[r.quality] ?? 2);
    if (raw.length === RAW_CHUNK * 5) this.flushRaw();
    let delta: { delta: number; flag?: CounterFlag } | undefined;
    if (p.counter && r.quality === 'good' && num !== null && Number.isFinite(num)) {
      const prev = this.counterLast.get(p.id);
      if (!prev || r.ts > prev.ts) {
        delta = counterDelta(prev, { value: num, ts: r.ts }, this.config.counterOptions);
        const bucket = Math.floor(r.ts / MINUTE) * MINUTE;
        if (delta.flag === 'reset' || delta.flag === 'implausible') {
          this.log.warn({ device: p.device, point: p.point, prev, value: num, flag: delta.flag }, 'counter discontinuity: delta 0, new baseline');
        } else if (delta.flag) this.log.info({ device: p.device, point: p.point, prev, value: num, flag: delta.flag }, `counter ${delta.flag}`);
        this.st.upsertEnergy.run(bucket, p.id, delta.delta, prev?.ts ?? r.ts, r.ts, delta.flag ?? null);
        // A reset / implausible jump re-baselines on the new value: later deltas count from there.
        this.counterLast.set(p.id, { value: num, ts: r.ts });
        this.st.upsertCounter.run(p.id, num, r.ts);
      }
    }
    const ok = r.quality === 'good' && num !== null && Number.isFinite(num);
    this.accumulate(this.acc1m, MINUTE, this.closed1mBefore, p.id, r, ok ? num : null, delta);
  }

  /** Insert rows of `width` params each: CHUNK rows per statement, the rest one by one. */
  private insertChunked(single: Database.Statement, many: Database.Statement, width: number, params: unknown[]): void {
    const per = width * ROW_CHUNK;
    let i = 0;
    for (; i + per <= params.length; i += per) many.run(params.slice(i, i + per));
    for (; i < params.length; i += width) single.run(params.slice(i, i + width));
  }

  private flushRaw(): void {
    const raw = this.rawParams;
    if (raw.length === RAW_CHUNK * 5) this.st.insertRawMany.run(raw);
    else for (let i = 0; i < raw.length; i += 5) this.st.insertRaw.run(raw[i], raw[i + 1], raw[i + 2], raw[i + 3], raw[i + 4]);
    raw.length = 0;
  }

  private accumulate(
    accs: Map<number, Map<number, Acc>>,
    size: number,
    closedBefore: number,
    pointId: number,
    r: Pick<Reading, 'ts' | 'quality'>,
    num: number | null,
    delta: { delta: number; flag?: CounterFlag } | undefined,
  ): void {
    const bucket = Math.floor(r.ts / size) * size;
    if (bucket < closedBefore) {
      // The hub re-publishes an expired value as `stale` with its original time: not a late reading.
      if (size === MINUTE && r.quality !== 'stale') this.dropped.lateReadings++;
      return;
    }
    let m = accs.get(bucket);
    if (!m) accs.set(bucket, (m = new Map()));
    let a = m.get(pointId);
    if (!a) m.set(pointId, (a = emptyAcc()));
    a.samples++;
    if (num !== null) {
      if (num < a.min) a.min = num;
      if (num > a.max) a.max = num;
      a.sum += num;
      a.count++;
      if (r.ts >= a.lastTs) {
        a.last = num;
        a.lastTs = r.ts;
      }
    } else {
      a.badQuality = r.quality;
    }
    if (delta) {
      a.delta = (a.delta ?? 0) + delta.delta;
      if (delta.flag && delta.flag !== 'first') a.deltaFlag = delta.flag;
      else if (delta.flag === 'first' && !a.deltaFlag) a.deltaFlag = 'first';
    }
  }

  /** Fold a closed 1-minute aggregate into its 15-minute bucket. */
  private fold(bucket1m: number, pointId: number, a: Acc): void {
    const b = Math.floor(bucket1m / FIFTEEN) * FIFTEEN;
    if (b < this.closed15mBefore) return;
    let m = this.acc15m.get(b);
    if (!m) this.acc15m.set(b, (m = new Map()));
    let t = m.get(pointId);
    if (!t) m.set(pointId, (t = emptyAcc()));
    t.samples += a.samples;
    if (a.count > 0) {
      t.min = Math.min(t.min, a.min);
      t.max = Math.max(t.max, a.max);
      t.sum += a.sum;
      t.count += a.count;
      if (a.lastTs >= t.lastTs) {
        t.last = a.last;
        t.lastTs = a.lastTs;
      }
    }
    if (a.badQuality) t.badQuality = a.badQuality;
    if (a.delta !== undefined) {
      t.delta = (t.delta ?? 0) + a.delta;
      if (a.deltaFlag && (a.deltaFlag !== 'first' || !t.deltaFlag)) t.deltaFlag = a.deltaFlag;
    }
  }

  private closeableBuckets(accs: Map<number, Map<number, Acc>>, size: number, now: number): number[] {
    const out: number[] = [];
    for (const b of accs.keys()) if (b + size + this.config.closeGraceMs <= now) out.push(b);
    return out.sort((a, b) => a - b);
  }

  private closeBuckets(accs: Map<number, Map<number, Acc>>, buckets: number[], size: number, _now: number): void {
    const is1m = size === MINUTE;
    const insert = is1m ? this.st.insert1m : this.st.insert15m;
    const publish = is1m ? this.config.publish1m : this.config.publish15m;
    const stream = is1m ? STREAM_READINGS_1M : STREAM_READINGS_15M;
    const byId = this.pointsById;
    const aggRows: unknown[] = [];
    const outRows: unknown[] = [];
    for (const bucket of buckets) {
      const m = accs.get(bucket)!;
      for (const [pointId, a] of m) {
        const has = a.count > 0;
        const quality = a.count === a.samples ? 'good' : a.count > 0 ? 'partial' : (a.badQuality ?? 'comm-error');
        const mean = has ? a.sum / a.count : null;
        aggRows.push(bucket, pointId, has ? a.min : null, has ? a.max : null, mean, a.last, a.count, a.samples, quality, a.delta ?? null, a.deltaFlag ?? null);
        if (publish) {
          // The record's JSON is built as text (fields in the order of readings-1m.v1: device,
          // point, canonical?, unit?, min, max, mean, last, count, samples, quality, delta?,
          // deltaFlag?); quality and flags are fixed tokens, numbers as JSON.stringify prints them.
          const p = byId.get(pointId)!;
          let body =
            (p.json ??= pointJson(p)) +
            `,"min":${has ? jnum(a.min) : 'null'},"max":${has ? jnum(a.max) : 'null'},"mean":${jnum(mean)},"last":${jnum(a.last)},"count":${a.count},"samples":${a.samples},"quality":"${quality}"`;
          if (a.delta !== undefined) body += `,"delta":${jnum(a.delta)}${a.deltaFlag ? `,"deltaFlag":"${a.deltaFlag}"` : ''}`;
          this.enqueueBodyInTx(stream, body, bucket, outRows);
        }
      }
      if (is1m) for (const [pointId, a] of m) this.fold(bucket, pointId, a);
      accs.delete(bucket);
      if (is1m) this.closed1mBefore = Math.max(this.closed1mBefore, bucket + size);
      else this.closed15mBefore = Math.max(this.closed15mBefore, bucket + size);
    }
    this.insertChunked(insert, is1m ? this.st.insert1mMany : this.st.insert15mMany, 11, aggRows);
    this.insertChunked(this.st.insertOutbox, this.st.insertOutboxMany, 6, outRows);
    this.st.setMeta.run(is1m ? 'closed1mBefore' : 'closed15mBefore', String(is1m ? this.closed1mBefore : this.closed15mBefore));
  }

  // ------------------------------------------------------------------ state on open

  /** Forget the in-memory state and rebuild it from the database (after a failed transaction). */
  private reloadState(): void {
    try {
      this.points.clear();
      this.pointsById.clear();
      this.counterLast.clear();
      this.acc1m.clear();
      this.acc15m.clear();
      this.seqs.clear();
      this.dirtySeqs.clear();
      this.outboxCounts.clear();
      this.pendingForeign.clear();
      this.rawParams.length = 0;
      this.loadState();
    } catch (err) {
      this.log.error({ err }, 'store state could not be reloaded after a failed write; retried after the next failure');
    }
  }

  private loadState(): void {
    const db = this.db;
    for (const p of db.prepare('SELECT id, device, point, canonical, unit FROM points').all() as {
      id: number;
      device: string;
      point: string;
      canonical: string | null;
      unit: string | null;
    }[]) {
      const info: PointInfo = {
        id: p.id,
        device: p.device,
        point: p.point,
        canonical: p.canonical ?? undefined,
        unit: p.unit ?? undefined,
        counter: this.isCounter(p.device, p.point, p.canonical ?? undefined),
      };
      let dev = this.points.get(p.device);
      if (!dev) this.points.set(p.device, (dev = new Map()));
      dev.set(p.point, info);
      this.pointsById.set(p.id, info);
    }
    for (const c of db.prepare('SELECT point_id, value, ts FROM counter_last').all() as { point_id: number; value: number; ts: number }[]) {
      this.counterLast.set(c.point_id, { value: c.value, ts: c.ts });
    }
    for (const s of db.prepare('SELECT stream, last_seq FROM outbox_seq').all() as { stream: string; last_seq: number }[]) {
      this.seqs.set(s.stream, s.last_seq);
    }
    for (const s of db.prepare('SELECT stream, count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox GROUP BY stream').all() as {
      stream: string;
      n: number;
      b: number;
    }[]) {
      this.outboxCounts.set(s.stream, { records: s.n, bytes: s.b });
    }
    this.closed1mBefore = Number(this.st.getMeta.get('closed1mBefore') ?? 0);
    this.closed15mBefore = Number(this.st.getMeta.get('closed15mBefore') ?? 0);
    // Rebuild the open buckets: 1-minute from raw readings (and energy deltas) written before the
    // last flush or crash, 15-minute from the closed 1-minute aggregates of the open quarter hour.
    const qualities: Quality[] = ['good', 'stale', 'comm-error', 'out-of-range'];
    const rows = db
      .prepare('SELECT ts, point_id, value, quality FROM readings_raw WHERE rowid >= ? AND ts >= ? ORDER BY rowid')
      .iterate(this.rawRowidAt(this.closed1mBefore), this.closed1mBefore) as IterableIterator<{ ts: number; point_id: number; value: number | null; quality: number }>;
    for (const r of rows) {
      const q = qualities[r.quality] ?? 'comm-error';
      this.accumulate(this.acc1m, MINUTE, this.closed1mBefore, r.point_id, { ts: r.ts, quality: q }, q === 'good' ? r.value : null, undefined);
    }
    const energy = db.prepare('SELECT bucket, point_id, delta, flag FROM energy_deltas WHERE bucket >= ?').all(this.closed1mBefore) as {
      bucket: number;
      point_id: number;
      delta: number;
      flag: CounterFlag | null;
    }[];
    for (const e of energy) {
      let m = this.acc1m.get(e.bucket);
      if (!m) this.acc1m.set(e.bucket, (m = new Map()));
      let a = m.get(e.point_id);
      if (!a) m.set(e.point_id, (a = emptyAcc()));
      a.delta = (a.delta ?? 0) + e.delta;
      if (e.flag && (e.flag !== 'first' || !a.deltaFlag)) a.deltaFlag = e.flag;
    }
    const ones = db
      .prepare('SELECT bucket, point_id, min, max, mean, last, count, samples, quality, delta, delta_flag FROM readings_1m WHERE bucket >= ? AND bucket < ? ORDER BY bucket')
      .all(this.closed15mBefore, this.closed1mBefore) as {
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
    for (const o of ones) {
      const a: Acc = {
        min: o.min ?? Infinity,
        max: o.max ?? -Infinity,
        sum: (o.mean ?? 0) * o.count,
        count: o.count,
        samples: o.samples,
        last: o.last,
        lastTs: o.bucket,
        badQuality: o.quality === 'good' || o.quality === 'partial' ? undefined : (o.quality as Quality),
        delta: o.delta ?? undefined,
        deltaFlag: o.delta_flag ?? undefined,
      };
      this.fold(o.bucket, o.point_id, a);
    }
  }

  private loadCounters(): DropCounters {
    const rows = this.db.prepare('SELECT name, value FROM store_counters').all() as { name: string; value: number }[];
    const d: DropCounters = {
      rawByCap: 0,
      oneMinuteByCap: 0,
      fifteenMinuteByCap: 0,
      energyByCap: 0,
      outboxByCap: {},
      readingsOnError: 0,
      lateReadings: 0,
    };
    for (const { name, value } of rows) {
      if (name.startsWith('outboxByCap:')) d.outboxByCap[name.slice('outboxByCap:'.length)] = value;
      else if (name in d && name !== 'outboxByCap') (d as unknown as Record<string, number>)[name] = value;
    }
    return d;
  }

  private saveCounters(): void {
    const d = this.dropped;
    for (const [k, v] of Object.entries(d)) {
      if (k === 'outboxByCap') continue;
      this.st.setCounter.run(k, v as number);
    }
    for (const [s, v] of Object.entries(d.outboxByCap)) this.st.setCounter.run(`outboxByCap:${s}`, v);
  }

  private bumpCounter(name: string, by: number): void {
    this.db.prepare('INSERT INTO store_counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value').run(name, by);
  }

  // ------------------------------------------------------------------ outbox

  /**
   * OutboxWriter: commit one record on `stream` (synchronous=FULL); durable when it returns.
   *
   * May be called inside another part's transaction on `this.db` (`db.transaction(() => {
   * store.enqueue(...); markSent(); })()`): the record then commits or rolls back with that
   * transaction (better-sqlite3 nests ours as a savepoint), which is how a part makes "enqueued"
   * and its own bookkeeping one atomic step. A rolled-back enqueue consumes no sequence number.
   */
  enqueue(stream: string, record: Record<string, unknown>): { seq: number } {
    if (this.closed) throw new Error('store is closed');
    this.settleForeign();
    const foreign = this.db.inTransaction;
    let seq: number;
    try {
      seq = this.withSync('FULL', () =>
        this.db.transaction(() => {
          this.seqFromDb(stream);
          const n = this.enqueueInTx(stream, record);
          this.writeSeqs();
          return n;
        })(),
      );
    } catch (err) {
      this.afterFailedEnqueue(stream, foreign);
      throw err;
    }
    this.afterEnqueue(stream, foreign);
    return { seq };
  }

  /** Commit many records on `stream` in one FULL transaction; returns the last seq. Same transaction rules as enqueue(). */
  enqueueMany(stream: string, records: Iterable<Record<string, unknown>>): { lastSeq: number } {
    if (this.closed) throw new Error('store is closed');
    this.settleForeign();
    const foreign = this.db.inTransaction;
    let lastSeq: number;
    try {
      lastSeq = this.withSync('FULL', () =>
        this.db.transaction(() => {
          let seq = this.seqFromDb(stream);
          for (const r of records) seq = this.enqueueInTx(stream, r);
          this.writeSeqs();
          return seq;
        })(),
      );
    } catch (err) {
      this.afterFailedEnqueue(stream, foreign);
      throw err;
    }
    this.afterEnqueue(stream, foreign);
    return { lastSeq };
  }

  /**
   * Streams enqueued inside a transaction the store does not own: whether it committed is known
   * only once it has ended. Until then the in-memory sequence numbers and backlog counts of these
   * streams are provisional; settleForeign() re-reads them from the database.
   */
  private readonly pendingForeign = new Set<string>();
  private settleScheduled = false;

  /** The stream's last committed (or, inside a transaction, visible) seq, into memory. */
  private seqFromDb(stream: string): number {
    const last = (this.st.getSeq.get(stream) as number | undefined) ?? 0;
    if (last > 0) this.seqs.set(stream, last);
    else this.seqs.delete(stream);
    return last;
  }

  private afterEnqueue(stream: string, foreign: boolean): void {
    if (!foreign) {
      this.notifyEnqueued(stream);
      return;
    }
    this.pendingForeign.add(stream);
    this.scheduleSettle();
  }

  private afterFailedEnqueue(stream: string, foreign: boolean): void {
    if (foreign) {
      this.pendingForeign.add(stream);
      this.scheduleSettle();
    } else this.resyncStream(stream);
  }

  private scheduleSettle(): void {
    if (this.settleScheduled) return;
    this.settleScheduled = true;
    setImmediate(() => {
      this.settleScheduled = false;
      if (this.closed) return;
      if (this.db.inTransaction) this.scheduleSettle();
      else this.settleForeign();
    });
  }

  /** After foreign transactions ended: sequence numbers and counts from what actually committed; wake the uplink. */
  private settleForeign(): void {
    if (this.pendingForeign.size === 0 || this.closed || this.db.inTransaction) return;
    const streams = [...this.pendingForeign];
    this.pendingForeign.clear();
    for (const s of streams) {
      try {
        this.resyncStream(s);
      } catch (err) {
        this.log.error({ err, stream: s }, 'could not re-read outbox state');
        this.pendingForeign.add(s);
      }
    }
    for (const s of streams) this.notifyEnqueued(s);
  }

  /** In-memory last seq and backlog counts of `stream` from the database. */
  private resyncStream(stream: string): void {
    this.seqFromDb(stream);
    this.dirtySeqs.delete(stream);
    const c = this.st.countOutbox.get(stream) as { n: number; b: number };
    if (c.n > 0 || this.outboxCounts.has(stream)) this.outboxCounts.set(stream, { records: c.n, bytes: c.b });
  }

  /** Inside the transaction that enqueued: persist the streams' last sequence numbers. */
  private writeSeqs(): void {
    for (const stream of this.dirtySeqs) this.st.setSeq.run(stream, this.seqs.get(stream)!);
    this.dirtySeqs.clear();
  }

  /** `"<gateway>/<stream>/` as a JSON string start, per stream (names checked once). */
  private readonly idHeads = new Map<string, string>();

  private idHead(stream: string): string {
    let h = this.idHeads.get(stream);
    if (h === undefined) {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(stream)) throw new Error(`invalid stream name '${stream}' (lower-case letters, digits, '-')`);
      h = JSON.stringify(`${this.gatewayId}/${stream}/`).slice(0, -1);
      this.idHeads.set(stream, h);
    }
    return h;
  }

  /** Inside an open transaction: assign the next sequence number and insert the record. */
  private enqueueInTx(stream: string, record: Record<string, unknown>, recordTs?: number, sink?: unknown[]): number {
    const ts = recordTs ?? (typeof record.ts === 'number' && Number.isFinite(record.ts) ? record.ts : this.clock.now());
    let body: string;
    if ('id' in record || 'seq' in record || 'ts' in record) {
      const { id: _i, seq: _s, ts: _t, ...rest } = record;
      body = JSON.stringify(rest);
    } else body = JSON.stringify(record);
    return this.enqueueBodyInTx(stream, body.length > 2 ? `,${body.slice(1, -1)}` : '', ts, sink);
  }

  /**
   * Inside an open transaction: the record `{"id","seq","ts"` + `body` + `}` (`body`: the other
   * fields as JSON text, starting with a comma, or empty) with the next sequence number.
   */
  private enqueueBodyInTx(stream: string, body: string, ts: number, sink?: unknown[]): number {
    const head = this.idHead(stream);
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    const now = this.clock.now();
    const payload = `{"id":${head}${seq}","seq":${seq},"ts":${ts}${body}}`;
    const bytes = Buffer.byteLength(payload);
    if (sink) sink.push(stream, seq, ts, now, bytes, payload);
    else this.st.insertOutbox.run(stream, seq, ts, now, bytes, payload);
    this.seqs.set(stream, seq);
    this.dirtySeqs.add(stream);
    const c = this.outboxCounts.get(stream) ?? { records: 0, bytes: 0 };
    c.records++;
    c.bytes += bytes;
    this.outboxCounts.set(stream, c);
    return seq;
  }

  /** Streams that have ever had a record. */
  streams(): string[] {
    this.settleForeign();
    return [...this.seqs.keys()].sort();
  }

  lastSeq(stream: string): number {
    this.settleForeign();
    return this.seqs.get(stream) ?? 0;
  }

  /** Unsent records of `stream` after `afterSeq` (and up to `upToSeq`), in sequence order. */
  readOutbox(stream: string, afterSeq: number, limit: number, upToSeq?: number): OutboxRow[] {
    if (this.closed) return [];
    this.settleForeign();
    return (
      upToSeq === undefined ? this.st.readOutbox.all(stream, afterSeq, limit) : this.st.readOutboxUpTo.all(stream, afterSeq, upToSeq, limit)
    ) as OutboxRow[];
  }

  /** Delete acknowledged records (after PUBACK). NORMAL sync: a lost delete only re-sends a duplicate. */
  ack(items: { stream: string; seqs: number[] }[]): void {
    if (this.closed || items.length === 0) return;
    this.withSync('NORMAL', () =>
      this.db.transaction(() => {
        for (const { stream, seqs } of items) {
          const c = this.outboxCounts.get(stream);
          // Contiguous runs of seqs are deleted with one range statement each.
          let i = 0;
          while (i < seqs.length) {
            let j = i;
            while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
            const r = this.st.deleteOutboxRange.get(stream, seqs[i], seqs[j]) as { n: number; b: number | null };
            this.st.deleteOutboxRangeExec.run(stream, seqs[i], seqs[j]);
            if (c) {
              c.records -= r.n;
              c.bytes -= r.b ?? 0;
            }
            i = j + 1;
          }
        }
      })(),
    );
    for (const fn of this.ackListeners) fn();
  }

  /** Called after records are enqueued (the uplink wakes up). */
  onEnqueue(fn: (stream: string) => void): () => void {
    this.enqueueListeners.add(fn);
    return () => this.enqueueListeners.delete(fn);
  }

  private notifyEnqueued(stream: string): void {
    for (const fn of this.enqueueListeners) {
      try {
        fn(stream);
      } catch (err) {
        this.log.error({ err }, 'enqueue listener failed');
      }
    }
  }

  outboxStats(): OutboxStats {
    this.settleForeign();
    let records = 0;
    let bytes = 0;
    let oldest: number | undefined;
    const byStream: OutboxStats['byStream'] = {};
    for (const [stream, c] of this.outboxCounts) {
      records += c.records;
      bytes += c.bytes;
      byStream[stream] = { records: c.records, bytes: c.bytes, lastSeq: this.seqs.get(stream) ?? 0 };
      if (c.records > 0 && !this.closed) {
        const row = this.st.oldestOutbox.get(stream) as { created: number } | undefined;
        if (row && (oldest === undefined || row.created < oldest)) oldest = row.created;
      }
    }
    return { records, bytes, oldestCreated: oldest, byStream };
  }

  // ------------------------------------------------------------------ retention and byte cap

  /**
   * Smallest rowid of readings_raw whose ts is >= `ts` (rows are appended in time order: binary
   * search over rowids, O(log n) lookups, no ts index to maintain on every insert).
   */
  rawRowidAt(ts: number): number {
    const bounds = this.db.prepare('SELECT min(rowid) AS lo, max(rowid) AS hi FROM readings_raw').get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return 0;
    const at = this.db.prepare('SELECT rowid, ts FROM readings_raw WHERE rowid >= ? ORDER BY rowid LIMIT 1');
    let lo = bounds.lo;
    let hi = bounds.hi + 1; // answer in [lo, hi]
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = at.get(mid) as { rowid: number; ts: number } | undefined;
      if (!row) {
        hi = mid;
        continue;
      }
      if (row.ts >= ts) hi = mid;
      else lo = row.rowid + 1;
    }
    return lo;
  }

  /** Bytes used by the database's live pages (what the byte cap limits). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return ((this.st.pageCount.get() as number) - (this.st.freelist.get() as number)) * pageSize;
  }

  private fileBytes(): number {
    let total = 0;
    for (const s of ['', '-wal']) {
      try {
        total += fs.statSync(this.file + s).size;
      } catch {
        /* absent */
      }
    }
    return total;
  }

  /** Age-based retention and the byte cap; then give free pages back to the file system. */
  maintain(now = this.clock.now()): void {
    if (this.closed) return;
    try {
      const r = this.config.retention;
      const protect = this.closed1mBefore || now;
      this.withSync('NORMAL', () =>
        this.db.transaction(() => {
          this.db.prepare('DELETE FROM readings_raw WHERE rowid < ?').run(this.rawRowidAt(Math.min(now - r.rawMs, protect)));
          this.db.prepare('DELETE FROM readings_1m WHERE bucket < ?').run(Math.min(now - r.oneMinuteMs, this.closed15mBefore || now));
          this.db.prepare('DELETE FROM readings_15m WHERE bucket < ?').run(now - r.fifteenMinuteMs);
          this.db.prepare('DELETE FROM energy_deltas WHERE bucket < ?').run(Math.min(now - r.energyMs, protect));
        })(),
      );
      this.enforceCap(now);
      this.db.pragma('incremental_vacuum');
    } catch (err) {
      this.log.error({ err }, 'store maintenance failed; retried at the next interval');
    }
  }

  private enforceCapSafe(): void {
    try {
      this.enforceCap(this.clock.now());
    } catch (err) {
      this.log.error({ err }, 'byte cap enforcement failed');
    }
  }

  /**
   * Overflow policy when the used bytes exceed `maxBytes`: delete down to 90 % of the cap, in
   * this order, oldest first, counting every dropped row:
   * 1. raw readings (except those of still-open aggregate buckets);
   * 2. local 1-minute aggregates; 3. energy deltas (closed buckets);
   * 4. unsent `readings-1m` outbox records;
   * 5. local 15-minute aggregates;
   * 6. unsent records of other streams (readings-15m, carbon-*, decision...), oldest across streams.
   * `store-stats` records (which report the drops) are never dropped.
   */
  private enforceCap(now: number): void {
    const max = this.config.maxBytes;
    if (this.usedBytes() <= max) {
      this.capWarned = false;
      return;
    }
    const target = Math.floor(max * 0.9);
    const chunk = 2000;
    // Never dropped: raw readings of the open minute, 1-minute rows of the open quarter hour
    // (they rebuild open buckets after a restart).
    const protect = this.closed1mBefore || now;
    const protect15 = this.closed15mBefore || now;
    const before = { ...this.dropped, outboxByCap: { ...this.dropped.outboxByCap } };
    const steps: (() => number)[] = [
      () =>
        this.dropRows(
          'DELETE FROM readings_raw WHERE rowid IN (SELECT rowid FROM readings_raw WHERE rowid < ? ORDER BY rowid LIMIT ?)',
          [this.rawRowidAt(protect), chunk],
          'rawByCap',
        ),
      () =>
        this.dropRows(
          'DELETE FROM readings_1m WHERE (bucket, point_id) IN (SELECT bucket, point_id FROM readings_1m WHERE bucket < ? ORDER BY bucket LIMIT ?)',
          [protect15, chunk],
          'oneMinuteByCap',
        ),
      () =>
        this.dropRows(
          'DELETE FROM energy_deltas WHERE (bucket, point_id) IN (SELECT bucket, point_id FROM energy_deltas WHERE bucket < ? ORDER BY bucket LIMIT ?)',
          [protect, chunk],
          'energyByCap',
        ),
      () => this.dropOutbox(STREAM_READINGS_1M, chunk),
      () =>
        this.dropRows(
          'DELETE FROM readings_15m WHERE (bucket, point_id) IN (SELECT bucket, point_id FROM readings_15m ORDER BY bucket LIMIT ?)',
          [chunk],
          'fifteenMinuteByCap',
        ),
      () => this.dropOldestOtherOutbox(chunk),
    ];
    let step = 0;
    while (this.usedBytes() > target && step < steps.length) {
      const n = steps[step]!();
      if (n === 0) step++;
    }
    const droppedSomething = JSON.stringify(before) !== JSON.stringify(this.dropped);
    if (droppedSomething) {
      this.withSync('FULL', () => this.db.transaction(() => this.saveCounters())());
      this.log.warn({ usedBytes: this.usedBytes(), maxBytes: max, dropped: this.dropped }, 'store byte cap reached: oldest data dropped by policy');
      this.enqueueStats();
    }
    if (this.usedBytes() > max && !this.capWarned) {
      this.capWarned = true;
      this.log.error({ usedBytes: this.usedBytes(), maxBytes: max }, 'store is over its byte cap with nothing left that the policy may drop');
    }
  }

  private dropRows(sql: string, params: unknown[], counter: Exclude<keyof DropCounters, 'outboxByCap'>): number {
    const n = this.withSync('NORMAL', () => this.db.prepare(sql).run(...params).changes);
    this.dropped[counter] += n;
    return n;
  }

  private dropOutbox(stream: string, limit: number): number {
    const rows = this.withSync('NORMAL', () =>
      this.db
        .prepare('DELETE FROM outbox WHERE stream = ? AND seq IN (SELECT seq FROM outbox WHERE stream = ? ORDER BY seq LIMIT ?) RETURNING bytes')
        .all(stream, stream, limit),
    ) as { bytes: number }[];
    if (rows.length) {
      const c = this.outboxCounts.get(stream);
      if (c) {
        c.records -= rows.length;
        for (const r of rows) c.bytes -= r.bytes;
      }
      this.dropped.outboxByCap[stream] = (this.dropped.outboxByCap[stream] ?? 0) + rows.length;
      for (const fn of this.ackListeners) fn();
    }
    return rows.length;
  }

  private dropOldestOtherOutbox(limit: number): number {
    const row = this.db
      .prepare(`SELECT stream FROM outbox WHERE stream NOT IN (?, ?) ORDER BY created LIMIT 1`)
      .get(STREAM_READINGS_1M, STREAM_STORE_STATS) as { stream: string } | undefined;
    if (!row) return 0;
    return this.dropOutbox(row.stream, Math.min(limit, 500));
  }

  /** Called when records leave the outbox (ack or drop): the uplink re-reads its cursors. */
  onOutboxShrink(fn: () => void): () => void {
    this.ackListeners.add(fn);
    return () => this.ackListeners.delete(fn);
  }

  // ------------------------------------------------------------------ stats

  stats(): StoreStats {
    return {
      file: this.file,
      usedBytes: this.closed ? 0 : this.usedBytes(),
      fileBytes: this.fileBytes(),
      maxBytes: this.config.maxBytes,
      dropped: { ...this.dropped, outboxByCap: { ...this.dropped.outboxByCap } },
      outbox: this.outboxStats(),
      readingsPersisted: this.readingsPersisted,
      corruption: this.corruption,
    };
  }

  /** Enqueue a `store-stats` record (drop counters, sizes, backlog): how drops are reported upstream. */
  enqueueStats(extra: Record<string, unknown> = {}): void {
    if (this.closed) return;
    try {
      const s = this.stats();
      this.enqueue(STREAM_STORE_STATS, {
        ts: this.clock.now(),
        site: this.siteId,
        usedBytes: s.usedBytes,
        fileBytes: s.fileBytes,
        maxBytes: s.maxBytes,
        dropped: s.dropped,
        backlog: { records: s.outbox.records, bytes: s.outbox.bytes },
        ...extra,
      });
    } catch (err) {
      this.log.error({ err }, 'could not enqueue store-stats');
    }
  }

  // ------------------------------------------------------------------ helpers

  private currentSync: 'FULL' | 'NORMAL' = 'FULL';

  private withSync<T>(level: 'FULL' | 'NORMAL', fn: () => T): T {
    if (this.db.inTransaction || level === this.currentSync) return fn();
    this.db.pragma(`synchronous = ${level}`);
    this.currentSync = level;
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
      this.currentSync = 'FULL';
    }
  }
}
