/**
 * Live accounting of non-electric meters (gas in m3 corrected to normal conditions, steam by mass
 * with enthalpy, hot water with temperature, process emissions), carbon intensity per product
 * unit per line, and the edges of the windows: a first start mid-quarter, a start with no device
 * answering, and a quarter close that fails (database busy) and is retried without loss.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Q } from '../../runtime/accounting/exact.js';
import { factorValue, loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { validateAccountingConfig, type AccountingConfig } from '../../runtime/accounting/config-schema.js';
import { QUARTER_MS } from '../../runtime/accounting/live.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { ACCOUNTING, DAY0, demoConfig, makeEngine, profiles, tmpDb } from './helpers.js';

const quarters = (db: Database.Database) =>
  (db.prepare('SELECT record FROM acct_quarter ORDER BY start_ms').all() as { record: string }[]).map((r) => JSON.parse(r.record) as Record<string, any>);
const lib = loadFactorLibrary();

/** A factory: grid meter, a press on line A, gas, steam, hot water, a production counter, a kiln. */
function factory(extra: Partial<AccountingConfig> = {}): SiteConfig {
  const accounting: AccountingConfig = {
    ...ACCOUNTING,
    devices: {
      press: { line: 'A' },
      gas: { point: 'energy_import', unit: 'm3', fuel: 'natural_gas', baseTemperatureC: 20 },
      steam: { point: 'energy_import', unit: 't', heat: 'steam', enthalpyKJperKg: 2783.74 },
      hw: { point: 'energy_import', unit: 't', heat: 'hot-water', temperatureC: 70 },
      lineA: { point: 'energy_import', unit: 'pcs', line: 'A', processFactor: 0.0001, processSource: 'plant measurement 2024-03' },
      kiln: { point: 'energy_import', unit: 't', processFactor: 0.44, processSource: 'CaCO3 stoichiometry, lab 2024-02' },
    },
    ...extra,
  };
  const base = demoConfig(accounting);
  const dev = (id: string, role: SiteConfig['devices'][number]['role'], unitId: number) => ({ id, role, bus: 'demo', unitId, profile: 'carbonedge-relay-load', pollIntervalMs: 5000 });
  return {
    ...base,
    devices: [
      base.devices.find((d) => d.id === 'grid')!,
      dev('press', 'load', 6),
      dev('gas', 'fuel_meter', 7),
      dev('steam', 'heat_meter', 8),
      dev('hw', 'heat_meter', 9),
      dev('lineA', 'production_counter', 10),
      dev('kiln', 'other', 11),
    ],
  };
}

/** Per-minute increments of each counter (meter units). */
const RATE = { grid: 2, press: 0.5, gas: 10, steam: 0.5, hw: 2, lineA: 40, kiln: 0.1 } as const;
type Dev = keyof typeof RATE;

function feeder(engine: { ingest(b: Reading[]): void }) {
  const c: Record<Dev, number> = { grid: 1000, press: 200, gas: 5000, steam: 100, hw: 300, lineA: 10_000, kiln: 50 };
  const at = (minute: number, only?: Dev[]) => {
    const ts = DAY0 + minute * 60_000;
    const batch: Reading[] = (Object.keys(c) as Dev[])
      .filter((d) => !only || only.includes(d))
      .map((d) => ({ device: d, point: 'energy_import', canonical: 'energy_import', value: Number(c[d].toFixed(6)), quality: 'good', ts, source: 'test' }));
    engine.ingest(batch);
  };
  const step = () => {
    for (const d of Object.keys(c) as Dev[]) c[d] += RATE[d];
  };
  return { at, step };
}

