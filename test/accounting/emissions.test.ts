import { describe, expect, it } from 'vitest';
import { electricityEmissions, emissionTotals, factorLine, recordFactor, remainderStatement } from '../../runtime/accounting/emissions.js';
import { Q } from '../../runtime/accounting/exact.js';
import type { ResolvedFactor } from '../../runtime/accounting/factors.js';

const grid: ResolvedFactor = { id: 'CN-2023-national', value: Q.from('0.5306'), unit: 'tCO2/MWh', source: 'MEE/NBS 2025 No. 47', dataYear: 2023 };
const residual: ResolvedFactor = { id: 'CN-2023-residual', value: Q.from('0.6096'), unit: 'tCO2/MWh', source: 'proxy', dataYear: 2023, overridden: true };

describe('emissions (one implementation for the inventory and the live quarter-hour)', () => {
  it('Scope 2 both methods: instruments at zero, the rest and null power at the remainder factor; totals', () => {
    const e = electricityEmissions({ accounted: Q.of(100), covered: Q.of(30), nullPower: Q.of(10) }, grid, residual);
    expect([e.location, e.uncovered, e.market, e.nullPower].map(String)).toEqual(['53.06', '70', '42.672', '6.096']);
    const t = emissionTotals({ fuel: Q.of(5), process: Q.of(1), heat: Q.of(2), electricity: e });
    expect(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.toString()]))).toEqual({
      fuel: '5',
      process: '1',
      electricity_location: '53.06',
      electricity_market: '42.672',
      null_power: '6.096',
      heat: '2',
      scope1: '6',
      scope2_location: '55.06',
      scope2_market: '50.768',
      total_location: '61.06',
      total_market: '56.768',
    });
  });
  it('the remainder statement, for the inventory and for a record', () => {
    expect(remainderStatement('residual', residual, 'inventory')).toBe('uncovered MWh at the residual-mix proxy CN-2023-residual (0.6096 tCO2/MWh)');
    expect(remainderStatement('grid-average', grid, 'inventory')).toBe(
      'uncovered MWh at the grid average CN-2023-national (0.5306 tCO2/MWh): residual mix substituted by the grid average (disclosed)',
    );
    expect(remainderStatement('residual', residual, 'record')).toBe('market-based: electricity not covered by instruments at the residual-mix proxy CN-2023-residual');
    expect(remainderStatement('grid-average', grid, 'record')).toBe('market-based: electricity not covered by instruments at the grid average CN-2023-national (residual mix substituted, disclosed)');
  });
  it('factor fields of a line and of a record item say where the factor comes from', () => {
    expect(factorLine(residual)).toEqual({ factor_id: 'CN-2023-residual', factor_value: '0.6096', factor_unit: 'tCO2/MWh', factor_source: 'proxy (user override, measured)', factor_data_year: 2023 });
    expect(recordFactor(grid)).toEqual({ factor: 'CN-2023-national', factor_value: '0.5306', factor_unit: 'tCO2/MWh', factor_source: 'MEE/NBS 2025 No. 47' });
  });
});
