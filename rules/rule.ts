/**
 * What a compiled rule is to the engine: given one tick's scope and the outputs' states, the
 * writes it intends (each with a priority and a reason). Rules never write themselves.
 */
import type { CompiledExpression, Value } from './expr/compile.js';
import type { OutputState } from './primitives.js';
import type { OutputRef } from './site-model.js';
import type { TickScope } from './scope.js';
import type { OutputLiteral } from './config-types.js';

export interface Intent {
  rule: string;
  priority: number;
  output: OutputRef;
  value: OutputLiteral;
  reason: string;
  /** True when this is the rule's safe state (stale or bad input). */
  safe?: boolean;
  /** Inputs the decision was based on (computed only when a write happens). */
  inputs?: () => Record<string, Value | null>;
}

export interface RuleContext {
  scope: TickScope;
  /** Wall time of the tick (ms since the epoch): timestamps and time of day only. */
  now: number;
  /** Monotonic time of the tick (ms): every interval (hold times, delays, write intervals, ramps). */
  mono: number;
  state(out: OutputRef): OutputState;
}

export interface RuleRuntime {
  readonly id: string;
  readonly kind: string;
  readonly priority: number;
  readonly outputs: OutputRef[];
  readonly expressions: CompiledExpression[];
  /** This tick's intended writes. Must not throw for bad inputs: it returns the safe state instead. */
  evaluate(ctx: RuleContext): Intent[];
  /** Writes for a clean stop (control.onExit: safe). */
  exitIntents(ctx: RuleContext): Intent[];
}

/** Values of the inputs of some expressions, for the decision log. */
export function captureInputs(exprs: CompiledExpression[], scope: TickScope): () => Record<string, Value | null> {
  return () => {
    const out: Record<string, Value | null> = {};
    for (const e of exprs) for (const [name, key] of e.inputs) out[name] = scope.value(key) ?? null;
    return out;
  };
}
