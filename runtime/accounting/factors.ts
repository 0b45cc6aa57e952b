/**
 * The emission factor library: versioned data in runtime/accounting/factors/*.yaml (value, unit,
 * data year, source, valid-from, edition), never literals in code. Users add factors or override
 * defaults with measured values (site config `accounting.factors`, or an activity file).
 *
 *   const lib = loadFactorLibrary();
 *   lib.get('CN-2023-national')  // { value: 0.5306, unit: 'tCO2/MWh', dataYear: 2023, ... }
 *   factorValue(lib.get('natural_gas')!)  // exact NCV x CC x OF x 44/12 as a rational
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { Q } from './exact.js';
import { packagePath } from '../package-root.js';

export const FACTOR_KINDS = [
  /** Location-based grid average (national, regional, provincial). */
  'grid-average',
  /** Residual-mix proxy (China: excluding market-traded non-fossil power). */
  'grid-residual',
  'grid-fossil',
  /** National carbon-market compliance defaults: a different series, never mixed with the others. */
  'grid-compliance',
  /** Purchased heat / steam, tCO2/GJ. */
  'heat',
  /** Fuel combustion parameters (NCV, carbon content, oxidation). */
  'fuel',
  /** Process emissions, user-supplied, tCO2 per unit. */
  'process',
  /** Life-cycle electricity factors for product footprints (GB/T 24067): never Scope 2. */
  'product-footprint-electricity',
] as const;
export type FactorKind = (typeof FACTOR_KINDS)[number];

export interface FuelParameters {
  /** `mass`: quantities in t, NCV in GJ/t; `normal-volume`: 10^4 Nm3 (0 degC, 101.325 kPa), NCV in GJ/10^4 Nm3. */
  basis: 'mass' | 'normal-volume';
  ncv: number;
  ncvUnit: string;
  /** Carbon content per heat, tC/TJ (= 10^-3 tC/GJ). */
  carbonContent: number;
  /** Oxidation rate, fraction. */
  oxidation: number;
  /** Liquid density, t/m3 (= kg/L), to account volumes of a mass-basis fuel. */
  density?: number;
}

export interface FactorEntry {
  id: string;
  kind: FactorKind;
  /** As written in the data (tCO2 per unit); use factorValue() for the exact rational. */
  value: number;
  unit: string;
  dataYear: number;
  source: string;
  /** First day (YYYY-MM-DD) of activity the factor is meant for. */
  validFrom: string;
  /** Standard edition or announcement that published it. */
  edition?: string;
  region?: string;
  fuel?: FuelParameters;
  /** Where the entry was read from: a library file, or `override` (site config / activity file). */
  origin: string;
  /** True when a user override (measured value) replaced or added this entry. */
  overridden?: boolean;
}

/** A user override: replaces fields of an existing entry (measured values) or adds a new one. */
export interface FactorOverride {
  id: string;
  kind?: FactorKind;
  value?: number | string;
  unit?: string;
  dataYear?: number;
  /** Required: where the measured value comes from (lab report, supplier certificate...). */
  source: string;
  validFrom?: string;
  edition?: string;
  region?: string;
  fuel?: Partial<FuelParameters>;
}

export interface FactorLibrary {
  get(id: string): FactorEntry | undefined;
  all(): FactorEntry[];
  /** A new library with these overrides applied (throws ConfigError listing every bad override). */
  withOverrides(overrides: readonly FactorOverride[], file?: string): FactorLibrary;
}

/** Exact tCO2 per unit of the entry: for fuels NCV x CC/1000 x OF x 44/12, else its value. */
export function factorValue(e: FactorEntry): Q {
  if (e.kind === 'fuel' && e.fuel) return fuelFactor(e.fuel);
  return Q.from(e.value);
}

/** tCO2 per t (mass basis) or per 10^4 Nm3 (normal-volume basis). */
export function fuelFactor(f: Pick<FuelParameters, 'ncv' | 'carbonContent' | 'oxidation'>): Q {
  return Q.from(f.ncv).mul(Q.from(f.carbonContent).div(1000)).mul(Q.from(f.oxidation)).mul(Q.of(44, 12));
}

