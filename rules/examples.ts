/**
 * The shipped example rules (rules/examples/*.yaml), found from source and from dist/.
 * `demoRules()` gives the demo site's `rules` and `control` sections.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ControlConfig, RuleConfig } from './types.js';
import { packagePath } from '../runtime/package-root.js';

/** Absolute path of a shipped example rule file, e.g. exampleRulesFile('demo-rules.yaml'). */
export function exampleRulesFile(name = 'demo-rules.yaml'): string {
  return packagePath('rules', 'examples', name);
}

/** The demo site's example rules and control section (rules/examples/demo-rules.yaml). */
export function demoRules(): { rules: RuleConfig[]; control: ControlConfig & Record<string, unknown> } {
  const doc = parseYaml(readFileSync(exampleRulesFile('demo-rules.yaml'), 'utf8')) as { rules: RuleConfig[]; control: ControlConfig & Record<string, unknown> };
  return { rules: doc.rules, control: doc.control };
}
