/**
 * The feature API: what a part of the gateway (acquisition, store, uplink, accounting, rules, ...)
 * declares and what it is given. A leaf module: it imports types only, and nothing of any feature.
 *
 * - A feature is declared once (`FeatureDeclaration`): its name, the config sections it owns with
 *   their JSON Schemas and cross-reference checks, the services it requires, uses and provides, and
 *   how it is created. `create` loads the feature's heavy modules (`await import(...)`) so a
 *   feature that is not enabled costs nothing.
 * - The composition root (tools/cli/features.ts) owns the ordered list of declarations; the
 *   Gateway (runtime/gateway.ts) takes it as an argument; the site config schema and validators
 *   are derived from it (runtime/config/load.ts).
 * - Features find each other through a typed service registry: `ServiceKey<T>` values, no casts at
 *   call sites.
 * - Each feature registers its own MQTT commands (`ctx.commands`); the uplink only routes them.
 */
import type { AnyProfile } from '../drivers/profiles/types.js';
import type { ConfigIssue } from './config/errors.js';
import type { ConfigSection } from './config/schema.js';

export type { ConfigSection } from './config/schema.js';
import type { SiteConfig } from './config/types.js';
import type { Logger } from './logger.js';
import type { ReadingsHub } from './readings-hub.js';
import type { Clock } from './types.js';
import type { Migration } from './persistence/migrations.js';
import type { PersistenceHandle } from './persistence/shared.js';
import type { AnyServiceKey, ServiceRegistry } from './service-registry.js';

export { serviceKey, ServiceRegistry, type AnyServiceKey, type ServiceKey } from './service-registry.js';

/**
 * Stable codes of refused or failed commands, sent beside the message in every error answer on
 * `<prefix>/cmd/<name>/response` (README "Error codes"; contract: command-response.v1.schema.json).
 * Append only: a code, once published, keeps its meaning.
 */
export const COMMAND_ERROR_CODES = [
  'CE_CMD_TOO_LARGE',
  'CE_CMD_EMPTY',
  'CE_CMD_NOT_JSON',
  'CE_CMD_UNKNOWN',
  'CE_CMD_RETAINED',
  'CE_CMD_NO_ISSUED_AT',
  'CE_CMD_SCHEMA',
  'CE_CMD_STALE',
  'CE_CMD_FUTURE',
  'CE_CMD_REPLAYED',
  'CE_CMD_BUSY',
  'CE_CMD_NOT_RUNNING',
  'CE_CMD_OUT_OF_RANGE',
  'CE_CMD_REFUSED',
  'CE_CMD_FAILED',
  'CE_CMD_CONFIG_INVALID',
  'CE_CMD_CONFIG_ROLLED_BACK',
] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

/** A command the part refused (`code` defaults to CE_CMD_REFUSED). */
export interface CommandRefusal {
  ok: false;
  error: string;
  code?: CommandErrorCode;
  data?: unknown;
}

/** The outcome of one command. */
export type CommandOutcome = { ok: true; data?: unknown } | CommandRefusal;

/** A command a feature accepts over the uplink on `<prefix>/cmd/<name>` (payload schema: the contract's command-<name>.v<N>.schema.json, highest N). */
export interface CommandHandler {
  /** Topic level after `<prefix>/cmd/`. */
  name: string;
  /** Feature that registered it (logs). */
  feature: string;
  /**
   * Apply a command already validated against its contract schema and fresh (without `transaction`
   * and `issuedAt`; the transaction is in `meta`, for a part that answers again later). May throw.
   */
  run(cmd: Record<string, unknown>, meta?: { transaction?: string | number }): CommandOutcome | Promise<CommandOutcome>;
}

/** Commands registered by the features; the uplink routes messages to them. */
export class CommandRegistry {
  private readonly handlers = new Map<string, CommandHandler>();

  register(handler: CommandHandler): void {
    const other = this.handlers.get(handler.name);
    if (other) throw new Error(`command '${handler.name}' is already registered by feature '${other.feature}'`);
    this.handlers.set(handler.name, handler);
  }

  get(name: string): CommandHandler | undefined {
    return this.handlers.get(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

export interface GatewayOptions {
  uplinkUrl?: string;
  /** The running site config's history entry and sha256 (announced in the retained status). */
  configVersion?: { id: string; sha256: string };
  /** `--http HOST:PORT`: serve the local page and HTTP API there (overrides http.listen). */
  http?: string;
  dataDir?: string;
  dryRun?: boolean;
  clock?: Clock;
}

/** What every feature is given. */
export interface GatewayContext {
  config: SiteConfig;
  /** Path of the site config file (for messages); undefined for built-in configs. */
  configFile?: string;
  logger: Logger;
  hub: ReadingsHub;
  /** Profiles by id, loaded and validated before start. */
  profiles: Map<string, AnyProfile>;
  /** Directory of the store and state files. */
  dataDir: string;
  clock: Clock;
  /** Command-line overrides (e.g. --uplink URL). */
  options: GatewayOptions;
  /** Services of the features created so far (features are created in list order). */
  services: ServiceRegistry;
  /** Commands the features accept over the uplink. */
  commands: CommandRegistry;
  /**
   * Take a hold on the gateway's one SQLite database (`<dataDir>/carbonedge.db`), opening it and
   * running every listed feature's migrations, in list order, on first use. Release the hold on
   * stop: the last release closes the database. SQLite is loaded only when a feature asks.
   */
  database(): Promise<PersistenceHandle>;
}

/** A running part of the gateway with a lifecycle. */
export interface Feature {
  readonly name: string;
  start(): Promise<void>;
  /** Must finish within a few seconds; the gateway gives every feature a close deadline. */
  stop(): Promise<void>;
}

/** Cross-reference checks of a feature's sections, run once the whole config passed its schema. */
export type SectionCheck = (config: SiteConfig, profiles: Map<string, AnyProfile>, file: string) => ConfigIssue[];

/** Everything the gateway and the config loader need to know about a feature. */
export interface FeatureDeclaration {
  readonly name: string;
  /** Config sections the feature owns (schema of each); the site schema is built from these. */
  readonly sections?: readonly ConfigSection[];
  /** Cross-reference checks of those sections (after the schema passed). */
  readonly check?: SectionCheck;
  /** Services that must be provided by a feature earlier in the list (else the gateway refuses to start). */
  readonly requires?: readonly AnyServiceKey[];
  /** Services used when present. */
  readonly uses?: readonly AnyServiceKey[];
  /** Services this feature provides (when created). */
  readonly provides?: readonly AnyServiceKey[];
  /**
   * The feature's part of the site database's migration list (runtime/persistence): run in the
   * order of the feature list, each once. Never edit or remove a released migration; append.
   */
  readonly migrations?: readonly Migration[];
  /**
   * Create the feature (load its modules, provide its services, register its commands). Returns
   * null when the config leaves it off. Must not start I/O: that is `start()`.
   */
  create(ctx: GatewayContext): Promise<Feature | null> | Feature | null;
}

/** A feature's config section, as validated by its schema (undefined when absent). */
export function section<T>(config: SiteConfig, key: string): T | undefined {
  // The section passed the schema the owning feature declared for it (runtime/config/load.ts).
  return (config as unknown as Record<string, unknown>)[key] as T | undefined;
}