/**
 * Why a fuel entry's shown `value` disagrees with its own parameters, or undefined: the value must
 * be NCV x CC x OF x 44/12 rounded (half up) to the decimals it is written with.
 */
export function displayMismatch(value: number, f: FuelParameters): string | undefined {
  const text = String(value);
  const decimals = text.includes('e') ? 12 : (text.split('.')[1] ?? '').length;
  const exact = fuelFactor(f);
  const shown = exact.toFixed(decimals, 'half-up');
  if (Q.from(shown).eq(Q.from(value))) return undefined;
  return `display value ${text} disagrees with its parameters: NCV ${f.ncv} x CC ${f.carbonContent}/1000 x OF ${f.oxidation} x 44/12 = ${exact.toFixed(decimals + 3)}...; write ${shown}`;
}

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
          : e.kind === 'grid-residual' || e.kind === 'grid-fossil'
            ? ' (location-based accounting uses the grid-average series, e.g. CN-2023-national or a regional average; the residual and fossil series belong to the market-based remainder)'
            : '';
    issues.push({ file, path: `/${field}`, message: `factor '${ref}' is of kind ${e.kind}; expected ${kinds.join(' or ')}${why}` });
    return undefined;
  }
  return fromEntry(e);
}

export function fromEntry(e: FactorEntry): ResolvedFactor {
  return { id: e.id, value: factorValue(e), unit: e.unit, source: e.source, dataYear: e.dataYear, edition: e.edition, kind: e.kind, overridden: e.overridden };
}

/** Scope 2 kinds acceptable as residual (market-based remainder) factors. */
export const GRID_KINDS: readonly FactorKind[] = ['grid-average', 'grid-residual', 'grid-fossil'];
/** The location-based factor must be a grid-average series (GHG Protocol Scope 2): never the residual or fossil series. */
export const LOCATION_KINDS: readonly FactorKind[] = ['grid-average'];

/** Directory of the built-in factor data. */
export function builtinFactorDir(): string {
  return packagePath('runtime', 'accounting', 'factors');
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.@:+-]*$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function checkEntry(raw: unknown, file: string, where: string, issues: ConfigIssue[]): FactorEntry | undefined {
  const before = issues.length;
  const add = (p: string, message: string) => issues.push({ file, path: `${where}${p}`, message });
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    add('', 'expected a factor entry object');
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) add('/id', `expected an id (letters, digits, _ . @ : + -), got ${JSON.stringify(r.id)}`);
  if (!FACTOR_KINDS.includes(r.kind as FactorKind)) add('/kind', `expected one of ${FACTOR_KINDS.join(', ')}, got ${JSON.stringify(r.kind)}`);
  if (typeof r.value !== 'number' || !Number.isFinite(r.value) || r.value < 0) add('/value', `expected a number >= 0, got ${JSON.stringify(r.value)}`);
  if (typeof r.unit !== 'string' || !r.unit) add('/unit', 'expected the unit, e.g. tCO2/MWh');
  if (typeof r.dataYear !== 'number' || !Number.isInteger(r.dataYear)) add('/dataYear', 'expected the data year (integer)');
  if (typeof r.source !== 'string' || !r.source) add('/source', 'expected the source (document, table, announcement)');
  if (typeof r.validFrom !== 'string' || !DATE_RE.test(r.validFrom)) add('/validFrom', `expected a date YYYY-MM-DD, got ${JSON.stringify(r.validFrom)}`);
  if (r.kind === 'fuel') {
    const f = r.fuel as Record<string, unknown> | undefined;
    if (!f || typeof f !== 'object') add('/fuel', 'a fuel entry needs fuel: {basis, ncv, ncvUnit, carbonContent, oxidation}');
    else {
      if (f.basis !== 'mass' && f.basis !== 'normal-volume') add('/fuel/basis', "expected 'mass' or 'normal-volume'");
      for (const k of ['ncv', 'carbonContent', 'oxidation'] as const) {
        if (typeof f[k] !== 'number' || !((f[k] as number) > 0)) add(`/fuel/${k}`, 'expected a number > 0');
      }
      if (typeof f.oxidation === 'number' && f.oxidation > 1) add('/fuel/oxidation', 'expected a fraction <= 1');
      if (f.density !== undefined && !(typeof f.density === 'number' && f.density > 0)) add('/fuel/density', 'expected a density in t/m3 > 0');
      if (issues.length === before && typeof r.value === 'number') {
        const mismatch = displayMismatch(r.value, f as unknown as FuelParameters);
        if (mismatch) add('/value', mismatch);
      }
    }
  }
  if (issues.length > before) return undefined;
  return {
    id: r.id as string,
    kind: r.kind as FactorKind,
    value: r.value as number,
    unit: r.unit as string,
    dataYear: r.dataYear as number,
    source: r.source as string,
    validFrom: r.validFrom as string,
    ...(typeof r.edition === 'string' ? { edition: r.edition } : {}),
    ...(typeof r.region === 'string' ? { region: r.region } : {}),
    ...(r.fuel ? { fuel: { ...(r.fuel as FuelParameters) } } : {}),
    origin: file,
  };
}

