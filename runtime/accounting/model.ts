/**
 * The live accounting's vocabulary: flows, devices as the accounting sees them, settings, open
 * windows and the exact totals of a closed window (and how totals add up).
 */
import type { DeviceRole } from '../types.js';
import type { CounterFlag } from '../metering/counter-delta.js';
import type { AccountingDeviceConfig, InstrumentConfig } from './config-schema.js';
import type { MarketRemainder } from './emissions.js';
import { Q } from './exact.js';
import type { AuditMeter } from './audit.js';
import type { FuelParameters, ResolvedFactor } from './factors.js';

export const STREAM_15M = 'carbon-15m';
export const STREAM_DAY = 'carbon-day';

/** Electricity flows (integer Wh per window). */
export const ELEC_FLOWS = [
  'grid_import',
  'grid_export',
  'pv',
  'wind',
  'generator',
  'battery_charge',
  'battery_discharge',
  'heat_pump',
  'load',
  'submeter',
] as const;
export type ElecFlow = (typeof ELEC_FLOWS)[number];

/** Derived per-window quantities (integer Wh). */
export const DERIVED = ['consumption', 'renewable_consumed', 'onsite_consumed', 'clean', 'instrument_covered', 'null_power'] as const;

/** One device as the accounting sees it. */
export interface AcctDevice {
  id: string;
  role: DeviceRole;
  /** Counter point ids (or canonical names) per flow; for fuel/heat/production the counter of `cfg.point`. */
  counters: { point: string; flow: string; scale: number }[];
  /** Integrate this power point (W) when no counter exists: flagged. */
  power?: { point: string; positive: string; negative?: string };
  cfg: AccountingDeviceConfig;
  line?: string;
  /** Gap threshold for this device, ms. */
  gapAfterMs: number;
}

export interface AcctSettings {
  siteId: string;
  gatewayId: string;
  timezone: string;
  gridFactor: ResolvedFactor;
  remainderFactor: ResolvedFactor;
  marketRemainder: MarketRemainder;
  heatFactor: ResolvedFactor;
  /** Per-device heat factors (heat meters with their own). */
  heatFactors: Map<string, ResolvedFactor>;
  /** Fuel parameters and factor per fuel meter device. */
  fuels: Map<string, { fuelId: string; params: FuelParameters; factor: ResolvedFactor }>;
  onsiteAttributes: 'retained' | 'sold' | 'none';
  closeGraceMs: number;
  checkpointMs: number;
  uplink: boolean;
  instruments: InstrumentConfig[];
}

/** A quarter-hour being filled: amounts per `device|flow`, gaps and flags. */
export interface OpenWindow {
  start: number;
  /** `device|flow` -> integer amount. */
  q: Record<string, number>;
  gaps: { device: string; from: number; to: number | null }[];
  flags: { device: string; point: string; flag: CounterFlag | 'late' | 'catchup' | 'unaccounted'; ts: number; amount?: number }[];
  integrated: string[];
  /** The counters the window was computed from, by `device|flow`: absolute start and end readings (audit trail). */
  meters?: Record<string, AuditMeter>;
  /** Meters replaced with a meter-change record: the old counter closed exactly (amounts in milli-units). */
  meterChanges?: { device: string; point: string; at: number; oldFinal: number; newInitial: number; oldAmount: number; newAmount: number }[];
}

/** Totals of a window: integer flows (Wh or milli-units) and exact grams of CO2. */
export interface Totals {
  wh: Record<string, number>;
  /** Per-device milli-units of fuel / heat / production counters. */
  units: Record<string, number>;
  co2g: Record<string, string>;
  quarters: number;
  completeQuarters: number;
  /** Sum over hours of min(consumption_h, clean_h), Wh (hourly matching numerator). */
  matchedWh: number;
}

export function emptyTotals(): Totals {
  return { wh: {}, units: {}, co2g: {}, quarters: 0, completeQuarters: 0, matchedWh: 0 };
}

export function addTotals(a: Totals, b: Totals): Totals {
  const out = emptyTotals();
  for (const src of [a, b]) {
    for (const [k, v] of Object.entries(src.wh)) out.wh[k] = (out.wh[k] ?? 0) + v;
    for (const [k, v] of Object.entries(src.units)) out.units[k] = (out.units[k] ?? 0) + v;
    for (const [k, v] of Object.entries(src.co2g)) out.co2g[k] = Q.from(out.co2g[k] ?? '0').add(Q.from(v)).toString();
  }
  out.quarters = a.quarters + b.quarters;
  out.completeQuarters = a.completeQuarters + b.completeQuarters;
  out.matchedWh = a.matchedWh + b.matchedWh;
  return out;
}

/** Hourly matching numerator of an hour's totals: min(consumption, clean), never negative. */
export function matchedWh(t: Totals): number {
  return Math.max(0, Math.min(t.wh.consumption ?? 0, t.wh.clean ?? 0));
}
