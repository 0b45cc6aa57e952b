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

/** Injected time source, so tests and replays can run on a fake or accelerated clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Where a producer of readings (a device poller) publishes them: the readings hub. */
export interface ReadingSink {
  publish(batch: readonly Reading[]): void;
}
