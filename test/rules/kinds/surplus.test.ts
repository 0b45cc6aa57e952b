/**
 * `kind: surplus`: PV-surplus allocation across ordered step and continuous loads.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../../rules/types.js';
import { baseline, exportW, harness, run } from '../helpers.js';

describe('PV-surplus allocation across ordered loads', () => {
  const rule: RuleConfig = {
    id: 'surplus',
    kind: 'surplus',
    surplus: '-grid_power',
    loads: [
      { output: 'heatpump', on: 'sg3-boost', off: 'sg2-normal', powerW: 6000, power: 'heatpump.active_power', hysteresisW: 1000 },
      { output: 'load.relay', powerW: 2000 },
    ],
  };
  it('gives the surplus to loads in order, skips a load that does not fit, adds back what its loads draw', async () => {
    const h = harness([rule]);
    baseline(h);
    await run(h, [
      // 2500 W: the heat pump boost (6000) does not fit, the relay load (2000) does
      [0, exportW(2500), { 'heatpump#mode': 'sg2-normal', 'load/relay': true }],
      // relay on: export dropped by its 2000 W, which is added back -> still on
      [1, { ...exportW(500), 'load.active_power': 2000 }, { 'load/relay': true }],
      // 8500 W available (6500 export + 2000 relay): both fit
      [2, { ...exportW(6500), 'load.active_power': 2000 }, { 'heatpump#mode': 'sg3-boost', 'load/relay': true }],
      // boost draws 6000: export 500 + 6000 + 2000 = 8500 -> both stay
      [3, { ...exportW(500), 'heatpump.active_power': 6000, 'load.active_power': 2000 }, { 'heatpump#mode': 'sg3-boost', 'load/relay': true }],
      // a cloud: import 1500 -> 6500 available: heat pump keeps 6000 (hysteresis), 500 left: relay off
      [4, { 'grid.active_power': 1500, 'heatpump.active_power': 6000, 'load.active_power': 2000 }, { 'heatpump#mode': 'sg3-boost', 'load/relay': false }],
      // import 3000 with the relay off: 3000 available < 6000 - 1000: boost off; that frees its
      // 6000 W, so the 2000 W relay load fits again (ordered, greedy allocation)
      [5, { 'grid.active_power': 3000, 'heatpump.active_power': 6000, 'load.active_power': 0 }, { 'heatpump#mode': 'sg2-normal', 'load/relay': true }],
      // import 4000 with the boost off and the relay on: 4000 - 2000 W back: -2000 available: relay off
      [6, { 'grid.active_power': 4000, 'heatpump.active_power': 2000, 'load.active_power': 2000 }, { 'heatpump#mode': 'sg2-normal', 'load/relay': false }],
    ]);
    // the mode output is written as the SG-Ready relays: both at first (state unknown), then only the relay that changes
    expect(h.writes.filter((w) => w.device === 'heatpump').map((w) => `${w.at / 1000}:${w.point}=${w.value}`)).toEqual([
      '0:sg_relay_1=false',
      '0:sg_relay_2=false',
      '2:sg_relay_2=true',
      '5:sg_relay_2=false',
    ]);
  });

  it('continuous loads take what is left between minW and maxW', async () => {
    const h = harness([
      {
        id: 's',
        kind: 'surplus',
        surplus: '-grid_power',
        loads: [
          { output: 'load.relay', powerW: 2000 },
          { output: 'battery.power_setpoint', type: 'continuous', minW: 500, maxW: 3000 },
        ],
      },
    ]);
    baseline(h, { 'battery.power_setpoint': 0 });
    await run(h, [
      [0, exportW(1800), { 'load/relay': false, 'battery/power_setpoint': 1800 }],
      [1, exportW(0), { 'load/relay': false, 'battery/power_setpoint': 1800 }],
      [2, exportW(7000), { 'load/relay': true, 'battery/power_setpoint': 3000 }],
      [3, { ...exportW(0), 'load.active_power': 2000 }, { 'load/relay': true, 'battery/power_setpoint': 3000 }],
      [4, { 'grid.active_power': 2700, 'load.active_power': 2000 }, { 'load/relay': true, 'battery/power_setpoint': 0 }],
    ]);
  });
});
