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
import { quarterSummaryLine } from './summary-line.js';
import type { OutboxWriter } from '../services.js';
import type { Reading } from '../types.js';
import { MILLI, MeteringStage, type MeterChange, type MeterEvent, type MeterLookup } from '../metering/stage.js';
import { migrateAccounting } from './acct-db.js';
import { GENESIS_HASH, recordHash } from './audit.js';
import { allocate, type BatteryPools } from './allocation.js';
import { Calendar, QUARTER_MS, quarterStart as qStart, splitOverQuarters, type CalendarKeys } from './calendar.js';
import type { InstrumentConfig } from './config-schema.js';
import type { ConfigIssue } from '../config/errors.js';
import { recordInstrument } from './instruments.js';
import { STREAM_15M, STREAM_DAY, type AcctDevice, type AcctSettings, type OpenWindow, type Totals } from './model.js';
import { allocationFlows, dayRecord, quarterFlows, quarterRecord, recordMethod, sourceEmissions } from './quarter.js';
import { WindowTotals } from './windows.js';

// Re-exported for the callers of the live accounting (feature, CLI, bench, tests).
export { Calendar, QUARTER_MS } from './calendar.js';
export { accountingDevices } from './devices.js';
export type { AcctDevice, AcctSettings, Totals } from './model.js';

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
  pools: BatteryPools;
}

const k2 = (a: string, b: string) => `${a}|${b}`;

/** The counters of the accounting's devices, with each device's rollover and plausibility options (an engine used alone). */
export function accountingMeterLookup(devices: readonly AcctDevice[]): MeterLookup {
  const byDevice = new Map(devices.map((d) => [d.id, d]));
  return (device, point, canonical) => {
    const d = byDevice.get(device);
    if (!d || !d.counters.some((c) => c.point === point || c.point === canonical)) return undefined;
    return {
      ...(d.cfg.rolloverAt !== undefined ? { rolloverAt: d.cfg.rolloverAt } : {}),
      ...(d.cfg.maxRatePerHour !== undefined ? { maxRatePerHour: d.cfg.maxRatePerHour } : {}),
    };
  };
}

export class AccountingEngine {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly outbox?: OutboxWriter;
  private readonly cal: Calendar;
  private readonly windowTotals: WindowTotals;
  /** device -> point id or canonical -> what to do with it (two levels: no string building per reading). */
  private readonly byDevice = new Map<string, Map<string, { dev: AcctDevice; flow: string; key: string; scale: number; kind: 'counter' | 'power' }>>();
  private state: EngineState;
  /** Decides counter deltas; `ownStage` when the engine runs without the gateway's metering stage. */
  private readonly stage: MeteringStage;

  /** Record a meter replacement in the metering stage (store and accounting book it alike). */
  meterChange(c: MeterChange): { applied: boolean; reason?: string } {
    return this.stage.meterChange(c);
  }
  private readonly ownStage: boolean;
  private lastCheckpoint = 0;
  private watermark = 0;
  private readonly st;
  /** Quarter and day records enqueued (for tests and health). */
  readonly stats = { quarters: 0, days: 0, late: 0, resets: 0 };

