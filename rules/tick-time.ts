/**
 * The time a control tick runs at, beside its wall time `now` (timestamps, time of day): the
 * monotonic time every interval in the rules is measured with (hold times, delays, minimum write
 * intervals, ramps, input ages), and the monotonic age of each reading in the tick's snapshot.
 * Without them (replays and tests whose clocks never step) both come from wall time. An engine's
 * ticks give `mono` on every tick or on none: its output states keep their change times in it.
 */
import type { ReadingsHub } from '../runtime/readings-hub.js';
import type { Clock, Reading } from '../runtime/types.js';
import { monoNow } from '../runtime/types.js';

export interface TickTime {
  /** Monotonic time of the tick, ms (runtime/types.ts monoNow); default: the tick's wall time. */
  mono?: number;
  /** Monotonic age of a reading of the snapshot, ms; default (or undefined): wall time less its timestamp. */
  age?: (r: Reading) => number | undefined;
}

/** A live tick's time: the clock's monotonic time, and the readings hub's monotonic ages at it. */
export function hubTickTime(clock: Clock, hub: Pick<ReadingsHub, 'ageMs'>): Required<TickTime> {
  const mono = monoNow(clock);
  return { mono, age: (r) => hub.ageMs(r.device, r.point, mono) };
}
