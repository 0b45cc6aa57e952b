/**
 * `kind: peak-shave`: above limitW, first the battery if configured: stop charging, then
 * discharge just enough, within its power and reserve; once it is at its limit, shed loads in
 * order; release loads one by one, then the battery, once import is back below restoreBelowW.
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { clampNum, ConditionLatch } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { OutputLiteral, RuleCommon, TimingConfig } from '../config-types.js';
import { id, literal, output, secs, timing, watts } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export interface PeakShaveRuleConfig extends RuleCommon, TimingConfig {
  kind: 'peak-shave';
  /** Import limit at the grid meter, W. */
  limitW: number;
  /** Loads are restored (released) one by one when import is below this (default 90 % of limitW). */
  restoreBelowW?: number;
  meter?: string;
  /** Seconds between shedding/restoring two loads (default 10). */
  stepS?: number;
  /**
   * Shave with the battery first: above the limit it stops charging, then discharges just enough
   * (mode `discharge` at `power_setpoint`, up to maxW, never at or below reserveSoc); loads are shed
   * only once it is at its limit. Released (to the other rules) after the loads, below restoreBelowW.
   */
  battery?: { device: string; maxW: number; reserveSoc?: number };
  /** Loads to shed in order (at least one of shed and battery). */
  shed?: { output: string; off?: OutputLiteral }[];
}

/** The battery stage of peak shaving: its mode output, setpoint, and the readings it needs. */
export interface PeakShaveBattery {
  mode: OutputRef;
  setpoint: OutputRef;
  power: CompiledExpression;
  soc: CompiledExpression;
  maxW: number;
  reserveSoc: number;
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
  /** Battery stage: undefined = released (other rules drive the battery); else the discharge setpoint, W. */
  private batterySp: number | undefined;

  constructor(
    private readonly cfg: PeakShaveRuleConfig,
    private readonly grid: CompiledExpression,
    private readonly shed: { out: OutputRef; off: OutputLiteral }[],
    private readonly battery?: PeakShaveBattery,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [...(battery ? [battery.setpoint, battery.mode] : []), ...shed.map((s) => s.out)];
    this.expressions = [grid, ...(battery ? [battery.power, battery.soc] : [])];
    this.over = new ConditionLatch((cfg.delayOnS ?? 0) * 1000, 0);
    this.under = new ConditionLatch((cfg.delayOffS ?? 0) * 1000, 0);
  }

  get shedLevel(): number {
    return this.level;
  }

  /** The battery stage's setpoint (W of discharge), or undefined while released. */
  get batterySetpoint(): number | undefined {
    return this.batterySp;
  }

  /**
   * Battery stage for this tick: whether it is at its limit (so loads must be shed) and why.
   * The setpoint is what puts import exactly at the limit: measured battery power + (import - limit),
   * clamped to [0, maxW], and 0 at or below the reserve. 0 means "stop charging" (mode hold).
   */
  private batteryStage(ctx: RuleContext, p: number, restore: number): { exhausted: boolean; why: string } {
    const b = this.battery;
    if (!b) return { exhausted: true, why: '' };
    const r = tryInputs(() => ({ power: b.power.evaluate(ctx.scope) as number, soc: b.soc.evaluate(ctx.scope) as number }));
    if (!r.ok) {
      // Battery readings unknown: do not discharge blind; stop charging; loads do the shaving.
      if (this.batterySp !== undefined) this.batterySp = 0;
      return { exhausted: true, why: `battery unknown (${r.reason})` };
    }
    const { power, soc } = r.value;
    const empty = soc <= b.reserveSoc;
    const before = this.batterySp;
    const need = power + (p - this.cfg.limitW);
    if (this.batterySp === undefined) {
      if (p > this.cfg.limitW) this.batterySp = empty ? 0 : clampNum(need, 0, b.maxW);
    } else if (this.level === 0 && p < restore && this.under.update(false, true, true, ctx.mono).on && need <= 0) {
      this.batterySp = undefined; // back below the restore level with no load shed: release the battery
      this.under.reset();
      return { exhausted: false, why: 'battery released' };
    } else {
      const target = empty ? 0 : clampNum(need, 0, b.maxW);
      // Up at once (the limit); down only by more than 2 % of its power, so noise does not cause a write per tick.
      if (target > this.batterySp || this.batterySp - target > b.maxW * 0.02 || target === 0) this.batterySp = target;
    }
    if (this.batterySp === undefined) return { exhausted: false, why: 'battery not needed' };
    // At its limit only once it was already asked for maxW before this tick (the meter shows its effect).
    const exhausted = empty || (before !== undefined && before >= b.maxW && this.batterySp >= b.maxW);
    const why = empty
      ? `battery at reserve (SoC ${soc} % <= ${b.reserveSoc} %)`
      : this.batterySp > 0
        ? `battery discharging ${Math.round(this.batterySp)} W of ${b.maxW} W`
        : 'battery charging stopped';
    return { exhausted, why };
  }

