/**
 * The rule engine measures every interval on the monotonic clock: a step of the wall clock (NTP
 * on a gateway without an RTC battery) neither stretches nor skips a hold time, a minimum write
 * interval or an on-delay, and neither freezes nor ages the inputs. Live wiring: readings go
 * through a ReadingsHub, ticks take their time from hubTickTime (as rules/feature-impl.ts does).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/config/errors.js';
import { MemoryOverrides } from '../../runtime/control/overrides.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { WriteRequest } from '../../runtime/services.js';
import { applyRulesCommand } from '../../rules/commands.js';
import { RuleEngine } from '../../rules/engine.js';
import { hubTickTime } from '../../rules/tick-time.js';
import type { ControlConfig, RuleConfig } from '../../rules/types.js';
import { TestClock } from '../helpers/test-clock.js';
import { compile } from './helpers.js';

const HOUR = 3_600_000;

/** A rule engine fed by a readings hub on a test clock; `t` is seconds of monotonic time since start. */
function live(rules: RuleConfig[], control?: ControlConfig) {
  const c = compile(rules, control);
  if (c.issues.length) throw new ConfigError(c.issues);
  const clock = new TestClock();
  const hub = new ReadingsHub({ clock });
  const start = clock.mono();
  const t = () => (clock.mono() - start) / 1000;
  const writes: (WriteRequest & { t: number })[] = [];
  const engine = new RuleEngine({
    model: c.model,
    rules: c.rules,
    writer: { write: async (r) => (writes.push({ ...r, t: t() }), { status: 'written' }) },
  });
  const publish = (values: Record<string, number | boolean>) =>
    hub.publish(
      Object.entries(values).map(([ref, value]) => {
        const [device, point] = ref.split('.') as [string, string];
        return { device, point, value, quality: 'good' as const, ts: clock.now(), source: 'test' };
      }),
    );
  const tick = () => engine.tick(hub.snapshot(), clock.now(), hubTickTime(clock, hub));
  /** Tick every `everyS` seconds up to `untilS`, publishing `values` first each time; `at(tS)` runs before the tick at tS. */
  const runUntil = async (untilS: number, values: Record<string, number | boolean>, at: Record<number, () => void> = {}, everyS = 5) => {
    while (t() < untilS) {
      clock.advance(everyS * 1000);
      at[t()]?.();
      publish(values);
      await tick();
    }
  };
  const value = (key: string) => engine.outputs.get(key)?.value;
  return { clock, hub, engine, writes, publish, tick, runUntil, value, t };
}

const baseline = { 'grid.active_power': 1000, 'pv.active_power': 0, 'battery.active_power': 0, 'battery.soc': 50, 'load.relay': false };

