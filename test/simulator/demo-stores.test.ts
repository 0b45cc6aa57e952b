/**
 * The demo site's flexible consumers store energy, so running them on PV shifts consumption
 * instead of adding to it: the SG-Ready heat pump banks what it runs above its normal pattern
 * (boost, forced) and stays off in normal state while the bank lasts; the flexible load is a
 * storage load whose thermostat keeps a minimum whatever the relay, and fills up with the relay on.
 */
import { describe, expect, it } from 'vitest';
import { DemoSite } from '../../tools/simulator/demo-site.js';

// Tuesday 17 June 2025, 00:00 CET (the model's default local time is UTC+1).
const MIDNIGHT = Date.UTC(2025, 5, 17, 0, 0, 0) - 3_600_000;
const H = 3_600_000;
const num = (v: unknown) => v as number;

/** Step a site minute by minute from `from` to `to` (ms), calling `each` after every minute. */
function run(site: DemoSite, from: number, to: number, each?: (t: number) => void): void {
  for (let t = from + 60_000; t <= to; t += 60_000) {
    site.step(t);
    each?.(t);
  }
}

describe('heat pump heat store', () => {
  it('a boost banks heat that the normal state uses up later: the same energy over the day, shifted', () => {
    const plain = new DemoSite({ seed: 3, startMs: MIDNIGHT });
    const shifted = new DemoSite({ seed: 3, startMs: MIDNIGHT });
    const e0 = num(plain.values('heatpump').energy_import);
    let afterPlain = 0;
    let afterShifted = 0;
    run(plain, MIDNIGHT, MIDNIGHT + 11 * H);
    run(shifted, MIDNIGHT, MIDNIGHT + 11 * H);
    expect(shifted.heatPumpBankKwh()).toBe(0); // plain normal operation banks nothing
    shifted.write('heatpump', 'sg_relay_2', true); // SG-Ready state 3: boost 11:00-13:00
    run(plain, MIDNIGHT + 11 * H, MIDNIGHT + 13 * H);
    run(shifted, MIDNIGHT + 11 * H, MIDNIGHT + 13 * H, () => expect(shifted.powers().heatpump).toBeGreaterThan(6700));
    const bank = shifted.heatPumpBankKwh();
    // two hours at ~7 kW against a demand of ~2.4 kW (60 % of 4 kW)
    expect(bank).toBeGreaterThan(8);
    expect(bank).toBeLessThan(10.5);
    shifted.write('heatpump', 'sg_relay_2', false); // back to normal
    run(plain, MIDNIGHT + 13 * H, MIDNIGHT + 24 * H, () => (afterPlain += plain.powers().heatpump));
    let offMinutes = 0;
    run(shifted, MIDNIGHT + 13 * H, MIDNIGHT + 24 * H, (t) => {
      afterShifted += shifted.powers().heatpump;
      if (t <= MIDNIGHT + 16 * H && shifted.powers().heatpump === 0) offMinutes++;
    });
    // the bank carries the demand for the next hours: the compressor stays off 13:00-16:00
    expect(offMinutes).toBe(180);
    expect(afterShifted).toBeLessThan(afterPlain);
    expect(shifted.heatPumpBankKwh()).toBe(0);
    // and over the day both ran the same energy (the boost moved it, it did not add any)
    const dayPlain = num(plain.values('heatpump').energy_import) - e0;
    const dayShifted = num(shifted.values('heatpump').energy_import) - e0;
    expect(dayPlain).toBeGreaterThan(50);
    expect(Math.abs(dayShifted - dayPlain)).toBeLessThan(0.1);
  });

  it('a full store ends the boost (the thermostat falls back to the demand); blocked uses the bank first', () => {
    const site = new DemoSite({ seed: 5, startMs: MIDNIGHT, heatPumpStoreKwh: 6 });
    site.write('heatpump', 'sg_relay_1', true);
    site.write('heatpump', 'sg_relay_2', true); // state 4 forced
    const samples: number[] = [];
    run(site, MIDNIGHT, MIDNIGHT + 3 * H, () => samples.push(site.powers().heatpump));
    expect(site.heatPumpBankKwh()).toBe(6);
    expect(samples.slice(0, 50).every((w) => w > 7800)).toBe(true); // 50 min x 5.6 kW < 6 kWh
    expect(samples.slice(-60).every((w) => w < 4300)).toBe(true); // full: back to the normal pattern
    site.write('heatpump', 'sg_relay_2', false); // state 1 blocked: no power, the bank drains
    run(site, MIDNIGHT + 3 * H, MIDNIGHT + 4 * H, () => expect(site.powers().heatpump).toBe(0));
    expect(site.heatPumpBankKwh()).toBeLessThan(6);
    expect(site.heatPumpBankKwh()).toBeGreaterThan(2);
  });
});

describe('flexible load: a storage load with a daily demand', () => {
  it('relay off: its thermostat alone keeps the store above its minimum; energy in = demand + store change', () => {
    const site = new DemoSite({ seed: 2, startMs: MIDNIGHT, flexInitialKwh: 4 });
    const e0 = num(site.values('load').energy_import);
    let minStore = Infinity;
    let maxStore = 0;
    run(site, MIDNIGHT, MIDNIGHT + 24 * H, () => {
      minStore = Math.min(minStore, site.flexStoreKwh());
      maxStore = Math.max(maxStore, site.flexStoreKwh());
      const w = site.powers().load;
      expect(w === 0 || w > 4800, `${w} W`).toBe(true); // the heater runs at full power or not at all
    });
    expect(site.values('load').relay).toBe(false);
    expect(minStore).toBeGreaterThan(2.9);
    expect(maxStore).toBeLessThan(5.1);
    const used = num(site.values('load').energy_import) - e0;
    expect(used).toBeCloseTo(20 + site.flexStoreKwh() - 4, 1);
  });

  it('relay on fills the store to the top, and what it stored is not bought again later', () => {
    const plain = new DemoSite({ seed: 2, startMs: MIDNIGHT, flexInitialKwh: 4 });
    const shifted = new DemoSite({ seed: 2, startMs: MIDNIGHT, flexInitialKwh: 4 });
    const e0 = num(plain.values('load').energy_import);
    run(plain, MIDNIGHT, MIDNIGHT + 11 * H);
    run(shifted, MIDNIGHT, MIDNIGHT + 11 * H);
    shifted.write('load', 'relay', true);
    run(plain, MIDNIGHT + 11 * H, MIDNIGHT + 14 * H);
    run(shifted, MIDNIGHT + 11 * H, MIDNIGHT + 14 * H);
    expect(shifted.flexStoreKwh()).toBeGreaterThan(14);
    shifted.write('load', 'relay', false);
    let evening = 0;
    run(plain, MIDNIGHT + 14 * H, MIDNIGHT + 24 * H);
    run(shifted, MIDNIGHT + 14 * H, MIDNIGHT + 24 * H, () => (evening += shifted.powers().load));
    expect(evening).toBe(0); // 14:00-22:00 drains 10 kWh of the 15 stored: never down to the minimum
    const dPlain = num(plain.values('load').energy_import) - e0 - plain.flexStoreKwh();
    const dShifted = num(shifted.values('load').energy_import) - e0 - shifted.flexStoreKwh();
    expect(dShifted).toBeCloseTo(dPlain, 1); // same demand served: energy in minus what is left in store
  });
});
