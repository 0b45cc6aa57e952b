/**
 * Rule and control configuration as data (the `rules:` and `control:` sections of the site
 * config, or rule files listed in `control.ruleFiles`). Documented in rules/README.md.
 * Each kind's config type is declared in its `kinds/<kind>.ts`; `RuleConfig` is their union,
 * derived from the kind list in `kinds/index.ts`.
 */
import type { ConfigOf } from './kinds/definition.js';
import type { RULE_KINDS } from './kinds/index.js';

export type * from './config-types.js';

/** One rule of any kind (discriminated by `kind`). */
export type RuleConfig = ConfigOf<(typeof RULE_KINDS)[number]>;
