/**
 * Rule engine benchmark: control-tick latency (one hub snapshot + evaluating and resolving 200
 * rules over a 2,000-point process image + applying the changes through the write gate in
 * dry-run), median and p99; and what-if replay speed (simulated seconds per wall second) of
 * the demo site with its example rules, and without rules, measured side by side.
 */
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles } from '../../drivers/profiles/types.js';
import type { DeviceConfig, SiteConfig, SiteDeviceConfig } from '../../runtime/config/types.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';
import { WriteGate } from '../../runtime/control/write-gate.js';
import { demoSiteConfig } from '../simulator/demo-config.js';
import { compileRules, gatherRules } from '../../rules/compile-rules.js';
import { RuleEngine } from '../../rules/engine.js';
import { demoRules } from '../../rules/examples.js';
import { runReplay } from '../../rules/replay.js';
import { localMidnight } from '../../rules/replay-sites.js';
import { DemoReplaySite } from '../simulator/replay-site.js';
import type { RuleConfig } from '../../rules/types.js';

const profiles = modbusProfiles(loadBuiltinProfiles().profiles);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A synthetic site of ~2,000 points and 200 rules of every kind that acts on many outputs. */
export function syntheticSite(nRules = 200, nSubmeters = 38): { config: SiteConfig; points: number } {
  const base = demoSiteConfig({ tcpPort: 1502 });
  const devices: SiteDeviceConfig[] = base.devices.filter((d) => d.id === 'grid' || d.id === 'pv' || d.id === 'battery');
  const dev = (id: string, profile: string, role: DeviceConfig['role'], unitId: number): DeviceConfig => ({ id, role, profile, bus: 'demo', unitId, pollIntervalMs: 5000 });
  for (let i = 0; i < nSubmeters; i++) devices.push(dev(`sub${i}`, 'eastron-sdm630', 'submeter', 10 + i));
  for (let i = 0; i < nRules; i++) devices.push(dev(`load${i}`, 'carbonedge-relay-load', 'load', 60 + (i % 180)));
  const rules: RuleConfig[] = [];
  for (let i = 0; i < nRules; i++) {
    const sub = `sub${i % nSubmeters}`;
    const out = `load${i}.relay`;
    if (i === nRules - 1) rules.push({ id: 'battery', kind: 'battery', device: 'battery', reserveSoc: 20, gridCharge: { co2Below: 300, untilSoc: 80 } });
    else if (i % 10 === 9) rules.push({ id: `surplus${i}`, kind: 'surplus', surplus: '-grid_power - max(0, battery_power)', loads: [{ output: out, powerW: 2000, power: `load${i}.active_power` }], minOnS: 300 });
    else if (i % 5 === 0) rules.push({ id: `avg${i}`, kind: 'switch', output: out, when: `avg(${sub}.active_power, 300) > ${1000 + i} && ${sub}.voltage_l1 > 200`, until: `avg(${sub}.active_power, 300) < ${500 + i}`, minOnS: 60 });
    else if (i % 5 === 1) rules.push({ id: `tou${i}`, kind: 'switch', output: out, when: `between("10:00", "15:00") && pv_surplus > ${i * 10} || grid_co2_g_per_kwh < 250`, delayOnS: 30 });
    else rules.push({ id: `hyst${i}`, kind: 'switch', output: out, hysteresis: { input: `${sub}.active_power - ${sub}.active_power_l1 * 0.5 + pv.active_power / 10`, on: 2000 + i, off: 800 + i }, minSwitchIntervalS: 60 });
  }
  const config: SiteConfig = {
    ...base,
    devices,
    rules,
    control: { tickMs: 5000, carbonIntensity: { hourly: Array.from({ length: 24 }, (_, h) => 250 + 150 * Math.sin(h / 4)) } },
  };
  const points = devices.reduce((n, d) => n + (profiles.get(d.profile)?.points.length ?? 0), 0);
  return { config, points };
}

