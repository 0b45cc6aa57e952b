/**
 * Grid-connection limits: `kind: export-limit` (zero feed-in: curtail generation so export at
 * the grid meter stays at or below limitW) and `kind: peak-shave` (shed loads in order while
 * import exceeds limitW; release them one by one once import is back below restoreBelowW).
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { clampNum, ConditionLatch, rampToward } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { ExportLimitRuleConfig, OutputLiteral, PeakShaveRuleConfig } from '../types.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export class ExportLimitRule implements RuleRuntime {
  readonly kind = 'export-limit';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private lastNow: number | undefined;

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
    const dt = this.lastNow === undefined ? Infinity : ctx.now - this.lastNow;
    this.lastNow = ctx.now;
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

function meterExpr(b: RuleBuilder, meter: string | undefined, path: string): CompiledExpression | undefined {
  if (meter === undefined) return b.expr('grid_power', 'number', path);
  const key = b.model.findPoint(meter, 'active_power');
  if (!b.model.devices.has(meter)) {
    b.issue(path, `no device '${meter}' in the site`);
    return undefined;
  }
  if (!key) {
    b.issue(path, `meter ${meter} has no active_power point`);
    return undefined;
  }
  return b.expr(`${meter}.${key.id}`, 'number', path);
}

export function buildExportLimit(cfg: ExportLimitRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const out = b.output(cfg.output, `${path}/output`);
  if (out && out.type !== 'number') b.issue(`${path}/output`, `export-limit output must be a numeric power-limit point; ${cfg.output} is ${out.type}`);
  const grid = meterExpr(b, cfg.meter, `${path}/meter`);
  const gen = b.expr(cfg.generation ?? 'pv_power', 'number', `${path}/generation`);
  if (!out || !grid || !gen) return undefined;
  return new ExportLimitRule(cfg, out, grid, gen);
}

export class PeakShaveRule implements RuleRuntime {
  readonly kind = 'peak-shave';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private level = 0;
  private lastStep = -Infinity;
  private readonly over: ConditionLatch;
  private readonly under: ConditionLatch;

  constructor(
    private readonly cfg: PeakShaveRuleConfig,
    private readonly grid: CompiledExpression,
    private readonly shed: { out: OutputRef; off: OutputLiteral }[],
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = shed.map((s) => s.out);
    this.expressions = [grid];
    this.over = new ConditionLatch((cfg.delayOnS ?? 0) * 1000, 0);
    this.under = new ConditionLatch((cfg.delayOffS ?? 0) * 1000, 0);
  }

  get shedLevel(): number {
    return this.level;
  }

  evaluate(ctx: RuleContext): Intent[] {
    const r = tryInputs(() => this.grid.evaluate(ctx.scope) as number);
    const restore = this.cfg.restoreBelowW ?? this.cfg.limitW * 0.9;
    let why: string;
    if (!r.ok) {
      // Unknown demand: keep what is shed (hold), shed nothing new.
      why = `demand unknown (${r.reason}): keeping ${this.level} load(s) shed`;
    } else {
      const p = r.value;
      const stepOk = ctx.now - this.lastStep >= (this.cfg.stepS ?? 10) * 1000;
      const over = this.over.update(false, p > this.cfg.limitW, true, ctx.now).on;
      const under = this.under.update(false, p < restore, true, ctx.now).on;
      if (over && stepOk && this.level < this.shed.length) {
        this.level++;
        this.lastStep = ctx.now;
        this.over.reset();
      } else if (under && stepOk && this.level > 0) {
        this.level--;
        this.lastStep = ctx.now;
        this.under.reset();
      }
      why = `import ${Math.round(p)} W (limit ${this.cfg.limitW} W, restore below ${restore} W): ${this.level} of ${this.shed.length} load(s) shed`;
    }
    const inputs = captureInputs(this.expressions, ctx.scope);
    return this.shed.slice(0, this.level).map((s) => ({ rule: this.id, priority: this.priority, output: s.out, value: s.off, reason: why, inputs }));
  }

  exitIntents(): Intent[] {
    return [];
  }
}

export function buildPeakShave(cfg: PeakShaveRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const grid = meterExpr(b, cfg.meter, `${path}/meter`);
  const shed: { out: OutputRef; off: OutputLiteral }[] = [];
  (cfg.shed ?? []).forEach((s, i) => {
    const out = b.output(s.output, `${path}/shed/${i}/output`);
    if (!out) return;
    const def: OutputLiteral = out.type === 'boolean' ? false : out.type === 'string' ? 'off' : 0;
    shed.push({ out, off: b.literal(out, s.off ?? def, `${path}/shed/${i}/off`) });
  });
  if (cfg.restoreBelowW !== undefined && cfg.restoreBelowW >= cfg.limitW) b.issue(`${path}/restoreBelowW`, `must be below limitW (${cfg.limitW}) or loads would flap`);
  if (!grid || shed.length !== (cfg.shed ?? []).length) return undefined;
  return new PeakShaveRule(cfg, grid, shed);
}
