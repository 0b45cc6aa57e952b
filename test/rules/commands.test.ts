import { describe, expect, it, vi } from 'vitest';
import { applyRulesCommand } from '../../rules/commands.js';
import { ScheduleVariables } from '../../rules/schedules.js';
import { MemoryOverrides } from '../../runtime/control/overrides.js';
import { baseline, harness, profiles } from './helpers.js';

describe('commands from the uplink (rules service)', () => {
  it('override, clear-override, carbon-intensity and price; anything else is refused with a reason', async () => {
    const overrides = new MemoryOverrides();
    const h = harness([{ id: 'bat', kind: 'battery', device: 'battery', gridCharge: { co2Below: 300 } }], { carbonIntensity: { value: 500 } }, { overrides });
    baseline(h);
    const cmd = (c: unknown, now = 0) => applyRulesCommand(c as never, { engine: h.engine, overrides, now });
    await h.at(0);
    expect(h.value('battery#mode')).toBe('self-consumption');
    expect(cmd({ type: 'carbon-intensity', value: 250, validForS: 600 })).toEqual({ ok: true });
    await h.at(1);
    expect(h.value('battery#mode')).toBe('grid-charge');
    await h.at(600);
    expect(h.value('battery#mode')).toBe('self-consumption'); // the pushed value expired
    expect(cmd({ type: 'override', output: 'load', value: true, forS: 60, by: 'vpp' }, 600_000)).toEqual({ ok: true });
    await h.at(601);
    expect(h.value('load#mode')).toBe('on');
    expect(cmd({ type: 'clear-override', output: 'load' })).toEqual({ ok: true });
    expect(overrides.active(601_000)).toEqual([]);
    expect(cmd({ type: 'override', output: 'grid.active_power', value: 1, forS: 60 })).toMatchObject({ ok: false, error: /read-only/ });
    expect(cmd({ type: 'override', output: 'heatpump', value: 'sg9', forS: 60 })).toMatchObject({ ok: false, error: /not a mode of heatpump/ });
    expect(cmd({ type: 'override', output: 'load.relay', value: true, forS: 1e9 })).toMatchObject({ ok: false, error: /forS must be/ });
    expect(cmd({ type: 'carbon-intensity', value: 'x' })).toMatchObject({ ok: false });
    expect(cmd({ type: 'price', value: Number.NaN })).toMatchObject({ ok: false });
    expect(cmd({ type: 'rm -rf' })).toMatchObject({ ok: false, error: /unknown command type/ });
    expect(cmd(null)).toMatchObject({ ok: false });
  });

  it('an override outside the profile point (min/max, register type) is refused with the reason, before anything is held', () => {
    const overrides = new MemoryOverrides();
    const h = harness([{ id: 'bat', kind: 'battery', device: 'battery' }], undefined, { overrides });
    const cmd = (c: unknown) => applyRulesCommand(c as never, { engine: h.engine, overrides, now: 0 });
    // carbonedge-battery: power_setpoint i32, 0..100000 W; control_mode u16, 0..4.
    expect(cmd({ type: 'override', output: 'battery.power_setpoint', value: 1e12, forS: 600 })).toEqual({
      ok: false,
      code: 'CE_CMD_OUT_OF_RANGE',
      error: 'override: battery.power_setpoint = 1000000000000 is above the maximum 100000 W (profile carbonedge-battery: 0..100000 W)',
    });
    expect(cmd({ type: 'override', output: 'battery.power_setpoint', value: -5, forS: 600 })).toMatchObject({ ok: false, code: 'CE_CMD_OUT_OF_RANGE', error: /below the minimum 0 W/ });
    expect(cmd({ type: 'override', output: 'heatpump', value: 'sg9', forS: 60 })).toMatchObject({ ok: false, code: 'CE_CMD_OUT_OF_RANGE', error: /not a mode of heatpump \(modes: / });
    expect(cmd({ type: 'override', output: 'grid.active_power', value: 1, forS: 60 })).toMatchObject({ ok: false, code: 'CE_CMD_REFUSED', error: /read-only/ });
    expect(overrides.active(0)).toEqual([]);
    // The limits themselves are accepted.
    expect(cmd({ type: 'override', output: 'battery.power_setpoint', value: 100000, forS: 600 })).toEqual({ ok: true });
    expect(overrides.active(0)).toEqual([expect.objectContaining({ output: 'battery.power_setpoint', value: 100000 })]);
  });

  it('without min/max in the profile, a value the register type cannot hold is refused', () => {
    const battery = structuredClone(profiles.get('carbonedge-battery')!);
    const sp = battery.points.find((p) => p.id === 'power_setpoint')!;
    delete sp.min;
    delete sp.max;
    const overrides = new MemoryOverrides();
    const h = harness([{ id: 'bat', kind: 'battery', device: 'battery' }], undefined, { overrides, profiles: new Map([...profiles, ['carbonedge-battery', battery]]) });
    const cmd = (c: unknown) => applyRulesCommand(c as never, { engine: h.engine, overrides, now: 0 });
    expect(cmd({ type: 'override', output: 'battery.power_setpoint', value: 1e12, forS: 600 })).toMatchObject({
      ok: false,
      code: 'CE_CMD_OUT_OF_RANGE',
      error: /battery\.power_setpoint = 1000000000000 cannot be written: .*does not fit in i32/,
    });
    expect(cmd({ type: 'override', output: 'battery.power_setpoint', value: 2_000_000_000, forS: 600 })).toEqual({ ok: true });
  });

  it('pushed price and carbon intensity are bounded; an unknown type lists the allowed ones', () => {
    const overrides = new MemoryOverrides();
    const h = harness([{ id: 'bat', kind: 'battery', device: 'battery' }], undefined, { overrides });
    const cmd = (c: unknown) => applyRulesCommand(c as never, { engine: h.engine, overrides, now: 0 });
    for (const value of [1e308, -1e308, 10_000.01, -10_001]) {
      expect(cmd({ type: 'price', value }), String(value)).toMatchObject({ ok: false, code: 'CE_CMD_OUT_OF_RANGE', error: /price: value .* is outside -10000\.\.10000 per kWh/ });
    }
    expect(cmd({ type: 'price', value: -10_000 })).toEqual({ ok: true });
    expect(cmd({ type: 'price', value: 0.31 })).toEqual({ ok: true });
    expect(cmd({ type: 'carbon-intensity', value: 5001 })).toMatchObject({ ok: false, code: 'CE_CMD_OUT_OF_RANGE', error: /0\.\.5000 g\/kWh/ });
    expect(cmd({ type: 'rm -rf' })).toEqual({ ok: false, code: 'CE_CMD_SCHEMA', error: "unknown command type 'rm -rf' (allowed: override, clear-override, carbon-intensity, price)" });
  });
});

describe('schedules on the live path (node-cron createTask + start), under a fake clock', () => {
  it('a cron entry firing every second sets its variable', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.UTC(2026, 5, 15, 12, 0, 0, 500) });
    const s = new ScheduleVariables({ schedules: [{ id: 'mode', initial: 0, at: [{ cron: '* * * * * *', value: 1 }] }] }, 'UTC');
    try {
      await s.start(Date.now());
      expect(s.values.get('mode')).toBe(1); // prime(): the entry fired within the last 24 h
      s.values.set('mode', 0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(s.values.get('mode')).toBe(1); // node-cron's own timer fired at the next second
    } finally {
      await s.stop();
      vi.useRealTimers();
    }
  });

  it('fires at the local time of the site time zone, not before', async () => {
    // 22:59:58 in Shanghai (UTC+8) is 14:59:58 UTC.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.UTC(2026, 5, 15, 14, 59, 58) });
    const s = new ScheduleVariables(
      { schedules: [{ id: 'tariff', initial: 'peak', at: [{ cron: '0 23 * * *', value: 'cheap' }, { cron: '0 7 * * *', value: 'peak' }] }] },
      'Asia/Shanghai',
    );
    try {
      await s.start(Date.now());
      expect(s.values.get('tariff')).toBe('peak'); // 07:00 fired last
      await vi.advanceTimersByTimeAsync(1000);
      expect(s.values.get('tariff')).toBe('peak'); // 22:59:59
      await vi.advanceTimersByTimeAsync(2000);
      expect(s.values.get('tariff')).toBe('cheap'); // 23:00:01
    } finally {
      await s.stop();
      vi.useRealTimers();
    }
  });
});
