import type { Logger } from '../logger.js';
import type { DeltaPart } from './aggregator.js';
import { MINUTE } from './aggregator.js';
import { counterDelta, type CounterDeltaOptions, type CounterSample } from '../metering/counter-delta.js';
import type { StoreRepository } from './repository.js';

/**
 * The last absolute value per counter point (table `counter_last`) and the energy deltas derived
 * from it (table `energy_deltas`): the first delta after a restart covers the downtime. The
 * decision itself is the pure counterDelta().
 */
export class CounterBaselines {
  private readonly last = new Map<number, CounterSample>();

  constructor(
    private readonly repo: StoreRepository,
    private readonly options: CounterDeltaOptions,
    private readonly log: Logger,
  ) {}

  load(): void {
    this.last.clear();
    for (const [id, c] of this.repo.counterBaselines()) this.last.set(id, c);
  }

  /** A good counter reading (inside the flush's unit of work): its delta, recorded with the new baseline; undefined when not newer than the baseline. */
  next(p: { id: number; device: string; point: string }, value: number, ts: number): DeltaPart | undefined {
    const prev = this.last.get(p.id);
    if (prev && ts <= prev.ts) return undefined;
    const d = counterDelta(prev, { value, ts }, this.options);
    if (d.flag === 'reset' || d.flag === 'implausible') this.log.warn({ device: p.device, point: p.point, prev, value, flag: d.flag }, 'counter discontinuity: delta 0, new baseline');
    else if (d.flag) this.log.info({ device: p.device, point: p.point, prev, value, flag: d.flag }, `counter ${d.flag}`);
    // A reset / implausible jump re-baselines on the new value: later deltas count from there.
    this.repo.recordCounter(Math.floor(ts / MINUTE) * MINUTE, p.id, d.delta, prev?.ts ?? ts, value, ts, d.flag);
    this.last.set(p.id, { value, ts });
    return d;
  }
}
