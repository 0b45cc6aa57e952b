/**
 * From configuration to running rules: gathers the rules of the site config and of the rule
 * files it lists, compiles each against the site (points exist, types match, expressions are
 * safe), and checks the set as a whole (unique ids, conflicting writers need distinct
 * priorities, control period against switching intervals and poll rates).
 */
import path from 'node:path';
import type { ConfigIssue } from '../runtime/config/errors.js';
import { MAX_CONFIG_BYTES, readTextFile } from '../runtime/config/read-file.js';
import { parseSource } from '../runtime/config/yaml-source.js';
import type { SiteConfig } from '../runtime/config/types.js';
import type { AnyProfile } from '../drivers/profiles/types.js';
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

/** Rules of a rule file: a YAML/JSON list, or an object with a `rules` list; `locate` gives the line of a path (`/<index>/...`). */
export function readRuleFile(file: string): { rules: unknown[]; issues: ConfigIssue[]; locate?: (path: string) => { line?: number; column?: number } } {
  const read = readTextFile(file, 'the rule file', MAX_CONFIG_BYTES);
  if ('issue' in read) return { rules: [], issues: [read.issue] };
  const source = parseSource(read.text, file);
  if (source.syntaxIssues.length) return { rules: [], issues: source.syntaxIssues };
  const doc = source.value;
  const inList = doc !== null && typeof doc === 'object' && 'rules' in doc && Array.isArray(doc.rules);
  const list: unknown = Array.isArray(doc) ? doc : inList ? doc.rules : undefined;
  if (!Array.isArray(list)) return { rules: [], issues: [{ file, path: '', message: 'expected a list of rules, or an object with a `rules` list', line: 1 }] };
  // Paths name the rule by its index in the list; in `rules:` form the list is one level down.
  return { rules: list, issues: [], locate: (p) => source.locate(inList ? `/rules${p}` : p) };
}

/** All rules of a site: inline `rules:` first, then each of `control.ruleFiles` (resolved against `baseDir`). */
export function gatherRules(
  config: SiteConfig,
  file: string,
  baseDir: string,
  validateRule?: (r: unknown, file: string, path: string) => ConfigIssue[],
): { rules: SourcedRule[]; issues: ConfigIssue[]; locate: (issues: ConfigIssue[]) => ConfigIssue[] } {
  const rules: SourcedRule[] = [];
  const issues: ConfigIssue[] = [];
  (config.rules ?? []).forEach((r, i) => rules.push({ rule: r as RuleConfig, file, path: `/rules/${i}` }));
  const control = (config.control ?? {}) as ControlConfig;
  const locators = new Map<string, (path: string) => { line?: number; column?: number }>();
  for (const rf of control.ruleFiles ?? []) {
    const f = path.resolve(baseDir, rf);
    const res = readRuleFile(f);
    if (res.locate) locators.set(f, res.locate);
    issues.push(...res.issues);
    res.rules.forEach((r, i) => {
      const p = `/${i}`;
      const problems = validateRule ? validateRule(r, f, p) : [];
      issues.push(...problems);
      if (!problems.length) rules.push({ rule: r as RuleConfig, file: f, path: p });
    });
  }
  /** Give issues in rule files their line, like config issues (the config's own are located by the loader). */
  const locate = (list: ConfigIssue[]): ConfigIssue[] =>
    list.map((i) => {
      const at = i.line ? undefined : locators.get(i.file);
      return at ? { ...i, ...at(i.path) } : i;
    });
  return { rules, issues: locate(issues), locate };
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
  profiles: Map<string, AnyProfile>,
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
