/**
 * Liveness registry: the gateway's loops (device polls, store flush, control ticks) report
 * progress here, on the monotonic clock, and say when their next report is due. A loop whose
 * report is overdue by more than the grace is stuck; the systemd watchdog (sd-notify.ts) stops
 * pinging while any loop is stuck, so systemd restarts the service.
 * Loops find the registry as the LIVENESS service; without it (tests, tools) they report nothing.
 */
import { serviceKey } from '../service-registry.js';
import { monoNow, systemClock, type Clock } from '../types.js';

/** One loop's reporting handle. */
export interface LoopBeat {
  /** Progress now; the next report is due within `nextWithinMs`. */
  beat(nextWithinMs: number): void;
  /** The loop stopped on purpose: no more reports expected. */
  close(): void;
}

export interface Liveness {
  /** Register a loop under a name (e.g. `poll:meter-1`, `store`, `control`). */
  loop(name: string): LoopBeat;
}

export const LIVENESS = serviceKey<Liveness>('liveness');

/** How late a report may be before the loop counts as stuck (a slow cycle is not a stuck one). */
export const DEFAULT_GRACE_MS = 30_000;

export interface StuckLoop {
  name: string;
  /** Milliseconds past the due time plus grace. */
  overdueMs: number;
}

export class LivenessRegistry implements Liveness {
  /** Loop name -> monotonic time its next report is due. */
  private readonly due = new Map<string, number>();
  private readonly clock: Clock;
  private readonly graceMs: number;

  constructor(opts: { clock?: Clock; graceMs?: number } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  }

  loop(name: string): LoopBeat {
    let key = name;
    for (let n = 2; this.due.has(key); n++) key = `${name}#${n}`;
    // Registered: due at once plus the grace (the loop's first report comes when it starts).
    this.due.set(key, monoNow(this.clock));
    return {
      beat: (nextWithinMs) => {
        if (this.due.has(key)) this.due.set(key, monoNow(this.clock) + Math.max(0, nextWithinMs));
      },
      close: () => void this.due.delete(key),
    };
  }

  /** Loops whose report is overdue by more than the grace, now. */
  stuck(): StuckLoop[] {
    const now = monoNow(this.clock);
    const out: StuckLoop[] = [];
    for (const [name, due] of this.due) {
      const overdueMs = now - due - this.graceMs;
      if (overdueMs > 0) out.push({ name, overdueMs });
    }
    return out;
  }

  /** Names of the registered loops (diagnostics). */
  names(): string[] {
    return [...this.due.keys()];
  }
}
