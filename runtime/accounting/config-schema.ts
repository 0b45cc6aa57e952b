import type { ConfigIssue } from '../config/errors.js';
import type { SiteConfig } from '../config/types.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import { GRID_KINDS, LOCATION_KINDS, loadFactorLibrary, type FactorKind, type FactorLibrary, type FactorOverride } from './factors.js';
import { ConfigError } from '../config/errors.js';
import { timeZoneIssue } from '../config/timezone.js';
import { rolloverIssue } from '../metering/counter-delta.js';
import { checkOffsets, offsetSchema, type OffsetSpec } from './offsets.js';

/** Per-device accounting settings (`accounting.devices.<deviceId>`). */
export interface AccountingDeviceConfig {
  /** Point id (or canonical name) of the cumulative counter to account (fuel, heat, production meters). */
  point?: string;
  /** Unit of that counter: m3, Nm3, t, kg, L (fuel); GJ, t (steam / hot water); any unit (production). */
  unit?: string;
  /** fuel_meter: fuel factor id (natural_gas, diesel...). */
  fuel?: string;
  /** Gas in m3: base temperature (degC) and absolute base pressure (kPa, default 101.325). */
  baseTemperatureC?: number;
  basePressureKPa?: number;
  /** Liquid fuel by volume: density t/m3. */
  density?: number;
  /** heat_meter: what the counter measures. */
  heat?: 'gj' | 'steam' | 'hot-water';
  enthalpyKJperKg?: number;
  temperatureC?: number;
  /** Heat factor id or tCO2/GJ for this meter (default accounting.heatFactor). */
  heatFactor?: string | number;
  /** production_counter, and meters belonging to a line: production line name. */
  line?: string;
  /** production_counter (or an `other` device with a counter): process emissions (Scope 1), tCO2 per unit, with its source. */
  processFactor?: number;
  processSource?: string;
  /** Counter wraps at this value (meter unit). */
  rolloverAt?: number;
  /** Highest plausible rate, meter unit per hour (kW for a kWh counter): larger jumps are flagged. */
  maxRatePerHour?: number;
  /** Integrate active_power when the device has no energy counter (default: accounting.integrationFallback). */
  integrate?: boolean;
  /** generator: the fuel_meter device that meters its fuel (its Scope 1 comes from that meter). */
  fuelMeter?: string;
}

export interface InstrumentConfig {
  type: 'GEC' | 'green-power-contract' | 'PPA' | 'I-REC';
  MWh: number;
  serials?: string[];
  vintage?: string | number;
  evidence?: string;
  /** Consumption period it may cover (default: the vintage year). */
  validFrom?: string;
  validTo?: string;
  /** Why an instrument of another market is claimed (I-REC for consumption in China). */
  foreignMarketReason?: string;
}

export interface AccountingConfig {
  enabled?: boolean;
  gridFactor: string | number;
  residualFactor?: string | number;
  marketRemainder?: 'residual' | 'grid-average';
  heatFactor?: string | number;
  /** Were the attributes (certificates) of on-site renewable generation retained or sold? */
  onsiteAttributes?: 'retained' | 'sold';
  /** Integrate active_power for devices without energy counters (flagged as integrated). Default true. */
  integrationFallback?: boolean;
  /** A device without a good sample for this long is in a data gap (default 3 x poll interval, at least 60 s). */
  gapAfterMs?: number;
  /** A window is closed this long after its end (late samples still land in it). Default 30 s. */
  closeGraceMs?: number;
  /** Persist the open windows' state at least this often (ms, default 10 s). */
  checkpointMs?: number;
  /** Time zone for day/month/year windows (default site.timezone, else UTC). */
  timezone?: string;
  /** Enqueue carbon-15m / carbon-day records to the outbox (default true). */
  uplink?: boolean;
  devices?: Record<string, AccountingDeviceConfig>;
  instruments?: InstrumentConfig[];
  /** Retired offsets (runtime/accounting/offsets.ts), recorded in acct_offset at start. */
  offsets?: OffsetSpec[];
  /** Factor overrides with measured values, or user-added factors. */
  factors?: FactorOverride[];
}

const factorRef = { oneOf: [{ type: 'string', minLength: 1 }, { type: 'number', minimum: 0 }] };

