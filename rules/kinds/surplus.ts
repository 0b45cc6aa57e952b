/**
 * `kind: surplus`: share PV surplus across loads in order of preference. Step loads switch
 * on when the surplus left for them covers their power and off (with hysteresis) when it no
 * longer does; continuous loads take what is left between minW and maxW. What the rule's own
 * loads already draw is added back to the surplus first, so switching a load on does not
 * make it switch itself off again.
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { ConditionLatch, guardChange, rampToward } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { OutputLiteral, RuleCommon, TimingConfig } from '../config-types.js';
import { expr, literal, output, timing, watts } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export interface SurplusLoadConfig extends TimingConfig {
  output: string;
  type?: 'step' | 'continuous';
  /** Step loads: nominal consumption when on (W). */
  powerW?: number;
  /** Measured consumption of the load (expression, W); nominal powerW when absent or bad. */
  power?: string;
  on?: OutputLiteral;
  off?: OutputLiteral;
  /** A running step load stays on while its share is at least powerW - hysteresisW. */
  hysteresisW?: number;
  /** Continuous loads: range of the setpoint in W, and engineering units per W written. */
  minW?: number;
  maxW?: number;
  scale?: number;
  rampPerS?: number;
}

export interface SurplusRuleConfig extends RuleCommon, TimingConfig {
  kind: 'surplus';
  /** Expression of the surplus to share out, W (default `pv_surplus`). */
  surplus?: string;
  /** Keep this much of the surplus unallocated (W). */
  reserveW?: number;
  /** Loads in order of preference. */
  loads: SurplusLoadConfig[];
  safe?: 'off' | 'hold';
}

interface Load {
  cfg: SurplusLoadConfig;
  out: OutputRef;
  type: 'step' | 'continuous';
  onV: OutputLiteral;
  offV: OutputLiteral;
  power?: CompiledExpression;
  latch: ConditionLatch;
  timing: TimingConfig;
}

export class SurplusRule implements RuleRuntime {
  readonly kind = 'surplus';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private lastMono: number | undefined;

  constructor(
    private readonly cfg: SurplusRuleConfig,
    private readonly surplus: CompiledExpression,
    private readonly loads: Load[],
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = loads.map((l) => l.out);
    this.expressions = [surplus, ...loads.flatMap((l) => (l.power ? [l.power] : []))];
  }

