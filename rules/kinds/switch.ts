/** `kind: switch`: an on/off output driven by a condition with hysteresis, delays and timing guards. */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { ConditionLatch, guardChange } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { CondConfig, OutputLiteral, RuleCommon, TimingConfig } from '../config-types.js';
import { expr, hysteresis, literal, output, timing } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type CondFn, type RuleBuilder } from './builder.js';

export interface SwitchRuleConfig extends RuleCommon, TimingConfig, CondConfig {
  kind: 'switch';
  /** `device.point` (boolean or numeric point) or `device` (a device with profile modes). */
  output: string;
  on?: OutputLiteral;
  off?: OutputLiteral;
  /** What to do when an input is stale or bad (default off). */
  safe?: 'on' | 'off' | 'hold';
}

export class SwitchRule implements RuleRuntime {
  readonly kind = 'switch';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private readonly latch: ConditionLatch;

  constructor(
    private readonly cfg: SwitchRuleConfig,
    private readonly out: OutputRef,
    private readonly onV: OutputLiteral,
    private readonly offV: OutputLiteral,
    private readonly cond: CondFn,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [out];
    this.expressions = cond.exprs;
    this.latch = new ConditionLatch((cfg.delayOnS ?? 0) * 1000, (cfg.delayOffS ?? 0) * 1000);
  }

  private readonly isOn = (v: OutputLiteral) => v === this.onV;

  evaluate(ctx: RuleContext): Intent[] {
    const state = ctx.state(this.out);
    const r = tryInputs(() => this.cond(ctx.scope));
    if (!r.ok) {
      this.latch.reset();
      return this.safeIntents(ctx, `safe state: ${r.reason}`);
    }
    const currentOn = state.value !== undefined && this.isOn(state.value);
    const want = this.latch.update(currentOn, r.value.onCond, r.value.offCond, ctx.mono);
    const g = guardChange(state, want.on ? this.onV : this.offV, this.isOn, this.cfg, ctx.mono);
    return [this.intent(g.value, g.held ? `${g.held}; wanted ${String(want.on ? this.onV : this.offV)}: ${want.reason}` : want.reason, ctx)];
  }

  private intent(value: OutputLiteral, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: this.out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  private safeIntents(ctx: RuleContext, reason: string): Intent[] {
    const safe = this.cfg.safe ?? 'off';
    if (safe === 'hold') return [];
    if (safe === 'off') return [this.intent(this.offV, reason, ctx, true)];
    // Turning something ON as a safe state still honours its minimum off time (compressor protection).
    const g = guardChange(ctx.state(this.out), this.onV, this.isOn, { minOffS: this.cfg.minOffS }, ctx.mono);
    return [this.intent(g.value, g.held ? `${reason}; ${g.held}` : reason, ctx, true)];
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safeIntents(ctx, 'control loop stopping: safe state');
  }
}

function buildSwitch(cfg: SwitchRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const out = b.output(cfg.output, `${path}/output`);
  const cond = b.condition(cfg, path);
  if (!out || !cond) return undefined;
  const onDefault: OutputLiteral = out.type === 'string' ? (out.modes!.includes('on') ? 'on' : '') : out.type === 'boolean' ? true : 1;
  const offDefault: OutputLiteral = out.type === 'string' ? (out.modes!.includes('off') ? 'off' : '') : out.type === 'boolean' ? false : 0;
  const onV = b.literal(out, cfg.on ?? onDefault, `${path}/on`);
  const offV = b.literal(out, cfg.off ?? offDefault, `${path}/off`);
  if (onV === offV) b.issue(path, `on and off values are the same (${String(onV)})`);
  return new SwitchRule(cfg, out, onV, offV, cond);
}

export const switchKind: RuleKindDefinition<SwitchRuleConfig> = {
  kind: 'switch',
  schema: {
    required: ['output'],
    properties: { ...timing, output, on: literal, off: literal, when: expr, until: expr, hysteresis, safe: { enum: ['on', 'off', 'hold'] } },
  },
  build: buildSwitch,
};
