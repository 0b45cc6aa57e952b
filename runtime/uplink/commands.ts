import type { ValidateFunction } from 'ajv';
import type { CommandErrorCode, CommandOutcome, CommandRegistry } from '../feature-api.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Clock } from '../types.js';
import { systemClock } from '../types.js';
import {
  CommandMemory,
  DEFAULT_COMMAND_CLOCK_SKEW_SEC,
  DEFAULT_COMMAND_MAX_AGE_SEC,
  freshnessProblem,
  issuedAtMs,
  type FreshnessLimits,
} from './command-freshness.js';
import { formatAjvErrors } from './ajv-errors.js';

/**
 * Inbound commands over MQTT (Zigbee2MQTT style). The uplink subscribes (QoS 1) to
 * `<prefix>/cmd/+`; a message on `<prefix>/cmd/<name>` is a JSON command for the part that
 * registered `<name>` (the rules feature registers `rules`, accounting `instruments`: see
 * runtime/feature-api.ts CommandRegistry); the uplink only routes. The answer goes to
 * `<prefix>/cmd/<name>/response`:
 *
 *   { "schemaVersion": 1, "status": "ok" | "error", "data"?: ..., "error"?: "...", "code"?: "CE_CMD_...", "transaction"?: ... }
 *
 * Every payload is validated against its JSON Schema (runtime/uplink/contract/command-<name>.v2.schema.json)
 * and must be fresh (`issuedAt` within the age bound, ./command-freshness.ts) before it reaches
 * the part, then is checked by the part itself (e.g. the rule engine checks the output exists and
 * the value fits its profile point). Nothing a message contains can crash the gateway: every
 * message gets exactly one answer, an error answer carries a stable code (COMMAND_ERROR_CODES),
 * and every command is logged.
 */

export const COMMAND_SCHEMA_VERSION = 1;
/** Largest command payload accepted (bytes). */
export const MAX_COMMAND_BYTES = 64 * 1024;

export interface CommandResponse {
  schemaVersion: number;
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  /** Stable error code (status error). */
  code?: CommandErrorCode;
  transaction?: string | number;
}

/** Where the router finds each command's payload schema (the contract: runtime/uplink/contract.ts). */
export interface CommandSchemas {
  /** The validator of command `name`'s payload (or a promise of it: compiled on first use). */
  command(name: string): ValidateFunction | undefined | Promise<ValidateFunction | undefined>;
}

export interface CommandRouterOptions {
  logger?: Logger;
  /** Wall clock the command's `issuedAt` is compared with. */
  clock?: Clock;
  /** Oldest accepted command, seconds (default 300). */
  maxAgeSec?: number;
  /** Clock-skew tolerance for `issuedAt` in the future, seconds (default 30). */
  clockSkewSec?: number;
  /** Commands remembered within the age window (default 4096). */
  memory?: number;
}

/** An error answer without a transaction (the uplink's `busy`); the router adds the transaction when it has one. */
export function errorResponse(code: CommandErrorCode, error: string, data?: unknown): CommandResponse {
  return { schemaVersion: COMMAND_SCHEMA_VERSION, status: 'error', error, code, ...(data !== undefined ? { data } : {}) };
}

const ISSUED_AT_HINT = 'add "issuedAt": the time the command was issued, as an RFC 3339 date-time with zone (e.g. "2026-06-15T10:30:00Z") or epoch milliseconds';

/** Routes command messages to the handlers the features registered; validates, checks freshness, de-duplicates, answers. */
export class CommandRouter {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly limits: FreshnessLimits;
  private readonly memory: CommandMemory<CommandResponse>;
  readonly counts = { received: 0, ok: 0, error: 0, repeated: 0 };

  constructor(
    private readonly registry: CommandRegistry,
    private readonly schemas: CommandSchemas,
    opts: CommandRouterOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    this.clock = opts.clock ?? systemClock;
    this.limits = { maxAgeMs: (opts.maxAgeSec ?? DEFAULT_COMMAND_MAX_AGE_SEC) * 1000, maxFutureMs: (opts.clockSkewSec ?? DEFAULT_COMMAND_CLOCK_SKEW_SEC) * 1000 };
    this.memory = new CommandMemory(this.limits.maxAgeMs, opts.memory);
  }

  names(): string[] {
    return this.registry.names();
  }

