import path from 'node:path';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { DB_FILE_NAME, openDatabase, type CorruptionReport, type DB, type Persistence, type ZeroLengthReport } from '../persistence/database.js';
import type { Clock, Reading } from '../types.js';
import { systemClock } from '../types.js';
import { Aggregator, MINUTE, accFromSummary, type ClosedBucket } from './aggregator.js';
import { resolveStoreConfig, type ResolvedStoreConfig, type StoreConfig } from './config-schema.js';
import { counterLookup, MeteringStage, type MeterEvent } from '../metering/stage.js';
import { STORE_MIGRATIONS } from './migrations.js';
import { PointsCatalog } from './points.js';
import { QUALITY_CODE, RAW_CHUNK, StoreRepository } from './repository.js';
import { Retention, walBudget, STREAM_READINGS_15M, STREAM_READINGS_1M, STREAM_STORE_STATS, copyDropCounters, loadDropCounters, type DropCounters } from './retention.js';
import { summaryBody } from './summary-json.js';
import type { OutboxStats } from '../outbox/outbox.js';
import type { LoopBeat } from '../supervision/liveness.js';

/** Re-exported for existing importers; the site database's file name lives with runtime/persistence. */
export { DB_FILE_NAME } from '../persistence/database.js';

export interface StoreStats {
  file: string;
  usedBytes: number;
  fileBytes: number;
  maxBytes: number;
  dropped: DropCounters;
  outbox: OutboxStats;
  readingsPersisted: number;
  /** The database's store epoch (part of every record id); undefined for a legacy database. */
  storeEpoch?: string;
  corruption?: CorruptionReport;
  zeroLength?: ZeroLengthReport;
}

export interface StoreOptions {
  dataDir: string;
  /** The site database (shared with the other parts); default: the store opens `file` itself with its own migrations. */
  persistence?: Persistence;
  /** Default `<dataDir>/carbonedge.db` (when the store opens the database itself). */
  file?: string;
  siteId: string;
  gatewayId: string;
  config?: StoreConfig;
  clock?: Clock;
  logger?: Logger;
  /**
   * The gateway's metering stage (runtime/metering): counter deltas come as its events, the same
   * ones accounting books. Default: the store's own stage, for a store used alone.
   */
  metering?: MeteringStage;
  /** The flush loop in the liveness registry (runtime/supervision/liveness.ts): a beat per flush that returned. */
  liveness?: LoopBeat;
}

/**
 * The local store, a flush coordinator: buffers readings from the hub and writes them in one unit
 * of work per flush (raw readings, energy deltas from counters, aggregate buckets closed by the
 * Aggregator and their summaries on the outbox), and runs retention and the byte cap.
 *
 * Durability: flushes that enqueue commit at `synchronous=FULL`; flushes that write nothing but
 * raw readings/aggregates, and deletions of acknowledged outbox rows, run at NORMAL: a power cut
 * may lose the newest raw readings (re-read anyway) or re-send acknowledged records
 * (deduplicated by id), never lose an outbox record.
 */
