/**
 * Control primitives, each a small pure piece with an injected `now`, a monotonic time (ms; the
 * rules pass the tick's `mono`, never wall time, so a wall-clock step cannot stretch or skip a
 * hold time): condition latch
 * (hysteresis + delay before acting), timing guard (minimum on/off time, minimum switching
 * interval) and ramp limiting. Rules in rules/kinds/ are built from these.
 */
import type { OutputLiteral, TimingConfig } from './config-types.js';

/** What the engine knows about an output: the value last applied and when it changed. */
export interface OutputState {
  /** Last value applied (or seen on the device at start); undefined when unknown. */
  value: OutputLiteral | undefined;
  /** When the value last changed, monotonic time (ms, the tick's `mono`); -Infinity when never. */
  changedAt: number;
  /** Number of changes applied since start. */
  switches: number;
}

export const unknownOutput = (): OutputState => ({ value: undefined, changedAt: -Infinity, switches: 0 });

/**
 * Hysteresis with delays: turns on once `onCond` has held for `delayOnMs`, turns off once
 * `offCond` has held for `delayOffMs`; in between it keeps the current state. With onCond
 * `x >= 3000` and offCond `x <= 1000`, values between the two thresholds never switch.
 */
export class ConditionLatch {
  private onSince: number | undefined;
  private offSince: number | undefined;

  constructor(
    private readonly delayOnMs = 0,
    private readonly delayOffMs = 0,
  ) {}

  /** Desired state given the current one and this tick's conditions. */
  update(currentOn: boolean, onCond: boolean, offCond: boolean, now: number): { on: boolean; reason: string } {
    this.onSince = onCond ? (this.onSince ?? now) : undefined;
    this.offSince = offCond && !onCond ? (this.offSince ?? now) : undefined;
    if (!currentOn && this.onSince !== undefined) {
      const held = now - this.onSince;
      if (held >= this.delayOnMs) return { on: true, reason: this.delayOnMs ? `on-condition held ${held / 1000} s (delay ${this.delayOnMs / 1000} s)` : 'on-condition true' };
      return { on: false, reason: `on-condition true for ${held / 1000} s, waiting for delay ${this.delayOnMs / 1000} s` };
    }
    if (currentOn && this.offSince !== undefined) {
      const held = now - this.offSince;
      if (held >= this.delayOffMs) return { on: false, reason: this.delayOffMs ? `off-condition held ${held / 1000} s (delay ${this.delayOffMs / 1000} s)` : 'off-condition true' };
      return { on: true, reason: `off-condition true for ${held / 1000} s, waiting for delay ${this.delayOffMs / 1000} s` };
    }
    return { on: currentOn, reason: currentOn ? 'on; off-condition not met' : 'off; on-condition not met' };
  }

  reset(): void {
    this.onSince = undefined;
    this.offSince = undefined;
  }
}

/** Conditions of the threshold form of hysteresis (mirrored when on < off, e.g. heating on a low temperature). */
export function thresholdConditions(x: number, on: number, off: number): { onCond: boolean; offCond: boolean } {
  return on >= off ? { onCond: x >= on, offCond: x <= off } : { onCond: x <= on, offCond: x >= off };
}

/**
 * Timing guard: may the output change from its current value to `desired` now? Minimum
 * switching interval applies to every change; minimum on time to on -> off; minimum off time
 * to off -> on. Returns the value to hold and why when the change is not allowed yet.
 */
export function guardChange(
  state: OutputState,
  desired: OutputLiteral,
  isOn: (v: OutputLiteral) => boolean,
  t: TimingConfig,
  now: number,
): { value: OutputLiteral; held?: string } {
  if (state.value === undefined || state.value === desired) return { value: desired };
  const since = now - state.changedAt;
  if (t.minSwitchIntervalS && since < t.minSwitchIntervalS * 1000) {
    return { value: state.value, held: `held: minimum switching interval ${t.minSwitchIntervalS} s (last change ${Math.round(since / 1000)} s ago)` };
  }
  const wasOn = isOn(state.value);
  const willBeOn = isOn(desired);
  if (wasOn && !willBeOn && t.minOnS && since < t.minOnS * 1000) {
    return { value: state.value, held: `held: minimum on time ${t.minOnS} s (on for ${Math.round(since / 1000)} s)` };
  }
  if (!wasOn && willBeOn && t.minOffS && since < t.minOffS * 1000) {
    return { value: state.value, held: `held: minimum off time ${t.minOffS} s (off for ${Math.round(since / 1000)} s)` };
  }
  return { value: desired };
}

/** Move from `current` toward `target` by at most `rampPerS` per second over `dtMs`. */
export function rampToward(current: number | undefined, target: number, rampPerS: number | undefined, dtMs: number): number {
  if (current === undefined || !rampPerS || !Number.isFinite(dtMs)) return target;
  const step = (rampPerS * Math.max(0, dtMs)) / 1000;
  if (target > current + step) return current + step;
  if (target < current - step) return current - step;
  return target;
}

export const clampNum = (x: number, lo?: number, hi?: number): number => Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, x));
