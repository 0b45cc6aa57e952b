/**
 * Contractual instruments pushed after the config: `carbonedge instruments` (a separate process)
 * writes them into the store while the accounting engine runs on it; the engine applies them from
 * the next quarter-hour it closes. Same checks and idempotency as the in-process service.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Q } from '../../runtime/accounting/exact.js';
import { QUARTER_MS } from '../../runtime/accounting/live.js';
import type { Reading } from '../../runtime/types.js';
import { DAY0, demoConfig, makeEngine } from './helpers.js';

// The built CLI (dist/, compiled by `npm test`; run `npm run build` before this file alone).
const CLI = path.resolve('tools/carbonedge.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'instruments', ...args], { encoding: 'utf8' });

describe('carbonedge instruments: certificates pushed later reach the running accounting', () => {
  it('an instrument added by the CLI covers grid import from the next quarter; pushing it again counts nothing twice', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'acct-ins-'));
    const file = path.join(dir, 'carbonedge.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const config = demoConfig();
    config.devices = config.devices.filter((d) => d.id === 'grid');
    const engine = makeEngine(db, { config });
    let imp = 1000;
    const sample = (minute: number) => {
      const r: Reading = { device: 'grid', point: 'energy_import', canonical: 'energy_import', value: imp, quality: 'good', ts: DAY0 + minute * 60_000, source: 'test' };
      engine.ingest([r]);
    };
    // quarter 0: no instrument yet
    for (let m = 0; m <= 16; m++) {
      if (m) imp += 0.25;
      sample(m);
    }
    engine.advance(DAY0 + QUARTER_MS + 60_000);

    const add = ['--db', file, '--timezone', 'Asia/Shanghai', '--add', '--type', 'GEC', '--mwh', '5', '--serials', 'GEC2024SD000001..GEC2024SD000005', '--vintage', '2024'];
    const r1 = cli(...add);
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(r1.stdout).toMatch(/recorded GEC 5 MWh/);
    const r2 = cli(...add);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toMatch(/already recorded.*not counted twice/);
    const ppa = cli('--db', file, '--timezone', 'Asia/Shanghai', '--add', '--type', 'green-power-contract', '--mwh', '0.001', '--evidence', 'contract GP-2024-017, settlement 2024-06', '--valid-from', '2024-06-01', '--valid-to', '2024-06-30');
    expect(ppa.status).toBe(0);

    // quarters 1 and 2: the running engine (its own connection) applies them, FIFO by validity start
    for (let m = 17; m <= 46; m++) {
      imp += 0.25;
      sample(m);
    }
    engine.advance(DAY0 + 3 * QUARTER_MS + 60_000);
    const qs = (db.prepare('SELECT record FROM acct_quarter ORDER BY start_ms').pluck().all() as string[]).map((x) => JSON.parse(x));
    expect(qs.map((q) => q.energy_Wh.grid_import)).toEqual([3_750, 3_750, 3_750]);
    expect(qs.map((q) => q.energy_Wh.instrument_covered)).toEqual([0, 3_750, 3_750]);
    expect(Q.from(qs[0].co2_g.electricity_market).eq(Q.of(3_750).mul('0.6096'))).toBe(true);
    expect(Q.from(qs[1].co2_g.electricity_market).isZero()).toBe(true);

    const list = cli('--db', file, '--list', '--json');
    expect(list.status).toBe(0);
    const rows = JSON.parse(list.stdout) as { type: string; remainingMWh: number; totalMWh: number; serials?: string[] }[];
    expect(rows.map((r) => [r.type, r.totalMWh])).toEqual([
      ['GEC', 5],
      ['green-power-contract', 0.001],
    ]);
    // 7.5 kWh covered in all: the vintage-year GEC starts earlier (2024-01-01) so it is drawn first
    expect(rows[0]!.remainingMWh).toBe(5 - 0.0075);
    expect(rows[1]!.remainingMWh).toBe(0.001);
    engine.stop();
    db.close();
  });

  it('missing evidence, serials that do not add up and serials claimed twice are refused; nothing is recorded', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'acct-ins-'));
    const file = path.join(dir, 'carbonedge.db');
    const noEvidence = cli('--db', file, '--add', '--type', 'green-power-contract', '--mwh', '10');
    expect(noEvidence.status).toBe(1);
    expect(noEvidence.stderr).toMatch(/missing evidence: green-power-contract of 10 MWh has neither serials nor an evidence reference/);
    const short = cli('--db', file, '--add', '--type', 'GEC', '--mwh', '3', '--serials', 'A000001..A000002');
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(/2 GEC serials do not cover 3 MWh/);
    expect(cli('--db', file, '--add', '--type', 'GEC', '--mwh', '2', '--serials', 'A000001..A000002').status).toBe(0);
    // a batch file: one good, one overlapping a recorded range -> all refused
    const batch = path.join(dir, 'gec.yaml');
    writeFileSync(batch, 'instruments:\n  - { type: GEC, MWh: 1, serials: [B000001] }\n  - { type: GEC, MWh: 2, serials: ["A000002..A000003"] }\n');
    const clash = cli('--db', file, '--file', batch);
    expect(clash.status).toBe(1);
    expect(clash.stderr).toMatch(/already claimed/);
    writeFileSync(batch, 'instruments:\n  - { type: GEC, MWh: 1, serials: [B000001] }\n  - { type: GEC, MWh: 2 }\n');
    const bad = cli('--db', file, '--file', batch);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/gec\.yaml.*\/instruments\/1.*missing evidence/);
    const rows = JSON.parse(cli('--db', file, '--list', '--json').stdout) as unknown[];
    expect(rows.length).toBe(1);
    expect(cli('--db', file, '--list').stdout).toMatch(/^GEC 2 MWh: 2\.000000 MWh unused; serials A000001\.\.A000002\n$/);
  });
});
