/**
 * Default plausible ranges, by the units of the canonical vocabulary (./canonical.ts): a decoded
 * value outside its point's range gets quality `out-of-range` instead of `good` (a float32
 * "not available" sentinel such as 0x7F7FFFFF = 3.4e38, a garbage register, a wrong word order).
 *
 * A profile point's own `min`/`max` take precedence, bound by bound; these defaults apply to any
 * point in one of these units (canonical points get their unit from the vocabulary), so a
 * non-canonical point that may legitimately go beyond one (a signed percentage, say) declares its
 * own bound. The bounds are deliberately wide: they catch nonsense, not unusual but real values.
 *
 * Versioned data: bump PLAUSIBLE_RANGES_VERSION on every change and say why beside the entry.
 */
import type { ProfilePoint } from './types.js';
import { CANONICAL, isCanonical } from './canonical.js';

export const PLAUSIBLE_RANGES_VERSION = 1;

export interface PlausibleRange {
  min: number;
  max: number;
  /** One line: why this bound is beyond any real value. */
  rationale: string;
}

export const PLAUSIBLE_RANGES: Readonly<Record<string, PlausibleRange>> = {
  A: { min: -100_000, max: 100_000, rationale: '|I| <= 100 kA: above the short-circuit rating of any breaker on a site a gateway meters' },
  V: { min: -1_000_000, max: 1_000_000, rationale: '|U| <= 1 MV: above the highest transmission voltage in service (800 kV)' },
  W: { min: -1e10, max: 1e10, rationale: '|P| <= 10 GW: above the largest power plant connection, let alone a factory' },
  var: { min: -1e10, max: 1e10, rationale: '|Q| <= 10 Gvar: same bound as active power' },
  VA: { min: -1e10, max: 1e10, rationale: '|S| <= 10 GVA: same bound as active power' },
  Hz: { min: 0, max: 1000, rationale: '0..1000 Hz: grids run at 50/60 Hz, aircraft and ship networks at 400 Hz' },
  kWh: { min: 0, max: 1e12, rationale: 'counters are >= 0; 1e12 kWh (1000 TWh) is more than a large country uses in a year' },
  kvarh: { min: 0, max: 1e12, rationale: 'counters are >= 0; same bound as active energy' },
  '%': { min: 0, max: 100, rationale: 'a state of charge, state of health or reserve is a share of a whole' },
  '°C': { min: -273.15, max: 10_000, rationale: 'absolute zero up to well above any furnace a device could measure' },
};

/** One bound of a point's plausible range and where it comes from (for the reading's error). */
export interface RangeBound {
  value: number;
  /** `profile` (the point's min/max) or the unit whose default applies. */
  from: 'profile' | `default for '${string}'`;
}

/** The unit a point's value is in: its own, or its canonical name's. */
function unitOf(p: Pick<ProfilePoint, 'unit' | 'canonical'>): string | undefined {
  if (p.unit !== undefined) return p.unit;
  return p.canonical !== undefined && isCanonical(p.canonical) ? CANONICAL[p.canonical]!.unit : undefined;
}

/** The bounds a decoded value of `p` must lie within: the profile's min/max, else the unit's default. */
export function plausibleBounds(p: Pick<ProfilePoint, 'min' | 'max' | 'unit' | 'canonical'>): { min?: RangeBound; max?: RangeBound } {
  const unit = unitOf(p);
  const def = unit !== undefined && Object.prototype.hasOwnProperty.call(PLAUSIBLE_RANGES, unit) ? PLAUSIBLE_RANGES[unit] : undefined;
  const from = `default for '${unit ?? ''}'` as const;
  const out: { min?: RangeBound; max?: RangeBound } = {};
  if (p.min !== undefined) out.min = { value: p.min, from: 'profile' };
  else if (def) out.min = { value: def.min, from };
  if (p.max !== undefined) out.max = { value: p.max, from: 'profile' };
  else if (def) out.max = { value: def.max, from };
  return out;
}
