/**
 * `kind: battery`: chooses an abstract battery mode (self-consumption, hold, charge-from-surplus,
 * grid-charge) each tick; the device profile's `modes` map it onto the device's own registers.
 * Order: hold condition > grid-charge (CO2 and/or price below limit, SoC below untilSoc) >
 * reserve protection (SoC at or below reserveSoc: charge from surplus only) > default mode.
 */
import type { CompiledExpression } from '../expr/compile.js';
import { captureInputs, type Intent, type RuleContext, type RuleRuntime } from '../rule.js';
import { guardChange } from '../primitives.js';
import type { OutputRef } from '../site-model.js';
import type { OutputLiteral, RuleCommon } from '../config-types.js';
import { expr, id, timing, watts } from '../schema-parts.js';
import type { RuleKindDefinition } from './definition.js';
import { tryInputs, type RuleBuilder } from './builder.js';

export type BatteryMode = 'self-consumption' | 'hold' | 'charge-from-surplus' | 'grid-charge' | 'discharge';

export interface BatteryRuleConfig extends RuleCommon {
  kind: 'battery';
  device: string;
  /** Below this state of charge the battery is not discharged (%). */
  reserveSoc?: number;
  /** Mode when nothing else applies (default self-consumption). */
  default?: 'self-consumption' | 'charge-from-surplus' | 'hold';
  /** Condition (expression) forcing `hold`. */
  hold?: string;
  gridCharge?: {
    co2Below?: number;
    priceBelow?: number;
    when?: string;
    untilSoc?: number;
    powerW?: number;
  };
  /** SoC hysteresis band (%), default 2. */
  socHysteresis?: number;
  minSwitchIntervalS?: number;
  minOnS?: number;
  safe?: BatteryMode | 'hold-last';
}

export const BATTERY_MODES = ['self-consumption', 'hold', 'charge-from-surplus', 'grid-charge'] as const;

export class BatteryRule implements RuleRuntime {
  readonly kind = 'battery';
  readonly id: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  private reserveActive = false;

  constructor(
    private readonly cfg: BatteryRuleConfig,
    private readonly modeOut: OutputRef,
    private readonly soc: CompiledExpression,
    private readonly hold: CompiledExpression | undefined,
    private readonly gcWhen: CompiledExpression | undefined,
    private readonly co2: CompiledExpression | undefined,
    private readonly price: CompiledExpression | undefined,
    private readonly setpointOut: OutputRef | undefined,
    private readonly reserveOut: OutputRef | undefined,
  ) {
    this.id = cfg.id;
    this.priority = cfg.priority ?? 0;
    this.outputs = [modeOut, ...(setpointOut ? [setpointOut] : []), ...(reserveOut ? [reserveOut] : [])];
    this.expressions = [soc, hold, gcWhen, co2, price].filter((e): e is CompiledExpression => !!e);
  }

  private intent(out: OutputRef, value: OutputLiteral, reason: string, ctx: RuleContext, safe?: boolean): Intent {
    return { rule: this.id, priority: this.priority, output: out, value, reason, safe, inputs: captureInputs(this.expressions, ctx.scope) };
  }

