import { describe, expect, it } from 'vitest';
import { validateSiteConfig } from '../../tools/cli/site.js';
import { ConfigError } from '../../runtime/config/errors.js';
import { validateAccountingConfig } from '../../runtime/accounting/config-schema.js';
import { ACCOUNTING, demoConfig, profiles } from './helpers.js';

const issues = (accounting: Record<string, unknown>) => validateAccountingConfig(demoConfig(accounting as any), profiles, 'site.yaml').map((i) => `${i.path}: ${i.message}`);

describe('accounting config section', () => {
  it('the demo accounting section is valid', () => {
    expect(issues(ACCOUNTING as any)).toEqual([]);
  });
  it('cross-references: every problem at once, with paths', () => {
    const msgs = issues({
      gridFactor: 'CN-2024-pf-national',
      heatFactor: 'CN-2023-national',
      instruments: [{ type: 'GEC', MWh: 10 }],
      devices: { nope: { point: 'x' }, grid: { point: 'no_such_point' } },
    });
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/accounting\/gridFactor: .*product-footprint.*kept apart/),
        expect.stringMatching(/^\/accounting\/heatFactor: factor 'CN-2023-national' is of kind grid-average/),
        expect.stringMatching(/^\/accounting\/residualFactor: /),
        expect.stringMatching(/^\/accounting\/onsiteAttributes: missing evidence/),
        expect.stringMatching(/^\/accounting\/instruments\/0: missing evidence/),
        expect.stringMatching(/^\/accounting\/devices\/nope: no device 'nope'/),
        expect.stringMatching(/^\/accounting\/devices\/grid\/point: profile 'eastron-sdm630' has no point/),
      ]),
    );
  });
  it('the site loader applies the schema and the validator', () => {
    const cfg = demoConfig({ ...ACCOUNTING, marketRemainder: 'cheapest' } as any);
    try {
      validateSiteConfig(JSON.parse(JSON.stringify(cfg)), 'site.yaml');
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.path)).toContain('/accounting/marketRemainder');
    }
  });
});
