/**
 * Regression (issue 13): fuel-library display values equal the product of their own parameters
 * (gasoline, LPG, fuel oil and raw coal disagreed at 1e-5); the fuel-oil NCV is the standard's;
 * LNG by mass; display rounding rules (half to even by default, half up where asked).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { activityToInput } from '../../runtime/accounting/activity.js';
import { Q } from '../../runtime/accounting/exact.js';
import { factorValue, loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory } from '../../runtime/accounting/inventory.js';

const lib = loadFactorLibrary();

describe('fuel library: display values equal NCV x CC x OF x 44/12', () => {
  it('every fuel entry, at the decimals it is written with (half up)', () => {
    const fuels = lib.all().filter((e) => e.kind === 'fuel');
    expect(fuels.map((e) => e.id)).toEqual(expect.arrayContaining(['natural_gas', 'diesel', 'gasoline', 'lpg', 'fuel_oil', 'raw_coal', 'lng']));
    for (const e of fuels) {
      const decimals = (String(e.value).split('.')[1] ?? '').length;
      expect(String(e.value), e.id).toBe(Q.from(factorValue(e).toFixed(decimals, 'half-up')).toString());
    }
    // Worked by hand: 43.070 x 0.0189 x 0.98 x 44/12 = 2.92505634; 50.179 x 0.0172 x 0.98 x 44/12 = 3.10133...;
    // 41.816 x 0.0211 x 0.98 x 44/12 = 3.17046...; 20.908 x 0.02637 x 0.94 x 44/12 = 1.90029...
    expect(lib.get('gasoline')!.value).toBe(2.925056);
    expect(lib.get('lpg')!.value).toBe(3.10133);
    expect(lib.get('fuel_oil')!.value).toBe(3.170461);
    expect(lib.get('raw_coal')!.value).toBe(1.900299);
  });
  it('a library file whose display value disagrees with its parameters is refused, naming the right value', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fuels-'));
    writeFileSync(
      path.join(dir, 'x.yaml'),
      'entries:\n  - { id: test_oil, kind: fuel, value: 3.170544, unit: tCO2/t, dataYear: 2024, validFrom: 2024-01-01, source: test, fuel: { basis: mass, ncv: 41.816, ncvUnit: GJ/t, carbonContent: 21.1, oxidation: 0.98 } }\n',
    );
    expect(() => loadFactorLibrary({ dirs: [dir] })).toThrow(/\/entries\/0\/value: display value 3\.170544 disagrees with its parameters: .* write 3\.170461/);
  });
  it('fuel oil: NCV 41.816 GJ/t (GB/T 2589-2020 Appendix A, 10,000 kcal/kg) cited with its source', () => {
    const fo = lib.get('fuel_oil')!;
    expect(fo.fuel!.ncv).toBe(41.816);
    expect(fo.source).toMatch(/GB\/T 2589-2020/);
    expect(fo.edition).not.toMatch(/verify/);
  });
  it('LNG by mass: 51.498 GJ/t x 15.3 tC/TJ x 0.99 x 44/12 = 2.860147422 tCO2/t; 10 t -> 28.60147422 t', () => {
    const lng = lib.get('lng')!;
    expect(lng.fuel).toMatchObject({ basis: 'mass', ncv: 51.498, carbonContent: 15.3, oxidation: 0.99 });
    expect(factorValue(lng).toString()).toBe('2.860147422');
    const r = computeInventory(activityToInput({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'lng', quantity: 10, unit: 't' }] }, lib));
    expect(r.exact.scope1_t).toBe('28.60147422');
  });
});

describe('display rounding', () => {
  it('half to even by default (GB/T 8170-2008; the reference shows 1,081.094404 for 1,081.0944045), half up on request', () => {
    const gas = Q.from('1081.0944045');
    expect(gas.toFixed(6)).toBe('1081.094404');
    expect(gas.toFixed(6, 'half-up')).toBe('1081.094405');
    expect(Q.from('-2.5').toFixed(0, 'half-up')).toBe('-3');
    expect(Q.from('-2.5').toFixed(0)).toBe('-2');
    expect(Q.from('0.125').toFixed(2, 'half-up')).toBe('0.13');
    expect(Q.from('0.1249999').toFixed(2, 'half-up')).toBe('0.12');
  });
});
