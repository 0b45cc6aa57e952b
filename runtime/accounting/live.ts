/**
 * Live carbon accounting on the gateway: energy flows from the meters' roles, exact 15-minute
 * windows rolled up into hour / day / month / year windows in the store's SQLite, carbon summaries
 * for the outbox. See runtime/accounting/README.md for the method.
 *
 * Exactness: every counter is turned into integer milli-units of its meter unit (kWh -> Wh, m3 ->
 * L, t -> kg, GJ -> MJ) before any subtraction, so counter deltas telescope exactly; emissions are
 * exact rationals (grams, stored as decimal or n/d text) and longer windows are exact sums of
 * quarter-hours. Nothing is rounded except for display.
 *
 * Restarts: counter baselines, the open windows, the battery's origin pools and the instrument
 * balances are checkpointed in one transaction (at least every `checkpointMs`, at every window
 * close and at stop). After a restart (even a crash) the next counter sample is differenced
 * against the checkpointed baseline, so energy since the checkpoint is counted once: nothing is
 * lost and nothing counted twice. Integrated power (the flagged fallback) restarts from its
 * checkpointed sample: the interval since is one trapezoid when the next sample comes within
 * gapAfterMs, else a reported gap.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { OutboxWriter } from '../services.js';
import type { DeviceRole, Reading } from '../types.js';
import { counterDelta, type CounterFlag } from '../metering/counter-delta.js';
import { migrateAccounting } from './acct-db.js';
import { Q } from './exact.js';
import type { AccountingDeviceConfig, InstrumentConfig } from './config-schema.js';
import type { FuelParameters } from './factors.js';
import { fuelToBasis, hotWaterGJ, steamGJ, type MarketRemainder, type ResolvedFactor } from './inventory.js';
import type { ConfigIssue } from '../config/errors.js';
import { instrumentKey, recordInstrument } from './instruments.js';

export { instrumentKey };

export const QUARTER_MS = 15 * 60_000;
export const STREAM_15M = 'carbon-15m';
export const STREAM_DAY = 'carbon-day';

/** Electricity flows (integer Wh per window). */
export const ELEC_FLOWS = [
  'grid_import',
  'grid_export',
  'pv',
  'wind',
  'generator',
  'battery_charge',
  'battery_discharge',
  'heat_pump',
  'load',
  'submeter',
] as const;
export type ElecFlow = (typeof ELEC_FLOWS)[number];

/** Derived per-window quantities (integer Wh). */
export const DERIVED = ['consumption', 'renewable_consumed', 'onsite_consumed', 'clean', 'instrument_covered', 'null_power'] as const;

/** CO2 lines per window, exact grams. */
export const CO2_KEYS = ['fuel', 'process', 'electricity_location', 'electricity_market', 'null_power', 'heat', 'scope1', 'scope2_location', 'scope2_market', 'total_location', 'total_market'] as const;
export type Co2Key = (typeof CO2_KEYS)[number];

/** One device as the accounting sees it. */
export interface AcctDevice {
  id: string;
  role: DeviceRole;
  /** Counter point ids (or canonical names) per flow; for fuel/heat/production the counter of `cfg.point`. */
  counters: { point: string; flow: string; scale: number }[];
  /** Integrate this power point (W) when no counter exists: flagged. */
  power?: { point: string; positive: string; negative?: string };
  cfg: AccountingDeviceConfig;
  line?: string;
  /** Gap threshold for this device, ms. */
  gapAfterMs: number;
}

export interface AcctSettings {
  siteId: string;
  gatewayId: string;
  timezone: string;
  gridFactor: ResolvedFactor;
  remainderFactor: ResolvedFactor;
  marketRemainder: MarketRemainder;
  heatFactor: ResolvedFactor;
  /** Per-device heat factors (heat meters with their own). */
  heatFactors: Map<string, ResolvedFactor>;
  /** Fuel parameters and factor per fuel meter device. */
  fuels: Map<string, { fuelId: string; params: FuelParameters; factor: ResolvedFactor }>;
  onsiteAttributes: 'retained' | 'sold' | 'none';
  closeGraceMs: number;
  checkpointMs: number;
  uplink: boolean;
  instruments: InstrumentConfig[];
}

/** Totals of a window: integer flows (Wh or milli-units) and exact grams of CO2. */
export interface Totals {
  wh: Record<string, number>;
  /** Per-device milli-units of fuel / heat / production counters. */
  units: Record<string, number>;
  co2g: Record<string, string>;
  quarters: number;
  completeQuarters: number;
  /** Sum over hours of min(consumption_h, clean_h), Wh (hourly matching numerator). */
  matchedWh: number;
}

interface OpenWindow {
  start: number;
  /** `device|flow` -> integer amount. */
  q: Record<string, number>;
  gaps: { device: string; from: number; to: number | null }[];
  flags: { device: string; point: string; flag: CounterFlag | 'late' | 'catchup' | 'unaccounted'; ts: number; amount?: number }[];
  integrated: string[];
}

interface CounterState {
  v: number;
  ts: number;
}
interface PowerState {
  w: number;
  ts: number;
  /** Fractional Wh not yet booked, per flow. */
  frac: Record<string, number>;
}

interface EngineState {
  v: 1;
  closedBefore: number;
  counters: Record<string, CounterState>;
  power: Record<string, PowerState>;
  lastGood: Record<string, number>;
  open: OpenWindow[];
  /** Battery origin pools, Wh: renewable-charged and other-charged. */
  pools: { ren: number; other: number };
}