/** JSON Schema of this section of the site config (composed in runtime/config/schema.ts). */
export const accountingConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['gridFactor'],
  properties: {
    enabled: { type: 'boolean' },
    gridFactor: { ...factorRef, description: 'location-based grid factor: library id (e.g. CN-2023-national) or tCO2/MWh' },
    residualFactor: { ...factorRef, description: 'residual-mix factor for the market-based remainder (e.g. CN-2023-residual)' },
    marketRemainder: { enum: ['residual', 'grid-average'] },
    heatFactor: factorRef,
    onsiteAttributes: { enum: ['retained', 'sold'] },
    integrationFallback: { type: 'boolean' },
    gapAfterMs: { type: 'integer', minimum: 1000 },
    closeGraceMs: { type: 'integer', minimum: 0, maximum: 900000 },
    checkpointMs: { type: 'integer', minimum: 100 },
    timezone: { type: 'string', minLength: 1 },
    uplink: { type: 'boolean' },
    devices: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          point: { type: 'string', minLength: 1 },
          unit: { type: 'string', minLength: 1 },
          fuel: { type: 'string', minLength: 1 },
          baseTemperatureC: { type: 'number', minimum: -50, maximum: 100 },
          basePressureKPa: { type: 'number', exclusiveMinimum: 0 },
          density: { type: 'number', exclusiveMinimum: 0 },
          heat: { enum: ['gj', 'steam', 'hot-water'] },
          enthalpyKJperKg: { type: 'number', exclusiveMinimum: 83.74 },
          temperatureC: { type: 'number', exclusiveMinimum: 20 },
          heatFactor: factorRef,
          line: { type: 'string', minLength: 1 },
          processFactor: { type: 'number', minimum: 0, description: 'production_counter or other device: process emissions (Scope 1), tCO2 per counter unit' },
          processSource: { type: 'string', minLength: 1 },
          rolloverAt: { type: 'number', exclusiveMinimum: 0 },
          maxRatePerHour: { type: 'number', exclusiveMinimum: 0 },
          integrate: { type: 'boolean' },
          fuelMeter: { type: 'string', minLength: 1, description: "generator: id of the fuel_meter device metering its fuel (Scope 1)" },
        },
      },
    },
    instruments: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'MWh'],
        properties: {
          type: { enum: ['GEC', 'green-power-contract', 'PPA', 'I-REC'] },
          MWh: { type: 'number', exclusiveMinimum: 0 },
          serials: { type: 'array', items: { type: 'string', minLength: 1 } },
          vintage: { type: ['string', 'integer'] },
          evidence: { type: 'string', minLength: 1 },
          validFrom: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}' },
          validTo: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}' },
          foreignMarketReason: { type: 'string', minLength: 10, description: 'why an instrument of another market (I-REC for consumption in China) is claimed; stated in the output' },
        },
      },
    },
    offsets: { type: 'array', items: offsetSchema },
    factors: {
      type: 'array',
      items: { type: 'object', required: ['id', 'source'], properties: { id: { type: 'string' }, source: { type: 'string', minLength: 1 } } },
    },
  },
};

const ROLES_WITH_POINT = new Set(['fuel_meter', 'heat_meter', 'production_counter']);
const RENEWABLE_ROLES = new Set(['pv_inverter', 'wind_turbine']);

function checkRef(
  ref: string | number | undefined,
  lib: FactorLibrary,
  kinds: readonly FactorKind[],
  path: string,
  file: string,
  issues: ConfigIssue[],
): void {
  if (ref === undefined || typeof ref === 'number') return;
  const e = lib.get(ref);
  if (!e) issues.push({ file, path, message: `unknown factor id '${ref}' (see runtime/accounting/factors/*.yaml, or add it under accounting.factors)` });
  else if (!kinds.includes(e.kind)) {
    issues.push({
      file,
      path,
      message: `factor '${ref}' is of kind ${e.kind}; expected ${kinds.join(' or ')}${e.kind === 'product-footprint-electricity' ? ' (product-footprint factors are kept apart from Scope 2)' : ''}`,
    });
  }
}

