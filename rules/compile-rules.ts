/**
 * From configuration to running rules: gathers the rules of the site config and of the rule
 * files it lists, compiles each against the site (points exist, types match, expressions are
 * safe), and checks the set as a whole (unique ids, conflicting writers need distinct
 * priorities, control period against switching intervals and poll rates).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from '../runtime/config/errors.js';
import type { SiteConfig } from '../runtime/config/types.js';
import type { Profile } from '../drivers/profiles/types.js';
import { SiteModel } from './site-model.js';
import type { RuleRuntime } from './rule.js';
import { RuleBuilder } from './kinds/builder.js';
import type { RuleKindDefinition } from './kinds/definition.js';
import { RULE_KINDS } from './kinds/index.js';
import type { ControlConfig, RuleConfig } from './types.js';

export const DEFAULT_TICK_MS = 5000;

/** The kinds by name. The schema has checked that a rule's keys are those of its kind. */
const KINDS = new Map(RULE_KINDS.map((k): [string, RuleKindDefinition<RuleConfig>] => [k.kind, k]));

/** A rule with where it came from (file and JSON path), for messages. */
export interface SourcedRule {
  rule: RuleConfig;
  file: string;
  path: string;
}

/** Rules of a rule file: a YAML/JSON list, or an object with a `rules` list. */
export function readRuleFile(file: string): { rules: unknown[]; issues: ConfigIssue[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { rules: [], issues: [{ file, path: '', message: `cannot read the rule file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    return { rules: [], issues: [{ file, path: '', message: `not valid YAML: ${(err as Error).message}` }] };
  }
  const list = Array.isArray(doc) ? doc : doc && typeof doc === 'object' && Array.isArray((doc as { rules?: unknown }).rules) ? (doc as { rules: unknown[] }).rules : undefined;
  if (!list) return { rules: [], issues: [{ file, path: '', message: 'expected a list of rules, or an object with a `rules` list' }] };
  return { rules: list, issues: [] };
}

/** All rules of a site: inline `rules:` first, then each of `control.ruleFiles` (resolved against `baseDir`). */
export function gatherRules(config: SiteConfig, file: string, baseDir: string, validateRule?: (r: unknown, file: string, path: string) => ConfigIssue[]): { rules: SourcedRule[]; issues: ConfigIssue[] } {
  const rules: SourcedRule[] = [];
  const issues: ConfigIssue[] = [];
  (config.rules ?? []).forEach((r, i) => rules.push({ rule: r as RuleConfig, file, path: `/rules/${i}` }));
  const control = (config.control ?? {}) as ControlConfig;
  for (const rf of control.ruleFiles ?? []) {
    const f = path.resolve(baseDir, rf);
    const res = readRuleFile(f);
    issues.push(...res.issues);
    res.rules.forEach((r, i) => {
      const p = `/${i}`;
      const problems = validateRule ? validateRule(r, f, p) : [];
      issues.push(...problems);
      if (!problems.length) rules.push({ rule: r as RuleConfig, file: f, path: p });
    });
  }
  return { rules, issues };
}

export function compileRule(src: SourcedRule, model: SiteModel): { rule?: RuleRuntime; issues: ConfigIssue[] } {
  const b = new RuleBuilder(model, src.file);
  const r = src.rule;
  const p = src.path;
  const kind = KINDS.get(r.kind);
  const rule = kind ? kind.build(r, b, p) : undefined;
  if (!kind) b.issue(`${p}/kind`, `unknown rule kind '${String(r.kind)}'`);
  return { rule: b.issues.length ? undefined : rule, issues: b.issues };
}

/** Compile every enabled rule and check the set; returns the rules and every issue found. */
export function compileRules(
  config: SiteConfig,
  profiles: Map<string, Profile>,
  sourced: SourcedRule[],
): { model: SiteModel; rules: RuleRuntime[]; issues: ConfigIssue[] } {
  const model = new SiteModel(config, profiles);
  const issues: ConfigIssue[] = [];
  const rules: RuleRuntime[] = [];
  const where = new Map<RuleRuntime, SourcedRule>();
  const ids = new Map<string, SourcedRule>();
  for (const s of sourced) {
    if (s.rule.enabled === false) continue;
    const prev = ids.get(s.rule.id);
    if (prev) issues.push({ file: s.file, path: `${s.path}/id`, message: `duplicate rule id '${s.rule.id}' (also ${prev.file} ${prev.path})` });
    ids.set(s.rule.id, s);
    const c = compileRule(s, model);
    issues.push(...c.issues);
    if (c.rule) {
      rules.push(c.rule);
      where.set(c.rule, s);
    }
  }
  issues.push(...checkConflicts(rules, model, where));
  issues.push(...checkTiming(config, model, rules, where));
  return { model, rules, issues };
}

/** Two rules writing a common point must have distinct priorities (the higher one wins). */
function checkConflicts(rules: RuleRuntime[], model: SiteModel, where: Map<RuleRuntime, SourcedRule>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const writers = new Map<string, RuleRuntime[]>();
  for (const r of rules) {
    const pts = new Set(r.outputs.flatMap((o) => model.pointsOf(o)));
    for (const p of pts) writers.set(p, [...(writers.get(p) ?? []), r]);
  }
  const reported = new Set<string>();
  for (const [point, ws] of writers) {
    for (let i = 0; i < ws.length; i++) {
      for (let j = i + 1; j < ws.length; j++) {
        const a = ws[i]!;
        const b = ws[j]!;
        if (a.priority !== b.priority) continue;
        const pair = [a.id, b.id].sort().join('|');
        if (reported.has(pair)) continue;
        reported.add(pair);
        const s = where.get(b)!;
        issues.push({
          file: s.file,
          path: `${s.path}/priority`,
          message: `rules '${a.id}' and '${b.id}' both write ${point.replace('/', '.')} with priority ${a.priority}: give them different priorities (the higher one wins)`,
        });
      }
    }
  }
  return issues;
}

/** The control period against switching intervals and the poll rate of what feedback rules read. */
function checkTiming(config: SiteConfig, model: SiteModel, rules: RuleRuntime[], where: Map<RuleRuntime, SourcedRule>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const tick = model.control.tickMs ?? DEFAULT_TICK_MS;
  for (const r of rules) {
    const s = where.get(r)!;
    const rc = s.rule as unknown as Record<string, unknown>;
    for (const k of ['minSwitchIntervalS', 'minOnS', 'minOffS', 'minWriteIntervalS']) {
      const v = rc[k];
      if (typeof v === 'number' && v > 0 && v * 1000 < tick) {
        issues.push({ file: s.file, path: `${s.path}/${k}`, message: `${k} ${v} s is shorter than the control period control.tickMs ${tick} ms; it could never take effect` });
      }
    }
    if (KINDS.get(r.kind)?.meterFeedback) {
      // A feedback loop faster than its meter is read reacts to its own stale input and oscillates.
      const keys = r.expressions.flatMap((e) => [...e.inputs.values()]);
      const devs = new Set<string>();
      for (const k of keys) {
        if (k.startsWith('$')) for (const d of model.devicesWithRole('grid_meter')) devs.add(d.id);
        else if (!k.startsWith('@')) devs.add(k.split('/')[0]!);
      }
      for (const d of devs) {
        const dev = config.devices.find((x) => x.id === d);
        if (dev && dev.pollIntervalMs > tick) {
          issues.push({
            file: s.file,
            path: s.path,
            message: `${r.kind} rule '${r.id}' reacts to ${d}, polled every ${dev.pollIntervalMs} ms, faster than it is read (control.tickMs ${tick} ms): set tickMs >= ${dev.pollIntervalMs} or poll ${d} faster`,
          });
        }
      }
    }
  }
  return issues;
}
