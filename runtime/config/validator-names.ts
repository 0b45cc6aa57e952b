/** What the validator build step (tools/build/compile-validators.ts) and the runtime loader share. */
import { createHash } from 'node:crypto';

/** Names of the validators the build precompiles (file dist/validators/<name>.js). */
export const PRECOMPILED_NAMES = ['site-config', 'profile', 'rule', 'instrument'] as const;
export type PrecompiledName = (typeof PRECOMPILED_NAMES)[number];

/** dist/validators/ seen from dist/runtime/config/ (from sources this directory does not exist). */
export const VALIDATORS_DIR = new URL('../../validators/', import.meta.url);

/** Stable hash of a schema: what a precompiled module must match to be used. */
export function schemaHash(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 32);
}
