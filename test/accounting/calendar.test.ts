import { describe, expect, it } from 'vitest';
import { Calendar, QUARTER_MS, formatOffset, splitOverQuarters } from '../../runtime/accounting/calendar.js';
import { inventoryFromQuarters, quartersFromDb } from '../../runtime/accounting/store-inventory.js';
import type { Reading } from '../../runtime/types.js';
import { MemoryOutbox, demoConfig, makeEngine, tmpDb } from './helpers.js';
import { prng } from '../helpers/prng.js';

const iso = (ts: number) => new Date(ts).toISOString().replace('.000', '');

/** Every quarter-hour of the local day that contains `at`: its hour buckets in order. */
function hoursOfDay(tz: string, at: string) {
  const cal = new Calendar(tz);
  const start = cal.dayStart(Date.parse(at));
  const day = cal.day(start);
  const hours: { key: string; label: string; start: string; quarters: number }[] = [];
  let quarters = 0;
  for (let t = start; cal.day(t) === day; t += QUARTER_MS) {
    quarters++;
    const h = cal.hour(t);
    const last = hours[hours.length - 1];
    if (last && last.key === h.key) last.quarters++;
    else hours.push({ key: h.key, label: h.label, start: iso(h.start), quarters: 1 });
    expect(cal.keys(t).hour).toBe(h.key);
  }
  return { start: iso(start), quarters, hours };
}