const k2 = (a: string, b: string) => `${a}|${b}`;
const qStart = (ts: number) => Math.floor(ts / QUARTER_MS) * QUARTER_MS;

/** Local calendar keys of an instant in a time zone. */
export class Calendar {
  private readonly fmt: Intl.DateTimeFormat;
  constructor(readonly timezone: string) {
    this.fmt = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
  }
  keys(ts: number): { hour: string; day: string; month: string; year: string } {
    const p: Record<string, string> = {};
    for (const x of this.fmt.formatToParts(ts)) p[x.type] = x.value;
    const day = `${p.year}-${p.month}-${p.day}`;
    return { hour: `${day}T${p.hour}`, day, month: `${p.year}-${p.month}`, year: p.year! };
  }
  /** Start (ms) of the local day containing ts, found on quarter-hour boundaries. */
  dayStart(ts: number): number {
    const day = this.keys(ts).day;
    let s = qStart(ts);
    while (this.keys(s - QUARTER_MS).day === day) s -= QUARTER_MS;
    return s;
  }
}

export function emptyTotals(): Totals {
  return { wh: {}, units: {}, co2g: {}, quarters: 0, completeQuarters: 0, matchedWh: 0 };
}

export function addTotals(a: Totals, b: Totals): Totals {
  const out = emptyTotals();
  for (const src of [a, b]) {
    for (const [k, v] of Object.entries(src.wh)) out.wh[k] = (out.wh[k] ?? 0) + v;
    for (const [k, v] of Object.entries(src.units)) out.units[k] = (out.units[k] ?? 0) + v;
    for (const [k, v] of Object.entries(src.co2g)) out.co2g[k] = Q.from(out.co2g[k] ?? '0').add(Q.from(v)).toString();
  }
  out.quarters = a.quarters + b.quarters;
  out.completeQuarters = a.completeQuarters + b.completeQuarters;
  out.matchedWh = a.matchedWh + b.matchedWh;
  return out;
}

/** Role defaults: which canonical counters and power sign map to which flows. */
function roleSpec(role: DeviceRole): { counters: { point: string; flow: ElecFlow }[]; power?: { positive: ElecFlow; negative?: ElecFlow } } | undefined {
  switch (role) {
    case 'grid_meter':
      return { counters: [{ point: 'energy_import', flow: 'grid_import' }, { point: 'energy_export', flow: 'grid_export' }], power: { positive: 'grid_import', negative: 'grid_export' } };
    case 'pv_inverter':
      return { counters: [{ point: 'energy_export', flow: 'pv' }], power: { positive: 'pv' } };
    case 'wind_turbine':
      return { counters: [{ point: 'energy_export', flow: 'wind' }], power: { positive: 'wind' } };
    case 'generator':
      return { counters: [{ point: 'energy_export', flow: 'generator' }], power: { positive: 'generator' } };
    case 'battery':
      return {
        counters: [{ point: 'energy_import', flow: 'battery_charge' }, { point: 'energy_export', flow: 'battery_discharge' }],
        power: { positive: 'battery_discharge', negative: 'battery_charge' },
      };
    case 'heat_pump':
      return { counters: [{ point: 'energy_import', flow: 'heat_pump' }], power: { positive: 'heat_pump' } };
    case 'load':
      return { counters: [{ point: 'energy_import', flow: 'load' }], power: { positive: 'load' } };
    case 'submeter':
      return { counters: [{ point: 'energy_import', flow: 'submeter' }], power: { positive: 'submeter' } };
    default:
      return undefined;
  }
}

/**
 * Build the accounting's device list from the site devices and, per device, the canonical points
 * its profile offers (`hasCanonical(deviceId, canonical)`). Devices with an energy counter are
 * accounted from it; others integrate `active_power` when allowed (flagged).
 */
export function accountingDevices(
  devices: { id: string; role: DeviceRole; pollIntervalMs: number; tags?: Record<string, string> }[],
  cfg: Record<string, AccountingDeviceConfig>,
  hasPoint: (device: string, point: string) => boolean,
  opts: { integrationFallback: boolean; gapAfterMs?: number },
): AcctDevice[] {
  const out: AcctDevice[] = [];
  for (const d of devices) {
    const c = cfg[d.id] ?? {};
    const gapAfterMs = opts.gapAfterMs ?? Math.max(60_000, 3 * d.pollIntervalMs);
    const line = c.line ?? d.tags?.line;
    if (d.role === 'fuel_meter' || d.role === 'heat_meter' || d.role === 'production_counter' || (d.role === 'other' && c.processFactor !== undefined)) {
      if (!c.point) continue;
      out.push({ id: d.id, role: d.role, counters: [{ point: c.point, flow: d.role, scale: 1000 }], cfg: c, line, gapAfterMs });
      continue;
    }
    const spec = roleSpec(d.role);
    if (!spec) continue;
    const counters = spec.counters.filter((x) => hasPoint(d.id, x.point)).map((x) => ({ ...x, scale: 1000 }));
    const integrate = c.integrate ?? opts.integrationFallback;
    let power: AcctDevice['power'];
    // Integrate only flows without a counter; a device with all its counters never integrates.
    if (counters.length < spec.counters.length && integrate && spec.power && hasPoint(d.id, 'active_power')) {
      const have = new Set(counters.map((x) => x.flow));
      const pos = have.has(spec.power.positive) ? undefined : spec.power.positive;
      const neg = spec.power.negative && !have.has(spec.power.negative) ? spec.power.negative : undefined;
      if (pos || neg) power = { point: 'active_power', positive: pos ?? '', ...(neg ? { negative: neg } : {}) };
    }
    if (!counters.length && !power) continue;
    out.push({ id: d.id, role: d.role, counters, ...(power ? { power } : {}), cfg: c, line, gapAfterMs });
  }
  return out;
}

