/**
 * `kind: export-limit` (zero feed-in): curtail generation so export at the grid meter stays at or
 * below limitW; lower the limit at once (compliance), raise it at the ramp rate.
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { clampNum, rampToward } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { RuleCommon } from '../config-types.js';
import { expr, id, output, watts } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export interface ExportLimitRuleConfig extends RuleCommon {
  kind: 'export-limit';
  /** Power-limit setpoint of the generator (`device.point`). */
  output: string;
  /** Max export at the grid meter, W (0 = zero feed-in). */
  limitW: number;
  /** Grid meter device id (default: the device with role grid_meter). */
  meter?: string;
  /** Generator power input (expression, default `pv_power`). */
  generation?: string;
  /** Generator rating: the limit written when no curtailment is needed (W). */
  maxW: number;
  /** Engineering units of the output per W (e.g. 100/maxW for a percent limit). Default 1. */
  scale?: number;
  rampPerS?: number;
  deadband?: number;
  safe?: number | 'hold';
}

export class ExportLimitRule implements RuleRuntime {
  readonly kind = 'export-limit';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private lastMono: number | undefined;

  constructor(
    private readonly cfg: ExportLimitRuleConfig,
    private readonly out: OutputRef,
    private readonly grid: CompiledExpression,
    private readonly gen: CompiledExpression,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [out];
    this.expressions = [grid, gen];
  }

  private intent(value: number, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: this.out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  evaluate(ctx: RuleContext): Intent[] {
    const dt = this.lastMono === undefined ? Infinity : ctx.mono - this.lastMono;
    this.lastMono = ctx.mono;
    const r = tryInputs(() => ({ grid: this.grid.evaluate(ctx.scope) as number, gen: this.gen.evaluate(ctx.scope) as number }));
    if (!r.ok) return this.safe(ctx, `safe state: ${r.reason}`);
    const scale = this.cfg.scale ?? 1;
    // Generation that would put export exactly at the limit: gen + (grid + limit).
    const target = clampNum(r.value.gen + r.value.grid + this.cfg.limitW, 0, this.cfg.maxW);
    const st = ctx.state(this.out).value;
    const cur = typeof st === 'number' ? st / scale : undefined;
    // Down immediately (compliance), up at the ramp rate.
    let next = cur !== undefined && target < cur ? target : rampToward(cur, target, this.cfg.rampPerS, dt);
    if (cur !== undefined && this.cfg.deadband && Math.abs(next - cur) < this.cfg.deadband && next !== this.cfg.maxW) next = cur;
    const exportW = Math.max(0, -r.value.grid);
    return [this.intent(next * scale, `export ${Math.round(exportW)} W (limit ${this.cfg.limitW} W), generation ${Math.round(r.value.gen)} W: limit ${Math.round(next)} W`, ctx)];
  }

  private safe(ctx: RuleContext, reason: string): Intent[] {
    // Default safe: generate at most the export limit, which keeps the site compliant whatever the load.
    const s = this.cfg.safe ?? clampNum(this.cfg.limitW, 0, this.cfg.maxW) * (this.cfg.scale ?? 1);
    return s === 'hold' ? [] : [this.intent(s, reason, ctx, true)];
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safe(ctx, 'control loop stopping: safe state');
  }
}

function buildExportLimit(cfg: ExportLimitRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const out = b.output(cfg.output, `${path}/output`);
  if (out && out.type !== 'number') b.issue(`${path}/output`, `export-limit output must be a numeric power-limit point; ${cfg.output} is ${out.type}`);
  const grid = b.meter(cfg.meter, `${path}/meter`);
  const gen = b.expr(cfg.generation ?? 'pv_power', 'number', `${path}/generation`);
  if (!out || !grid || !gen) return undefined;
  return new ExportLimitRule(cfg, out, grid, gen);
}

export const exportLimitKind: RuleKindDefinition<ExportLimitRuleConfig> = {
  kind: 'export-limit',
  schema: {
    required: ['output', 'limitW', 'maxW'],
    properties: {
      output,
      limitW: watts('maximum export (W); 0 = zero feed-in'),
      meter: id,
      generation: expr,
      maxW: watts('generator rating (W)'),
      scale: { type: 'number', exclusiveMinimum: 0 },
      rampPerS: { type: 'number', exclusiveMinimum: 0 },
      deadband: { type: 'number', minimum: 0 },
      safe: { anyOf: [{ type: 'number' }, { const: 'hold' }] },
    },
  },
  meterFeedback: true,
  build: buildExportLimit,
};
