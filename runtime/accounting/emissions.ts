/**
 * Emissions: the one implementation of Scope 1 (fuel combustion, process), Scope 2 location-based
 * and market-based (contractual instruments at zero, null power and the uncovered remainder at the
 * residual-mix or grid-average factor), their totals, the remainder statement and the factor
 * fields of a line. Pure and exact (Q). Used by the period inventory (`computeInventory`, tonnes
 * from MWh) and by the live quarter-hour (grams from Wh: 1 tCO2/MWh = 1 gCO2/Wh).
 */
import { Q } from './exact.js';
import type { ResolvedFactor } from './factors.js';

export type MarketRemainder = 'residual' | 'grid-average';

/** Grams per tonne. */
export const G_PER_T = 1_000_000;

/** CO2 lines of a result, in this order. */
export const CO2_KEYS = ['fuel', 'process', 'electricity_location', 'electricity_market', 'null_power', 'heat', 'scope1', 'scope2_location', 'scope2_market', 'total_location', 'total_market'] as const;
export type Co2Key = (typeof CO2_KEYS)[number];

// ------------------------------------------------------------------ factors

/** Where a factor comes from; a user override says so. */
export function factorSource(f: ResolvedFactor): string {
  return f.source + (f.overridden ? ' (user override, measured)' : '');
}

/** The factor fields of an inventory line. */
export interface FactorFields {
  factor_id: string;
  factor_value: string;
  factor_unit: string;
  factor_source: string;
  factor_data_year?: number;
  factor_edition?: string;
}

export function factorLine(f: ResolvedFactor): FactorFields {
  return {
    factor_id: f.id,
    factor_value: f.value.toString(),
    factor_unit: f.unit,
    factor_source: factorSource(f),
    ...(f.dataYear !== undefined ? { factor_data_year: f.dataYear } : {}),
    ...(f.edition ? { factor_edition: f.edition } : {}),
  };
}

/** The factor fields of a source item in a quarter-hour record (fuels, heat). */
export function recordFactor(f: ResolvedFactor): { factor: string; factor_value: string; factor_unit: string; factor_source: string } {
  const l = factorLine(f);
  return { factor: l.factor_id, factor_value: l.factor_value, factor_unit: l.factor_unit, factor_source: l.factor_source };
}

/** A factor as named in a record's method. */
export function methodFactor(f: ResolvedFactor): { id: string; value: string; unit: string; source: string; dataYear?: number } {
  return { id: f.id, value: f.value.toString(), unit: f.unit, source: f.source, ...(f.dataYear ? { dataYear: f.dataYear } : {}) };
}

/**
 * The factor for grid electricity not covered by instruments (and for null power): the residual
 * mix, or the grid average when the residual mix is substituted. Undefined when the residual mix
 * is asked for and not given.
 */
export function marketRemainderFactor(mode: MarketRemainder, grid: ResolvedFactor, residual: ResolvedFactor | undefined): ResolvedFactor | undefined {
  return mode === 'residual' ? residual : grid;
}

/**
 * What the market-based remainder is, in words: `inventory` for the inventory's method (with the
 * factor value), `record` for the quarter-hour record's method.
 */
export function remainderStatement(mode: MarketRemainder, remainder: ResolvedFactor, form: 'inventory' | 'record'): string {
  const residual = mode === 'residual';
  const at = residual ? `the residual-mix proxy ${remainder.id}` : `the grid average ${remainder.id}`;
  if (form === 'inventory') {
    return `uncovered MWh at ${at} (${remainder.value.toString()} ${remainder.unit})${residual ? '' : ': residual mix substituted by the grid average (disclosed)'}`;
  }
  return `market-based: electricity not covered by instruments at ${at}${residual ? '' : ' (residual mix substituted, disclosed)'}`;
}

// ------------------------------------------------------------------ emissions

/** tCO2 of a fuel quantity in its factor basis (t or 10^4 Nm3). */
export const fuelEmission = (basisQuantity: Q, factor: ResolvedFactor): Q => basisQuantity.mul(factor.value);
/** tCO2 of purchased heat, GJ. */
export const heatEmission = (gj: Q, factor: ResolvedFactor): Q => gj.mul(factor.value);
/** tCO2 of a process quantity at its factor (tCO2 per unit). */
export const processEmission = (quantity: Q, factor: Q): Q => quantity.mul(factor);

/** Electricity of a period (MWh) or a window (Wh). */
export interface ElectricityActivity {
  /** Grid electricity accounted (gross import, or net of export where netting applies). */
  accounted: Q;
  /** Covered by contractual instruments (never more than accounted). */
  covered: Q;
  /** On-site renewable power consumed whose attributes were sold. */
  nullPower: Q;
}

/** Electricity emissions: tCO2 for MWh, gCO2 for Wh. */
export interface ElectricityEmissions {
  location: Q;
  /** Accounted minus covered. */
  uncovered: Q;
  /** Market-based, grid electricity: instruments at zero, the uncovered rest at the remainder factor. */
  market: Q;
  /** Market-based null power at the remainder factor. */
  nullPower: Q;
}

export function electricityEmissions(a: ElectricityActivity, grid: ResolvedFactor, remainder: ResolvedFactor): ElectricityEmissions {
  const uncovered = a.accounted.sub(a.covered);
  return { location: a.accounted.mul(grid.value), uncovered, market: uncovered.mul(remainder.value), nullPower: a.nullPower.mul(remainder.value) };
}

/** Scope 1, Scope 2 both methods and the totals from the sums per source (all in one unit). */
export function emissionTotals(p: { fuel: Q; process: Q; heat: Q; electricity: ElectricityEmissions }): Record<Co2Key, Q> {
  const scope1 = p.fuel.add(p.process);
  const s2loc = p.electricity.location.add(p.heat);
  const s2mkt = p.electricity.market.add(p.electricity.nullPower).add(p.heat);
  return {
    fuel: p.fuel,
    process: p.process,
    electricity_location: p.electricity.location,
    electricity_market: p.electricity.market,
    null_power: p.electricity.nullPower,
    heat: p.heat,
    scope1,
    scope2_location: s2loc,
    scope2_market: s2mkt,
    total_location: scope1.add(s2loc),
    total_market: scope1.add(s2mkt),
  };
}
