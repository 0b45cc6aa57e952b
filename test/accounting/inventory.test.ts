import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { Q } from '../../runtime/accounting/exact.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory, hotWaterGJ, normalVolume, steamGJ } from '../../runtime/accounting/inventory.js';
import { activityToInput, loadActivityFile } from '../../runtime/accounting/activity.js';

const lib = loadFactorLibrary();
const ex = (n: number) => path.resolve(`runtime/accounting/examples/example-${n}.yaml`);
const example1 = () => parseYaml(readFileSync(ex(1), 'utf8')) as Record<string, any>;
const inv = (a: unknown) => computeInventory(activityToInput(a, lib));
const fix6 = (x: number) => x.toFixed(6);

describe('acceptance vectors (2023 factors, reference section 6)', () => {
  it('example 1: annual inventory, residual remainder', () => {
    const r = computeInventory(loadActivityFile(ex(1), lib));
    const gas = r.lines.find((l) => l.category === 'fuel' && l.description.startsWith('natural_gas'))!;
    const diesel = r.lines.find((l) => l.category === 'fuel' && l.description.startsWith('diesel'))!;
    expect(fix6(gas.emissions_t)).toBe('1081.094404'); // exact 1,081.0944045, shown half-to-even
    expect(Q.from(gas.emissions_exact).toFixed(7)).toBe('1081.0944045');
    expect(fix6(diesel.emissions_t)).toBe('61.918193');
    expect(fix6(r.scope1_t)).toBe('1143.012597');
    expect(fix6(r.scope2_location_t)).toBe('6186.000000');
    expect(fix6(r.total_location_t)).toBe('7329.012597');
    expect(fix6(r.scope2_market_t)).toBe(fix6(4267.2 + 880));
    expect(fix6(r.total_market_t)).toBe('6290.212597');
    expect(fix6(r.green_share_annual)).toBe('0.416667');
    expect(fix6(r.self_sufficiency)).toBe('0.166667');
    expect(r.green_share_hourly).toBeUndefined();
    expect(r.method.market_remainder).toBe('residual');
    expect(r.method.market_remainder_factor).toBe('CN-2023-residual');
    // every Scope line names its factor and source
    for (const l of r.lines.filter((x) => x.emissions_t !== 0)) {
      expect(l.factor_id, l.description).toBeTruthy();
      expect(l.factor_source, l.description).toBeTruthy();
    }
  });
  it('example 1 with the grid-average remainder (GB/T style) states the substitution', () => {
    const r = inv({ ...example1(), marketRemainder: 'grid-average' });
    expect(fix6(r.total_market_t)).toBe('5737.212597');
    expect(r.method.market_remainder_factor).toBe('CN-2023-national');
    expect(r.method.market_remainder_statement).toMatch(/grid average/);
    expect(fix6(r.total_location_t)).toBe('7329.012597');
  });
  it('example 2: PV certificates sold -> null power at the residual, green share 25 %', () => {
    const r = computeInventory(loadActivityFile(ex(2), lib));
    expect(fix6(r.scope2_market_t - 880)).toBe('5486.400000');
    expect(fix6(r.total_market_t)).toBe('7509.412597');
    expect(fix6(r.total_location_t)).toBe('7329.012597');
    expect(fix6(r.green_share_annual)).toBe('0.250000');
    expect(r.lines.some((l) => l.category === 'onsite-null-power' && l.emissions_t === 1219.2)).toBe(true);
  });
  it('certificates retained vs sold differ exactly by the on-site MWh at the remainder factor', () => {
    const kept = inv(example1());
    const sold = inv({ ...example1(), electricity: { ...example1().electricity, onsiteAttributesRetained: false } });
    expect(Q.from(sold.exact.total_market_t).sub(Q.from(kept.exact.total_market_t)).eq(Q.from(2000).mul('0.6096'))).toBe(true);
  });
  it('numbers as factors, hourly matching and intensity per unit', () => {
    const r = inv({
      gridFactor: 0.5,
      residualFactor: 0.6,
      electricity: { gridImportMWh: 8, onsiteRenewableConsumedMWh: 2, onsiteAttributesRetained: true },
      intervals: [
        { consumptionMWh: 5, renewableMWh: 2 },
        { consumptionMWh: 5, renewableMWh: 8 },
      ],
      production: [{ line: 'A', quantity: 1000, unit: 'pcs' }],
    });
    expect(r.scope2_location_t).toBe(4);
    expect(r.scope2_market_t).toBe(4.8);
    expect(r.green_share_hourly).toBe(0.7);
    expect(r.green_share_annual).toBe(0.2);
    expect(r.intensity![0]).toMatchObject({ line: 'A', kgCO2_per_unit_location: 4, kgCO2_per_unit_market: 4.8 });
  });
});

