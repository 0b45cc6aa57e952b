import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { Clock, Reading } from './types.js';
import { systemClock } from './types.js';

export type ReadingListener = (batch: readonly Reading[]) => void;

const key = (device: string, point: string) => `${device}/${point}`;

/**
 * The process image: latest value of every point, plus a fan-out of reading batches to
 * listeners (store, accounting, rules). A failing listener is logged and isolated.
 * Values older than their device's stale age are invalidated by `sweep()`.
 */
export class ReadingsHub {
  private readonly latestByKey = new Map<string, Reading>();
  private readonly listeners = new Set<ReadingListener>();
  private readonly staleAfter = new Map<string, number>();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(opts: { clock?: Clock; logger?: Logger } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
  }

  /** Values of `device` older than `ms` are marked stale by sweep(). */
  setStaleAfter(device: string, ms: number): void {
    this.staleAfter.set(device, ms);
  }

  publish(batch: readonly Reading[]): void {
    if (batch.length === 0) return;
    for (const r of batch) this.latestByKey.set(key(r.device, r.point), r);
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

  /** A copy of the process image, keyed `device/point`; it does not change while used. */
  snapshot(): Map<string, Reading> {
    return new Map(this.latestByKey);
  }

  /**
   * Invalidate values older than their device's stale age: publishes a `stale` reading (value
   * kept for display, quality stale) for each, once. Returns how many were invalidated.
   */
  sweep(now = this.clock.now()): number {
    const stale: Reading[] = [];
    for (const r of this.latestByKey.values()) {
      if (r.quality === 'stale') continue;
      const age = this.staleAfter.get(r.device);
      if (age === undefined || now - r.ts <= age) continue;
      const why = `no fresh value for ${now - r.ts} ms (stale after ${age} ms)`;
      // Keep the last reason (e.g. the device's timeout) so a long-dead device still says why.
      stale.push({ ...r, quality: 'stale', error: r.error ? `${why}; last error: ${r.error}` : why });
    }
    if (stale.length) this.publish(stale);
    return stale.length;
  }
}