export class AccountingEngine {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly outbox?: OutboxWriter;
  private readonly cal: Calendar;
  /** device -> point id or canonical -> what to do with it (two levels: no string building per reading). */
  private readonly byDevice = new Map<string, Map<string, { dev: AcctDevice; flow: string; key: string; scale: number; kind: 'counter' | 'power' }>>();
  private state: EngineState;
  private lastCheckpoint = 0;
  private watermark = 0;
  private readonly st;
  /** Quarter and day records enqueued (for tests and health). */
  readonly stats = { quarters: 0, days: 0, late: 0, resets: 0 };

  constructor(
    readonly settings: AcctSettings,
    readonly devices: AcctDevice[],
    opts: { db: Database.Database; outbox?: OutboxWriter; logger?: Logger },
  ) {
    this.db = opts.db;
    this.log = opts.logger ?? silentLogger();
    this.outbox = opts.outbox;
    this.cal = new Calendar(settings.timezone);
    migrateAccounting(this.db);
    for (const dev of devices) {
      const m = new Map<string, { dev: AcctDevice; flow: string; key: string; scale: number; kind: 'counter' | 'power' }>();
      for (const c of dev.counters) m.set(c.point, { dev, flow: c.flow, key: k2(dev.id, c.flow), scale: c.scale, kind: 'counter' });
      if (dev.power) m.set(dev.power.point, { dev, flow: '', key: '', scale: 1, kind: 'power' });
      this.byDevice.set(dev.id, m);
    }
    this.st = {
      getState: this.db.prepare("SELECT value FROM acct_state WHERE key = 'engine'").pluck(),
      putState: this.db.prepare("INSERT OR REPLACE INTO acct_state (key, value) VALUES ('engine', ?)"),
      insertQuarter: this.db.prepare('INSERT OR IGNORE INTO acct_quarter (start_ms, end_ms, day, hour, complete, record, sent) VALUES (?, ?, ?, ?, ?, ?, 0)'),
      markQuarterSent: this.db.prepare('UPDATE acct_quarter SET sent = 1 WHERE start_ms = ?'),
      unsentQuarters: this.db.prepare('SELECT start_ms, record FROM acct_quarter WHERE sent = 0 ORDER BY start_ms'),
      getWindow: this.db.prepare('SELECT totals FROM acct_window WHERE kind = ? AND key = ?').pluck(),
      putWindow: this.db.prepare('INSERT OR REPLACE INTO acct_window (kind, key, start_ms, totals) VALUES (?, ?, ?, ?)'),
      insertDay: this.db.prepare('INSERT OR IGNORE INTO acct_day (day, start_ms, end_ms, record, sent) VALUES (?, ?, ?, ?, 0)'),
      markDaySent: this.db.prepare('UPDATE acct_day SET sent = 1 WHERE day = ?'),
      unsentDays: this.db.prepare('SELECT day, record FROM acct_day WHERE sent = 0 ORDER BY start_ms'),
      instruments: this.db.prepare('SELECT key, spec, total_wh, remaining_wh, valid_from_ms, valid_to_ms FROM acct_instrument ORDER BY valid_from_ms, added_ms, key'),
      insertInstrument: this.db.prepare(
        'INSERT OR IGNORE INTO acct_instrument (key, spec, total_wh, remaining_wh, valid_from_ms, valid_to_ms, added_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      useInstrument: this.db.prepare('UPDATE acct_instrument SET remaining_wh = remaining_wh - ? WHERE key = ?'),
    };
    const saved = this.st.getState.get() as string | undefined;
    this.state = saved ? (JSON.parse(saved) as EngineState) : { v: 1, closedBefore: 0, counters: {}, power: {}, lastGood: {}, open: [], pools: { ren: 0, other: 0 } };
    this.state.open = this.state.open.filter((w) => w.start >= this.state.closedBefore);
    for (const ins of settings.instruments) {
      const r = this.addInstrument(ins, 0);
      if (r.issues.length) this.log.error({ instrument: ins, issues: r.issues.map((i) => i.message) }, 'instrument NOT recorded: its MWh are not claimed');
    }
    this.resendUnsent();
  }

  /**
   * Record a contractual instrument (from the config, or pushed later). Idempotent by serials;
   * refused (issues returned, nothing claimed) without evidence or with serials that do not add up.
   */
  addInstrument(ins: InstrumentConfig, nowMs: number): { added: boolean; issues: ConfigIssue[] } {
    const r = recordInstrument(this.db, ins, (ts) => this.cal.dayStart(ts), nowMs);
    if (r.added) this.log.info({ instrument: r.key, MWh: ins.MWh, vintage: ins.vintage }, 'contractual instrument recorded');
    return { added: r.added, issues: r.issues };
  }

  /**
   * Start reporting from `now` on a first start (no persisted state): quarter-hours in which no
   * device ever answers are still closed and reported as gaps instead of being skipped.
   */
  begin(now: number): void {
    if (this.state.closedBefore === 0) this.state.closedBefore = qStart(now);
    if (now > this.watermark) this.watermark = now;
  }

  // ------------------------------------------------------------------ readings

  /** The hub listener: account every good sample of an accounting point. */
  ingest(batch: readonly Reading[]): void {
    let maxTs = this.watermark;
    let points: ReturnType<AccountingEngine['byDevice']['get']>;
    let lastDevice: string | undefined;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      if (r.device !== lastDevice) {
        lastDevice = r.device;
        points = this.byDevice.get(r.device);
      }
      if (!points || r.quality !== 'good' || typeof r.value !== 'number') continue;
      let m = points.get(r.point);
      if (!m && r.canonical) m = points.get(r.canonical);
      if (!m) continue;
      if (r.ts > maxTs) maxTs = r.ts;
      if (m.kind === 'counter') this.counterSample(m.dev, m.key, r.point, r.value, r.ts, m.scale);
      else this.powerSample(m.dev, r.value, r.ts);
    }
    if (maxTs > this.watermark) this.advance(maxTs);
  }