describe('calendar: hour and day buckets by UTC instant, labelled in local time', () => {
  it('Europe/Berlin 2024-10-27 has 25 hours: two distinct 02:00 hours', () => {
    const d = hoursOfDay('Europe/Berlin', '2024-10-27T12:00:00Z');
    expect(d.start).toBe('2024-10-26T22:00:00Z');
    expect(d.quarters).toBe(100);
    expect(d.hours.length).toBe(25);
    expect(new Set(d.hours.map((h) => h.key)).size).toBe(25);
    expect(d.hours.every((h) => h.quarters === 4)).toBe(true);
    expect(d.hours.slice(1, 5)).toEqual([
      { key: '2024-10-27T01', label: '2024-10-27T01', start: '2024-10-26T23:00:00Z', quarters: 4 },
      { key: '2024-10-27T02+02:00', label: '2024-10-27T02', start: '2024-10-27T00:00:00Z', quarters: 4 },
      { key: '2024-10-27T02+01:00', label: '2024-10-27T02', start: '2024-10-27T01:00:00Z', quarters: 4 },
      { key: '2024-10-27T03', label: '2024-10-27T03', start: '2024-10-27T02:00:00Z', quarters: 4 },
    ]);
    expect(d.hours[24]).toEqual({ key: '2024-10-27T23', label: '2024-10-27T23', start: '2024-10-27T22:00:00Z', quarters: 4 });
  });

  it('Europe/Berlin 2024-03-31 has 23 hours: no 02:00', () => {
    const d = hoursOfDay('Europe/Berlin', '2024-03-31T12:00:00Z');
    expect(d.start).toBe('2024-03-30T23:00:00Z');
    expect(d.quarters).toBe(92);
    expect(d.hours.length).toBe(23);
    expect(d.hours.map((h) => h.label)).not.toContain('2024-03-31T02');
    expect(d.hours.slice(0, 3)).toEqual([
      { key: '2024-03-31T00', label: '2024-03-31T00', start: '2024-03-30T23:00:00Z', quarters: 4 },
      { key: '2024-03-31T01', label: '2024-03-31T01', start: '2024-03-31T00:00:00Z', quarters: 4 },
      { key: '2024-03-31T03', label: '2024-03-31T03', start: '2024-03-31T01:00:00Z', quarters: 4 },
    ]);
  });

  it('Asia/Kolkata (UTC+05:30): local hours start at :30 UTC, the day at 18:30 UTC', () => {
    const d = hoursOfDay('Asia/Kolkata', '2024-06-01T06:00:00Z');
    expect(d.start).toBe('2024-05-31T18:30:00Z');
    expect(d.quarters).toBe(96);
    expect(d.hours.length).toBe(24);
    expect(d.hours.every((h) => h.quarters === 4 && h.start.endsWith(':30:00Z') && h.key === h.label)).toBe(true);
    expect(d.hours[10]).toEqual({ key: '2024-06-01T10', label: '2024-06-01T10', start: '2024-06-01T04:30:00Z', quarters: 4 });
  });

  // One instant per row: keys and the UTC start of its hour.
  const ROWS: { tz: string; at: string; hour: string; hourStart: string; day: string; month: string; year: string; offset: string }[] = [
    { tz: 'Asia/Shanghai', at: '2024-05-31T16:00:00Z', hour: '2024-06-01T00', hourStart: '2024-05-31T16:00:00Z', day: '2024-06-01', month: '2024-06', year: '2024', offset: '+08:00' },
    { tz: 'Asia/Shanghai', at: '2024-12-31T15:59:59Z', hour: '2024-12-31T23', hourStart: '2024-12-31T15:00:00Z', day: '2024-12-31', month: '2024-12', year: '2024', offset: '+08:00' },
    { tz: 'Asia/Kolkata', at: '2024-06-01T04:29:59Z', hour: '2024-06-01T09', hourStart: '2024-06-01T03:30:00Z', day: '2024-06-01', month: '2024-06', year: '2024', offset: '+05:30' },
    { tz: 'Asia/Kolkata', at: '2024-06-01T04:30:00Z', hour: '2024-06-01T10', hourStart: '2024-06-01T04:30:00Z', day: '2024-06-01', month: '2024-06', year: '2024', offset: '+05:30' },
    { tz: 'Asia/Kolkata', at: '2023-12-31T18:29:00Z', hour: '2023-12-31T23', hourStart: '2023-12-31T17:30:00Z', day: '2023-12-31', month: '2023-12', year: '2023', offset: '+05:30' },
    { tz: 'Asia/Kolkata', at: '2023-12-31T18:30:00Z', hour: '2024-01-01T00', hourStart: '2023-12-31T18:30:00Z', day: '2024-01-01', month: '2024-01', year: '2024', offset: '+05:30' },
    { tz: 'Asia/Kathmandu', at: '2024-06-01T00:20:00Z', hour: '2024-06-01T06', hourStart: '2024-06-01T00:15:00Z', day: '2024-06-01', month: '2024-06', year: '2024', offset: '+05:45' },
    { tz: 'Europe/Berlin', at: '2024-10-27T00:59:59Z', hour: '2024-10-27T02+02:00', hourStart: '2024-10-27T00:00:00Z', day: '2024-10-27', month: '2024-10', year: '2024', offset: '+02:00' },
    { tz: 'Europe/Berlin', at: '2024-10-27T01:00:00Z', hour: '2024-10-27T02+01:00', hourStart: '2024-10-27T01:00:00Z', day: '2024-10-27', month: '2024-10', year: '2024', offset: '+01:00' },
    { tz: 'Europe/Berlin', at: '2024-03-31T01:00:00Z', hour: '2024-03-31T03', hourStart: '2024-03-31T01:00:00Z', day: '2024-03-31', month: '2024-03', year: '2024', offset: '+02:00' },
    { tz: 'America/New_York', at: '2024-11-03T05:30:00Z', hour: '2024-11-03T01-04:00', hourStart: '2024-11-03T05:00:00Z', day: '2024-11-03', month: '2024-11', year: '2024', offset: '-04:00' },
    { tz: 'America/New_York', at: '2024-11-03T06:30:00Z', hour: '2024-11-03T01-05:00', hourStart: '2024-11-03T06:00:00Z', day: '2024-11-03', month: '2024-11', year: '2024', offset: '-05:00' },
    { tz: 'UTC', at: '2024-02-29T23:45:00Z', hour: '2024-02-29T23', hourStart: '2024-02-29T23:00:00Z', day: '2024-02-29', month: '2024-02', year: '2024', offset: '+00:00' },
  ];
  it.each(ROWS)('$tz $at -> $hour', (r) => {
    const cal = new Calendar(r.tz);
    const ts = Date.parse(r.at);
    expect(cal.keys(ts)).toEqual({ hour: r.hour, day: r.day, month: r.month, year: r.year });
    expect(iso(cal.hour(ts).start)).toBe(r.hourStart);
    expect(formatOffset(cal.offsetMs(ts))).toBe(r.offset);
  });
});

