/**
 * `kind: export-limit`: zero feed-in.
 * Table-driven scenarios with an injected clock (times in seconds): (time, inputs) -> expected
 * output states; `run` also checks one write per change and none without.
 */
import { describe, expect, it } from 'vitest';
import { baseline, compile, harness, profiles } from '../helpers.js';

describe('export limit', () => {
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

  it('is a feedback loop: may not run faster than the grid meter is polled (the demo grid meter: every 2000 ms)', () => {
    const rule = { id: 'zero', kind: 'export-limit', output: 'pv.w_max_lim_pct', limitW: 0, maxW: 30000 } as const;
    expect(compile([rule], { tickMs: 1000 }, pvWithLimit).issues.map((i) => i.message)).toEqual([
      "export-limit rule 'zero' reacts to grid, polled every 2000 ms, faster than it is read (control.tickMs 1000 ms): set tickMs >= 2000 or poll grid faster",
    ]);
    expect(compile([rule], { tickMs: 2000 }, pvWithLimit).issues).toEqual([]);
  });
});
