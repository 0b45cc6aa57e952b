/**
 * Inventory computation: Scope 1 (fuel combustion, process), Scope 2 location-based and
 * market-based (instruments, on-site attributes retained or sold, residual or grid-average
 * remainder), and green-power shares side by side. Exact arithmetic (Q) throughout; numbers are
 * rounded only when shown. Used by `carbonedge inventory --activity`, `--db` and the live feature.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { ajvIssues, createAjv } from '../config/ajv-issues.js';
import { parseSource } from '../config/yaml-source.js';
import { Q } from './exact.js';
import {
  GRID_KINDS,
  factorValue,
  fuelFactor,
  type FactorEntry,
  type FactorKind,
  type FactorLibrary,
  type FactorOverride,
  type FuelParameters,
} from './factors.js';

export type MarketRemainder = 'residual' | 'grid-average';

/** A factor as used in a line: library entry or a number the user wrote. */
export interface ResolvedFactor {
  id: string;
  value: Q;
  unit: string;
  source: string;
  dataYear?: number;
  edition?: string;
  kind?: FactorKind;
  overridden?: boolean;
}

export interface InstrumentInput {
  type: string;
  MWh: Q;
  serials?: string[];
  vintage?: string | number;
  evidence?: string;
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
  intervals?: { consumptionMWh: Q; renewableMWh: Q }[];
  production?: { line: string; quantity: Q; unit: string; share: Q }[];
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

export interface InventoryResult {
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
  exact: { scope1_t: string; scope2_location_t: string; scope2_market_t: string; total_location_t: string; total_market_t: string };
}

const DISPLAY_DECIMALS = 6;
const num = (q: Q, digits = DISPLAY_DECIMALS) => Number(q.toFixed(digits));

function factorLine(f: ResolvedFactor): Pick<InventoryLine, 'factor_id' | 'factor_value' | 'factor_unit' | 'factor_source' | 'factor_data_year' | 'factor_edition'> {
  return {
    factor_id: f.id,
    factor_value: f.value.toString(),
    factor_unit: f.unit,
    factor_source: f.source + (f.overridden ? ' (user override, measured)' : ''),
    ...(f.dataYear !== undefined ? { factor_data_year: f.dataYear } : {}),
    ...(f.edition ? { factor_edition: f.edition } : {}),
  };
}

/** Expand serials: `A000001..A003000` is an inclusive range; returns the count and every serial only for small lists. */
export function countSerials(serials: readonly string[]): { count: bigint; duplicates: string[]; bad: string[] } {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const bad: string[] = [];
  let count = 0n;
  const ranges: { prefix: string; a: bigint; b: bigint; text: string }[] = [];
  for (const s of serials) {
    const m = /^(.*?)(\d+)\.\.(.*?)(\d+)$/.exec(s);
    if (m) {
      const [, p1, a, p2, b] = m;
      if (p1 !== p2 || BigInt(b!) < BigInt(a!)) {
        bad.push(s);
        continue;
      }
      for (const r of ranges) {
        if (r.prefix === p1 && BigInt(a!) <= r.b && BigInt(b!) >= r.a) duplicates.push(`${s} overlaps ${r.text}`);
      }
      ranges.push({ prefix: p1!, a: BigInt(a!), b: BigInt(b!), text: s });
      count += BigInt(b!) - BigInt(a!) + 1n;
    } else {
      if (seen.has(s)) duplicates.push(s);
      seen.add(s);
      count += 1n;
    }
  }
  return { count, duplicates, bad };
}

/** The inventory of one period. Throws ConfigError on missing evidence or inconsistent claims. */
export function computeInventory(input: InventoryInput, file = 'activity'): InventoryResult {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const lines: InventoryLine[] = [];
  const el = input.electricity;

  // ---- Scope 1: fuels ----
  let scope1 = Q.ZERO;
  for (const f of input.fuels) {
    const e = f.basisQuantity.mul(f.factor.value);
    scope1 = scope1.add(e);
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
  for (const p of input.process) {
    const e = p.quantity.mul(p.factor.value);
    scope1 = scope1.add(e);
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
    if (!ins.serials?.length && !ins.evidence) warnings.push(`instrument ${i} (${ins.type}, ${ins.MWh.toString()} MWh) has no serials or evidence reference recorded`);
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

  // remainder factor
  let remainder: ResolvedFactor | undefined;
  if (input.marketRemainder === 'residual') {
    remainder = input.residualFactor;
    if (!remainder) issues.push({ file, path: '/residualFactor', message: "marketRemainder is 'residual' but no residualFactor is given (e.g. CN-2023-residual)" });
  } else remainder = input.gridFactor;

  if (issues.length) throw new ConfigError(issues, 'the inventory cannot be computed');
  const rem = remainder!;

  // ---- Scope 2 location-based ----
  const s2ElecLoc = importMWh.mul(input.gridFactor.value);
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
  const uncovered = importMWh.sub(instrumentMWh);
  const mktCovered = Q.ZERO;
  const mktUncovered = uncovered.mul(rem.value);
  const remainderStatement =
    input.marketRemainder === 'residual'
      ? `uncovered MWh at the residual-mix proxy ${rem.id} (${rem.value.toString()} ${rem.unit})`
      : `uncovered MWh at the grid average ${rem.id} (${rem.value.toString()} ${rem.unit}): residual mix substituted by the grid average (disclosed)`;
  lines.push({
    scope: '2-market',
    category: 'electricity-instruments',
    description: 'grid electricity covered by contractual instruments',
    inputs: { coveredMWh: instrumentMWh.toString() },
    formula: `E = ${instrumentMWh.toString()} MWh x 0`,
    emissions_t: 0,
    emissions_exact: mktCovered.toString(),
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
  let s2ElecMkt = mktUncovered;
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
      const nullPower = onsite.mul(rem.value);
      s2ElecMkt = s2ElecMkt.add(nullPower);
      lines.push({
        scope: '2-market',
        category: 'onsite-null-power',
        description: 'on-site renewable power consumed, attributes SOLD: null power, not green',
        inputs: { onsiteRenewableConsumedMWh: onsite.toString(), onsiteAttributesRetained: false },
        formula: `E = ${onsite.toString()} MWh x ${rem.value.toString()} ${rem.unit}`,
        ...factorLine(rem),
        emissions_t: num(nullPower),
        emissions_exact: nullPower.toString(),
      });
    }
  }

  // ---- heat (both methods) ----
  let heatT = Q.ZERO;
  for (const h of input.heat) {
    const e = h.gj.mul(h.factor.value);
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

  const s2Loc = s2ElecLoc.add(heatT);
  const s2Mkt = s2ElecMkt.add(heatT);
  const totLoc = scope1.add(s2Loc);
  const totMkt = scope1.add(s2Mkt);

  // ---- green shares ----
  const consumption = importMWh.add(onsite);
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

  const result: InventoryResult = {
    ...(input.site ? { site: input.site } : {}),
    ...(input.period ? { period: input.period } : {}),
    method: {
      location_factor: input.gridFactor.id,
      market_remainder: input.marketRemainder,
      market_remainder_factor: rem.id,
      market_remainder_statement: remainderStatement,
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
    lines,
    warnings,
    exact: {
      scope1_t: scope1.toString(),
      scope2_location_t: s2Loc.toString(),
      scope2_market_t: s2Mkt.toString(),
      total_location_t: totLoc.toString(),
      total_market_t: totMkt.toString(),
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

// ---------------------------------------------------------------------------------------------
// Activity files

export interface ActivityFile {
  site?: string;
  period?: { from?: string; to?: string };
  gridFactor: string | number;
  residualFactor?: string | number;
  marketRemainder?: MarketRemainder;
  heatFactor?: string | number;
  netExports?: boolean;
  electricity: { gridImportMWh: number; gridExportMWh?: number; onsiteRenewableConsumedMWh?: number; onsiteAttributesRetained?: boolean };
  fuels?: {
    fuel: string;
    quantity: number;
    unit: string;
    baseTemperatureC?: number;
    basePressureKPa?: number;
    density?: number;
    ncv?: number;
    carbonContent?: number;
    oxidation?: number;
    source?: string;
  }[];
  heat?: { name?: string; quantityGJ?: number; steamTonnes?: number; enthalpyKJperKg?: number; hotWaterTonnes?: number; temperatureC?: number; factor?: string | number }[];
  process?: { name: string; quantity: number; unit: string; factor: string | number; source: string }[];
  instruments?: { type: string; MWh: number; serials?: string[]; vintage?: string | number; evidence?: string; retired?: boolean }[];
  intervals?: { consumptionMWh: number; renewableMWh: number }[];
  production?: { line?: string; quantity: number; unit: string; share?: number }[];
  factors?: FactorOverride[];
}

const require = createRequire(import.meta.url);
let activityValidator: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;
function activitySchemaValidator() {
  if (!activityValidator) {
    // Schema lives next to the source; from dist/ walk to the package copy.
    let schema: object;
    try {
      schema = require('./activity.schema.json') as object;
    } catch {
      schema = require('../../../runtime/accounting/activity.schema.json') as object;
    }
    activityValidator = createAjv().compile(schema);
  }
  return activityValidator;
}

/** Normal volume (Nm3, 0 degC / 101.325 kPa) of `v` m3 measured at base temperature/pressure. */
export function normalVolume(v: Q, baseTemperatureC: number | string | Q, basePressureKPa: number | string | Q = '101.325'): Q {
  const t0 = Q.from('273.15');
  return v.mul(Q.from(basePressureKPa).div('101.325')).mul(t0.div(t0.add(Q.from(baseTemperatureC))));
}

/** GJ of steam by mass: t x (h - 83.74 kJ/kg) x 10^-3. */
export function steamGJ(tonnes: Q, enthalpyKJperKg: Q): Q {
  return tonnes.mul(enthalpyKJperKg.sub('83.74')).div(1000);
}

/** GJ of hot water: t x (T - 20) x 4.1868 x 10^-3. */
export function hotWaterGJ(tonnes: Q, temperatureC: Q): Q {
  return tonnes.mul(temperatureC.sub(20)).mul('4.1868').div(1000);
}

/** Resolve a factor reference (library id or a number) for a field that accepts `kinds`. */
export function resolveFactor(
  ref: string | number,
  lib: FactorLibrary,
  kinds: readonly FactorKind[],
  unit: string,
  field: string,
  file: string,
  issues: ConfigIssue[],
): ResolvedFactor | undefined {
  if (typeof ref === 'number') {
    return { id: `${field}=${ref}`, value: Q.from(ref), unit, source: `user-supplied number in ${file} (${field})` };
  }
  const e = lib.get(ref);
  if (!e) {
    const near = lib.all().filter((x) => kinds.includes(x.kind)).map((x) => x.id).slice(0, 40);
    issues.push({ file, path: `/${field}`, message: `unknown factor id '${ref}' (known ${kinds.join('/')} ids: ${near.join(', ')})` });
    return undefined;
  }
  if (!kinds.includes(e.kind)) {
    const why =
      e.kind === 'product-footprint-electricity'
        ? ' (product-footprint factors are life-cycle values for GB/T 24067 and are kept apart from Scope 2)'
        : e.kind === 'grid-compliance'
          ? ' (carbon-market compliance defaults are a different series; give the number explicitly if you must use it)'
          : '';
    issues.push({ file, path: `/${field}`, message: `factor '${ref}' is of kind ${e.kind}; expected ${kinds.join(' or ')}${why}` });
    return undefined;
  }
  return fromEntry(e);
}

export function fromEntry(e: FactorEntry): ResolvedFactor {
  return { id: e.id, value: factorValue(e), unit: e.unit, source: e.source, dataYear: e.dataYear, edition: e.edition, kind: e.kind, overridden: e.overridden };
}

/** Convert a fuel quantity to its factor basis (t, or 10^4 Nm3), with the conversion stated. */
export function fuelToBasis(
  f: { quantity: number | Q; unit: string; baseTemperatureC?: number; basePressureKPa?: number; density?: number },
  params: FuelParameters,
  fuelId: string,
  where: string,
  file: string,
  issues: ConfigIssue[],
): { basisQuantity: Q; basisUnit: string; conversion: string } | undefined {
  const q = Q.from(f.quantity);
  const bad = (message: string) => {
    issues.push({ file, path: `${where}/unit`, message });
    return undefined;
  };
  if (params.basis === 'normal-volume') {
    switch (f.unit) {
      case 'Nm3':
        return { basisQuantity: q.div(10000), basisUnit: '10^4Nm3', conversion: 'Nm3 / 10^4' };
      case '10^4Nm3':
        return { basisQuantity: q, basisUnit: '10^4Nm3', conversion: 'none' };
      case 'm3': {
        if (f.baseTemperatureC === undefined) {
          issues.push({ file, path: `${where}/baseTemperatureC`, message: `${fuelId} in m3 needs the meter's base temperature (baseTemperatureC, e.g. 20) to correct to normal conditions (0 degC, 101.325 kPa); or give Nm3` });
          return undefined;
        }
        const p = f.basePressureKPa ?? 101.325;
        const n = normalVolume(q, f.baseTemperatureC, p);
        return {
          basisQuantity: n.div(10000),
          basisUnit: '10^4Nm3',
          conversion: `Vn = V x (${p}/101.325) x 273.15/(273.15+${f.baseTemperatureC}) = ${n.toFixed(6)} Nm3; / 10^4`,
        };
      }
      default:
        return bad(`${fuelId} is accounted by normal volume: expected unit Nm3, 10^4Nm3 or m3 (with baseTemperatureC), got '${f.unit}'`);
    }
  }
  switch (f.unit) {
    case 't':
      return { basisQuantity: q, basisUnit: 't', conversion: 'none' };
    case 'kg':
      return { basisQuantity: q.div(1000), basisUnit: 't', conversion: 'kg / 1000' };
    case 'm3':
    case 'L': {
      const d = f.density ?? params.density;
      if (d === undefined) {
        issues.push({ file, path: `${where}/density`, message: `${fuelId} in ${f.unit} needs its density (t/m3 = kg/L) to convert to mass` });
        return undefined;
      }
      const m3 = f.unit === 'L' ? q.div(1000) : q;
      return { basisQuantity: m3.mul(Q.from(d)), basisUnit: 't', conversion: `${f.unit === 'L' ? 'L / 1000' : 'm3'} x density ${d} t/m3` };
    }
    default:
      return bad(`${fuelId} is accounted by mass: expected unit t, kg, or m3/L with density, got '${f.unit}'`);
  }
}

/** Read and validate an activity file (YAML or JSON), resolving every factor. Throws ConfigError with all issues. */
export function loadActivityFile(file: string, lib: FactorLibrary): InventoryInput {
  const src = parseSource(readFileSync(file, 'utf8'), file);
  if (src.syntaxIssues.length) throw new ConfigError(src.syntaxIssues, 'the activity file cannot be read');
  return activityToInput(src.value, lib, file, (p) => src.locate(p));
}

export function activityToInput(
  raw: unknown,
  baseLib: FactorLibrary,
  file = 'activity',
  locate: (path: string) => { line?: number; column?: number } = () => ({}),
): InventoryInput {
  const validate = activitySchemaValidator();
  const withLines = (issues: ConfigIssue[]) => issues.map((i) => ({ ...locate(i.path), ...i }));
  if (!validate(raw)) throw new ConfigError(withLines(ajvIssues(validate.errors, file, raw)), 'the activity file has errors');
  const a = raw as ActivityFile;
  const issues: ConfigIssue[] = [];
  let lib = baseLib;
  if (a.factors?.length) {
    try {
      lib = baseLib.withOverrides(a.factors, file);
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues.map((i) => ({ ...i, path: `/factors${i.path}` })));
      else throw err;
    }
  }
  const gridFactor = resolveFactor(a.gridFactor, lib, GRID_KINDS, 'tCO2/MWh', 'gridFactor', file, issues);
  const residualFactor = a.residualFactor === undefined ? undefined : resolveFactor(a.residualFactor, lib, GRID_KINDS, 'tCO2/MWh', 'residualFactor', file, issues);
  const heatFactor = resolveFactor(a.heatFactor ?? 'CN-heat-default', lib, ['heat'], 'tCO2/GJ', 'heatFactor', file, issues);

  const fuels: InventoryInput['fuels'] = [];
  (a.fuels ?? []).forEach((f, i) => {
    const where = `/fuels/${i}`;
    const e = lib.get(f.fuel);
    if (!e || e.kind !== 'fuel' || !e.fuel) {
      const known = lib.all().filter((x) => x.kind === 'fuel').map((x) => x.id);
      issues.push({ file, path: `${where}/fuel`, message: `unknown fuel '${f.fuel}' (known: ${known.join(', ')}; add others under factors)` });
      return;
    }
    const measured = f.ncv !== undefined || f.carbonContent !== undefined || f.oxidation !== undefined;
    if (measured && !f.source) issues.push({ file, path: `${where}/source`, message: 'measured ncv/carbonContent/oxidation need their source (lab report, supplier certificate)' });
    const params: FuelParameters = { ...e.fuel, ...(f.ncv !== undefined ? { ncv: f.ncv } : {}), ...(f.carbonContent !== undefined ? { carbonContent: f.carbonContent } : {}), ...(f.oxidation !== undefined ? { oxidation: f.oxidation } : {}) };
    const basis = fuelToBasis(f, params, f.fuel, where, file, issues);
    if (!basis) return;
    const factor: ResolvedFactor = measured
      ? { ...fromEntry(e), id: `${e.id}+measured`, value: fuelFactor(params), source: `${f.source ?? 'measured'}; defaults ${e.source}`, overridden: true }
      : fromEntry(e);
    fuels.push({
      fuel: f.fuel,
      quantity: Q.from(f.quantity),
      unit: f.unit,
      ...basis,
      factor,
      params: `NCV ${params.ncv} ${params.ncvUnit}, CC ${params.carbonContent} tC/TJ, OF ${params.oxidation}`,
    });
  });

  const heat: InventoryInput['heat'] = [];
  (a.heat ?? []).forEach((h, i) => {
    const f = h.factor === undefined ? heatFactor : resolveFactor(h.factor, lib, ['heat'], 'tCO2/GJ', `heat/${i}/factor`, file, issues);
    if (!f) return;
    if (h.quantityGJ !== undefined) heat.push({ name: h.name ?? 'purchased heat', gj: Q.from(h.quantityGJ), conversion: 'GJ as metered', factor: f });
    else if (h.steamTonnes !== undefined && h.enthalpyKJperKg !== undefined) {
      heat.push({
        name: h.name ?? 'purchased steam',
        gj: steamGJ(Q.from(h.steamTonnes), Q.from(h.enthalpyKJperKg)),
        conversion: `GJ = ${h.steamTonnes} t x (${h.enthalpyKJperKg} - 83.74) kJ/kg x 10^-3`,
        factor: f,
      });
    } else if (h.hotWaterTonnes !== undefined && h.temperatureC !== undefined) {
      heat.push({
        name: h.name ?? 'purchased hot water',
        gj: hotWaterGJ(Q.from(h.hotWaterTonnes), Q.from(h.temperatureC)),
        conversion: `GJ = ${h.hotWaterTonnes} t x (${h.temperatureC} - 20) x 4.1868 x 10^-3`,
        factor: f,
      });
    }
  });

  const process: InventoryInput['process'] = [];
  (a.process ?? []).forEach((p, i) => {
    const f =
      typeof p.factor === 'number'
        ? { id: `process:${p.name}`, value: Q.from(p.factor), unit: `tCO2/${p.unit}`, source: p.source }
        : resolveFactor(p.factor, lib, ['process'], `tCO2/${p.unit}`, `process/${i}/factor`, file, issues);
    if (f) process.push({ name: p.name, quantity: Q.from(p.quantity), unit: p.unit, factor: f });
  });

  (a.instruments ?? []).forEach((ins, i) => {
    if (ins.retired === false) issues.push({ file, path: `/instruments/${i}/retired`, message: 'only certificates retired for the reporter can be claimed (retired: false)' });
  });

  if (issues.length || !gridFactor || !heatFactor) throw new ConfigError(withLines(issues), 'the activity file has errors');
  return {
    site: a.site,
    period: a.period,
    gridFactor,
    residualFactor,
    marketRemainder: a.marketRemainder ?? 'residual',
    heatFactor,
    netExports: a.netExports ?? false,
    electricity: {
      gridImportMWh: Q.from(a.electricity.gridImportMWh),
      gridExportMWh: Q.from(a.electricity.gridExportMWh ?? 0),
      onsiteRenewableConsumedMWh: Q.from(a.electricity.onsiteRenewableConsumedMWh ?? 0),
      onsiteAttributesRetained: a.electricity.onsiteAttributesRetained,
    },
    fuels,
    heat,
    process,
    instruments: (a.instruments ?? []).map((x) => ({ type: x.type, MWh: Q.from(x.MWh), serials: x.serials, vintage: x.vintage, evidence: x.evidence })),
    intervals: a.intervals?.map((x) => ({ consumptionMWh: Q.from(x.consumptionMWh), renewableMWh: Q.from(x.renewableMWh) })),
    production: a.production?.map((p) => ({ line: p.line ?? 'site', quantity: Q.from(p.quantity), unit: p.unit, share: Q.from(p.share ?? 1) })),
  };
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
