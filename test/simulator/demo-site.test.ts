import { describe, expect, it } from 'vitest';
import { BATTERY_MODES, DEMO_DEVICES, DemoSite } from '../../tools/simulator/demo-site.js';

// Tuesday 17 June 2025, 00:00 CET (the model's default local time is UTC+1).
const MIDNIGHT = Date.UTC(2025, 5, 17, 0, 0, 0) - 3_600_000;
const H = 3_600_000;
const kwh = (w: number, ms: number) => (w * ms) / H / 1000;
const num = (v: unknown) => v as number;

describe('DemoSite physics', () => {
  it('the grid meter power is the balance of the devices, and every counter integrates its power exactly', () => {
    const site = new DemoSite({ seed: 7, startMs: MIDNIGHT, maxSubstepMs: 60_000, battery: { initialSoc: 90 } });
    site.write('load', 'relay', true);
    let t = MIDNIGHT;
    let checked = 0;
    let sawExport = false;
    let sawImport = false;
    let prev = Object.fromEntries(DEMO_DEVICES.map((d) => [d, site.values(d)]));
    for (let i = 0; i < 24 * 60; i++) {
      const dt = 60_000;
      t += dt;
      site.step(t);
      const p = site.powers();
      const cur = Object.fromEntries(DEMO_DEVICES.map((d) => [d, site.values(d)]));
      // balance at the point of connection (+ = import)
      expect(p.grid).toBe(p.base + p.heatpump + p.load - p.pv - p.battery);
      expect(cur.grid!.active_power).toBe(p.grid);
      expect(cur.pv!.active_power).toBe(p.pv);
      expect(cur.battery!.active_power).toBe(p.battery);
      expect(cur.heatpump!.active_power).toBe(p.heatpump);
      expect(cur.load!.active_power).toBe(p.load);
      for (const v of Object.values(p)) expect(Number.isInteger(v)).toBe(true);
      // counters: gross import and export separately
      const dImp = num(cur.grid!.energy_import) - num(prev.grid!.energy_import);
      const dExp = num(cur.grid!.energy_export) - num(prev.grid!.energy_export);
      expect(dImp).toBeCloseTo(kwh(Math.max(0, p.grid), dt), 9);
      expect(dExp).toBeCloseTo(kwh(Math.max(0, -p.grid), dt), 9);
      expect(dImp).toBeGreaterThanOrEqual(0);
      expect(dExp).toBeGreaterThanOrEqual(0);
      expect(num(cur.pv!.energy_export) - num(prev.pv!.energy_export)).toBeCloseTo(kwh(p.pv, dt), 9);
      expect(num(cur.heatpump!.energy_import) - num(prev.heatpump!.energy_import)).toBeCloseTo(kwh(p.heatpump, dt), 9);
      expect(num(cur.load!.energy_import) - num(prev.load!.energy_import)).toBeCloseTo(kwh(p.load, dt), 9);
      expect(num(cur.battery!.energy_export) - num(prev.battery!.energy_export)).toBeCloseTo(kwh(Math.max(0, p.battery), dt), 9);
      expect(num(cur.battery!.energy_import) - num(prev.battery!.energy_import)).toBeCloseTo(kwh(Math.max(0, -p.battery), dt), 9);
      // three phases add up; plausible electrical values
      const g = cur.grid!;
      expect(num(g.active_power_l1) + num(g.active_power_l2) + num(g.active_power_l3)).toBeCloseTo(p.grid, 6);
      for (const ph of ['l1', 'l2', 'l3']) {
        expect(num(g[`voltage_${ph}`])).toBeGreaterThan(220);
        expect(num(g[`voltage_${ph}`])).toBeLessThan(240);
        expect(num(g[`current_${ph}`])).toBeGreaterThanOrEqual(0);
        expect(num(g[`current_${ph}`])).toBeCloseTo(num(g[`apparent_power_${ph}`]) / num(g[`voltage_${ph}`]), 9);
      }
      expect(num(g.frequency)).toBeGreaterThan(49.9);
      expect(num(g.frequency)).toBeLessThan(50.1);
      expect(num(g.power_factor)).toBeGreaterThanOrEqual(0);
      expect(num(g.power_factor)).toBeLessThanOrEqual(1);
      if (p.grid < 0) sawExport = true;
      if (p.grid > 0) sawImport = true;
      prev = cur;
      checked++;
    }
    expect(checked).toBe(1440);
    // A clear June day: the site imports at night and exports once the battery is full.
    expect(sawImport).toBe(true);
    expect(sawExport).toBe(true);
  });

  it('integrates over sub-steps when the caller steps coarsely', () => {
    const site = new DemoSite({ seed: 5, startMs: MIDNIGHT + 11 * H });
    const before = site.values('pv');
    site.step(MIDNIGHT + 12 * H); // one hour in 3600 sub-steps of 1 s
    const after = site.values('pv');
    const produced = num(after.energy_export) - num(before.energy_export);
    // around noon in June: between 5 and 30 kWh in that hour
    expect(produced).toBeGreaterThan(5);
    expect(produced).toBeLessThan(30);
  });

  it('PV follows the sun: nothing at night, at most the peak at noon', () => {
    const site = new DemoSite({ seed: 1, startMs: MIDNIGHT });
    let max = 0;
    for (let m = 0; m < 24 * 60; m += 5) {
      site.step(MIDNIGHT + m * 60_000);
      const pv = site.powers().pv;
      const hour = m / 60;
      if (hour < 3 || hour > 22.5) expect(pv).toBe(0);
      max = Math.max(max, pv);
    }
    expect(max).toBeGreaterThan(10_000);
    expect(max).toBeLessThanOrEqual(30_000);
  });

  it('the battery respects its reserve, its capacity and its power limit', () => {
    const site = new DemoSite({ seed: 2, startMs: MIDNIGHT, battery: { capacityKwh: 20, maxPowerW: 10_000, initialSoc: 50, reserveSoc: 30 } });
    site.write('battery', 'control_mode', BATTERY_MODES.forcedDischarge);
    site.write('battery', 'power_setpoint', 25_000); // above the battery's limit
    let t = MIDNIGHT;
    let maxDischarge = 0;
    for (let i = 0; i < 3 * 3600; i++) {
      t += 1000;
      site.step(t);
      maxDischarge = Math.max(maxDischarge, site.powers().battery);
      expect(site.soc()).toBeGreaterThanOrEqual(30 - 1e-9);
    }
    expect(maxDischarge).toBe(10_000);
    expect(site.soc()).toBeCloseTo(30, 2); // drained down to the reserve, not below
    expect(site.powers().battery).toBe(0);

    // Forced charge from the grid up to full, never beyond.
    site.write('battery', 'control_mode', BATTERY_MODES.forcedCharge);
    site.write('battery', 'power_setpoint', 8000);
    const imported0 = num(site.values('battery').energy_import);
    for (let i = 0; i < 4 * 3600; i++) {
      t += 1000;
      site.step(t);
      expect(site.powers().battery).toBeGreaterThanOrEqual(-8000);
      expect(site.soc()).toBeLessThanOrEqual(100 + 1e-9);
    }
    expect(site.soc()).toBeCloseTo(100, 2);
    expect(site.powers().battery).toBe(0);
    // 70 % of 20 kWh stored at sqrt(0.92) charging efficiency
    const charged = num(site.values('battery').energy_import) - imported0;
    expect(charged).toBeCloseTo(14 / Math.sqrt(0.92), 1);

    // Hold: no power at all. Reserve above the SoC: self-consumption does not discharge.
    site.write('battery', 'control_mode', BATTERY_MODES.hold);
    site.step((t += 60_000));
    expect(site.powers().battery).toBe(0);
    site.write('battery', 'control_mode', BATTERY_MODES.selfConsumption);
    site.write('battery', 'reserve_soc', 100);
    site.step((t += 60_000)); // night: a deficit the battery may not cover
    expect(site.powers().base).toBeGreaterThan(0);
    expect(site.powers().battery).toBe(0);
    const v = site.values('battery');
    expect(v.control_mode).toBe(0);
    expect(v.reserve_soc).toBe(100);
  });

  it('self-consumption covers the deficit within limits; charge-from-surplus never discharges', () => {
    const site = new DemoSite({ seed: 4, startMs: MIDNIGHT + 2 * H, battery: { initialSoc: 80, reserveSoc: 10 } });
    site.step(MIDNIGHT + 2 * H + 60_000);
    const p = site.powers();
    // night: the load (< 10 kW) is carried by the battery, the grid meter reads ~0
    expect(p.pv).toBe(0);
    expect(p.battery).toBeGreaterThan(p.base + p.heatpump + p.load - 60);
    expect(p.grid).toBeGreaterThanOrEqual(0); // a small residual import, as real controllers leave
    expect(p.grid).toBeLessThanOrEqual(60);
    site.write('battery', 'control_mode', BATTERY_MODES.chargeFromSurplus);
    site.step(MIDNIGHT + 2 * H + 120_000);
    expect(site.powers().battery).toBe(0);
    expect(site.powers().grid).toBeGreaterThan(0);
  });

  it('SG-Ready relay states map to heat pump power', () => {
    const site = new DemoSite({ seed: 9, startMs: MIDNIGHT });
    const setState = (r1: boolean, r2: boolean) => {
      site.write('heatpump', 'sg_relay_1', r1);
      site.write('heatpump', 'sg_relay_2', r2);
    };
    let t = MIDNIGHT;
    const run = (minutes: number) => {
      const samples: number[] = [];
      for (let i = 0; i < minutes; i++) {
        t += 60_000;
        site.step(t);
        samples.push(site.powers().heatpump);
      }
      return samples;
    };
    setState(true, false); // state 1: blocked
    expect(site.sgState()).toBe(1);
    expect(run(60).every((w) => w === 0)).toBe(true);
    setState(false, false); // state 2: normal, duty-cycled ~4 kW
    expect(site.sgState()).toBe(2);
    const normal = run(120);
    const on = normal.filter((w) => w > 0);
    expect(on.length / normal.length).toBeGreaterThan(0.5);
    expect(on.length / normal.length).toBeLessThan(0.7);
    for (const w of on) expect(Math.abs(w - 4000)).toBeLessThanOrEqual(200);
    setState(false, true); // state 3: boost ~7 kW, continuous
    expect(site.sgState()).toBe(3);
    for (const w of run(60)) expect(Math.abs(w - 7000)).toBeLessThanOrEqual(210);
    setState(true, true); // state 4: forced ~8 kW
    expect(site.sgState()).toBe(4);
    for (const w of run(60)) expect(Math.abs(w - 8000)).toBeLessThanOrEqual(160);
    expect(site.values('heatpump').sg_state).toBe(4);
    expect(site.values('heatpump').sg_relay_1).toBe(true);
  });

  it('is deterministic for a seed, independent of how time is sliced, and differs between seeds', () => {
    const a = new DemoSite({ seed: 42, startMs: MIDNIGHT });
    const b = new DemoSite({ seed: 42, startMs: MIDNIGHT });
    const fine = new DemoSite({ seed: 42, startMs: MIDNIGHT });
    const other = new DemoSite({ seed: 43, startMs: MIDNIGHT });
    let differs = 0;
    for (let m = 1; m <= 24 * 60; m += 7) {
      const t = MIDNIGHT + m * 60_000;
      a.step(t);
      b.step(t);
      other.step(t);
      for (let s = fine.nowMs + 250; s < t; s += 250) fine.step(s);
      fine.step(t);
      for (const d of DEMO_DEVICES) expect(b.values(d)).toEqual(a.values(d));
      // exogenous signals are pure functions of time: the same whatever the stepping
      expect(fine.powers().pv).toBe(a.powers().pv);
      expect(fine.powers().base).toBe(a.powers().base);
      if (other.powers().pv !== a.powers().pv) differs++;
    }
    expect(differs).toBeGreaterThan(50);
  });

  it('counts every write that reaches a device and rejects bad ones', () => {
    const site = new DemoSite({ seed: 1, startMs: MIDNIGHT });
    expect(site.writeCount).toEqual({ grid: 0, pv: 0, battery: 0, heatpump: 0, load: 0 });
    site.write('load', 'relay', 1);
    expect(site.values('load').relay).toBe(true);
    expect(() => site.write('battery', 'control_mode', 7)).toThrow(RangeError);
    expect(() => site.write('battery', 'reserve_soc', -1)).toThrow(/0\.\.100/);
    expect(() => site.write('grid', 'active_power', 5)).toThrow(/not writable/);
    expect(() => site.write('heatpump', 'sg_relay_1', 2)).toThrow(RangeError);
    expect(site.writeCount).toEqual({ grid: 1, pv: 0, battery: 2, heatpump: 1, load: 1 });
    expect(site.values('battery').control_mode).toBe(0);
  });

  it('replays a whole day in one call (86 400 sub-steps of 1 s)', () => {
    const site = new DemoSite({ seed: 1, startMs: MIDNIGHT });
    const before = site.values('grid');
    site.step(MIDNIGHT + 24 * H);
    expect(site.nowMs).toBe(MIDNIGHT + 24 * H);
    expect(num(site.values('grid').energy_import)).toBeGreaterThan(num(before.energy_import));
  });
});