describe('fuel, heat and process meters, intensity per product unit (live)', () => {
  const config = factory();
  it('the factory config is valid', () => {
    expect(validateAccountingConfig(config, profiles, 'site.yaml')).toEqual([]);
  });
  const { db } = tmpDb();
  const engine = makeEngine(db, { config });
  const f = feeder(engine);
  for (let m = 0; m <= 30; m++) {
    if (m > 0) f.step();
    f.at(m);
  }
  engine.advance(DAY0 + 2 * QUARTER_MS + 60_000);
  const qs = quarters(db);

  it('gas in m3 at 20 degC is corrected to normal volume, exactly', () => {
    expect(qs.length).toBe(2);
    const q = qs[0]!;
    const gas = q.fuels.find((x: any) => x.device === 'gas');
    const vn = Q.from(150).mul('273.15').div('293.15'); // 15 minutes x 10 m3
    expect(Q.from(gas.basis_quantity).eq(vn.div(10000))).toBe(true);
    expect(gas.basis_unit).toBe('10^4Nm3');
    expect(gas.conversion).toMatch(/273\.15\/\(273\.15\+20\)/);
    const g = vn.div(10000).mul(factorValue(lib.get('natural_gas')!)).mul(1_000_000);
    expect(Q.from(gas.co2_g).eq(g)).toBe(true);
    expect(gas.factor).toBe('natural_gas');
    expect(gas.factor_source).toMatch(/GB\/T 32151/);
    expect(Q.from(q.co2_g.fuel).eq(g)).toBe(true);
  });

  it('steam by mass with enthalpy and hot water with temperature, at the heat factor', () => {
    const q = qs[0]!;
    const steam = q.heat.find((x: any) => x.device === 'steam');
    const hw = q.heat.find((x: any) => x.device === 'hw');
    expect(Q.from(steam.GJ).eq(Q.from('7.5').mul(2700).div(1000))).toBe(true); // 7.5 t x (2783.74 - 83.74) kJ/kg
    expect(Q.from(hw.GJ).eq(Q.from(30).mul(50).mul('4.1868').div(1000))).toBe(true); // 30 t x (70 - 20) K x 4.1868
    expect(Q.from(q.co2_g.heat).eq(Q.from(steam.GJ).add(Q.from(hw.GJ)).mul('0.11').mul(1_000_000))).toBe(true);
    expect(steam.factor).toBe('CN-heat-default');
    expect(q.co2_g.scope2_location).toBe(Q.from(q.co2_g.electricity_location).add(Q.from(q.co2_g.heat)).toString());
  });

  it('process emissions from a production counter and from another counter are Scope 1 with their source', () => {
    const q = qs[0]!;
    const kiln = Q.from('1.5').mul('0.44').mul(1_000_000); // 15 x 0.1 t x 0.44 tCO2/t
    const line = Q.from(600).mul('0.0001').mul(1_000_000); // 600 pcs x 0.0001 tCO2/pcs
    expect(Q.from(q.co2_g.process).eq(kiln.add(line))).toBe(true);
    expect(q.process.map((p: any) => [p.device, p.factor_source])).toEqual([
      ['lineA', 'plant measurement 2024-03'],
      ['kiln', 'CaCO3 stoichiometry, lab 2024-02'],
    ]);
    expect(Q.from(q.co2_g.scope1).eq(Q.from(q.co2_g.fuel).add(Q.from(q.co2_g.process)))).toBe(true);
  });

  it('carbon intensity per product unit of line A: its share of electricity plus its own process emissions', () => {
    const q = qs[0]!;
    const p = q.production.find((x: any) => x.line === 'A');
    expect(p.quantity).toBe('600');
    // grid 30 kWh consumed by the site, the press (line A) 7.5 kWh of it
    const share = Q.of(7_500, 30_000);
    const loc = Q.of(30_000).mul('0.5306').mul(share).add(Q.from(600).mul('0.0001').mul(1_000_000));
    expect(Q.from(p.co2_location_g).eq(loc)).toBe(true);
    expect(p.kgCO2_per_unit_location).toBe(loc.div(1000).div(600).toNumber());
    const mkt = Q.of(30_000).mul('0.6096').mul(share).add(Q.from(600).mul('0.0001').mul(1_000_000));
    expect(Q.from(p.co2_market_g).eq(mkt)).toBe(true);
  });

  it('inventory --db lines name each factor and its source; intensity per line over the period', async () => {
    const { inventoryFromQuarters } = await import('../../runtime/accounting/store-inventory.js');
    const inv = inventoryFromQuarters(qs as any, { from: 'a', to: 'b' }, lib);
    for (const l of inv.lines.filter((x) => x.emissions_t !== 0)) {
      expect(l.factor_id, l.description).toBeTruthy();
      expect(l.factor_source, l.description).toBeTruthy();
      expect(l.factor_source, l.description).not.toBe('not recorded');
    }
    expect(inv.lines.filter((l) => l.category === 'process').map((l) => l.description)).toEqual(['process emissions (counter lineA)', 'process emissions (counter kiln)']);
    expect(inv.lines.some((l) => l.category === 'heat' && l.description === 'purchased steam (meter steam)')).toBe(true);
    expect(inv.intensity).toEqual([expect.objectContaining({ line: 'A', unit: 'pcs', quantity: 1200 })]);
    expect(Q.from(inv.exact.scope1_t).mul(1_000_000).eq(Q.from(qs[0]!.co2_g.scope1).add(Q.from(qs[1]!.co2_g.scope1)))).toBe(true);
  });
});

