import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_FACTORY } from '../../tools/simulator/demo-factory.js';
import { DemoSite } from '../../tools/simulator/demo-site.js';
import { loadDemoState, saveDemoState } from '../../tools/simulator/demo-state.js';

// 2026-06-15 is a Monday; midnight in Asia/Shanghai.
const MONDAY = Date.parse('2026-06-14T16:00:00Z');
const HOUR = 3_600_000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-demo-factory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo factory', () => {
  it('runs two shifts of a few hundred kW and its production line counts only while it produces', () => {
    const site = new DemoSite({ ...DEMO_FACTORY, startMs: MONDAY });
    const at = (h: number) => {
      site.step(MONDAY + h * HOUR);
      return { base: site.powers().base, count: site.productionValues().output_count as number };
    };
    const night = at(3);
    const morning = at(10);
    const evening = at(21);
    expect(night.base).toBeLessThan(80_000);
    expect(morning.base).toBeGreaterThan(250_000);
    expect(evening.base).toBeGreaterThan(250_000); // the second shift
    expect(night.count).toBe(1_250_000); // nothing made at night
    expect(morning.count - night.count).toBeGreaterThan(1000); // 600 pcs/h from 08:00
    expect(evening.count).toBeGreaterThan(morning.count);
  });

  it('a second site started from the saved state continues every counter (temp -> fsync -> rename file)', () => {
    const first = new DemoSite({ ...DEMO_FACTORY, startMs: MONDAY });
    first.step(MONDAY + 14 * HOUR);
    saveDemoState(dir, first, MONDAY);
    expect(readdirSync(dir)).toEqual(['demo-simulator.json']); // no temp file left behind
    const saved = loadDemoState(dir)!;
    expect(saved.counters).toEqual(first.counters());
    const second = new DemoSite({ ...DEMO_FACTORY, startMs: MONDAY + 15 * HOUR, initialCounters: saved.counters, battery: { ...DEMO_FACTORY.battery, initialSoc: saved.soc } });
    expect(second.counters()).toEqual(first.counters());
    expect(second.soc()).toBeCloseTo(first.soc(), 9);
    second.step(MONDAY + 16 * HOUR);
    for (const [k, v] of Object.entries(second.counters())) expect(v, k).toBeGreaterThanOrEqual(first.counters()[k as keyof ReturnType<DemoSite['counters']>]);
  });

  it('an unreadable or foreign state file is ignored (the counters start from their defaults)', async () => {
    const { writeFileSync } = await import('node:fs');
    const other = mkdtempSync(path.join(dir, 'bad-'));
    writeFileSync(path.join(other, 'demo-simulator.json'), '{"v":1,"counters":{"gridImport":-5},"soc":3}');
    expect(loadDemoState(other)).toBeUndefined();
    writeFileSync(path.join(other, 'demo-simulator.json'), 'not json');
    expect(loadDemoState(other)).toBeUndefined();
  });
});