describe('an amount over an interval, split over its quarter-hours exactly', () => {
  const T = Date.parse('2024-06-01T00:00:00Z');
  const split = (amount: number, t0: number, t1: number) => {
    const parts: [string, number][] = [];
    splitOverQuarters(amount, T + t0, T + t1, (ts, part) => parts.push([iso(ts).slice(11, 19), part]));
    return parts;
  };
  const MIN = 60_000;
  it.each([
    { name: 'inside one quarter', amount: 7, t0: 1 * MIN, t1: 2 * MIN, want: [['00:01:59', 7]] },
    { name: 'ending on a boundary: the quarter before it', amount: 7, t0: 14 * MIN, t1: 15 * MIN, want: [['00:14:59', 7]] },
    { name: 'across one boundary, by time', amount: 10, t0: 10 * MIN, t1: 20 * MIN, want: [['00:10:00', 5], ['00:19:59', 5]] },
    { name: 'cumulative floor: parts add up', amount: 10, t0: 14 * MIN, t1: 17 * MIN, want: [['00:14:00', 3], ['00:16:59', 7]] },
    { name: 'across three quarters', amount: 100, t0: 0, t1: 45 * MIN, want: [['00:00:00', 33], ['00:15:00', 33], ['00:44:59', 34]] },
    { name: 'a part of zero is skipped, the last is always booked', amount: 1, t0: 0, t1: 30 * MIN, want: [['00:29:59', 1]] },
    { name: 'zero amount: only the last', amount: 0, t0: 0, t1: 20 * MIN, want: [['00:19:59', 0]] },
  ])('$name', ({ amount, t0, t1, want }) => {
    const parts = split(amount, t0, t1);
    expect(parts).toEqual(want);
    expect(parts.reduce((a, [, p]) => a + p, 0)).toBe(amount);
  });
});

/**
 * A grid meter and a PV inverter through one local day, fed every 30 s; `quarter(q)` gives the Wh
 * imported, exported and generated in the q-th quarter-hour of the day (none elsewhere).
 * Returns the hourly-matched green share of the live carbon-day record and of `inventory --db`.
 */
function hourlyMatched(tz: string, dayStartIso: string, quarters: number, quarter: (q: number) => { imp?: number; exp?: number; pv?: number }) {
  const { db } = tmpDb();
  const config = demoConfig();
  config.site.timezone = tz;
  config.devices = config.devices.filter((d) => d.id === 'grid' || d.id === 'pv');
  const outbox = new MemoryOutbox();
  const engine = makeEngine(db, { config, outbox });
  const t0 = Date.parse(dayStartIso);
  engine.begin(t0);
  const c = { imp: 100, exp: 10, pv: 50 }; // kWh
  const r = (device: string, point: string, value: number, ts: number): Reading => ({ device, point, canonical: point, value, quality: 'good', ts, source: 'test' });
  for (let q = 0; q <= quarters; q++) {
    const f = q < quarters ? quarter(q) : {};
    for (let s = 0; s < 30; s++) {
      const ts = t0 + q * QUARTER_MS + s * 30_000;
      const at = (base: number, wh = 0) => base + (wh * s) / 30 / 1000;
      engine.ingest([r('grid', 'energy_import', at(c.imp, f.imp), ts), r('grid', 'energy_export', at(c.exp, f.exp), ts), r('pv', 'energy_export', at(c.pv, f.pv), ts)]);
    }
    c.imp += (f.imp ?? 0) / 1000;
    c.exp += (f.exp ?? 0) / 1000;
    c.pv += (f.pv ?? 0) / 1000;
  }
  engine.advance(t0 + (quarters + 1) * QUARTER_MS + 60_000);
  const day = outbox.of('carbon-day')[0]!;
  const inv = inventoryFromQuarters(quartersFromDb(db, day.day, day.day), { from: day.day, to: day.day });
  db.close();
  return { day: day.day as string, quarters: day.quality.quarters as number, live: day.green.hourly_matched as number, db: inv.green_share_hourly! };
}

