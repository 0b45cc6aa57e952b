import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import type { ConfigIssue } from './errors.js';

/**
 * An ajv instance: all errors, verbose (errors carry their schema, see allowedKeys), defaults
 * untouched, unknown keywords (description) allowed. ajv is loaded on first use only: the gateway
 * validates with precompiled code (runtime/config/precompiled.ts) and never needs the compiler.
 */
export function createAjv(extra: Options = {}): Ajv {
  const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  return new AjvClass({ allErrors: true, strict: false, allowUnionTypes: true, verbose: true, ...extra });
}

/**
 * Keys an object accepts, from the schema holding the failed `additionalProperties`. ajv reports that
 * schema (`parentSchema`) with `verbose: true`, which createAjv() and the precompiled validators use;
 * the error's schemaPath would not do: inside a `$ref` it is relative to the referenced schema.
 */
function allowedKeys(e: ErrorObject): string[] {
  const props = e.parentSchema && typeof e.parentSchema === 'object' ? (e.parentSchema as { properties?: unknown }).properties : undefined;
  return props && typeof props === 'object' ? Object.keys(props) : [];
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

/** Turn ajv errors into issues that say what was expected, at the path where it was expected. */
export function ajvIssues(errors: ErrorObject[] | null | undefined, file: string, data: unknown): ConfigIssue[] {
  if (!errors) return [];
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  const valueAt = (path: string): unknown => {
    let cur: unknown = data;
    for (const k of path.split('/').slice(1)) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return cur;
  };
  for (const e of errors) {
    // if/then/else wrappers only repeat what their branch already said.
    if (e.keyword === 'if') continue;
    let path = e.instancePath;
    let message: string;
    const got = valueAt(e.instancePath);
    switch (e.keyword) {
      case 'required':
        path = `${path}/${(e.params as { missingProperty: string }).missingProperty}`;
        message = 'is required but missing';
        break;
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        path = `${path}/${extra}`;
        const allowed = allowedKeys(e);
        message = `unknown field '${extra}'${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`;
        break;
      }
      case 'enum':
        message = `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(show).join(', ')}, got ${show(got)}`;
        break;
      case 'const':
        message = `expected ${show((e.params as { allowedValue: unknown }).allowedValue)}, got ${show(got)}`;
        break;
      case 'type':
        message = `expected ${(e.params as { type: string }).type}, got ${got === null ? 'null' : Array.isArray(got) ? 'array' : typeof got} ${show(got)}`;
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        message = `expected a number ${e.message?.replace(/^must be /, '')}, got ${show(got)}`;
        break;
      case 'pattern':
        message = `expected text matching ${(e.params as { pattern: string }).pattern}, got ${show(got)}`;
        break;
      default:
        message = `expected value that ${e.message ?? 'matches the schema'}${got !== undefined && typeof got !== 'object' ? `, got ${show(got)}` : ''}`;
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file, path, message });
  }
  return out;
}

/** Compile once and validate; returns issues (empty when valid). */
export function validateWith(fn: ValidateFunction, data: unknown, file: string): ConfigIssue[] {
  return fn(data) ? [] : ajvIssues(fn.errors, file, data);
}
