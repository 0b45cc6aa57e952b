/**
 * Commands to the rule engine from outside (uplink, API): manual overrides with an expiry and
 * pushed grid carbon intensity / price. Validated strictly; anything else is refused with the
 * reason and a code (CE_CMD_...): an override's value must be one of the output's modes, or within
 * its profile point's min/max and representable by its register (rules/output-range.ts); a pushed
 * carbon intensity within 0..5000 g/kWh, a price within -10,000..10,000 per kWh.
 *
 *   { "type": "override", "output": "load.relay", "value": true, "forS": 1800, "reason": "...", "by": "operator" }
 *   { "type": "clear-override", "output": "load.relay" }
 *   { "type": "carbon-intensity", "value": 320, "validForS": 3600 }
 *   { "type": "price", "value": 0.12, "validForS": 3600 }
 */
import type { CommandHandler, CommandRefusal } from '../runtime/feature-api.js';
import type { OverrideStore } from '../runtime/control/overrides.js';
import type { RuleEngine } from './engine.js';
import { outputValueProblem } from './output-range.js';

export type RulesCommand =
  | { type: 'override'; output: string; value: number | boolean | string; forS: number; reason?: string; by?: string }
  | { type: 'clear-override'; output: string }
  | { type: 'carbon-intensity' | 'price'; value: number; validForS?: number };

const MAX_OVERRIDE_S = 7 * 86400;
/** The command types, in the order the answers list them. */
export const RULES_COMMAND_TYPES = ['override', 'clear-override', 'carbon-intensity', 'price'] as const;
/** Pushed carbon intensity, g CO2/kWh. */
export const CARBON_INTENSITY_RANGE = { min: 0, max: 5000 } as const;
/** Pushed price per kWh in the site's currency: wide enough for any real tariff or scarcity price, excludes garbage such as 1e308. */
export const PRICE_RANGE = { min: -10_000, max: 10_000 } as const;

export type RulesCommandResult = { ok: true } | CommandRefusal;

/** `now`: wall time; `mono`: monotonic time (default `now`), from which a pushed value's age is measured. */
export function applyRulesCommand(cmd: RulesCommand, deps: { engine: RuleEngine; overrides: OverrideStore; now: number; mono?: number }): RulesCommandResult {
  const refuse = (error: string, code?: CommandRefusal['code']): CommandRefusal => ({ ok: false, error, ...(code ? { code } : {}) });
  if (!cmd || typeof cmd !== 'object') return refuse('command must be an object', 'CE_CMD_SCHEMA');
  switch (cmd.type) {
    case 'override': {
      if (typeof cmd.output !== 'string') return refuse('override: output (string) required', 'CE_CMD_SCHEMA');
      const ref = deps.engine.model.output(cmd.output);
      if (typeof ref === 'string') return refuse(`override: ${ref}`, 'CE_CMD_REFUSED');
      let value = cmd.value;
      if (ref.type === 'string' && typeof value === 'boolean') value = value ? 'on' : 'off';
      const bad = deps.engine.model.checkLiteral(ref, value) ?? outputValueProblem(deps.engine.model, ref, value);
      if (bad) return refuse(`override: ${bad}`, 'CE_CMD_OUT_OF_RANGE');
      if (typeof cmd.forS !== 'number' || !(cmd.forS > 0) || cmd.forS > MAX_OVERRIDE_S) return refuse(`override: forS must be 1..${MAX_OVERRIDE_S} seconds`, 'CE_CMD_OUT_OF_RANGE');
      deps.overrides.set(
        { output: cmd.output, value, expiresAt: deps.now + cmd.forS * 1000, reason: String(cmd.reason ?? 'manual override').slice(0, 200), by: String(cmd.by ?? 'uplink').slice(0, 64) },
        deps.now,
      );
      return { ok: true };
    }
    case 'clear-override':
      if (typeof cmd.output !== 'string') return refuse('clear-override: output (string) required', 'CE_CMD_SCHEMA');
      deps.overrides.clear(cmd.output);
      return { ok: true };
    case 'carbon-intensity':
    case 'price': {
      if (typeof cmd.value !== 'number' || !Number.isFinite(cmd.value)) return refuse(`${cmd.type}: value must be a finite number`, 'CE_CMD_SCHEMA');
      const r = cmd.type === 'price' ? PRICE_RANGE : CARBON_INTENSITY_RANGE;
      if (cmd.value < r.min || cmd.value > r.max) {
        const unit = cmd.type === 'price' ? ' per kWh (site currency)' : ' g/kWh';
        return refuse(`${cmd.type}: value ${cmd.value} is outside ${r.min}..${r.max}${unit}`, 'CE_CMD_OUT_OF_RANGE');
      }
      const validUntil = typeof cmd.validForS === 'number' && cmd.validForS > 0 ? deps.now + cmd.validForS * 1000 : undefined;
      deps.engine.external.push(cmd.type === 'price' ? 'price' : 'carbonIntensity', cmd.value, deps.now, validUntil, deps.mono);
      return { ok: true };
    }
    default:
      return refuse(`unknown command type '${String((cmd as { type?: unknown }).type)}' (allowed: ${RULES_COMMAND_TYPES.join(', ')})`, 'CE_CMD_SCHEMA');
  }
}

/** What the `rules` command needs of the running rule engine (rules/feature.ts RulesService). */
export interface RulesCommandTarget {
  command(cmd: unknown): RulesCommandResult;
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
      if (!target) return { ok: false, code: 'CE_CMD_NOT_RUNNING', error: 'the rule engine is not running on this gateway (no rules configured, or control.enabled: false)' };
      const r = target.command(cmd);
      if (!r.ok) return r;
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
