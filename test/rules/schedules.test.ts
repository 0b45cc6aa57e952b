/**
 * Time-of-use windows and cron schedule variables as rule inputs (through a switch rule), with an
 * injected clock.
 */
import { describe, expect, it } from 'vitest';
import { ScheduleVariables } from '../../rules/schedules.js';
import { baseline, harness } from './helpers.js';

describe('time-of-use windows and cron schedules', () => {
  it('in_window() and a schedule variable set by node-cron expressions', async () => {
    const h = harness(
      [
        { id: 'night-load', kind: 'switch', output: 'load.relay', when: 'in_window("offpeak") && tariff != "peak"' },
      ],
      { windows: [{ id: 'offpeak', from: '22:00', to: '06:00' }], schedules: [{ id: 'tariff', initial: 'peak', at: [{ cron: '0 23 * * *', value: 'cheap' }, { cron: '0 5 * * *', value: 'peak' }] }] },
    );
    baseline(h);
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
