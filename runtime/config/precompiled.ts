/**
 * Schema validators compiled ahead of time (the build step `tools/build/compile-validators.ts`
 * writes ajv standalone modules to dist/validators/). Compiling the site config schema and the
 * profile schema with ajv at start costs ~20 MB and ~0.5 s on a gateway; the precompiled code costs
 * neither. Each module carries the hash of the schema it was generated from: a validator whose
 * schema changed since the build (or no build at all, e.g. tests running from sources) falls back
 * to compiling at runtime with ajv, loaded only then.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { createAjv } from './ajv-issues.js';
import { PRECOMPILED_NAMES, schemaHash, VALIDATORS_DIR, type PrecompiledName } from './validator-names.js';

export { type PrecompiledName } from './validator-names.js';

interface PrecompiledModule {
  validate: ValidateFunction;
  schemaHash: string;
}

const modules = new Map<string, PrecompiledModule>();
/** Precompiled modules present but not loadable (a broken build): those validators compile at runtime. */
export const precompiledLoadErrors = new Map<string, Error>();
for (const name of PRECOMPILED_NAMES) {
  const url = new URL(`${name}.js`, VALIDATORS_DIR);
  if (!existsSync(fileURLToPath(url))) continue;
  try {
    modules.set(name, (await import(url.href)) as PrecompiledModule);
  } catch (err) {
    precompiledLoadErrors.set(name, err as Error);
  }
}

/** By schema object: two loaders with different schemas under one name (e.g. feature subsets) never share a validator. */
const cache = new WeakMap<object, ValidateFunction>();

/**
 * The validator for `schema`: the precompiled one when it was built from this very schema, else
 * one compiled now.
 */
export function schemaValidator(name: PrecompiledName, schema: object): ValidateFunction {
  let fn = cache.get(schema);
  if (fn) return fn;
  const pre = modules.get(name);
  if (pre && pre.schemaHash === schemaHash(schema)) {
    fn = pre.validate;
  } else {
    fn = createAjv().compile(schema);
  }
  cache.set(schema, fn);
  return fn;
}

/** True when `name` would be served precompiled for `schema` (tests, diagnostics). */
export function isPrecompiled(name: PrecompiledName, schema: object): boolean {
  return modules.get(name)?.schemaHash === schemaHash(schema);
}
