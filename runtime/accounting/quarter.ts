/**
 * The record of a closed quarter-hour (stream carbon-15m) and of a day (carbon-day), built from
 * the window's metered amounts: flows, allocation (allocation.ts), emissions (emissions.ts) per
 * source and in total, green shares and carbon intensity per production line. Pure: the engine
 * supplies the battery pools and the instrument coverage it took from the store.
 */
import type { Allocation, WindowFlows } from './allocation.js';
import { QUARTER_MS, type CalendarKeys } from './calendar.js';
import { METERED_GJ, fuelToBasis, hotWaterHeat, steamHeat, type HeatGJ } from './conversions.js';
import {
  G_PER_T,
  electricityEmissions,
  emissionTotals,
  fuelEmission,
  heatEmission,
  methodFactor,
  processEmission,
  recordFactor,
  remainderStatement,
  type Co2Key,
} from './emissions.js';
import { Q } from './exact.js';
import type { ConfigIssue } from '../config/errors.js';
import { ELEC_FLOWS, type AcctDevice, type AcctSettings, type OpenWindow, type Totals } from './model.js';

/** A window's amounts by flow (Wh), by device and flow, and per device in milli-units (fuel, heat, production). */
export interface QuarterFlows {
  wh: Record<string, number>;
  perDevice: Record<string, Record<string, number>>;
  units: Record<string, number>;
}

export function quarterFlows(q: Record<string, number>): QuarterFlows {
  const wh: Record<string, number> = {};
  for (const f of ELEC_FLOWS) wh[f] = 0;
  const perDevice: Record<string, Record<string, number>> = {};
  const units: Record<string, number> = {};
  for (const [key, amount] of Object.entries(q)) {
    const [device, flow] = key.split('|') as [string, string];
    (perDevice[device] ??= {})[flow] = amount;
    if (flow in wh) wh[flow]! += amount;
    else units[device] = (units[device] ?? 0) + amount;
  }
  return { wh, perDevice, units };
}

/** The flows the allocation works on. */
export function allocationFlows(wh: Record<string, number>): WindowFlows {
  return {
    gridImport: wh.grid_import!,
    gridExport: wh.grid_export!,
    renewable: wh.pv! + wh.wind!,
    generator: wh.generator!,
    batteryCharge: wh.battery_charge!,
    batteryDischarge: wh.battery_discharge!,
  };
}

/** Scope 1 and heat of a window, per device (record items) and summed, exact grams. */
export interface SourceEmissions {
  fuelG: Q;
  processG: Q;
  heatG: Q;
  fuels: Record<string, unknown>[];
  heat: Record<string, unknown>[];
  process: Record<string, unknown>[];
  /** Scope 1 and heat grams per production line. */
  byLine: Map<string, Q>;
  /** Metered quantities that cannot be converted: never a silent zero. */
  unaccounted: { device: AcctDevice; amount: number; why: string }[];
}

function heatOf(dev: AcctDevice, qty: Q): { kind: string; unit: string; heat?: HeatGJ } {
  const kind = dev.cfg.heat ?? 'gj';
  const unit = dev.cfg.unit ?? (kind === 'gj' ? 'GJ' : 't');
  const tonnes = unit === 'kg' ? qty.div(1000) : unit === 't' ? qty : undefined;
  if (kind === 'steam' && tonnes && dev.cfg.enthalpyKJperKg !== undefined) return { kind, unit, heat: steamHeat(tonnes, dev.cfg.enthalpyKJperKg) };
  if (kind === 'hot-water' && tonnes && dev.cfg.temperatureC !== undefined) return { kind, unit, heat: hotWaterHeat(tonnes, dev.cfg.temperatureC) };
  const energyGJ: Record<string, Q> = { GJ: qty, MJ: qty.div(1000), MWh: qty.mul('3.6'), kWh: qty.mul('0.0036') };
  const gj = kind === 'gj' ? energyGJ[unit] : undefined;
  return { kind, unit, ...(gj ? { heat: { gj, conversion: unit === 'GJ' ? METERED_GJ : `${unit} -> GJ` } } : {}) };
}

