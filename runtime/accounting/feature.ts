/**
 * The accounting feature: live carbon accounting from the hub's readings into the store's SQLite
 * (`acct_*` tables), carbon summaries to the outbox (streams carbon-15m, carbon-day). Service
 * `accounting` (AccountingService); command `instruments`.
 */
import { section, serviceKey, type CommandHandler, type FeatureDeclaration } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import { STORE } from '../store/feature.js';
import type { ConfigIssue } from '../config/errors.js';
import { accountingConfigSchema, validateAccountingConfig, type AccountingConfig, type InstrumentConfig } from './config-schema.js';
import type { AccountingEngine, Totals } from './live.js';

export interface AccountingService {
  /** Hour, day, month and year-to-date windows (exact totals). */
  windows(): Record<string, Totals & { key: string }>;
  /**
   * Record a contractual instrument pushed after start (idempotent by serials; refused with the
   * issues when evidence is missing). Another process can do the same through the store:
   * `carbonedge instruments --add` writes acct_instrument, which the engine reads at every close.
   */
  addInstrument(ins: InstrumentConfig): { added: boolean; issues: ConfigIssue[] };
  readonly engine: AccountingEngine;
}

export const ACCOUNTING = serviceKey<AccountingService>('accounting');

/** The `instruments` command (runtime/accounting/README.md); `service` undefined: accounting is off. */
export function instrumentsCommand(service: AccountingService | undefined): CommandHandler {
  return {
    name: 'instruments',
    feature: 'accounting',
    run(cmd) {
      if (!service) return { ok: false, error: 'carbon accounting is not enabled on this gateway (no accounting section)' };
      // The contract's schema validated the instrument's shape; the engine checks the rest.
      const r = service.addInstrument(cmd.instrument as InstrumentConfig);
      if (r.issues.length) {
        return { ok: false, error: `instrument not recorded: ${r.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`, data: { added: false } };
      }
      return { ok: true, data: { added: r.added, ...(r.added ? {} : { note: 'already recorded (same serials): nothing claimed twice' }) } };
    },
  };
}

export const accountingFeature: FeatureDeclaration = {
  name: 'accounting',
  sections: [{ key: 'accounting', schema: accountingConfigSchema }],
  check: validateAccountingConfig,
  uses: [STORE, OUTBOX],
  provides: [ACCOUNTING],
  async create(ctx) {
    const a = section<AccountingConfig>(ctx.config, 'accounting');
    if (!a || a.enabled === false) {
      ctx.commands.register(instrumentsCommand(undefined));
      return null;
    }
    const feature = (await import('./feature-impl.js')).createAccountingFeature(ctx, a);
    ctx.commands.register(instrumentsCommand(ctx.services.get(ACCOUNTING)));
    return feature;
  },
};
