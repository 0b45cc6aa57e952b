import { describe, expect, it, vi } from 'vitest';
import { applyRulesCommand } from '../../rules/commands.js';
import { ScheduleVariables } from '../../rules/schedules.js';
import { MemoryOverrides } from '../../runtime/control/overrides.js';
import { baseline, harness } from './helpers.js';

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
