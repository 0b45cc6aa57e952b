/**
 * Inventory computation: Scope 1 (fuel combustion, process), Scope 2 location-based and
 * market-based (instruments, on-site attributes retained or sold, residual or grid-average
 * remainder), and green-power shares side by side. Exact arithmetic (Q) throughout; numbers are
 * rounded only when shown. Used by `carbonedge inventory --activity`, `--db` and the live feature.
 */
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import {
  electricityEmissions,
  emissionTotals,
  factorLine,
  fuelEmission,
  heatEmission,
  marketRemainderFactor,
  processEmission,
  remainderStatement,
  type MarketRemainder,
} from './emissions.js';
import { Q } from './exact.js';
import type { ResolvedFactor } from './factors.js';
import { countSerials } from './serials.js';
import { qualityIssues } from './quality.js';
import { checkOffsets, offsetBalance, offsetLine, type OffsetBalance, type OffsetSpec } from './offsets.js';

// Re-exported for the callers of the inventory module (CLI, feature, tests).
export type { MarketRemainder } from './emissions.js';
export { fromEntry, resolveFactor, type ResolvedFactor } from './factors.js';
export { fuelToBasis, hotWaterGJ, normalVolume, steamGJ } from './conversions.js';
export { countSerials } from './serials.js';

export interface InstrumentInput {
  type: string;
  MWh: Q;
  serials?: string[];
  vintage?: string | number;
  evidence?: string;
  /** Why an instrument of another market is claimed (stated in the output). */
  foreignMarketReason?: string;
}

/** Normalized, exact inventory input (what an activity file or the store is turned into). */
export interface InventoryInput {
  site?: string;
  period?: { from?: string; to?: string };
  gridFactor: ResolvedFactor;
  residualFactor?: ResolvedFactor;
  marketRemainder: MarketRemainder;
  heatFactor: ResolvedFactor;
  netExports: boolean;
  electricity: {
    gridImportMWh: Q;
    gridExportMWh: Q;
    onsiteRenewableConsumedMWh: Q;
    /** undefined only when no on-site renewable power was consumed. */
    onsiteAttributesRetained?: boolean;
  };
  /** Each fuel already converted to its factor basis (t or 10^4 Nm3). */
  fuels: { fuel: string; quantity: Q; unit: string; basisQuantity: Q; basisUnit: string; conversion: string; factor: ResolvedFactor; params: string }[];
  heat: { name: string; gj: Q; conversion: string; factor: ResolvedFactor }[];
  process: { name: string; quantity: Q; unit: string; factor: ResolvedFactor }[];
  instruments: InstrumentInput[];
  intervals?: { start?: string; end?: string; consumptionMWh: Q; renewableMWh: Q }[];
  /** Market of consumption (ISO country code, CN for China's grid factors): instruments of other markets are refused. */
  market?: string;
  production?: { line: string; quantity: Q; unit: string; share: Q }[];
  /** Retired offsets claimed for the period (net balance only, never inside gross emissions). */
  offsets?: OffsetSpec[];
  /** What is open for the period (gaps, incomplete data), one sentence each: keeps `zero_carbon` false. */
  open?: string[];
}

export interface InventoryLine {
  scope: '1' | '2-location' | '2-market' | 'info';
  category: string;
  description: string;
  /** Formula inputs as given and as used. */
  inputs: Record<string, string | number | boolean | string[] | undefined>;
  formula: string;
  factor_id?: string;
  factor_value?: string;
  factor_unit?: string;
  factor_source?: string;
  factor_data_year?: number;
  factor_edition?: string;
  emissions_t: number;
  /** Exact value (decimal or n/d), for auditors and cross-checks. */
  emissions_exact: string;
}

export interface InventoryResult extends Omit<OffsetBalance, 'exact'> {
  site?: string;
  period?: { from?: string; to?: string };
  method: {
    location_factor: string;
    market_remainder: MarketRemainder;
    market_remainder_factor: string;
    market_remainder_statement: string;
    exports: 'gross' | 'net';
    heat_factor: string;
  };
  scope1_t: number;
  scope2_location_t: number;
  scope2_market_t: number;
  total_location_t: number;
  total_market_t: number;
  green_share_annual: number;
  green_share_hourly?: number;
  self_sufficiency: number;
  consumption_MWh: number;
  intensity?: { line: string; unit: string; quantity: number; kgCO2_per_unit_location: number; kgCO2_per_unit_market: number }[];
  lines: InventoryLine[];
  warnings: string[];
  /** Exact totals (decimal or n/d text), tCO2. */
  exact: { scope1_t: string; scope2_location_t: string; scope2_market_t: string; total_location_t: string; total_market_t: string } & Partial<OffsetBalance['exact']>;
}

