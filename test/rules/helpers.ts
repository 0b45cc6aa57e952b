import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type AnyProfile } from '../../drivers/profiles/types.js';
import { ConfigError } from '../../runtime/config/errors.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { WriteRequest, WriteResult } from '../../runtime/services.js';
import type { Reading } from '../../runtime/types.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { compileRules, gatherRules } from '../../rules/compile-rules.js';
import { RuleEngine, type OverrideSource } from '../../rules/engine.js';
import { expect } from 'vitest';
import type { ControlConfig, OutputLiteral, RuleConfig } from '../../rules/types.js';

export const profiles = modbusProfiles(loadBuiltinProfiles().profiles);

/** The demo site (grid, pv, battery, heatpump, load) with the given rules and control section. */
export function siteConfig(rules: RuleConfig[], control: ControlConfig = {}): SiteConfig {
  const base = demoSiteConfig({ tcpPort: 1502 });
  return { ...base, site: { ...base.site, timezone: 'UTC' }, rules, control: { tickMs: 1000, ...control } };
}

export function compile(rules: RuleConfig[], control?: ControlConfig, profileMap: Map<string, AnyProfile> = profiles) {
  const config = siteConfig(rules, control);
  const gathered = gatherRules(config, '<test>', process.cwd());
  const c = compileRules(config, profileMap, gathered.rules);
  return { config, ...c, issues: [...gathered.issues, ...c.issues] };
}

/** A rule engine over the demo site with a recording writer and hand-set readings. */
export function harness(
  rules: RuleConfig[],
  control?: ControlConfig,
  opts: { overrides?: OverrideSource; fail?: (r: WriteRequest) => boolean; profiles?: Map<string, AnyProfile> } = {},
) {
  const c = compile(rules, control, opts.profiles);
  if (c.issues.length) throw new ConfigError(c.issues);
  const writes: (WriteRequest & { at: number })[] = [];
  let now = 0;
  const engine = new RuleEngine({
    model: c.model,
    rules: c.rules,
    overrides: opts.overrides,
    writer: {
      write: async (r): Promise<WriteResult> => {
        if (opts.fail?.(r)) return { status: 'failed', error: 'test failure' };
        writes.push({ ...r, at: now });
        return { status: 'written' };
      },
    },
  });
  const readings = new Map<string, Reading>();
  const set = (ref: string, value: number | boolean | null, quality: Reading['quality'] = 'good', ts?: number) => {
    const [device, point] = ref.split('.') as [string, string];
    readings.set(`${device}/${point}`, { device, point, value, quality, ts: ts ?? now, source: 'test' });
  };
  return {
    engine,
    writes,
    set,
    model: c.model,
    /** Advance to `t` seconds, refresh the readings' timestamps (unless `keepTs`), tick. */
    async at(t: number, inputs: Record<string, number | boolean> = {}) {
      now = t * 1000;
      for (const [k, r] of readings) readings.set(k, { ...r, ts: r.quality === 'good' && r.ts >= 0 ? now : r.ts });
      for (const [k, v] of Object.entries(inputs)) set(k, v);
      return engine.tick(new Map(readings), now);
    },
    value(key: string) {
      return engine.outputs.get(key)?.value;
    },
    get now() {
      return now;
    },
  };
}

/** Readings for a typical sunny midday of the demo site. */
export function baseline(h: ReturnType<typeof harness>, over: Record<string, number | boolean> = {}): void {
  const v: Record<string, number | boolean> = {
    'grid.active_power': 1000,
    'pv.active_power': 0,
    'battery.active_power': 0,
    'battery.soc': 50,
    'heatpump.active_power': 0,
    'load.active_power': 0,
    'load.relay': false,
    ...over,
  };
  for (const [k, x] of Object.entries(v)) h.set(k, x);
}

/** (time in s, inputs to set, expected output states) */
export type Step = [t: number, inputs: Record<string, number | boolean>, expected: Record<string, OutputLiteral | undefined>];

/**
 * Steps through (time, inputs) and checks the expected output states, and that every change of
 * a point output at a step came with exactly one write of that point at that time (and no
 * write without a change).
 */
export async function run(h: ReturnType<typeof harness>, steps: Step[]): Promise<void> {
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


/** Readings for `w` watts of export at the grid meter. */
export const exportW = (w: number) => ({ 'grid.active_power': -w });
