/**
 * The schedule every device poller runs on (Modbus, DL/T 645): one cycle per poll interval,
 * measured on the monotonic clock from the start of the previous cycle; cycles skipped while the
 * device is backed off; `stop()` waits for the cycle in flight. A wall-clock step never delays or
 * hurries a poll (runtime/types.ts Clock).
 */
import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/types.js';
import { monoNow } from '../runtime/types.js';
import type { LoopBeat } from '../runtime/supervision/liveness.js';

export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inCycle: Promise<unknown> | undefined;
  /** Monotonic time until which the device is backed off. */
  private backedOffUntil = 0;

  constructor(
    private readonly opts: {
      clock: Clock;
      intervalMs: number;
      /** One poll of the device. Expected not to throw; a throw is logged and the loop goes on. */
      cycle: () => Promise<unknown>;
      /** A cycle skipped while backed off. */
      onSkip: () => void;
      log: Logger;
      /** Reports each scheduled cycle to the liveness registry (the systemd watchdog). */
      liveness?: LoopBeat;
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.liveness?.close();
    await this.inCycle?.catch(() => undefined);
  }

  /** Skip cycles for `waitMs` from now (monotonic). */
  backOff(waitMs: number): void {
    this.backedOffUntil = monoNow(this.opts.clock) + waitMs;
  }

  clearBackoff(): void {
    this.backedOffUntil = 0;
  }

  /** Milliseconds of backoff left (0 when not backed off). */
  backoffLeftMs(): number {
    return Math.max(0, this.backedOffUntil - monoNow(this.opts.clock));
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.opts.liveness?.beat(Math.max(0, delay));
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delay));
  }

  private async tick(): Promise<void> {
    const { clock } = this.opts;
    const started = monoNow(clock);
    try {
      if (started < this.backedOffUntil) {
        this.opts.onSkip();
      } else {
        const cycle = this.opts.cycle();
        this.inCycle = cycle;
        await cycle;
      }
    } catch (err) {
      // Nothing a device does may stop its poller.
      this.opts.log.error({ err }, 'poll cycle failed unexpectedly');
    } finally {
      this.inCycle = undefined;
    }
    if (!this.running) return;
    const now = monoNow(clock);
    let next = started + this.opts.intervalMs - now;
    if (now < this.backedOffUntil) next = Math.max(next, this.backedOffUntil - now);
    this.schedule(next);
  }
}
