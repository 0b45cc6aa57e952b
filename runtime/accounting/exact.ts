/**
 * Exact arithmetic for carbon accounting: rationals on bigint (numerator/denominator, always
 * reduced, denominator > 0). Factors are parsed from their decimal text, so 0.5306 is exactly
 * 5306/10000 and 44/12 stays 11/3; nothing is rounded until a value is shown.
 */

const gcd = (a: bigint, b: bigint): bigint => {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b) [a, b] = [b, a % b];
  return a;
};

/** Display rounding: `half-even` (GB/T 8170-2008, the default) or `half-up` (away from zero on a tie). */
export type RoundingRule = 'half-even' | 'half-up';

export class Q {
  readonly n: bigint;
  readonly d: bigint;

  private constructor(n: bigint, d: bigint) {
    if (d === 0n) throw new RangeError('division by zero');
    if (d < 0n) {
      n = -n;
      d = -d;
    }
    const g = gcd(n, d);
    this.n = g > 1n ? n / g : n;
    this.d = g > 1n ? d / g : d;
  }

  static readonly ZERO = new Q(0n, 1n);
  static readonly ONE = new Q(1n, 1n);

  static of(n: bigint | number, d: bigint | number = 1n): Q {
    return new Q(BigInt(n), BigInt(d));
  }

  /**
   * Exact value of a decimal: a string such as `0.5306`, `-1.5e-3`, `44/12`, a bigint, or a
   * number (taken as its shortest round-trip decimal text, i.e. the literal the user wrote).
   */
  static from(x: number | string | bigint | Q): Q {
    if (x instanceof Q) return x;
    if (typeof x === 'bigint') return new Q(x, 1n);
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
      if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) return new Q(BigInt(x), 1n);
      return Q.from(String(x));
    }
    const s = x.trim();
    const slash = s.indexOf('/');
    if (slash > 0) return Q.from(s.slice(0, slash)).div(Q.from(s.slice(slash + 1)));
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal number: '${x}'`);
    const frac = m[3] ?? '';
    let n = BigInt((m[2] || '0') + frac);
    if (m[1] === '-') n = -n;
    let exp = -frac.length + (m[4] ? Number(m[4]) : 0);
    if (exp >= 0) return new Q(n * 10n ** BigInt(exp), 1n);
    return new Q(n, 10n ** BigInt(-exp));
  }

  add(o: Q | number | string): Q {
    const b = Q.from(o);
    return new Q(this.n * b.d + b.n * this.d, this.d * b.d);
  }
  sub(o: Q | number | string): Q {
    const b = Q.from(o);
    return new Q(this.n * b.d - b.n * this.d, this.d * b.d);
  }
  mul(o: Q | number | string): Q {
    const b = Q.from(o);
    return new Q(this.n * b.n, this.d * b.d);
  }
  div(o: Q | number | string): Q {
    const b = Q.from(o);
    if (b.n === 0n) throw new RangeError('division by zero');
    return new Q(this.n * b.d, this.d * b.n);
  }
  neg(): Q {
    return new Q(-this.n, this.d);
  }
  cmp(o: Q | number | string): number {
    const b = Q.from(o);
    const l = this.n * b.d;
    const r = b.n * this.d;
    return l < r ? -1 : l > r ? 1 : 0;
  }
  eq(o: Q | number | string): boolean {
    return this.cmp(o) === 0;
  }
  isZero(): boolean {
    return this.n === 0n;
  }
  isNegative(): boolean {
    return this.n < 0n;
  }
  static min(a: Q, b: Q): Q {
    return a.cmp(b) <= 0 ? a : b;
  }
  static max(a: Q, b: Q): Q {
    return a.cmp(b) >= 0 ? a : b;
  }
  static sum(xs: Iterable<Q>): Q {
    let s = Q.ZERO;
    for (const x of xs) s = s.add(x);
    return s;
  }

  /** Largest integer <= this. */
  floor(): bigint {
    const q = this.n / this.d;
    return this.n < 0n && q * this.d !== this.n ? q - 1n : q;
  }

  /**
   * Rounded to an integer. `half-even` (default): a tie goes to the even neighbour (GB/T 8170-2008
   * "四舍六入五成双"; banker's rounding: no bias when summing shown values). `half-up`: a tie goes
   * away from zero ("四舍五入", what Chinese reporting templates print).
   */
  round(rule: RoundingRule = 'half-even'): bigint {
    if (this.n < 0n) return -this.neg().round(rule);
    const f = this.floor();
    const rem = this.sub(Q.of(f));
    const c = rem.cmp(Q.of(1, 2));
    if (c < 0) return f;
    if (c > 0 || rule === 'half-up') return f + 1n;
    return f % 2n === 0n ? f : f + 1n;
  }

  /** Decimal text with `digits` decimals, rounded by `rule` (default half to even): for display only. */
  toFixed(digits: number, rule: RoundingRule = 'half-even'): string {
    const scale = 10n ** BigInt(digits);
    const r = this.mul(Q.of(scale)).round(rule);
    const neg = r < 0n;
    const abs = neg ? -r : r;
    const int = abs / scale;
    const frac = (abs % scale).toString().padStart(digits, '0');
    return `${neg ? '-' : ''}${int}${digits > 0 ? `.${frac}` : ''}`;
  }

  /** Nearest double: for JSON output and plotting, never for further accounting. */
  toNumber(): number {
    return Number(this.toFixed(12));
  }

  /** Exact text: an integer, a terminating decimal, or `n/d`. */
  toString(): string {
    let d = this.d;
    let twos = 0;
    let fives = 0;
    while (d % 2n === 0n) {
      d /= 2n;
      twos++;
    }
    while (d % 5n === 0n) {
      d /= 5n;
      fives++;
    }
    if (d !== 1n) return `${this.n}/${this.d}`;
    const digits = Math.max(twos, fives);
    return digits === 0 ? this.n.toString() : this.toFixed(digits);
  }
}