describe('unit conversions', () => {
  it('gas normal-volume correction from base temperature and pressure', () => {
    expect(normalVolume(Q.from(1), 20).toFixed(6)).toBe('0.931776'); // reference: 0.93177
    expect(normalVolume(Q.from(1000), 0).eq(1000)).toBe(true);
    expect(normalVolume(Q.from(1000), 0, '202.65').eq(2000)).toBe(true);
    const base = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'natural_gas', quantity: 10000, unit: 'm3', baseTemperatureC: 20 }] });
    const nm3 = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'natural_gas', quantity: 1, unit: '10^4Nm3' }] });
    expect(Q.from(base.exact.scope1_t).div(Q.from(nm3.exact.scope1_t)).eq(Q.from('273.15').div('293.15'))).toBe(true);
    expect(() => inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'natural_gas', quantity: 1, unit: 'm3' }] })).toThrow(/baseTemperatureC/);
  });
  it('fuels by mass or volume with density; kg and t agree', () => {
    const t = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 0.84, unit: 't' }] });
    const kg = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 840, unit: 'kg' }] });
    const l = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 1000, unit: 'L', density: 0.84 }] });
    expect(kg.exact.scope1_t).toBe(t.exact.scope1_t);
    expect(l.exact.scope1_t).toBe(t.exact.scope1_t);
    expect(() => inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 1000, unit: 'L' }] })).toThrow(/density/);
    expect(() => inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 1, unit: 'Nm3' }] })).toThrow(/by mass/);
  });
  it('measured NCV overrides the default and needs a source', () => {
    const r = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 1, unit: 't', ncv: 43, source: 'lab 2023-07' }] });
    expect(Q.from(r.exact.scope1_t).eq(Q.from(43).mul('0.0202').mul('0.98').mul(Q.of(44, 12)))).toBe(true);
    expect(() => inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, fuels: [{ fuel: 'diesel', quantity: 1, unit: 't', ncv: 43 }] })).toThrow(/source/);
  });
  it('steam by mass with enthalpy, hot water with temperature', () => {
    expect(steamGJ(Q.from(10), Q.from('2783.74')).eq(27)).toBe(true);
    expect(hotWaterGJ(Q.from(100), Q.from(70)).eq('20.934')).toBe(true);
    const r = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 0 }, heat: [{ steamTonnes: 10, enthalpyKJperKg: 2783.74 }, { hotWaterTonnes: 100, temperatureC: 70 }] });
    expect(Q.from(r.exact.scope2_location_t).eq(Q.from('47.934').mul('0.11'))).toBe(true);
    expect(r.scope2_market_t).toBe(r.scope2_location_t);
  });
  it('gross vs net exports', () => {
    const g = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 10, gridExportMWh: 4 } });
    const n = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', netExports: true, electricity: { gridImportMWh: 10, gridExportMWh: 4 } });
    expect(g.scope2_location_t).toBe(5);
    expect(n.scope2_location_t).toBe(3);
    expect(g.method.exports).toBe('gross');
  });
});

