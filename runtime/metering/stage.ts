/**
 * The metering stage: the one place where successive readings of a cumulative counter (energy
 * import/export, gas volume, production count) become deltas. It sits between the readings hub
 * and its consumers: the store's aggregates (`readings-1m` / `readings-15m` `delta`) and carbon
 * accounting (`carbon-15m` energy) both book the events it emits, so the two can never disagree:
 * for every meter and quarter-hour the sum of the 1-minute deltas equals the quarter's energy.
 *
 * Decisions, once per reading:
 * - which points are counters (`meterOf`) and with which rollover / plausibility options;
 * - the delta (runtime/metering/counter-delta.ts: rollover, reset, implausible jump, first sample),
 *   in integer milli-units (`milli`) so sums are exact, and as a number (`delta` = milli / 1000);
 * - where it is booked: the minute that contains `ts - 1 ms` (a sample closes the interval before
 *   it: a reading exactly on a boundary belongs to the window that ends there; a first sample,
 *   which closes no interval, marks its own). `bucketTs` is that instant; consumers take its
 *   minute or quarter.
 * Out-of-order and duplicate samples (ts <= the baseline's) are ignored; bad-quality and
 * non-numeric readings never move a baseline.
 *
 * Pure: no I/O, no clock. The baseline is given at start (`restore`) and read back for persistence
 * (`baseline`).
 */
import type { Reading } from '../types.js';
import { counterDelta, type CounterDeltaOptions, type CounterFlag } from './counter-delta.js';

/** Canonical points that are cumulative counters. */
export const COUNTER_CANONICALS: ReadonlySet<string> = new Set(['energy_import', 'energy_export', 'reactive_energy_import', 'reactive_energy_export']);

/**
 * The lookup of a site without per-meter settings: the counter canonicals plus `points`
 * (`device/point`), all with the same options (the `store.counters` section).
 */
export function counterLookup(points: ReadonlySet<string>, options: CounterDeltaOptions, perDevice?: (device: string, point: string, canonical: string | undefined) => CounterDeltaOptions | undefined): MeterLookup {
  return (device, point, canonical) => {
    const own = perDevice?.(device, point, canonical);
    if (own) return { ...options, ...own };
    return (canonical !== undefined && COUNTER_CANONICALS.has(canonical)) || points.has(`${device}/${point}`) ? options : undefined;
  };
}

/** Resolution of the deltas: 1/1000 of the counter's unit (Wh for a kWh counter). */
export const MILLI = 1000;

export interface MeterEvent {
  device: string;
  point: string;
  canonical?: string;
  unit?: string;
  /** Time of the sample that produced the delta. */
  ts: number;
  /** Time of the previous sample (the baseline), when there was one. */
  prevTs?: number;
  /** Absolute value of the previous sample (the baseline), when there was one. */
  prevValue?: number;
  /** Absolute counter value of this sample (the new baseline). */
  value: number;
  /** Delta in milli-units (integer, >= 0). */
  milli: number;
  /** Delta in the counter's unit (milli / 1000). */
  delta: number;
  flag?: CounterFlag;
  /** The instant the delta is booked at (ts - 1 ms; ts for a first sample): its minute and quarter-hour hold the delta. */
  bucketTs: number;
  /** The delta closes a replaced meter (`MeteringStage.meterChange`): old counter up to its final reading + new counter from its initial one. */
  meterChange?: MeterChange & { oldMilli: number; newMilli: number };
}

/**
 * A meter replacement: the old counter's final reading, the new counter's initial reading (both in
 * the counter's unit) and when the meter was changed (ms). `point` is the point id or canonical name.
 */
export interface MeterChange {
  device: string;
  point: string;
  oldFinal: number;
  newInitial: number;
  at: number;
}

/** A counter's options, or undefined when the point is not a counter. */
export type MeterLookup = (device: string, point: string, canonical: string | undefined) => CounterDeltaOptions | undefined;

interface Baseline {
  /** Milli-units. */
  m: number;
  ts: number;
}

/** A counter point: its options in milli-units and its baseline. */
interface Meter {
  opts: CounterDeltaOptions;
  last?: Baseline;
}

/** Counter options in the counter's unit, scaled to milli-units like the values. */
function inMilli(o: CounterDeltaOptions): CounterDeltaOptions {
  return {
    ...(o.rolloverAt !== undefined ? { rolloverAt: Math.round(o.rolloverAt * MILLI) } : {}),
    ...(o.maxRatePerHour !== undefined ? { maxRatePerHour: o.maxRatePerHour * MILLI } : {}),
    ...(o.minWindowMs !== undefined ? { minWindowMs: o.minWindowMs } : {}),
  };
}

/** The event of one counter reading booking `milli` since `prev` (a first sample marks its own minute). */
function counterEvent(r: Reading, value: number, prev: Baseline | undefined, milli: number): MeterEvent {
  return {
    device: r.device,
    point: r.point,
    ...(r.canonical !== undefined ? { canonical: r.canonical } : {}),
    ...(r.unit !== undefined ? { unit: r.unit } : {}),
    ts: r.ts,
    ...(prev ? { prevTs: prev.ts, prevValue: prev.m / MILLI } : {}),
    value,
    milli,
    delta: milli / MILLI,
    // A first sample covers no interval: it marks its own minute.
    bucketTs: prev ? r.ts - 1 : r.ts,
  };
}

