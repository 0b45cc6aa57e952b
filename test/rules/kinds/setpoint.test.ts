/**
 * `kind: setpoint`: clamp, ramp, deadband.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, it } from 'vitest';
import { baseline, exportW, harness, run } from '../helpers.js';

describe('setpoint: clamp, ramp, deadband', () => {
  it('ramps at rampPerS, clamps to max, ignores changes within the deadband', async () => {
    const h = harness([
      { id: 'sp', kind: 'setpoint', output: 'battery.power_setpoint', value: '-grid.active_power', max: 5000, min: 0, rampPerS: 1000, deadband: 100 },
    ]);
    baseline(h, { 'battery.power_setpoint': 0 });
    await run(h, [
      [0, exportW(0), { 'battery/power_setpoint': 0 }],
      [1, exportW(3000), { 'battery/power_setpoint': 1000 }],
      [2, exportW(3000), { 'battery/power_setpoint': 2000 }],
      [4, exportW(9000), { 'battery/power_setpoint': 4000 }],
      [5, exportW(9000), { 'battery/power_setpoint': 5000 }],
      [6, exportW(4950), { 'battery/power_setpoint': 5000 }],
      [7, exportW(4000), { 'battery/power_setpoint': 4000 }],
    ]);
  });
});
