/**
 * `kind: sg-ready`: an SG-Ready heat pump, four states from two relays.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, expect, it } from 'vitest';
import { baseline, exportW, harness, run } from '../helpers.js';

describe('SG-Ready heat pump: four states from two relays', () => {
  it('blocked > forced > boost > normal, with per-state hysteresis', async () => {
    const h = harness([
      {
        id: 'hp',
        kind: 'sg-ready',
        device: 'heatpump',
        boost: { hysteresis: { input: 'export_power', on: 3000, off: 1000 } },
        forced: { when: 'export_power > 8000', until: 'export_power < 6000' },
        blocked: { when: 'import_power > 20000', until: 'import_power < 15000' },
      },
    ]);
    baseline(h);
    const relays = () => [h.engine.outputs.get('heatpump#mode')?.value, h.writes.filter((w) => w.device === 'heatpump').length];
    await run(h, [
      [0, exportW(0), { 'heatpump#mode': 'sg2-normal' }],
      [1, exportW(3000), { 'heatpump#mode': 'sg3-boost' }],
      [2, exportW(9000), { 'heatpump#mode': 'sg4-forced' }],
      [3, exportW(7000), { 'heatpump#mode': 'sg4-forced' }],
      [4, exportW(5000), { 'heatpump#mode': 'sg3-boost' }],
      [5, { 'grid.active_power': 21000 }, { 'heatpump#mode': 'sg1-blocked' }],
      [6, { 'grid.active_power': 16000 }, { 'heatpump#mode': 'sg1-blocked' }],
      [7, { 'grid.active_power': 14000 }, { 'heatpump#mode': 'sg2-normal' }],
    ]);
    expect(relays()[0]).toBe('sg2-normal');
    const byTime = new Map<number, string[]>();
    for (const w of h.writes) byTime.set(w.at / 1000, [...(byTime.get(w.at / 1000) ?? []), `${w.point}=${w.value}`]);
    expect(Object.fromEntries(byTime)).toEqual({
      0: ['sg_relay_1=false', 'sg_relay_2=false'],
      1: ['sg_relay_2=true'],
      2: ['sg_relay_1=true'],
      4: ['sg_relay_1=false'],
      5: ['sg_relay_1=true', 'sg_relay_2=false'],
      7: ['sg_relay_1=false'],
    });
  });
});
