/** Where the accounting commands (`instruments`, `offsets`) write: the site's store, or `--db FILE`. */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { AccountingConfig } from '../../runtime/accounting/config-schema.js';
import { Calendar } from '../../runtime/accounting/calendar.js';
import { resolveDataDir } from '../../runtime/config/data-dir.js';
import { DB_FILE_NAME } from '../../runtime/store/store.js';
import { UsageError } from './command.js';
import { loadSiteConfigFile } from './site.js';

/** The options that name the store: `--config FILE [--data DIR]` or `--db FILE [--timezone TZ]`, with `--add`, `--list`, `--json`. */
export const STORE_OPTIONS = {
  config: { type: 'string', short: 'c' },
  data: { type: 'string' },
  db: { type: 'string' },
  timezone: { type: 'string' },
  add: { type: 'boolean' },
  list: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** The store database and the site calendar from `--config FILE [--data DIR]` or `--db FILE [--timezone TZ]`. */
export async function accountingStore(values: { config?: string; data?: string; db?: string; timezone?: string }, what: string): Promise<{ dbFile: string; cal: Calendar }> {
  if (!!values.config === !!values.db) throw new UsageError('give exactly one of --config FILE (store in its data directory) or --db FILE');
  let dbFile: string;
  let timezone: string;
  if (values.config) {
    const { config } = await loadSiteConfigFile(values.config);
    const a = config.accounting as unknown as AccountingConfig | undefined;
    if (!a || a.enabled === false) throw new UsageError(`${values.config} has no (enabled) accounting section: ${what} would never be applied`);
    timezone = a.timezone ?? config.site.timezone ?? 'UTC';
    const dataDir = resolveDataDir(config, values.data);
    mkdirSync(dataDir, { recursive: true });
    dbFile = path.join(dataDir, DB_FILE_NAME);
  } else {
    dbFile = values.db!;
    timezone = values.timezone ?? 'UTC';
  }
  try {
    return { dbFile, cal: new Calendar(timezone) };
  } catch {
    throw new UsageError(`unknown time zone '${timezone}' (IANA name, e.g. Asia/Shanghai)`);
  }
}
