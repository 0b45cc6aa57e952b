/**
 * Inputs from outside the site: grid carbon intensity (g CO2/kWh) and energy price. Each is a
 * static hourly profile from the config (24 values, by local hour) or a constant, and can be
 * replaced by a value pushed over the uplink (or the CLI) that is trusted for `pushedMaxAgeS`.
 */
import type { ControlConfig } from './config-types.js';

export type ExternalInputName = 'carbonIntensity' | 'price';

interface Pushed {
  value: number;
  /** Wall time it was pushed (ms since the epoch). */
  ts: number;
  /** Optional end of validity of the pushed value (wall time, ms). */
  validUntil?: number;
  /** Monotonic time it was pushed (ms): its age is measured from here. */
  monoAt: number;
}

export class ExternalInputs {
  private readonly pushed = new Map<ExternalInputName, Pushed>();
  constructor(private readonly control: ControlConfig) {}

  /**
   * Set a value pushed from outside (uplink command, API) at wall time `ts` and monotonic time
   * `mono` (default `ts`, for clocks that never step); it wins over the static profile while fresh.
   */
  push(name: ExternalInputName, value: number, ts: number, validUntil?: number, mono = ts): void {
    if (!Number.isFinite(value)) throw new Error(`pushed ${name} must be a finite number`);
    this.pushed.set(name, { value, ts, validUntil, monoAt: mono });
  }

  /**
   * Current value at monotonic time `mono` (the clock of the `mono` given to push), or undefined
   * when neither a fresh pushed value nor a static one exists. Ages are monotonic: a validity
   * (validUntil) is the duration from the push it stood for, so a step of the wall clock neither
   * expires a pushed value early nor keeps it for longer.
   */
  value(name: ExternalInputName, mono: number, localHour: number): number | undefined {
    const cfg = this.control[name];
    const p = this.pushed.get(name);
    if (p) {
      const age = mono - p.monoAt;
      const fresh = p.validUntil !== undefined ? age < p.validUntil - p.ts : age <= (cfg?.pushedMaxAgeS ?? 3600) * 1000;
      if (fresh) return p.value;
    }
    if (!cfg) return undefined;
    if (cfg.hourly && cfg.hourly.length === 24) return cfg.hourly[localHour];
    return cfg.value;
  }
}
