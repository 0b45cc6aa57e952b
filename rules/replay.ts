/**
 * What-if replay: runs a site's rules against a simulated site (the demo site's physics,
 * stepped faster than real time) or against recorded data from the store, and reports what the
 * rule set gains: green_share, self_consumption, grid_import_kwh, export_kwh, co2_kg, and the
 * switch count of every output. Writes go through a real WriteGate into the simulation.
 */
import path from 'node:path';
import type { AnyProfile } from '../drivers/profiles/types.js';
import type { SiteConfig } from '../runtime/config/types.js';
import { ConfigError } from '../runtime/config/errors.js';
import type { Logger } from '../runtime/logger.js';
import { silentLogger } from '../runtime/logger.js';
import type { Reading } from '../runtime/types.js';
import { WriteGate } from '../runtime/control/write-gate.js';
import { SimulatedWriteBackend } from '../runtime/control/backends.js';
import { loadFactorLibrary } from '../runtime/accounting/factors.js';
import { compileRules, DEFAULT_TICK_MS, gatherRules } from './compile-rules.js';
import { validateRuleShape } from './config-schema.js';
import { RuleEngine } from './engine.js';
import { ScheduleVariables } from './schedules.js';
import { LocalTime } from './scope.js';
import type { ControlConfig } from './config-types.js';

/** The simulated or recorded site a replay steps through (device ids of the site config). */
export interface ReplaySite {
  readonly label: string;
  readonly startMs: number;
  step(t: number): void;
  /** Current values of a configured device, by profile point id; undefined if not simulated. */
  values(device: string): Record<string, number | boolean> | undefined;
  write(device: string, point: string, value: number | boolean): void;
  /** Cumulative energies since the start, kWh. */
  energy(): { gridImport: number; gridExport: number; pv: number; batteryCharge: number; batteryDischarge: number };
  /** Devices that accept writes. */
  writable(): Set<string>;
}

export interface ReplayOptions {
  config: SiteConfig;
  profiles: Map<string, AnyProfile>;
  configFile?: string;
  site: ReplaySite;
  days: number;
  noRules?: boolean;
  /** Control period of the replay (default control.tickMs). */
  tickMs?: number;
  logger?: Logger;
  /** Monotonic wall clock (ms) for wall_s and speed; default performance.now. */
  wallClock?: () => number;
}

export interface OutputSwitching {
  switches: number;
  /** Shortest time between two changes, s (null with fewer than two changes). */
  min_interval_s: number | null;
}

export interface ReplayReport {
  source: string;
  start: string;
  days: number;
  rules: string[];
  green_share: number;
  self_consumption: number;
  grid_import_kwh: number;
  export_kwh: number;
  co2_kg: number;
  pv_kwh: number;
  consumption_kwh: number;
  battery_charge_kwh: number;
  battery_discharge_kwh: number;
  /** Changes per output (`device.point`, or `device` for a mode output). */
  switches: Record<string, number>;
  outputs: Record<string, OutputSwitching>;
  /**
   * How co2_kg was computed: `hourly` = each interval's grid import x the hour's value of
   * control.carbonIntensity.hourly (co2_factor.value is then the import-weighted mean);
   * `annual` = grid_import_kwh x the single grid factor.
   */
  co2_method: 'hourly' | 'annual';
  co2_factor: { id: string; value: number; unit: string; source: string };
  ticks: number;
  simulated_s: number;
  wall_s: number;
  /** Simulated seconds per wall second. */
  speed: number;
}

/** Grid factor for co2_kg: accounting.gridFactor (library id or tCO2/MWh), else CN-2023-national. */
export function replayGridFactor(config: SiteConfig): ReplayReport['co2_factor'] {
  const ref = (config.accounting as { gridFactor?: string | number } | undefined)?.gridFactor;
  if (typeof ref === 'number') return { id: 'config', value: ref, unit: 'tCO2/MWh', source: 'site config accounting.gridFactor' };
  const lib = loadFactorLibrary();
  const id = ref ?? 'CN-2023-national';
  const e = lib.get(id);
  if (!e) throw new Error(`grid factor '${id}' is not in the factor library`);
  return { id: e.id, value: e.value, unit: e.unit, source: e.source };
}

const outputName = (key: string) => (key.includes('#') ? key.slice(0, key.indexOf('#')) : key.replace('/', '.'));

