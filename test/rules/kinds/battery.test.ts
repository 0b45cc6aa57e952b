/**
 * `kind: battery`: battery modes through the profile (grid charge by CO2 and price, reserve).
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, it } from 'vitest';
import type { RuleConfig } from '../../../rules/types.js';
import { baseline, harness, run, type Step } from '../helpers.js';

describe('battery modes through the profile', () => {
  const hourly = [300, 300, 300, 300, 300, 300, 450, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 550, 550, 500, 450, 350, 300];
  const rule: RuleConfig = {
    id: 'bat',
    kind: 'battery',
    device: 'battery',
    reserveSoc: 20,
    gridCharge: { co2Below: 400, untilSoc: 80, powerW: 5000 },
    socHysteresis: 2,
  };
  it.each<[string, Step[]]>([
    [
      'grid-charge while CO2 < 400 g/kWh and SoC < 80 %, self-consumption otherwise',
      [
        [0, { 'battery.soc': 50 }, { 'battery#mode': 'grid-charge', 'battery/power_setpoint': 5000, 'battery/reserve_soc': 20 }],
        [3600 * 2, { 'battery.soc': 79 }, { 'battery#mode': 'grid-charge' }],
        [3600 * 3, { 'battery.soc': 80 }, { 'battery#mode': 'self-consumption' }],
        [3600 * 4, { 'battery.soc': 79 }, { 'battery#mode': 'self-consumption' }],
        [3600 * 5, { 'battery.soc': 78 }, { 'battery#mode': 'grid-charge' }],
        [3600 * 7, { 'battery.soc': 60 }, { 'battery#mode': 'self-consumption' }],
      ],
    ],
    [
      'reserve: at or below 20 % no discharge (charge from surplus) until 22 %',
      [
        [3600 * 10, { 'battery.soc': 21 }, { 'battery#mode': 'self-consumption' }],
        [3600 * 10 + 1, { 'battery.soc': 20 }, { 'battery#mode': 'charge-from-surplus' }],
        [3600 * 10 + 2, { 'battery.soc': 21.9 }, { 'battery#mode': 'charge-from-surplus' }],
        [3600 * 10 + 3, { 'battery.soc': 22 }, { 'battery#mode': 'self-consumption' }],
      ],
    ],
  ])('%s', async (_n, steps) => {
    const h = harness([rule], { carbonIntensity: { hourly } });
    baseline(h, { 'battery.power_setpoint': 0, 'battery.reserve_soc': 10 });
    await run(h, steps);
  });

  it('grid charge under a price limit; a pushed CO2 value wins over the static profile while fresh', async () => {
    const h = harness([{ id: 'bat', kind: 'battery', device: 'battery', gridCharge: { co2Below: 400, priceBelow: 0.2 } }], {
      carbonIntensity: { value: 500, pushedMaxAgeS: 600 },
      price: { hourly: Array.from({ length: 24 }, (_, i) => (i < 6 ? 0.1 : 0.3)) },
    });
    baseline(h);
    await run(h, [[0, {}, { 'battery#mode': 'self-consumption' }]]);
    h.engine.external.push('carbonIntensity', 250, 1000);
    await run(h, [
      [1, {}, { 'battery#mode': 'grid-charge' }],
      [601, {}, { 'battery#mode': 'grid-charge' }],
      [602, {}, { 'battery#mode': 'self-consumption' }],
    ]);
  });
});