const DISPLAY_DECIMALS = 6;
const num = (q: Q, digits = DISPLAY_DECIMALS) => Number(q.toFixed(digits));

/** The inventory of one period. Throws ConfigError on missing evidence or inconsistent claims. */
export function computeInventory(input: InventoryInput, file = 'activity'): InventoryResult {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const lines: InventoryLine[] = [];
  const el = input.electricity;

  // ---- Scope 1: fuels ----
  let fuelT = Q.ZERO;
  for (const f of input.fuels) {
    const e = fuelEmission(f.basisQuantity, f.factor);
    fuelT = fuelT.add(e);
    lines.push({
      scope: '1',
      category: 'fuel',
      description: `${f.fuel} combustion`,
      inputs: { quantity: f.quantity.toString(), unit: f.unit, basis_quantity: f.basisQuantity.toString(), basis_unit: f.basisUnit, conversion: f.conversion, parameters: f.params },
      formula: `E = FC x NCV x CC x OF x 44/12 = ${f.basisQuantity.toString()} ${f.basisUnit} x ${f.factor.value.toFixed(9)} ${f.factor.unit}`,
      ...factorLine(f.factor),
      emissions_t: num(e),
      emissions_exact: e.toString(),
    });
  }
  let processT = Q.ZERO;
  for (const p of input.process) {
    const e = processEmission(p.quantity, p.factor.value);
    processT = processT.add(e);
    lines.push({
      scope: '1',
      category: 'process',
      description: p.name,
      inputs: { quantity: p.quantity.toString(), unit: p.unit },
      formula: `E = AD x EF = ${p.quantity.toString()} ${p.unit} x ${p.factor.value.toString()} ${p.factor.unit}`,
      ...factorLine(p.factor),
      emissions_t: num(e),
      emissions_exact: e.toString(),
    });
  }

  // ---- electricity activity ----
  const importMWh = input.netExports ? Q.max(Q.ZERO, el.gridImportMWh.sub(el.gridExportMWh)) : el.gridImportMWh;
  const onsite = el.onsiteRenewableConsumedMWh;
  if (!onsite.isZero() && el.onsiteAttributesRetained === undefined) {
    issues.push({
      file,
      path: '/electricity/onsiteAttributesRetained',
      message: `missing evidence: ${onsite.toString()} MWh of on-site renewable power consumed, but it is not stated whether its attributes (certificates) were retained (true) or sold (false)`,
    });
  }

  // ---- instruments ----
  let instrumentMWh = Q.ZERO;
  const allSerials: string[] = [];
  input.instruments.forEach((ins, i) => {
    if (ins.serials?.length) {
      const { count, duplicates, bad } = countSerials(ins.serials);
      if (bad.length) issues.push({ file, path: `/instruments/${i}/serials`, message: `malformed serial range(s): ${bad.join(', ')} (expected PREFIX000001..PREFIX000100)` });
      if (duplicates.length) issues.push({ file, path: `/instruments/${i}/serials`, message: `duplicate serials (a certificate can be claimed once): ${duplicates.join(', ')}` });
      if (ins.type === 'GEC' && !Q.of(count).eq(ins.MWh)) {
        issues.push({ file, path: `/instruments/${i}/serials`, message: `${count} GEC serials do not cover ${ins.MWh.toString()} MWh (1 GEC = 1 MWh)` });
      }
      allSerials.push(...ins.serials);
    }
    instrumentMWh = instrumentMWh.add(ins.MWh);
    const evidence = ins.serials?.length ? `${ins.serials.length} serial entr${ins.serials.length === 1 ? 'y' : 'ies'}` : ins.evidence ? ins.evidence : 'none recorded';
    lines.push({
      scope: 'info',
      category: 'instrument',
      description: `${ins.type} ${ins.MWh.toString()} MWh retired${ins.vintage !== undefined ? `, vintage ${ins.vintage}` : ''}`,
      inputs: { type: ins.type, MWh: ins.MWh.toString(), vintage: ins.vintage === undefined ? undefined : String(ins.vintage), serials: ins.serials, evidence },
      formula: 'covered MWh at 0 tCO2/MWh (market-based)',
      emissions_t: 0,
      emissions_exact: '0',
    });
  });
  const crossDup = countSerials(allSerials).duplicates;
  if (crossDup.length && input.instruments.length > 1) {
    issues.push({ file, path: '/instruments', message: `the same serials appear in more than one instrument: ${crossDup.join(', ')}` });
  }
  if (instrumentMWh.cmp(importMWh) > 0) {
    issues.push({
      file,
      path: '/instruments',
      message: `instruments claim ${instrumentMWh.toString()} MWh but only ${importMWh.toString()} MWh of grid electricity was consumed: over-claiming is not allowed`,
    });
  }

  issues.push(...checkOffsets(input.offsets ?? [], file, '/offsets'));
  const quality = qualityIssues(
    {
      ...(input.period ? { period: input.period } : {}),
      ...(input.market ? { market: input.market } : {}),
      instruments: input.instruments,
      ...(input.production ? { production: input.production } : {}),
      ...(input.intervals ? { intervals: input.intervals } : {}),
      consumption: el.gridImportMWh.add(onsite),
      factors: [
        { field: 'gridFactor', factor: input.gridFactor },
        ...(input.residualFactor ? [{ field: 'residualFactor', factor: input.residualFactor }] : []),
      ],
    },
    file,
  );
  issues.push(...quality.issues);
  warnings.push(...quality.warnings);

  const remainder = marketRemainderFactor(input.marketRemainder, input.gridFactor, input.residualFactor);
  if (!remainder) issues.push({ file, path: '/residualFactor', message: "marketRemainder is 'residual' but no residualFactor is given (e.g. CN-2023-residual)" });

  if (issues.length || !remainder) throw new ConfigError(issues, 'the inventory cannot be computed');
  const rem = remainder;
  const nullPower = !onsite.isZero() && !el.onsiteAttributesRetained ? onsite : Q.ZERO;
  const elec = electricityEmissions({ accounted: importMWh, covered: instrumentMWh, nullPower }, input.gridFactor, rem);

  // ---- Scope 2 location-based ----
  const s2ElecLoc = elec.location;
  lines.push({
    scope: '2-location',
    category: 'electricity',
    description: `purchased electricity, location-based${input.netExports ? ' (net of export)' : ''}`,
    inputs: { gridImportMWh: el.gridImportMWh.toString(), gridExportMWh: el.gridExportMWh.toString(), accountedMWh: importMWh.toString(), exports: input.netExports ? 'net' : 'gross' },
    formula: `E = AD x EF = ${importMWh.toString()} MWh x ${input.gridFactor.value.toString()} ${input.gridFactor.unit}`,
    ...factorLine(input.gridFactor),
    emissions_t: num(s2ElecLoc),
    emissions_exact: s2ElecLoc.toString(),
  });
  if (!onsite.isZero()) {
    lines.push({
      scope: '2-location',
      category: 'onsite-renewable',
      description: 'on-site renewable power consumed on site',
      inputs: { onsiteRenewableConsumedMWh: onsite.toString() },
      formula: 'not purchased: 0 tCO2 (location-based)',
      emissions_t: 0,
      emissions_exact: '0',
    });
  }

  // ---- Scope 2 market-based ----
  const uncovered = elec.uncovered;
  const mktUncovered = elec.market;
  lines.push({
    scope: '2-market',
    category: 'electricity-instruments',
    description: 'grid electricity covered by contractual instruments',
    inputs: { coveredMWh: instrumentMWh.toString() },
    formula: `E = ${instrumentMWh.toString()} MWh x 0`,
    emissions_t: 0,
    emissions_exact: '0',
  });
  lines.push({
    scope: '2-market',
    category: 'electricity-remainder',
    description: `grid electricity not covered by instruments (${input.marketRemainder} remainder)`,
    inputs: { accountedMWh: importMWh.toString(), coveredMWh: instrumentMWh.toString(), uncoveredMWh: uncovered.toString(), marketRemainder: input.marketRemainder },
    formula: `E = (${importMWh.toString()} - ${instrumentMWh.toString()}) MWh x ${rem.value.toString()} ${rem.unit}`,
    ...factorLine(rem),
    emissions_t: num(mktUncovered),
    emissions_exact: mktUncovered.toString(),
  });
  if (!onsite.isZero()) {
    if (el.onsiteAttributesRetained) {
      lines.push({
        scope: '2-market',
        category: 'onsite-renewable',
        description: 'on-site renewable power consumed, attributes retained',
        inputs: { onsiteRenewableConsumedMWh: onsite.toString(), onsiteAttributesRetained: true },
        formula: `E = ${onsite.toString()} MWh x 0`,
        emissions_t: 0,
        emissions_exact: '0',
      });
    } else {
      lines.push({
        scope: '2-market',
        category: 'onsite-null-power',
        description: 'on-site renewable power consumed, attributes SOLD: null power, not green',
        inputs: { onsiteRenewableConsumedMWh: onsite.toString(), onsiteAttributesRetained: false },
        formula: `E = ${onsite.toString()} MWh x ${rem.value.toString()} ${rem.unit}`,
        ...factorLine(rem),
        emissions_t: num(elec.nullPower),
        emissions_exact: elec.nullPower.toString(),
      });
    }
  }

  // ---- heat (both methods) ----
  let heatT = Q.ZERO;
  for (const h of input.heat) {
    const e = heatEmission(h.gj, h.factor);
    heatT = heatT.add(e);
    for (const scope of ['2-location', '2-market'] as const) {
      lines.push({
        scope,
        category: 'heat',
        description: h.name,
        inputs: { GJ: h.gj.toString(), conversion: h.conversion },
        formula: `E = ${h.gj.toString()} GJ x ${h.factor.value.toString()} ${h.factor.unit}`,
        ...factorLine(h.factor),
        emissions_t: num(e),
        emissions_exact: e.toString(),
      });
    }
  }

  const co2 = emissionTotals({ fuel: fuelT, process: processT, heat: heatT, electricity: elec });
  const { scope1, scope2_location: s2Loc, scope2_market: s2Mkt, total_location: totLoc, total_market: totMkt } = co2;

  // ---- green shares ----
  // Consumption is gross grid import + on-site renewable consumed, with or without netting: the
  // export is already outside `onsiteRenewableConsumedMWh`; netting applies to the emissions line only.
  const consumption = el.gridImportMWh.add(onsite);
  const greenNum = (el.onsiteAttributesRetained ? onsite : Q.ZERO).add(Q.min(instrumentMWh, importMWh));
  const share = (a: Q, b: Q) => (b.isZero() ? Q.ZERO : Q.min(Q.ONE, a.div(b)));
  const greenAnnual = share(greenNum, consumption);
  const selfSuff = share(onsite, consumption);
  let greenHourly: Q | undefined;
  if (input.intervals) {
    let matched = Q.ZERO;
    let load = Q.ZERO;
    for (const iv of input.intervals) {
      matched = matched.add(Q.min(iv.consumptionMWh, iv.renewableMWh));
      load = load.add(iv.consumptionMWh);
    }
    greenHourly = share(matched, load);
  }

  for (const o of input.offsets ?? []) lines.push(offsetLine(o));
  const balance = offsetBalance(totLoc, totMkt, input.offsets ?? [], input.open ?? []);
  const result: InventoryResult = {
    ...(input.site ? { site: input.site } : {}),
    ...(input.period ? { period: input.period } : {}),
    method: {
      location_factor: input.gridFactor.id,
      market_remainder: input.marketRemainder,
      market_remainder_factor: rem.id,
      market_remainder_statement: remainderStatement(input.marketRemainder, rem, 'inventory'),
      exports: input.netExports ? 'net' : 'gross',
      heat_factor: input.heatFactor.id,
    },
    scope1_t: num(scope1),
    scope2_location_t: num(s2Loc),
    scope2_market_t: num(s2Mkt),
    total_location_t: num(totLoc),
    total_market_t: num(totMkt),
    green_share_annual: num(greenAnnual),
    ...(greenHourly ? { green_share_hourly: num(greenHourly) } : {}),
    self_sufficiency: num(selfSuff),
    consumption_MWh: num(consumption),
    offsets_t: balance.offsets_t,
    net_location_t: balance.net_location_t,
    net_market_t: balance.net_market_t,
    zero_carbon: balance.zero_carbon,
    zero_carbon_missing: balance.zero_carbon_missing,
    lines,
    warnings,
    exact: {
      scope1_t: scope1.toString(),
      scope2_location_t: s2Loc.toString(),
      scope2_market_t: s2Mkt.toString(),
      total_location_t: totLoc.toString(),
      total_market_t: totMkt.toString(),
      ...balance.exact,
    },
  };
  if (input.production?.length) {
    result.intensity = input.production.map((p) => ({
      line: p.line,
      unit: p.unit,
      quantity: num(p.quantity),
      kgCO2_per_unit_location: num(totLoc.mul(p.share).mul(1000).div(p.quantity)),
      kgCO2_per_unit_market: num(totMkt.mul(p.share).mul(1000).div(p.quantity)),
    }));
  }
  return result;
}