export async function runReplay(opts: ReplayOptions): Promise<ReplayReport> {
  const { config, profiles, site } = opts;
  const log = opts.logger ?? silentLogger();
  const control = (config.control ?? {}) as ControlConfig;
  const gathered = gatherRules(config, opts.configFile ?? '<config>', opts.configFile && !opts.configFile.startsWith('<') ? path.dirname(path.resolve(opts.configFile)) : process.cwd(), validateRuleShape);
  const compiled = compileRules(config, profiles, opts.noRules ? [] : gathered.rules);
  const issues = [...gathered.issues, ...compiled.issues];
  if (issues.length) throw new ConfigError(issues, 'cannot replay: the rules have errors');

  let now = site.startMs;
  const clock = { now: () => now };
  const gate = new WriteGate({ dryRun: false, logger: log, clock, backends: [new SimulatedWriteBackend(site, site.writable())] });
  const schedules = new ScheduleVariables(control, config.site.timezone);
  const engine = new RuleEngine({ model: compiled.model, rules: compiled.rules, writer: gate, logger: log, schedules: schedules.values });
  const changes = new Map<string, number[]>();

  const tickMs = opts.tickMs ?? control.tickMs ?? DEFAULT_TICK_MS;
  const end = site.startMs + opts.days * 86_400_000;
  // Which points to put in the snapshot: everything the rules can read or write.
  const devices = config.devices.map((d) => ({ id: d.id, points: profiles.get(d.profile)?.points ?? [] }));
  // co2_kg: with an hourly carbon-intensity profile in the config, each interval's import is
  // weighted by the intensity of its local hour; otherwise the single annual grid factor applies.
  const ci = control.carbonIntensity;
  const hourly = ci?.hourly && ci.hourly.length === 24 ? ci.hourly : undefined;
  const localTime = new LocalTime(config.site.timezone);
  let co2Grams = 0;
  const wallClock = opts.wallClock ?? (() => performance.now());
  const wall0 = wallClock();
  const e0 = site.energy();
  let lastImport = e0.gridImport;
  let lastT = site.startMs;
  let ticks = 0;
  for (now = site.startMs; now <= end; now += tickMs) {
    site.step(now);
    if (hourly && now > lastT) {
      const imported = site.energy().gridImport;
      co2Grams += (imported - lastImport) * hourly[Math.floor(localTime.at(lastT).minutes / 60)]!;
      lastImport = imported;
      lastT = now;
    }
    const snap = new Map<string, Reading>();
    for (const d of devices) {
      const vals = site.values(d.id);
      if (!vals) continue;
      for (const p of d.points) {
        // By point id, else by canonical name (a real site's profiles on the demo physics).
        const v = vals[p.id] ?? (p.canonical ? vals[p.canonical] : undefined);
        if (v === undefined) continue;
        snap.set(`${d.id}/${p.id}`, { device: d.id, point: p.id, canonical: p.canonical, value: v, quality: 'good', ts: now, source: site.label });
      }
    }
    if (schedules.size) schedules.advance(now);
    const r = await engine.tick(snap, now);
    ticks++;
    for (const a of r?.applied ?? []) {
      if (a.status === 'failed' || a.previous === undefined) continue;
      const list = changes.get(a.output) ?? [];
      list.push(a.ts);
      changes.set(a.output, list);
    }
  }
  const wall = (wallClock() - wall0) / 1000;
  const e1 = site.energy();
  const imp = e1.gridImport - e0.gridImport;
  const exp = e1.gridExport - e0.gridExport;
  const pv = e1.pv - e0.pv;
  const chg = e1.batteryCharge - e0.batteryCharge;
  const dis = e1.batteryDischarge - e0.batteryDischarge;
  const consumption = imp + pv - exp + dis - chg;
  const onsiteUsed = Math.max(0, pv - exp);
  const factor: ReplayReport['co2_factor'] = hourly
    ? {
        id: 'control.carbonIntensity.hourly',
        value: imp > 0 ? round(co2Grams / 1000 / imp, 4) : 0,
        unit: 'tCO2/MWh (import-weighted mean of the hourly profile)',
        source: 'site config control.carbonIntensity.hourly (g CO2/kWh by local hour)',
      }
    : replayGridFactor(config);
  const co2Kg = hourly ? co2Grams / 1000 : imp * factor.value;
  const outputs: Record<string, OutputSwitching> = {};
  const switches: Record<string, number> = {};
  for (const [key, st] of engine.outputs) {
    const times = changes.get(key) ?? [];
    let min: number | null = null;
    for (let i = 1; i < times.length; i++) min = Math.min(min ?? Infinity, (times[i]! - times[i - 1]!) / 1000);
    const name = outputName(key);
    outputs[name] = { switches: st.switches, min_interval_s: min };
    switches[name] = st.switches;
  }
  const simulated = (end - site.startMs) / 1000;
  return {
    source: site.label,
    start: new Date(site.startMs).toISOString(),
    days: opts.days,
    rules: compiled.rules.map((r) => r.id),
    // Volumetric: on-site renewable consumed / total electricity consumed (grid import + on-site generation consumed).
    green_share: round(onsiteUsed + imp > 0 ? onsiteUsed / (onsiteUsed + imp) : 0, 4),
    // Share of on-site generation used on site (directly or through the battery).
    self_consumption: round(pv > 0 ? onsiteUsed / pv : 0, 4),
    grid_import_kwh: round(imp, 3),
    export_kwh: round(exp, 3),
    co2_kg: round(co2Kg, 3),
    pv_kwh: round(pv, 3),
    consumption_kwh: round(consumption, 3),
    battery_charge_kwh: round(chg, 3),
    battery_discharge_kwh: round(dis, 3),
    switches,
    outputs,
    co2_method: hourly ? 'hourly' : 'annual',
    co2_factor: factor,
    ticks,
    simulated_s: simulated,
    wall_s: round(wall, 3),
    speed: Math.round(simulated / Math.max(wall, 1e-6)),
  };
}

const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

