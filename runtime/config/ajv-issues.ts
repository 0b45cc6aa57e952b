import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import { closest } from './did-you-mean.js';
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

/**
 * Keywords whose failure leaves the value's shape intact (a key too many, a number out of range,
 * text too long): code written against the config's types can still read it. Every other failure
 * (type, required, enum, const, ...) makes the value malformed.
 */
const SHAPE_KEEPING = new Set(['additionalProperties', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'format', 'minItems', 'maxItems', 'uniqueItems', 'if']);

/** A hint naming the closest candidate, or ''. */
function hint(got: unknown, candidates: unknown[]): string {
  if (got === undefined || (typeof got === 'object' && got !== null)) return '';
  const numbers = candidates.filter((c) => typeof c === 'number');
  if (typeof got === 'number' && numbers.length === candidates.length && numbers.length) {
    // A number: the nearest allowed value (9200 baud -> 9600, not 1200).
    const near = numbers.reduce((a, b) => (Math.abs(b - got) < Math.abs(a - got) ? b : a));
    return ` (did you mean ${near}?)`;
  }
  const byText = new Map(candidates.map((c) => [String(c), c]));
  const c = closest(String(got), byText.keys());
  return c === undefined ? '' : ` (did you mean ${show(byText.get(c))}?)`;
}

/** Missing keys explained by a mistyped one (`baudrate` for `baudRate`): `<object path>/<missing key>`. */
function explainedMissing(errors: ErrorObject[]): Set<string> {
  const out = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const missing = errors
      .filter((r) => r.keyword === 'required' && r.instancePath === e.instancePath)
      .map((r) => (r.params as { missingProperty: string }).missingProperty);
    const match = closest(extra, missing);
    if (match !== undefined) out.add(`${e.instancePath}/${match}`);
  }
  return out;
}

/** Turn ajv errors into issues that say what was expected, at the path where it was expected. */
export function ajvIssues(errors: ErrorObject[] | null | undefined, file: string, data: unknown): ConfigIssue[] {
  return describeAjvErrors(errors, file, data).issues;
}

/**
 * ajv errors as issues, plus the paths where the value is malformed (not just out of range or
 * carrying an unknown key): checks that read the config skip those (runtime/config/load.ts).
 */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, file: string, data: unknown): { issues: ConfigIssue[]; malformed: string[] } {
  if (!errors) return { issues: [], malformed: [] };
  const out: ConfigIssue[] = [];
  const malformed: string[] = [];
  const seen = new Set<string>();
  const explained = explainedMissing(errors);
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
    let code: ConfigIssue['code'] = 'CE_CONFIG_SCHEMA';
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
        const near = closest(extra, allowed);
        code = 'CE_CONFIG_UNKNOWN_KEY';
        message = `unknown field '${extra}'${allowed.length ? ` (${near === undefined ? '' : `did you mean '${near}'? `}expected one of: ${allowed.join(', ')})` : ''}`;
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
        code = 'CE_CONFIG_ENUM';
        message = `expected one of ${allowed.map(show).join(', ')}, got ${show(got)}${hint(got, allowed)}`;
        break;
      }
      case 'const':
        code = 'CE_CONFIG_ENUM';
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
    // `baudrate` given for `baudRate`: the unknown-key message says it; no second error for the
    // missing key, and the object counts as well-formed like any object with an unknown key.
    if (e.keyword === 'required' && explained.has(path)) continue;
    if (!SHAPE_KEEPING.has(e.keyword)) malformed.push(path);
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file, path, message, code });
  }
  return { issues: out, malformed };
}

/** Compile once and validate; returns issues (empty when valid). */
export function validateWith(fn: ValidateFunction, data: unknown, file: string): ConfigIssue[] {
  return fn(data) ? [] : ajvIssues(fn.errors, file, data);
}

/** Validate; returns the issues and the paths where the value is malformed (see describeAjvErrors). */
export function validateDetailed(fn: ValidateFunction, data: unknown, file: string): { issues: ConfigIssue[]; malformed: string[] } {
  return fn(data) ? { issues: [], malformed: [] } : describeAjvErrors(fn.errors, file, data);
}
