/**
 * Rules with their output state, the manual overrides in force and the latest decisions; setting
 * and clearing an override through the API goes through the rules service's command path (the
 * same validation as the uplink's `rules` command), and the override is applied by the control
 * loop through the write gate like any other.
 */
import type { GatewayContext } from '../feature-api.js';
import { sharedPersistence } from '../persistence/shared.js';
import { DecisionLogRepository } from '../control/decision-log.js';
import type { Logger } from '../logger.js';
import { RULES, WRITE_GATE } from '../../rules/service.js';
import type { RulesCommandResult } from '../../rules/commands.js';

const LATEST_DECISIONS = 20;

export class RulesView {
  private decisions: DecisionLogRepository | undefined;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly log: Logger,
  ) {}

  private decisionLog(): DecisionLogRepository | undefined {
    const persistence = sharedPersistence(this.ctx.services)?.persistence;
    if (!persistence?.isOpen) return undefined;
    return (this.decisions ??= new DecisionLogRepository(persistence));
  }

  view(): Record<string, unknown> {
    const rules = this.ctx.services.get(RULES);
    const gate = this.ctx.services.get(WRITE_GATE);
    const now = this.ctx.clock.now();
    return {
      running: !!rules,
      dryRun: !!this.ctx.config.gateway.dryRun,
      ticks: rules?.engine.ticks ?? 0,
      writes: gate ? { ...gate.counts } : null,
      rules: (rules?.engine.rules ?? []).map((r) => ({
        id: r.id,
        kind: r.kind,
        priority: r.priority,
        outputs: r.outputs.map((o) => {
          const s = rules!.engine.outputs.get(o.key);
          return { output: o.key, value: s?.value ?? null, switches: s?.switches ?? 0 };
        }),
      })),
      overrides: rules ? rules.overrides.list(now) : [],
      decisions: this.decisionLog()?.latest(LATEST_DECISIONS) ?? [],
    };
  }

  /** Set (`forS` > 0) an override, or clear one; logged like the CLI's and the uplink's. */
  command(cmd: { type: 'override'; output: string; value: unknown; forS: unknown; reason?: unknown; by?: unknown } | { type: 'clear-override'; output: string }, remote: string): RulesCommandResult {
    const rules = this.ctx.services.get(RULES);
    if (!rules) return { ok: false, code: 'CE_CMD_NOT_RUNNING', error: 'the rule engine is not running on this gateway (no rules configured, or control.enabled: false)' };
    const r = rules.command(cmd.type === 'override' ? { ...cmd, by: typeof cmd.by === 'string' ? cmd.by : `http ${remote}` } : cmd);
    if (r.ok) this.log.info({ ...cmd, remote }, cmd.type === 'override' ? 'manual override set (HTTP API)' : 'manual override cleared (HTTP API)');
    else this.log.warn({ ...cmd, remote, error: r.error, code: r.code }, 'override refused (HTTP API)');
    return r;
  }
}
