import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { quarterSummaryLine } from '../../runtime/accounting/summary-line.js';
import { DEMO_DEVICES, DemoSite } from '../../tools/simulator/demo-site.js';
import { DAY0, MemoryOutbox, deviceReadings, makeEngine, tmpDb } from './helpers.js';

/** A pino logger whose JSON lines land in `lines`. */
function captureLogger() {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('the closed 15-minute carbon summary in one log line', () => {
  it('formats energy, CO2 by both methods, green share and per-product intensity', () => {
    const { msg, fields } = quarterSummaryLine({
      day: '2024-06-01',
      timezone: 'Asia/Shanghai',
      start: '2024-06-01T02:00:00.000Z',
      startMs: Date.parse('2024-06-01T02:00:00Z'),
      endMs: Date.parse('2024-06-01T02:15:00Z'),
      energy_Wh: { consumption: 80_400, grid_import: 20_100, grid_export: 0, pv: 61_000, wind: 0, generator: 0 },
      co2_kg: { total_location: 10.668, total_market: 11.02 },
      green: { annual_volumetric: 0.75 },
      production: [{ device: 'line1', quantity: '120', unit: 'pcs', kgCO2_per_unit_location: 0.0888 }],
      quality: { complete: true },
    });
    expect(msg).toBe(
      'carbon 15 min 2024-06-01 10:00-10:15: used 80.4 kWh (grid 20.1, on-site 61.0, export 0.0), CO2 10.67 kg location / 11.02 kg market, green 75 %, line1 120 pcs at 0.089 kgCO2/pcs',
    );
    expect(fields).toMatchObject({ consumption_kWh: 80.4, co2_location_kg: 10.668, co2_market_kg: 11.02, green: 0.75, complete: true });
  });

  it('the engine logs one such line at info for every quarter it closes', () => {
    const { db } = tmpDb();
    const { logger, lines } = captureLogger();
    const engine = makeEngine(db, { outbox: new MemoryOutbox(), logger });
    const site = new DemoSite({ seed: 7, startMs: DAY0, utcOffsetMinutes: 480 });
    for (let t = DAY0; t <= DAY0 + 3_600_000 + 60_000; t += 10_000) {
      site.step(t);
      engine.ingest(DEMO_DEVICES.flatMap((d) => deviceReadings(site, d, t, true)));
    }
    const summaries = lines.filter((l) => String(l.msg).startsWith('carbon 15 min'));
    expect(summaries.map((l) => l.msg.slice(0, 38))).toEqual([
      'carbon 15 min 2024-06-01 00:00-00:15: ',
      'carbon 15 min 2024-06-01 00:15-00:30: ',
      'carbon 15 min 2024-06-01 00:30-00:45: ',
      'carbon 15 min 2024-06-01 00:45-01:00: ',
    ]);
    for (const l of summaries) {
      expect(l.level).toBe(30);
      expect(l.msg).toMatch(/used \d+\.\d kWh .* CO2 \d+\.\d\d kg location \/ \d+\.\d\d kg market, green \d+ %/);
      expect(l.consumption_kWh).toBeGreaterThan(0);
    }
  });
});
