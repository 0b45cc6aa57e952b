/**
 * Pure aggregation of readings into 1-minute and 15-minute buckets per point: min/max/mean/last
 * over good numeric samples, counts, quality, and counter deltas. Closed 1-minute buckets fold
 * into their quarter hour. No I/O: the store persists what close() returns.
 */
import type { Quality } from '../types.js';
import type { CounterFlag } from '../metering/counter-delta.js';

export const MINUTE = 60_000;
export const FIFTEEN = 15 * MINUTE;

/** The running aggregate of one point in one bucket. */
export interface Acc {
  min: number;
  max: number;
  sum: number;
  count: number;
  samples: number;
  last: number | null;
  lastTs: number;
  /** Latest good text value (string points: manufacturer, model, serial...) and its time. */
  text?: string;
  textTs?: number;
  /** Good text samples (a string point's good samples are not numbers: not in `count`). */
  textCount?: number;
  badQuality?: Quality;
  delta?: number;
  deltaFlag?: CounterFlag;
}

export function emptyAcc(): Acc {
  return { min: Infinity, max: -Infinity, sum: 0, count: 0, samples: 0, last: null, lastTs: -Infinity };
}

/** A closed bucket's values for one point, as stored and published. */
export interface BucketSummary {
  min: number | null;
  max: number | null;
  mean: number | null;
  last: number | null;
  count: number;
  samples: number;
  /** `good`, `partial`, or the last bad quality when no sample was good. */
  quality: string;
  /** Latest good text value of a string point (its min/max/mean/last are null). */
  text?: string;
  delta?: number;
  deltaFlag?: CounterFlag;
}

export function summarize(a: Acc): BucketSummary {
  const has = a.count > 0;
  const good = a.count + (a.textCount ?? 0);
  const s: BucketSummary = {
    min: has ? a.min : null,
    max: has ? a.max : null,
    mean: has ? a.sum / a.count : null,
    last: a.last,
    count: a.count,
    samples: a.samples,
    quality: good === a.samples ? 'good' : good > 0 ? 'partial' : (a.badQuality ?? 'comm-error'),
  };
  if (a.text !== undefined) s.text = a.text;
  if (a.delta !== undefined) {
    s.delta = a.delta;
    if (a.deltaFlag) s.deltaFlag = a.deltaFlag;
  }
  return s;
}

/** The aggregate a stored 1-minute row stands for (to rebuild an open quarter hour after a restart). */
export function accFromSummary(bucket: number, s: BucketSummary): Acc {
  return {
    min: s.min ?? Infinity,
    max: s.max ?? -Infinity,
    sum: (s.mean ?? 0) * s.count,
    count: s.count,
    samples: s.samples,
    last: s.last,
    lastTs: bucket,
    badQuality: s.quality === 'good' || s.quality === 'partial' ? undefined : (s.quality as Quality),
    ...(s.text !== undefined ? { text: s.text, textTs: bucket, textCount: s.samples - s.count } : {}),
    delta: s.delta,
    deltaFlag: s.deltaFlag,
  };
}

/** A counter delta to add to a bucket. */
export interface DeltaPart {
  delta: number;
  flag?: CounterFlag;
}

function addDelta(a: Acc, delta: number, flag: CounterFlag | undefined): void {
  a.delta = (a.delta ?? 0) + delta;
  // A discontinuity flag wins over `first`; `first` only marks a bucket with no other flag.
  if (flag && (flag !== 'first' || !a.deltaFlag)) a.deltaFlag = flag;
}

function addText(a: Acc, text: string, ts: number, samples: number): void {
  a.textCount = (a.textCount ?? 0) + samples;
  if (a.textTs === undefined || ts >= a.textTs) {
    a.text = text;
    a.textTs = ts;
  }
}

export interface ClosedBucket {
  size: typeof MINUTE | typeof FIFTEEN;
  bucket: number;
  points: [pointId: number, summary: BucketSummary][];
}

type Buckets = Map<number, Map<number, Acc>>;

function accIn(accs: Buckets, bucket: number, pointId: number): Acc {
  let m = accs.get(bucket);
  if (!m) accs.set(bucket, (m = new Map()));
  let a = m.get(pointId);
  if (!a) m.set(pointId, (a = emptyAcc()));
  return a;
}

export class Aggregator {
  private readonly acc1m: Buckets = new Map();
  private readonly acc15m: Buckets = new Map();
  /** Buckets strictly before these are closed (emitted). */
  closed1mBefore: number;
  closed15mBefore: number;

