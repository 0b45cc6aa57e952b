/**
 * Commands to the rule engine from outside (uplink, API): manual overrides with an expiry and
 * pushed grid carbon intensity / price. Validated strictly; anything else is refused.
 *
 *   { "type": "override", "output": "load.relay", "value": true, "forS": 1800, "reason": "...", "by": "operator" }
 *   { "type": "clear-override", "output": "load.relay" }
 *   { "type": "carbon-intensity", "value": 320, "validForS": 3600 }
 *   { "type": "price", "value": 0.12, "validForS": 3600 }
 */
import type { CommandHandler } from '../runtime/feature-api.js';
import type { OverrideStore } from '../runtime/control/overrides.js';
import type { RuleEngine } from './engine.js';

export type RulesCommand =
  | { type: 'override'; output: string; value: number | boolean | string; forS: number; reason?: string; by?: string }
  | { type: 'clear-override'; output: string }
  | { type: 'carbon-intensity' | 'price'; value: number; validForS?: number };

const MAX_OVERRIDE_S = 7 * 86400;

export function applyRulesCommand(
  cmd: RulesCommand,
  deps: { engine: RuleEngine; overrides: OverrideStore; now: number },
): { ok: true } | { ok: false; error: string } {
  if (!cmd || typeof cmd !== 'object') return { ok: false, error: 'command must be an object' };
  switch (cmd.type) {
    case 'override': {
      if (typeof cmd.output !== 'string') return { ok: false, error: 'override: output (string) required' };
      const ref = deps.engine.model.output(cmd.output);
      if (typeof ref === 'string') return { ok: false, error: `override: ${ref}` };
      let value = cmd.value;
      if (ref.type === 'string' && typeof value === 'boolean') value = value ? 'on' : 'off';
      const bad = deps.engine.model.checkLiteral(ref, value);
      if (bad) return { ok: false, error: `override: ${bad}` };
      if (typeof cmd.forS !== 'number' || !(cmd.forS > 0) || cmd.forS > MAX_OVERRIDE_S) return { ok: false, error: `override: forS must be 1..${MAX_OVERRIDE_S} seconds` };
      deps.overrides.set(
        { output: cmd.output, value, expiresAt: deps.now + cmd.forS * 1000, reason: String(cmd.reason ?? 'manual override').slice(0, 200), by: String(cmd.by ?? 'uplink').slice(0, 64) },
        deps.now,
      );
      return { ok: true };
    }
    case 'clear-override':
      if (typeof cmd.output !== 'string') return { ok: false, error: 'clear-override: output (string) required' };
      deps.overrides.clear(cmd.output);
      return { ok: true };
    case 'carbon-intensity':
    case 'price': {
      if (typeof cmd.value !== 'number' || !Number.isFinite(cmd.value)) return { ok: false, error: `${cmd.type}: value must be a finite number` };
      if (cmd.type === 'carbon-intensity' && (cmd.value < 0 || cmd.value > 5000)) return { ok: false, error: 'carbon-intensity: value must be 0..5000 g/kWh' };
      const validUntil = typeof cmd.validForS === 'number' && cmd.validForS > 0 ? deps.now + cmd.validForS * 1000 : undefined;
      deps.engine.external.push(cmd.type === 'price' ? 'price' : 'carbonIntensity', cmd.value, deps.now, validUntil);
      return { ok: true };
    }
    default:
      return { ok: false, error: `unknown command type '${String((cmd as { type?: unknown }).type)}'` };
  }
}

/** What the `rules` command needs of the running rule engine (rules/feature.ts RulesService). */
export interface RulesCommandTarget {
  command(cmd: unknown): { ok: true } | { ok: false; error: string };
  overrides: { list(now: number): { output: string; value: unknown; expiresAt: number; reason: string; by: string }[] };
}

/**
 * The `rules` command over the uplink (override, clear-override, carbon-intensity, price: see
 * rules/README.md). `target` undefined: the rule engine is not running on this gateway.
 */
export function rulesCommand(target: RulesCommandTarget | undefined, clock: { now(): number }): CommandHandler {
  return {
    name: 'rules',
    feature: 'rules',
    run(cmd) {
      if (!target) return { ok: false, error: 'the rule engine is not running on this gateway (no rules configured, or control.enabled: false)' };
      const r = target.command(cmd);
      if (!r.ok) return { ok: false, error: r.error };
      const now = clock.now();
      if (cmd.type === 'override' || cmd.type === 'clear-override') {
        const overrides = target.overrides.list(now).map((o) => ({ ...o, expiresAt: new Date(o.expiresAt).toISOString() }));
        return { ok: true, data: { type: cmd.type, overrides } };
      }
      const validForS = typeof cmd.validForS === 'number' ? cmd.validForS : undefined;
      return { ok: true, data: { type: cmd.type, value: cmd.value, ...(validForS ? { validUntil: new Date(now + validForS * 1000).toISOString() } : {}) } };
    },
  };
}
