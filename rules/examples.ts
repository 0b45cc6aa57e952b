/**
 * The shipped example rules (rules/examples/*.yaml), found from source and from dist/.
 * `demoRules()` gives the demo site's `rules` and `control` sections.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { ControlConfig, RuleConfig } from './types.js';

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('carbonedge package root not found');
    dir = up;
  }
}

/** Absolute path of a shipped example rule file, e.g. exampleRulesFile('demo-rules.yaml'). */
export function exampleRulesFile(name = 'demo-rules.yaml'): string {
  return path.join(packageRoot(), 'rules', 'examples', name);
}

/** The demo site's example rules and control section (rules/examples/demo-rules.yaml). */
export function demoRules(): { rules: RuleConfig[]; control: ControlConfig & Record<string, unknown> } {
  const doc = parseYaml(readFileSync(exampleRulesFile('demo-rules.yaml'), 'utf8')) as { rules: RuleConfig[]; control: ControlConfig & Record<string, unknown> };
  return { rules: doc.rules, control: doc.control };
}