  private counterSample(dev: AcctDevice, key: string, point: string, value: number, ts: number, scale: number): void {
    const v = Math.round(value * scale);
    const prev = this.state.counters[key];
    this.noteGood(dev, ts);
    if (prev && ts <= prev.ts) return; // duplicate or out-of-order sample
    const opts = {
      ...(dev.cfg.rolloverAt !== undefined ? { rolloverAt: Math.round(dev.cfg.rolloverAt * scale) } : {}),
      ...(dev.cfg.maxRatePerHour !== undefined ? { maxRatePerHour: dev.cfg.maxRatePerHour * scale } : {}),
    };
    const d = counterDelta(prev ? { value: prev.v, ts: prev.ts } : undefined, { value: v, ts }, opts);
    this.state.counters[key] = { v, ts };
    if (d.flag && d.flag !== 'first' && d.flag !== 'rollover') {
      this.stats.resets++;
      this.windowFor(ts).flags.push({ device: dev.id, point, flag: d.flag, ts });
      this.log.warn({ device: dev.id, point, flag: d.flag, ts }, 'counter discontinuity: not counted');
    }
    if (!prev) {
      // First sample ever of this counter: what flowed earlier in its quarter is unknown.
      this.firstSample(dev.id, ts);
      return;
    }
    const delta = Math.round(d.delta);
    if (delta <= 0) return;
    if (d.flag === 'rollover') this.windowFor(ts).flags.push({ device: dev.id, point, flag: 'rollover', ts, amount: delta });
    if (ts - prev.ts > dev.gapAfterMs) {
      // After a gap (device or gateway down) the counter still knows the energy: book it when it
      // is observed, flagged, and leave the gap's windows marked as gaps (never filled with zeros).
      const w = this.windowFor(ts - 1);
      w.flags.push({ device: dev.id, point, flag: 'catchup', ts, amount: delta });
      this.gapBetween(dev.id, prev.ts, ts);
      w.q[key] = (w.q[key] ?? 0) + delta;
      return;
    }
    this.spread(key, delta, prev.ts, ts);
  }

  /** Split an integer amount over the windows between t0 and t1 in proportion to time (exact). */
  private spread(key: string, amount: number, t0: number, t1: number): void {
    let booked = 0;
    let s = qStart(t0);
    while (s + QUARTER_MS < t1) {
      const end = s + QUARTER_MS;
      // Cumulative floor keeps the split exact: the parts always add up to `amount`.
      const cum = Math.floor((amount * (end - t0)) / (t1 - t0));
      const p = cum - booked;
      if (p > 0) {
        const w = this.windowFor(Math.max(t0, s));
        w.q[key] = (w.q[key] ?? 0) + p;
      }
      booked = cum;
      s = end;
    }
    // The sample at t1 closes (t1 - 1 ms]: a sample exactly on a boundary belongs to the window before it.
    const w = this.windowFor(t1 - 1);
    w.q[key] = (w.q[key] ?? 0) + (amount - booked);
  }

  private powerSample(dev: AcctDevice, w: number, ts: number): void {
    const p = dev.power!;
    const prev = this.state.power[dev.id];
    this.noteGood(dev, ts);
    if (prev && ts <= prev.ts) return;
    this.state.power[dev.id] = { w, ts, frac: prev?.frac ?? {} };
    if (!prev) {
      this.firstSample(dev.id, ts);
      return;
    }
    if (ts - prev.ts > dev.gapAfterMs) {
      this.gapBetween(dev.id, prev.ts, ts);
      return;
    }
    const avg = (prev.w + w) / 2;
    const flow = avg >= 0 ? p.positive : p.negative;
    if (!flow) return;
    const key = k2(dev.id, flow);
    const frac = this.state.power[dev.id]!.frac;
    const wh = (Math.abs(avg) * (ts - prev.ts)) / 3_600_000 + (frac[key] ?? 0);
    const whole = Math.floor(wh);
    frac[key] = wh - whole;
    const win = this.windowFor(ts);
    if (!win.integrated.includes(dev.id)) win.integrated.push(dev.id);
    if (whole > 0) this.spread(key, whole, prev.ts, ts);
    for (const x of this.state.open) if (x.start >= qStart(prev.ts) && !x.integrated.includes(dev.id)) x.integrated.push(dev.id);
  }