export class MeteringStage {
  /** device -> point -> its meter, or null when the point is not a counter (two levels: no key string built per reading). */
  private readonly meters = new Map<string, Map<string, Meter | null>>();
  /** Restored baselines of points not seen yet (their lookup needs the reading's canonical name). */
  private readonly restored = new Map<string, Map<string, Baseline>>();
  /** Meter changes not applied yet, by device (matched on point id or canonical name). */
  private readonly changes = new Map<string, MeterChange[]>();

  /**
   * Record a meter replacement: the first reading after `at` is differenced as (oldFinal - the
   * old counter's last baseline) + (reading - newInitial), exactly, with no reset flag. Refused
   * when the counter has already been read after `at` (the jump was then flagged and its window
   * marked incomplete; the record came too late to close the old counter).
   */
  meterChange(c: MeterChange): { applied: boolean; reason?: string } {
    const seen = [...(this.meters.get(c.device)?.entries() ?? [])].find(([point, m]) => m && point === c.point)?.[1] ?? undefined;
    const last = seen?.last ?? this.restored.get(c.device)?.get(c.point);
    if (last && last.ts > c.at) {
      return { applied: false, reason: `counter ${c.device}/${c.point} was already read after ${new Date(c.at).toISOString()} (at ${new Date(last.ts).toISOString()}): record a meter change before the new meter is read` };
    }
    const list = this.changes.get(c.device) ?? [];
    if (!list.some((x) => x.point === c.point && x.at === c.at)) list.push(c);
    this.changes.set(c.device, list);
    return { applied: true };
  }

  constructor(private readonly meterOf: MeterLookup) {}

  /**
   * Start from persisted baselines (absolute values in the counter's unit). A counter that already
   * has a baseline keeps it: the first part to restore (the store, which persists the baselines
   * with every flush) wins over older checkpoints of later ones.
   */
  restore(baselines: Iterable<{ device: string; point: string; value: number; ts: number }>): void {
    for (const b of baselines) {
      const base = { m: Math.round(b.value * MILLI), ts: b.ts };
      const meter = this.meters.get(b.device)?.get(b.point);
      if (meter === null) continue; // seen, and not a counter
      if (meter) {
        meter.last ??= base;
        continue;
      }
      let byPoint = this.restored.get(b.device);
      if (!byPoint) this.restored.set(b.device, (byPoint = new Map()));
      if (!byPoint.has(b.point)) byPoint.set(b.point, base);
    }
  }

  /** The current baselines (absolute values in the counter's unit), for persistence and tests. */
  baseline(device: string, point: string): { value: number; ts: number } | undefined {
    const b = this.meters.get(device)?.get(point)?.last ?? this.restored.get(device)?.get(point);
    return b && { value: b.m / MILLI, ts: b.ts };
  }

  /** Whether (device, point, canonical) is metered as a counter. */
  isCounter(device: string, point: string, canonical?: string): boolean {
    return this.meterFor(device, point, canonical) !== null;
  }

  /** The events of one batch of readings, in batch order. */
  process(batch: readonly Reading[]): MeterEvent[] {
    const out: MeterEvent[] = [];
    for (const r of batch) {
      const e = this.reading(r);
      if (e) out.push(e);
    }
    return out;
  }

  /** The event of one reading, or undefined (not a counter, not good, not a number, out of order). */
  reading(r: Reading): MeterEvent | undefined {
    if (r.quality !== 'good' || typeof r.value !== 'number' || !Number.isFinite(r.value)) return undefined;
    const meter = this.meterFor(r.device, r.point, r.canonical);
    if (!meter) return undefined;
    const prev = meter.last;
    if (prev && r.ts <= prev.ts) return undefined;
    const m = Math.round(r.value * MILLI);
    const change = this.takeChange(r, prev);
    if (change) {
      meter.last = { m, ts: r.ts };
      const oldMilli = prev ? Math.max(0, Math.round(change.oldFinal * MILLI) - prev.m) : 0;
      const newMilli = Math.max(0, m - Math.round(change.newInitial * MILLI));
      return { ...counterEvent(r, r.value, prev, oldMilli + newMilli), meterChange: { ...change, oldMilli, newMilli } };
    }
    const d = counterDelta(prev ? { value: prev.m, ts: prev.ts } : undefined, { value: m, ts: r.ts }, meter.opts);
    // A reset or an implausible jump re-baselines on the new value: later deltas count from there.
    meter.last = { m, ts: r.ts };
    const milli = Math.max(0, Math.round(d.delta));
    return { ...counterEvent(r, r.value, prev, milli), ...(d.flag ? { flag: d.flag } : {}) };
  }

  /** The pending meter change this reading closes (first reading after its time), removed from the list. */
  private takeChange(r: Reading, prev: Baseline | undefined): MeterChange | undefined {
    const list = this.changes.get(r.device);
    if (!list?.length) return undefined;
    const i = list.findIndex((c) => (c.point === r.point || c.point === r.canonical) && r.ts > c.at && (!prev || prev.ts <= c.at));
    if (i < 0) return undefined;
    const [c] = list.splice(i, 1);
    return c;
  }

  private meterFor(device: string, point: string, canonical: string | undefined): Meter | null {
    let byPoint = this.meters.get(device);
    if (!byPoint) this.meters.set(device, (byPoint = new Map()));
    let meter = byPoint.get(point);
    if (meter === undefined) {
      const found = this.meterOf(device, point, canonical);
      const last = this.restored.get(device)?.get(point);
      this.restored.get(device)?.delete(point);
      meter = found ? { opts: inMilli(found), ...(last ? { last } : {}) } : null;
      byPoint.set(point, meter);
    }
    return meter;
  }
}
