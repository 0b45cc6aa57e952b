import { describe, expect, it } from 'vitest';
import { Q } from '../../runtime/accounting/exact.js';
import { factorValue, fuelFactor, loadFactorLibrary } from '../../runtime/accounting/factors.js';

describe('exact arithmetic', () => {
  it('parses decimals exactly and rounds only for display', () => {
    expect(Q.from('0.1').add('0.2').eq('0.3')).toBe(true);
    expect(Q.from(0.5306).toString()).toBe('0.5306');
    expect(Q.of(44, 12).toString()).toBe('11/3');
    expect(Q.from('1.5e-3').toString()).toBe('0.0015');
    expect(Q.from('2.5').round()).toBe(2n);
    expect(Q.from('3.5').round()).toBe(4n);
    expect(Q.from('-2.5').round()).toBe(-2n);
    expect(Q.from('-2.6').round()).toBe(-3n);
    expect(Q.from('-2.4').floor()).toBe(-3n);
    expect(Q.of(2, 3).toFixed(6)).toBe('0.666667');
    expect(Q.from('-0.0000004').toFixed(6)).toBe('0.000000');
  });
  it('a year of quarter-hours does not drift', () => {
    let s = Q.ZERO;
    for (let i = 0; i < 35040; i++) s = s.add('0.1');
    expect(s.eq(3504)).toBe(true);
  });
});

describe('factor library', () => {
  const lib = loadFactorLibrary();
  it('has the 2023 grid factors with provenance', () => {
    const n = lib.get('CN-2023-national')!;
    expect(n).toMatchObject({ kind: 'grid-average', value: 0.5306, unit: 'tCO2/MWh', dataYear: 2023, validFrom: '2023-01-01' });
    expect(n.source).toMatch(/2025 No\. 47/);
    expect(lib.get('CN-2023-residual')!.value).toBe(0.6096);
    expect(lib.get('CN-2022-yunnan')!.value).toBe(0.1073);
    expect(lib.get('CN-2024-pf-national')!.kind).toBe('product-footprint-electricity');
    expect(lib.get('CN-heat-default')!.value).toBe(0.11);
  });
  it('fuel factors are NCV x CC x OF x 44/12, and the displayed values agree to 6 decimals', () => {
    expect(factorValue(lib.get('natural_gas')!).toFixed(8)).toBe('21.62188809');
    expect(factorValue(lib.get('diesel')!).toFixed(9)).toBe('3.095909637');
    for (const e of lib.all().filter((x) => x.kind === 'fuel')) {
      expect(Q.from(e.value).toFixed(4), e.id).toBe(factorValue(e).toFixed(4));
    }
  });
  it('overrides with measured values replace fields and keep their source; bad overrides list every problem', () => {
    const o = lib.withOverrides([{ id: 'natural_gas', fuel: { ncv: 400 }, source: 'lab report 2024-17' }]);
    const e = o.get('natural_gas')!;
    expect(e.overridden).toBe(true);
    expect(e.fuel!.ncv).toBe(400);
    expect(e.fuel!.carbonContent).toBe(15.3);
    expect(factorValue(e).eq(fuelFactor({ ncv: 400, carbonContent: 15.3, oxidation: 0.99 }))).toBe(true);
    expect(lib.get('natural_gas')!.fuel!.ncv).toBe(389.31);
    const added = lib.withOverrides([{ id: 'site-ppa-mix', kind: 'grid-average', value: 0.42, unit: 'tCO2/MWh', source: 'utility letter', validFrom: '2024-01-01' }]);
    expect(added.get('site-ppa-mix')!.dataYear).toBe(2024);
    expect(() => lib.withOverrides([{ id: 'x', source: '' }, { id: 'y', kind: 'grid-average', source: 's' }])).toThrow(/\/0\/source[\s\S]*\/1\/value/);
  });
});
