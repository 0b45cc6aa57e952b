/**
 * Offsets and the zero-carbon balance (issue 13): acceptance vectors worked by hand, the activity
 * file's exact `offsets` form, the evidence and double-claim checks, the CLI and `inventory --db`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { Q } from '../../runtime/accounting/exact.js';
import { activityToInput, loadActivityFile } from '../../runtime/accounting/activity.js';
import { migrateAccounting } from '../../runtime/accounting/acct-db.js';
import { accountingConfigSchema } from '../../runtime/accounting/config-schema.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { computeInventory } from '../../runtime/accounting/inventory.js';
import { offsetSchema, recordOffset } from '../../runtime/accounting/offsets.js';
import { inventoryFromDb } from '../../runtime/accounting/store-inventory.js';
import { validateAccountingConfig } from '../../runtime/accounting/config-schema.js';
import { validateSiteConfig } from '../../tools/cli/site.js';
import { ACCOUNTING, demoConfig, profiles } from './helpers.js';

const lib = loadFactorLibrary();
const ex1 = () => parseYaml(readFileSync(path.resolve('runtime/accounting/examples/example-1.yaml'), 'utf8')) as Record<string, unknown>;
const inv = (a: unknown) => computeInventory(activityToInput(a, lib));
const tmp = () => mkdtempSync(path.join(tmpdir(), 'offsets-'));
const ccer = (tCO2: number, n: string) => ({ type: 'CCER', tCO2, vintage: 2023, project: 'CCER-1234-2023', serials: [`CCER2023${n}000001..CCER2023${n}000${String(tCO2).padStart(3, '0')}`], retiredOn: '2024-03-01', evidence: 'retirement record R-2024-0301' });

describe('acceptance vectors (example 1 of the reference: gross 7,329.012597 t location, 6,290.212597 t market)', () => {
  it('no offsets: offsets_t 0, net = gross, not zero-carbon, and it says what is missing', () => {
    const r = inv(ex1());
    expect(r.offsets_t).toBe(0);
    expect(r.net_location_t).toBe(7329.012597);
    expect(r.net_market_t).toBe(6290.212597);
    expect(r.zero_carbon).toBe(false);
    expect(r.zero_carbon_missing.join('\n')).toMatch(/net market-based balance is 6290\.212597 tCO2 > 0.*no retired offsets/);
  });
  it('CCER 500 t: net location 7,329.012597 - 500 = 6,829.012597; net market 6,290.212597 - 500 = 5,790.212597; gross unchanged', () => {
    const r = inv({ ...ex1(), offsets: [ccer(500, 'A')] });
    expect(r.total_location_t).toBe(7329.012597); // gross never netted
    expect(r.total_market_t).toBe(6290.212597);
    expect(r.offsets_t).toBe(500);
    expect(r.net_location_t).toBe(6829.012597);
    expect(r.net_market_t).toBe(5790.212597);
    expect(r.zero_carbon).toBe(false);
    expect(r.zero_carbon_missing[0]).toMatch(/retire 5790\.212597 t more/);
    expect(r.lines.filter((l) => l.category === 'offset')).toHaveLength(1);
  });
  it('CCER 6,000 t + VCS 300 t (type stated): net market 6,290.212597 - 6,300 = -9.787403 -> zero_carbon; net location 1,029.012597', () => {
    const vcs = { type: 'VCS', tCO2: 300, vintage: 2023, project: 'VCS-981', serials: ['VCS-981-2023-1..VCS-981-2023-300'], retiredOn: '2024-02-10', evidence: 'Verra retirement 2024-02-10 #4471' };
    const r = inv({ ...ex1(), offsets: [ccer(6000, 'B'), vcs] });
    expect(r.offsets_t).toBe(6300);
    expect(r.net_market_t).toBe(-9.787403);
    expect(r.net_location_t).toBe(1029.012597);
    expect(r.zero_carbon).toBe(true);
    expect(r.zero_carbon_missing).toEqual([]);
    expect(r.lines.find((l) => l.category === 'offset' && l.description.includes('VCS'))!.description).toMatch(/type VCS, not CCER: stated/);
    // exact: the exact gross (gas and diesel factors are exact rationals) minus 6,300
    expect(Q.from(r.exact.net_market_t!).eq(Q.from(r.exact.total_market_t).sub(Q.from(6300)))).toBe(true);
  });
  it('net exactly 0 is zero-carbon (<= 0): 1,000 MWh x 0.5 = 500 t, offset 500 t', () => {
    const r = inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 1000 }, offsets: [ccer(500, 'C')] });
    expect([r.total_market_t, r.net_market_t, r.net_location_t, r.zero_carbon]).toEqual([500, 0, 0, true]);
  });
});

describe('the activity file form, exactly as the issue writes it', () => {
  it('offsets: [{ type: CCER, tCO2: 500, vintage: 2023, project: "...", serials: ["..."], retiredOn: 2024-03-01, evidence: "..." }]', () => {
    const dir = tmp();
    const file = path.join(dir, 'a.yaml');
    writeFileSync(
      file,
      `${readFileSync(path.resolve('runtime/accounting/examples/example-1.yaml'), 'utf8')}\noffsets: [{ type: CCER, tCO2: 500, vintage: 2023, project: "CCER-1234-2023", serials: ["CCER2023A000001..CCER2023A000500"], retiredOn: 2024-03-01, evidence: "retirement record R-2024-0301" }]\n`,
    );
    const r = computeInventory(loadActivityFile(file, lib), file);
    expect([r.offsets_t, r.net_market_t]).toEqual([500, 5790.212597]);
    // The CLI prints the same fields.
    const cli = spawnSync(process.execPath, [path.resolve('tools/carbonedge.js'), 'inventory', '--activity', file, '--json'], { encoding: 'utf8' });
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout)).toMatchObject({ offsets_t: 500, net_location_t: 6829.012597, net_market_t: 5790.212597, zero_carbon: false });
  });
  it('one schema for the activity file, the site config and the MQTT command (no drift)', () => {
    const activity = JSON.parse(readFileSync(path.resolve('runtime/accounting/activity.schema.json'), 'utf8')) as { properties: { offsets: { items: unknown } } };
    const v3 = JSON.parse(readFileSync(path.resolve('runtime/uplink/contract/command-instruments.v3.schema.json'), 'utf8')) as { properties: { offset: unknown; instrument: unknown } };
    expect(activity.properties.offsets.items).toEqual(offsetSchema);
    expect(v3.properties.offset).toEqual(offsetSchema);
    expect(v3.properties.instrument).toEqual((accountingConfigSchema.properties as { instruments: { items: unknown } }).instruments.items);
    expect((accountingConfigSchema.properties as { offsets: { items: unknown } }).offsets.items).toBe(offsetSchema);
  });
});

describe('evidence and double claims are errors (as for certificates)', () => {
  const issues = (offsets: unknown[]) => {
    try {
      inv({ gridFactor: 0.5, marketRemainder: 'grid-average', electricity: { gridImportMWh: 10 }, offsets });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => `${i.code} ${i.path}: ${i.message}`).join('\n');
    }
    throw new Error('expected an error');
  };
  it('neither serials nor evidence; unverifiable evidence; the same serials in two entries; vintage after retirement', () => {
    const bare = { type: 'CCER', tCO2: 5, vintage: 2023, project: 'P1', retiredOn: '2024-03-01' };
    expect(issues([bare])).toMatch(/CE_CONFIG_EVIDENCE \/offsets\/0: missing evidence/);
    expect(issues([{ ...bare, evidence: 'yes' }])).toMatch(/\/offsets\/0\/evidence: evidence "yes" is too short/);
    expect(issues([ccer(5, 'D'), ccer(5, 'D')])).toMatch(/CE_CONFIG_EVIDENCE \/offsets: the same offset serials appear in more than one entry/);
    expect(issues([{ ...ccer(5, 'E'), vintage: 2025 }])).toMatch(/\/offsets\/0\/vintage: vintage 2025 is after the retirement/);
  });
  it('the store refuses serials already claimed by a recorded offset; the same offset twice is recorded once', () => {
    const db = new Database(path.join(tmp(), 'c.db'));
    migrateAccounting(db);
    expect(recordOffset(db, ccer(100, 'F'), 1).added).toBe(true);
    expect(recordOffset(db, ccer(100, 'F'), 2)).toMatchObject({ added: false, issues: [] });
    const overlap = { ...ccer(100, 'F'), tCO2: 50, serials: ['CCER2023F000051..CCER2023F000100'] };
    expect(recordOffset(db, overlap, 3).issues[0]!.message).toMatch(/already claimed/);
    db.close();
  });
});

describe('site config accounting.offsets', () => {
  it('the schema takes the entry; the check refuses one without evidence and serials claimed twice', () => {
    const ok = ccer(500, 'K');
    expect(() => validateSiteConfig(JSON.parse(JSON.stringify(demoConfig({ ...ACCOUNTING, offsets: [ok] }))), 'site.yaml')).not.toThrow();
    const bare = { type: 'GS', tCO2: 5, vintage: 2023, project: 'GS-1', retiredOn: '2024-03-01' };
    const issues = validateAccountingConfig(demoConfig({ ...ACCOUNTING, offsets: [ok, ok, bare] }), profiles, 'site.yaml').map((i) => `${i.code} ${i.path}: ${i.message}`);
    expect(issues).toEqual([
      expect.stringMatching(/^CE_CONFIG_EVIDENCE \/accounting\/offsets\/2: missing evidence/),
      expect.stringMatching(/^CE_CONFIG_EVIDENCE \/accounting\/offsets: the same offset serials appear in more than one entry/),
    ]);
  });
});

describe('carbonedge offsets and inventory --db', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.resolve('tools/carbonedge.js'), ...args], { encoding: 'utf8' });
  /** A store with every quarter-hour of 2023-06-01 (UTC) closed: 1 MWh imported per quarter at 0.5 t/MWh -> 48 t. */
  const store = (complete: (i: number) => boolean, quarters = 96) => {
    const file = path.join(tmp(), 'carbonedge.db');
    const db = new Database(file);
    migrateAccounting(db);
    const t0 = Date.parse('2023-06-01T00:00:00Z');
    const f = { id: 'F', value: '0.5', unit: 'tCO2/MWh', source: 'test' };
    const ins = db.prepare('INSERT INTO acct_quarter (start_ms, end_ms, day, hour, complete, record) VALUES (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < quarters; i++) {
      const startMs = t0 + i * 900_000;
      const rec = {
        startMs,
        endMs: startMs + 900_000,
        day: '2023-06-01',
        site: 's',
        timezone: 'UTC',
        method: { locationFactor: f, marketRemainder: 'grid-average', remainderFactor: f, remainderStatement: 'x', heatFactor: { id: 'h' }, onsiteAttributes: 'none' },
        energy_Wh: { grid_import: 1_000_000, consumption: 1_000_000 },
        co2_g: { electricity_location: '500000', electricity_market: '500000', scope2_location: '500000', scope2_market: '500000', total_location: '500000', total_market: '500000' },
        fuels: [],
        heat: [],
        production: [],
        quality: { complete: complete(i), gaps: complete(i) ? [] : [{ device: 'grid', from: startMs, to: startMs + 60_000 }], flags: [], integrated: [] },
      };
      ins.run(startMs, startMs + 900_000, '2023-06-01', '00', complete(i) ? 1 : 0, JSON.stringify(rec));
    }
    db.close();
    return file;
  };
  const day = { type: 'CCER', tco2: '48', vintage: '2023', project: 'CCER-77', 'retired-on': '2024-01-15', serials: 'CCER2023G000001..CCER2023G000048', evidence: 'retirement record R-2024-0115', 'claim-from': '2023-06-01', 'claim-to': '2023-06-01' };
  const args = (o: Record<string, string>) => Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]);
  it('--add then --list; inventory --db counts it for its claim period: 48 t - 48 t = 0 -> zero_carbon', () => {
    const db = store(() => true);
    const add = cli('offsets', '--db', db, '--add', ...args(day));
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/recorded offset CCER 48 tCO2/);
    expect(cli('offsets', '--db', db, '--add', ...args(day)).stdout).toMatch(/already recorded/);
    const list = JSON.parse(cli('offsets', '--db', db, '--list', '--json').stdout) as unknown[];
    expect(list).toEqual([expect.objectContaining({ type: 'CCER', tCO2: 48, retiredOn: '2024-01-15', claimFor: { from: '2023-06-01', to: '2023-06-01' } })]);
    const r = inventoryFromDb(db, '2023-06-01', '2023-06-01');
    expect([r.total_market_t, r.offsets_t, r.net_market_t, r.zero_carbon]).toEqual([48, 48, 0, true]);
    // The report of the same stored day carries the stored offset and the same balance.
    const rep = JSON.parse(cli('report', '--db', db, '--period', '2023-06-01', '--format', 'json', '--lang', 'en').stdout) as { balance: { offsets_t: number; net_market_t: number; zero_carbon: boolean; offsets: { type: string; tCO2: number }[] } };
    expect([rep.balance.offsets_t, rep.balance.net_market_t, rep.balance.zero_carbon]).toEqual([48, 0, true]);
    expect(rep.balance.offsets).toEqual([expect.objectContaining({ type: 'CCER', tCO2: 48 })]);
  });
  it('a gap keeps zero_carbon false even when the net is <= 0, and so do quarters missing from the store', () => {
    const gappy = store((i) => i !== 10);
    expect(cli('offsets', '--db', gappy, '--add', ...args(day)).status).toBe(0);
    const r = inventoryFromDb(gappy, '2023-06-01', '2023-06-01');
    expect(r.net_market_t).toBe(0);
    expect(r.zero_carbon).toBe(false);
    expect(r.zero_carbon_missing).toEqual([expect.stringMatching(/1 of 96 quarter-hours have data gaps/)]);
    const partial = store(() => true, 90);
    cli('offsets', '--db', partial, '--add', ...args({ ...day, tco2: '45', serials: 'CCER2023H000001..CCER2023H000045' }));
    const p = inventoryFromDb(partial, '2023-06-01', '2023-06-01');
    expect(p.zero_carbon).toBe(false);
    expect(p.zero_carbon_missing).toEqual([expect.stringMatching(/6 of 96 quarter-hours of the period are not in the store/)]);
  });
  it('refuses an offset without evidence, with the code', () => {
    const db = store(() => true, 4);
    const r = cli('offsets', '--db', db, '--add', '--type', 'GS', '--tco2', '5', '--vintage', '2023', '--project', 'GS-1', '--retired-on', '2024-01-01');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CE_CONFIG_EVIDENCE .*missing evidence/);
  });
});
