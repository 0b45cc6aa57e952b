/** The README's "Error codes" table lists exactly the codes the runtime uses (CE_CONFIG_ family). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_ERROR_CODES } from '../../runtime/config/error-codes.js';

/** Rows `| \`CE_...\` | meaning |` of the README section "Error codes". */
function readmeCodes(): Map<string, string> {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('\n## Error codes\n');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return new Map([...section.matchAll(/^\| `(CE_[A-Z_]+)` \| (.+?) \|$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('error codes', () => {
  it('every CE_CONFIG_ code is in the README table with its meaning, and the table has no other CE_CONFIG_ code', () => {
    const documented = readmeCodes();
    const config = [...documented.keys()].filter((c) => c.startsWith('CE_CONFIG_')).sort();
    expect(config).toEqual(Object.keys(CONFIG_ERROR_CODES).sort());
    for (const [code, meaning] of Object.entries(CONFIG_ERROR_CODES)) expect(documented.get(code)).toBe(meaning);
  });
});
