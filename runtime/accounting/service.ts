/** The accounting service and its `instruments` command (feature: ./feature.ts). */
import type { CommandHandler } from '../feature-api.js';
import { serviceKey } from '../service-registry.js';
import type { ConfigIssue } from '../config/errors.js';
import { evidenceProblem } from './evidence.js';
import type { InstrumentConfig } from './config-schema.js';
import type { OffsetSpec } from './offsets.js';
import type { MeterChangeSpec } from './meter-change.js';
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
  /** Record a meter change (acct_meter_change) and hand it to the metering stage; refused with the reason when too late. */
  addMeterChange(spec: MeterChangeSpec): { added: boolean; issues: ConfigIssue[] };
  /** Record a retired offset (acct_offset; idempotent by serials; refused with the issues when a check fails). */
  addOffset(o: OffsetSpec): { added: boolean; issues: ConfigIssue[] };
  readonly engine: AccountingEngine;
  /** Totals of the closed quarter-hours of the last `ms` milliseconds (rolling window, e.g. 24 h). */
  rolling(ms: number): Totals;
  /** Whether on-site renewable attributes are retained, sold or none (green shares depend on it). */
  readonly onsiteAttributes: string;
}

export const ACCOUNTING = serviceKey<AccountingService>('accounting');

/**
 * The `instruments` command (runtime/accounting/README.md); `service` undefined: accounting is off.
 * Over the uplink the evidence must also be checkable (./evidence.ts): a remote sender's "x" is
 * not proof of anything.
 */
export function instrumentsCommand(service: AccountingService | undefined): CommandHandler {
  return {
    name: 'instruments',
    feature: 'accounting',
    run(cmd) {
      if (!service) return { ok: false, code: 'CE_CMD_NOT_RUNNING', error: 'carbon accounting is not enabled on this gateway (no accounting section)' };
      if (cmd.type === 'meter-change') {
        const r = service.addMeterChange(cmd.meterChange as MeterChangeSpec);
        if (r.issues.length) return { ok: false, code: 'CE_CMD_REFUSED', error: `meter change not recorded: ${r.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`, data: { added: false } };
        return { ok: true, data: { added: r.added } };
      }
      if (cmd.type === 'add-offset') {
        // Contract v3: the offset's shape is validated by the schema; evidence and serials here.
        const r = service.addOffset(cmd.offset as OffsetSpec);
        if (r.issues.length) return { ok: false, code: 'CE_CMD_REFUSED', error: `offset not recorded: ${r.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`, data: { added: false } };
        return { ok: true, data: { added: r.added, ...(r.added ? {} : { note: 'already recorded (same serials): nothing claimed twice' }) } };
      }
      // The contract's schema validated the instrument's shape; the engine checks the rest.
      const ins = cmd.instrument as InstrumentConfig;
      const weak = ins.evidence === undefined ? undefined : evidenceProblem(ins.evidence);
      if (weak) return { ok: false, code: 'CE_CMD_REFUSED', error: `instrument not recorded: /instrument/evidence: ${weak}`, data: { added: false } };
      const r = service.addInstrument(ins);
      if (r.issues.length) {
        return { ok: false, code: 'CE_CMD_REFUSED', error: `instrument not recorded: ${r.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`, data: { added: false } };
      }
      return { ok: true, data: { added: r.added, ...(r.added ? {} : { note: 'already recorded (same serials): nothing claimed twice' }) } };
    },
  };
}
