/**
 * End to end over Modbus TCP on loopback: the demo site's simulator (DemoSite physics behind
 * the profiles' register maps) <- acquisition (polls, writePoint with read-back) <- write gate
 * <- rule engine. Dry-run must keep every write off the bus, asserted at the simulated devices.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { acquisitionFeature } from '../../runtime/acquisition/feature.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite } from '../../tools/simulator/site.js';
import { rulesFeature } from '../../rules/feature.js';
import { DecisionLogRepository } from '../../runtime/control/decision-log.js';
import { openSiteDatabase } from '../../tools/cli/site-database.js';
import { waitFor } from '../helpers/peers.js';
import type { RuleConfig } from '../../rules/types.js';
import { RULES as RULES_SERVICE, WRITE_GATE } from '../../rules/feature.js';
import { storeFeature } from '../../runtime/store/feature.js';
import type { FeatureDeclaration } from '../../runtime/feature-api.js';

const { profiles } = loadBuiltinProfiles();
const run = promisify(execFile);
const NOON = Date.UTC(2026, 5, 15, 10, 30);

const RULES: RuleConfig[] = [
  { id: 'load-on', kind: 'switch', output: 'load.relay', when: 'grid.frequency > 40', safe: 'off' },
  { id: 'hp-boost', kind: 'sg-ready', device: 'heatpump', boost: { when: 'pv.active_power >= 0' } },
  { id: 'battery', kind: 'battery', device: 'battery', reserveSoc: 15, default: 'hold' },
];

const tmpDir = () => mkdtempSync(path.join(os.tmpdir(), 'ce-gw-'));

/**
 * Holds the start of the rule engine until every device has been read once: a first control tick
 * on a partial process image would (correctly) drive outputs to their safe states first, and the
 * counts below are about the decisions on the whole site.
 */
const firstReadings: FeatureDeclaration = {
  name: 'first-readings',
  create: (ctx) => ({
    name: 'first-readings',
    start: () =>
      waitFor(() => {
        const read = new Set([...ctx.hub.snapshot().values()].filter((r) => r.quality === 'good').map((r) => r.device));
        return ctx.config.devices.every((d) => read.has(d.id));
      }, 20000, 'every device read once'),
    stop: async () => {},
  }),
};

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function startSite(dryRun: boolean, opts: { dataDir?: string; store?: boolean } = {}) {
  const sim = new SimulatedSite({ profiles, site: { seed: 3, startMs: NOON } });
  const server = await SimulatorServer.start({ tcp: { port: 0 }, devices: sim.devices });
  cleanup.push(() => server.close());
  const base = demoSiteConfig({ tcpPort: server.tcpPort!, dryRun });
  const config: SiteConfig = {
    ...base,
    // Fast polls for a short test, but on a slow (loaded) CI machine a late poll must not make the
    // inputs stale: the rules would then rightly go to their safe states (extra writes).
    devices: base.devices.map((d) => ({ ...d, pollIntervalMs: 300, staleAfterMs: 30_000 })),
    control: { tickMs: 300, onExit: 'safe' },
    rules: RULES,
  };
  const store = opts.store ? [storeFeature] : [];
  const gw = new Gateway({ config, profiles, logger: silentLogger(), features: [...store, acquisitionFeature, firstReadings, rulesFeature], options: { dataDir: opts.dataDir ?? tmpDir() } });
  await gw.start();
  cleanup.push(() => gw.stop());
  const gate = gw.ctx.services.get(WRITE_GATE)!;
  const rules = gw.ctx.services.get(RULES_SERVICE)!;
  return { sim, gw, gate, rules };
}