describe('configuration that would lose a metered quantity is refused', () => {
  const issues = (devices: AccountingConfig['devices']) =>
    validateAccountingConfig(factory({ devices }), profiles, 'site.yaml')
      .map((i) => `${i.path}: ${i.message}`)
      .join('\n');
  it('fuel without unit, gas in m3 without base temperature, liquid by volume without density, heat in a wrong unit', () => {
    const msg = issues({
      gas: { point: 'energy_import', fuel: 'natural_gas' },
      steam: { point: 'energy_import', unit: 'GJ', heat: 'steam', enthalpyKJperKg: 2780 },
      hw: { point: 'energy_import', unit: 'kJ', heat: 'gj' },
      lineA: { point: 'energy_import', unit: 'pcs' },
      kiln: { processFactor: 0.44, processSource: 'lab' },
    });
    expect(msg).toMatch(/\/accounting\/devices\/gas\/unit: a fuel_meter needs the unit/);
    expect(msg).toMatch(/\/accounting\/devices\/steam\/unit: heat 'steam' counters are read in t, kg/);
    expect(msg).toMatch(/\/accounting\/devices\/hw\/unit: heat 'gj' counters are read in GJ, MJ, kWh, MWh/);
    expect(msg).toMatch(/\/accounting\/devices\/kiln\/point: process emissions need the point/);
    expect(issues({ gas: { point: 'energy_import', unit: 'm3', fuel: 'natural_gas' } })).toMatch(/gas\/baseTemperatureC: gas metered in m3/);
    expect(issues({ gas: { point: 'energy_import', unit: 'L', fuel: 'diesel' } })).toMatch(/gas\/density: diesel metered in L needs its density/);
  });
  it('a quantity the engine still cannot convert is flagged unaccounted and the window incomplete, never a silent zero', () => {
    const config = factory();
    (config.accounting as any).devices.steam = { point: 'energy_import', unit: 'GJ', heat: 'steam', enthalpyKJperKg: 2780 };
    const { db } = tmpDb();
    const engine = makeEngine(db, { config });
    const f = feeder(engine);
    for (let m = 0; m <= 15; m++) {
      if (m > 0) f.step();
      f.at(m);
    }
    engine.advance(DAY0 + QUARTER_MS + 60_000);
    const [q] = quarters(db);
    expect(q!.quality.complete).toBe(false);
    expect(q!.quality.flags).toEqual([expect.objectContaining({ device: 'steam', flag: 'unaccounted', amount: 7_500 })]);
    expect(q!.heat.map((h: any) => h.device)).toEqual(['hw']);
  });
});

