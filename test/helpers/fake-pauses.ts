import { expect, vi } from 'vitest';

/** The timers faked: the bus's pauses, timeouts and guards. Sockets, setImmediate and clocks stay real. */
export const FAKE_TIMEOUTS = { toFake: ['setTimeout', 'clearTimeout'] } as const satisfies Parameters<typeof vi.useFakeTimers>[0];

/** Wait for real I/O while setTimeout is faked: yield with setImmediate, bounded by a count of rounds. */
export async function untilIo(cond: () => boolean, what: string, rounds = 500_000): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i >= rounds) throw new Error(`gave up waiting for ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

/**
 * Under FAKE_TIMEOUTS, with a peer that answers at once (no timers of its own): checks that after
 * each reply the bus waits exactly `pauseMs` of fake time before the next request. While a request
 * is on the wire the bus holds two timers (its guard and modbus-serial's timeout); after the reply,
 * one (the pause). `sent()` counts the requests the peer received; `total` are expected.
 */
export async function expectPausesOnFakeTime(sent: () => number, total: number, pauseMs: number): Promise<void> {
  for (let k = 1; k <= total; k++) {
    await untilIo(() => sent() > k || (sent() === k && vi.getTimerCount() === 1), `the pause after reply ${k}`);
    expect(sent(), `request ${k + 1} was sent without a pause`).toBe(k);
    await vi.advanceTimersByTimeAsync(pauseMs - 1);
    expect(vi.getTimerCount(), `the pause after reply ${k} ended before ${pauseMs} ms`).toBe(1);
    expect(sent()).toBe(k);
    await vi.advanceTimersByTimeAsync(1);
    if (k < total) await untilIo(() => sent() === k + 1, `request ${k + 1} after the pause`);
  }
}
