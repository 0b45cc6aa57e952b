import { describe, expect, it } from 'vitest';
import { counterDelta } from '../../runtime/metering/counter-delta.js';

const H = 3_600_000;

describe('counterDelta', () => {
  it('first sample is a baseline with delta 0', () => {
    expect(counterDelta(undefined, { value: 1234.5, ts: 0 })).toEqual({ delta: 0, flag: 'first' });
  });

  it('normal increase yields the difference', () => {
    const r = counterDelta({ value: 100, ts: 0 }, { value: 100.25, ts: 60_000 });
    expect(r.flag).toBeUndefined();
    expect(r.delta).toBeCloseTo(0.25, 12);
  });

  it('no change yields 0 without flag', () => {
    expect(counterDelta({ value: 5, ts: 0 }, { value: 5, ts: 1000 })).toEqual({ delta: 0 });
  });

  it('a decrease without rollover is a reset: delta 0, never negative', () => {
    expect(counterDelta({ value: 5000, ts: 0 }, { value: 3, ts: 60_000 })).toEqual({ delta: 0, flag: 'reset' });
  });

  it('a small decrease (meter replaced by one with a lower reading) is a reset', () => {
    expect(counterDelta({ value: 5000, ts: 0 }, { value: 4999, ts: 60_000 })).toEqual({ delta: 0, flag: 'reset' });
  });

  it('floating-point noise decrease is ignored', () => {
    expect(counterDelta({ value: 1e6, ts: 0 }, { value: 1e6 - 1e-7, ts: 1000 })).toEqual({ delta: 0 });
  });

  it('rollover near the top of the range wraps', () => {
    const r = counterDelta({ value: 99_999.5, ts: 0 }, { value: 0.7, ts: 60_000 }, { rolloverAt: 100_000 });
    expect(r.flag).toBe('rollover');
    expect(r.delta).toBeCloseTo(1.2, 9);
  });

  it('a decrease from the middle of the range with rolloverAt set is still a reset', () => {
    expect(counterDelta({ value: 50_000, ts: 0 }, { value: 10, ts: 60_000 }, { rolloverAt: 100_000 })).toEqual({
      delta: 0,
      flag: 'reset',
    });
  });

  it('an implausible jump yields 0 and the flag', () => {
    // 10 kW meter, 1 minute: 5000 kWh is impossible.
    expect(counterDelta({ value: 100, ts: 0 }, { value: 5100, ts: 60_000 }, { maxRatePerHour: 10 })).toEqual({
      delta: 0,
      flag: 'implausible',
    });
  });

  it('the rate check scales with elapsed time (downtime covered by one delta)', () => {
    // 10 kW for 10 hours of downtime: 90 kWh is plausible.
    const r = counterDelta({ value: 100, ts: 0 }, { value: 190, ts: 10 * H }, { maxRatePerHour: 10 });
    expect(r).toEqual({ delta: 90 });
  });

  it('one resolution step seconds apart is not implausible (window floor)', () => {
    const r = counterDelta({ value: 100, ts: 0 }, { value: 100.1, ts: 1000 }, { maxRatePerHour: 10 });
    expect(r.flag).toBeUndefined();
  });

  it('an implausible rollover is flagged', () => {
    expect(
      counterDelta({ value: 95_000, ts: 0 }, { value: 9_000, ts: 60_000 }, { rolloverAt: 100_000, maxRatePerHour: 10 }),
    ).toEqual({ delta: 0, flag: 'implausible' });
  });

  it('non-finite values are implausible / restart the baseline', () => {
    expect(counterDelta({ value: 1, ts: 0 }, { value: Number.NaN, ts: 1 })).toEqual({ delta: 0, flag: 'implausible' });
    expect(counterDelta({ value: Number.NaN, ts: 0 }, { value: 1, ts: 1 })).toEqual({ delta: 0, flag: 'first' });
  });
});