async function benchTick(): Promise<Record<string, number>> {
  const { config, points } = syntheticSite();
  const gathered = gatherRules(config, '<bench>', process.cwd());
  const compiled = compileRules(config, profiles, gathered.rules);
  if (compiled.issues.length) throw new Error(compiled.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  const gate = new WriteGate({ dryRun: true, backends: [{ canWrite: () => true, write: async () => ({ status: 'written' }) }] });
  const engine = new RuleEngine({ model: compiled.model, rules: compiled.rules, writer: gate });
  const hub = new ReadingsHub();
  let t = Date.UTC(2026, 5, 16, 8, 0);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const publishAll = () => {
    const batch: Reading[] = [];
    for (const d of config.devices) {
      for (const p of profiles.get(d.profile)!.points) {
        const value = p.register === 'coil' ? rnd() > 0.5 : p.canonical === 'soc' ? 20 + 60 * rnd() : 4000 * rnd() - (d.role === 'grid_meter' ? 2000 : 0);
        batch.push({ device: d.id, point: p.id, canonical: p.canonical, value, quality: 'good', ts: t, source: 'bench' });
      }
    }
    hub.publish(batch);
    return batch.length;
  };
  const n = publishAll();
  const samples: number[] = [];
  const ticks = 600;
  for (let i = 0; i < ticks + 50; i++) {
    t += 5000;
    publishAll();
    const t0 = process.hrtime.bigint();
    await engine.tick(hub.snapshot(), t);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (i >= 50) samples.push(us); // after warm-up
  }
  samples.sort((a, b) => a - b);
  return {
    rules: compiled.rules.length,
    points: n,
    profilePoints: points,
    ticks,
    tickMedianMs: Math.round(percentile(samples, 50)) / 1000,
    tickP99Ms: Math.round(percentile(samples, 99)) / 1000,
    decisionsDryRun: gate.counts.dryRun,
  };
}

async function benchReplay(): Promise<Record<string, number>> {
  const base = demoSiteConfig({ tcpPort: 1502 });
  const { rules, control } = demoRules();
  const config = { ...base, rules, control };
  // The sunny weekend of test/rules/replay.test.ts: 2 days, so storage carried past midnight counts.
  const start = localMidnight('2026-06-13', config.site.timezone);
  const withRules = await runReplay({ config, profiles, site: new DemoReplaySite(config, start), days: 2 });
  const noRules = await runReplay({ config, profiles, site: new DemoReplaySite(config, start), days: 2, noRules: true });
  return {
    replaySimSecondsPerWallSecond: withRules.speed,
    replayNoRulesSimSecondsPerWallSecond: noRules.speed,
    replayWallSecondsPerDay: Math.round((withRules.wall_s / 2) * 1000) / 1000,
    greenShareWithRules: withRules.green_share,
    greenShareNoRules: noRules.green_share,
    gridImportKwhWithRules: withRules.grid_import_kwh,
    gridImportKwhNoRules: noRules.grid_import_kwh,
  };
}

export async function benchRules(): Promise<Record<string, unknown>> {
  const tick = await benchTick();
  process.stdout.write(
    `control tick, ${tick.rules} rules over ${tick.points} points (snapshot + evaluate + resolve + dry-run apply): median ${tick.tickMedianMs} ms, p99 ${tick.tickP99Ms} ms over ${tick.ticks} ticks (control period 5000 ms: ${((tick.tickMedianMs! / 5000) * 100).toFixed(3)} % duty)\n`,
  );
  const replay = await benchReplay();
  process.stdout.write(
    `replay of the demo site, 2 simulated days at a 5 s control period: ${replay.replaySimSecondsPerWallSecond} simulated s per wall s with the example rules, ${replay.replayNoRulesSimSecondsPerWallSecond} without rules (ratio ${(replay.replaySimSecondsPerWallSecond! / replay.replayNoRulesSimSecondsPerWallSecond!).toFixed(2)}); green share ${replay.greenShareNoRules} -> ${replay.greenShareWithRules}, grid import ${replay.gridImportKwhNoRules} -> ${replay.gridImportKwhWithRules} kWh\n`,
  );
  return { ...tick, ...replay, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