  /** Whether grid charging is allowed now; a missing CO2 or price value means no (never charge blind). */
  private gridChargeAllowed(ctx: RuleContext): { ok: boolean; why: string } {
    const gc = this.cfg.gridCharge;
    if (!gc) return { ok: false, why: 'no grid charging configured' };
    const parts: string[] = [];
    if (this.co2) {
      const r = tryInputs(() => this.co2!.evaluate(ctx.scope) as number);
      if (!r.ok) return { ok: false, why: `grid CO2 unknown (${r.reason})` };
      if (!(r.value < gc.co2Below!)) return { ok: false, why: `grid CO2 ${r.value} g/kWh not below ${gc.co2Below}` };
      parts.push(`grid CO2 ${r.value} < ${gc.co2Below} g/kWh`);
    }
    if (this.price) {
      const r = tryInputs(() => this.price!.evaluate(ctx.scope) as number);
      if (!r.ok) return { ok: false, why: `price unknown (${r.reason})` };
      if (!(r.value < gc.priceBelow!)) return { ok: false, why: `price ${r.value} not below ${gc.priceBelow}` };
      parts.push(`price ${r.value} < ${gc.priceBelow}`);
    }
    if (this.gcWhen) {
      const r = tryInputs(() => this.gcWhen!.evaluate(ctx.scope) as boolean);
      if (!r.ok || !r.value) return { ok: false, why: r.ok ? 'grid-charge condition false' : r.reason };
      parts.push(`condition ${this.gcWhen.source}`);
    }
    return { ok: true, why: parts.join(', ') || 'grid charging allowed' };
  }

  evaluate(ctx: RuleContext): Intent[] {
    const r = tryInputs(() => ({ soc: this.soc.evaluate(ctx.scope) as number, hold: this.hold ? (this.hold.evaluate(ctx.scope) as boolean) : false }));
    if (!r.ok) return this.safe(ctx, `safe state: ${r.reason}`);
    const { soc, hold } = r.value;
    const cfg = this.cfg;
    const hyst = cfg.socHysteresis ?? 2;
    const state = ctx.state(this.modeOut);
    const def = cfg.default ?? 'self-consumption';
    let mode: string = def;
    let reason = `default mode ${def} (SoC ${soc} %)`;
    const untilSoc = cfg.gridCharge?.untilSoc ?? 100;
    const gridCharging = state.value === 'grid-charge';
    const socRoom = gridCharging ? soc < untilSoc : soc <= untilSoc - hyst;
    const gc = this.gridChargeAllowed(ctx);
    if (cfg.reserveSoc !== undefined) this.reserveActive = this.reserveActive ? soc < cfg.reserveSoc + hyst : soc <= cfg.reserveSoc;
    if (hold) {
      mode = 'hold';
      reason = `hold condition true (${this.hold!.source})`;
    } else if (gc.ok && socRoom) {
      mode = 'grid-charge';
      reason = `${gc.why}; SoC ${soc} % below ${untilSoc} %`;
    } else if (this.reserveActive) {
      mode = 'charge-from-surplus';
      reason = `SoC ${soc} % at or below reserve ${cfg.reserveSoc} %: no discharge, charge from surplus only`;
    } else if (cfg.gridCharge) {
      reason += `; no grid charge: ${gc.ok ? `SoC ${soc} % not below ${untilSoc} %` : gc.why}`;
    }
    const g = guardChange(state, mode, (v) => v !== def, { minSwitchIntervalS: cfg.minSwitchIntervalS, minOnS: cfg.minOnS }, ctx.mono);
    const intents = [this.intent(this.modeOut, g.value, g.held ? `${g.held}; wanted ${mode}: ${reason}` : reason, ctx)];
    if (this.setpointOut && g.value === 'grid-charge') intents.push(this.intent(this.setpointOut, cfg.gridCharge?.powerW ?? 0, `grid-charge power`, ctx));
    if (this.reserveOut && cfg.reserveSoc !== undefined) intents.push(this.intent(this.reserveOut, cfg.reserveSoc, 'configured reserve SoC', ctx));
    return intents;
  }

  private safe(ctx: RuleContext, reason: string): Intent[] {
    const s = this.cfg.safe ?? 'hold';
    if (s === 'hold-last') return [];
    return [this.intent(this.modeOut, s, reason, ctx, true)];
  }

  exitIntents(ctx: RuleContext): Intent[] {
    return this.safe(ctx, 'control loop stopping: safe state');
  }
}

