/**
 * `kind: sg-ready`: an SG-Ready heat pump (two relays, four states) through its profile's
 * modes. Each of blocked / forced / boost has its own condition latch (hysteresis, delays);
 * the state is blocked > forced > boost > normal, then timing guards apply to state changes.
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { ConditionLatch, guardChange } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { CondConfig, RuleCommon, TimingConfig } from '../config-types.js';
import { cond, id, timing } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type CondFn, type RuleBuilder } from './builder.js';

export interface SgReadyRuleConfig extends RuleCommon, TimingConfig {
  kind: 'sg-ready';
  device: string;
  boost?: CondConfig;
  forced?: CondConfig;
  blocked?: CondConfig;
  /** Mode names of the profile (defaults sg1-blocked, sg2-normal, sg3-boost, sg4-forced). */
  states?: { blocked?: string; normal?: string; boost?: string; forced?: string };
  safe?: 'blocked' | 'normal' | 'hold';
}

type StateName = 'blocked' | 'normal' | 'boost' | 'forced';

export class SgReadyRule implements RuleRuntime {
  readonly kind = 'sg-ready';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private readonly latched: Record<string, boolean> = { blocked: false, forced: false, boost: false };
  private readonly latches: Record<string, ConditionLatch> = {};

  constructor(
    private readonly cfg: SgReadyRuleConfig,
    private readonly out: OutputRef,
    private readonly conds: Partial<Record<'blocked' | 'forced' | 'boost', CondFn>>,
    private readonly modes: Record<StateName, string>,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [out];
    this.expressions = Object.values(conds).flatMap((c) => c!.exprs);
    for (const k of ['blocked', 'forced', 'boost']) this.latches[k] = new ConditionLatch((cfg.delayOnS ?? 0) * 1000, (cfg.delayOffS ?? 0) * 1000);
  }

  private intent(value: string, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: this.out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  evaluate(ctx: RuleContext): Intent[] {
    const reasons: string[] = [];
    for (const k of ['blocked', 'forced', 'boost'] as const) {
      const c = this.conds[k];
      if (!c) continue;
      const r = tryInputs(() => c(ctx.scope));
      if (!r.ok) {
        for (const l of Object.values(this.latches)) l.reset();
        for (const key of Object.keys(this.latched)) this.latched[key] = false;
        return this.safe(ctx, `safe state: ${r.reason}`);
      }
      const u = this.latches[k]!.update(this.latched[k]!, r.value.onCond, r.value.offCond, ctx.mono);
      this.latched[k] = u.on;
      reasons.push(`${k}: ${u.reason}`);
    }
    const state: StateName = this.latched.blocked ? 'blocked' : this.latched.forced ? 'forced' : this.latched.boost ? 'boost' : 'normal';
    const desired = this.modes[state];
    const g = guardChange(ctx.state(this.out), desired, (v) => v !== this.modes.normal, this.cfg, ctx.mono);
    const why = `SG-Ready ${state} (${reasons.join('; ')})`;
    return [this.intent(g.value as string, g.held ? `${g.held}; wanted ${desired}: ${why}` : why, ctx)];
  }

  private safe(ctx: RuleContext, reason: string): Intent[] {
    const s = this.cfg.safe ?? 'normal';
    if (s === 'hold') return [];
    return [this.intent(this.modes[s], reason, ctx, true)];
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safe(ctx, 'control loop stopping: safe state');
  }
}

function buildSgReady(cfg: SgReadyRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const out = b.output(cfg.device, `${path}/device`);
  if (!out) return undefined;
  const modes: Record<StateName, string> = {
    blocked: cfg.states?.blocked ?? 'sg1-blocked',
    normal: cfg.states?.normal ?? 'sg2-normal',
    boost: cfg.states?.boost ?? 'sg3-boost',
    forced: cfg.states?.forced ?? 'sg4-forced',
  };
  const conds: Partial<Record<'blocked' | 'forced' | 'boost', CondFn>> = {};
  let ok = true;
  for (const k of ['blocked', 'forced', 'boost'] as const) {
    if (!cfg[k]) continue;
    if (!out.modes!.includes(modes[k])) b.issue(`${path}/${k}`, `profile of ${cfg.device} has no mode '${modes[k]}' (has ${out.modes!.join(', ')})`);
    const c = b.condition(cfg[k], `${path}/${k}`);
    if (!c) ok = false;
    else conds[k] = c;
  }
  if (!out.modes!.includes(modes.normal)) b.issue(`${path}/device`, `profile of ${cfg.device} has no mode '${modes.normal}'`);
  if (!Object.keys(conds).length && ok) b.issue(path, 'an sg-ready rule needs at least one of boost, forced, blocked');
  if (!ok) return undefined;
  return new SgReadyRule(cfg, out, conds, modes);
}

export const sgReadyKind: RuleKindDefinition<SgReadyRuleConfig> = {
  kind: 'sg-ready',
  schema: {
    required: ['device'],
    properties: {
      ...timing,
      device: id,
      boost: cond,
      forced: cond,
      blocked: cond,
      states: {
        type: 'object',
        additionalProperties: false,
        properties: { blocked: { type: 'string' }, normal: { type: 'string' }, boost: { type: 'string' }, forced: { type: 'string' } },
      },
      safe: { enum: ['blocked', 'normal', 'hold'] },
    },
  },
  build: buildSgReady,
};
