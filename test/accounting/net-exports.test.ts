/**
 * Regression (issue 13): `netExports: true` nets the export from the emissions line only;
 * consumption stays gross import + on-site renewable consumed, and so do the green shares.
 */
import { describe, expect, it } from 'vitest';
import { activityToInput } from '../../runtime/accounting/activity.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory } from '../../runtime/accounting/inventory.js';

const lib = loadFactorLibrary();
const inv = (a: unknown) => computeInventory(activityToInput(a, lib));
const fix = (x: number, d = 6) => x.toFixed(d);

describe('netExports: true subtracts the export once (emissions line only)', () => {
  // PV 2,000 MWh generated with attributes retained, 500 MWh of it exported: 1,500 MWh consumed on
  // site. Gross grid import 8,000 MWh. Consumption = 8,000 + 1,500 = 9,500 MWh (not 9,000);
  // green share = 1,500 / 9,500 = 15.789 % (not 16.667 %); the emissions line nets:
  // (8,000 - 500) x 0.5 = 3,750 t.
  const base = { gridFactor: 0.5, marketRemainder: 'grid-average', netExports: true };
  it('the issue vector: consumption 9,500 MWh, share 15.789 %, location line 3,750 t', () => {
    const r = inv({ ...base, electricity: { gridImportMWh: 8000, gridExportMWh: 500, onsiteRenewableConsumedMWh: 1500, onsiteAttributesRetained: true } });
    expect(r.consumption_MWh).toBe(9500);
    expect(r.green_share_annual).toBe(0.157895); // 1,500 / 9,500 = 0.1578947... = 15.789 %
    expect(r.self_sufficiency).toBe(0.157895);
    expect(r.scope2_location_t).toBe(3750);
    expect(r.scope2_market_t).toBe(3750);
    expect(r.method.exports).toBe('net');
  });
  it('export above import: consumption 150 MWh (not 50), share 33.333 % (not 100 %), emissions line 0', () => {
    // import 100, export 200, on-site consumed 50: consumption 100 + 50 = 150; share 50 / 150.
    const r = inv({ ...base, electricity: { gridImportMWh: 100, gridExportMWh: 200, onsiteRenewableConsumedMWh: 50, onsiteAttributesRetained: true } });
    expect(r.consumption_MWh).toBe(150);
    expect(fix(r.green_share_annual * 100, 3)).toBe('33.333');
    expect(r.scope2_location_t).toBe(0);
  });
  it('gross (the default) gives the same consumption and shares; only the emissions line differs', () => {
    const e = { gridImportMWh: 8000, gridExportMWh: 500, onsiteRenewableConsumedMWh: 1500, onsiteAttributesRetained: true };
    const g = inv({ ...base, netExports: false, electricity: e });
    const n = inv({ ...base, electricity: e });
    expect(g.consumption_MWh).toBe(n.consumption_MWh);
    expect(g.green_share_annual).toBe(n.green_share_annual);
    expect(g.scope2_location_t - n.scope2_location_t).toBe(250);
  });
});
