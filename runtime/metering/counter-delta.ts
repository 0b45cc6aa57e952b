/**
 * Pure logic turning successive absolute readings of a cumulative counter (energy_import,
 * energy_export, gas volume, production count...) into deltas, with rollover and meter-reset
 * detection. A reset or an implausible jump yields delta 0 and a flag, never a huge delta.
 *
 * Used by the store (energy deltas per meter) and by accounting.
 */

export interface CounterSample {
  /** Absolute counter value (engineering units, e.g. kWh). */
  value: number;
  /** Milliseconds since the Unix epoch. */
  ts: number;
}

export interface CounterDeltaOptions {
  /**
   * The modulus: the count at which the counter shows 0 again (e.g. 2^32 / 1000 = 4294967.296
   * for a u32 Wh register read as kWh, or 100000 for a 6-digit display with one decimal whose
   * highest reading is 99999.9). Not the highest reading: 99999.9 would lose 0.1 per wrap
   * (`rolloverIssue` refuses it). Without it, any decrease is a reset.
   */
  rolloverAt?: number;
  /**
   * Highest plausible rate of increase per hour (e.g. the meter's rated power in kW, times a
   * margin, for a kWh counter). A larger increase is flagged `implausible` and yields 0.
   */
  maxRatePerHour?: number;
  /**
   * Shortest window the rate check assumes, ms (default 5 minutes), so one resolution step of a
   * coarse counter a few seconds after the previous sample is not flagged.
   */
  minWindowMs?: number;
}

export type CounterFlag = 'first' | 'reset' | 'rollover' | 'implausible';

export interface CounterDelta {
  delta: number;
  flag?: CounterFlag;
}

/** Decreases smaller than this fraction of the previous value are treated as read noise (delta 0, no flag). */
const NOISE_FRACTION = 1e-9;
const HOUR_MS = 3_600_000;
const DEFAULT_MIN_WINDOW_MS = 300_000;

/**
 * Delta between `prev` and `next`.
 * - no prev: delta 0, flag `first` (the baseline; nothing is known about before it);
 * - non-finite values: delta 0, flag `implausible`;
 * - next >= prev: delta next - prev, unless it exceeds maxRatePerHour for the elapsed time
 *   (elapsed time floored at minWindowMs, default 5 min, so counter resolution steps pass): `implausible`;
 * - next < prev with rolloverAt set and prev in the top 10 % of the range and next in the bottom
 *   10 %: delta (rolloverAt - prev) + next, flag `rollover` (also rate-checked);
 * - any other decrease: delta 0, flag `reset` (meter replaced or cleared); the caller keeps `next`
 *   as the new baseline.
 * Tiny decreases within floating-point noise yield delta 0 without a flag.
 */
export function counterDelta(prev: CounterSample | undefined, next: CounterSample, opts: CounterDeltaOptions = {}): CounterDelta {
  if (!Number.isFinite(next.value)) return { delta: 0, flag: 'implausible' };
  if (!prev || !Number.isFinite(prev.value)) return { delta: 0, flag: 'first' };
  const diff = next.value - prev.value;
  if (diff >= 0) {
    if (isImplausible(diff, prev.ts, next.ts, opts)) return { delta: 0, flag: 'implausible' };
    return { delta: diff };
  }
  if (-diff <= Math.abs(prev.value) * NOISE_FRACTION) return { delta: 0 };
  const r = opts.rolloverAt;
  if (r !== undefined && r > 0 && prev.value >= r * 0.9 && prev.value <= r && next.value >= 0 && next.value <= r * 0.1) {
    const delta = r - prev.value + next.value;
    if (isImplausible(delta, prev.ts, next.ts, opts)) return { delta: 0, flag: 'implausible' };
    return { delta, flag: 'rollover' };
  }
  return { delta: 0, flag: 'reset' };
}

function isImplausible(delta: number, prevTs: number, nextTs: number, opts: CounterDeltaOptions): boolean {
  const max = opts.maxRatePerHour;
  if (max === undefined || !(max > 0)) return false;
  const hours = Math.max(nextTs - prevTs, opts.minWindowMs ?? DEFAULT_MIN_WINDOW_MS) / HOUR_MS;
  return delta > max * hours;
}

/**
 * Why `rolloverAt` looks like a counter's highest reading instead of its modulus, or undefined:
 * 99999.9, 999999 or 4294967.295 (one resolution step below 100000, 10^6, 2^32/1000) would lose
 * that step at every wrap.
 */
export function rolloverIssue(rolloverAt: number): string | undefined {
  const text = String(rolloverAt);
  if (text.includes('e')) return undefined;
  const decimals = (text.split('.')[1] ?? '').length;
  const scale = 10 ** decimals;
  const next = Math.round(rolloverAt * scale) + 1; // one resolution step up, in steps
  const isPow = (n: number, b: number) => {
    while (n > 1 && n % b === 0) n /= b;
    return n === 1;
  };
  if (next < 10 || !(isPow(next, 10) || (next >= 256 && isPow(next, 2)))) return undefined;
  const modulus = next / scale;
  return `rolloverAt ${text} looks like the counter's highest reading; rolloverAt is the modulus (the count at which it shows 0 again): ${modulus}. With ${text} every wrap loses ${1 / scale}`;
}