/** The readable disclosure table (`carbonedge inventory` without --json). */
export function formatInventory(r: InventoryResult): string {
  const out: string[] = [];
  const t = (x: number) => x.toFixed(6).padStart(18);
  out.push(`GHG inventory${r.site ? ` - ${r.site}` : ''}${r.period ? ` (${r.period.from ?? '?'} .. ${r.period.to ?? '?'})` : ''}`);
  out.push(`Location-based grid factor: ${r.method.location_factor}`);
  out.push(`Market-based remainder: ${r.method.market_remainder_statement}`);
  out.push(`Exports: ${r.method.exports === 'gross' ? 'gross import accounted, exports not netted (GHG Protocol)' : 'exports netted from import (Chinese standards)'}`);
  out.push('');
  const W = 68;
  // Factor values are exact text (e.g. 580483057/187500000): shown as a decimal, exact in --json.
  const shown = (v?: string) => (v && v.includes('/') ? `${Q.from(v).toFixed(9)}...` : v);
  out.push(`${'scope'.padEnd(11)}${'line'.padEnd(W)}${'tCO2'.padStart(18)}  factor = value; source`);
  for (const l of r.lines) {
    const desc = l.description.length > W - 2 ? `${l.description.slice(0, W - 5)}...` : l.description;
    out.push(`${l.scope.padEnd(11)}${desc.padEnd(W)}${t(l.emissions_t)}${l.factor_id ? `  ${l.factor_id} = ${shown(l.factor_value) ?? '?'} ${l.factor_unit ?? ''}; ${l.factor_source ?? 'source not recorded'}` : ''}`);
    out.push(`${''.padEnd(11)}  ${l.formula}`);
  }
  out.push('');
  const total = (label: string, x: number) => out.push(`${label.padEnd(11 + W)}${t(x)}`);
  total('Scope 1', r.scope1_t);
  total('Scope 2 location-based', r.scope2_location_t);
  total('Scope 2 market-based', r.scope2_market_t);
  total('Total (location-based)', r.total_location_t);
  total('Total (market-based)', r.total_market_t);
  total('Offsets retired (not netted in the totals above)', r.offsets_t);
  total('Net balance (location-based) = total - offsets', r.net_location_t);
  total('Net balance (market-based) = total - offsets', r.net_market_t);
  out.push(`Zero-carbon balance: ${r.zero_carbon ? 'yes (net market-based <= 0, nothing open)' : `no - ${r.zero_carbon_missing.join('; ')}`}`);
  out.push('');
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
  out.push(`Green-power share, annual volumetric (RE100): ${pct(r.green_share_annual)}`);
  out.push(`Green-power share, hourly matched (24/7):     ${r.green_share_hourly === undefined ? 'n/a (no intervals given)' : pct(r.green_share_hourly)}`);
  out.push(`Self-sufficiency (on-site supply consumed):   ${pct(r.self_sufficiency)}`);
  for (const i of r.intensity ?? []) {
    out.push(`Carbon intensity ${i.line}: ${i.kgCO2_per_unit_location.toFixed(6)} kgCO2/${i.unit} (location), ${i.kgCO2_per_unit_market.toFixed(6)} kgCO2/${i.unit} (market)`);
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}