/** Cross-reference checks the schema cannot express; `file` is the config file for messages. */
export function validateAccountingConfig(config: SiteConfig, profiles: Map<string, AnyProfile>, file: string): ConfigIssue[] {
  const a = config.accounting as AccountingConfig | undefined;
  if (!a || a.enabled === false) return [];
  const issues: ConfigIssue[] = [];
  let lib: FactorLibrary;
  try {
    lib = loadFactorLibrary();
    if (a.factors?.length) lib = lib.withOverrides(a.factors, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ ...i, path: i.file === file ? `/accounting/factors${i.path}` : i.path }));
    throw err;
  }
  checkRef(a.gridFactor, lib, LOCATION_KINDS, '/accounting/gridFactor', file, issues);
  checkRef(a.residualFactor, lib, GRID_KINDS, '/accounting/residualFactor', file, issues);
  checkRef(a.heatFactor, lib, ['heat'], '/accounting/heatFactor', file, issues);
  if ((a.marketRemainder ?? 'residual') === 'residual' && a.residualFactor === undefined) {
    issues.push({ file, path: '/accounting/residualFactor', message: "marketRemainder is 'residual' (the default) but no residualFactor is given (e.g. CN-2023-residual); or set marketRemainder: grid-average" });
  }
  const devices = new Map(config.devices.map((d) => [d.id, d]));
  if (config.devices.some((d) => RENEWABLE_ROLES.has(d.role)) && !a.onsiteAttributes) {
    issues.push({
      file,
      path: '/accounting/onsiteAttributes',
      message: 'missing evidence: the site has on-site renewable generation; state whether its attributes (certificates) are retained or sold (onsiteAttributes: retained | sold)',
    });
  }
  if (!config.devices.some((d) => d.role === 'grid_meter')) {
    issues.push({ file, path: '/accounting', message: 'accounting needs at least one device with role grid_meter' });
  }
  for (const [id, dc] of Object.entries(a.devices ?? {})) {
    const path = `/accounting/devices/${id}`;
    const d = devices.get(id);
    if (!d) {
      issues.push({ file, path, message: `no device '${id}' in devices (known: ${[...devices.keys()].join(', ')})` });
      continue;
    }
    const profile = profiles.get(d.profile);
    if (dc.point && profile && !profile.points.some((p) => p.id === dc.point || p.canonical === dc.point)) {
      issues.push({ file, path: `${path}/point`, message: `profile '${d.profile}' has no point or canonical '${dc.point}'` });
    }
    if (d.role === 'fuel_meter') {
      const e = dc.fuel ? lib.get(dc.fuel) : undefined;
      const unit = dc.unit;
      if (!dc.fuel) issues.push({ file, path: `${path}/fuel`, message: 'a fuel_meter needs its fuel id (e.g. natural_gas)' });
      else if (!e || e.kind !== 'fuel' || !e.fuel) issues.push({ file, path: `${path}/fuel`, message: `unknown fuel '${dc.fuel}'` });
      else if (!unit) issues.push({ file, path: `${path}/unit`, message: `a fuel_meter needs the unit of its counter (${e.fuel.basis === 'normal-volume' ? 'Nm3, 10^4Nm3, or m3 with baseTemperatureC' : 't, kg, or m3/L with density'})` });
      else if (e.fuel.basis === 'normal-volume') {
        if (!['m3', 'Nm3', '10^4Nm3'].includes(unit)) issues.push({ file, path: `${path}/unit`, message: `${dc.fuel} is accounted by normal volume: expected m3, Nm3 or 10^4Nm3, got '${unit}'` });
        else if (unit === 'm3' && dc.baseTemperatureC === undefined) {
          issues.push({ file, path: `${path}/baseTemperatureC`, message: "gas metered in m3 needs the meter's base temperature (e.g. 20) to correct to normal conditions (0 degC, 101.325 kPa)" });
        }
      } else if (!['t', 'kg', 'm3', 'L'].includes(unit)) {
        issues.push({ file, path: `${path}/unit`, message: `${dc.fuel} is accounted by mass: expected t, kg, or m3/L with density, got '${unit}'` });
      } else if ((unit === 'm3' || unit === 'L') && dc.density === undefined && e.fuel.density === undefined) {
        issues.push({ file, path: `${path}/density`, message: `${dc.fuel} metered in ${unit} needs its density (t/m3 = kg/L)` });
      }
    }
    if (d.role === 'heat_meter') {
      const kind = dc.heat ?? 'gj';
      if (kind === 'steam' && dc.enthalpyKJperKg === undefined) issues.push({ file, path: `${path}/enthalpyKJperKg`, message: 'steam by mass needs the enthalpy (kJ/kg)' });
      if (kind === 'hot-water' && dc.temperatureC === undefined) issues.push({ file, path: `${path}/temperatureC`, message: 'hot water by mass needs its temperature (degC)' });
      const units = kind === 'gj' ? ['GJ', 'MJ', 'kWh', 'MWh'] : ['t', 'kg'];
      if (dc.unit && !units.includes(dc.unit)) issues.push({ file, path: `${path}/unit`, message: `heat '${kind}' counters are read in ${units.join(', ')}, got '${dc.unit}'` });
      checkRef(dc.heatFactor, lib, ['heat'], `${path}/heatFactor`, file, issues);
    }
    const rollover = dc.rolloverAt === undefined ? undefined : rolloverIssue(dc.rolloverAt);
    if (rollover) issues.push({ file, code: 'CE_CONFIG_INVALID', path: `${path}/rolloverAt`, message: rollover });
    if (dc.processFactor !== undefined && !dc.processSource) {
      issues.push({ file, path: `${path}/processSource`, message: 'a process emission factor needs its source' });
    }
    if (ROLES_WITH_POINT.has(d.role) && !dc.point) issues.push({ file, path: `${path}/point`, message: `a ${d.role} needs the point id of its cumulative counter` });
    if (d.role === 'other' && dc.processFactor !== undefined && !dc.point) {
      issues.push({ file, path: `${path}/point`, message: 'process emissions need the point id of the cumulative counter they are computed from' });
    }
    if (dc.processFactor !== undefined && !['production_counter', 'other'].includes(d.role)) {
      issues.push({ file, path: `${path}/processFactor`, message: `process emissions are accounted from production_counter or other devices, not from a ${d.role}` });
    }
  }
  for (const d of config.devices) {
    if (d.role === 'generator') issues.push(...generatorFuelIssues(d.id, a, devices, file));
    if (ROLES_WITH_POINT.has(d.role) && !a.devices?.[d.id]) {
      issues.push({ file, path: `/accounting/devices/${d.id}`, message: `device '${d.id}' (${d.role}) needs accounting settings (point, unit${d.role === 'fuel_meter' ? ', fuel' : d.role === 'heat_meter' ? ', heat' : ''})` });
    }
  }
  const china = typeof a.gridFactor === 'string' && a.gridFactor.startsWith('CN-');
  (a.instruments ?? []).forEach((ins, i) => {
    if (china && ins.type === 'I-REC' && !ins.foreignMarketReason) {
      issues.push({
        file,
        code: 'CE_CONFIG_EVIDENCE',
        path: `/accounting/instruments/${i}/type`,
        message: 'I-REC is an instrument of another market than the consumption (China, where the GEC is the sole proof of renewable attributes); set foreignMarketReason to claim it anyway (stated in the output)',
      });
    }
    if (!ins.serials?.length && !ins.evidence) {
      issues.push({ file, code: 'CE_CONFIG_EVIDENCE', path: `/accounting/instruments/${i}`, message: `missing evidence: ${ins.type} of ${ins.MWh} MWh has neither serials nor an evidence reference (contract, settlement or retirement record)` });
    }
  });
  issues.push(...checkOffsets(a.offsets ?? [], file, '/accounting/offsets'));
  const tz = timeZoneIssue(a.timezone, file, '/accounting/timezone');
  if (tz) issues.push(tz);
  return issues;
}

