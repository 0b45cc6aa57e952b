import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { inventoryFromDb } from '../../runtime/accounting/store-inventory.js';
import { Q } from '../../runtime/accounting/exact.js';
import { createAjv } from '../../runtime/config/ajv-issues.js';
import { demoDayStore } from './helpers.js';
import schema15 from '../../runtime/uplink/contract/carbon-15m.v1.schema.json' with { type: 'json' };
import schemaDay from '../../runtime/uplink/contract/carbon-day.v1.schema.json' with { type: 'json' };

describe('end to end: demo site for a simulated day through hub, store and accounting', async () => {
  const { file, stats } = await demoDayStore();

  const db = new Database(file, { readonly: true });
  const payloads = (stream: string) => (db.prepare('SELECT payload FROM outbox WHERE stream = ? ORDER BY seq').pluck().all(stream) as string[]).map((p) => JSON.parse(p));
  const q15 = payloads('carbon-15m').filter((r) => r.day === '2024-06-01');
  const days = payloads('carbon-day');
  db.close();

  it('enqueued 96 quarter-hour summaries and one day summary, valid against their schemas', () => {
    expect(stats.quarters).toBeGreaterThanOrEqual(96);
    expect(q15.length).toBe(96);
    // the gateway started a minute before midnight: that partial day is reported, incomplete
    expect(days.map((d) => d.day)).toEqual(['2024-05-31', '2024-06-01']);
    expect(days[0].quality).toMatchObject({ complete: false, quarters: 1, expectedQuarters: 96 });
    expect(days[1].quality).toMatchObject({ complete: true, quarters: 96 });
    const ajv = createAjv();
    const v15 = ajv.compile(schema15);
    const vDay = ajv.compile(schemaDay);
    for (const r of q15) expect(v15(r), JSON.stringify(v15.errors)).toBe(true);
    for (const d of days) expect(vDay(d), JSON.stringify(vDay.errors)).toBe(true);
    expect(q15.every((r) => r.quality.complete)).toBe(true);
  });

  it('the day inventory from the store equals the sum of its 15-minute summaries, exactly', () => {
    const inv = inventoryFromDb(file, '2024-06-01', '2024-06-01');
    for (const [k, field] of [
      ['scope1', 'scope1_t'],
      ['scope2_location', 'scope2_location_t'],
      ['scope2_market', 'scope2_market_t'],
      ['total_location', 'total_location_t'],
      ['total_market', 'total_market_t'],
    ] as const) {
      const sumG = Q.sum(q15.map((r) => Q.from(r.co2_g[k])));
      expect(Q.from(days[1].co2_g[k]).eq(sumG), k).toBe(true);
      expect(Q.from(inv.exact[field]).eq(sumG.div(1_000_000)), `${k}: ${inv.exact[field]} vs ${sumG.div(1_000_000).toString()}`).toBe(true);
    }
    expect(inv.total_location_t).toBeGreaterThan(0.005); // a Saturday: PV exceeds the load
    expect((inv as any).energy_MWh.pv).toBeGreaterThan(0.1);
    expect(inv.green_share_annual).toBeGreaterThan(0);
    expect(inv.green_share_hourly).toBeGreaterThanOrEqual(inv.green_share_annual - 1e-9);
    expect(inv.method.market_remainder_factor).toBe('CN-2023-residual');
    expect((inv as any).coverage).toMatchObject({ quarters: 96, complete_quarters: 96 });
  });

  it('carbonedge inventory --db prints the same figures', () => {
    // dist/ is compiled by `npm test` before vitest (compiling here would race other files reading dist/).
    const out = JSON.parse(execFileSync('node', [path.resolve('tools/carbonedge.js'), 'inventory', '--db', file, '--from', '2024-06-01', '--to', '2024-06-01', '--json'], { encoding: 'utf8' }));
    const inv = inventoryFromDb(file, '2024-06-01', '2024-06-01');
    expect(out.total_market_t).toBe(inv.total_market_t);
    expect(out.exact.total_market_t).toBe(inv.exact.total_market_t);
    expect(out.lines.find((l: any) => l.category === 'electricity').factor_id).toBe('CN-2023-national');
    for (const l of out.lines.filter((x: any) => x.emissions_t !== 0)) expect(l.factor_source, l.description).toBeTruthy();
    const table = execFileSync('node', [path.resolve('tools/carbonedge.js'), 'inventory', '--db', file, '--from', '2024-06-01', '--to', '2024-06-01'], { encoding: 'utf8' });
    expect(table).toMatch(new RegExp(`Total \\(market-based\\)\\s+${inv.total_market_t.toFixed(6).replace('.', '\\.')}`));
  });
});

describe('contract examples', () => {
  it('the carbon-15m and carbon-day examples validate against their schemas', async () => {
    const ajv = createAjv();
    for (const [schema, file] of [
      [schema15, 'carbon-15m.json'],
      [schemaDay, 'carbon-day.json'],
    ] as const) {
      const v = ajv.compile(schema);
      const ex = JSON.parse((await import('node:fs')).readFileSync(path.resolve('runtime/uplink/contract/examples', file), 'utf8'));
      expect(ex.records.length).toBeGreaterThan(0);
      for (const r of ex.records) expect(v(r), JSON.stringify(v.errors)).toBe(true);
    }
  });
});
