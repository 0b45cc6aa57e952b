/** The site database for CLI commands that work on a gateway's data directory (override, instruments). */
import type { Logger } from '../../runtime/logger.js';
import { openPersistence, type Persistence } from '../../runtime/persistence/database.js';
import { FEATURES } from './features.js';

/** The site database's migration list: every feature's part, in the feature list's order (as the gateway runs them). */
export const SITE_MIGRATIONS = FEATURES.map((f) => f.migrations ?? []);

/**
 * Open the site database from a CLI command (another process beside a running gateway): the
 * same migrations as the gateway, but a damaged file is reported, never moved aside.
 */
export function openSiteDatabase(dataDir: string, logger?: Logger): Persistence {
  return openPersistence(dataDir, SITE_MIGRATIONS, logger, { quarantine: false });
}