export function sourceEmissions(s: AcctSettings, devices: readonly AcctDevice[], units: Record<string, number>): SourceEmissions {
  const out: SourceEmissions = { fuelG: Q.ZERO, processG: Q.ZERO, heatG: Q.ZERO, fuels: [], heat: [], process: [], byLine: new Map(), unaccounted: [] };
  const lineAdd = (line: string | undefined, g: Q) => {
    if (line) out.byLine.set(line, (out.byLine.get(line) ?? Q.ZERO).add(g));
  };
  const unaccounted = (dev: AcctDevice, amount: number, why: string) => {
    if (amount) out.unaccounted.push({ device: dev, amount, why });
  };
  for (const dev of devices) {
    const milli = units[dev.id] ?? 0;
    const qty = Q.of(milli, 1000);
    if (dev.role === 'fuel_meter') {
      const fuel = s.fuels.get(dev.id);
      if (!fuel) {
        unaccounted(dev, milli, 'no fuel configured');
        continue;
      }
      const issues: ConfigIssue[] = [];
      const basis = fuelToBasis({ ...dev.cfg, unit: dev.cfg.unit ?? 'm3', quantity: qty }, fuel.params, fuel.fuelId, `/accounting/devices/${dev.id}`, 'config', issues);
      if (!basis) {
        unaccounted(dev, milli, issues.map((i) => i.message).join('; '));
        continue;
      }
      const g = fuelEmission(basis.basisQuantity, fuel.factor).mul(G_PER_T);
      out.fuelG = out.fuelG.add(g);
      lineAdd(dev.line, g);
      out.fuels.push({
        device: dev.id,
        fuel: fuel.fuelId,
        quantity: qty.toString(),
        unit: dev.cfg.unit ?? 'm3',
        basis_quantity: basis.basisQuantity.toString(),
        basis_unit: basis.basisUnit,
        conversion: basis.conversion,
        ...recordFactor(fuel.factor),
        co2_g: g.toString(),
      });
    } else if (dev.role === 'heat_meter') {
      const { kind, unit, heat } = heatOf(dev, qty);
      if (!heat) {
        unaccounted(dev, milli, `heat '${kind}' metered in '${unit}' cannot be converted to GJ`);
        continue;
      }
      const f = s.heatFactors.get(dev.id) ?? s.heatFactor;
      const g = heatEmission(heat.gj, f).mul(G_PER_T);
      out.heatG = out.heatG.add(g);
      lineAdd(dev.line, g);
      out.heat.push({ device: dev.id, kind, quantity: qty.toString(), unit, GJ: heat.gj.toString(), conversion: heat.conversion, ...recordFactor(f), co2_g: g.toString() });
    } else if ((dev.role === 'production_counter' || dev.role === 'other') && dev.cfg.processFactor !== undefined) {
      const factor = Q.from(dev.cfg.processFactor);
      const g = processEmission(qty, factor).mul(G_PER_T);
      out.processG = out.processG.add(g);
      lineAdd(dev.line, g);
      out.process.push({
        device: dev.id,
        quantity: qty.toString(),
        unit: dev.cfg.unit ?? 'unit',
        factor: `${dev.id}.processFactor`,
        factor_value: factor.toString(),
        factor_unit: `tCO2/${dev.cfg.unit ?? 'unit'}`,
        factor_source: dev.cfg.processSource ?? 'site config (user-supplied)',
        co2_g: g.toString(),
      });
    }
  }
  return out;
}

/** The method a record states: factors, remainder, attributes, conventions. */
export function recordMethod(s: AcctSettings): Record<string, unknown> {
  return {
    locationFactor: methodFactor(s.gridFactor),
    marketRemainder: s.marketRemainder,
    remainderFactor: methodFactor(s.remainderFactor),
    remainderStatement: remainderStatement(s.marketRemainder, s.remainderFactor, 'record'),
    heatFactor: methodFactor(s.heatFactor),
    onsiteAttributes: s.onsiteAttributes,
    exports: 'gross',
    batteryOrigin: 'battery discharge carries the renewable/other mix it was charged with',
  };
}

export function greenShares(wh: Record<string, number>, onsiteAttributes: string, matchedWh?: number): Record<string, number | null> {
  const L = wh.consumption ?? 0;
  const retained = onsiteAttributes !== 'sold';
  const green = (retained ? (wh.renewable_consumed ?? 0) : 0) + (wh.instrument_covered ?? 0);
  const ratio = (a: number) => (L > 0 ? Math.min(1, Math.max(0, a / L)) : null);
  return {
    annual_volumetric: ratio(green),
    hourly_matched: matchedWh === undefined ? null : retained ? ratio(matchedWh) : 0,
    self_sufficiency: ratio(wh.onsite_consumed ?? 0),
  };
}

const kgOf = (co2g: Record<string, string>) => Object.fromEntries(Object.entries(co2g).map(([k, v]) => [k, Number(Q.from(v).div(1000).toFixed(6))]));