describe('write gate over Modbus TCP against the simulated demo site', () => {
  it('dry-run: the rules decide, the decisions are logged, and zero writes reach the devices', async () => {
    const { sim, gate, rules } = await startSite(true);
    await waitFor(
      () => rules.engine.ticks >= 5 && rules.engine.outputs.get('battery#mode')?.value === 'hold' && rules.engine.outputs.get('heatpump#mode')?.value === 'sg3-boost',
      20000,
      'dry-run decisions',
    );
    // relay on, SG-Ready boost (relay 2 only: relay 1 is already off), battery hold, reserve SoC
    expect(gate.counts.dryRun).toBe(4);
    expect(rules.engine.outputs.get('load/relay')?.value).toBe(true);
    expect(rules.engine.outputs.get('heatpump#mode')?.value).toBe('sg3-boost');
    expect(gate.counts.written).toBe(0);
    expect(sim.site.writeCount).toEqual({ grid: 0, pv: 0, battery: 0, heatpump: 0, load: 0 });
    // the simulated devices never changed state
    expect(sim.site.values('load').relay).toBe(false);
    expect(sim.site.sgState()).toBe(2);
  });

  it('live: writes reach the devices, are verified by read-back and recorded with rule, inputs and reason', async () => {
    const dir = tmpDir();
    const { sim, gate, rules, gw } = await startSite(false, { dataDir: dir, store: true });
    // A second connection on the site database, as another process would read it.
    const db = openSiteDatabase(dir);
    cleanup.push(async () => db.close());
    const log = new DecisionLogRepository(db);
    // The engine takes an output's new value once its writes returned (verified, decision logged).
    const out = (key: string) => rules.engine.outputs.get(key)?.value;
    await waitFor(
      () => out('load/relay') === true && out('heatpump#mode') === 'sg3-boost' && out('battery#mode') === 'hold' && out('battery/reserve_soc') === 15,
      20000,
      'writes applied',
    );
    expect(gate.counts.failed).toBe(0);
    expect(sim.site.values('load').relay).toBe(true);
    expect(sim.site.sgState()).toBe(3);
    expect(sim.site.values('battery').control_mode).toBe(1);
    expect(sim.site.values('battery').reserve_soc).toBe(15);
    const decisions = log.read();
    const relay = decisions.find((d) => d.device === 'load' && d.point === 'relay')!;
    expect(relay).toMatchObject({ rule: 'load-on', value: true, status: 'verified', dryRun: false });
    expect(relay.reason).toMatch(/on-condition/);
    expect(typeof relay.inputs['grid.frequency']).toBe('number');
    // no flapping: one write per point, whatever the number of ticks
    const ticks = rules.engine.ticks;
    await waitFor(() => rules.engine.ticks >= ticks + 5, 20000, 'more ticks');
    expect(sim.site.writeCount.load).toBe(1);
    // a manual override wins over the rule until it expires
    rules.setOverride({ output: 'load.relay', value: false, expiresAt: gw.ctx.clock.now() + 60_000, reason: 'maintenance', by: 'test' });
    await waitFor(() => log.read().some((d) => d.rule === 'override:test'), 20000, 'override applied');
    expect(sim.site.values('load').relay).toBe(false);
    expect(log.read().find((d) => d.rule === 'override:test')).toMatchObject({ device: 'load', point: 'relay', value: false, status: 'verified' });
    rules.clearOverride('load.relay');
    await waitFor(() => sim.site.values('load').relay === true, 20000, 'rule resumes after the override');
    // ... and from the CLI (another process), through the store's rules_overrides table
    const cfgFile = path.join(dir, 'site.yaml');
    writeFileSync(cfgFile, YAML.stringify(gw.ctx.config));
    const cli = await run(process.execPath, [path.resolve('tools/carbonedge.js'), 'override', '--config', cfgFile, '--data', dir, '--set', 'heatpump=sg2-normal', '--for', '10m', '--by', 'cli-test']);
    expect(cli.stdout).toMatch(/heatpump held at sg2-normal until/);
    await waitFor(() => log.read().some((d) => d.rule === 'override:cli-test'), 20000, 'CLI override applied');
    expect(sim.site.sgState()).toBe(2);
    expect(log.read().filter((d) => d.rule === 'override:cli-test').map((d) => `${d.point}=${d.value}`)).toEqual(['sg_relay_2=false']);
    // a clean stop drives outputs to their safe states
    await gw.stop();
    expect(sim.site.values('load').relay).toBe(false);
    expect(sim.site.sgState()).toBe(2);
  });
});

describe('rules feature wiring', () => {
  it('registers the write gate even without rules, and starts no control loop', async () => {
    const base = demoSiteConfig({ tcpPort: 1 });
    const gw = new Gateway({ config: { ...base, rules: [], control: { enabled: false } }, profiles, logger: silentLogger(), features: [rulesFeature], options: { dataDir: tmpDir() } });
    await gw.start();
    try {
      expect(gw.ctx.services.get(WRITE_GATE)).toBeDefined();
      expect(gw.ctx.services.get(RULES_SERVICE)).toBeUndefined();
    } finally {
      await gw.stop();
    }
  });

  it('refuses to start with invalid rules (every issue listed)', async () => {
    const base = demoSiteConfig({ tcpPort: 1 });
    const gw = new Gateway({
      config: { ...base, rules: [{ id: 'x', kind: 'switch', output: 'load.relay', when: '__proto__' }, { id: 'y', kind: 'switch', output: 'nope.relay', when: 'true' }] },
      profiles,
      logger: silentLogger(),
      features: [rulesFeature],
    });
    await expect(gw.start()).rejects.toThrow(/refusing to start[\s\S]*\/rules\/0\/when: invalid expression: '__proto__' is a forbidden name[\s\S]*\/rules\/1\/output: no device 'nope'/);
  });
});
