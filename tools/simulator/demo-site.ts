/**
 * Physics of the demo site: a small factory with rooftop PV, a battery, an SG-Ready heat pump, a
 * flexible load on a relay, and a three-phase grid meter at the point of connection.
 *
 * The model is deterministic and stepped by simulated time, so a replay can run a whole day in
 * well under a second and two runs with the same seed produce the same numbers:
 * - exogenous signals (sun, clouds, base load, voltages, frequency) are pure functions of the
 *   absolute simulated time and the seed (hashed noise knots, linearly interpolated), so they do
 *   not depend on how the caller slices time;
 * - state (battery energy, counters, heat pump cycle) advances in sub-steps of at most
 *   `maxSubstepMs`; every power is held constant over its sub-step and rounded to whole watts, so
 *   every energy counter is exactly the integral of the powers it reports, and the grid meter's
 *   power is exactly the balance of the other devices' powers (+ = import).
 *
 * Both flexible consumers store energy, so a rule that runs them on PV shifts consumption in time
 * instead of adding to it (what a what-if replay must show honestly):
 * - the heat pump feeds a heat store (buffer tank and building mass, `heatPumpStoreKwh` of
 *   electrical equivalent): what it runs above its normal (state 2) pattern in SG-Ready boost or
 *   forced state is banked, and in normal state it stays off while the bank lasts; when blocked
 *   the bank covers the demand first;
 * - the flexible load is a storage load (a hot-water or cold store) with a daily demand drawn
 *   during the working day: its own thermostat keeps the store above a minimum whatever the relay
 *   says (a deferrable load, not a sheddable one); relay on lets it fill the store to the top.
 *   Without anyone writing the relay (off), it runs exactly when its thermostat needs it.
 *
 * Values are keyed by the demo profiles' point ids (device-profiles/README.md vocabulary) in
 * engineering units: W, kWh, V, A, Hz, %, and booleans for coils.
 */

export const DEMO_DEVICES = ['grid', 'pv', 'battery', 'heatpump', 'load'] as const;
export type DemoDevice = (typeof DEMO_DEVICES)[number];

export type DemoValue = number | boolean;
export type DemoValues = Record<string, DemoValue>;

/** Battery control modes (holding register `control_mode` of the carbonedge-battery profile). */
export const BATTERY_MODES = {
  selfConsumption: 0,
  hold: 1,
  forcedCharge: 2,
  forcedDischarge: 3,
  chargeFromSurplus: 4,
} as const;

export interface DemoBatteryOptions {
  capacityKwh?: number;
  /** Max charge and discharge power, W (AC side). */
  maxPowerW?: number;
  /** Round-trip efficiency (0..1]; split evenly between charging and discharging. */
  roundTripEfficiency?: number;
  /** State of charge at start, %. */
  initialSoc?: number;
  /** Minimum state of charge for discharging, %. */
  reserveSoc?: number;
}

export interface DemoSiteOptions {
  /** Seed of every random signal (clouds, load noise, voltages). Default 1. */
  seed?: number;
  /** Simulated start time, ms since the epoch. Default: now. */
  startMs?: number;
  /** Offset of the site's local time from UTC, minutes (sun and working hours). Default 60 (CET). */
  utcOffsetMinutes?: number;
  /** PV peak AC power under clear sky at midsummer noon, W. Default 30 000. */
  pvPeakW?: number;
  /** Base load of the factory during working hours / at night, W. Defaults 14 000 / 4 000. */
  baseLoadDayW?: number;
  baseLoadNightW?: number;
  /**
   * Working pattern: `day` (one shift 07:00-18:00 with a lunch dip, Monday to Friday; default) or
   * `two-shift` (08:00-16:00 and 16:00-24:00 with a break in each, Monday to Saturday).
   */
  shifts?: 'day' | 'two-shift';
  /** Production line output while running at full load, units per hour (0 = no line). Default 0. */
  productionPerHour?: number;
  /** Heat pump electrical power per SG-Ready state, W (normal mode is duty-cycled). */
  heatPumpNormalW?: number;
  heatPumpBoostW?: number;
  heatPumpForcedW?: number;
  /** Fraction of each 30-minute cycle the compressor runs in SG-Ready state 2 (normal). */
  heatPumpNormalDuty?: number;
  /** Heat store of the heat pump, kWh of electrical equivalent banked above normal operation. Default 12. */
  heatPumpStoreKwh?: number;
  /** Flexible load: heating/cooling power while it runs, W. Default 5 000. */
  flexLoadW?: number;
  /** Flexible load: usable store, kWh; the thermostat keeps at least `flexMinKwh` (+ 2 kWh band). Defaults 15 / 3. */
  flexStoreKwh?: number;
  flexMinKwh?: number;
  /** Flexible load: energy drawn from its store per day, evenly 06:00-22:00 local, kWh. Default 20. */
  flexDemandKwhPerDay?: number;
  /** Flexible load: store content at start, kWh. Default: half the store. */
  flexInitialKwh?: number;
  battery?: DemoBatteryOptions;
  /** Longest sub-step of the integration, ms. Default 1000. */
  maxSubstepMs?: number;
  /** Counter readings at start, kWh (real meters never start at zero). */
  initialCounters?: Partial<DemoCounters>;
}