describe('missing evidence and bad claims are errors, never silent zeros', () => {
  const issuesOf = (a: unknown) => {
    try {
      inv(a);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    }
    throw new Error('expected an error');
  };
  it('on-site renewable without a statement about its attributes', () => {
    expect(issuesOf({ gridFactor: 0.5, residualFactor: 0.6, electricity: { gridImportMWh: 10, onsiteRenewableConsumedMWh: 2 } })).toMatch(/onsiteAttributesRetained: missing evidence/);
  });
  it('residual remainder without a residual factor', () => {
    expect(issuesOf({ gridFactor: 0.5, electricity: { gridImportMWh: 10 } })).toMatch(/residualFactor/);
  });
  it('instruments over-claiming, GEC serials not matching MWh, duplicate serials', () => {
    expect(issuesOf({ gridFactor: 0.5, residualFactor: 0.6, electricity: { gridImportMWh: 10 }, instruments: [{ type: 'GEC', MWh: 11 }] })).toMatch(/over-claiming/);
    expect(issuesOf({ gridFactor: 0.5, residualFactor: 0.6, electricity: { gridImportMWh: 10 }, instruments: [{ type: 'GEC', MWh: 3, serials: ['A1', 'A2'] }] })).toMatch(/2 GEC serials do not cover 3 MWh/);
    expect(
      issuesOf({ gridFactor: 0.5, residualFactor: 0.6, electricity: { gridImportMWh: 10 }, instruments: [{ type: 'GEC', MWh: 2, serials: ['A001..A002'] }, { type: 'GEC', MWh: 2, serials: ['A002..A003'] }] }),
    ).toMatch(/more than one instrument/);
  });
  it('product-footprint factors are refused as Scope 2; unknown ids and fields are listed at once', () => {
    const msg = issuesOf({ gridFactor: 'CN-2024-pf-national', residualFactor: 'CN-1999-nope', electricity: { gridImportMWh: 10 } });
    expect(msg).toMatch(/gridFactor: factor 'CN-2024-pf-national' is of kind product-footprint-electricity.*kept apart/);
    expect(msg).toMatch(/residualFactor: unknown factor id/);
    expect(issuesOf({ gridFactor: 0.5, electricity: { gridImportMWh: 10, bogus: 1 } })).toMatch(/unknown field 'bogus'/);
  });
});

