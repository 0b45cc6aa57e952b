/**
 * Build step: compile the JSON schemas the gateway validates at start into ajv standalone ESM
 * modules in dist/validators/<name>.js (run by `npm run build`, `prepare`, `npm test`, `npm run bench`
 * after tsc). The runtime (runtime/config/precompiled.ts) uses them when their schemaHash matches
 * the live schema, so `carbonedge run` never loads or runs the ajv compiler.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ajv } from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { createAjv } from '../../runtime/config/ajv-issues.js';
import { PRECOMPILED_NAMES, schemaHash, VALIDATORS_DIR, type PrecompiledName } from '../../runtime/config/validator-names.js';
import { siteConfigSchema } from '../cli/site.js';
import { packagePath } from '../../runtime/package-root.js';
import { ruleSchema } from '../../rules/config-schema.js';
import { accountingConfigSchema } from '../../runtime/accounting/config-schema.js';

const standaloneCode = ((standaloneModule as unknown as { default?: unknown }).default ?? standaloneModule) as (ajv: Ajv, fn: unknown) => string;

/** The schemas, exactly as the runtime passes them to schemaValidator(). */
export function validatorSchemas(): Record<PrecompiledName, object> {
  return {
    'site-config': siteConfigSchema,
    profile: JSON.parse(readFileSync(packagePath('device-profiles', 'profile.schema.json'), 'utf8')) as object,
    rule: ruleSchema,
    instrument: (accountingConfigSchema.properties as { instruments: { items: object } }).instruments.items,
  };
}

/**
 * ajv's ESM output still reaches its runtime helpers (ucs2length, equal, ...) with `require()`,
 * which an ES module does not have: give the module one, resolving from the package like ajv would.
 */
function esmImports(code: string): string {
  const needs = /\brequire\(/.test(code);
  return needs ? `import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\n${code}` : code;
}

export function compileValidators(outDir = fileURLToPath(VALIDATORS_DIR)): string[] {
  mkdirSync(outDir, { recursive: true });
  const schemas = validatorSchemas();
  const written: string[] = [];
  for (const name of PRECOMPILED_NAMES) {
    const ajv = createAjv({ code: { esm: true, source: true } });
    const code = esmImports(standaloneCode(ajv, ajv.compile(schemas[name])));
    const file = path.join(outDir, `${name}.js`);
    writeFileSync(file, `${code}\nexport const schemaHash = ${JSON.stringify(schemaHash(schemas[name]))};\n`);
    written.push(file);
  }
  return written;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of compileValidators()) process.stdout.write(`compiled ${path.relative(process.cwd(), f)}\n`);
}