/** The simulated meters' cumulative counters (kWh, kvarh; `production` in units). */
export type DemoCounters = Record<
  'gridImport' | 'gridExport' | 'pvExport' | 'batteryImport' | 'batteryExport' | 'heatPumpImport' | 'loadImport' | 'reactiveImport' | 'reactiveExport' | 'production',
  number
>;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const NOMINAL_V = 230;

/** Base load imbalance across L1..L3 (sums to 1). The flexible load is single-phase on L2. */
const BASE_SHARE = [0.36, 0.34, 0.3] as const;
/** Reactive share (tan phi) of each load: inductive factory loads, motors in the heat pump. */
const TAN_PHI_BASE = Math.tan(Math.acos(0.93));
const TAN_PHI_HP = Math.tan(Math.acos(0.95));
const TAN_PHI_FLEX = Math.tan(Math.acos(0.98));

/** 32-bit integer hash (Chris Wellons' lowbias32) of the seed, a channel and a knot index, in [0, 1). */
function noise01(seed: number, channel: number, index: number): number {
  let x = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(channel + 1, 0x85ebca77) ^ Math.imul(index | 0, 0xc2b2ae3d)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return (x >>> 0) / 4294967296;
}

/** Smooth noise in [0, 1): knots every `periodMs` of absolute time, linear in between. */
function smoothNoise(seed: number, channel: number, t: number, periodMs: number): number {
  const k = Math.floor(t / periodMs);
  const f = (t - k * periodMs) / periodMs;
  const a = noise01(seed, channel, k);
  const b = noise01(seed, channel, k + 1);
  return a + (b - a) * f;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Powers held during the last sub-step, W: the grid is the balance (+ = import). */
export interface DemoPowers {
  pv: number;
  base: number;
  heatpump: number;
  load: number;
  battery: number;
  grid: number;
}

/** Line-to-line voltage from two phase voltages 120 degrees apart. */
const vLL = (a: number, b: number) => Math.sqrt(a * a + b * b + a * b);

export class DemoSite {
  readonly seed: number;
  /** Writes that reached each device (accepted or rejected), for tests of dry-run and gating. */
  readonly writeCount: Record<DemoDevice, number> = { grid: 0, pv: 0, battery: 0, heatpump: 0, load: 0 };

  private readonly utcOffsetMs: number;
  private readonly pvPeakW: number;
  private readonly baseDayW: number;
  private readonly baseNightW: number;
  private readonly twoShift: boolean;
  private readonly productionPerHour: number;
  /** Units produced (the production line's output counter). */
  private production: number;
  private readonly hpNormalW: number;
  private readonly hpBoostW: number;
  private readonly hpForcedW: number;
  private readonly hpDuty: number;
  private readonly flexW: number;
  private readonly hpStoreMaxKwh: number;
  private readonly flexStoreMaxKwh: number;
  private readonly flexMinKwh: number;
  private readonly flexDemandW: number;
  private readonly capacityKwh: number;
  private readonly batteryMaxW: number;
  private readonly etaCharge: number;
  private readonly etaDischarge: number;
  private readonly maxSubstepMs: number;

  private t: number;
  private p: DemoPowers = { pv: 0, base: 0, heatpump: 0, load: 0, battery: 0, grid: 0 };
  /** Energy stored in the battery, kWh (DC side). */
  private storedKwh: number;

  // controls
  private controlMode: number = BATTERY_MODES.selfConsumption;
  private powerSetpointW = 0;
  private reserveSoc: number;
  private sgRelay1 = false;
  private sgRelay2 = false;
  private relay = false;

  // counters, kWh
  private gridImport: number;
  private gridExport: number;
  private pvExport: number;
  private batteryImport: number;
  private batteryExport: number;
  private hpImport: number;
  private loadImport: number;
  private hpStarts = 0;
  private hpWasOn = false;
  private flowTempC = 32;
  /** Heat banked by the heat pump above its normal pattern, kWh (electrical equivalent). */
  private hpBankKwh = 0;
  /** Flexible load's store, kWh, and whether its heater is running (thermostat latch). */
  private flexKwh: number;
  private flexHeating = false;
  private reactiveImport: number;
  private reactiveExport: number;
  /** Average import power over the demand period (15 min, exponential), and its maximum, W. */
  private demandW = 0;
  private demandMaxW = 0;

  constructor(opts: DemoSiteOptions = {}) {
    this.seed = (opts.seed ?? 1) >>> 0;
    this.t = opts.startMs ?? Date.now();
    this.utcOffsetMs = (opts.utcOffsetMinutes ?? 60) * 60_000;
    this.pvPeakW = opts.pvPeakW ?? 30_000;
    this.baseDayW = opts.baseLoadDayW ?? 14_000;
    this.baseNightW = opts.baseLoadNightW ?? 4_000;
    this.twoShift = opts.shifts === 'two-shift';
    this.productionPerHour = Math.max(0, opts.productionPerHour ?? 0);
    this.hpNormalW = opts.heatPumpNormalW ?? 4_000;
    this.hpBoostW = opts.heatPumpBoostW ?? 7_000;
    this.hpForcedW = opts.heatPumpForcedW ?? 8_000;
    this.hpDuty = clamp(opts.heatPumpNormalDuty ?? 0.6, 0, 1);
    this.flexW = opts.flexLoadW ?? 5_000;
    this.hpStoreMaxKwh = Math.max(0, opts.heatPumpStoreKwh ?? 12);
    this.flexStoreMaxKwh = Math.max(0.1, opts.flexStoreKwh ?? 15);
    this.flexMinKwh = clamp(opts.flexMinKwh ?? 3, 0, this.flexStoreMaxKwh);
    this.flexDemandW = (Math.max(0, opts.flexDemandKwhPerDay ?? 20) * 1000) / 16;
    this.flexKwh = clamp(opts.flexInitialKwh ?? this.flexStoreMaxKwh / 2, 0, this.flexStoreMaxKwh);
    const b = opts.battery ?? {};
    this.capacityKwh = b.capacityKwh ?? 50;
    this.batteryMaxW = b.maxPowerW ?? 10_000;
    const eta = Math.sqrt(clamp(b.roundTripEfficiency ?? 0.92, 0.01, 1));
    this.etaCharge = eta;
    this.etaDischarge = eta;
    this.storedKwh = (clamp(b.initialSoc ?? 50, 0, 100) / 100) * this.capacityKwh;
    this.reserveSoc = clamp(b.reserveSoc ?? 10, 0, 100);
    this.maxSubstepMs = Math.max(1, opts.maxSubstepMs ?? 1000);
    const c = opts.initialCounters ?? {};
    this.gridImport = c.gridImport ?? 48_213.7;
    this.gridExport = c.gridExport ?? 9_312.4;
    this.pvExport = c.pvExport ?? 61_234.5;
    this.batteryImport = c.batteryImport ?? 7_120.3;
    this.batteryExport = c.batteryExport ?? 6_498.1;
    this.hpImport = c.heatPumpImport ?? 15_877.2;
    this.loadImport = c.loadImport ?? 3_402.9;
    this.reactiveImport = c.reactiveImport ?? 17_640.2;
    this.reactiveExport = c.reactiveExport ?? 12.6;
    this.production = c.production ?? 1_250_000;
    this.p = this.computePowers(this.t, 0);
  }

  /** Every cumulative counter now: what a second run needs to continue them (initialCounters). */
  counters(): DemoCounters {
    return {
      gridImport: this.gridImport,
      gridExport: this.gridExport,
      pvExport: this.pvExport,
      batteryImport: this.batteryImport,
      batteryExport: this.batteryExport,
      heatPumpImport: this.hpImport,
      loadImport: this.loadImport,
      reactiveImport: this.reactiveImport,
      reactiveExport: this.reactiveExport,
      production: this.production,
    };
  }

  /** The production line's output counter (whole units) and its rate now, units/h. */
  productionValues(): DemoValues {
    return { output_count: Math.floor(this.production), output_rate: Math.round(this.productionRate(this.t)), running: this.productionRate(this.t) > 0 };
  }

  /** Current simulated time, ms since the epoch. */
  get nowMs(): number {
    return this.t;
  }

  /**
   * Advance the simulation to `nowMs` (simulated time). Each sub-step holds the powers computed
   * for its end time and integrates them exactly; a time at or before the current one is a no-op.
   */
  step(nowMs: number): void {
    while (this.t < nowMs) {
      const t1 = Math.min(nowMs, this.t + this.maxSubstepMs);
      const dt = t1 - this.t;
      const p = this.computePowers(t1, dt);
      this.integrate(p, dt, t1);
      this.p = p;
      this.t = t1;
    }
  }

  /** Powers held during the last sub-step (base = the factory's unmetered base load). */
  powers(): Readonly<DemoPowers> {
    return { ...this.p };
  }

  /** Engineering values of one device, keyed by profile point id. */
  values(device: DemoDevice): DemoValues {
    const p = this.p;
    switch (device) {
      case 'grid':
        return this.gridValues();
      case 'pv': {
        const v = this.phaseVoltages();
        const perPhase = p.pv / 3;
        const vAvg = (v[0] + v[1] + v[2]) / 3;
        const dcV = p.pv > 0 ? 620 + 60 * smoothNoise(this.seed, 20, this.t, 600_000) : 0;
        return {
          active_power: p.pv,
          energy_export: this.pvExport,
          voltage_l1: v[0],
          voltage_l2: v[1],
          voltage_l3: v[2],
          voltage_l1_l2: vLL(v[0], v[1]),
          voltage_l2_l3: vLL(v[1], v[2]),
          voltage_l3_l1: vLL(v[2], v[0]),
          current_l1: perPhase / v[0],
          current_l2: perPhase / v[1],
          current_l3: perPhase / v[2],
          current: p.pv / vAvg,
          frequency: this.frequency(),
          power_factor: 1,
          apparent_power: p.pv,
          reactive_power: 0,
          dc_power: p.pv > 0 ? Math.round(p.pv / 0.975) : 0,
          dc_voltage: dcV,
          dc_current: p.pv > 0 ? p.pv / 0.975 / dcV : 0,
          temperature: 25 + (p.pv / this.pvPeakW) * 20,
          temperature_heatsink: 25 + (p.pv / this.pvPeakW) * 35,
          events: 0,
          /** SunSpec operating state: 2 sleeping (no sun), 4 MPPT. */
          operating_state: p.pv > 0 ? 4 : 2,
        };
      }
      case 'battery': {
        const v = this.phaseVoltages();
        const soc = this.soc();
        const dcV = 640 + 1.2 * soc;
        return {
          active_power: p.battery,
          soc,
          energy_import: this.batteryImport,
          energy_export: this.batteryExport,
          soh: 97.5,
          temperature: 21 + 6 * (Math.abs(p.battery) / this.batteryMaxW),
          /** 0 idle, 1 charging, 2 discharging */
          state: p.battery > 0 ? 2 : p.battery < 0 ? 1 : 0,
          control_mode: this.controlMode,
          power_setpoint: this.powerSetpointW,
          reserve_soc: this.reserveSoc,
          /** usable capacity, Wh */
          capacity: this.capacityKwh * 1000,
          max_power: this.batteryMaxW,
          dc_voltage: dcV,
          dc_current: p.battery / dcV,
          current_l1: Math.abs(p.battery) / 3 / v[0],
          current_l2: Math.abs(p.battery) / 3 / v[1],
          current_l3: Math.abs(p.battery) / 3 / v[2],
        };
      }
      case 'heatpump':
        return {
          active_power: p.heatpump,
          energy_import: this.hpImport,
          sg_relay_1: this.sgRelay1,
          sg_relay_2: this.sgRelay2,
          sg_state: this.sgState(),
          /** flow (supply water) temperature, °C */
          temperature: this.flowTempC,
          compressor_starts: this.hpStarts,
        };
      case 'load':
        return {
          active_power: p.load,
          energy_import: this.loadImport,
          relay: this.relay,
        };
    }
  }

  /**
   * Control input: battery `control_mode` (0-4), `power_setpoint` (W, >= 0), `reserve_soc` (%);
   * heat pump `sg_relay_1`/`sg_relay_2`; flexible load `relay`. Counted in `writeCount`, then
   * validated: an unknown point or a value out of range throws (the simulator answers a Modbus
   * exception). Takes effect from the next step.
   */
  write(device: DemoDevice, point: string, value: number | boolean): void {
    this.writeCount[device]++;
    const num = (min: number, max: number, integer = true): number => {
      const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
        throw new RangeError(`${device}.${point}: ${String(value)} is not ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
      }
      return n;
    };
    const bool = (): boolean => {
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      throw new RangeError(`${device}.${point}: ${String(value)} is not on/off (true/false or 1/0)`);
    };
    switch (`${device}.${point}`) {
      case 'battery.control_mode':
        this.controlMode = num(0, 4);
        return;
      case 'battery.power_setpoint':
        this.powerSetpointW = num(0, 1_000_000, false);
        return;
      case 'battery.reserve_soc':
        this.reserveSoc = num(0, 100, false);
        return;
      case 'heatpump.sg_relay_1':
        this.sgRelay1 = bool();
        return;
      case 'heatpump.sg_relay_2':
        this.sgRelay2 = bool();
        return;
      case 'load.relay':
        this.relay = bool();
        return;
      default:
        throw new RangeError(`${device}.${point} is not writable`);
    }
  }

  /** SG-Ready state 1-4 from the two relays: 1/0 blocked, 0/0 normal, 0/1 boost, 1/1 forced. */
  sgState(): 1 | 2 | 3 | 4 {
    if (this.sgRelay1 && !this.sgRelay2) return 1;
    if (!this.sgRelay1 && !this.sgRelay2) return 2;
    if (!this.sgRelay1 && this.sgRelay2) return 3;
    return 4;
  }

  /** Battery state of charge, %. */
  soc(): number {
    return (this.storedKwh / this.capacityKwh) * 100;
  }

  // ---------------------------------------------------------------- signals (pure in time)

  private localHour(t: number): number {
    const local = t + this.utcOffsetMs;
    return (((local % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  }

  private dayIndex(t: number): number {
    return Math.floor((t + this.utcOffsetMs) / DAY_MS);
  }

  /** Clear-sky PV power: season-dependent day length and height, solar noon at 12:30 local. */
  clearSkyPvW(t: number): number {
    const doy = ((this.dayIndex(t) % 365.2425) + 365.2425) % 365.2425; // days since 1970-01-01, mod a year
    const season = Math.sin((2 * Math.PI * (doy - 80)) / 365.2425); // +1 midsummer, -1 midwinter
    const dayLength = 12 + 4 * season; // hours
    const x = (this.localHour(t) - (12.5 - dayLength / 2)) / dayLength;
    if (x <= 0 || x >= 1) return 0;
    const height = 0.65 + 0.35 * season;
    return this.pvPeakW * height * Math.pow(Math.sin(Math.PI * x), 1.4);
  }

  /** Fraction of clear-sky irradiance that gets through the clouds (0.15..1). */
  cloudFactor(t: number): number {
    const u = noise01(this.seed, 1, this.dayIndex(t));
    const cloudiness = 0.7 * u * u; // most days fairly clear, some overcast
    const passing = smoothNoise(this.seed, 2, t, 10 * 60_000); // clouds passing, knots every 10 min
    const flicker = smoothNoise(this.seed, 3, t, 60_000); // fast changes at cloud edges
    const cover = cloudiness * (0.3 + 1.2 * passing + 0.3 * flicker);
    return clamp(1 - cover, 0.15, 1);
  }

  /** Production level 0..1 of a two-shift factory: 08:00-16:00 and 16:00-24:00, Monday to Saturday. */
  private twoShiftShape(t: number): number {
    const h = this.localHour(t);
    const weekday = (((this.dayIndex(t) + 4) % 7) + 7) % 7;
    if (weekday === 0) return 0.05;
    if (h < 7) return 0;
    if (h < 8) return h - 7; // ramp-up before the first shift
    if ((h >= 11.5 && h < 12) || (h >= 19.5 && h < 20)) return 0.6; // meal breaks
    if (h >= 15.75 && h < 16.25) return 0.8; // shift change
    if (h >= 23.5) return (24 - h) * 2; // ramp-down
    return 1;
  }

  /** Units per hour the production line makes now (full rate in production, nothing otherwise). */
  private productionRate(t: number): number {
    if (!this.productionPerHour) return 0;
    const shape = this.twoShift ? this.twoShiftShape(t) : 0;
    return shape >= 0.6 ? this.productionPerHour * shape : 0;
  }

  private baseLoadW(t: number): number {
    const h = this.localHour(t);
    const weekday = (((this.dayIndex(t) + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    const working = weekday >= 1 && weekday <= 5;
    let shape: number; // 0 = night, 1 = full production
    if (this.twoShift) shape = this.twoShiftShape(t);
    else if (!working) shape = 0.05;
    else if (h < 5.5 || h >= 22) shape = 0;
    else if (h < 7) shape = (h - 5.5) / 1.5;
    else if (h >= 12 && h < 13) shape = 0.75; // lunch break
    else if (h < 16) shape = 1;
    else if (h < 18) shape = 1 - (0.6 * (h - 16)) / 2;
    else shape = 0.4 * (1 - (h - 18) / 4);
    const level = this.baseNightW + (this.baseDayW - this.baseNightW) * shape;
    const wobble = 0.92 + 0.16 * smoothNoise(this.seed, 4, t, 60_000);
    return level * wobble;
  }

  /** What the heat pump runs in SG-Ready state 2 with nothing banked (its heat demand): duty-cycled, W. */
  private normalHeatPumpW(t: number): number {
    const cycleMs = 30 * 60_000;
    const phase = noise01(this.seed, 5, 0) * cycleMs;
    const inCycle = (((t + phase) % cycleMs) + cycleMs) % cycleMs;
    if (inCycle >= this.hpDuty * cycleMs) return 0;
    // Whole watts, like every power: the bank then stays exactly 0 in plain normal operation.
    return Math.round(this.hpNormalW * (0.95 + 0.1 * smoothNoise(this.seed, 6, t, 120_000)));
  }

  private heatPumpW(t: number): number {
    const storeFull = this.hpBankKwh >= this.hpStoreMaxKwh;
    switch (this.sgState()) {
      case 1:
        return 0;
      case 2:
        // Heat banked by an earlier boost covers the demand first: the compressor stays off.
        return this.hpBankKwh > 0 ? 0 : this.normalHeatPumpW(t);
      case 3:
        // Boost raises the setpoints; once the store is at its top the thermostat falls back to the demand.
        return storeFull ? this.normalHeatPumpW(t) : this.hpBoostW * (0.97 + 0.06 * smoothNoise(this.seed, 6, t, 120_000));
      case 4:
        return storeFull ? this.normalHeatPumpW(t) : this.hpForcedW * (0.98 + 0.04 * smoothNoise(this.seed, 6, t, 120_000));
    }
  }

  /** Energy drawn from the flexible load's store (hot water, cooling), W: evenly 06:00-22:00 local. */
  private flexDrawW(t: number): number {
    const h = this.localHour(t);
    return h >= 6 && h < 22 ? this.flexDemandW : 0;
  }

  /**
   * The flexible load's own thermostat, for the coming sub-step: it keeps the store above its
   * minimum (heating to minimum + 2 kWh) whatever the relay; with the relay on it heats to the
   * top (and restarts 0.5 kWh below it).
   */
  private flexLoadW(t: number): number {
    const top = this.relay ? this.flexStoreMaxKwh : Math.min(this.flexStoreMaxKwh, this.flexMinKwh + 2);
    if (this.flexHeating) {
      if (this.flexKwh >= top) this.flexHeating = false;
    } else if (this.flexKwh < this.flexMinKwh || (this.relay && this.flexKwh < this.flexStoreMaxKwh - 0.5)) {
      this.flexHeating = true;
    }
    return this.flexHeating ? this.flexW * (0.98 + 0.04 * smoothNoise(this.seed, 7, t, 30_000)) : 0;
  }

  /** Heat banked by the heat pump above its normal pattern, kWh (electrical equivalent). */
  heatPumpBankKwh(): number {
    return this.hpBankKwh;
  }

  /** Content of the flexible load's store, kWh. */
  flexStoreKwh(): number {
    return this.flexKwh;
  }

  private phaseVoltagesAt(t: number, phasePowers: readonly number[]): [number, number, number] {
    // Network voltage wanders by a few volts; the site's own import pulls it down, export pushes it up.
    return [0, 1, 2].map((i) => {
      const net = NOMINAL_V - 2 + 6 * smoothNoise(this.seed, 10 + i, t, 20_000);
      return net - 0.12 * (phasePowers[i]! / 1000);
    }) as [number, number, number];
  }

  private phaseVoltages(): [number, number, number] {
    return this.phaseVoltagesAt(this.t, this.phasePowers(this.p));
  }

  private frequency(): number {
    return 50 + 0.06 * (smoothNoise(this.seed, 13, this.t, 10_000) - 0.5);
  }

  // ---------------------------------------------------------------- state

  private computePowers(t: number, dtMs: number): DemoPowers {
    const pv = Math.round(this.clearSkyPvW(t) * this.cloudFactor(t));
    const base = Math.round(this.baseLoadW(t));
    const heatpump = Math.round(this.heatPumpW(t));
    const load = Math.round(this.flexLoadW(t));
    const deficit = base + heatpump + load - pv; // + = the site needs power
    const battery = this.batteryPower(deficit, dtMs);
    return { pv, base, heatpump, load, battery, grid: deficit - battery };
  }

  /** Battery AC power for the coming sub-step (+ = discharge), within power, capacity and reserve. */
  private batteryPower(deficit: number, dtMs: number): number {
    const sp = Math.min(this.powerSetpointW, this.batteryMaxW);
    let want: number;
    switch (this.controlMode) {
      case BATTERY_MODES.selfConsumption:
        // Real controllers leave a small residual at the meter (aim slightly on the import side).
        want = deficit - (10 + 40 * smoothNoise(this.seed, 14, this.t + dtMs, 10_000));
        break;
      case BATTERY_MODES.forcedCharge:
        want = -sp;
        break;
      case BATTERY_MODES.forcedDischarge:
        want = sp;
        break;
      case BATTERY_MODES.chargeFromSurplus:
        want = Math.min(0, deficit);
        break;
      case BATTERY_MODES.hold:
      default:
        want = 0;
    }
    want = clamp(want, -this.batteryMaxW, this.batteryMaxW);
    if (dtMs <= 0) {
      // No interval to integrate (construction): report what the battery would do now.
      if (want > 0 && this.soc() <= this.reserveSoc) return 0;
      if (want < 0 && this.soc() >= 100) return 0;
      return Math.round(want);
    }
    const hours = dtMs / HOUR_MS;
    if (want > 0) {
      const availableKwh = Math.max(0, this.storedKwh - (this.reserveSoc / 100) * this.capacityKwh);
      const limitW = Math.floor(((availableKwh * this.etaDischarge) / hours) * 1000);
      return Math.max(0, Math.min(Math.round(want), limitW));
    }
    if (want < 0) {
      const headroomKwh = Math.max(0, this.capacityKwh - this.storedKwh);
      const limitW = Math.floor((headroomKwh / this.etaCharge / hours) * 1000);
      return 0 - Math.max(0, Math.min(Math.round(-want), limitW)); // 0 - 0 is +0, not -0
    }
    return 0;
  }

  private integrate(p: DemoPowers, dtMs: number, t1: number): void {
    const kwh = (w: number) => (w * dtMs) / HOUR_MS / 1000;
    // Stores: the heat pump banks what it ran above its demand; the flexible load's store gains
    // what it ran and loses what is drawn.
    this.hpBankKwh = clamp(this.hpBankKwh + kwh(p.heatpump - this.normalHeatPumpW(t1)), 0, this.hpStoreMaxKwh);
    this.flexKwh = clamp(this.flexKwh + kwh(p.load - this.flexDrawW(t1)), 0, this.flexStoreMaxKwh);
    if (p.grid >= 0) this.gridImport += kwh(p.grid);
    else this.gridExport += kwh(-p.grid);
    this.pvExport += kwh(p.pv);
    this.hpImport += kwh(p.heatpump);
    this.loadImport += kwh(p.load);
    this.production += (this.productionRate(t1) * dtMs) / HOUR_MS;
    if (p.battery >= 0) {
      this.batteryExport += kwh(p.battery);
      this.storedKwh -= kwh(p.battery) / this.etaDischarge;
    } else {
      this.batteryImport += kwh(-p.battery);
      this.storedKwh += kwh(-p.battery) * this.etaCharge;
    }
    this.storedKwh = clamp(this.storedKwh, 0, this.capacityKwh);
    const hpOn = p.heatpump > 0;
    if (hpOn && !this.hpWasOn) this.hpStarts++;
    this.hpWasOn = hpOn;
    // Flow temperature approaches the state's target with a 10-minute time constant.
    const target = !hpOn ? 28 : this.sgState() === 4 ? 55 : this.sgState() === 3 ? 45 : 35;
    this.flowTempC = target + (this.flowTempC - target) * Math.exp(-dtMs / 600_000);
    const q = this.phaseReactive(p).reduce((a, b) => a + b, 0);
    if (q >= 0) this.reactiveImport += kwh(q);
    else this.reactiveExport += kwh(-q);
    const a = 1 - Math.exp(-dtMs / 900_000);
    this.demandW += (Math.max(0, p.grid) - this.demandW) * a;
    this.demandMaxW = Math.max(this.demandMaxW, this.demandW);
  }

  /** Active power per phase at the grid meter (+ = import); sums exactly to the total. */
  private phasePowers(p: DemoPowers): [number, number, number] {
    const l1 = p.base * BASE_SHARE[0] + (p.heatpump - p.pv - p.battery) / 3;
    const l3 = p.base * BASE_SHARE[2] + (p.heatpump - p.pv - p.battery) / 3;
    return [l1, p.grid - l1 - l3, l3];
  }

  private phaseReactive(p: DemoPowers): [number, number, number] {
    const hp = (p.heatpump * TAN_PHI_HP) / 3;
    return [
      p.base * BASE_SHARE[0] * TAN_PHI_BASE + hp,
      p.base * BASE_SHARE[1] * TAN_PHI_BASE + hp + p.load * TAN_PHI_FLEX,
      p.base * BASE_SHARE[2] * TAN_PHI_BASE + hp,
    ];
  }

  private gridValues(): DemoValues {
    const p = this.p;
    const pp = this.phasePowers(p);
    const qq = this.phaseReactive(p);
    const v = this.phaseVoltagesAt(this.t, pp);
    const ss = pp.map((x, i) => Math.hypot(x, qq[i]!));
    const ii = ss.map((s, i) => s / v[i]!);
    const q = qq[0] + qq[1] + qq[2];
    const s = Math.hypot(p.grid, q);
    const pf = s > 0 ? Math.abs(p.grid) / s : 1;
    return {
      active_power: p.grid,
      energy_import: this.gridImport,
      energy_export: this.gridExport,
      voltage_l1: v[0],
      voltage_l2: v[1],
      voltage_l3: v[2],
      voltage_l1_l2: vLL(v[0], v[1]),
      voltage_l2_l3: vLL(v[1], v[2]),
      voltage_l3_l1: vLL(v[2], v[0]),
      current_l1: ii[0]!,
      current_l2: ii[1]!,
      current_l3: ii[2]!,
      // Neutral current of three currents 120 degrees apart (loads' phase angles taken as equal).
      current_sum: ii[0]! + ii[1]! + ii[2]!,
      current_n: Math.sqrt(Math.max(0, ii[0]! ** 2 + ii[1]! ** 2 + ii[2]! ** 2 - ii[0]! * ii[1]! - ii[1]! * ii[2]! - ii[2]! * ii[0]!)),
      active_power_l1: pp[0],
      active_power_l2: pp[1],
      active_power_l3: pp[2],
      reactive_power_l1: qq[0],
      reactive_power_l2: qq[1],
      reactive_power_l3: qq[2],
      apparent_power_l1: ss[0]!,
      apparent_power_l2: ss[1]!,
      apparent_power_l3: ss[2]!,
      power_factor_l1: ss[0]! > 0 ? Math.abs(pp[0]) / ss[0]! : 1,
      power_factor_l2: ss[1]! > 0 ? Math.abs(pp[1]) / ss[1]! : 1,
      power_factor_l3: ss[2]! > 0 ? Math.abs(pp[2]) / ss[2]! : 1,
      reactive_power: q,
      apparent_power: s,
      power_factor: pf,
      frequency: this.frequency(),
      energy_total: this.gridImport + this.gridExport,
      reactive_energy_import: this.reactiveImport,
      reactive_energy_export: this.reactiveExport,
      power_demand: this.demandW,
      power_demand_max: this.demandMaxW,
    };
  }
}
