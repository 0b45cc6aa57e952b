/**
 * `kind: peak-shave`: shedding loads, with the battery first.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { assert, describe, expect, it } from 'vitest';
import { PeakShaveRule } from '../../../rules/kinds/peak-shave.js';
import type { RuleConfig } from '../../../rules/types.js';
import { baseline, compile, harness, run } from '../helpers.js';

describe('peak shaving', () => {
  it('sheds loads in order above the limit and releases them below restoreBelowW', async () => {
    const h = harness([
      { id: 'shave', kind: 'peak-shave', priority: 100, limitW: 20000, restoreBelowW: 15000, stepS: 10, shed: [{ output: 'load.relay' }, { output: 'heatpump', off: 'sg1-blocked' }] },
      { id: 'keep-load-on', kind: 'switch', output: 'load.relay', when: 'true' },
    ], { tickMs: 2000 });
    baseline(h, { 'load.relay': true });
    await run(h, [
      [0, { 'grid.active_power': 19000 }, { 'load/relay': true }],
      [1, { 'grid.active_power': 21000 }, { 'load/relay': false }],
      [5, { 'grid.active_power': 21000 }, { 'load/relay': false, 'heatpump#mode': undefined }],
      [11, { 'grid.active_power': 21000 }, { 'heatpump#mode': 'sg1-blocked' }],
      [21, { 'grid.active_power': 16000 }, { 'heatpump#mode': 'sg1-blocked', 'load/relay': false }],
      [31, { 'grid.active_power': 14000 }, { 'load/relay': false }],
      [41, { 'grid.active_power': 14000 }, { 'load/relay': true }],
    ]);
  });
});

describe('peak shaving with the battery first', () => {
  it('stops charging, discharges just enough up to maxW, sheds loads only then; releases loads, then the battery', async () => {
    const h = harness(
      [
        { id: 'shave', kind: 'peak-shave', priority: 100, limitW: 20000, restoreBelowW: 15000, stepS: 10, delayOffS: 30, battery: { device: 'battery', maxW: 10000, reserveSoc: 20 }, shed: [{ output: 'load.relay' }] },
        { id: 'charge', kind: 'battery', device: 'battery', gridCharge: { when: 'true', powerW: 5000 } },
        { id: 'keep-load-on', kind: 'switch', output: 'load.relay', when: 'true' },
      ],
      { tickMs: 5000 },
    );
    baseline(h, { 'load.relay': true });
    const B = 'battery#mode';
    const SP = 'battery/power_setpoint';
    await run(h, [
      [0, { 'grid.active_power': 18000, 'battery.active_power': -5000 }, { [B]: 'grid-charge', [SP]: 5000, 'load/relay': true }],
      // 3 kW over while charging at 5 kW: stopping the charge is enough (hold, no discharge)
      [5, { 'grid.active_power': 23000 }, { [B]: 'hold', 'load/relay': true }],
      [10, { 'grid.active_power': 18000, 'battery.active_power': 0 }, { [B]: 'hold' }], // above restoreBelowW: not released
      // 6 kW over: discharge exactly 6 kW
      [15, { 'grid.active_power': 26000 }, { [B]: 'discharge', [SP]: 6000, 'load/relay': true }],
      [20, { 'grid.active_power': 20050, 'battery.active_power': 6000 }, { [SP]: 6050 }], // up at once
      [25, { 'grid.active_power': 19900, 'battery.active_power': 6050 }, { [SP]: 6050 }], // down by < 2 % of maxW: no write
      // the battery at maxW and still over: now the load is shed
      [30, { 'grid.active_power': 24000 }, { [SP]: 10000, [B]: 'discharge', 'load/relay': true }],
      [31, { 'grid.active_power': 21000, 'battery.active_power': 10000 }, { 'load/relay': false }],
      // at the reserve the battery stops discharging (hold); the load stays shed
      [41, { 'battery.soc': 20, 'battery.active_power': 0 }, { [B]: 'hold', 'load/relay': false }],
      [50, { 'grid.active_power': 14000 }, { 'load/relay': false, [B]: 'hold' }],
      [80, {}, { 'load/relay': true, [B]: 'hold' }], // below restore for delayOffS: the load comes back first
      [85, {}, { [B]: 'hold' }],
      [115, {}, { [B]: 'grid-charge' }], // ... then the battery goes back to the lower-priority rule
    ]);
    const shave = h.engine.rules.find((r) => r.id === 'shave');
    assert(shave instanceof PeakShaveRule, 'the peak-shave rule');
    expect(shave.batterySetpoint).toBeUndefined();
  });

  it('battery readings unknown: no blind discharge, loads do the shaving; config checks', async () => {
    const h = harness([{ id: 'shave', kind: 'peak-shave', limitW: 20000, stepS: 10, battery: { device: 'battery', maxW: 10000 }, shed: [{ output: 'load.relay' }] }], { tickMs: 5000 });
    baseline(h, { 'load.relay': true, 'grid.active_power': 25000 });
    await run(h, [[0, {}, { 'battery#mode': 'discharge', 'battery/power_setpoint': 5000 }]]);
    h.set('battery.soc', null, 'comm-error');
    await run(h, [[1, { 'battery.active_power': 5000 }, { 'battery#mode': 'hold', 'load/relay': false }]]);
    expect(compile([{ id: 's', kind: 'peak-shave', limitW: 1000 }]).issues.map((i) => i.message)).toEqual([expect.stringMatching(/needs loads to shed and\/or a battery/)]);
    expect(compile([{ id: 's', kind: 'peak-shave', limitW: 1000, battery: { device: 'heatpump', maxW: 5000 } }]).issues.map((i) => i.message).join('; ')).toMatch(/lacks battery mode\(s\) discharge, hold/);
    expect(
      compile([
        { id: 's', kind: 'peak-shave', limitW: 1000, battery: { device: 'battery', maxW: 5000 } },
        { id: 'b', kind: 'battery', device: 'battery' },
      ]).issues.map((i) => i.message).join('; '),
    ).toMatch(/rules 's' and 'b' both write battery\.control_mode with priority 0/);
  });
});

describe('peak shaving is a feedback loop on the grid meter', () => {
  it('may not run faster than the meter is polled (the demo grid meter: every 2000 ms)', () => {
    const rule: RuleConfig = { id: 's', kind: 'peak-shave', limitW: 20000, shed: [{ output: 'load.relay' }] };
    expect(compile([rule], { tickMs: 1000 }).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "/rules/0: peak-shave rule 's' reacts to grid, polled every 2000 ms, faster than it is read (control.tickMs 1000 ms): set tickMs >= 2000 or poll grid faster",
    ]);
    expect(compile([rule], { tickMs: 2000 }).issues).toEqual([]);
  });
});
