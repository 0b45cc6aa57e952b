import type { Clock } from '../../runtime/types.js';

/**
 * A clock for tests whose wall time (`now`) and monotonic time (`mono`) move separately:
 * `advance` lets time pass (both move), `stepWall` sets the wall clock (as NTP or `date -s` does;
 * monotonic time does not move) and `advanceMono` moves monotonic time alone.
 * With `real: true` both also follow the real monotonic time elapsed since construction, so
 * components that wait on real timers (pollers, buses) run at their normal pace.
 */
export class TestClock implements Required<Clock> {
  private wallMs: number;
  private monoMs: number;
  private readonly realStart: number | undefined;

  constructor(opts: { wall?: number; mono?: number; real?: boolean } = {}) {
    this.wallMs = opts.wall ?? Date.UTC(2026, 5, 1, 12);
    this.monoMs = opts.mono ?? 1_000_000;
    this.realStart = opts.real ? performance.now() : undefined;
  }

  /** Whole milliseconds, like Date.now() (timestamps are integers in every file format). */
  now(): number {
    return this.wallMs + Math.floor(this.realElapsed());
  }

  mono(): number {
    return this.monoMs + this.realElapsed();
  }

  /** Time passes: wall and monotonic time both move by `ms`. */
  advance(ms: number): void {
    this.wallMs += ms;
    this.monoMs += ms;
  }

  /** The wall clock is set forward (`ms` > 0) or back (`ms` < 0); monotonic time does not move. */
  stepWall(ms: number): void {
    this.wallMs += ms;
  }

  /** Monotonic time alone moves (e.g. to model a wall clock that was held back). */
  advanceMono(ms: number): void {
    this.monoMs += ms;
  }

  private realElapsed(): number {
    return this.realStart === undefined ? 0 : performance.now() - this.realStart;
  }
}
