/**
 * The accounting engine's checkpoint period across a step back of the wall clock: the engine runs
 * on wall time (its windows are wall-clock quarter-hours), but a step back must not defer its
 * checkpoints (counter baselines, open windows) until the clock has caught up an hour later.
 */
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../runtime/types.js';
import { DAY0, makeEngine, tmpDb } from './helpers.js';

const HOUR = 3_600_000;

describe('accounting checkpoints across a wall-clock step back', () => {
  it('the first advance after a step back checkpoints at once; the period then runs from there', () => {
    const { db } = tmpDb();
    const engine = makeEngine(db); // checkpointMs 60 s (test helpers)
    const saved = () => db.prepare("SELECT value FROM acct_state WHERE key = 'engine'").pluck().get() as string | undefined;
    const grid = (ts: number, kWh: number, point = 'energy_import'): Reading => ({ device: 'grid', point, canonical: point, value: kWh, quality: 'good', ts, source: 'test' });
    const t = DAY0 + 10 * 60_000;
    engine.begin(t);
    engine.ingest([grid(t, 1000)]);
    engine.advance(t + 60_000);
    const before = saved();
    expect(before).toBeDefined();
    // One hour back: a first sample of another counter changes the state (samples of the first
    // are older than its last one: out of order); the next advance persists it.
    const back = t - HOUR + 61_000;
    engine.ingest([grid(back, 50, 'energy_export')]);
    engine.advance(back + 1000);
    expect(saved()).not.toBe(before);
    // ... and the period restarts from the stepped time: not due again 59 s later, due at 60 s.
    const after = saved();
    engine.ingest([grid(back + 2000, 51, 'energy_export')]);
    engine.advance(back + 1000 + 59_000);
    expect(saved()).toBe(after);
    engine.advance(back + 1000 + 60_000);
    expect(saved()).not.toBe(after);
  });
});
