import type { ValidateFunction } from 'ajv';
import type { CommandOutcome, CommandRegistry } from '../feature-api.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { formatAjvErrors } from './contract.js';

/**
 * Inbound commands over MQTT (Zigbee2MQTT style). The uplink subscribes (QoS 1) to
 * `<prefix>/cmd/+`; a message on `<prefix>/cmd/<name>` is a JSON command for the part that
 * registered `<name>` (the rules feature registers `rules`, accounting `instruments`: see
 * runtime/feature-api.ts CommandRegistry); the uplink only routes. The answer goes to
 * `<prefix>/cmd/<name>/response`:
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

/** Where the router finds each command's payload schema (the contract: runtime/uplink/contract.ts). */
export interface CommandSchemas {
  command(name: string): ValidateFunction | undefined;
}

/** Routes command messages to the handlers the features registered; validates, de-duplicates, answers. */
export class CommandRouter {
  private readonly log: Logger;
  private readonly recent = new Map<string, CommandResponse>();
  readonly counts = { received: 0, ok: 0, error: 0, repeated: 0 };

  constructor(
    private readonly registry: CommandRegistry,
    private readonly schemas: CommandSchemas,
    opts: { logger?: Logger } = {},
  ) {
    this.log = opts.logger ?? silentLogger();
  }

  names(): string[] {
    return this.registry.names();
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
      const spec = this.registry.get(name);
      if (!spec) return fail(`unknown command '${name}' (this gateway accepts: ${this.names().join(', ') || 'none'})`);
      const validate = this.schemas.command(name);
      if (!validate) return fail(`the contract has no schema for command '${name}' (command-${name}.v1.schema.json)`);
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
      if (!validate(cmd)) return fail(`invalid ${name} command: ${formatAjvErrors(validate.errors)}`);
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