describe.each([
  ['back', -HOUR],
  ['forward', HOUR],
])('a wall-clock step %s by one hour', (_dir, step) => {
  it('an on-delay of 60 s and a minimum on time of 300 s are honoured exactly', async () => {
    const h = live([{ id: 'r', kind: 'switch', output: 'load.relay', when: '-grid.active_power > 3000', delayOnS: 60, minOnS: 300 }], { maxInputAgeMs: 30_000 });
    const exporting = { ...baseline, 'grid.active_power': -5000 };
    h.publish(exporting);
    await h.tick();
    // The on-condition holds from t=0; the wall clock steps at t=30, inside the delay.
    await h.runUntil(55, exporting, { 30: () => h.clock.stepWall(step) });
    expect(h.value('load/relay')).toBe(false);
    await h.runUntil(60, exporting);
    expect(h.value('load/relay')).toBe(true);
    // The off-condition from t=120; a second step at t=200, inside the minimum on time (on at t=60).
    await h.runUntil(355, baseline, { 200: () => h.clock.stepWall(step) });
    expect(h.value('load/relay')).toBe(true);
    await h.runUntil(360, baseline);
    expect(h.value('load/relay')).toBe(false);
    expect(h.writes.map((w) => [w.t, w.value])).toEqual([
      [60, true],
      [360, false],
    ]);
    expect(h.writes.at(-1)!.reason).not.toMatch(/safe state/);
  });

  it("a setpoint's minimum write interval of 120 s is honoured exactly", async () => {
    const h = live([{ id: 'sp', kind: 'setpoint', output: 'battery.power_setpoint', value: 'pv.active_power', minWriteIntervalS: 120 }], { maxInputAgeMs: 30_000 });
    h.publish({ ...baseline, 'battery.power_setpoint': 0, 'pv.active_power': 1000 });
    await h.tick();
    expect(h.value('battery/power_setpoint')).toBe(1000);
    await h.runUntil(115, { 'pv.active_power': 2000 }, { 30: () => h.clock.stepWall(step) });
    expect(h.value('battery/power_setpoint')).toBe(1000);
    await h.runUntil(120, { 'pv.active_power': 2000 });
    expect(h.writes.map((w) => [w.t, w.value])).toEqual([
      [0, 1000],
      [120, 2000],
    ]);
  });

  it('an input read before the step is as old as the monotonic clock says', async () => {
    const h = live([{ id: 'r', kind: 'switch', output: 'load.relay', when: '-grid.active_power > 3000' }], { maxInputAgeMs: 30_000 });
    h.publish({ ...baseline, 'grid.active_power': -5000 });
    await h.tick();
    expect(h.value('load/relay')).toBe(true);
    h.clock.stepWall(step);
    h.clock.advance(30_000);
    await h.tick();
    expect(h.value('load/relay'), 'fresh for 30 s: still good').toBe(true);
    h.clock.advance(1000);
    await h.tick();
    expect(h.value('load/relay'), '31 s without a new value: stale, safe state').toBe(false);
    expect(h.writes.at(-1)!.reason).toMatch(/safe state/);
  });

  it('a rolling average keeps taking new samples and drops old ones', async () => {
    const h = live([{ id: 'sp', kind: 'setpoint', output: 'battery.power_setpoint', value: 'avg(pv.active_power, 60)' }]);
    h.publish({ ...baseline, 'battery.power_setpoint': 0 });
    await h.runUntil(60, { 'pv.active_power': 1000 });
    expect(h.value('battery/power_setpoint')).toBe(1000);
    h.clock.stepWall(step);
    await h.runUntil(125, { 'pv.active_power': 2000 });
    expect(h.value('battery/power_setpoint')).toBe(2000);
  });

  it('a pushed carbon intensity lasts exactly its validity, and its maximum age', async () => {
    const h = live([{ id: 'sp', kind: 'setpoint', output: 'battery.power_setpoint', value: 'grid_co2_g_per_kwh' }], {
      carbonIntensity: { value: 500, pushedMaxAgeS: 600 },
    });
    h.publish({ ...baseline, 'battery.power_setpoint': 0 });
    const push = (validForS?: number) =>
      expect(
        applyRulesCommand({ type: 'carbon-intensity', value: 100, ...(validForS ? { validForS } : {}) }, { engine: h.engine, overrides: new MemoryOverrides(), now: h.clock.now(), mono: h.clock.mono() }),
      ).toEqual({ ok: true });
    push(300);
    await h.runUntil(295, baseline, { 30: () => h.clock.stepWall(step) });
    expect(h.value('battery/power_setpoint')).toBe(100);
    await h.runUntil(300, baseline);
    expect(h.value('battery/power_setpoint')).toBe(500);
    push();
    const pushedAt = h.t();
    await h.runUntil(pushedAt + 600, baseline, { [pushedAt + 30]: () => h.clock.stepWall(step) });
    expect(h.value('battery/power_setpoint')).toBe(100);
    await h.runUntil(pushedAt + 605, baseline);
    expect(h.value('battery/power_setpoint')).toBe(500);
  });
});
