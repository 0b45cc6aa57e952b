/** The pure aggregator, table-tested without SQLite. */
import { describe, expect, it } from 'vitest';
import { Aggregator, FIFTEEN, MINUTE, accFromSummary, summarize, type BucketSummary, type DeltaPart } from '../../runtime/store/aggregator.js';
import type { Quality } from '../../runtime/types.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const GRACE = 2000;

type Sample = [offsetMs: number, value: number | null, quality?: Quality, delta?: DeltaPart];

/** Feed samples of point 1 and close everything up to `closeAt`; the 1-minute summaries by bucket offset. */
function oneMinute(samples: Sample[], closeAt = T0 + MINUTE + GRACE): Record<number, BucketSummary> {
  const agg = new Aggregator(GRACE);
  for (const [dt, v, q, d] of samples) agg.add(1, T0 + dt, q ?? (v === null ? 'comm-error' : 'good'), v, d);
  const out: Record<number, BucketSummary> = {};
  for (const c of agg.close(closeAt)) if (c.size === MINUTE) out[c.bucket - T0] = c.points[0]![1];
  return out;
}

describe('aggregator: one 1-minute bucket', () => {
  const cases: { name: string; samples: Sample[]; expected: Partial<BucketSummary> }[] = [
    { name: 'all good', samples: [[0, 10], [20_000, 30], [40_000, 20]], expected: { min: 10, max: 30, mean: 20, last: 20, count: 3, samples: 3, quality: 'good' } },
    { name: 'last is the latest by time, not by arrival', samples: [[40_000, 5], [10_000, 7]], expected: { last: 5, count: 2 } },
    { name: 'one bad sample: partial', samples: [[0, 10], [10_000, null], [20_000, 30]], expected: { min: 10, max: 30, mean: 20, count: 2, samples: 3, quality: 'partial' } },
    { name: 'no good sample: the last bad quality', samples: [[0, null, 'comm-error'], [10_000, null, 'out-of-range']], expected: { min: null, max: null, mean: null, last: null, count: 0, samples: 2, quality: 'out-of-range' } },
    { name: 'stale samples count as samples only', samples: [[0, 4], [10_000, null, 'stale']], expected: { count: 1, samples: 2, quality: 'partial', mean: 4 } },
    { name: 'negative values', samples: [[0, -5], [1000, -1]], expected: { min: -5, max: -1, mean: -3 } },
    { name: 'counter deltas add up', samples: [[0, 100, 'good', { delta: 0, flag: 'first' }], [20_000, 101, 'good', { delta: 1 }], [40_000, 103, 'good', { delta: 2 }]], expected: { delta: 3, deltaFlag: 'first' } },
    { name: 'a discontinuity flag wins over first', samples: [[0, 100, 'good', { delta: 0, flag: 'first' }], [20_000, 5, 'good', { delta: 0, flag: 'reset' }], [40_000, 6, 'good', { delta: 1 }]], expected: { delta: 1, deltaFlag: 'reset' } },
    { name: 'no delta on non-counters', samples: [[0, 1]], expected: { delta: undefined, deltaFlag: undefined } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = oneMinute(c.samples)[0]!;
      expect(got).toBeDefined();
      for (const [k, v] of Object.entries(c.expected)) expect(got[k as keyof BucketSummary], k).toEqual(v);
    });
  }
});

describe('aggregator: closing', () => {
  const cases: { name: string; closeAt: number; closed1m: number[]; closed15m: number[] }[] = [
    { name: 'not before the end of the bucket plus the grace', closeAt: T0 + MINUTE + GRACE - 1, closed1m: [], closed15m: [] },
    { name: 'at the end plus the grace', closeAt: T0 + MINUTE + GRACE, closed1m: [0], closed15m: [] },
    { name: 'several minutes at once, in order; then the quarter hour', closeAt: T0 + FIFTEEN + GRACE, closed1m: [0, 5 * MINUTE, 14 * MINUTE], closed15m: [0] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const agg = new Aggregator(GRACE);
      for (const m of [14, 0, 5]) agg.add(1, T0 + m * MINUTE + 1000, 'good', m);
      expect(agg.due(c.closeAt)).toBe(c.closed1m.length > 0);
      const closed = agg.close(c.closeAt);
      expect(closed.filter((x) => x.size === MINUTE).map((x) => x.bucket - T0)).toEqual(c.closed1m);
      expect(closed.filter((x) => x.size === FIFTEEN).map((x) => x.bucket - T0)).toEqual(c.closed15m);
    });
  }

  it('the quarter hour folds its minutes: min/max over all, mean weighted by count, last by time, deltas summed', () => {
    const agg = new Aggregator(GRACE);
    agg.add(1, T0 + 1000, 'good', 10, { delta: 0, flag: 'first' });
    agg.add(1, T0 + 2000, 'good', 20, { delta: 2 });
    agg.add(1, T0 + 3 * MINUTE, 'good', 60, { delta: 1 });
    agg.add(1, T0 + 7 * MINUTE, 'comm-error', null);
    const q = agg.close(T0 + FIFTEEN + GRACE).find((x) => x.size === FIFTEEN)!.points[0]![1];
    expect(q).toEqual({ min: 10, max: 60, mean: 30, last: 60, count: 3, samples: 4, quality: 'partial', delta: 3, deltaFlag: 'first' });
  });

  it('a reading for a closed bucket is refused (late); the next bucket still aggregates', () => {
    const agg = new Aggregator(GRACE);
    agg.add(1, T0, 'good', 1);
    agg.close(T0 + MINUTE + GRACE);
    expect(agg.closed1mBefore).toBe(T0 + MINUTE);
    expect(agg.add(1, T0 + 59_000, 'good', 2)).toBe(false);
    expect(agg.add(1, T0 + MINUTE, 'good', 3)).toBe(true);
    expect(agg.due(T0 + 2 * MINUTE + GRACE - 1)).toBe(false);
    expect(agg.due(T0 + 2 * MINUTE + GRACE)).toBe(true);
  });

  it('points are kept apart', () => {
    const agg = new Aggregator(GRACE);
    agg.add(1, T0, 'good', 1);
    agg.add(2, T0, 'good', 100);
    const [c] = agg.close(T0 + MINUTE + GRACE);
    expect(c!.points.map(([id, s]) => [id, s.mean])).toEqual([[1, 1], [2, 100]]);
  });

  it('a stored 1-minute row folds back like the aggregate it came from (rebuild after a restart)', () => {
    const live = new Aggregator(GRACE);
    live.add(1, T0 + 1000, 'good', 4, { delta: 1, flag: 'rollover' });
    live.add(1, T0 + 2000, 'stale', null);
    const [closed] = live.close(T0 + MINUTE + GRACE);
    const rebuilt = new Aggregator(GRACE, { closed1mBefore: T0 + MINUTE });
    rebuilt.fold(T0, 1, accFromSummary(T0, closed!.points[0]![1]));
    const a = live.close(T0 + FIFTEEN + GRACE)[0]!.points[0]![1];
    const b = rebuilt.close(T0 + FIFTEEN + GRACE)[0]!.points[0]![1];
    expect(b).toEqual(a);
    expect(a).toMatchObject({ mean: 4, count: 1, samples: 2, quality: 'partial', delta: 1, deltaFlag: 'rollover' });
  });

  it('summarize: mean is sum / count of good samples', () => {
    expect(summarize({ min: 1, max: 3, sum: 6, count: 3, samples: 4, last: 3, lastTs: 0 })).toEqual({ min: 1, max: 3, mean: 2, last: 3, count: 3, samples: 4, quality: 'partial' });
  });
});
