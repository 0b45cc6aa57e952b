import path from 'node:path';
import os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { demoDayStore } from '../accounting/helpers.js';

// The built CLI (dist/ is compiled by `npm test` before vitest).
const CLI = path.resolve('tools/carbonedge.js');
const EXAMPLE1 = path.resolve('runtime/accounting/examples/example-1.yaml');
const run = (...args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8' });
const json = (...args: string[]) => {
  const r = run(...args);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'report-'));

const TOTALS = ['scope1_t', 'scope2_location_t', 'scope2_market_t', 'total_location_t', 'total_market_t'] as const;

describe('carbonedge report --activity (example 1)', () => {
  const inv = json('inventory', '--activity', EXAMPLE1, '--json');
  const rep = json('report', '--activity', EXAMPLE1, '--format', 'json', '--lang', 'zh');

  it('carries the inventory JSON figures unchanged', () => {
    for (const k of TOTALS) expect(rep.totals[k], k).toBe(inv[k]);
    expect(rep.inventory.exact).toEqual(inv.exact);
    expect(rep.green_share.annual_volumetric).toBe(inv.green_share_annual);
    expect(rep.energy.electricity).toEqual({ grid_import_MWh: 10000, grid_export_MWh: 0, onsite_renewable_MWh: 2000, consumption_MWh: inv.consumption_MWh });
  });

  it('lists Scope 1 by source, Scope 2 both methods, the GEC evidence and every factor with its source', () => {
    expect(rep.scope1.map((x: { factor_id: string }) => x.factor_id)).toEqual(['natural_gas', 'diesel']);
    expect(rep.scope2.filter((x: { method: string }) => x.method === 'location').length).toBeGreaterThan(0);
    expect(rep.scope2.filter((x: { method: string }) => x.method === 'market').length).toBeGreaterThan(0);
    expect(rep.evidence).toEqual([{ type: 'GEC', MWh: '3000', vintage: '2023', serials: ['GEC2023A000001..GEC2023A003000'], evidence: '1 serial entry' }]);
    const ids = rep.factors.map((f: { id: string }) => f.id);
    expect(ids).toEqual(expect.arrayContaining(['CN-2023-national', 'CN-2023-residual', 'CN-heat-default', 'CN-2023-pf-national', 'CN-2024-pf-pv']));
    for (const f of rep.factors) expect(f.source, f.id).not.toBe('');
  });

  it('has the 12 months (adding up to the totals) and the product footprint, reconciled', () => {
    expect(rep.monthly).toHaveLength(12);
    expect(rep.monthly.reduce((a: number, m: { grid_import_MWh: number }) => a + m.grid_import_MWh, 0)).toBe(10000);
    expect(rep.footprint.reconciles).toBe(true);
    expect(rep.footprint.allocation.rule).toBe('mass');
    expect(rep.footprint.products.map((p: { product: string }) => p.product)).toEqual(['gear housing', 'drive shaft', 'flange']);
    expect(rep.footprint.products.reduce((a: number, p: { energy_MWh: number }) => a + p.energy_MWh, 0)).toBeCloseTo(12000, 6);
  });

  it('HTML (zh) and Markdown (en) show the same figures, rounded half-up', () => {
    const html = run('report', '--activity', EXAMPLE1, '--format', 'html', '--lang', 'zh').stdout;
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain('排放总量（基于市场）');
    expect(html).toContain(`<td class="n">${inv.total_market_t.toFixed(3)}</td>`);
    expect(html).toContain('天然气');
    expect(html).toContain('<svg class="chart"');
    const md = run('report', '--activity', EXAMPLE1, '--format', 'md', '--lang', 'en').stdout;
    expect(md).toContain(`| Total (market-based) | ${inv.total_market_t.toFixed(3)} |`);
    expect(md).toContain(`| Total (location-based) | ${inv.total_location_t.toFixed(3)} |`);
    expect(md).toContain('## 8. Product intensities and product carbon footprint');
  });

  it('PDF (zh) renders through Chromium and back to an image, with its Chinese text and totals', () => {
    const dir = tmp();
    const pdf = path.join(dir, 'report.pdf');
    const r = run('report', '--activity', EXAMPLE1, '--format', 'pdf', '--lang', 'zh', '--out', pdf);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    execFileSync('/usr/bin/pdftoppm', ['-png', '-r', '40', '-f', '1', '-l', '1', pdf, path.join(dir, 'page')]);
    const png = path.join(dir, 'page-1.png');
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(5_000);
    const text = execFileSync('/usr/bin/pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
    expect(text).toContain('温室气体排放与零碳工厂信息披露报告');
    expect(text).toContain(inv.total_market_t.toFixed(3));
  });

  it('months that do not add up to the totals are an error naming file, line and path; nothing is written', () => {
    const dir = tmp();
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(EXAMPLE1, 'utf8').replace('gridImportMWh: 900,', 'gridImportMWh: 901,'));
    const out = path.join(dir, 'r.html');
    const r = run('report', '--activity', bad, '--format', 'html', '--lang', 'en', '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:\d+.*\/monthly/);
    expect(r.stderr).toContain('add up to 10001 MWh, the electricity total is 10000 MWh');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses bad usage with exit code 2', () => {
    expect(run('report', '--activity', EXAMPLE1, '--format', 'docx').status).toBe(2);
    expect(run('report', '--activity', EXAMPLE1, '--lang', 'fr').status).toBe(2);
    expect(run('report', '--activity', EXAMPLE1, '--format', 'pdf').status).toBe(2);
    expect(run('report', '--format', 'json').status).toBe(2);
  });
});

describe('carbonedge report --db (the demo site stored day)', async () => {
  const { file } = await demoDayStore();
  const inv = json('inventory', '--db', file, '--from', '2024-06-01', '--to', '2024-06-01', '--json');
  const rep = json('report', '--db', file, '--period', '2024-06-01', '--format', 'json', '--lang', 'en');

  it('carries the store inventory figures unchanged, with coverage and one month', () => {
    for (const k of TOTALS) expect(rep.totals[k], k).toBe(inv[k]);
    expect(rep.completeness).toMatchObject({ complete: true, quarters: 96, complete_quarters: 96, gaps: [] });
    expect(rep.monthly).toHaveLength(1);
    expect(rep.monthly[0].month).toBe('2024-06');
    expect(rep.monthly[0].co2_market_t).toBeCloseTo(inv.total_market_t, 6);
    expect(rep.monthly[0].consumption_MWh).toBeCloseTo(inv.consumption_MWh, 6);
  });

  it('without --period reports every stored day (the partial day before is included and incomplete)', () => {
    const all = json('report', '--db', file, '--format', 'json', '--lang', 'en');
    expect(all.period).toEqual({ from: '2024-05-31', to: '2024-06-01' });
    expect(all.completeness.complete).toBe(false);
    expect(all.completeness.gaps.length).toBeGreaterThan(0);
  });

  it('renders as HTML in Chinese', () => {
    const html = run('report', '--db', file, '--period', '2024-06-01', '--format', 'html', '--lang', 'zh').stdout;
    expect(html).toContain('网关数据库');
    expect(html).toContain(`<td class="n">${inv.total_location_t.toFixed(3)}</td>`);
  });
});
