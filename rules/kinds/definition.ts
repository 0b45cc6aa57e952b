/**
 * What a rule kind declares, in its own file `kinds/<kind>.ts`: its name, the JSON Schema of its
 * own keys, and how it is built from its config. `kinds/index.ts` lists the definitions; the
 * schema enum and map (`config-schema.ts`), the config union (`types.ts`) and the compile
 * dispatch (`compile-rules.ts`) are derived from that list.
 */
import type { RuleRuntime } from '../rule.js';
import type { RuleCommon } from '../config-types.js';
import type { RuleBuilder } from './builder.js';

/** The config of one kind: the common keys plus `kind` as a string literal and its own keys. */
export type KindConfig = RuleCommon & { kind: string };

export interface RuleKindSchema {
  /** Required keys besides `id` and `kind`. */
  readonly required: string[];
  /** The kind's own keys (the common ones, `id`, `kind`, `description`, `priority`, `enabled`, are added). */
  readonly properties: Record<string, unknown>;
}

export interface RuleKindDefinition<C extends KindConfig = KindConfig> {
  readonly kind: C['kind'];
  readonly schema: RuleKindSchema;
  /**
   * A feedback loop on what it reads (the grid meter): its control period may not be shorter
   * than the poll interval of the devices it reads, or it reacts to its own stale input.
   */
  readonly meterFeedback?: boolean;
  /** Check `cfg` against the site (issues go to `b`, under `path`); undefined when it has errors. */
  build(cfg: C, b: RuleBuilder, path: string): RuleRuntime | undefined;
}

/** The config type a definition builds from. */
export type ConfigOf<D> = D extends RuleKindDefinition<infer C> ? C : never;
