import { describe, expect, it } from 'vitest';
import { Q } from '../../runtime/accounting/exact.js';
import { checkFootprint, computeFootprint, type FootprintInput } from '../../runtime/accounting/footprint.js';
import { fromEntry, loadFactorLibrary } from '../../runtime/accounting/factors.js';

const lib = loadFactorLibrary();
const pf = (id: string) => fromEntry(lib.get(id)!);

/**
 * Worked by hand. Site: grid import 800 MWh, on-site PV consumed 200 MWh -> 1,000 MWh.
 * Factor f = (800 x 0.5777 + 200 x 0.052) / 1000 = (462.16 + 10.4) / 1000 = 0.47256 tCO2e/MWh.
 * Line A (submeter 300 MWh): housing 10,000 pieces, 50 t. Line B (submeter 400 MWh): shaft 20,000
 * pieces, 30 t; flange 10,000 pieces, 20 t. Shared = 1000 - 700 = 300 MWh.
 */
function input(allocation: FootprintInput['allocation']): FootprintInput {
  return {
    allocation,
    gridImportMWh: Q.from(800),
    onsiteRenewableConsumedMWh: Q.from(200),
    gridFactor: pf('CN-2024-pf-national'),
    onsiteFactor: pf('CN-2024-pf-pv'),
    lines: [
      { line: 'A', meteredMWh: Q.from(300), products: [{ name: 'housing', declaredUnit: 'piece', output: Q.from(10000), massT: Q.from(50) }] },
      {
        line: 'B',
        meteredMWh: Q.from(400),
        products: [
          { name: 'shaft', declaredUnit: 'piece', output: Q.from(20000), massT: Q.from(30) },
          { name: 'flange', declaredUnit: 'piece', output: Q.from(10000), massT: Q.from(20) },
        ],
      },
    ],
  };
}

const byName = (r: ReturnType<typeof computeFootprint>, name: string) => r.products.find((p) => p.product === name)!;

describe('product carbon footprint (gate-to-gate, GB/T 24067)', () => {
  it('weights the life-cycle grid and PV factors by energy', () => {
    const r = computeFootprint(input('physical'));
    expect(Q.from(r.factor.exact).eq(Q.from('0.47256'))).toBe(true);
    expect(r.shared_MWh).toBe(300);
    expect(r.factor.statement).toMatch(/green certificates are not applied/);
  });

  it('physical allocation: housing 375 MWh / 177.21 t / 17.721 kg; shaft 416.667 MWh / 196.9 t / 9.845 kg; flange 208.333 MWh / 98.45 t / 9.845 kg', () => {
    const r = computeFootprint(input('physical'));
    // housing: its line's 300 MWh + 300 x 10,000 / 40,000 = 75 shared
    expect(Q.from(byName(r, 'housing').exact.energy_MWh).eq(375)).toBe(true);
    expect(Q.from(byName(r, 'housing').exact.footprint_t).eq(Q.from('177.21'))).toBe(true);
    expect(Q.from(byName(r, 'housing').exact.kgCO2e_per_unit).eq(Q.from('17.721'))).toBe(true);
    // shaft: 400 x 2/3 = 266.667 metered + 150 shared = 1250/3 MWh; x 0.47256 = 196.9 t
    expect(Q.from(byName(r, 'shaft').exact.energy_MWh).eq(Q.of(1250, 3))).toBe(true);
    expect(Q.from(byName(r, 'shaft').exact.footprint_t).eq(Q.from('196.9'))).toBe(true);
    expect(Q.from(byName(r, 'shaft').exact.kgCO2e_per_unit).eq(Q.from('9.845'))).toBe(true);
    expect(byName(r, 'shaft').metered_MWh).toBeCloseTo(266.666667, 6);
    expect(byName(r, 'shaft').shared_MWh).toBe(150);
    // flange: 400/3 + 75 = 625/3 MWh; 98.45 t; 9.845 kg per piece
    expect(Q.from(byName(r, 'flange').exact.footprint_t).eq(Q.from('98.45'))).toBe(true);
    expect(r.reconciles).toBe(true);
    expect(r.lines.map((l) => [l.line, l.energy_MWh])).toEqual([
      ['A', 375],
      ['B', 625],
    ]);
  });

  it('mass allocation: housing 450 MWh / 21.2652 kg; shaft 330 MWh / 7.79724 kg; flange 220 MWh / 10.39632 kg', () => {
    const r = computeFootprint(input('mass'));
    expect(Q.from(byName(r, 'housing').exact.energy_MWh).eq(450)).toBe(true);
    expect(Q.from(byName(r, 'housing').exact.kgCO2e_per_unit).eq(Q.from('21.2652'))).toBe(true);
    expect(Q.from(byName(r, 'shaft').exact.energy_MWh).eq(330)).toBe(true);
    expect(Q.from(byName(r, 'shaft').exact.kgCO2e_per_unit).eq(Q.from('7.79724'))).toBe(true);
    expect(Q.from(byName(r, 'flange').exact.energy_MWh).eq(220)).toBe(true);
    expect(Q.from(byName(r, 'flange').exact.kgCO2e_per_unit).eq(Q.from('10.39632'))).toBe(true);
    expect(r.allocation).toMatchObject({ rule: 'mass', basis: 'mass of product (t)' });
    expect(r.reconciles).toBe(true);
  });

  it('refuses what cannot be allocated: submeters above the site, mixed units by physical output, a missing basis, PV without its factor', () => {
    const over = input('physical');
    over.lines[1]!.meteredMWh = Q.from(800);
    expect(checkFootprint(over, 'a.yaml').map((i) => i.path)).toEqual(['/footprint/lines']);
    const units = input('physical');
    units.lines[1]!.products[1]!.declaredUnit = 'kg';
    expect(checkFootprint(units, 'a.yaml').map((i) => i.path)).toEqual(['/footprint/allocation']);
    const econ = input('economic');
    expect(checkFootprint(econ, 'a.yaml').map((i) => i.path)).toEqual(['/footprint/lines/0/products/0/valueCNY', '/footprint/lines/1/products/0/valueCNY', '/footprint/lines/1/products/1/valueCNY']);
    const { onsiteFactor: _drop, ...noPv } = input('mass');
    expect(checkFootprint(noPv, 'a.yaml').map((i) => i.path)).toEqual(['/footprint/onsiteFactor']);
    expect(checkFootprint(input('mass'), 'a.yaml')).toEqual([]);
  });
});
