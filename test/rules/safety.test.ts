/**
 * Fail-safe behaviour, conflict resolution and load-time validation of the rule engine.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateSiteConfig } from '../../tools/cli/site.js';
import { ConfigError } from '../../runtime/config/errors.js';
import { MemoryOverrides } from '../../runtime/control/overrides.js';
import { gatherRules } from '../../rules/compile-rules.js';
import { validateRuleShape } from '../../rules/config-schema.js';
import type { RuleConfig } from '../../rules/types.js';
import { baseline, compile, harness, siteConfig } from './helpers.js';

const relayOnExport: RuleConfig = { id: 'r', kind: 'switch', output: 'load.relay', when: '-grid.active_power > 3000', minOnS: 600, delayOnS: 10 };

describe('stale or bad input -> the rule\'s safe state', () => {
  it.each<[string, (h: ReturnType<typeof harness>) => void]>([
    ['quality stale', (h) => h.set('grid.active_power', -5000, 'stale', 0)],
    ['quality comm-error', (h) => h.set('grid.active_power', null, 'comm-error')],
    ['quality out-of-range', (h) => h.set('grid.active_power', -5000, 'out-of-range')],
    ['value missing from the snapshot', (h) => h.set('grid.active_power', null)],
    ['older than control.maxInputAgeMs although marked good', (h) => h.set('grid.active_power', -5000, 'good', -1)],
  ])('%s: the relay goes off at once (no delay, no minimum on time)', async (_n, spoil) => {
    const h = harness([relayOnExport], { maxInputAgeMs: 30_000 });
    baseline(h, { 'grid.active_power': -5000 });
    await h.at(0);
    await h.at(10);
    expect(h.value('load/relay')).toBe(true);
    spoil(h);
    const r = await h.at(100);
    expect(h.value('load/relay')).toBe(false);
    const w = h.writes.at(-1)!;
    expect(w).toMatchObject({ point: 'relay', value: false, rule: 'r' });
    expect(w.reason).toMatch(/safe state: input grid.active_power (has no good value)/);
    expect(w.inputs).toMatchObject({ safeState: true, 'grid.active_power': null });
    expect(r!.winners[0]!.safe).toBe(true);
  });

  it('each kind has a documented safe state', async () => {
    const h = harness(
      [
        { id: 'hp', kind: 'sg-ready', device: 'heatpump', boost: { when: 'pv_surplus > 1000' } },
        { id: 'bat', kind: 'battery', device: 'battery', default: 'self-consumption' },
        { id: 'flex', kind: 'surplus', loads: [{ output: 'load', powerW: 2000 }] },
        { id: 'sp', kind: 'setpoint', output: 'battery.power_setpoint', value: 'pv.active_power', safe: 0 },
      ],
      { maxInputAgeMs: 30_000 },
    );
    baseline(h, { 'pv.active_power': 9000, 'grid.active_power': -6000, 'battery.power_setpoint': 0 });
    await h.at(0);
    expect([h.value('heatpump#mode'), h.value('battery#mode'), h.value('load#mode'), h.value('battery/power_setpoint')]).toEqual(['sg3-boost', 'self-consumption', 'on', 9000]);
    h.set('pv.active_power', 9000, 'comm-error');
    h.set('battery.soc', 50, 'stale', 0);
    await h.at(100);
    expect([h.value('heatpump#mode'), h.value('battery#mode'), h.value('load#mode'), h.value('battery/power_setpoint')]).toEqual(['sg2-normal', 'hold', 'off', 0]);
  });

  it('safe: hold leaves the output where it is; a safe "on" still honours the minimum off time', async () => {
    const h = harness([
      { id: 'a', kind: 'switch', output: 'load.relay', when: '-grid.active_power > 3000', safe: 'on', minOffS: 300 },
    ]);
    baseline(h, { 'grid.active_power': -5000 });
    await h.at(0);
    await h.at(1, { 'grid.active_power': 0 });
    expect(h.value('load/relay')).toBe(false);
    h.set('grid.active_power', null, 'comm-error');
    await h.at(100);
    expect(h.value('load/relay')).toBe(false);
    expect(h.engine.evaluate(new Map(), 100_000).winners[0]!.reason).toMatch(/minimum off time/);
    await h.at(301);
    expect(h.value('load/relay')).toBe(true);
  });

  it('a write that fails is retried on the next tick and the output state is not advanced', async () => {
    let fail = true;
    const h = harness([{ id: 'r', kind: 'switch', output: 'load.relay', when: 'true' }], {}, { fail: () => fail });
    baseline(h);
    const r1 = await h.at(0);
    expect(r1!.applied[0]!.status).toBe('failed');
    expect(h.value('load/relay')).toBe(false);
    fail = false;
    await h.at(1);
    expect(h.value('load/relay')).toBe(true);
    expect(h.writes).toHaveLength(1);
  });
});

describe('conflicting writers', () => {
  it('the same priority on a shared output is rejected at load, naming both rules', () => {
    const { issues } = compile([
      { id: 'a', kind: 'switch', output: 'load.relay', when: 'true' },
      { id: 'b', kind: 'switch', output: 'load', when: 'false', on: 'on', off: 'off' },
    ]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: '/rules/1/priority' });
    expect(issues[0]!.message).toMatch(/rules 'a' and 'b' both write load.relay with priority 0: give them different priorities/);
  });

  it('the higher priority wins; the loser is reported as superseded; a mode is never half-applied', async () => {
    const h = harness([
      { id: 'boost', kind: 'sg-ready', device: 'heatpump', priority: 1, boost: { when: 'true' } },
      { id: 'block-relay-2', kind: 'switch', output: 'heatpump.sg_relay_2', priority: 10, when: 'false' },
      { id: 'low', kind: 'switch', output: 'load.relay', priority: 1, when: 'true' },
      { id: 'high', kind: 'switch', output: 'load.relay', priority: 5, when: 'false' },
    ]);
    baseline(h);
    const r = await h.at(0);
    expect(h.value('load/relay')).toBe(false);
    expect(r!.superseded.map((s) => `${s.intent.rule}<${s.by}`).sort()).toEqual(['boost<block-relay-2', 'low<high']);
    // the SG-Ready mode lost as a whole: sg_relay_1 was not written by it either
    expect(h.writes.filter((w) => w.device === 'heatpump').map((w) => `${w.rule}:${w.point}=${w.value}`)).toEqual(['block-relay-2:sg_relay_2=false']);
  });

  it('a manual override beats every rule until it expires', async () => {
    const ov = new MemoryOverrides();
    const h = harness([{ id: 'r', kind: 'switch', output: 'load.relay', priority: 1000, when: 'true' }], {}, { overrides: ov });
    baseline(h, { 'load.relay': true });
    ov.set({ output: 'load', value: false, expiresAt: 60_000, reason: 'maintenance', by: 'alice' });
    await h.at(0);
    expect(h.value('load#mode')).toBe('off');
    expect(h.writes).toHaveLength(1);
    expect(h.writes[0]).toMatchObject({ rule: 'override:alice', point: 'relay', value: false });
    expect(h.writes[0]!.reason).toMatch(/manual override by alice until 1970-01-01T00:01:00.000Z: maintenance/);
    await h.at(59);
    expect(h.writes).toHaveLength(1);
    await h.at(60);
    expect(h.value('load/relay')).toBe(true);
    // a second override to the same mode is written again (the relay changed in between)
    ov.set({ output: 'load', value: 'off', expiresAt: 200_000, reason: 'again', by: 'bob' });
    await h.at(61);
    expect(h.writes.map((w) => `${w.rule}=${w.value}`)).toEqual(['override:alice=false', 'r=true', 'override:bob=false']);
  });
});

describe('validated at load: every problem at once, with file and path', () => {
  it('points, outputs, literals, kinds, timing', () => {
    const { issues } = compile([
      { id: 'a', kind: 'switch', output: 'nosuch.relay', when: 'true' },
      { id: 'b', kind: 'switch', output: 'grid.active_power', when: 'true' },
      { id: 'c', kind: 'switch', output: 'load.relay', when: 'grid.nosuch > 1', priority: 2 },
      { id: 'd', kind: 'switch', output: 'heatpump', on: 'sg9-turbo', off: 'sg2-normal', when: 'true' },
      { id: 'e', kind: 'setpoint', output: 'load.relay', value: '1', priority: 3 },
      { id: 'f', kind: 'switch', output: 'load.relay', when: 'true', minSwitchIntervalS: 0.5, priority: 4 },
      { id: 'a', kind: 'battery', device: 'heatpump' },
      { id: 'g', kind: 'switch', output: 'load.relay', when: 'pv_surplus', priority: 5 },
    ]);
    const msgs = issues.map((i) => `${i.path}: ${i.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/rules\/0\/output: no device 'nosuch'/),
        expect.stringMatching(/^\/rules\/1\/output: point 'grid.active_power' is read-only/),
        expect.stringMatching(/^\/rules\/2\/when: invalid expression: device 'grid' \(profile eastron-sdm630\) has no point or canonical 'nosuch'/),
        expect.stringMatching(/^\/rules\/3\/on: 'sg9-turbo' is not a mode of heatpump/),
        expect.stringMatching(/^\/rules\/4\/output: setpoint output load.relay must be numeric/),
        expect.stringMatching(/^\/rules\/5\/minSwitchIntervalS: minSwitchIntervalS 0.5 s is shorter than the control period/),
        expect.stringMatching(/^\/rules\/6\/id: duplicate rule id 'a'/),
        expect.stringMatching(/^\/rules\/6\/device: profile of heatpump lacks battery mode\(s\) self-consumption, charge-from-surplus, hold/),
        expect.stringMatching(/^\/rules\/7\/when: invalid expression: expression must give a boolean, but gives a number/),
      ]),
    );
  });

  it('through the site config loader: schema errors of the rules section', () => {
    const config = siteConfig([{ id: 'k', kind: 'switch', output: 'load.relay', when: 'true', safe: 'explode', extra: 1 } as unknown as RuleConfig], { tickMs: 5 });
    let err: ConfigError | undefined;
    try {
      validateSiteConfig(config, '/site/site.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.issues.map((i) => `${i.path}: ${i.message}`);
    expect(text).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/rules\/0\/safe: expected one of 'on', 'off', 'hold'/),
        expect.stringMatching(/^\/rules\/0\/extra: unknown field 'extra'/),
        expect.stringMatching(/^\/control\/tickMs: expected a number >= 100/),
      ]),
    );
  });

  it('rule files listed in control.ruleFiles are schema-checked and compiled too', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-rules-'));
    writeFileSync(path.join(dir, 'more.yaml'), 'rules:\n  - id: x\n    kind: switch\n    output: load.relay\n    when: "true"\n    bogus: 1\n  - id: y\n    kind: surplus\n    loads: []\n  - id: z\n    kind: switch\n    output: load.relay\n    when: "grid.active_power.constructor"\n');
    const config = siteConfig([], { ruleFiles: ['more.yaml', 'missing.yaml'] });
    let err: ConfigError | undefined;
    try {
      validateSiteConfig(config, path.join(dir, 'site.yaml'));
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.issues.map((i) => `${path.basename(i.file)} ${i.path}: ${i.message}`);
    expect(text).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^more.yaml \/0\/bogus: unknown field 'bogus'/),
        expect.stringMatching(/^more.yaml \/1\/loads: /),
        expect.stringMatching(/^more.yaml \/2\/when: invalid expression: 'constructor' is a forbidden name/),
        expect.stringMatching(/^missing.yaml : cannot read the rule file: ENOENT/),
      ]),
    );
  });

  it('a clean rule file loads: it passes the check, and its rule is compiled and drives its output', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-rules-'));
    writeFileSync(path.join(dir, 'ok.yaml'), '- id: x\n  kind: switch\n  output: load.relay\n  when: "export_power > 2000"\n');
    const config = siteConfig([], { ruleFiles: ['ok.yaml'] });
    expect(() => validateSiteConfig(config, path.join(dir, 'site.yaml'))).not.toThrow();
    // The config has no inline rules: whatever runs came from the file.
    const gathered = gatherRules(config, path.join(dir, 'site.yaml'), dir, validateRuleShape);
    expect(gathered.issues).toEqual([]);
    expect(gathered.rules.map((r) => `${path.basename(r.file)} ${r.path} ${r.rule.id}`)).toEqual(['ok.yaml /0 x']);
    const h = harness([], { ruleFiles: [path.join(dir, 'ok.yaml')] });
    expect(h.engine.rules.map((r) => r.id)).toEqual(['x']);
    baseline(h, { 'grid.active_power': -3000 });
    await h.at(0);
    expect(h.value('load/relay')).toBe(true);
    expect(h.writes.map((w) => `${w.rule} ${w.device}.${w.point}=${w.value}`)).toEqual(['x load.relay=true']);
  });
});
