/**
 * Helpers shared by the rule kinds while compiling a rule from config: expressions, outputs
 * and literals are checked against the site, and every problem is collected with its path.
 */
import type { ConfigIssue } from '../../runtime/config/errors.js';
import { BadInputError, compileExpression, ExpressionError, explainExpressionError, type CompiledExpression, type ValueType } from '../expr/compile.js';
import type { OutputRef, SiteModel } from '../site-model.js';
import type { CondConfig, OutputLiteral } from '../config-types.js';
import type { TickScope } from '../scope.js';
import { thresholdConditions } from '../primitives.js';

export class RuleBuilder {
  readonly issues: ConfigIssue[] = [];
  constructor(
    readonly model: SiteModel,
    readonly file: string,
  ) {}

  issue(path: string, message: string): void {
    if (this.model.isFollowOn(message)) return; // reported at the device (unknown profile)
    this.issues.push({ file: this.file, path, message });
  }

  expr(src: unknown, type: ValueType, path: string): CompiledExpression | undefined {
    if (typeof src !== 'string') {
      this.issue(path, 'expected an expression string');
      return undefined;
    }
    try {
      return compileExpression(src, this.model, type);
    } catch (err) {
      if (err instanceof ExpressionError) this.issue(path, `invalid expression: ${explainExpressionError(src, err)}`);
      else throw err;
      return undefined;
    }
  }

  output(spec: unknown, path: string): OutputRef | undefined {
    if (typeof spec !== 'string') {
      this.issue(path, 'expected an output: device.point, or a device with modes');
      return undefined;
    }
    const r = this.model.output(spec);
    if (typeof r === 'string') {
      this.issue(path, r);
      return undefined;
    }
    return r;
  }

  /** The active power of a grid meter: `meter`'s active_power point, or all grid meters (`grid_power`). */
  meter(meter: string | undefined, path: string): CompiledExpression | undefined {
    if (meter === undefined) return this.expr('grid_power', 'number', path);
    const key = this.model.findPoint(meter, 'active_power');
    if (!this.model.devices.has(meter)) {
      this.issue(path, `no device '${meter}' in the site`);
      return undefined;
    }
    if (!key) {
      this.issue(path, `meter ${meter} has no active_power point`);
      return undefined;
    }
    return this.expr(`${meter}.${key.id}`, 'number', path);
  }

  /** Check and normalise a literal for an output (booleans for on/off points). */
  literal(out: OutputRef, v: OutputLiteral, path: string): OutputLiteral {
    const err = this.model.checkLiteral(out, v);
    if (err) this.issue(path, err);
    if (out.type === 'boolean') return v === true || v === 1;
    return v;
  }

  /** Compile a when/until/hysteresis condition into a function giving (onCond, offCond). */
  condition(c: CondConfig | undefined, path: string): CondFn | undefined {
    if (!c) return undefined;
    if (c.hysteresis) {
      if (c.when !== undefined || c.until !== undefined) this.issue(path, "use either 'hysteresis' or 'when'/'until', not both");
      const h = c.hysteresis;
      const x = this.expr(h.input, 'number', `${path}/hysteresis/input`);
      if (h.on === h.off) this.issue(`${path}/hysteresis`, `on (${h.on}) and off (${h.off}) thresholds must differ, or the output would flap`);
      if (!x) return undefined;
      return Object.assign((s: TickScope) => thresholdConditions(x.evaluate(s) as number, h.on, h.off), { exprs: [x] });
    }
    if (c.when === undefined) {
      this.issue(path, "needs a 'when' condition or a 'hysteresis' threshold pair");
      return undefined;
    }
    const when = this.expr(c.when, 'boolean', `${path}/when`);
    const until = c.until !== undefined ? this.expr(c.until, 'boolean', `${path}/until`) : undefined;
    if (!when || (c.until !== undefined && !until)) return undefined;
    return Object.assign(
      (s: TickScope) => {
        const onCond = when.evaluate(s) as boolean;
        return { onCond, offCond: until ? (until.evaluate(s) as boolean) : !onCond };
      },
      { exprs: until ? [when, until] : [when] },
    );
  }
}

export type CondFn = ((s: TickScope) => { onCond: boolean; offCond: boolean }) & { exprs: CompiledExpression[] };

/** Run `fn`; a BadInputError (stale, bad or missing input) gives `undefined` and the reason. */
export function tryInputs<T>(fn: () => T): { ok: true; value: T } | { ok: false; reason: string } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof BadInputError) return { ok: false, reason: err.message };
    throw err;
  }
}
