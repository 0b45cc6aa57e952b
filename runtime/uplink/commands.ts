import type { ValidateFunction } from 'ajv';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Clock } from '../types.js';
import { systemClock } from '../types.js';
import { formatAjvErrors, type Contract } from './contract.js';

/**
 * Inbound commands over MQTT (Zigbee2MQTT style). The uplink subscribes (QoS 1) to
 * `<prefix>/cmd/+`; a message on `<prefix>/cmd/<name>` is a JSON command for the part `<name>`
 * (`rules`, `instruments`); the answer goes to `<prefix>/cmd/<name>/response`:
 *
 *   { "schemaVersion": 1, "status": "ok" | "error", "data"?: ..., "error"?: "...", "transaction"?: ... }
 *
 * Every payload is validated against its JSON Schema (runtime/uplink/contract/command-<name>.v1.schema.json)
 * before it reaches the part, then by the part itself (e.g. the rule engine checks the output
 * exists and the value is one of its modes). Nothing a message contains can crash the gateway:
 * every failure becomes an `error` response, and every command is logged.
 */

export const COMMAND_SCHEMA_VERSION = 1;
/** Largest command payload accepted (bytes). */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** Commands remembered with their transaction: a repeat of the same command (QoS 1 redelivery, a sender's retry) is answered again, not applied twice. */
const REMEMBERED_TRANSACTIONS = 256;

export interface CommandResponse {
  schemaVersion: number;
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  transaction?: string | number;
}

export type CommandOutcome = { ok: true; data?: unknown } | { ok: false; error: string; data?: unknown };

export interface CommandSpec {
  /** Topic level after `<prefix>/cmd/`. */
  name: string;
  /** Validator of the payload (from the contract). */
  validate: ValidateFunction;
  /** Apply a validated command (without its `transaction`). May throw: the router turns it into an error response. */
  run(cmd: Record<string, unknown>): CommandOutcome | Promise<CommandOutcome>;
}

export class CommandRouter {
  private readonly specs = new Map<string, CommandSpec>();
  private readonly log: Logger;
  private readonly recent = new Map<string, CommandResponse>();
  readonly counts = { received: 0, ok: 0, error: 0, repeated: 0 };

  constructor(specs: CommandSpec[], opts: { logger?: Logger } = {}) {
    for (const s of specs) this.specs.set(s.name, s);
    this.log = opts.logger ?? silentLogger();
  }

  names(): string[] {
    return [...this.specs.keys()].sort();
  }

  /** Handle one message on `<prefix>/cmd/<name>`; never throws. */
  async handle(name: string, payload: Buffer, meta: { retained?: boolean } = {}): Promise<CommandResponse> {
    this.counts.received++;
    let transaction: string | number | undefined;
    let cmd: Record<string, unknown> | undefined;
    const fail = (error: string, data?: unknown): CommandResponse => {
      this.counts.error++;
      const res: CommandResponse = { schemaVersion: COMMAND_SCHEMA_VERSION, status: 'error', error, ...(data !== undefined ? { data } : {}), ...(transaction !== undefined ? { transaction } : {}) };
      this.log.warn({ command: name, transaction, cmd: cmd ?? preview(payload), error }, 'command refused');
      return res;
    };
    try {
      if (payload.length > MAX_COMMAND_BYTES) return fail(`payload of ${payload.length} bytes is larger than ${MAX_COMMAND_BYTES}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        return fail(`payload is not JSON: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('payload must be a JSON object');
      cmd = parsed as Record<string, unknown>;
      const t = cmd.transaction;
      if ((typeof t === 'string' && t.length <= 128) || (typeof t === 'number' && Number.isSafeInteger(t))) transaction = t;
      const spec = this.specs.get(name);
      if (!spec) return fail(`unknown command '${name}' (this gateway accepts: ${this.names().join(', ') || 'none'})`);
      if (meta.retained) {
        // A retained command would be delivered again at every reconnect and applied again.
        return fail('retained command ignored: publish commands without the retain flag');
      }
      // Same command, same transaction: a redelivery or a retry. (A reused transaction with another
      // command is a new command.)
      const key = transaction === undefined ? undefined : `${name}\u0000${typeof transaction}:${transaction}\u0000${JSON.stringify(cmd)}`;
      const seen = key === undefined ? undefined : this.recent.get(key);
      if (seen) {
        this.counts.repeated++;
        this.log.info({ command: name, transaction }, 'command repeated (same transaction): answered again, not applied twice');
        return seen;
      }
      if (!spec.validate(cmd)) return fail(`invalid ${name} command: ${formatAjvErrors(spec.validate.errors)}`);
      const { transaction: _t, ...body } = cmd;
      let outcome: CommandOutcome;
      try {
        outcome = await spec.run(body);
      } catch (err) {
        return fail(`${name} command failed: ${(err as Error).message}`);
      }
      let res: CommandResponse;
      if (outcome.ok) {
        this.counts.ok++;
        res = { schemaVersion: COMMAND_SCHEMA_VERSION, status: 'ok', ...(outcome.data !== undefined ? { data: outcome.data } : {}), ...(transaction !== undefined ? { transaction } : {}) };
        this.log.info({ command: name, transaction, cmd: body }, 'command applied');
      } else {
        res = fail(outcome.error, outcome.data);
      }
      if (key !== undefined) {
        this.recent.set(key, res);
        if (this.recent.size > REMEMBERED_TRANSACTIONS) this.recent.delete(this.recent.keys().next().value!);
      }
      return res;
    } catch (err) {
      return fail(`command could not be handled: ${(err as Error).message}`);
    }
  }
}

function preview(payload: Buffer): string {
  const s = payload.subarray(0, 200).toString('utf8');
  return payload.length > 200 ? `${s}...` : s;
}

/** What the command specs need from the running gateway (looked up at each command: features start after the uplink). */
export interface CommandDeps {
  services: Map<string, unknown>;
  contract: Contract;
  clock?: Clock;
}

interface RulesServiceLike {
  command(cmd: unknown): { ok: true } | { ok: false; error: string };
  overrides?: { list(now: number): { output: string; value: unknown; expiresAt: number; reason: string; by: string }[] };
}

interface AccountingServiceLike {
  addInstrument(ins: unknown): { added: boolean; issues: { path: string; message: string }[] };
}

/**
 * The gateway's commands: `rules` (override, clear-override, carbon-intensity, price: see
 * rules/README.md) and `instruments` (add a contractual instrument: runtime/accounting/README.md).
 */
export function gatewayCommandSpecs(deps: CommandDeps): CommandSpec[] {
  const clock = deps.clock ?? systemClock;
  const validator = (name: string): ValidateFunction => {
    const v = deps.contract.command(name);
    if (!v) throw new Error(`contract has no schema for command '${name}' (command-${name}.v1.schema.json)`);
    return v;
  };
  return [
    {
      name: 'rules',
      validate: validator('rules'),
      run(cmd) {
        const rules = deps.services.get('rules') as RulesServiceLike | undefined;
        if (!rules) return { ok: false, error: 'the rule engine is not running on this gateway (no rules configured, or control.enabled: false)' };
        const r = rules.command(cmd);
        if (!r.ok) return { ok: false, error: r.error };
        const now = clock.now();
        if (cmd.type === 'override' || cmd.type === 'clear-override') {
          const overrides = (rules.overrides?.list(now) ?? []).map((o) => ({ ...o, expiresAt: new Date(o.expiresAt).toISOString() }));
          return { ok: true, data: { type: cmd.type, overrides } };
        }
        const validForS = typeof cmd.validForS === 'number' ? cmd.validForS : undefined;
        return { ok: true, data: { type: cmd.type, value: cmd.value, ...(validForS ? { validUntil: new Date(now + validForS * 1000).toISOString() } : {}) } };
      },
    },
    {
      name: 'instruments',
      validate: validator('instruments'),
      run(cmd) {
        const acct = deps.services.get('accounting') as AccountingServiceLike | undefined;
        if (!acct) return { ok: false, error: 'carbon accounting is not enabled on this gateway (no accounting section)' };
        const r = acct.addInstrument(cmd.instrument);
        if (r.issues.length) {
          return { ok: false, error: `instrument not recorded: ${r.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`, data: { added: false } };
        }
        return { ok: true, data: { added: r.added, ...(r.added ? {} : { note: 'already recorded (same serials): nothing claimed twice' }) } };
      },
    },
  ];
}