/**
 * A fossil generator's Scope 1 comes from its fuel meter: without one it would silently be 0.
 * `accounting.devices.<generator>.fuelMeter` must name a fuel_meter device with accounting settings.
 */
function generatorFuelIssues(id: string, a: AccountingConfig, devices: Map<string, SiteConfig['devices'][number]>, file: string): ConfigIssue[] {
  const path = `/accounting/devices/${id}/fuelMeter`;
  const meter = a.devices?.[id]?.fuelMeter;
  const code = 'CE_CONFIG_NO_FUEL_SOURCE' as const;
  if (!meter) {
    return [
      {
        file,
        code,
        path,
        message: `generator '${id}' has no fuel source: its Scope 1 would be 0 with nothing flagged. Add a fuel_meter device (with accounting.devices.<meter>: point, unit, fuel) and set accounting.devices.${id}.fuelMeter to its id`,
      },
    ];
  }
  const d = devices.get(meter);
  if (!d || d.role !== 'fuel_meter') return [{ file, code, path, message: `'${meter}' is not a fuel_meter device (${d ? `role ${d.role}` : 'no such device'})` }];
  if (!a.devices?.[meter]?.fuel) return [{ file, code, path, message: `fuel meter '${meter}' has no accounting settings (accounting.devices.${meter}: point, unit, fuel)` }];
  return [];
}