  evaluate(ctx: RuleContext): Intent[] {
    const r = tryInputs(() => this.grid.evaluate(ctx.scope) as number);
    const restore = this.cfg.restoreBelowW ?? this.cfg.limitW * 0.9;
    let why: string;
    if (!r.ok) {
      // Unknown demand: keep what is shed (hold), shed nothing new; a battery in the stage stops discharging.
      if (this.batterySp !== undefined) this.batterySp = 0;
      why = `demand unknown (${r.reason}): keeping ${this.level} load(s) shed`;
    } else {
      const p = r.value;
      const bat = this.batteryStage(ctx, p, restore);
      const stepOk = ctx.mono - this.lastStep >= (this.cfg.stepS ?? 10) * 1000;
      const over = this.over.update(false, p > this.cfg.limitW && bat.exhausted, true, ctx.mono).on;
      const under = this.level > 0 && this.under.update(false, p < restore, true, ctx.mono).on;
      if (over && stepOk && this.level < this.shed.length) {
        this.level++;
        this.lastStep = ctx.mono;
        this.over.reset();
      } else if (under && stepOk && this.level > 0) {
        this.level--;
        this.lastStep = ctx.mono;
        this.under.reset();
      }
      why = `import ${Math.round(p)} W (limit ${this.cfg.limitW} W, restore below ${restore} W): ${bat.why ? `${bat.why}, ` : ''}${this.level} of ${this.shed.length} load(s) shed`;
    }
    const inputs = captureInputs(this.expressions, ctx.scope);
    const intent = (out: OutputRef, value: OutputLiteral): Intent => ({ rule: this.id, priority: this.priority, output: out, value, reason: why, inputs });
    const out: Intent[] = [];
    if (this.battery && this.batterySp !== undefined) {
      // The setpoint first, then the mode: the device never discharges at a stale setpoint.
      if (this.batterySp > 0) out.push(intent(this.battery.setpoint, Math.round(this.batterySp)), intent(this.battery.mode, 'discharge'));
      else out.push(intent(this.battery.mode, 'hold'));
    }
    for (const s of this.shed.slice(0, this.level)) out.push(intent(s.out, s.off));
    return out;
  }

  exitIntents(): Intent[] {
    return [];
  }
}

function buildPeakShave(cfg: PeakShaveRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const grid = b.meter(cfg.meter, `${path}/meter`);
  const shed: { out: OutputRef; off: OutputLiteral }[] = [];
  (cfg.shed ?? []).forEach((s, i) => {
    const out = b.output(s.output, `${path}/shed/${i}/output`);
    if (!out) return;
    const def: OutputLiteral = out.type === 'boolean' ? false : out.type === 'string' ? 'off' : 0;
    shed.push({ out, off: b.literal(out, s.off ?? def, `${path}/shed/${i}/off`) });
  });
  if (cfg.restoreBelowW !== undefined && cfg.restoreBelowW >= cfg.limitW) b.issue(`${path}/restoreBelowW`, `must be below limitW (${cfg.limitW}) or loads would flap`);
  if (!cfg.battery && !(cfg.shed ?? []).length) b.issue(`${path}/shed`, 'peak shaving needs loads to shed and/or a battery to discharge');
  let battery: PeakShaveBattery | undefined;
  let batteryOk = true;
  if (cfg.battery) {
    const bp = `${path}/battery`;
    const dev = cfg.battery.device;
    const mode = b.output(dev, `${bp}/device`);
    batteryOk = false;
    if (mode) {
      const missing = ['discharge', 'hold'].filter((m) => !(mode.modes ?? []).includes(m));
      if (missing.length) b.issue(`${bp}/device`, `profile of ${dev} lacks battery mode(s) ${missing.join(', ')} (has ${(mode.modes ?? []).join(', ') || 'no modes'})`);
      const sp = b.model.findPoint(dev, 'power_setpoint');
      const pw = b.model.findPoint(dev, 'active_power');
      const so = b.model.findPoint(dev, 'soc');
      if (!sp) b.issue(`${bp}/device`, `${dev} has no power_setpoint point for the discharge power`);
      if (!pw) b.issue(`${bp}/device`, `${dev} has no active_power point`);
      if (!so) b.issue(`${bp}/device`, `${dev} has no 'soc' point`);
      const setpoint = sp ? b.output(`${dev}.${sp.id}`, `${bp}/device`) : undefined;
      const power = pw ? b.expr(`${dev}.${pw.id}`, 'number', `${bp}/device`) : undefined;
      const soc = so ? b.expr(`${dev}.${so.id}`, 'number', `${bp}/device`) : undefined;
      if (!missing.length && setpoint && power && soc) {
        battery = { mode, setpoint, power, soc, maxW: cfg.battery.maxW, reserveSoc: cfg.battery.reserveSoc ?? 10 };
        batteryOk = true;
      }
    }
  }
  if (!grid || !batteryOk || shed.length !== (cfg.shed ?? []).length) return undefined;
  return new PeakShaveRule(cfg, grid, shed, battery);
}
export const peakShaveKind: RuleKindDefinition<PeakShaveRuleConfig> = {
  kind: 'peak-shave',
  schema: {
    required: ['limitW'],
    properties: {
      ...timing,
      limitW: watts('import limit (W)'),
      restoreBelowW: watts('release shed loads below this import (W)'),
      meter: id,
      stepS: secs('time between shedding or restoring two loads'),
      battery: {
        type: 'object',
        required: ['device', 'maxW'],
        additionalProperties: false,
        description: 'shave with this battery first (discharge within maxW and above reserveSoc), then shed loads',
        properties: {
          device: id,
          maxW: { type: 'number', exclusiveMinimum: 0, description: 'largest discharge power for peak shaving (W)' },
          reserveSoc: { type: 'number', minimum: 0, maximum: 100, description: 'never discharge at or below this SoC (%), default 10' },
        },
      },
      shed: {
        type: 'array',
        minItems: 0,
        maxItems: 64,
        items: { type: 'object', required: ['output'], additionalProperties: false, properties: { output, off: literal } },
      },
    },
  },
  meterFeedback: true,
  build: buildPeakShave,
};