  constructor(
    private readonly closeGraceMs: number,
    closed: { closed1mBefore?: number; closed15mBefore?: number } = {},
  ) {
    this.closed1mBefore = closed.closed1mBefore ?? 0;
    this.closed15mBefore = closed.closed15mBefore ?? 0;
  }

  /**
   * Add one sample to its 1-minute bucket (`num`: the numeric value of a good reading, else
   * null; `text`: the value of a good reading of a string point). Returns false when the bucket
   * is already closed (a late reading, not aggregated).
   */
  add(pointId: number, ts: number, quality: Quality, num: number | null, delta?: DeltaPart, text?: string): boolean {
    const bucket = Math.floor(ts / MINUTE) * MINUTE;
    if (bucket < this.closed1mBefore) return false;
    const a = accIn(this.acc1m, bucket, pointId);
    a.samples++;
    if (num !== null) {
      if (num < a.min) a.min = num;
      if (num > a.max) a.max = num;
      a.sum += num;
      a.count++;
      if (ts >= a.lastTs) {
        a.last = num;
        a.lastTs = ts;
      }
    } else if (text !== undefined) addText(a, text, ts, 1);
    else a.badQuality = quality;
    if (delta) addDelta(a, delta.delta, delta.flag);
    return true;
  }

  /** Add a counter delta to an open 1-minute bucket without a sample (rebuild from stored deltas). */
  addDelta(bucket: number, pointId: number, delta: number, flag: CounterFlag | undefined): void {
    addDelta(accIn(this.acc1m, bucket, pointId), delta, flag);
  }

  /** Fold a closed 1-minute aggregate into its 15-minute bucket (unless that one is closed). */
  fold(bucket1m: number, pointId: number, a: Acc): void {
    const b = Math.floor(bucket1m / FIFTEEN) * FIFTEEN;
    if (b < this.closed15mBefore) return;
    const t = accIn(this.acc15m, b, pointId);
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
    if (a.text !== undefined) addText(t, a.text, a.textTs ?? bucket1m, a.textCount ?? 0);
    if (a.badQuality) t.badQuality = a.badQuality;
    if (a.delta !== undefined) addDelta(t, a.delta, a.deltaFlag);
  }

  /** Will close() at `now` close something (also counting readings not yet added, from `minTs` on)? */
  due(now: number, minTs = Infinity): boolean {
    const g = this.closeGraceMs;
    const ends = (b: number, size: number) => b + size + g <= now;
    for (const b of this.acc1m.keys()) if (ends(b, MINUTE)) return true;
    for (const b of this.acc15m.keys()) if (ends(b, FIFTEEN)) return true;
    if (minTs === Infinity) return false;
    return ends(Math.floor(minTs / MINUTE) * MINUTE, MINUTE) || ends(Math.floor(minTs / FIFTEEN) * FIFTEEN, FIFTEEN);
  }

  /**
   * Close every bucket that ended more than the grace period before `now`: 1-minute buckets first
   * (folded into their quarter hours), then 15-minute buckets. In time order within each size.
   */
  close(now: number): ClosedBucket[] {
    const out: ClosedBucket[] = [];
    for (const bucket of this.closeable(this.acc1m, MINUTE, now)) {
      const m = this.acc1m.get(bucket)!;
      out.push({ size: MINUTE, bucket, points: [...m].map(([id, a]) => [id, summarize(a)]) });
      for (const [id, a] of m) this.fold(bucket, id, a);
      this.acc1m.delete(bucket);
      this.closed1mBefore = Math.max(this.closed1mBefore, bucket + MINUTE);
    }
    for (const bucket of this.closeable(this.acc15m, FIFTEEN, now)) {
      const m = this.acc15m.get(bucket)!;
      out.push({ size: FIFTEEN, bucket, points: [...m].map(([id, a]) => [id, summarize(a)]) });
      this.acc15m.delete(bucket);
      this.closed15mBefore = Math.max(this.closed15mBefore, bucket + FIFTEEN);
    }
    return out;
  }

  private closeable(accs: Buckets, size: number, now: number): number[] {
    const out: number[] = [];
    for (const b of accs.keys()) if (b + size + this.closeGraceMs <= now) out.push(b);
    return out.sort((a, b) => a - b);
  }

  /** Open buckets (for tests and diagnostics). */
  openBuckets(): { oneMinute: number[]; fifteenMinute: number[] } {
    return { oneMinute: [...this.acc1m.keys()].sort((a, b) => a - b), fifteenMinute: [...this.acc15m.keys()].sort((a, b) => a - b) };
  }

  clear(): void {
    this.acc1m.clear();
    this.acc15m.clear();
  }
}
