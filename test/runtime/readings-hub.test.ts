import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), set: (ms: number) => (t = ms) };
}

const reading = (over: Partial<Reading> & Pick<Reading, 'device' | 'point' | 'ts'>): Reading => ({
  value: 1,
  quality: 'good',
  source: `modbus-tcp://127.0.0.1:502#1/holding/0`,
  ...over,
});

describe('ReadingsHub stale invalidation (injected clock)', () => {
  it('a stale value keeps the reason of its last error, so a long-dead device still says why', () => {
    const clock = manualClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('meter', 1000);
    hub.publish([reading({ device: 'meter', point: 'voltage_l1', ts: clock.now(), value: null, quality: 'comm-error', error: 'no reply within 300 ms' })]);
    clock.advance(1001);
    expect(hub.sweep()).toBe(1);
    expect(hub.latest('meter', 'voltage_l1')).toMatchObject({
      quality: 'stale',
      error: 'no fresh value for 1001 ms (stale after 1000 ms); last error: no reply within 300 ms',
    });
  });

  it('a value older than its device stale age becomes stale once, value kept, listeners told', () => {
    const clock = manualClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('meter', 3000);
    const seen: Reading[] = [];
    hub.subscribe((b) => seen.push(...b));
    const t0 = clock.now();
    hub.publish([reading({ device: 'meter', point: 'active_power', ts: t0, value: 1500, canonical: 'active_power', unit: 'W' })]);
    expect(seen).toHaveLength(1);

    // Exactly at the age: still good. One ms later: stale.
    clock.advance(3000);
    expect(hub.sweep()).toBe(0);
    expect(hub.latest('meter', 'active_power')!.quality).toBe('good');
    clock.advance(1);
    expect(hub.sweep()).toBe(1);
    const stale = hub.latest('meter', 'active_power')!;
    expect(stale.quality).toBe('stale');
    expect(stale.value).toBe(1500); // kept for display, flagged
    expect(stale.ts).toBe(t0); // the age of the value is not hidden
    expect(stale.canonical).toBe('active_power');
    expect(stale.source).toBe('modbus-tcp://127.0.0.1:502#1/holding/0');
    expect(stale.error).toMatch(/no fresh value for 3001 ms \(stale after 3000 ms\)/);
    expect(hub.byCanonical('meter', 'active_power')!.quality).toBe('stale');
    // Listeners (store, accounting, rules) receive the invalidation.
    expect(seen).toHaveLength(2);
    expect(seen[1]!.quality).toBe('stale');

    // Invalidated once: later sweeps publish nothing more.
    clock.advance(60_000);
    expect(hub.sweep()).toBe(0);
    expect(seen).toHaveLength(2);

    // A fresh value is good again, and ages again.
    hub.publish([reading({ device: 'meter', point: 'active_power', ts: clock.now(), value: 1600 })]);
    expect(hub.latest('meter', 'active_power')!.quality).toBe('good');
    clock.advance(2999);
    expect(hub.sweep()).toBe(0);
    clock.advance(2);
    expect(hub.sweep()).toBe(1);
    expect(hub.latest('meter', 'active_power')).toMatchObject({ quality: 'stale', value: 1600 });
  });

  it('each device has its own age; devices without one are never swept; comm-error values age too', () => {
    const clock = manualClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('fast', 1000);
    hub.setStaleAfter('slow', 60_000);
    const t0 = clock.now();
    hub.publish([
      reading({ device: 'fast', point: 'p', ts: t0 }),
      reading({ device: 'fast', point: 'q', ts: t0, value: null, quality: 'comm-error', error: 'no reply within 500 ms' }),
      reading({ device: 'slow', point: 'p', ts: t0 }),
      reading({ device: 'unconfigured', point: 'p', ts: t0 }),
    ]);
    clock.advance(5000);
    expect(hub.sweep()).toBe(2);
    expect(hub.latest('fast', 'p')!.quality).toBe('stale');
    expect(hub.latest('fast', 'q')!.quality).toBe('stale');
    expect(hub.latest('fast', 'q')!.value).toBeNull();
    expect(hub.latest('slow', 'p')!.quality).toBe('good');
    expect(hub.latest('unconfigured', 'p')!.quality).toBe('good');
    clock.advance(55_001);
    expect(hub.sweep()).toBe(1);
    expect(hub.latest('slow', 'p')!.quality).toBe('stale');
    expect(hub.latest('unconfigured', 'p')!.quality).toBe('good');
  });

  it('sweep uses the value timestamp, not when it was published (a late-published old value is stale at once)', () => {
    const clock = manualClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('meter', 1000);
    hub.publish([reading({ device: 'meter', point: 'p', ts: clock.now() - 5000 })]);
    expect(hub.sweep()).toBe(1);
    expect(hub.latest('meter', 'p')!.quality).toBe('stale');
    // An explicit (monotonic) time overrides the clock's; this clock has no monotonic reading,
    // so its now() serves for both.
    hub.publish([reading({ device: 'meter', point: 'p', ts: clock.now() })]);
    expect(hub.sweep(clock.now() + 999)).toBe(0);
    expect(hub.sweep(clock.now() + 1001)).toBe(1);
  });

  it('a failing listener is isolated: the others still receive the batch and the image is updated', () => {
    const clock = manualClock();
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
    const hub = new ReadingsHub({ clock, logger });
    const got: number[] = [];
    hub.subscribe(() => {
      throw new Error('listener broke');
    });
    hub.subscribe((b) => got.push(b.length));
    hub.publish([reading({ device: 'd', point: 'a', ts: clock.now() }), reading({ device: 'd', point: 'b', ts: clock.now() })]);
    expect(got).toEqual([2]);
    expect(hub.snapshot().size).toBe(2);
    expect(lines.join('')).toMatch(/listener broke/);
    // Unsubscribe works; an empty batch is not fanned out.
    const unsub = hub.subscribe(() => got.push(-1));
    unsub();
    hub.publish([]);
    hub.publish([reading({ device: 'd', point: 'a', ts: clock.now() })]);
    expect(got).toEqual([2, 1]);
  });

  it('snapshot is a copy that does not change while used', () => {
    const clock = manualClock();
    const hub = new ReadingsHub({ clock });
    hub.setStaleAfter('d', 10);
    hub.publish([reading({ device: 'd', point: 'a', ts: clock.now() })]);
    const snap = hub.snapshot();
    clock.advance(100);
    hub.sweep();
    expect(snap.get('d/a')!.quality).toBe('good');
    expect(hub.latest('d', 'a')!.quality).toBe('stale');
  });
});
