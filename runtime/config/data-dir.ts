import path from 'node:path';
import type { SiteConfig } from './types.js';

/** Environment variable naming the data directory (the container sets /data). */
export const DATA_DIR_ENV = 'CARBONEDGE_DATA_DIR';

/**
 * Where the store and state files live: `--data DIR`, else $CARBONEDGE_DATA_DIR, else
 * `gateway.dataDir`, else `./.carbonedge`.
 */
export function resolveDataDir(config: SiteConfig, override?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(override ?? (env[DATA_DIR_ENV] || undefined) ?? config.gateway.dataDir ?? '.carbonedge');
}
