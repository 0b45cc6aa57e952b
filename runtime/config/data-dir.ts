import path from 'node:path';
import type { SiteConfig } from './types.js';

/** Where the store and state files live: `--data DIR`, else `gateway.dataDir`, else `./.carbonedge`. */
export function resolveDataDir(config: SiteConfig, override?: string): string {
  return path.resolve(override ?? config.gateway.dataDir ?? '.carbonedge');
}