describe('carbonedge inventory CLI', () => {
  // The built CLI: dist/ is compiled by `npm test` (run `npm run build` before this file alone);
  // compiling here would race other test files reading dist/.
  const cli = path.resolve('tools/carbonedge.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'inventory', ...args], { encoding: 'utf8' });
  const json = (...args: string[]) => {
    const r = run(...args, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as Record<string, any>;
  };
  const tmp = (name: string, doc: unknown) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'inv-')), name);
    writeFileSync(file, name.endsWith('.json') ? JSON.stringify(doc) : stringifyYaml(doc));
    return file;
  };
  it('acceptance example 1 through the CLI, to 6 decimals, both remainder methods', () => {
    const out = json('--activity', ex(1));
    for (const k of ['scope1_t', 'scope2_location_t', 'scope2_market_t', 'total_location_t', 'total_market_t', 'green_share_annual', 'self_sufficiency', 'lines']) expect(out).toHaveProperty(k);
    expect(out).not.toHaveProperty('green_share_hourly'); // no intervals given
    expect(fix6(out.scope1_t)).toBe('1143.012597');
    expect(fix6(out.scope2_location_t)).toBe('6186.000000');
    expect(fix6(out.total_location_t)).toBe('7329.012597');
    expect(fix6(out.scope2_market_t)).toBe('5147.200000');
    expect(fix6(out.total_market_t)).toBe('6290.212597');
    expect(fix6(out.green_share_annual)).toBe('0.416667');
    const gas = out.lines.find((l: any) => l.category === 'fuel' && l.description.startsWith('natural_gas'));
    expect(fix6(gas.emissions_t)).toBe('1081.094404');
    expect(gas.inputs).toMatchObject({ quantity: '500000', unit: 'Nm3', basis_quantity: '50', basis_unit: '10^4Nm3' });
    expect(gas).toMatchObject({ factor_id: 'natural_gas', factor_source: expect.stringMatching(/GB\/T 32151/) });
    expect(fix6(out.lines.find((l: any) => l.description.startsWith('diesel')).emissions_t)).toBe('61.918193');
    const elec = out.lines.find((l: any) => l.scope === '2-location' && l.category === 'electricity');
    expect(elec).toMatchObject({ factor_id: 'CN-2023-national', factor_value: '0.5306', emissions_t: 5306, inputs: { gridImportMWh: '10000' } });
    expect(elec.factor_source).toMatch(/2025 No\. 47/);
    const gridAvg = json('--activity', tmp('gb.json', { ...example1(), marketRemainder: 'grid-average' }));
    expect(fix6(gridAvg.total_market_t)).toBe('5737.212597');
    expect(fix6(gridAvg.scope2_market_t - 880)).toBe('3714.200000');
    expect(gridAvg.method.market_remainder_statement).toMatch(/grid average CN-2023-national.*substituted.*disclosed/);
  });
  it('acceptance example 2 through the CLI: certificates sold', () => {
    const out = json('--activity', ex(2));
    expect(fix6(out.total_location_t)).toBe('7329.012597');
    expect(fix6(out.scope2_market_t - 880)).toBe('5486.400000');
    expect(fix6(out.total_market_t)).toBe('7509.412597');
    expect(fix6(out.green_share_annual)).toBe('0.250000');
    expect(out.lines.find((l: any) => l.category === 'onsite-null-power')).toMatchObject({ factor_id: 'CN-2023-residual', emissions_t: 1219.2 });
  });
  it('numbers as factors, heat by steam mass, hot water, gas in m3, hourly intervals: the public field names', () => {
    const out = json(
      '--activity',
      tmp('a.yaml', {
        gridFactor: 0.5,
        residualFactor: 0.6,
        marketRemainder: 'residual',
        electricity: { gridImportMWh: 8, gridExportMWh: 1, onsiteRenewableConsumedMWh: 2, onsiteAttributesRetained: true },
        fuels: [
          { fuel: 'natural_gas', quantity: 10000, unit: 'm3', baseTemperatureC: 20 },
          { fuel: 'diesel', quantity: 1, unit: 't' },
        ],
        heat: [{ quantityGJ: 10 }, { steamTonnes: 10, enthalpyKJperKg: 2783.74 }, { hotWaterTonnes: 100, temperatureC: 70 }],
        instruments: [{ type: 'GEC', MWh: 3, serials: ['G000001..G000003'], vintage: 2024 }],
        intervals: [
          { consumptionMWh: 5, renewableMWh: 2 },
          { consumptionMWh: 5, renewableMWh: 8 },
        ],
      }),
    );
    expect(out.green_share_hourly).toBe(0.7);
    expect(out.self_sufficiency).toBe(0.2);
    expect(out.green_share_annual).toBe(0.5); // (2 + 3) / 10
    expect(out.lines.filter((l: any) => l.category === 'heat' && l.scope === '2-location').map((l: any) => l.inputs.GJ)).toEqual(['10', '27', '20.934']);
    const gas = out.lines.find((l: any) => l.description.startsWith('natural_gas'));
    expect(Q.from(gas.inputs.basis_quantity).eq(Q.from('273.15').div('293.15'))).toBe(true);
    expect(gas.inputs.conversion).toMatch(/273\.15\/\(273\.15\+20\)/);
    expect(out.lines.find((l: any) => l.category === 'instrument').inputs).toMatchObject({ type: 'GEC', MWh: '3', vintage: '2024', serials: ['G000001..G000003'] });
    expect(out.scope2_market_t).toBe(Number(Q.from(5).mul('0.6').add(Q.from('57.934').mul('0.11')).toFixed(6)));
  });
  it('prints a disclosure table and fails clearly on a bad file', () => {
    const table = run('--activity', ex(2)).stdout;
    expect(table).toMatch(/Total \(market-based\)\s+7509\.412597/);
    expect(table).toMatch(/Total \(location-based\)\s+7329\.012597/);
    expect(table).toMatch(/Scope 1\s+1143\.012597/);
    expect(table).toMatch(/residual-mix proxy CN-2023-residual/);
    expect(table).toMatch(/natural_gas combustion\s+1081\.094404\s+natural_gas = .*GB\/T 32151/);
    expect(table).toMatch(/Green-power share, annual volumetric \(RE100\): 25\.000 %/);
    const bad = tmp('bad.yaml', { gridFactor: 'CN-2023-national', electricity: { gridImportMWh: 10, onsiteRenewableConsumedMWh: 3 }, residualFactor: 'CN-2023-residual' });
    const r = run('--activity', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/onsiteAttributesRetained.*missing evidence/);
    expect(run('--activity', ex(1), '--db', 'x').status).toBe(2);
  });
});