/** Carbon per unit of each production counter: its line's share of electricity plus the line's own Scope 1 and heat. */
function productionIntensity(devices: readonly AcctDevice[], flows: QuarterFlows, consumption: number, co2: Record<Co2Key, Q>, byLine: Map<string, Q>): Record<string, unknown>[] {
  const production: Record<string, unknown>[] = [];
  for (const dev of devices.filter((d) => d.role === 'production_counter')) {
    const qty = Q.of(flows.units[dev.id] ?? 0, 1000);
    const line = dev.line ?? dev.id;
    const lineMeters = devices.filter((d) => d.line === line && ['load', 'heat_pump', 'submeter'].includes(d.role));
    let loc: Q;
    let mkt: Q;
    if (lineMeters.length && consumption > 0) {
      const lineWh = lineMeters.reduce((a, d) => a + Object.values(flows.perDevice[d.id] ?? {}).reduce((x, y) => x + y, 0), 0);
      const share = Q.of(lineWh, consumption);
      const own = byLine.get(line) ?? Q.ZERO;
      loc = co2.electricity_location.mul(share).add(own);
      mkt = co2.electricity_market.add(co2.null_power).mul(share).add(own);
    } else {
      loc = co2.total_location;
      mkt = co2.total_market;
    }
    production.push({
      device: dev.id,
      line,
      quantity: qty.toString(),
      unit: dev.cfg.unit ?? 'unit',
      co2_location_g: loc.toString(),
      co2_market_g: mkt.toString(),
      kgCO2_per_unit_location: qty.isZero() ? null : loc.div(1000).div(qty).toNumber(),
      kgCO2_per_unit_market: qty.isZero() ? null : mkt.div(1000).div(qty).toNumber(),
    });
  }
  return production;
}

/**
 * The carbon-15m record and the totals of a closed window. `covered`: Wh of grid import covered
 * by instruments (taken by the engine); `w.flags` already holds the window's unaccounted flags.
 */
export function quarterRecord(
  s: AcctSettings,
  devices: readonly AcctDevice[],
  w: OpenWindow,
  keys: CalendarKeys,
  flows: QuarterFlows,
  alloc: Allocation,
  covered: number,
  sources: SourceEmissions,
): { record: Record<string, any>; totals: Totals } {
  const wh = flows.wh;
  const I = wh.grid_import!;
  const nullPower = s.onsiteAttributes === 'sold' ? alloc.renewableConsumed : 0;
  Object.assign(wh, {
    consumption: alloc.consumption,
    renewable_consumed: alloc.renewableConsumed,
    onsite_consumed: alloc.onsiteConsumed,
    clean: alloc.clean,
    instrument_covered: covered,
    null_power: nullPower,
  });
  // CO2, exact grams (1 tCO2/MWh = 1 gCO2/Wh)
  const elec = electricityEmissions({ accounted: Q.of(I), covered: Q.of(covered), nullPower: Q.of(nullPower) }, s.gridFactor, s.remainderFactor);
  const co2 = emissionTotals({ fuel: sources.fuelG, process: sources.processG, heat: sources.heatG, electricity: elec });
  const production = productionIntensity(devices, flows, alloc.consumption, co2, sources.byLine);
  // A reset or an implausible jump (a meter replaced without a meter-change record) loses what the
  // old counter counted since its last reading: the window is incomplete, never silently complete.
  const complete = w.gaps.length === 0 && !w.flags.some((f) => f.flag === 'unaccounted' || f.flag === 'reset' || f.flag === 'implausible');
  const co2g = Object.fromEntries(Object.entries(co2).map(([k, v]) => [k, v.toString()]));
  const totals: Totals = { wh: { ...wh }, units: flows.units, co2g, quarters: 1, completeQuarters: complete ? 1 : 0, matchedWh: 0 };
  const record = {
    ts: w.start,
    schemaVersion: 1,
    site: s.siteId,
    gateway: s.gatewayId,
    window: '15m',
    start: new Date(w.start).toISOString(),
    end: new Date(w.start + QUARTER_MS).toISOString(),
    startMs: w.start,
    endMs: w.start + QUARTER_MS,
    day: keys.day,
    timezone: s.timezone,
    method: recordMethod(s),
    energy_Wh: wh,
    co2_g: co2g,
    co2_kg: kgOf(co2g),
    green: greenShares(wh, s.onsiteAttributes),
    devices: flows.perDevice,
    fuels: sources.fuels,
    heat: sources.heat,
    process: sources.process,
    production,
    quality: { complete, gaps: w.gaps, flags: w.flags, integrated: w.integrated, ...(w.meterChanges?.length ? { meterChanges: w.meterChanges } : {}) },
    // The counters and absolute readings this quarter was computed from (audit.ts); prevHash is added when it is stored.
    audit: { meters: Object.values(w.meters ?? {}) },
  };
  return { record, totals };
}

export function dayRecord(s: AcctSettings, method: Record<string, unknown>, day: string, start: number, end: number, t: Totals): Record<string, unknown> {
  const expected = Math.round((end - start) / QUARTER_MS);
  return {
    ts: start,
    schemaVersion: 1,
    site: s.siteId,
    gateway: s.gatewayId,
    window: 'day',
    day,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    startMs: start,
    endMs: end,
    timezone: s.timezone,
    method,
    energy_Wh: t.wh,
    co2_g: t.co2g,
    co2_kg: kgOf(t.co2g),
    green: greenShares(t.wh, s.onsiteAttributes, t.matchedWh),
    quality: { complete: t.completeQuarters === expected && t.quarters === expected, quarters: t.quarters, completeQuarters: t.completeQuarters, expectedQuarters: expected },
  };
}
