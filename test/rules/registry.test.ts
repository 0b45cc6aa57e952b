/**
 * The rule-kind registry is the one list of kinds: the schema's `kind` enum and per-kind map
 * come from it, and every kind has its own test file (rules/README.md, "Adding a rule kind").
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ruleSchema } from '../../rules/config-schema.js';
import { RULE_KINDS } from '../../rules/kinds/index.js';

const kinds = RULE_KINDS.map((k) => k.kind);
const testFile = (kind: string) => new URL(`./kinds/${kind}.test.ts`, import.meta.url);
/** Files in rules/kinds/ that are not a kind. */
const KIND_HELPERS = ['builder.ts', 'definition.ts', 'index.ts'];

describe('rule-kind registry', () => {
  it('lists each kind once, and the schema enum and per-kind branches are exactly the registry', () => {
    expect(new Set(kinds).size).toBe(kinds.length);
    const props = ruleSchema.properties as { kind: { enum: string[] } };
    expect(props.kind.enum).toEqual(kinds);
    const branches = ruleSchema.allOf as { if: { properties: { kind: { const: string } } } }[];
    expect(branches.map((b) => b.if.properties.kind.const)).toEqual(kinds);
  });

  it('every file in rules/kinds/ is a registered kind (a kind file missing from kinds/index.ts fails here)', () => {
    const files = readdirSync(new URL('../../rules/kinds/', import.meta.url)).filter((f) => f.endsWith('.ts') && !KIND_HELPERS.includes(f));
    expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual([...kinds].sort());
  });

  it.each(kinds)('kind %s has its test file test/rules/kinds/<kind>.test.ts', (kind) => {
    expect(existsSync(testFile(kind)), `missing test/rules/kinds/${kind}.test.ts`).toBe(true);
  });

  it('every test file in test/rules/kinds/ belongs to a registered kind', () => {
    const files = readdirSync(new URL('./kinds/', import.meta.url)).filter((f) => f.endsWith('.test.ts'));
    expect(files.map((f) => f.replace(/\.test\.ts$/, '')).sort()).toEqual([...kinds].sort());
  });
});