  private firstSample(device: string, ts: number): void {
    const s = qStart(ts);
    if (ts > s && s >= this.state.closedBefore) {
      const w = this.windowFor(ts);
      if (!w.gaps.some((g) => g.device === device)) w.gaps.push({ device, from: s, to: ts });
    }
  }

  private noteGood(dev: AcctDevice, ts: number): void {
    const last = this.state.lastGood[dev.id];
    if (last === undefined || ts > last) this.state.lastGood[dev.id] = ts;
  }

  private gapBetween(device: string, from: number, to: number): void {
    for (const w of this.state.open) {
      if (w.start < to && w.start + QUARTER_MS > from && !w.gaps.some((g) => g.device === device)) w.gaps.push({ device, from: Math.max(from, w.start), to: Math.min(to, w.start + QUARTER_MS) });
    }
  }

  /** The open window for ts; a sample for an already closed window lands in the oldest open one, flagged late. */
  private windowFor(ts: number): OpenWindow {
    let s = qStart(ts);
    const open = this.state.open;
    if (this.state.closedBefore === 0) this.state.closedBefore = s;
    if (s < this.state.closedBefore) {
      s = this.state.closedBefore;
      this.stats.late++;
    }
    for (const w of open) if (w.start === s) return w;
    const w: OpenWindow = { start: s, q: {}, gaps: [], flags: [], integrated: [] };
    open.push(w);
    open.sort((a, b) => a.start - b.start);
    return w;
  }

  // ------------------------------------------------------------------ closing

  /** Close every window that ended more than closeGraceMs before `now`; checkpoint when due. */
  advance(now: number): void {
    if (now > this.watermark) this.watermark = now;
    if (this.state.closedBefore === 0) return;
    const limit = now - this.settings.closeGraceMs;
    let closedAny = false;
    while (this.state.closedBefore + QUARTER_MS <= limit) {
      const start = this.state.closedBefore;
      const idx = this.state.open.findIndex((w) => w.start === start);
      const w = idx >= 0 ? this.state.open[idx]! : { start, q: {}, gaps: [], flags: [], integrated: [] };
      // Throws (e.g. the database is busy) leave the window open and the state untouched: retried.
      this.closeWindow(w);
      if (idx >= 0) this.state.open.splice(this.state.open.indexOf(w), 1);
      closedAny = true;
    }
    // A wall clock stepped back (now < lastCheckpoint) makes a checkpoint due at once instead of
    // deferring every checkpoint until the clock catches up.
    if (closedAny || now < this.lastCheckpoint || now - this.lastCheckpoint >= this.settings.checkpointMs) this.checkpoint(now);
  }

  /** Persist the engine's state (counter baselines, open windows, pools). */
  checkpoint(now = this.watermark): void {
    this.st.putState.run(JSON.stringify(this.state));
    this.lastCheckpoint = now;
  }

  private closeWindow(w: OpenWindow): void {
    const start = w.start;
    const end = start + QUARTER_MS;
    // Devices without a good sample near the window's end are in a gap.
    for (const dev of this.devices) {
      const last = this.state.lastGood[dev.id];
      if ((last === undefined || last < end - dev.gapAfterMs) && !w.gaps.some((g) => g.device === dev.id)) {
        w.gaps.push({ device: dev.id, from: last === undefined ? start : Math.max(start, last), to: null });
      }
    }
    const pools = { ...this.state.pools };
    const closedBefore = this.state.closedBefore;
    const tx = this.db.transaction(() => {
      const { record, totals, keys } = this.summarize(w);
      const ins = this.st.insertQuarter.run(start, end, keys.day, keys.hour, record.quality.complete ? 1 : 0, JSON.stringify(record));
      if (ins.changes === 0) return undefined; // already closed before a crash: never count twice
      this.updateWindows(totals, keys, start);
      this.state.closedBefore = end;
      this.st.putState.run(JSON.stringify({ ...this.state, open: this.state.open.filter((x) => x !== w) }));
      const nextKeys = this.cal.keys(end);
      let day: Record<string, unknown> | undefined;
      if (nextKeys.day !== keys.day) day = this.closeDay(keys.day, end);
      return { record, day };
    });
    let done: ReturnType<typeof tx>;
    try {
      done = tx();
    } catch (err) {
      // summarize moved the battery pools; the transaction did not commit: nothing happened.
      this.state.pools = pools;
      this.state.closedBefore = closedBefore;
      throw err;
    }
    this.state.closedBefore = end;
    if (!done) {
      this.state.pools = pools;
      return;
    }
    this.stats.quarters++;
    this.send(STREAM_15M, done.record, () => this.st.markQuarterSent.run(start));
    if (done.day) {
      this.stats.days++;
      const dayKey = String(done.day.day);
      this.send(STREAM_DAY, done.day, () => this.st.markDaySent.run(dayKey));
    }
  }

  private send(stream: string, record: Record<string, unknown>, mark: () => void): void {
    if (!this.outbox || !this.settings.uplink) return;
    try {
      // One transaction: the outbox (the store) lives in this same database, so the record is
      // enqueued and the summary marked sent together. A crash between the two can neither lose
      // the summary nor re-send it under a new sequence number at the next start.
      const outbox = this.outbox;
      this.db.transaction(() => {
        outbox.enqueue(stream, record);
        mark();
      })();
    } catch (err) {
      this.log.error({ err, stream }, 'could not enqueue carbon summary; retried at next start');
    }
  }

