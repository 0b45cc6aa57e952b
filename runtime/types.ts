/**
 * Core data types shared by every part of the runtime: acquisition produces Readings,
 * the store, accounting and the rule engine consume them.
 */

/** Quality of one value. Only `good` values may feed accounting or control as if valid. */
export type Quality = 'good' | 'stale' | 'comm-error' | 'out-of-range';

export type PointValue = number | string | boolean | null;

export interface Reading {
  /** Device id from the site configuration. */
  device: string;
  /** Point id from the device's profile. */
  point: string;
  /** Canonical vocabulary name (device-profiles/README.md), when the point maps onto one. */
  canonical?: string;
  /** Engineering value after scale/offset; null when no usable value exists. */
  value: PointValue;
  unit?: string;
  quality: Quality;
  /** Milliseconds since the Unix epoch: when the value was read (or invalidated). */
  ts: number;
  /** Where the value came from, e.g. `modbus-tcp://127.0.0.1:502#1/holding/40072`. */
  source: string;
  /** Human-readable reason when quality is not good. */
  error?: string;
}

/** Site roles a device can play; accounting and rules pick devices by role. */
export const DEVICE_ROLES = [
  'grid_meter',
  'pv_inverter',
  'wind_turbine',
  'battery',
  'heat_pump',
  'load',
  'submeter',
  'fuel_meter',
  'heat_meter',
  'production_counter',
  'generator',
  'other',
] as const;
export type DeviceRole = (typeof DEVICE_ROLES)[number];

/**
 * Injected time source, so tests and replays can run on a fake or accelerated clock.
 *
 * `now()` is wall time (ms since the Unix epoch): use it only for timestamps. It can step (NTP
 * setting the clock of a gateway without an RTC battery, an operator's `date -s`), so never
 * subtract two readings of it to measure an interval.
 *
 * `mono()` is monotonic time (ms from an arbitrary origin): use it for every interval, timeout,
 * age and rate. A clock without it (a fake, replay or accelerated test clock that never steps)
 * measures intervals with `now()`; read it through `monoNow(clock)`.
 */
export interface Clock {
  now(): number;
  mono?(): number;
}

/** The host's clocks: `Date.now()` for timestamps, `performance.now()` for intervals. */
export const systemClock: Required<Clock> = { now: () => Date.now(), mono: () => performance.now() };

/** Monotonic time of `clock`, ms (its wall time when it has no monotonic reading). */
export function monoNow(clock: Clock): number {
  return clock.mono ? clock.mono() : clock.now();
}

/** Where a producer of readings (a device poller) publishes them: the readings hub. */
export interface ReadingSink {
  publish(batch: readonly Reading[]): void;
}
