import type { Logger } from '../logger.js';
import type { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import type { Persistence } from '../persistence/database.js';
import type { ResolvedStoreConfig } from './config-schema.js';
import type { StoreRepository } from './repository.js';

export const STREAM_READINGS_1M = 'readings-1m';
export const STREAM_READINGS_15M = 'readings-15m';
export const STREAM_STORE_STATS = 'store-stats';

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

export function loadDropCounters(repo: StoreRepository): DropCounters {
  const d: DropCounters = { rawByCap: 0, oneMinuteByCap: 0, fifteenMinuteByCap: 0, energyByCap: 0, outboxByCap: {}, readingsOnError: 0, lateReadings: 0 };
  for (const { name, value } of repo.counters()) {
    if (name.startsWith('outboxByCap:')) d.outboxByCap[name.slice('outboxByCap:'.length)] = value;
    else if (name === 'rawByCap' || name === 'oneMinuteByCap' || name === 'fifteenMinuteByCap' || name === 'energyByCap' || name === 'readingsOnError' || name === 'lateReadings') d[name] = value;
  }
  return d;
}

function saveDropCounters(repo: StoreRepository, d: DropCounters): void {
  for (const [k, v] of Object.entries(d)) if (typeof v === 'number') repo.setCounter(k, v);
  for (const [s, v] of Object.entries(d.outboxByCap)) repo.setCounter(`outboxByCap:${s}`, v);
}

export const copyDropCounters = (d: DropCounters): DropCounters => ({ ...d, outboxByCap: { ...d.outboxByCap } });

/** The open aggregate buckets, whose source rows are never deleted (they rebuild them after a restart). */
export interface Protected {
  /** Start of the open 1-minute buckets (raw readings and energy deltas from here on are kept). */
  closed1mBefore: number;
  /** Start of the open quarter hour (1-minute rows from here on are kept). */
  closed15mBefore: number;
}

/**
 * How large the WAL may grow beside a database capped at `maxBytes` (it counts against the cap):
 * a sixteenth of the cap, between 64 KiB and 8 MiB (SQLite's own default is ~8 MB of our pages).
 */
export function walBudget(maxBytes: number): number {
  return Math.min(8 * 1024 * 1024, Math.max(64 * 1024, Math.floor(maxBytes / 16)));
}

/** Room kept for the WAL's shared-memory index (`-shm`, 32 KiB per ~4000 WAL frames). */
const SHM_ALLOWANCE = 64 * 1024;

/** Retention by age and the byte cap. */
export class Retention {
  private capWarned = false;

  constructor(
    private readonly persistence: Persistence,
    private readonly repo: StoreRepository,
    private readonly outbox: SqliteOutbox,
    private readonly config: ResolvedStoreConfig,
    private readonly dropped: DropCounters,
    private readonly log: Logger,
  ) {}

  /** Delete rows older than their retention period (never those of open buckets). */
  applyRetention(now: number, open: Protected): void {
    const r = this.config.retention;
    const protect = open.closed1mBefore || now;
    this.persistence.withSynchronous('NORMAL', () =>
      this.persistence.unitOfWork(() => {
        this.repo.deleteRawBefore(this.repo.rawRowidAt(Math.min(now - r.rawMs, protect)));
        this.repo.deleteBucketsBefore('readings_1m', Math.min(now - r.oneMinuteMs, open.closed15mBefore || now));
        this.repo.deleteBucketsBefore('readings_15m', now - r.fifteenMinuteMs);
        this.repo.deleteBucketsBefore('energy_deltas', Math.min(now - r.energyMs, protect));
      }),
    );
  }

  /**
   * The byte cap bounds what the store occupies on disk: database file, WAL and `-shm`. The WAL
   * is checkpointed (TRUNCATE) once it outgrows its budget (walBudget()); the database's live
   * pages get the rest (`maxBytes` - WAL budget - shm allowance). Overflow policy when the live
   * pages exceed that: delete down to 90 % of it, in this order, oldest first, counting every
   * dropped row:
   * 1. raw readings (except those of still-open aggregate buckets);
   * 2. local 1-minute aggregates; 3. energy deltas (closed buckets);
   * 4. unsent `readings-1m` outbox records;
   * 5. local 15-minute aggregates;
   * 6. unsent records of other streams (readings-15m, carbon-*, decision...), oldest across streams.
   * `store-stats` records (which report the drops) are never dropped. Freed pages then go back to
   * the file system and the WAL is checkpointed, so the files shrink.
   * Returns whether something was dropped (the counters are then saved).
   */
  enforceCap(now: number, open: Protected): boolean {
    const max = this.config.maxBytes;
    const wal = walBudget(max);
    const budget = Math.max(Math.floor(max / 2), max - wal - SHM_ALLOWANCE);
    if (this.persistence.walBytes() > wal) this.persistence.checkpoint();
    if (this.persistence.usedBytes() <= budget) {
      this.capWarned = false;
      // Live data fits, but the files may still hold freed pages: give them back.
      if (this.persistence.fileBytes() > max) this.shrinkFiles();
      return false;
    }
    const target = Math.floor(budget * 0.9);
    const chunk = 2000;
    const protect = open.closed1mBefore || now;
    const protect15 = open.closed15mBefore || now;
    const before = JSON.stringify(this.dropped);
    const normal = (fn: () => number) => this.persistence.withSynchronous('NORMAL', fn);
    const steps: (() => number)[] = [
      () => normal(() => this.count('rawByCap', this.repo.dropOldestRaw(this.repo.rawRowidAt(protect), chunk))),
      () => normal(() => this.count('oneMinuteByCap', this.repo.dropOldestBuckets('readings_1m', protect15, chunk))),
      () => normal(() => this.count('energyByCap', this.repo.dropOldestBuckets('energy_deltas', protect, chunk))),
      () => this.dropOutbox(STREAM_READINGS_1M, chunk),
      () => normal(() => this.count('fifteenMinuteByCap', this.repo.dropOldestBuckets('readings_15m', Number.MAX_SAFE_INTEGER, chunk))),
      () => {
        const stream = this.outbox.oldestStreamExcept([STREAM_READINGS_1M, STREAM_STORE_STATS]);
        return stream === undefined ? 0 : this.dropOutbox(stream, Math.min(chunk, 500));
      },
    ];
    let step = 0;
    while (this.persistence.usedBytes() > target && step < steps.length) {
      if (steps[step]!() === 0) step++;
    }
    const droppedSomething = before !== JSON.stringify(this.dropped);
    if (droppedSomething) {
      this.persistence.withSynchronous('FULL', () => this.persistence.unitOfWork(() => saveDropCounters(this.repo, this.dropped)));
      this.log.warn({ usedBytes: this.persistence.usedBytes(), maxBytes: max, dropped: this.dropped }, 'store byte cap reached: oldest data dropped by policy');
    }
    this.shrinkFiles();
    if (this.persistence.usedBytes() > budget && !this.capWarned) {
      this.capWarned = true;
      this.log.error({ usedBytes: this.persistence.usedBytes(), maxBytes: max }, 'store is over its byte cap with nothing left that the policy may drop');
    }
    return droppedSomething;
  }

  /** Free pages back to the file system, then the WAL into the database and truncated. */
  private shrinkFiles(): void {
    this.persistence.releaseFreePages();
    this.persistence.checkpoint();
  }

  private count(counter: 'rawByCap' | 'oneMinuteByCap' | 'energyByCap' | 'fifteenMinuteByCap', n: number): number {
    this.dropped[counter] += n;
    return n;
  }

  private dropOutbox(stream: string, limit: number): number {
    const n = this.outbox.dropOldest(stream, limit);
    if (n) this.dropped.outboxByCap[stream] = (this.dropped.outboxByCap[stream] ?? 0) + n;
    return n;
  }
}
