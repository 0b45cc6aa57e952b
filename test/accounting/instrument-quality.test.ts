/**
 * Regression (issue 13): contractual-instrument quality criteria are errors, not warnings; the
 * location factor must be a grid-average series; a factor data year other than the period's is a
 * warning stated in the output; production shares above 100 % and hourly intervals that overlap,
 * are out of order or do not reconcile are errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { activityToInput } from '../../runtime/accounting/activity.js';
import { checkInstrument, instrumentPeriod } from '../../runtime/accounting/instruments.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory } from '../../runtime/accounting/inventory.js';
import { gecValidity } from '../../runtime/accounting/quality.js';
import { validateAccountingConfig } from '../../runtime/accounting/config-schema.js';
import { ACCOUNTING, demoConfig, profiles } from './helpers.js';

const lib = loadFactorLibrary();
const ex1 = () => parseYaml(readFileSync(path.resolve('runtime/accounting/examples/example-1.yaml'), 'utf8')) as Record<string, unknown>;
const inv = (a: unknown) => computeInventory(activityToInput(a, lib));
const errors = (a: unknown): string => {
  try {
    inv(a);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.code} ${i.path}: ${i.message}`).join('\n');
  }
  throw new Error('expected errors');
};
const gec = (extra: Record<string, unknown>) => ({ ...ex1(), instruments: [{ type: 'GEC', MWh: 3000, vintage: 2023, serials: ['GEC2023A000001..GEC2023A003000'], ...extra }] });

describe('instruments: quality criteria are errors', () => {
  it('a GEC with neither serials nor evidence is an error (was: claimed with a warning)', () => {
    const { serials: _s, ...bare } = { type: 'GEC', MWh: 3000, vintage: 2023, serials: [] as string[] };
    expect(errors({ ...ex1(), instruments: [bare] })).toMatch(/CE_CONFIG_EVIDENCE \/instruments\/0: missing evidence: GEC of 3000 MWh/);
  });
  it('a non-integer GEC quantity (1 GEC = 1 MWh, whole certificates), in activity files and in the config/CLI/MQTT check', () => {
    expect(errors(gec({ MWh: 2999.5, serials: undefined, evidence: 'NEA GEC platform retirement record R-2023-77' }))).toMatch(/\/instruments\/0\/MWh: 2999.5 MWh of GEC: GECs are issued in whole certificates/);
    expect(checkInstrument({ type: 'GEC', MWh: 1.5, evidence: 'retirement record R-2024-0001' }).map((i) => i.message).join()).toMatch(/whole certificates/);
  });
  it('a GEC outside its validity (two years from the production month); another instrument outside the period', () => {
    expect(gecValidity('2021-03')).toEqual({ from: '2021-03-01', to: '2023-03-01' });
    expect(gecValidity(2021)).toEqual({ from: '2021-01-01', to: '2023-12-01' });
    expect(errors(gec({ vintage: '2020-12' }))).toMatch(/CE_CONFIG_EVIDENCE \/instruments\/0\/vintage: GEC of vintage 2020-12 is valid 2020-12-01 .. before 2022-12-01/);
    expect(inv(gec({ vintage: '2021-06' })).total_market_t).toBe(6290.212597); // valid until 2023-06-01: overlaps 2023
    expect(errors(gec({ vintage: 2024 }))).toMatch(/outside the period 2023-01-01 .. 2023-12-31/);
    expect(errors({ ...ex1(), instruments: [{ type: 'green-power-contract', MWh: 100, vintage: 2022, evidence: 'contract GP-17, settlement 2022-12' }] })).toMatch(/green-power-contract of vintage 2022 lies outside the reporting period/);
  });
  it('live (site config, CLI, MQTT): a GEC covers consumption for two years from its production month', () => {
    const utcDay = (ts: number) => Math.floor(ts / 86_400_000) * 86_400_000;
    const p = (vintage: string | number, type: 'GEC' | 'PPA' = 'GEC') => {
      const r = instrumentPeriod({ type, MWh: 1, vintage, evidence: 'retirement record R-1' }, utcDay);
      return [new Date(r.from).toISOString().slice(0, 10), new Date(r.to).toISOString().slice(0, 10)];
    };
    expect(p('2023-01')).toEqual(['2023-01-01', '2025-01-01']); // was 2023 only
    expect(p('2022-03')).toEqual(['2022-03-01', '2024-03-01']);
    expect(p(2024)).toEqual(['2024-01-01', '2026-12-01']);
    expect(p(2024, 'PPA')).toEqual(['2024-01-01', '2025-01-01']); // other instruments: the vintage year
  });
  it('an instrument of a foreign market (I-REC for consumption in China) unless overridden with a reason, stated in the output', () => {
    const irec = { type: 'I-REC', MWh: 3000, vintage: 2023, serials: ['IREC2023A000001..IREC2023A003000'] };
    expect(errors({ ...ex1(), instruments: [irec] })).toMatch(/CE_CONFIG_EVIDENCE \/instruments\/0\/type: I-REC is an instrument of another market .* than the consumption \(CN\).*GEC is the sole proof/);
    const r = inv({ ...ex1(), instruments: [{ ...irec, foreignMarketReason: 'group RE100 reporting outside China, disclosed' }] });
    expect(r.warnings.join('\n')).toMatch(/I-REC\) claimed outside its market: group RE100 reporting/);
  });
  it('in the site config: I-REC with a China grid factor and the residual series as location factor are refused', () => {
    const irec = { type: 'I-REC' as const, MWh: 10, serials: ['IREC2024A000001..IREC2024A000010'] };
    const check = (extra: Record<string, unknown>) => validateAccountingConfig(demoConfig({ ...ACCOUNTING, ...extra }), profiles, 'site.yaml').map((i) => `${i.code} ${i.path}: ${i.message}`);
    expect(check({ instruments: [irec] })).toEqual([expect.stringMatching(/^CE_CONFIG_EVIDENCE \/accounting\/instruments\/0\/type: I-REC is an instrument of another market/)]);
    expect(check({ instruments: [{ ...irec, foreignMarketReason: 'group RE100 reporting, disclosed' }] })).toEqual([]);
    expect(check({ gridFactor: 'CN-2023-residual' })).toEqual([expect.stringMatching(/\/accounting\/gridFactor: factor 'CN-2023-residual' is of kind grid-residual; expected grid-average/)]);
  });
  it('the location factor must be a grid-average series: the residual series as location factor (609.6 t instead of 530.6) is refused', () => {
    const a = { gridFactor: 'CN-2023-residual', residualFactor: 'CN-2023-residual', electricity: { gridImportMWh: 1000 } };
    expect(errors(a)).toMatch(/\/gridFactor: factor 'CN-2023-residual' is of kind grid-residual; expected grid-average/);
    expect(errors({ ...a, gridFactor: 'CN-2023-fossil' })).toMatch(/kind grid-fossil; expected grid-average/);
    expect(inv({ ...a, gridFactor: 'CN-2023-national' }).scope2_location_t).toBe(530.6);
  });
  it("a factor whose data year differs from the period's is a warning stated in the output", () => {
    const r = inv({ ...ex1(), period: { from: '2024-01-01', to: '2024-12-31' }, instruments: [] });
    expect(r.warnings.join('\n')).toMatch(/gridFactor CN-2023-national has data year 2023, the reporting period is 2024/);
    expect(r.warnings.join('\n')).toMatch(/residualFactor CN-2023-residual has data year 2023/);
    expect(inv(ex1()).warnings).toEqual([]);
  });
});

describe('production shares and hourly intervals', () => {
  const base = { gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 10 } };
  it('production shares above 100 % are an error', () => {
    expect(errors({ ...base, production: [{ line: 'A', quantity: 10, unit: 'pcs', share: 0.7 }, { line: 'B', quantity: 5, unit: 'pcs', share: 0.4 }] })).toMatch(/\/production: production shares add up to 110 %/);
    expect(inv({ ...base, production: [{ line: 'A', quantity: 10, unit: 'pcs', share: 0.6 }, { line: 'B', quantity: 5, unit: 'pcs', share: 0.4 }] }).intensity).toHaveLength(2);
  });
  it('intervals out of order, overlapping, or not reconciling with the consumption are errors', () => {
    const iv = (start: string, c: number, end?: string) => ({ start, ...(end ? { end } : {}), consumptionMWh: c, renewableMWh: 0 });
    expect(errors({ ...base, intervals: [iv('2023-01-01T01:00:00Z', 5), iv('2023-01-01T00:00:00Z', 5)] })).toMatch(/\/intervals\/1\/start: interval 2023-01-01T00:00:00Z is out of order/);
    expect(errors({ ...base, intervals: [iv('2023-01-01T00:00:00Z', 5, '2023-01-01T02:00:00Z'), iv('2023-01-01T01:00:00Z', 5)] })).toMatch(/\/intervals\/1\/start: interval .* overlaps the previous interval/);
    expect(errors({ ...base, intervals: [iv('2023-01-01T00:00:00Z', 5), iv('2023-01-01T01:00:00Z', 4)] })).toMatch(/\/intervals: the intervals' consumption \(9 MWh\) does not reconcile .* 10 MWh/);
    expect(inv({ ...base, intervals: [iv('2023-01-01T00:00:00Z', 5), iv('2023-01-01T01:00:00Z', 5)] }).green_share_hourly).toBe(0);
  });
});
