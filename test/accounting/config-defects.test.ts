/**
 * Regressions (issue 13): the rollover modulus (100000, not the highest reading 99999.9) and a
 * diesel genset without a fuel source (a config error, never Scope 1 = 0 "complete").
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateAccountingConfig, type AccountingConfig } from '../../runtime/accounting/config-schema.js';
import { counterDelta, rolloverIssue } from '../../runtime/metering/counter-delta.js';
import { ACCOUNTING, demoConfig, profiles } from './helpers.js';

const check = (accounting: AccountingConfig, extraDevices: { id: string; role: 'generator' | 'fuel_meter' }[] = []) => {
  const cfg = demoConfig(accounting);
  const grid = cfg.devices.find((d) => d.role === 'grid_meter')!;
  let unit = 100;
  for (const d of extraDevices) cfg.devices.push({ id: d.id, role: d.role, bus: grid.bus, profile: grid.profile, pollIntervalMs: grid.pollIntervalMs, unitId: unit++ });
  return validateAccountingConfig(cfg, profiles, 'site.yaml').map((i) => `${i.code} ${i.path}: ${i.message}`);
};

describe('rollover: rolloverAt is the modulus', () => {
  it('a 6-digit display wrapping at 100000 loses nothing: 99999.9 -> 0.0 is 0.1 kWh', () => {
    const d = counterDelta({ value: 99_999.9, ts: 0 }, { value: 0, ts: 600_000 }, { rolloverAt: 100_000 });
    expect(d.flag).toBe('rollover');
    expect(d.delta).toBeCloseTo(0.1, 9);
  });
  it('the highest reading given as rolloverAt is a config error naming the modulus (99999.9 -> 100000, 4294967.295 -> 4294967.296)', () => {
    expect(rolloverIssue(99_999.9)).toMatch(/the modulus .*: 100000\. With 99999\.9 every wrap loses 0\.1/);
    expect(rolloverIssue(999_999)).toMatch(/: 1000000\./);
    expect(rolloverIssue(4_294_967.295)).toMatch(/: 4294967\.296\./);
    for (const ok of [100_000, 1_000_000, 4_294_967.296, 65_536, 12_345]) expect(rolloverIssue(ok), String(ok)).toBeUndefined();
    expect(check({ ...ACCOUNTING, devices: { grid: { rolloverAt: 99_999.9 } } })).toEqual([expect.stringMatching(/^CE_CONFIG_INVALID \/accounting\/devices\/grid\/rolloverAt: rolloverAt 99999\.9 looks like/)]);
    expect(check({ ...ACCOUNTING, devices: { grid: { rolloverAt: 100_000 } } })).toEqual([]);
  });
  it('the README example uses the modulus', () => {
    const readme = readFileSync('runtime/accounting/README.md', 'utf8');
    expect(readme).not.toMatch(/rolloverAt: 99999\.9/);
    expect(readme).toMatch(/rolloverAt: 100000/);
  });
});

describe('a generator without a fuel source is a config error (CE_CONFIG_NO_FUEL_SOURCE)', () => {
  it('no fuelMeter: refused, saying what to add', () => {
    expect(check(ACCOUNTING, [{ id: 'genset', role: 'generator' }])).toEqual([
      expect.stringMatching(/^CE_CONFIG_NO_FUEL_SOURCE \/accounting\/devices\/genset\/fuelMeter: generator 'genset' has no fuel source: its Scope 1 would be 0/),
    ]);
  });
  it('fuelMeter naming something that is not a configured fuel meter: refused', () => {
    expect(check({ ...ACCOUNTING, devices: { genset: { fuelMeter: 'grid' } } }, [{ id: 'genset', role: 'generator' }])).toEqual([expect.stringMatching(/CE_CONFIG_NO_FUEL_SOURCE .*'grid' is not a fuel_meter device \(role grid_meter\)/)]);
  });
  it('with its fuel meter configured: accepted', () => {
    const devices = { genset: { fuelMeter: 'tank' }, tank: { point: 'energy_import', unit: 't', fuel: 'diesel' } };
    expect(check({ ...ACCOUNTING, devices }, [{ id: 'genset', role: 'generator' }, { id: 'tank', role: 'fuel_meter' }])).toEqual([]);
  });
});
