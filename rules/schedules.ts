/**
 * Schedule variables (control.schedules): named values that cron expressions set, e.g. a tariff
 * `tou` that becomes "offpeak" at 22:00 and "peak" at 07:00. Live, node-cron (v4: createTask +
 * start) fires them in the site's time zone. Under a simulated clock (replay, tests) `advance()`
 * replays each minute in between through the same node-cron expressions (`task.match`).
 * At start the value is `initial`, unless an entry fired within the last 24 hours.
 */
import { createTask, type ScheduledTask } from 'node-cron';
import type { ControlConfig } from './config-types.js';

type SchedValue = number | boolean | string;

interface Entry {
  id: string;
  value: SchedValue;
  task: ScheduledTask;
}

const MINUTE = 60_000;

export class ScheduleVariables {
  readonly values = new Map<string, SchedValue>();
  private readonly entries: Entry[] = [];
  private lastMinute: number | undefined;
  private running = false;

  constructor(control: ControlConfig, timezone?: string) {
    for (const s of control.schedules ?? []) {
      this.values.set(s.id, s.initial);
      for (const a of s.at) {
        const entry: Entry = {
          id: s.id,
          value: a.value,
          task: createTask(a.cron, () => this.values.set(s.id, a.value), { timezone, name: `schedule:${s.id}`, noOverlap: true }),
        };
        this.entries.push(entry);
      }
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Set the values as of `now` from the entries that fired in the last 24 hours (latest wins). */
  prime(now: number): void {
    const end = Math.floor(now / MINUTE);
    this.replay(end - 24 * 60, end);
    this.lastMinute = end;
  }

  /** Simulated clock: apply every entry that fires in the minutes after the last call, up to `now`. */
  advance(now: number): void {
    const end = Math.floor(now / MINUTE);
    if (this.lastMinute === undefined) return this.prime(now);
    if (end <= this.lastMinute) return;
    this.replay(Math.max(this.lastMinute + 1, end - 7 * 24 * 60), end);
    this.lastMinute = end;
  }

  private replay(fromMinute: number, toMinute: number): void {
    if (!this.entries.length) return;
    for (let m = fromMinute; m <= toMinute; m++) {
      const d = new Date(m * MINUTE);
      for (const e of this.entries) if (e.task.match(d)) this.values.set(e.id, e.value);
    }
  }

  /** Real clock: let node-cron fire the entries. */
  async start(now: number): Promise<void> {
    this.prime(now);
    for (const e of this.entries) await e.task.start();
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const e of this.entries) await e.task.destroy();
  }
}