function buildBattery(cfg: BatteryRuleConfig, b: RuleBuilder, path: string): RuleRuntime | undefined {
  const modeOut = b.output(cfg.device, `${path}/device`);
  if (!modeOut) return undefined;
  const needed = new Set<string>([cfg.default ?? 'self-consumption', 'charge-from-surplus', 'hold']);
  if (cfg.gridCharge) needed.add('grid-charge');
  if (cfg.safe && cfg.safe !== 'hold-last') needed.add(cfg.safe);
  const missing = [...needed].filter((m) => !modeOut.modes!.includes(m));
  if (missing.length) b.issue(`${path}/device`, `profile of ${cfg.device} lacks battery mode(s) ${missing.join(', ')} (has ${modeOut.modes!.join(', ')})`);
  const socPoint = b.model.findPoint(cfg.device, 'soc');
  if (!socPoint) b.issue(`${path}/device`, `${cfg.device} has no 'soc' point`);
  const soc = socPoint ? b.expr(`${cfg.device}.${socPoint.id}`, 'number', `${path}/device`) : undefined;
  const hold = cfg.hold !== undefined ? b.expr(cfg.hold, 'boolean', `${path}/hold`) : undefined;
  const gc = cfg.gridCharge;
  const gcWhen = gc?.when !== undefined ? b.expr(gc.when, 'boolean', `${path}/gridCharge/when`) : undefined;
  const co2 = gc?.co2Below !== undefined ? b.expr('grid_co2_g_per_kwh', 'number', `${path}/gridCharge/co2Below`) : undefined;
  const price = gc?.priceBelow !== undefined ? b.expr('price', 'number', `${path}/gridCharge/priceBelow`) : undefined;
  if (gc && gc.co2Below !== undefined && !b.model.control.carbonIntensity) b.issue(`${path}/gridCharge/co2Below`, 'needs control.carbonIntensity (a static hourly profile, a value, or pushed values)');
  if (gc && gc.priceBelow !== undefined && !b.model.control.price) b.issue(`${path}/gridCharge/priceBelow`, 'needs control.price');
  let setpointOut: OutputRef | undefined;
  if (gc?.powerW !== undefined) {
    const sp = b.model.findPoint(cfg.device, 'power_setpoint');
    if (!sp) b.issue(`${path}/gridCharge/powerW`, `${cfg.device} has no power_setpoint point to write the charge power to`);
    else setpointOut = b.output(`${cfg.device}.${sp.id}`, `${path}/gridCharge/powerW`);
  }
  let reserveOut: OutputRef | undefined;
  const rp = b.model.findPoint(cfg.device, 'reserve_soc');
  if (cfg.reserveSoc !== undefined && rp) {
    const o = b.model.output(`${cfg.device}.${rp.id}`);
    if (typeof o !== 'string') reserveOut = o;
  }
  if (!soc || (cfg.hold !== undefined && !hold)) return undefined;
  return new BatteryRule(cfg, modeOut, soc, hold, gcWhen, co2, price, setpointOut, reserveOut);
}

export const batteryKind: RuleKindDefinition<BatteryRuleConfig> = {
  kind: 'battery',
  schema: {
    required: ['device'],
    properties: {
      device: id,
      reserveSoc: { type: 'number', minimum: 0, maximum: 100 },
      default: { enum: ['self-consumption', 'charge-from-surplus', 'hold'] },
      hold: expr,
      gridCharge: {
        type: 'object',
        additionalProperties: false,
        properties: {
          co2Below: { type: 'number', minimum: 0, description: 'g CO2/kWh' },
          priceBelow: { type: 'number' },
          when: expr,
          untilSoc: { type: 'number', minimum: 0, maximum: 100 },
          powerW: watts('charge power (W)'),
        },
      },
      socHysteresis: { type: 'number', minimum: 0, maximum: 50 },
      minSwitchIntervalS: timing.minSwitchIntervalS,
      minOnS: timing.minOnS,
      safe: { enum: ['self-consumption', 'hold', 'charge-from-surplus', 'grid-charge', 'discharge', 'hold-last'] },
    },
  },
  build: buildBattery,
};
