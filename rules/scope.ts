/**
 * The read-only scope one control tick evaluates every rule against: one snapshot of the
 * process image, derived inputs computed from it, schedule variables, site-local time.
 */
import type { Reading } from '../runtime/types.js';
import type { EvalScope, Value } from './expr/compile.js';
import { inRange } from './expr/compile.js';
import type { SiteModel } from './site-model.js';
import type { ExternalInputs } from './external-inputs.js';
import type { TickTime } from './tick-time.js';

/**
 * Samples of the inputs used in avg(point, seconds), kept for their longest window. Sample times
 * are monotonic (the time each reading stands for), so a step of the wall clock neither freezes
 * the averages nor empties their windows.
 */
export class InputHistory {
  private readonly samples = new Map<string, { at: number[]; v: number[]; lastTs: number }>();
  constructor(readonly windows: Map<string, number>) {
    for (const k of windows.keys()) this.samples.set(k, { at: [], v: [], lastTs: NaN });
  }

  /**
   * Record the latest good values of the tracked inputs (one sample per new reading, told apart by
   * its timestamp) at monotonic time `mono`; `ageOf` gives each reading's monotonic age.
   */
  record(snapshot: Map<string, Reading>, mono: number, good: (r: Reading) => boolean, ageOf: (r: Reading) => number): void {
    for (const [key, s] of this.samples) {
      const r = snapshot.get(key);
      if (r && good(r) && typeof r.value === 'number' && r.ts !== s.lastTs) {
        // Kept in order: a sample is never placed before the one recorded earlier.
        s.at.push(Math.max(mono - Math.max(0, ageOf(r)), s.at.at(-1) ?? -Infinity));
        s.v.push(r.value);
        s.lastTs = r.ts;
      }
      const horizon = mono - this.windows.get(key)!;
      let drop = 0;
      while (drop < s.at.length && s.at[drop]! < horizon) drop++;
      if (drop) {
        s.at.splice(0, drop);
        s.v.splice(0, drop);
      }
    }
  }

  /** Mean of the samples of `key` in the `windowMs` before monotonic time `mono`. */
  avg(key: string, mono: number, windowMs: number): number | undefined {
    const s = this.samples.get(key);
    if (!s) return undefined;
    let sum = 0;
    let n = 0;
    for (let i = s.at.length - 1; i >= 0 && s.at[i]! >= mono - windowMs; i--) {
      sum += s.v[i]!;
      n++;
    }
    return n ? sum / n : undefined;
  }
}

/** Local minutes-since-midnight and ISO weekday for a time zone, cached per minute. */
export class LocalTime {
  private readonly fmt: Intl.DateTimeFormat | undefined;
  private cacheMinute = NaN;
  private cache = { minutes: 0, weekday: 1 };
  constructor(timeZone?: string) {
    this.fmt = timeZone
      ? new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', weekday: 'short' })
      : undefined;
  }
  at(now: number): { minutes: number; weekday: number } {
    const minute = Math.floor(now / 60000);
    if (minute === this.cacheMinute) return this.cache;
    this.cacheMinute = minute;
    if (!this.fmt) {
      const d = new Date(now);
      this.cache = { minutes: d.getHours() * 60 + d.getMinutes(), weekday: ((d.getDay() + 6) % 7) + 1 };
      return this.cache;
    }
    let h = 0;
    let m = 0;
    let wd = 1;
    for (const p of this.fmt.formatToParts(new Date(now))) {
      if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') m = Number(p.value);
      else if (p.type === 'weekday') wd = WEEKDAYS.indexOf(p.value) + 1;
    }
    this.cache = { minutes: h * 60 + m, weekday: wd };
    return this.cache;
  }
}
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export interface ScopeDeps {
  model: SiteModel;
  history: InputHistory;
  localTime: LocalTime;
  external: ExternalInputs;
  schedules: Map<string, number | boolean | string>;
  /** Inputs older than this (ms) are treated as stale; undefined: rely on quality only. */
  maxInputAgeMs?: number;
}

const NOT_COMPUTED = Symbol('not computed');

/**
 * `now` is the tick's wall time (time of day, windows); `time.mono` its monotonic time and
 * `time.age` the readings' monotonic ages, which every age and interval is measured with.
 */
export class TickScope implements EvalScope {
  private readonly derived = new Map<string, Value | undefined | typeof NOT_COMPUTED>();
  /** Monotonic time of the tick, ms (the wall time `now` when the tick has none). */
  readonly mono: number;
  private readonly ageOf: TickTime['age'];
  constructor(
    readonly snapshot: Map<string, Reading>,
    readonly now: number,
    private readonly deps: ScopeDeps,
    time: TickTime = {},
  ) {
    this.mono = time.mono ?? now;
    this.ageOf = time.age;
  }

