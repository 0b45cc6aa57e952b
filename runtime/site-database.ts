/**
 * The site database: one SQLite file (`<dataDir>/carbonedge.db`) for every part, with the one
 * ordered migration list to which each part contributes. Opened by the composition root for the
 * parts that need it, and by CLI commands that work on the same file.
 */
import { ACCOUNTING_MIGRATIONS } from './accounting/acct-db.js';
import { DECISION_LOG_MIGRATIONS } from './control/decision-log.js';
import { OVERRIDES_MIGRATIONS } from './control/overrides.js';
import type { Logger } from './logger.js';
import { openPersistence, type Persistence } from './persistence/database.js';
import type { Migration } from './persistence/migrations.js';
import { acquirePersistence, type PersistenceHandle } from './persistence/shared.js';
import { STORE_MIGRATIONS } from './store/migrations.js';

/** In order: never reorder or remove a released migration, append new ones to their part's list. */
export const SITE_MIGRATIONS: readonly (readonly Migration[])[] = [STORE_MIGRATIONS, ACCOUNTING_MIGRATIONS, DECISION_LOG_MIGRATIONS, OVERRIDES_MIGRATIONS];

/** Take a hold on the gateway's shared site database, opening (and migrating) it on first use. */
export function acquireSiteDatabase(ctx: { services: Map<string, unknown>; dataDir: string; logger: Logger; clock: { now(): number } }): PersistenceHandle {
  return acquirePersistence(ctx, () => openPersistence(ctx.dataDir, SITE_MIGRATIONS, ctx.logger, { now: ctx.clock.now() }));
}

/**
 * Open the site database from a CLI command (another process beside a running gateway): the
 * same migrations, but a damaged file is reported, never moved aside.
 */
export function openSiteDatabase(dataDir: string, logger?: Logger): Persistence {
  return openPersistence(dataDir, SITE_MIGRATIONS, logger, { quarantine: false });
}