  /** Handle one message on `<prefix>/cmd/<name>`; never throws. */
  async handle(name: string, payload: Buffer, meta: { retained?: boolean } = {}): Promise<CommandResponse> {
    this.counts.received++;
    let transaction: string | number | undefined;
    let cmd: Record<string, unknown> | undefined;
    const fail = (code: CommandErrorCode, error: string, data?: unknown): CommandResponse => {
      this.counts.error++;
      const res: CommandResponse = { ...errorResponse(code, error, data), ...(transaction !== undefined ? { transaction } : {}) };
      this.log.warn({ command: name, transaction, cmd: cmd ?? preview(payload), code, error }, 'command refused');
      return res;
    };
    try {
      if (payload.length > MAX_COMMAND_BYTES) return fail('CE_CMD_TOO_LARGE', `payload of ${payload.length} bytes is larger than ${MAX_COMMAND_BYTES}`);
      if (payload.length === 0) {
        return fail('CE_CMD_EMPTY', 'empty payload: not a command (an empty retained message only clears a retained command at the broker; nothing was applied)');
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        return fail('CE_CMD_NOT_JSON', `payload is not JSON: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return fail('CE_CMD_NOT_JSON', 'payload must be a JSON object');
      cmd = parsed as Record<string, unknown>;
      const t = cmd.transaction;
      if ((typeof t === 'string' && t.length <= 128) || (typeof t === 'number' && Number.isSafeInteger(t))) transaction = t;
      const spec = this.registry.get(name);
      if (!spec) return fail('CE_CMD_UNKNOWN', `unknown command '${name}' (this gateway accepts: ${this.names().join(', ') || 'none'})`);
      const validate = await this.schemas.command(name);
      if (!validate) return fail('CE_CMD_UNKNOWN', `the contract has no schema for command '${name}' (command-${name}.v<N>.schema.json)`);
      if (meta.retained) {
        // A retained command would be delivered again at every reconnect and applied again.
        return fail('CE_CMD_RETAINED', 'retained command ignored: publish commands without the retain flag (clear this one with an empty retained message)');
      }
      if (cmd.issuedAt === undefined) {
        return fail('CE_CMD_NO_ISSUED_AT', `command without issuedAt refused (command contract v2): ${ISSUED_AT_HINT}`);
      }
      // The same command again (a QoS 1 redelivery, a sender's retry): the first answer, not
      // applied twice. With a transaction, a retry is the same transaction and content, whatever
      // its issuedAt; without one, the same payload.
      const now = this.clock.now();
      const { transaction: _t, issuedAt: _i, ...body } = cmd;
      const payloadKey = `${name}\u0000${JSON.stringify(transaction === undefined ? cmd : { transaction, ...body })}`;
      const seen = this.memory.answerOf(payloadKey, now);
      if (seen) {
        this.counts.repeated++;
        this.log.info({ command: name, transaction }, 'command repeated (same payload): answered again, not applied twice');
        return seen;
      }
      if (!validate(cmd)) return fail('CE_CMD_SCHEMA', `invalid ${name} command: ${formatAjvErrors(validate.errors)}`);
      const issued = issuedAtMs(cmd.issuedAt);
      if (issued === undefined) return fail('CE_CMD_SCHEMA', `invalid ${name} command: /issuedAt is not a time: ${ISSUED_AT_HINT}`);
      const txKey = transaction === undefined ? undefined : `${name}\u0000${typeof transaction}:${transaction}`;
      const problem = freshnessProblem(issued, now, this.limits) ?? this.memory.replayProblem(txKey, payloadKey, issued);
      if (problem) return fail(problem.code, problem.error, problem.data);
      let outcome: CommandOutcome;
      try {
        outcome = await spec.run(body, transaction === undefined ? {} : { transaction });
      } catch (err) {
        return fail('CE_CMD_FAILED', `${name} command failed: ${(err as Error).message}`);
      }
      let res: CommandResponse;
      if (outcome.ok) {
        this.counts.ok++;
        res = { schemaVersion: COMMAND_SCHEMA_VERSION, status: 'ok', ...(outcome.data !== undefined ? { data: outcome.data } : {}), ...(transaction !== undefined ? { transaction } : {}) };
        this.log.info({ command: name, transaction, cmd: body }, 'command applied');
      } else {
        res = fail(outcome.code ?? 'CE_CMD_REFUSED', outcome.error, outcome.data);
      }
      this.memory.remember(payloadKey, issued, res, outcome.ok ? { transaction: txKey } : undefined);
      return res;
    } catch (err) {
      return fail('CE_CMD_FAILED', `command could not be handled: ${(err as Error).message}`);
    }
  }
}

function preview(payload: Buffer): string {
  const s = payload.subarray(0, 200).toString('utf8');
  return payload.length > 200 ? `${s}...` : s;
}