describe('live hour windows and inventory --db bucket hours alike (calendar)', () => {
  it('Europe/Berlin 2024-10-27: the two 02:00 hours are matched separately', () => {
    // first 02:00 (00:00Z, quarters 8-11): 4 kWh imported, no PV; second 02:00 (01:00Z, quarters
    // 12-15): 4 kWh PV, 2 kWh exported -> matched 0 + 2 kWh of 6 kWh consumed (merged: 4 of 6).
    const r = hourlyMatched('Europe/Berlin', '2024-10-26T22:00:00Z', 100, (q) => (q >= 8 && q < 12 ? { imp: 1_000 } : q >= 12 && q < 16 ? { pv: 1_000, exp: 500 } : {}));
    expect(r).toMatchObject({ day: '2024-10-27', quarters: 100 });
    expect(r.live).toBeCloseTo(1 / 3, 6);
    expect(r.db).toBeCloseTo(1 / 3, 6);
  });
  it('Asia/Kolkata: an hour runs from :30 to :30 UTC in both', () => {
    // 03:30-04:00Z (quarters 36-37): 2 kWh PV, 1 kWh exported; 04:00-04:30Z (38-39): 2 kWh
    // imported. Local hour 09 holds both (matched 2 of 3 kWh); by UTC hour they split (1 of 3).
    const r = hourlyMatched('Asia/Kolkata', '2024-05-31T18:30:00Z', 96, (q) => (q === 36 || q === 37 ? { pv: 1_000, exp: 500 } : q === 38 || q === 39 ? { imp: 1_000 } : {}));
    expect(r).toMatchObject({ day: '2024-06-01', quarters: 96 });
    expect(r.live).toBeCloseTo(2 / 3, 6);
    expect(r.db).toBeCloseTo(2 / 3, 6);
  });
});

describe('property: live and inventory --db agree on hourly matching in every zone (issue 13, DST and half-hour zones)', () => {
  // Random quarter-hour flows on the days that break hour arithmetic: 25- and 23-hour days,
  // half- and quarter-hour offsets, a 30-minute DST shift (Lord Howe), and plain zones.
  const days: [string, string, number][] = [
    ['Europe/Berlin', '2024-10-26T22:00:00Z', 100], // 2024-10-27, 25 h
    ['Europe/Berlin', '2024-03-30T23:00:00Z', 92], // 2024-03-31, 23 h
    ['Asia/Kolkata', '2024-05-31T18:30:00Z', 96], // UTC+05:30
    ['Asia/Kathmandu', '2024-05-31T18:15:00Z', 96], // UTC+05:45
    ['America/New_York', '2024-11-03T04:00:00Z', 100], // 25 h
    ['Australia/Lord_Howe', '2024-04-06T13:00:00Z', 98], // DST ends: +11 -> +10:30, a 24.5 h day
    ['Asia/Shanghai', '2024-05-31T16:00:00Z', 96],
  ];
  it.each(days)('%s day starting %s (%i quarters)', (tz, start, quarters) => {
    const rnd = prng(quarters * 7919 + tz.length);
    const flows = Array.from({ length: quarters }, () => {
      const pv = rnd() < 0.5 ? Math.round(rnd() * 2_000) : 0;
      return { imp: Math.round(rnd() * 2_000), pv, exp: Math.round(pv * rnd() * 0.5) };
    });
    const r = hourlyMatched(tz, start, quarters, (q) => flows[q]!);
    expect(r.quarters).toBe(quarters);
    expect(r.db).toBeCloseTo(r.live, 6);
    expect(r.live).toBeGreaterThan(0);
  });
});