export class Store {
  readonly persistence: Persistence;
  readonly outbox: SqliteOutbox;
  readonly config: ResolvedStoreConfig;
  private readonly ownsPersistence: boolean;
  private readonly repo: StoreRepository;
  private readonly points: PointsCatalog;
  private aggregator: Aggregator;
  private readonly retention: Retention;
  private readonly dropped: DropCounters;
  /** Decides counter deltas; `ownStage` when the store runs without the gateway's metering stage. */
  private readonly stage: MeteringStage;
  private readonly ownStage: boolean;
  private events: MeterEvent[] = [];
  private readonly clock: Clock;
  private readonly log: Logger;
  private buffer: Reading[] = [];
  private readonly rawParams: unknown[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readingsPersisted = 0;
  private closed = false;
  private restored = false;

  constructor(private readonly opts: StoreOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.config = resolveStoreConfig(opts.config);
    this.ownsPersistence = !opts.persistence;
    this.persistence =
      opts.persistence ??
      openDatabase({ file: opts.file ?? path.join(opts.dataDir, DB_FILE_NAME), migrations: [STORE_MIGRATIONS], logger: this.log, now: this.clock.now() });
    // The WAL counts against the byte cap: keep it small beside a small cap.
    this.persistence.limitWal(walBudget(this.config.maxBytes));
    this.repo = new StoreRepository(this.persistence);
    this.outbox = new SqliteOutbox(this.persistence, { gatewayId: opts.gatewayId, clock: this.clock, logger: this.log });
    this.points = new PointsCatalog(this.repo, this.config.counterPoints);
    this.ownStage = !opts.metering;
    this.stage = opts.metering ?? new MeteringStage(counterLookup(this.config.counterPoints, this.config.counterOptions));
    this.aggregator = new Aggregator(this.config.closeGraceMs);
    this.dropped = loadDropCounters(this.repo);
    this.retention = new Retention(this.persistence, this.repo, this.outbox, this.config, this.dropped, this.log);
    this.loadState();
    if (this.corruption) {
      this.repo.bumpCounter('corruptRecoveries', 1);
      this.enqueueStats({ corruption: this.corruption });
    } else if (this.persistence.zeroLength) {
      this.enqueueStats({ zeroLength: this.persistence.zeroLength });
    }
  }

  /** The connection, for inspection in tests and tools (parts use repositories). */
  get db(): DB {
    return this.persistence.db;
  }

  get file(): string {
    return this.persistence.file;
  }

  get corruption(): CorruptionReport | undefined {
    return this.persistence.corruption;
  }

  /** Start the flush, retention and statistics timers. */
  start(): void {
    const c = this.config;
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    const beat = this.opts.liveness;
    beat?.beat(c.flushIntervalMs);
    every(c.flushIntervalMs, () => {
      this.flush();
      beat?.beat(c.flushIntervalMs);
    });
    every(c.maintenanceIntervalMs, () => this.maintain());
    if (c.statsIntervalMs > 0) every(c.statsIntervalMs, () => this.enqueueStats());
  }

  /** Flush what is buffered (and close the database if the store opened it). Open buckets are rebuilt from raw readings on the next start. */
  close(): void {
    if (this.closed) return;
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.opts.liveness?.close();
    this.flush();
    this.closed = true;
    if (this.ownsPersistence) this.persistence.close();
  }

  /**
   * Buffer readings and the metering stage's events for them (the metering listener); written at
   * the next flush, or now if the buffer is full. Without `events` (a store used alone), the
   * store's own stage decides them.
   */
  ingest(batch: readonly Reading[], events?: readonly MeterEvent[]): void {
    if (this.closed) return;
    for (const r of batch) this.buffer.push(r);
    for (const e of events ?? (this.ownStage ? this.stage.process(batch) : [])) this.events.push(e);
    if (this.buffer.length >= this.config.flushMaxRows) this.flush();
  }

  /**
   * Write buffered readings in one unit of work, update aggregates and counter deltas, and close
   * (persist + enqueue) aggregate buckets that ended more than `closeGraceMs` ago.
   */
  flush(now = this.clock.now()): void {
    if (this.closed) return;
    if (this.persistence.inUnitOfWork) {
      // Called (through ingest) inside another part's unit of work: our writes would commit or
      // roll back with it. Flush right after it instead.
      setImmediate(() => this.flush());
      return;
    }
    this.outbox.settle();
    const batch = this.buffer;
    const events = this.events;
    this.buffer = [];
    this.events = [];
    let minTs = Infinity;
    for (const r of batch) if (r.ts < minTs) minTs = r.ts;
    for (const e of events) if (e.bucketTs < minTs) minTs = e.bucketTs;
    const anyDue = this.aggregator.due(now, minTs);
    if (batch.length === 0 && !anyDue) return;
    const touchesOutbox = anyDue && (this.config.publish1m || this.config.publish15m);
    try {
      this.persistence.withSynchronous(touchesOutbox ? 'FULL' : 'NORMAL', () =>
        this.persistence.unitOfWork(() => {
          for (const r of batch) this.writeReading(r);
          this.flushRaw();
          for (const e of events) this.writeDelta(e);
          this.persistClosed(this.aggregator.close(now));
          this.outbox.writeStaged();
        }),
      );
      this.readingsPersisted += batch.length;
      if (touchesOutbox) this.outbox.notifyEnqueued(STREAM_READINGS_1M);
    } catch (err) {
      this.dropped.readingsOnError += batch.length;
      this.log.error({ err, readings: batch.length }, 'store flush failed; these readings are dropped (counted), the gateway keeps running');
      // The unit of work rolled back, but the flush had already moved the in-memory state on
      // (sequence numbers, closed buckets, new point ids, counter baselines): start again from
      // what is committed, as after a restart, so no sequence number is skipped or reused.
      this.reloadState();
    }
    this.enforceCap();
  }

  private writeReading(r: Reading): void {
    const p = this.points.pointFor(r);
    const v = r.value;
    const num = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : null;
    const finite = num !== null && Number.isFinite(num) ? num : null;
    this.rawParams.push(r.ts, p.id, finite, typeof v === 'string' ? v : null, QUALITY_CODE[r.quality] ?? 2);
    if (this.rawParams.length === RAW_CHUNK * 5) this.flushRaw();
    const good = r.quality === 'good' ? finite : null;
    const text = r.quality === 'good' && typeof v === 'string' ? v : undefined;
    if (!this.aggregator.add(p.id, r.ts, r.quality, good, undefined, text) && r.quality !== 'stale') {
      // The hub re-publishes an expired value as `stale` with its original time: not a late reading.
      this.dropped.lateReadings++;
    }
  }

  /**
   * A counter delta decided by the metering stage: into the 1-minute bucket of its booking instant
   * (or, when that bucket has closed already, the oldest open one: never lost), with the new baseline.
   */
  private writeDelta(e: MeterEvent): void {
    const p = this.points.pointFor(e);
    const bucket = Math.max(Math.floor(e.bucketTs / MINUTE) * MINUTE, this.aggregator.closed1mBefore);
    if (e.flag === 'reset' || e.flag === 'implausible') {
      this.log.warn({ device: e.device, point: e.point, prevTs: e.prevTs, value: e.value, flag: e.flag }, 'counter discontinuity: delta 0, new baseline');
    } else if (e.flag && e.flag !== 'first') this.log.info({ device: e.device, point: e.point, value: e.value, flag: e.flag }, `counter ${e.flag}`);
    this.repo.recordCounter(bucket, p.id, e.delta, e.prevTs ?? e.ts, e.value, e.ts, e.flag);
    this.aggregator.addDelta(bucket, p.id, e.delta, e.flag);
  }

  private flushRaw(): void {
    this.repo.insertRaw(this.rawParams);
    this.rawParams.length = 0;
  }

  /** Inside the flush's unit of work: closed buckets to their tables and (if published) the outbox. */
  private persistClosed(closed: ClosedBucket[]): void {
    if (!closed.length) return;
    const rows: Record<'1m' | '15m', unknown[]> = { '1m': [], '15m': [] };
    for (const c of closed) {
      const is1m = c.size === MINUTE;
      const publish = is1m ? this.config.publish1m : this.config.publish15m;
      for (const [pointId, s] of c.points) {
        StoreRepository.aggregateParams(rows[is1m ? '1m' : '15m'], c.bucket, pointId, s);
        if (publish) this.outbox.stage(is1m ? STREAM_READINGS_1M : STREAM_READINGS_15M, summaryBody(this.points.json(this.points.byIdOrThrow(pointId)), s), c.bucket);
      }
    }
    this.repo.insertAggregates(false, rows['1m']);
    this.repo.insertAggregates(true, rows['15m']);
    if (rows['1m'].length) this.repo.setMeta('closed1mBefore', String(this.aggregator.closed1mBefore));
    if (rows['15m'].length) this.repo.setMeta('closed15mBefore', String(this.aggregator.closed15mBefore));
  }

  /** Age-based retention and the byte cap; then give free pages back to the file system. */
  maintain(now = this.clock.now()): void {
    if (this.closed) return;
    try {
      this.retention.applyRetention(now, this.aggregator);
      this.enforceCap(now);
      this.persistence.releaseFreePages();
    } catch (err) {
      this.log.error({ err }, 'store maintenance failed; retried at the next interval');
    }
  }

  private enforceCap(now = this.clock.now()): void {
    try {
      if (this.retention.enforceCap(now, this.aggregator)) this.enqueueStats();
    } catch (err) {
      this.log.error({ err }, 'byte cap enforcement failed');
    }
  }

  stats(): StoreStats {
    return {
      file: this.file,
      usedBytes: this.persistence.isOpen ? this.persistence.usedBytes() : 0,
      fileBytes: this.persistence.fileBytes(),
      maxBytes: this.config.maxBytes,
      dropped: copyDropCounters(this.dropped),
      outbox: this.outbox.outboxStats(),
      readingsPersisted: this.readingsPersisted,
      storeEpoch: this.persistence.epoch,
      corruption: this.corruption,
      zeroLength: this.persistence.zeroLength,
    };
  }

  /** Enqueue a `store-stats` record (drop counters, sizes, backlog): how drops are reported upstream. */
  enqueueStats(extra: Record<string, unknown> = {}): void {
    if (this.closed) return;
    try {
      const s = this.stats();
      this.outbox.enqueue(STREAM_STORE_STATS, {
        ts: this.clock.now(),
        site: this.opts.siteId,
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

  /** Forget the in-memory state and rebuild it from the database (after a failed unit of work). */
  private reloadState(): void {
    try {
      this.rawParams.length = 0;
      this.outbox.reload();
      this.loadState();
    } catch (err) {
      this.log.error({ err }, 'store state could not be reloaded after a failed write; retried after the next failure');
    }
  }

  /**
   * Points, counter baselines and the open buckets: 1-minute from raw readings (and energy
   * deltas) written before the last flush or crash, 15-minute from the closed 1-minute
   * aggregates of the open quarter hour.
   */
  private loadState(): void {
    this.points.load();
    // Counter baselines as of the last flush. A shared stage is restored once, at start: after a
    // failed flush its baselines stay where the other parts (accounting) saw them.
    if (this.ownStage || !this.restored) {
      this.stage.restore(this.repo.counterBaselines().flatMap(([id, c]) => {
        const p = this.points.byId(id);
        return p ? [{ device: p.device, point: p.point, value: c.value, ts: c.ts }] : [];
      }));
      this.restored = true;
    }
    const closed1mBefore = Number(this.repo.getMeta('closed1mBefore') ?? 0);
    const closed15mBefore = Number(this.repo.getMeta('closed15mBefore') ?? 0);
    const agg = (this.aggregator = new Aggregator(this.config.closeGraceMs, { closed1mBefore, closed15mBefore }));
    for (const r of this.repo.rawSince(closed1mBefore)) agg.add(r.pointId, r.ts, r.quality, r.quality === 'good' ? r.value : null, undefined, r.quality === 'good' && r.text !== null ? r.text : undefined);
    for (const e of this.repo.energySince(closed1mBefore)) agg.addDelta(e.bucket, e.pointId, e.delta, e.flag);
    for (const o of this.repo.oneMinuteBetween(closed15mBefore, closed1mBefore)) agg.fold(o.bucket, o.pointId, accFromSummary(o.bucket, o.summary));
  }
}

