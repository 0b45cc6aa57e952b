/**
 * The build (`npm run build`, `npm test`, `prepare`) writes ajv standalone validators to
 * dist/validators/. They must exist, match the schemas in the sources, be the ones the built gateway
 * uses, and report exactly what runtime compilation reports.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ValidateFunction } from 'ajv';
import { ajvIssues, createAjv } from '../../runtime/config/ajv-issues.js';
import { ConfigError } from '../../runtime/config/errors.js';
import { loadSiteConfigText } from '../../tools/cli/site.js';
import { PRECOMPILED_NAMES, schemaHash, type PrecompiledName } from '../../runtime/config/validator-names.js';
import { parseSource } from '../../runtime/config/yaml-source.js';
import { validatorSchemas } from '../../tools/build/compile-validators.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const distFile = (name: string) => path.join(root, 'dist/validators', `${name}.js`);
const schemas = validatorSchemas();

async function precompiled(name: PrecompiledName): Promise<{ validate: ValidateFunction; schemaHash: string }> {
  return (await import(distFile(name))) as { validate: ValidateFunction; schemaHash: string };
}

/** Issues from the precompiled validator and from ajv compiling the same schema now. */
async function bothIssues(name: PrecompiledName, data: unknown, file: string) {
  const pre = (await precompiled(name)).validate;
  const runtime = createAjv().compile(schemas[name]);
  expect(pre(data)).toBe(false);
  expect(runtime(data)).toBe(false);
  return { pre: ajvIssues(pre.errors, file, data), runtime: ajvIssues(runtime.errors, file, data) };
}

const badConfig = `version: 1
site: { id: plant-1, colour: blue }
gateway: { id: gw-1, dryrun: true }
buses:
  - { id: rs485-1, type: rtu, path: /dev/ttyUSB0, baudRate: 9601, parity: even, speed: 1 }
  - { id: lan, type: tcp, host: 127.0.0.1 }
devices:
  - { id: grid, role: solar, bus: rs485-1, unitId: "one", profile: eastron-sdm630, pollIntervalMs: 50 }
store: { flushIntervalMs: 10, colour: red }
rules:
  - { id: r1, kind: switch, output: heater.relay, colour: red }
`;

const badProfile = {
  version: 0,
  id: 'bad',
  kind: 'toaster',
  source: {},
  limits: { maxRegistersPerRequest: 500 },
  points: [{ id: 'p', register: 'holdings', address: 70000, type: 'float', colour: 'red' }],
};

describe('precompiled validators (dist/validators)', () => {
  it('exist after the build for every schema the gateway validates at start, built from the current schemas', async () => {
    for (const name of PRECOMPILED_NAMES) {
      expect(existsSync(distFile(name)), `${distFile(name)} (run npm run build)`).toBe(true);
      expect((await precompiled(name)).schemaHash).toBe(schemaHash(schemas[name]));
    }
  });

  it('a bad site config: the same issues as runtime compilation, with the accepted fields listed', async () => {
    const { value } = parseSource(badConfig, 'bad.yaml');
    const { pre, runtime } = await bothIssues('site-config', value, 'bad.yaml');
    expect(pre).toEqual(runtime);
    expect(pre.length).toBeGreaterThanOrEqual(10);
    const byPath = Object.fromEntries(pre.map((i) => [i.path, i.message]));
    expect(byPath['/site/colour']).toBe("unknown field 'colour' (expected one of: id, name, timezone)");
    expect(byPath['/buses/0/speed']).toMatch(/^unknown field 'speed' \(expected one of: id, .*baudRate/);
    expect(byPath['/buses/1/port']).toBe('is required but missing');
    expect(byPath['/store/colour']).toMatch(/^unknown field 'colour' \(expected one of: flushIntervalMs, /);
    expect(byPath['/rules/0/colour']).toMatch(/^unknown field 'colour' \(expected one of: id, .*output/);
  });

  it('a bad profile: the same issues as runtime compilation', async () => {
    const { pre, runtime } = await bothIssues('profile', badProfile, 'bad.yaml');
    expect(pre).toEqual(runtime);
    const byPath = Object.fromEntries(pre.map((i) => [i.path, i.message]));
    expect(byPath['/kind']).toMatch(/expected one of .*'meter'.*got 'toaster'/);
    expect(byPath['/points/0/colour']).toMatch(/^unknown field 'colour' \(expected one of: id, .*register/);
  });

  it('bad rule and instrument shapes: the same issues as runtime compilation', async () => {
    const rule = await bothIssues('rule', { id: 'r', kind: 'setpoint', output: 'x.y', colour: 1 }, 'rules.yaml');
    expect(rule.pre).toEqual(rule.runtime);
    expect(rule.pre.map((i) => i.path)).toEqual(expect.arrayContaining(['/value', '/colour']));
    const ins = await bothIssues('instrument', { type: 'GEC', MWh: -1, colour: 1 }, 'site.yaml');
    expect(ins.pre).toEqual(ins.runtime);
    expect(ins.pre.map((i) => i.path)).toEqual(expect.arrayContaining(['/MWh', '/colour']));
  });

  it('the built gateway uses them, and its config errors equal those of the sources', async () => {
    const dist = (p: string) => import(path.join(root, 'dist', p));
    const { isPrecompiled, precompiledLoadErrors } = await dist('runtime/config/precompiled.js');
    const { validatorSchemas: builtSchemas } = await dist('tools/build/compile-validators.js');
    expect([...precompiledLoadErrors.keys()]).toEqual([]);
    const built = builtSchemas() as Record<PrecompiledName, object>;
    for (const name of PRECOMPILED_NAMES) expect(isPrecompiled(name, built[name]), name).toBe(true);
    /** The ConfigError (of the loader's own build) that loading the bad config throws. */
    const errorOf = (load: (t: string, f: string) => unknown, errorClass: typeof ConfigError): ConfigError => {
      try {
        load(badConfig, 'bad.yaml');
      } catch (err) {
        if (err instanceof errorClass) return err;
        throw new Error(`expected a ConfigError, got ${String(err)}`);
      }
      throw new Error('expected a ConfigError, nothing was thrown');
    };
    const fromDist = errorOf((await dist('tools/cli/site.js')).loadSiteConfigText, (await dist('runtime/config/errors.js')).ConfigError);
    const fromSources = errorOf(loadSiteConfigText, ConfigError);
    expect(fromSources.issues.length).toBeGreaterThanOrEqual(10);
    expect(fromDist.issues).toEqual(fromSources.issues);
    expect(fromDist.message).toBe(fromSources.message);
  });
});