  private resendUnsent(): void {
    if (!this.outbox || !this.settings.uplink) return;
    for (const r of this.st.unsentQuarters.all() as { start_ms: number; record: string }[]) {
      this.send(STREAM_15M, JSON.parse(r.record), () => this.st.markQuarterSent.run(r.start_ms));
    }
    for (const r of this.st.unsentDays.all() as { day: string; record: string }[]) {
      this.send(STREAM_DAY, JSON.parse(r.record), () => this.st.markDaySent.run(r.day));
    }
  }

  private takeInstruments(startMs: number, want: number): number {
    if (want <= 0) return 0;
    let covered = 0;
    for (const row of this.st.instruments.all() as { key: string; remaining_wh: number; valid_from_ms: number; valid_to_ms: number }[]) {
      if (row.remaining_wh <= 0 || startMs < row.valid_from_ms || startMs >= row.valid_to_ms) continue;
      const take = Math.min(row.remaining_wh, want - covered);
      this.st.useInstrument.run(take, row.key);
      covered += take;
      if (covered >= want) break;
    }
    return covered;
  }

  /** Flows, allocation and exact CO2 of a closed quarter-hour. */
  private summarize(w: OpenWindow): { record: Record<string, any>; totals: Totals; keys: ReturnType<Calendar['keys']> } {
    const s = this.settings;
    const keys = this.cal.keys(w.start);
    const wh: Record<string, number> = {};
    for (const f of ELEC_FLOWS) wh[f] = 0;
    const perDevice: Record<string, Record<string, number>> = {};
    const units: Record<string, number> = {};
    for (const [key, amount] of Object.entries(w.q)) {
      const [device, flow] = key.split('|') as [string, string];
      (perDevice[device] ??= {})[flow] = amount;
      if (flow in wh) wh[flow]! += amount;
      else units[device] = (units[device] ?? 0) + amount;
    }
    // ---- allocation: export from on-site supply first, charging from renewable surplus first ----
    const I = wh.grid_import!, X = wh.grid_export!, G = wh.pv! + wh.wind!, F = wh.generator!, D = wh.battery_discharge!, C = wh.battery_charge!;
    const L = I + G + F + D - X - C;
    const xG = Math.min(X, G);
    const xF = Math.min(X - xG, F);
    const xD = Math.min(X - xG - xF, D);
    const cG = Math.min(C, G - xG);
    const cF = Math.min(C - cG, F - xF);
    const cOther = C - cG;
    const pools = this.state.pools;
    const poolTotal = pools.ren + pools.other;
    const dRen = poolTotal > 0 ? Math.min(D, Math.floor((D * pools.ren) / poolTotal)) : 0;
    const xDren = D > 0 ? Math.floor((xD * dRen) / D) : 0;
    const dRenLoad = dRen - xDren;
    const gLoad = G - xG - cG;
    const fLoad = F - xF - cF;
    const renewableConsumed = Math.max(0, Math.min(L, gLoad + dRenLoad));
    const onsiteConsumed = Math.max(0, Math.min(L, gLoad + fLoad + dRenLoad));
    const clean = G - cG + dRen;
    pools.ren = Math.max(0, pools.ren - dRen) + cG;
    pools.other = Math.max(0, pools.other - (D - dRen)) + cOther;
    // Instruments cover grid import (never more than imported in the window).
    const covered = this.takeInstruments(w.start, I);
    const nullPower = s.onsiteAttributes === 'sold' ? renewableConsumed : 0;
    Object.assign(wh, {
      consumption: L,
      renewable_consumed: renewableConsumed,
      onsite_consumed: onsiteConsumed,
      clean,
      instrument_covered: covered,
      null_power: nullPower,
    });

    // ---- CO2, exact grams (1 tCO2/MWh = 1 gCO2/Wh) ----
    const fuelsOut: Record<string, unknown>[] = [];
    const heatOut: Record<string, unknown>[] = [];
    const processOut: Record<string, unknown>[] = [];
    let fuelG = Q.ZERO;
    let processG = Q.ZERO;
    let heatG = Q.ZERO;
    const lineCo2 = new Map<string, { loc: Q; mkt: Q; wh: number }>();
    const lineAdd = (line: string | undefined, g: Q, whAmount = 0) => {
      if (!line) return;
      const x = lineCo2.get(line) ?? { loc: Q.ZERO, mkt: Q.ZERO, wh: 0 };
      lineCo2.set(line, { loc: x.loc.add(g), mkt: x.mkt.add(g), wh: x.wh + whAmount });
    };
    const issues: ConfigIssue[] = [];
    const fl = (f: ResolvedFactor) => ({ factor: f.id, factor_value: f.value.toString(), factor_unit: f.unit, factor_source: f.source + (f.overridden ? ' (user override, measured)' : '') });
    // A quantity that cannot be converted is never a silent zero: flagged, and the window is incomplete.
    const unaccounted = (dev: AcctDevice, why: string) => {
      if (!milliOf(dev) || w.flags.some((f) => f.flag === 'unaccounted' && f.device === dev.id)) return;
      w.flags.push({ device: dev.id, point: dev.cfg.point ?? '', flag: 'unaccounted', ts: w.start, amount: milliOf(dev) });
      this.log.error({ device: dev.id, why }, 'metered quantity NOT accounted (window flagged incomplete)');
    };
    const milliOf = (dev: AcctDevice) => units[dev.id] ?? 0;
    for (const dev of this.devices) {
      const milli = milliOf(dev);
      if (dev.role === 'fuel_meter') {
        const fuel = s.fuels.get(dev.id);
        if (!fuel) {
          unaccounted(dev, 'no fuel configured');
          continue;
        }
        const before = issues.length;
        const basis = fuelToBasis({ ...dev.cfg, unit: dev.cfg.unit ?? 'm3', quantity: Q.of(milli, 1000) }, fuel.params, fuel.fuelId, `/accounting/devices/${dev.id}`, 'config', issues);
        if (!basis) {
          unaccounted(dev, issues.slice(before).map((i) => i.message).join('; '));
          continue;
        }
        const g = basis.basisQuantity.mul(fuel.factor.value).mul(1_000_000);
        fuelG = fuelG.add(g);
        lineAdd(dev.line, g);
        fuelsOut.push({
          device: dev.id,
          fuel: fuel.fuelId,
          quantity: Q.of(milli, 1000).toString(),
          unit: dev.cfg.unit ?? 'm3',
          basis_quantity: basis.basisQuantity.toString(),
          basis_unit: basis.basisUnit,
          conversion: basis.conversion,
          ...fl(fuel.factor),
          co2_g: g.toString(),
        });
      } else if (dev.role === 'heat_meter') {
        const qty = Q.of(milli, 1000);
        const kind = dev.cfg.heat ?? 'gj';
        const unit = dev.cfg.unit ?? (kind === 'gj' ? 'GJ' : 't');
        const tonnes = unit === 'kg' ? qty.div(1000) : unit === 't' ? qty : undefined;
        const energyGJ: Record<string, Q> = { GJ: qty, MJ: qty.div(1000), MWh: qty.mul('3.6'), kWh: qty.mul('0.0036') };
        let gj: Q | undefined;
        let conversion: string;
        if (kind === 'steam' && tonnes && dev.cfg.enthalpyKJperKg !== undefined) {
          gj = steamGJ(tonnes, Q.from(dev.cfg.enthalpyKJperKg));
          conversion = `GJ = ${tonnes.toString()} t x (${dev.cfg.enthalpyKJperKg} - 83.74) kJ/kg x 10^-3`;
        } else if (kind === 'hot-water' && tonnes && dev.cfg.temperatureC !== undefined) {
          gj = hotWaterGJ(tonnes, Q.from(dev.cfg.temperatureC));
          conversion = `GJ = ${tonnes.toString()} t x (${dev.cfg.temperatureC} - 20) x 4.1868 x 10^-3`;
        } else {
          gj = kind === 'gj' ? energyGJ[unit] : undefined;
          conversion = unit === 'GJ' ? 'GJ as metered' : `${unit} -> GJ`;
        }
        if (!gj) {
          unaccounted(dev, `heat '${kind}' metered in '${unit}' cannot be converted to GJ`);
          continue;
        }
        const f = s.heatFactors.get(dev.id) ?? s.heatFactor;
        const g = gj.mul(f.value).mul(1_000_000);
        heatG = heatG.add(g);
        lineAdd(dev.line, g);
        heatOut.push({ device: dev.id, kind, quantity: qty.toString(), unit, GJ: gj.toString(), conversion, ...fl(f), co2_g: g.toString() });
      } else if ((dev.role === 'production_counter' || dev.role === 'other') && dev.cfg.processFactor !== undefined) {
        const g = Q.of(milli, 1000).mul(Q.from(dev.cfg.processFactor)).mul(1_000_000);
        processG = processG.add(g);
        lineAdd(dev.line, g);
        processOut.push({
          device: dev.id,
          quantity: Q.of(milli, 1000).toString(),
          unit: dev.cfg.unit ?? 'unit',
          factor: `${dev.id}.processFactor`,
          factor_value: Q.from(dev.cfg.processFactor).toString(),
          factor_unit: `tCO2/${dev.cfg.unit ?? 'unit'}`,
          factor_source: dev.cfg.processSource ?? 'site config (user-supplied)',
          co2_g: g.toString(),
        });
      }
    }
    const elecLoc = Q.of(I).mul(s.gridFactor.value);
    const elecMkt = Q.of(I - covered).mul(s.remainderFactor.value);
    const nullG = Q.of(nullPower).mul(s.remainderFactor.value);
    const scope1 = fuelG.add(processG);
    const s2loc = elecLoc.add(heatG);
    const s2mkt = elecMkt.add(nullG).add(heatG);
    const co2: Record<Co2Key, Q> = {
      fuel: fuelG,
      process: processG,
      electricity_location: elecLoc,
      electricity_market: elecMkt,
      null_power: nullG,
      heat: heatG,
      scope1,
      scope2_location: s2loc,
      scope2_market: s2mkt,
      total_location: scope1.add(s2loc),
      total_market: scope1.add(s2mkt),
    };

    // ---- production intensity per line ----
    const production: Record<string, unknown>[] = [];
    for (const dev of this.devices.filter((d) => d.role === 'production_counter')) {
      const qty = Q.of(units[dev.id] ?? 0, 1000);
      const line = dev.line ?? dev.id;
      const lineMeters = this.devices.filter((d) => d.line === line && ['load', 'heat_pump', 'submeter'].includes(d.role));
      let loc: Q;
      let mkt: Q;
      if (lineMeters.length && L > 0) {
        const lineWh = lineMeters.reduce((a, d) => a + Object.values(perDevice[d.id] ?? {}).reduce((x, y) => x + y, 0), 0);
        const share = Q.of(lineWh, L);
        const own = lineCo2.get(line) ?? { loc: Q.ZERO, mkt: Q.ZERO };
        loc = elecLoc.mul(share).add(own.loc);
        mkt = elecMkt.add(nullG).mul(share).add(own.mkt);
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

    const complete = w.gaps.length === 0 && !w.flags.some((f) => f.flag === 'unaccounted');
    const totals: Totals = {
      wh: { ...wh },
      units,
      co2g: Object.fromEntries(Object.entries(co2).map(([k, v]) => [k, v.toString()])),
      quarters: 1,
      completeQuarters: complete ? 1 : 0,
      matchedWh: 0,
    };
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
      method: this.method(),
      energy_Wh: wh,
      co2_g: totals.co2g,
      co2_kg: Object.fromEntries(Object.entries(co2).map(([k, v]) => [k, Number(v.div(1000).toFixed(6))])),
      green: greenShares(wh, s.onsiteAttributes),
      devices: perDevice,
      fuels: fuelsOut,
      heat: heatOut,
      process: processOut,
      production,
      quality: { complete, gaps: w.gaps, flags: w.flags, integrated: w.integrated },
    };
    return { record, totals, keys };
  }

  method(): Record<string, unknown> {
    const s = this.settings;
    const f = (x: ResolvedFactor) => ({ id: x.id, value: x.value.toString(), unit: x.unit, source: x.source, ...(x.dataYear ? { dataYear: x.dataYear } : {}) });
    return {
      locationFactor: f(s.gridFactor),
      marketRemainder: s.marketRemainder,
      remainderFactor: f(s.remainderFactor),
      remainderStatement:
        s.marketRemainder === 'residual'
          ? `market-based: electricity not covered by instruments at the residual-mix proxy ${s.remainderFactor.id}`
          : `market-based: electricity not covered by instruments at the grid average ${s.remainderFactor.id} (residual mix substituted, disclosed)`,
      heatFactor: f(s.heatFactor),
      onsiteAttributes: s.onsiteAttributes,
      exports: 'gross',
      batteryOrigin: 'battery discharge carries the renewable/other mix it was charged with',
    };
  }

  /** Add a closed quarter to its hour, day, month and year windows (exact), in the caller's transaction. */
  private updateWindows(t: Totals, keys: ReturnType<Calendar['keys']>, start: number): void {
    const get = (kind: string, key: string): Totals => {
      const raw = this.st.getWindow.get(kind, key) as string | undefined;
      return raw ? (JSON.parse(raw) as Totals) : emptyTotals();
    };
    const hourBefore = get('hour', keys.hour);
    const hourAfter = addTotals(hourBefore, t);
    const matched = (x: Totals) => Math.max(0, Math.min(x.wh.consumption ?? 0, x.wh.clean ?? 0));
    hourAfter.matchedWh = matched(hourAfter);
    const dMatched = hourAfter.matchedWh - matched(hourBefore);
    this.st.putWindow.run('hour', keys.hour, start, JSON.stringify(hourAfter));
    for (const [kind, key] of [
      ['day', keys.day],
      ['month', keys.month],
      ['year', keys.year],
    ] as const) {
      const before = get(kind, key);
      const after = addTotals(before, { ...t, matchedWh: dMatched });
      this.st.putWindow.run(kind, key, before.quarters ? (this.windowStart(kind, key) ?? start) : start, JSON.stringify(after));
    }
  }

  private windowStart(kind: string, key: string): number | undefined {
    return this.db.prepare('SELECT start_ms FROM acct_window WHERE kind = ? AND key = ?').pluck().get(kind, key) as number | undefined;
  }

  private closeDay(day: string, end: number): Record<string, unknown> {
    const raw = this.st.getWindow.get('day', day) as string | undefined;
    const t = raw ? (JSON.parse(raw) as Totals) : emptyTotals();
    const start = this.windowStart('day', day) ?? end - 86_400_000;
    const dayStart = this.cal.dayStart(start);
    const record = dayRecord(this.settings, this.method(), day, dayStart, end, t);
    this.st.insertDay.run(day, dayStart, end, JSON.stringify(record));
    return record;
  }

  /** Current windows: the open quarter (provisional), and the persisted hour/day/month/year totals. */
  windows(now = this.watermark): Record<string, Totals & { key: string }> {
    const keys = this.cal.keys(now);
    const out: Record<string, Totals & { key: string }> = {};
    for (const [kind, key] of [
      ['hour', keys.hour],
      ['day', keys.day],
      ['month', keys.month],
      ['year', keys.year],
    ] as const) {
      const raw = this.st.getWindow.get(kind, key) as string | undefined;
      out[kind] = { key, ...(raw ? (JSON.parse(raw) as Totals) : emptyTotals()) };
    }
    return out;
  }

  /** Checkpoint and stop: state is persisted so the next start continues exactly. */
  stop(): void {
    this.checkpoint();
  }
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
    co2_kg: Object.fromEntries(Object.entries(t.co2g).map(([k, v]) => [k, Number(Q.from(v).div(1000).toFixed(6))])),
    green: greenShares(t.wh, s.onsiteAttributes, t.matchedWh),
    quality: { complete: t.completeQuarters === expected && t.quarters === expected, quarters: t.quarters, completeQuarters: t.completeQuarters, expectedQuarters: expected },
  };
}
