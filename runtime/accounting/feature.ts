/**
 * The accounting feature: live carbon accounting from the hub's readings into the store's SQLite
 * (`acct_*` tables), carbon summaries to the outbox (streams carbon-15m, carbon-day). Service
 * `accounting` (AccountingService); command `instruments`.
 */
import { section, type FeatureDeclaration } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import { METERING } from '../metering/service.js';
import { ACCOUNTING_MIGRATIONS } from './acct-db.js';
import { accountingConfigSchema, validateAccountingConfig, type AccountingConfig } from './config-schema.js';
import { ACCOUNTING, instrumentsCommand } from './service.js';

export { ACCOUNTING, instrumentsCommand, type AccountingService } from './service.js';

export const accountingFeature: FeatureDeclaration = {
  name: 'accounting',
  sections: [{ key: 'accounting', schema: accountingConfigSchema }],
  check: validateAccountingConfig,
  migrations: ACCOUNTING_MIGRATIONS,
  uses: [OUTBOX, METERING],
  provides: [ACCOUNTING],
  async create(ctx) {
    const a = section<AccountingConfig>(ctx.config, 'accounting');
    if (!a || a.enabled === false) {
      ctx.commands.register(instrumentsCommand(undefined));
      return null;
    }
    const feature = await (await import('./feature-impl.js')).createAccountingFeature(ctx, a);
    ctx.commands.register(instrumentsCommand(ctx.services.get(ACCOUNTING)));
    return feature;
  },
};