class Library implements FactorLibrary {
  constructor(private readonly byId: Map<string, FactorEntry>) {}

  get(id: string): FactorEntry | undefined {
    return this.byId.get(id);
  }

  all(): FactorEntry[] {
    return [...this.byId.values()];
  }

  withOverrides(overrides: readonly FactorOverride[], file = 'override'): FactorLibrary {
    const next = new Map(this.byId);
    const issues: ConfigIssue[] = [];
    overrides.forEach((o, i) => {
      const where = `/${i}`;
      const base = next.get(o.id);
      if (!o.source) {
        issues.push({ file, path: `${where}/source`, message: 'an override must say where its value comes from (source)' });
        return;
      }
      const merged: Record<string, unknown> = base
        ? { ...base, ...stripUndefined(o), fuel: base.fuel || o.fuel ? { ...base.fuel, ...o.fuel } : undefined }
        : { validFrom: '1970-01-01', ...stripUndefined(o) };
      if (merged.value !== undefined && typeof merged.value === 'string') merged.value = Number(merged.value);
      if (merged.kind === 'fuel' && merged.fuel) merged.value = fuelFactor(merged.fuel as FuelParameters).toNumber();
      if (merged.dataYear === undefined) merged.dataYear = Number(String(merged.validFrom).slice(0, 4));
      const e = checkEntry(merged, file, where, issues);
      if (e) next.set(e.id, { ...e, origin: file, overridden: true });
    });
    if (issues.length) throw new ConfigError(issues, 'invalid emission factor overrides');
    return new Library(next);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Load the factor library: every *.yaml in the built-in directory (and extra `dirs`), then apply
 * `overrides`. Throws ConfigError listing every malformed or duplicate entry.
 */
export function loadFactorLibrary(opts: { dirs?: string[]; overrides?: readonly FactorOverride[] } = {}): FactorLibrary {
  const dirs = [builtinFactorDir(), ...(opts.dirs ?? [])];
  const byId = new Map<string, FactorEntry>();
  const issues: ConfigIssue[] = [];
  for (const dir of dirs) {
    const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
    for (const name of files) {
      const file = path.join(dir, name);
      let doc: unknown;
      try {
        doc = parseYaml(readFileSync(file, 'utf8'));
      } catch (err) {
        issues.push({ file, path: '', message: `not valid YAML: ${(err as Error).message}` });
        continue;
      }
      const entries = (doc as { entries?: unknown })?.entries;
      if (!Array.isArray(entries)) {
        issues.push({ file, path: '/entries', message: 'expected a list of factor entries' });
        continue;
      }
      entries.forEach((raw, i) => {
        const e = checkEntry(raw, file, `/entries/${i}`, issues);
        if (!e) return;
        if (byId.has(e.id)) {
          issues.push({ file, path: `/entries/${i}/id`, message: `duplicate factor id '${e.id}' (also in ${byId.get(e.id)!.origin})` });
          return;
        }
        byId.set(e.id, e);
      });
    }
  }
  if (issues.length) throw new ConfigError(issues, 'the emission factor library has errors');
  const lib = new Library(byId);
  return opts.overrides?.length ? lib.withOverrides(opts.overrides) : lib;
}
