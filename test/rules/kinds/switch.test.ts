/**
 * `kind: switch`: hysteresis, delays, minimum on/off time and switching interval; `load/relay` is
 * the flexible load's coil.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, expect, it } from 'vitest';
import type { SwitchRuleConfig } from '../../../rules/kinds/switch.js';
import { baseline, compile, exportW, harness, run, type Step } from '../helpers.js';

const relaySwitch = (extra: Partial<SwitchRuleConfig> = {}): SwitchRuleConfig => ({
  id: 'r',
  kind: 'switch',
  output: 'load.relay',
  hysteresis: { input: '-grid.active_power', on: 3000, off: 1000 },
  ...extra,
});

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
  it.each<[string, Partial<SwitchRuleConfig>, Step[]]>([
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

describe('not a meter feedback loop', () => {
  it('may run faster than the meter it reads is polled (the demo grid meter: every 2000 ms)', () => {
    expect(compile([relaySwitch()], { tickMs: 1000 }).issues).toEqual([]);
  });
});
