import type { ErrorObject } from 'ajv';

/** One line per error; for enum/const errors the allowed values are listed. (No ajv at runtime: a type import.) */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${allowed(e)}`).join('; ');
}

function allowed(e: ErrorObject): string {
  const p: Record<string, unknown> = e.params;
  const values = e.keyword === 'enum' ? p.allowedValues : e.keyword === 'const' ? [p.allowedValue] : undefined;
  return Array.isArray(values) ? ` (allowed: ${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')})` : '';
}
