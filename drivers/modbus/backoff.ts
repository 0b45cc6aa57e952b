/**
 * Capped, jittered exponential backoff (OpenEMS backs a failing Modbus device off so one dead
 * device cannot starve a shared bus). The delay doubles per consecutive failure from `baseMs`
 * up to `maxMs`; each delay is spread by +-`jitter` (fraction) so devices do not retry in lockstep.
 */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** 0..1: the delay is multiplied by a random factor in [1 - jitter, 1 + jitter], then capped. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitter: number;
  private readonly random: () => number;
  private failureCount = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 300_000;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
  }

  get failures(): number {
    return this.failureCount;
  }

  /** Record a failure; returns how long to wait before the next attempt, ms. */
  fail(): number {
    this.failureCount++;
    const exp = Math.min(this.failureCount - 1, 30);
    const raw = Math.min(this.maxMs, this.baseMs * 2 ** exp);
    const factor = 1 + this.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.min(this.maxMs, Math.round(raw * factor)));
  }

  reset(): void {
    this.failureCount = 0;
  }
}
