/**
 * Table-driven scenarios with an injected clock: (time, inputs) -> expected output state, for
 * each primitive of the rule engine. Times in seconds; `load/relay` is the flexible load's coil.
 */
import { describe, expect, it } from 'vitest';
import type { OutputLiteral, RuleConfig } from '../../rules/types.js';
import { baseline, compile, harness, profiles } from './helpers.js';

type Step = [t: number, inputs: Record<string, number | boolean>, expected: Record<string, OutputLiteral | undefined>];

/**
 * Steps through (time, inputs) and checks the expected output states, and that every change of
 * a point output at a step came with exactly one write of that point at that time (and no
 * write without a change).
 */
async function run(h: ReturnType<typeof harness>, steps: Step[]): Promise<void> {
  for (const [t, inputs, want] of steps) {
    const before = new Map([...h.engine.outputs].map(([k, s]) => [k, s.value]));
    const nWrites = h.writes.length;
    await h.at(t, inputs);
    for (const [k, v] of Object.entries(want)) expect(h.value(k), `at t=${t}s, ${k}`).toBe(v);
    const writes = h.writes.slice(nWrites);
    for (const [k, s] of h.engine.outputs) {
      if (!k.includes('/')) continue;
      const changed = before.has(k) && before.get(k) !== undefined && before.get(k) !== s.value;
      const wrote = writes.filter((w) => `${w.device}/${w.point}` === k);
      if (changed) expect(wrote.map((w) => w.value), `write of ${k} at t=${t}s`).toEqual([s.value]);
      else if (before.get(k) !== undefined) expect(wrote, `no write of unchanged ${k} at t=${t}s`).toEqual([]);
    }
  }
}

const exportW = (w: number) => ({ 'grid.active_power': -w });
const relaySwitch = (extra: Partial<RuleConfig> = {}): RuleConfig =>
  ({ id: 'r', kind: 'switch', output: 'load.relay', hysteresis: { input: '-grid.active_power', on: 3000, off: 1000 }, ...extra }) as RuleConfig;

describe('hysteresis (on at/above 3000 W export, off at/below 1000 W)', () => {
  it.each<[string, Step[]]>([
    [
      'switches exactly at the thresholds, never between them',
      [
        [0, exportW(2999), { 'load/relay': false }],
        [1, exportW(3000), { 'load/relay': true }],
        [2, exportW(1001), { 'load/relay': true }],
        [3, exportW(2000), { 'load/relay': true }],
        [4, exportW(1000), { 'load/relay': false }],
        [5, exportW(1001), { 'load/relay': false }],
        [6, exportW(2999), { 'load/relay': false }],
        [7, exportW(3001), { 'load/relay': true }],
      ],
    ],
    [
      'a value oscillating inside the band never switches',
      [0, 1, 2, 3, 4, 5, 6, 7].map((t) => [t, exportW(t % 2 ? 1100 : 2900), { 'load/relay': false }] as Step),
    ],
  ])('%s', async (_name, steps) => {
    const h = harness([relaySwitch()]);
    baseline(h);
    await run(h, steps);
  });

  it('mirrored thresholds (on below, off above) for heating-style rules', async () => {
    const h = harness([{ id: 'r', kind: 'switch', output: 'load.relay', hysteresis: { input: 'battery.soc', on: 20, off: 30 } }]);
    baseline(h);
    await run(h, [
      [0, { 'battery.soc': 25 }, { 'load/relay': false }],
      [1, { 'battery.soc': 20 }, { 'load/relay': true }],
      [2, { 'battery.soc': 29 }, { 'load/relay': true }],
      [3, { 'battery.soc': 30 }, { 'load/relay': false }],
    ]);
  });

  it('writes only on changes: 2 changes -> 2 writes', async () => {
    const h = harness([relaySwitch()]);
    baseline(h);
    await run(h, [
      [0, exportW(0), {}],
      [1, exportW(5000), {}],
      [2, exportW(5000), {}],
      [3, exportW(0), {}],
      [4, exportW(0), {}],
    ]);
    expect(h.writes.map((w) => [w.at / 1000, w.point, w.value])).toEqual([
      [1, 'relay', true],
      [3, 'relay', false],
    ]);
    expect(h.writes[0]!.rule).toBe('r');
    expect(h.writes[0]!.reason).toMatch(/on-condition/);
    expect(h.writes[0]!.inputs).toMatchObject({ 'grid.active_power': -5000, previous: false });
  });
});

describe('delay before acting', () => {
  it.each<[string, Step[]]>([
    [
      'on after the condition held delayOnS (60 s), not a second earlier',
      [
        [0, exportW(4000), { 'load/relay': false }],
        [59, exportW(4000), { 'load/relay': false }],
        [60, exportW(4000), { 'load/relay': true }],
      ],
    ],
    [
      'an interruption restarts the delay',
      [
        [0, exportW(4000), { 'load/relay': false }],
        [50, exportW(500), { 'load/relay': false }],
        [51, exportW(4000), { 'load/relay': false }],
        [110, exportW(4000), { 'load/relay': false }],
        [111, exportW(4000), { 'load/relay': true }],
      ],
    ],
    [
      'off after the off-condition held delayOffS (30 s)',
      [
        [0, exportW(4000), {}],
        [60, exportW(4000), { 'load/relay': true }],
        [70, exportW(0), { 'load/relay': true }],
        [99, exportW(0), { 'load/relay': true }],
        [100, exportW(0), { 'load/relay': false }],
      ],
    ],
  ])('%s', async (_n, steps) => {
    const h = harness([relaySwitch({ delayOnS: 60, delayOffS: 30 })]);
    baseline(h);
    await run(h, steps);
  });
});

