/**
 * Activity files (`carbonedge inventory --activity FILE`): YAML or JSON validated against
 * activity.schema.json, every factor resolved against the library (with the file's overrides) and
 * every quantity converted to its factor basis, into the exact `InventoryInput`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { ajvIssues, createAjv } from '../config/ajv-issues.js';
import { parseSource } from '../config/yaml-source.js';
import { METERED_GJ, fuelToBasis, hotWaterHeat, steamHeat } from './conversions.js';
import type { MarketRemainder } from './emissions.js';
import { Q } from './exact.js';
import { GRID_KINDS, LOCATION_KINDS, fromEntry, fuelFactor, resolveFactor, type FactorLibrary, type FactorOverride, type FuelParameters, type ResolvedFactor } from './factors.js';
import type { InventoryInput } from './inventory.js';
import { normalizeOffset, type OffsetSpec } from './offsets.js';

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
  instruments?: { type: string; MWh: number; serials?: string[]; vintage?: string | number; evidence?: string; retired?: boolean; foreignMarketReason?: string }[];
  intervals?: { start?: string; end?: string; consumptionMWh: number; renewableMWh: number }[];
  market?: string;
  production?: { line?: string; quantity: number; unit: string; share?: number }[];
  offsets?: OffsetSpec[];
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
  const gridFactor = resolveFactor(a.gridFactor, lib, LOCATION_KINDS, 'tCO2/MWh', 'gridFactor', file, issues);
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
    if (h.quantityGJ !== undefined) heat.push({ name: h.name ?? 'purchased heat', gj: Q.from(h.quantityGJ), conversion: METERED_GJ, factor: f });
    else if (h.steamTonnes !== undefined && h.enthalpyKJperKg !== undefined) {
      heat.push({ name: h.name ?? 'purchased steam', ...steamHeat(Q.from(h.steamTonnes), h.enthalpyKJperKg, String(h.steamTonnes)), factor: f });
    } else if (h.hotWaterTonnes !== undefined && h.temperatureC !== undefined) {
      heat.push({ name: h.name ?? 'purchased hot water', ...hotWaterHeat(Q.from(h.hotWaterTonnes), h.temperatureC, String(h.hotWaterTonnes)), factor: f });
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
  // The market of consumption: stated, or China for the library's China grid factors.
  const market = a.market ?? (typeof a.gridFactor === 'string' && a.gridFactor.startsWith('CN-') ? 'CN' : undefined);
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
    instruments: (a.instruments ?? []).map((x) => ({
      type: x.type,
      MWh: Q.from(x.MWh),
      serials: x.serials,
      vintage: x.vintage,
      evidence: x.evidence,
      ...(x.foreignMarketReason ? { foreignMarketReason: x.foreignMarketReason } : {}),
    })),
    intervals: a.intervals?.map((x) => ({ ...(x.start ? { start: x.start } : {}), ...(x.end ? { end: x.end } : {}), consumptionMWh: Q.from(x.consumptionMWh), renewableMWh: Q.from(x.renewableMWh) })),
    ...(market ? { market } : {}),
    offsets: (a.offsets ?? []).map(normalizeOffset),
    production: a.production?.map((p) => ({ line: p.line ?? 'site', quantity: Q.from(p.quantity), unit: p.unit, share: Q.from(p.share ?? 1) })),
  };
}