  constructor(
    readonly settings: AcctSettings,
    readonly devices: AcctDevice[],
    opts: {
      db: Database.Database;
      outbox?: OutboxWriter;
      logger?: Logger;
      /**
       * The gateway's metering stage (runtime/metering): counter deltas come as its events, the
       * same ones the store books. Default: the engine's own stage (an engine used alone).
       */
      metering?: MeteringStage;
    },
  ) {
    this.db = opts.db;
    this.log = opts.logger ?? silentLogger();
    this.outbox = opts.outbox;
    this.cal = new Calendar(settings.timezone);
    migrateAccounting(this.db);
    this.windowTotals = new WindowTotals(this.db);
    for (const dev of devices) {
      const m = new Map<string, { dev: AcctDevice; flow: string; key: string; scale: number; kind: 'counter' | 'power' }>();
      for (const c of dev.counters) m.set(c.point, { dev, flow: c.flow, key: k2(dev.id, c.flow), scale: c.scale, kind: 'counter' });
      if (dev.power) m.set(dev.power.point, { dev, flow: '', key: '', scale: 1, kind: 'power' });
      this.byDevice.set(dev.id, m);
    }
    this.st = {
      getState: this.db.prepare("SELECT value FROM acct_state WHERE key = 'engine'").pluck(),
      putState: this.db.prepare("INSERT OR REPLACE INTO acct_state (key, value) VALUES ('engine', ?)"),
      insertQuarter: this.db.prepare('INSERT OR IGNORE INTO acct_quarter (start_ms, end_ms, day, hour, complete, record, sent, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)'),
      lastHash: this.db.prepare('SELECT hash FROM acct_quarter WHERE start_ms < ? ORDER BY start_ms DESC LIMIT 1').pluck(),
      markQuarterSent: this.db.prepare('UPDATE acct_quarter SET sent = 1 WHERE start_ms = ?'),
      unsentQuarters: this.db.prepare('SELECT start_ms, record FROM acct_quarter WHERE sent = 0 ORDER BY start_ms'),
      insertDay: this.db.prepare('INSERT OR IGNORE INTO acct_day (day, start_ms, end_ms, record, sent) VALUES (?, ?, ?, ?, 0)'),
      markDaySent: this.db.prepare('UPDATE acct_day SET sent = 1 WHERE day = ?'),
      unsentDays: this.db.prepare('SELECT day, record FROM acct_day WHERE sent = 0 ORDER BY start_ms'),
      instruments: this.db.prepare('SELECT key, spec, total_wh, remaining_wh, valid_from_ms, valid_to_ms FROM acct_instrument ORDER BY valid_from_ms, added_ms, key'),
      useInstrument: this.db.prepare('UPDATE acct_instrument SET remaining_wh = remaining_wh - ? WHERE key = ?'),
    };
    const saved = this.st.getState.get() as string | undefined;
    this.state = saved ? (JSON.parse(saved) as EngineState) : { v: 1, closedBefore: 0, counters: {}, power: {}, lastGood: {}, open: [], pools: { ren: 0, other: 0 } };
    this.state.open = this.state.open.filter((w) => w.start >= this.state.closedBefore);
    this.ownStage = !opts.metering;
    this.stage = opts.metering ?? new MeteringStage(accountingMeterLookup(devices));
    // Baselines from the last checkpoint, for counters the stage has none for (the store, when
    // there is one, restored its newer ones first).
    this.stage.restore(this.counterBaselines());
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

  /** Counter baselines of the last checkpoint (absolute values in the counter's unit). */
  counterBaselines(): { device: string; point: string; value: number; ts: number }[] {
    const out: { device: string; point: string; value: number; ts: number }[] = [];
    for (const dev of this.devices) {
      for (const c of dev.counters) {
        const b = this.state.counters[k2(dev.id, c.flow)];
        if (b) out.push({ device: dev.id, point: c.point, value: b.v / c.scale, ts: b.ts });
      }
    }
    return out;
  }

  /**
   * The metering listener: account every good sample of an accounting point. Counter deltas come
   * from the metering stage's `events` for this batch (without them, the engine's own stage decides).
   */
  ingest(batch: readonly Reading[], events?: readonly MeterEvent[]): void {
    let maxTs = this.watermark;
    for (const e of events ?? (this.ownStage ? this.stage.process(batch) : [])) {
      const m = this.byDevice.get(e.device)?.get(e.point) ?? (e.canonical ? this.byDevice.get(e.device)?.get(e.canonical) : undefined);
      if (m?.kind !== 'counter') continue;
      if (e.ts > maxTs) maxTs = e.ts;
      this.counterEvent(m.dev, m.key, e);
    }
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
      if (m.kind === 'counter') continue; // from the metering stage's events, above
      if (r.ts > maxTs) maxTs = r.ts;
      this.powerSample(m.dev, r.value, r.ts);
    }
    if (maxTs > this.watermark) this.advance(maxTs);
  }

  /**
   * One counter delta decided by the metering stage, booked in the quarter of its booking instant
   * (the quarter the store's 1-minute deltas for it fall in: the two always agree).
   */
  private counterEvent(dev: AcctDevice, key: string, e: MeterEvent): void {
    const prev = this.state.counters[key];
    this.noteGood(dev, e.ts);
    if (prev && e.ts <= prev.ts) return; // duplicate or out-of-order sample
    this.state.counters[key] = { v: Math.round(e.value * MILLI), ts: e.ts };
    if (e.flag && e.flag !== 'first' && e.flag !== 'rollover') {
      this.stats.resets++;
      this.windowFor(e.ts).flags.push({ device: dev.id, point: e.point, flag: e.flag, ts: e.ts });
      this.log.warn({ device: dev.id, point: e.point, flag: e.flag, ts: e.ts }, 'counter discontinuity: not counted');
    }
    if (e.prevTs === undefined) {
      // First sample ever of this counter: what flowed earlier in its quarter is unknown.
      this.firstSample(dev.id, e.ts);
      return;
    }
    // The stage's baseline is newer than this engine's checkpoint (a crash between the two):
    // what flowed in between was booked by the store only; these quarters say so.
    if (prev && e.prevTs > prev.ts) this.gapBetween(dev.id, prev.ts, e.prevTs);
    const delta = e.milli;
    this.auditMeter(dev, key, e);
    if (e.meterChange) {
      const c = e.meterChange;
      const mw = this.windowFor(e.bucketTs);
      (mw.meterChanges ??= []).push({ device: dev.id, point: e.point, at: c.at, oldFinal: c.oldFinal, newInitial: c.newInitial, oldAmount: c.oldMilli, newAmount: c.newMilli });
      this.log.info({ device: dev.id, point: e.point, at: c.at, oldFinal: c.oldFinal, newInitial: c.newInitial }, 'meter change: old counter closed exactly');
    }
    if (delta <= 0) return;
    const w = this.windowFor(e.bucketTs);
    if (e.flag === 'rollover') w.flags.push({ device: dev.id, point: e.point, flag: 'rollover', ts: e.ts, amount: delta });
    if (e.ts - e.prevTs > dev.gapAfterMs) {
      // After a gap (device or gateway down) the counter still knows the energy: book it when it
      // is observed, flagged, and leave the gap's windows marked as gaps (never filled with zeros).
      w.flags.push({ device: dev.id, point: e.point, flag: 'catchup', ts: e.ts, amount: delta });
      this.gapBetween(dev.id, e.prevTs, e.ts);
    }
    w.q[key] = (w.q[key] ?? 0) + delta;
  }

