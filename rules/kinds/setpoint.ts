/** `kind: setpoint`: a numeric output from an expression, clamped, ramp-limited, with a deadband. */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { clampNum, rampToward } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { RuleCommon } from '../config-types.js';
import { expr, output, secs } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export interface SetpointRuleConfig extends RuleCommon {
  kind: 'setpoint';
  output: string;
  /** Numeric expression of the setpoint. */
  value: string;
  /** Optional condition; while false the rule writes `idle` (or releases the output when no idle is set). */
  when?: string;
  idle?: number;
  min?: number;
  max?: number;
  /** Max change per second (engineering units/s). */
  rampPerS?: number;
  /** Changes smaller than this are not written. */
  deadband?: number;
  minWriteIntervalS?: number;
  /** Value written when an input is stale or bad, or `hold` (default hold). */
  safe?: number | 'hold';
}

export class SetpointRule implements RuleRuntime {
  readonly kind = 'setpoint';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private lastMono: number | undefined;

  constructor(
    private readonly cfg: SetpointRuleConfig,
    private readonly out: OutputRef,
    private readonly value: CompiledExpression,
    private readonly when: CompiledExpression | undefined,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [out];
    this.expressions = when ? [value, when] : [value];
  }

  private intent(value: number, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: this.out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  evaluate(ctx: RuleContext): Intent[] {
    const dt = this.lastMono === undefined ? Infinity : ctx.mono - this.lastMono;
    this.lastMono = ctx.mono;
    const r = tryInputs(() => {
      if (this.when && !(this.when.evaluate(ctx.scope) as boolean)) return undefined;
      return this.value.evaluate(ctx.scope) as number;
    });
    if (!r.ok) return this.safe(ctx, `safe state: ${r.reason}`);
    if (r.value === undefined) return this.cfg.idle !== undefined ? [this.intent(this.cfg.idle, 'condition false: idle value', ctx)] : [];
    const state = ctx.state(this.out);
    const cur = typeof state.value === 'number' ? state.value : undefined;
    const target = clampNum(r.value, this.cfg.min, this.cfg.max);
    let next = rampToward(cur, target, this.cfg.rampPerS, dt);
    let reason = next === target ? `setpoint ${round(target)}` : `ramping toward ${round(target)} at ${this.cfg.rampPerS}/s`;
    if (cur !== undefined && this.cfg.deadband && Math.abs(next - cur) < this.cfg.deadband) {
      next = cur;
      reason = `change to ${round(target)} within deadband ${this.cfg.deadband}`;
    }
    if (cur !== undefined && next !== cur && this.cfg.minWriteIntervalS && ctx.mono - state.changedAt < this.cfg.minWriteIntervalS * 1000) {
      next = cur;
      reason = `held: minimum write interval ${this.cfg.minWriteIntervalS} s`;
    }
    return [this.intent(next, reason, ctx)];
  }

  private safe(ctx: RuleContext, reason: string): Intent[] {
    const s = this.cfg.safe ?? 'hold';
    return s === 'hold' ? [] : [this.intent(s, reason, ctx, true)];
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safe(ctx, 'control loop stopping: safe state');
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function buildSetpoint(cfg: SetpointRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const out = b.output(cfg.output, `${path}/output`);
  const value = b.expr(cfg.value, 'number', `${path}/value`);
  const when = cfg.when !== undefined ? b.expr(cfg.when, 'boolean', `${path}/when`) : undefined;
  if (out && out.type !== 'number') b.issue(`${path}/output`, `setpoint output ${cfg.output} must be numeric, it is ${out.type}`);
  if (cfg.min !== undefined && cfg.max !== undefined && cfg.min > cfg.max) b.issue(path, `min ${cfg.min} is above max ${cfg.max}`);
  if (!out || !value || (cfg.when !== undefined && !when)) return undefined;
  return new SetpointRule(cfg, out, value, when);
}

export const setpointKind: RuleKindDefinition<SetpointRuleConfig> = {
  kind: 'setpoint',
  schema: {
    required: ['output', 'value'],
    properties: {
      output,
      value: expr,
      when: expr,
      idle: { type: 'number' },
      min: { type: 'number' },
      max: { type: 'number' },
      rampPerS: { type: 'number', exclusiveMinimum: 0 },
      deadband: { type: 'number', minimum: 0 },
      minWriteIntervalS: secs('minimum time between two writes'),
      safe: { anyOf: [{ type: 'number' }, { const: 'hold' }] },
    },
  },
  build: buildSetpoint,
};
