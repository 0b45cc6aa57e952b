import type { Logger } from './logger.js';
import type { Clock } from './types.js';

/** Wall-clock jumps smaller than this are slewing or scheduling noise, not a step (ms). */
export const DEFAULT_STEP_TOLERANCE_MS = 1000;

/**
 * Detects steps of the wall clock: the offset between wall and monotonic time stays put while
 * time passes (NTP slewing moves it by well under a millisecond per second), and jumps when the
 * wall clock is set. Each step is logged once, with its size; the new offset is the baseline for
 * the next step. Nothing in the runtime waits on the wall clock, so a step only needs reporting.
 * A clock without a monotonic reading never reports a step.
 */
export class ClockStepWatch {
  /** Steps seen so far. */
  steps = 0;
  private offset: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly toleranceMs = DEFAULT_STEP_TOLERANCE_MS,
  ) {}

  /** Compare the clocks now; returns the size of a step first seen by this call (ms), else 0. */
  check(): number {
    if (!this.clock.mono) return 0;
    const offset = this.clock.now() - this.clock.mono();
    const previous = this.offset;
    this.offset = offset;
    if (previous === undefined) return 0;
    const stepMs = Math.round(offset - previous);
    if (Math.abs(stepMs) <= this.toleranceMs) return 0;
    this.steps++;
    this.log.warn(
      { stepMs, wallNow: new Date(this.clock.now()).toISOString() },
      `wall clock stepped ${stepMs > 0 ? 'forward' : 'back'} by ${Math.abs(stepMs)} ms; intervals, ages and rates use the monotonic clock`,
    );
    return stepMs;
  }
}
