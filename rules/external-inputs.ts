/**
 * Inputs from outside the site: grid carbon intensity (g CO2/kWh) and energy price. Each is a
 * static hourly profile from the config (24 values, by local hour) or a constant, and can be
 * replaced by a value pushed over the uplink (or the CLI) that is trusted for `pushedMaxAgeS`.
 */
import type { ControlConfig } from './config-types.js';

export type ExternalInputName = 'carbonIntensity' | 'price';

interface Pushed {
  value: number;
  ts: number;
  /** Optional end of validity of the pushed value (ms). */
  validUntil?: number;
}

export class ExternalInputs {
  private readonly pushed = new Map<ExternalInputName, Pushed>();
  constructor(private readonly control: ControlConfig) {}

  /** Set a value pushed from outside (uplink command, API); it wins over the static profile while fresh. */
  push(name: ExternalInputName, value: number, ts: number, validUntil?: number): void {
    if (!Number.isFinite(value)) throw new Error(`pushed ${name} must be a finite number`);
    this.pushed.set(name, { value, ts, validUntil });
  }

  /** Current value, or undefined when neither a fresh pushed value nor a static one exists. */
  value(name: ExternalInputName, now: number, localHour: number): number | undefined {
    const cfg = this.control[name];
    const p = this.pushed.get(name);
    if (p) {
      const maxAge = (cfg?.pushedMaxAgeS ?? 3600) * 1000;
      const fresh = p.validUntil !== undefined ? now < p.validUntil : now - p.ts <= maxAge;
      if (fresh) return p.value;
    }
    if (!cfg) return undefined;
    if (cfg.hourly && cfg.hourly.length === 24) return cfg.hourly[localHour];
    return cfg.value;
  }
}