describe('minimum on / off time and minimum switching interval', () => {
  it.each<[string, Partial<RuleConfig>, Step[]]>([
    [
      'min on 300 s: stays on although the off-condition is true',
      { minOnS: 300 },
      [
        [0, exportW(4000), { 'load/relay': true }],
        [10, exportW(0), { 'load/relay': true }],
        [299, exportW(0), { 'load/relay': true }],
        [300, exportW(0), { 'load/relay': false }],
      ],
    ],
    [
      'min off 200 s: stays off although the on-condition is true',
      { minOffS: 200 },
      [
        [0, exportW(4000), { 'load/relay': true }],
        [10, exportW(0), { 'load/relay': false }],
        [20, exportW(4000), { 'load/relay': false }],
        [209, exportW(4000), { 'load/relay': false }],
        [210, exportW(4000), { 'load/relay': true }],
      ],
    ],
    [
      'min on does not delay switching on, min off does not delay switching off',
      { minOnS: 300, minOffS: 300 },
      [
        [0, exportW(4000), { 'load/relay': true }],
        [300, exportW(0), { 'load/relay': false }],
        [600, exportW(4000), { 'load/relay': true }],
      ],
    ],
    [
      'min switching interval 120 s applies to every change',
      { minSwitchIntervalS: 120 },
      [
        [0, exportW(4000), { 'load/relay': true }],
        [1, exportW(0), { 'load/relay': true }],
        [120, exportW(0), { 'load/relay': false }],
        [121, exportW(4000), { 'load/relay': false }],
        [239, exportW(4000), { 'load/relay': false }],
        [240, exportW(4000), { 'load/relay': true }],
      ],
    ],
  ])('%s', async (_n, timing, steps) => {
    const h = harness([relaySwitch(timing)]);
    baseline(h);
    await run(h, steps);
  });
});

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

describe('grid limits', () => {
  // The demo PV map has no power-limit register; a site's inverter would (SunSpec WMaxLimPct).
  const pvWithLimit = new Map(profiles);
  const pv = profiles.get('sunspec-inverter-103')!;
  pvWithLimit.set(pv.id, { ...pv, points: [...pv.points, { id: 'w_max_lim_pct', register: 'holding', address: 40300, type: 'u16', access: 'read-write', scale: 1 }] });

  it('export limit (zero feed-in): curtails at once, releases at the ramp rate, safe state = the limit', async () => {
    const h = harness(
      [{ id: 'zero', kind: 'export-limit', output: 'pv.w_max_lim_pct', limitW: 0, maxW: 30000, scale: 100 / 30000, rampPerS: 100 }],
      { maxInputAgeMs: 30_000, tickMs: 5000 },
      { profiles: pvWithLimit },
    );
    baseline(h, { 'pv.w_max_lim_pct': 100 });
    const pct = () => Math.round((h.value('pv/w_max_lim_pct') as number) * 100) / 100;
    await h.at(0, { 'grid.active_power': 2000, 'pv.active_power': 10000 });
    expect(pct()).toBe(40); // the limit tracks the site load: 10000 + 2000 W import = 12000 W
    await h.at(1, { 'grid.active_power': -6000, 'pv.active_power': 10000 });
    expect(pct()).toBe(13.33); // load fell, 6000 W exported: down to 4000 W at once
    await h.at(2, { 'grid.active_power': 0, 'pv.active_power': 4000 });
    expect(pct()).toBe(13.33);
    await h.at(3, { 'grid.active_power': 3000, 'pv.active_power': 4000 }); // load rose: release slowly
    expect(pct()).toBe(13.67); // +100 W/s
    h.set('grid.active_power', null, 'comm-error');
    await h.at(4);
    expect(pct()).toBe(0); // meter lost: generate at most the export limit (0 W)
  });

  it('peak shaving sheds loads in order above the limit and releases them below restoreBelowW', async () => {
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
    const shave = h.engine.rules.find((r) => r.id === 'shave') as unknown as { batterySetpoint: number | undefined };
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

describe('time-of-use windows and cron schedules', () => {
  it('in_window() and a schedule variable set by node-cron expressions', async () => {
    const h = harness(
      [
        { id: 'night-load', kind: 'switch', output: 'load.relay', when: 'in_window("offpeak") && tariff != "peak"' },
      ],
      { windows: [{ id: 'offpeak', from: '22:00', to: '06:00' }], schedules: [{ id: 'tariff', initial: 'peak', at: [{ cron: '0 23 * * *', value: 'cheap' }, { cron: '0 5 * * *', value: 'peak' }] }] },
    );
    baseline(h);
    const { ScheduleVariables } = await import('../../rules/schedules.js');
    const sched = new ScheduleVariables(h.model.control, 'UTC');
    const day = Date.UTC(2026, 5, 15) / 1000;
    const step = async (hh: number, mm: number) => {
      sched.advance((day + hh * 3600 + mm * 60) * 1000);
      for (const [k, v] of sched.values) h.engine.schedules.set(k, v);
      await h.at(day + hh * 3600 + mm * 60);
      return h.value('load/relay');
    };
    expect(await step(12, 0)).toBe(false);
    expect(await step(22, 30)).toBe(false); // in window, but tariff still peak
    expect(await step(23, 0)).toBe(true);
    expect(await step(26, 59)).toBe(true); // 02:59 next day
    expect(await step(29, 0)).toBe(false); // 05:00: tariff peak again
    await sched.stop();
  });
});
