import type { CommandErrorCode } from '../feature-api.js';

/**
 * Freshness and replay protection of inbound commands (contract v2 of the command payloads:
 * every command carries `issuedAt`, the time its sender issued it).
 *
 * - A command older than `maxAgeMs`, or issued more than `maxFutureMs` ahead of the gateway's
 *   clock, is refused: a retained message left at the broker, a message a broker or bridge held
 *   back, or one replayed later, is stale by then whatever MQTT version carried it.
 * - Within that window the router remembers every command it handled (by its exact payload), so a
 *   copy is answered with the first answer and never applied twice, and a transaction id already
 *   applied cannot be reused for another command. Nothing needs remembering longer: an older copy
 *   is refused as stale. If more commands than `capacity` arrive within the window, the oldest are
 *   forgotten and every command issued at or before the newest forgotten one is refused as a
 *   possible replay (never silently applied twice).
 */

export const DEFAULT_COMMAND_MAX_AGE_SEC = 300;
export const DEFAULT_COMMAND_CLOCK_SKEW_SEC = 30;
/** Commands remembered at most within the age window. */
export const MAX_REMEMBERED_COMMANDS = 4096;

export interface FreshnessLimits {
  /** Oldest accepted command, ms before the gateway's clock. */
  maxAgeMs: number;
  /** Clock-skew tolerance: newest accepted `issuedAt`, ms after the gateway's clock. */
  maxFutureMs: number;
}

export interface CommandProblem {
  code: CommandErrorCode;
  error: string;
  data?: unknown;
}

/** `issuedAt` (RFC 3339 date-time with zone, or epoch ms) in ms since the epoch; undefined when unreadable. */
export function issuedAtMs(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Why a command issued at `issued` is not fresh at `now`, or undefined when it is. */
export function freshnessProblem(issued: number, now: number, limits: FreshnessLimits): CommandProblem | undefined {
  const age = now - issued;
  const data = { issuedAt: iso(issued), gatewayTime: iso(now), ageMs: age, maxAgeMs: limits.maxAgeMs, maxFutureMs: limits.maxFutureMs };
  if (age > limits.maxAgeMs) {
    return {
      code: 'CE_CMD_STALE',
      error: `stale command: issued ${secs(age)} ago (issuedAt ${iso(issued)}, gateway time ${iso(now)}), more than the ${secs(limits.maxAgeMs)} accepted; send it again with the current issuedAt`,
      data,
    };
  }
  if (-age > limits.maxFutureMs) {
    return {
      code: 'CE_CMD_FUTURE',
      error: `command issued ${secs(-age)} in the future (issuedAt ${iso(issued)}, gateway time ${iso(now)}), beyond the clock-skew tolerance of ${secs(limits.maxFutureMs)}; check the clocks of the sender and the gateway (NTP)`,
      data,
    };
  }
  return undefined;
}

interface Entry<R> {
  answer: R;
  issued: number;
  /** Set when the command was applied and had a transaction. */
  transaction?: string;
}

/** The commands handled within the age window (see above); `R` is the answer sent. */
export class CommandMemory<R> {
  private readonly byPayload = new Map<string, Entry<R>>();
  /** Applied commands by transaction key -> payload key. */
  private readonly applied = new Map<string, string>();
  /** Commands issued at or before this were forgotten before they went stale. */
  private floor = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly maxAgeMs: number,
    private readonly capacity = MAX_REMEMBERED_COMMANDS,
  ) {}

  get size(): number {
    return this.byPayload.size;
  }

  /** The answer already given to this exact command, if it is remembered. */
  answerOf(payloadKey: string, now: number): R | undefined {
    this.purge(now);
    return this.byPayload.get(payloadKey)?.answer;
  }

  /** Why a fresh command not seen before may be a replay, or undefined. */
  replayProblem(transaction: string | undefined, payloadKey: string, issued: number): CommandProblem | undefined {
    if (issued <= this.floor) {
      return {
        code: 'CE_CMD_REPLAYED',
        error: `possible replay: more than ${this.capacity} commands arrived within the age window and commands issued at or before ${iso(this.floor)} are no longer remembered; send it again with the current issuedAt`,
      };
    }
    const other = transaction === undefined ? undefined : this.applied.get(transaction);
    if (other !== undefined && other !== payloadKey) {
      return {
        code: 'CE_CMD_REPLAYED',
        error: `transaction already applied to another command (issued ${iso(this.byPayload.get(other)!.issued)}): give each command its own transaction`,
      };
    }
    return undefined;
  }

  remember(payloadKey: string, issued: number, answer: R, applied: { transaction?: string } | undefined): void {
    const entry: Entry<R> = { answer, issued, ...(applied?.transaction !== undefined ? { transaction: applied.transaction } : {}) };
    this.byPayload.set(payloadKey, entry);
    if (entry.transaction !== undefined) this.applied.set(entry.transaction, payloadKey);
    while (this.byPayload.size > this.capacity) {
      const [key, oldest] = this.byPayload.entries().next().value!;
      this.floor = Math.max(this.floor, oldest.issued);
      this.forget(key, oldest);
    }
  }

  private purge(now: number): void {
    const cutoff = now - this.maxAgeMs;
    for (const [key, e] of this.byPayload) if (e.issued < cutoff) this.forget(key, e);
  }

  private forget(key: string, e: Entry<R>): void {
    this.byPayload.delete(key);
    if (e.transaction !== undefined && this.applied.get(e.transaction) === key) this.applied.delete(e.transaction);
  }
}