  private intent(l: Load, value: OutputLiteral, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: l.out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  /** What a load draws now: measured when available, else nominal. */
  private drawn(l: Load, ctx: RuleContext): number {
    const v = ctx.state(l.out).value;
    if (l.type === 'continuous') return typeof v === 'number' ? v / (l.cfg.scale ?? 1) : 0;
    if (v === undefined || v !== l.onV) return 0;
    if (l.power) {
      const m = tryInputs(() => l.power!.evaluate(ctx.scope) as number);
      if (m.ok) return Math.max(0, m.value);
    }
    return l.cfg.powerW ?? 0;
  }

  evaluate(ctx: RuleContext): Intent[] {
    const dt = this.lastMono === undefined ? Infinity : ctx.mono - this.lastMono;
    this.lastMono = ctx.mono;
    const r = tryInputs(() => this.surplus.evaluate(ctx.scope) as number);
    if (!r.ok) return this.safe(ctx, `safe state: ${r.reason}`);
    let available = r.value - (this.cfg.reserveW ?? 0);
    for (const l of this.loads) available += this.drawn(l, ctx);
    const intents: Intent[] = [];
    for (const l of this.loads) {
      const state = ctx.state(l.out);
      if (l.type === 'continuous') {
        const maxW = l.cfg.maxW ?? Infinity;
        let want = Math.min(maxW, Math.max(0, available));
        if (want < (l.cfg.minW ?? 0)) want = 0;
        const scale = l.cfg.scale ?? 1;
        const cur = typeof state.value === 'number' ? state.value / scale : undefined;
        const next = rampToward(cur, want, l.cfg.rampPerS, dt);
        available -= next;
        intents.push(this.intent(l, next * scale, `surplus share ${Math.round(want)} W of ${Math.round(r.value)} W`, ctx));
        continue;
      }
      const powerW = l.cfg.powerW ?? 0;
      const currentOn = state.value !== undefined && state.value === l.onV;
      const hyst = l.cfg.hysteresisW ?? Math.round(powerW * 0.5);
      const want = l.latch.update(currentOn, available >= powerW, available < powerW - hyst, ctx.mono);
      const g = guardChange(state, want.on ? l.onV : l.offV, (v) => v === l.onV, l.timing, ctx.mono);
      const on = g.value === l.onV;
      if (on) available -= currentOn ? this.drawn(l, ctx) : powerW;
      const why = `surplus ${Math.round(r.value)} W, ${Math.round(available + (on ? powerW : 0))} W left for this ${powerW} W load: ${want.reason}`;
      intents.push(this.intent(l, g.value, g.held ? `${g.held}; ${why}` : why, ctx));
    }
    return intents;
  }

  private safe(ctx: RuleContext, reason: string): Intent[] {
    for (const l of this.loads) l.latch.reset();
    if ((this.cfg.safe ?? 'off') === 'hold') return [];
    return this.loads.map((l) => this.intent(l, l.offV, reason, ctx, true));
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safe(ctx, 'control loop stopping: safe state');
  }
}

function buildSurplus(cfg: SurplusRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const surplus = b.expr(cfg.surplus ?? 'pv_surplus', 'number', `${path}/surplus`);
  const loads: Load[] = [];
  let ok = !!surplus;
  (cfg.loads ?? []).forEach((lc, i) => {
    const p = `${path}/loads/${i}`;
    const out = b.output(lc.output, `${p}/output`);
    if (!out) {
      ok = false;
      return;
    }
    const type = lc.type ?? (out.type === 'number' ? 'continuous' : 'step');
    if (type === 'step' && !(lc.powerW! > 0)) b.issue(`${p}/powerW`, 'a step load needs its nominal power powerW (> 0)');
    if (type === 'continuous' && out.type !== 'number') b.issue(`${p}/type`, `a continuous load needs a numeric output; ${lc.output} is ${out.type}`);
    const onDefault: OutputLiteral = out.type === 'boolean' ? true : out.type === 'string' ? 'on' : 1;
    const offDefault: OutputLiteral = out.type === 'boolean' ? false : out.type === 'string' ? 'off' : 0;
    const power = lc.power !== undefined ? b.expr(lc.power, 'number', `${p}/power`) : undefined;
    const timing: TimingConfig = {
      minOnS: lc.minOnS ?? cfg.minOnS,
      minOffS: lc.minOffS ?? cfg.minOffS,
      minSwitchIntervalS: lc.minSwitchIntervalS ?? cfg.minSwitchIntervalS,
    };
    loads.push({
      cfg: lc,
      out,
      type,
      onV: b.literal(out, lc.on ?? onDefault, `${p}/on`),
      offV: b.literal(out, lc.off ?? offDefault, `${p}/off`),
      power,
      latch: new ConditionLatch((lc.delayOnS ?? cfg.delayOnS ?? 0) * 1000, (lc.delayOffS ?? cfg.delayOffS ?? 0) * 1000),
      timing,
    });
  });
  if (!loads.length && ok) b.issue(`${path}/loads`, 'a surplus rule needs at least one load');
  if (!ok || !surplus) return undefined;
  return new SurplusRule(cfg, surplus, loads);
}

export const surplusKind: RuleKindDefinition<SurplusRuleConfig> = {
  kind: 'surplus',
  schema: {
    required: ['loads'],
    properties: {
      ...timing,
      surplus: expr,
      reserveW: watts('surplus kept unallocated (W)'),
      safe: { enum: ['off', 'hold'] },
      loads: {
        type: 'array',
        minItems: 1,
        maxItems: 64,
        items: {
          type: 'object',
          required: ['output'],
          additionalProperties: false,
          properties: {
            ...timing,
            output,
            type: { enum: ['step', 'continuous'] },
            powerW: watts('nominal power of a step load (W)'),
            power: expr,
            on: literal,
            off: literal,
            hysteresisW: watts('a running step load stays on down to powerW - hysteresisW of surplus'),
            minW: watts('continuous load: minimum power (W)'),
            maxW: watts('continuous load: maximum power (W)'),
            scale: { type: 'number', exclusiveMinimum: 0 },
            rampPerS: { type: 'number', exclusiveMinimum: 0 },
          },
        },
      },
    },
  },
  build: buildSurplus,
};