  /** Age of a reading, ms: monotonic when the tick has the readings' ages, else by its wall timestamp. */
  readingAgeMs(r: Reading): number {
    return this.ageOf?.(r) ?? this.now - r.ts;
  }

  isGood(r: Reading | undefined): r is Reading {
    if (!r || r.quality !== 'good' || r.value === null) return false;
    const max = this.deps.maxInputAgeMs;
    return max === undefined || this.readingAgeMs(r) <= max;
  }

  value(key: string): Value | undefined {
    const c = key.charCodeAt(0);
    if (c === 36 /* $ */) {
      const name = key.slice(1);
      let v = this.derived.get(name);
      if (v === undefined && !this.derived.has(name)) {
        v = this.computeDerived(name);
        this.derived.set(name, v);
      }
      return v === NOT_COMPUTED ? undefined : v;
    }
    if (c === 64 /* @ */) return this.deps.schedules.get(key.slice(1));
    const r = this.snapshot.get(key);
    if (!this.isGood(r)) return undefined;
    return r.value as Value;
  }

  avg(key: string, windowMs: number): number | undefined {
    return this.deps.history.avg(key, this.mono, windowMs);
  }

  ageMs(key: string): number | undefined {
    const r = this.snapshot.get(key);
    return r ? this.readingAgeMs(r) : undefined;
  }

  localMinutes(): number {
    return this.deps.localTime.at(this.now).minutes;
  }

  weekday(): number {
    return this.deps.localTime.at(this.now).weekday;
  }

  inWindow(id: string): boolean {
    const { minutes, weekday } = this.deps.localTime.at(this.now);
    for (const w of this.deps.model.control.windows ?? []) {
      if (w.id !== id) continue;
      if (w.days && !w.days.includes(weekday)) continue;
      if (inRange(minutes, hhmm(w.from), hhmm(w.to))) return true;
    }
    return false;
  }

  /** Sum of a canonical point over the devices of a role; undefined if any is bad. */
  private sumRole(role: Parameters<SiteModel['devicesWithRole']>[0], canonical: string): number | undefined {
    let sum = 0;
    for (const d of this.deps.model.devicesWithRole(role)) {
      const key = this.deps.model.canonicalKey(d.id, canonical);
      if (!key) continue;
      const v = this.value(key);
      if (typeof v !== 'number') return undefined;
      sum += v;
    }
    return sum;
  }

  private computeDerived(name: string): Value | undefined {
    const num = (n: string) => {
      const v = this.value(`$${n}`);
      return typeof v === 'number' ? v : undefined;
    };
    switch (name) {
      case 'grid_power':
        return this.sumRole('grid_meter', 'active_power');
      case 'import_power': {
        const g = num('grid_power');
        return g === undefined ? undefined : Math.max(0, g);
      }
      case 'export_power': {
        const g = num('grid_power');
        return g === undefined ? undefined : Math.max(0, -g);
      }
      case 'pv_power': {
        const pv = this.sumRole('pv_inverter', 'active_power');
        const wind = this.sumRole('wind_turbine', 'active_power');
        return pv === undefined || wind === undefined ? undefined : pv + wind;
      }
      case 'battery_power':
        return this.sumRole('battery', 'active_power');
      case 'battery_soc': {
        const bats = this.deps.model.devicesWithRole('battery');
        let sum = 0;
        for (const d of bats) {
          const key = this.deps.model.canonicalKey(d.id, 'soc');
          const v = key ? this.value(key) : undefined;
          if (typeof v !== 'number') return undefined;
          sum += v;
        }
        return bats.length ? sum / bats.length : undefined;
      }
      case 'site_load': {
        const g = num('grid_power');
        const pv = num('pv_power');
        const b = num('battery_power');
        return g === undefined || pv === undefined || b === undefined ? undefined : g + pv + b;
      }
      case 'pv_surplus': {
        const pv = num('pv_power');
        const load = num('site_load');
        return pv === undefined || load === undefined ? undefined : pv - load;
      }
      case 'grid_co2_g_per_kwh':
        return this.deps.external.value('carbonIntensity', this.mono, Math.floor(this.localMinutes() / 60));
      case 'price':
        return this.deps.external.value('price', this.mono, Math.floor(this.localMinutes() / 60));
    }
    return undefined;
  }
}

export function hhmm(s: string): number {
  const [h, m] = s.split(':');
  return Number(h) * 60 + Number(m);
}
