import { ClockStepWatch } from './clock-step.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { Clock, Reading } from './types.js';
import { monoNow, systemClock } from './types.js';

export type ReadingListener = (batch: readonly Reading[]) => void;

const key = (device: string, point: string) => `${device}/${point}`;

/**
 * The process image: latest value of every point, plus a fan-out of reading batches to
 * listeners (store, accounting, rules). A failing listener is logged and isolated.
 * Values older than their device's stale age are invalidated by `sweep()`.
 *
 * Ages are monotonic: beside each value's wall timestamp the hub keeps the monotonic time it
 * stands for (when it was received, less how old its timestamp was then), so a step of the wall
 * clock neither freezes a value as good (step back) nor ages it at once (step forward). The hub
 * also watches for such steps and logs each once.
 */
export class ReadingsHub {
  private readonly latestByKey = new Map<string, Reading>();
  private readonly listeners = new Set<ReadingListener>();
  private readonly staleAfter = new Map<string, number>();
  /** Monotonic time each latest value stands for, keyed like `latestByKey`. */
  private readonly monoAt = new Map<string, number>();
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Wall-clock steps (logged once each; see ClockStepWatch). */
  readonly clockSteps: ClockStepWatch;

  constructor(opts: { clock?: Clock; logger?: Logger } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.clockSteps = new ClockStepWatch(this.clock, this.log);
  }

  /** Values of `device` older than `ms` are marked stale by sweep(). */
  setStaleAfter(device: string, ms: number): void {
    this.staleAfter.set(device, ms);
  }

  publish(batch: readonly Reading[]): void {
    if (batch.length === 0) return;
    this.clockSteps.check();
    const wall = this.clock.now();
    const mono = monoNow(this.clock);
    for (const r of batch) {
      const k = key(r.device, r.point);
      const prev = this.latestByKey.get(k);
      // A value's stale invalidation (same timestamp) keeps its age; any other reading is as old
      // as its timestamp says, never less than 0 (a timestamp ahead of the wall clock is "now").
      const invalidation = r.quality === 'stale' && prev?.ts === r.ts && this.monoAt.has(k);
      if (!invalidation) this.monoAt.set(k, mono - Math.max(0, wall - r.ts));
      this.latestByKey.set(k, r);
    }
    for (const fn of this.listeners) {
      try {
        fn(batch);
      } catch (err) {
        this.log.error({ err }, 'reading listener failed; the other listeners still received the batch');
      }
    }
  }

  subscribe(fn: ReadingListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  latest(device: string, point: string): Reading | undefined {
    return this.latestByKey.get(key(device, point));
  }

  /** Latest good-or-not reading of the point of `device` mapped to `canonical`. */
  byCanonical(device: string, canonical: string): Reading | undefined {
    for (const r of this.latestByKey.values()) {
      if (r.device === device && r.canonical === canonical) return r;
    }
    return undefined;
  }

  /** Age of the latest value of a point, ms by the monotonic clock (never negative). */
  ageMs(device: string, point: string, mono = monoNow(this.clock)): number | undefined {
    const at = this.monoAt.get(key(device, point));
    return at === undefined ? undefined : Math.max(0, mono - at);
  }

  /** A copy of the process image, keyed `device/point`; it does not change while used. */
  snapshot(): Map<string, Reading> {
    return new Map(this.latestByKey);
  }

  /**
   * Invalidate values older than their device's stale age: publishes a `stale` reading (value
   * kept for display, quality stale) for each, once. Returns how many were invalidated.
   * `mono` is the monotonic time to judge ages at (default: the clock's).
   */
  sweep(mono = monoNow(this.clock)): number {
    this.clockSteps.check();
    const stale: Reading[] = [];
    for (const [k, r] of this.latestByKey) {
      if (r.quality === 'stale') continue;
      const maxAge = this.staleAfter.get(r.device);
      const age = Math.max(0, mono - (this.monoAt.get(k) ?? mono));
      if (maxAge === undefined || age <= maxAge) continue;
      const why = `no fresh value for ${Math.round(age)} ms (stale after ${maxAge} ms)`;
      // Keep the last reason (e.g. the device's timeout) so a long-dead device still says why.
      stale.push({ ...r, quality: 'stale', error: r.error ? `${why}; last error: ${r.error}` : why });
    }
    if (stale.length) this.publish(stale);
    return stale.length;
  }
}