  /** Keep the readings a quarter's energy of this counter comes from (audit trail). */
  private auditMeter(dev: AcctDevice, key: string, e: MeterEvent): void {
    if (e.prevTs === undefined || e.prevValue === undefined) return;
    const w = this.windowFor(e.bucketTs);
    const m = ((w.meters ??= {})[key] ??= { device: dev.id, point: e.point, flow: key.split('|')[1] ?? '', start: e.prevValue, startTs: e.prevTs, end: e.value, endTs: e.ts, booked: 0 });
    m.end = e.value;
    m.endTs = e.ts;
    m.booked += e.milli;
    if ((e.flag && e.flag !== 'first') || e.meterChange) m.discontinuity = true;
  }

  /** Book an amount accrued over (t0, t1] into the windows it spans, in proportion to time (exact). */
  private spread(key: string, amount: number, t0: number, t1: number): void {
    splitOverQuarters(amount, t0, t1, (ts, part) => {
      const w = this.windowFor(ts);
      w.q[key] = (w.q[key] ?? 0) + part;
    });
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
      const { record, totals, keys, pools: after } = this.summarize(w, pools);
      this.state.pools = after;
      // Hash chain (audit.ts): the record carries the previous record's hash; its own is over its canonical JSON.
      const prevHash = (this.st.lastHash.get(start) as string | null | undefined) ?? GENESIS_HASH;
      record.audit = { ...record.audit, prevHash };
      const ins = this.st.insertQuarter.run(start, end, keys.day, keys.hour, record.quality.complete ? 1 : 0, JSON.stringify(record), recordHash(record), prevHash);
      if (ins.changes === 0) return undefined; // already closed before a crash: never count twice
      this.windowTotals.addQuarter(totals, keys, start);
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
      // The battery pools moved inside the transaction, which did not commit: nothing happened.
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
    const line = quarterSummaryLine(done.record);
    this.log.info(line.fields, line.msg);
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

  /** Flows, allocation and exact CO2 of a closed quarter-hour; the battery pools after it. */
  private summarize(w: OpenWindow, pools: BatteryPools): { record: Record<string, any>; totals: Totals; keys: CalendarKeys; pools: BatteryPools } {
    const keys = this.cal.keys(w.start);
    const flows = quarterFlows(w.q);
    const alloc = allocate(allocationFlows(flows.wh), pools);
    // Instruments cover grid import (never more than imported in the window).
    const covered = this.takeInstruments(w.start, flows.wh.grid_import!);
    const sources = sourceEmissions(this.settings, this.devices, flows.units);
    // A quantity that cannot be converted is never a silent zero: flagged, and the window is incomplete.
    for (const u of sources.unaccounted) {
      if (w.flags.some((f) => f.flag === 'unaccounted' && f.device === u.device.id)) continue;
      w.flags.push({ device: u.device.id, point: u.device.cfg.point ?? '', flag: 'unaccounted', ts: w.start, amount: u.amount });
      this.log.error({ device: u.device.id, why: u.why }, 'metered quantity NOT accounted (window flagged incomplete)');
    }
    const { record, totals } = quarterRecord(this.settings, this.devices, w, keys, flows, alloc, covered, sources);
    return { record, totals, keys, pools: alloc.pools };
  }

  method(): Record<string, unknown> {
    return recordMethod(this.settings);
  }

  private closeDay(day: string, end: number): Record<string, unknown> {
    const t = this.windowTotals.totals('day', day);
    const start = this.windowTotals.start('day', day) ?? end - 86_400_000;
    const dayStart = this.cal.dayStart(start);
    const record = dayRecord(this.settings, this.method(), day, dayStart, end, t);
    this.st.insertDay.run(day, dayStart, end, JSON.stringify(record));
    return record;
  }

  /** Current windows: the persisted hour/day/month/year totals of the windows containing `now`. */
  windows(now = this.watermark): Record<string, Totals & { key: string }> {
    return this.windowTotals.current(this.cal.keys(now));
  }

  /** Checkpoint and stop: state is persisted so the next start continues exactly. */
  stop(): void {
    this.checkpoint();
  }
}