describe('window edges', () => {
  it('a first start mid-quarter: the quarter is reported incomplete (energy before the first reading is unknown)', () => {
    const { db } = tmpDb();
    const engine = makeEngine(db, { config: factory() });
    const f = feeder(engine);
    for (let m = 5; m <= 30; m++) {
      f.step();
      f.at(m);
    }
    engine.advance(DAY0 + 2 * QUARTER_MS + 60_000);
    const [q0, q1] = quarters(db);
    expect(q0!.quality.complete).toBe(false);
    expect(q0!.quality.gaps).toContainEqual({ device: 'grid', from: DAY0, to: DAY0 + 5 * 60_000 });
    expect(q0!.energy_Wh.grid_import).toBe(10 * 2000);
    expect(q1!.quality.complete).toBe(true);
  });
  it('a start where no device ever answers still closes and reports every quarter, as gaps', () => {
    const { db } = tmpDb();
    const engine = makeEngine(db, { config: factory() });
    engine.begin(DAY0 + 2 * 60_000);
    engine.advance(DAY0 + 3 * QUARTER_MS + 60_000);
    const qs = quarters(db);
    expect(qs.map((q) => q.startMs)).toEqual([DAY0, DAY0 + QUARTER_MS, DAY0 + 2 * QUARTER_MS]);
    for (const q of qs) {
      expect(q.quality.complete).toBe(false);
      expect(q.quality.gaps.map((g: any) => g.device).sort()).toEqual(['gas', 'grid', 'hw', 'kiln', 'lineA', 'press', 'steam']);
    }
  });
  it('integrated power (no counter) survives a crash: the next sample integrates from the checkpointed one', () => {
    const run = (crashAtMin?: number) => {
      const { db } = tmpDb();
      const config = demoConfig();
      config.devices = config.devices.filter((d) => d.id === 'heatpump');
      const mk = () => makeEngine(db, { config, hasPoint: (_d, p) => p === 'active_power' });
      let engine = mk();
      for (let s = 0; s <= 2 * 15 * 60 + 60; s += 5) {
        if (crashAtMin !== undefined && s === crashAtMin * 60) engine = mk(); // no stop(): a crash
        engine.ingest([{ device: 'heatpump', point: 'active_power', canonical: 'active_power', value: 3600, quality: 'good', ts: DAY0 + s * 1000, source: 'test' }]);
      }
      engine.advance(DAY0 + 2 * QUARTER_MS + 60_000);
      return quarters(db);
    };
    const base = run();
    const crashed = run(22.5);
    expect(base.map((q) => q.energy_Wh.heat_pump)).toEqual([900, 900]); // 3.6 kW x 15 min
    expect(crashed.map((q) => q.energy_Wh.heat_pump)).toEqual([900, 900]);
    expect(crashed.every((q) => q.quality.complete && q.quality.integrated.includes('heatpump'))).toBe(true);
  });
  it('a quarter close that fails (database busy) keeps the window and is retried: nothing lost or doubled', () => {
    const run = (block: boolean) => {
      const { dir } = tmpDb();
      const file = path.join(dir, 'busy.db');
      const db = new Database(file, { timeout: 10 });
      db.pragma('journal_mode = WAL');
      const engine = makeEngine(db, { config: factory() });
      const blocker = new Database(file);
      const f = feeder(engine);
      let failures = 0;
      for (let m = 0; m <= 50; m++) {
        if (m > 0) f.step();
        if (block && m === 16) blocker.exec('BEGIN IMMEDIATE');
        if (block && m === 20) blocker.exec('COMMIT');
        try {
          f.at(m);
        } catch (err) {
          expect(String(err)).toMatch(/busy|locked/i);
          failures++;
        }
      }
      engine.advance(DAY0 + 3 * QUARTER_MS + 60_000);
      blocker.close();
      return { qs: quarters(db), failures };
    };
    const base = run(false);
    const busy = run(true);
    expect(busy.failures).toBeGreaterThan(0);
    expect(base.failures).toBe(0);
    expect(busy.qs.length).toBe(3);
    expect(busy.qs.map((q) => q.energy_Wh)).toEqual(base.qs.map((q) => q.energy_Wh));
    expect(busy.qs.map((q) => q.co2_g)).toEqual(base.qs.map((q) => q.co2_g));
  });
});
