import type { ConfigIssue } from '../config/errors.js';
import type { SiteConfig } from '../config/types.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import type { HomeAssistantConfig } from './home-assistant.js';
import { DEFAULT_COMMAND_CLOCK_SKEW_SEC, DEFAULT_COMMAND_MAX_AGE_SEC } from './command-freshness.js';

/** The `uplink:` section of the site config. Without `url` (and without --uplink) the uplink is off. */
export interface UplinkConfig {
  /** mqtt://host:1883, mqtts://host:8883, ws(s)://... (overridden by --uplink). */
  url?: string;
  /** Default `carbonedge-<site>-<gateway>`. */
  clientId?: string;
  /** Default `carbonedge/<site>/<gateway>`; topics are `<prefix>/data/<stream>` and `<prefix>/status`. */
  topicPrefix?: string;
  username?: string;
  password?: string;
  /** Name of an environment variable holding the password (keeps it out of the config file). */
  passwordEnv?: string;
  tls?: {
    /** PEM files (paths relative to the config file). */
    ca?: string;
    cert?: string;
    key?: string;
    /** Verify the server certificate against `ca` (or the system roots). Default true. */
    rejectUnauthorized?: boolean;
    servername?: string;
  };
  /** MQTT protocol version: 4 (3.1.1, default) or 5. */
  protocolVersion?: 4 | 5;
  keepaliveSec?: number;
  connectTimeoutMs?: number;
  /** A publish not acknowledged within this time drops the connection (it is re-sent after reconnect). */
  publishTimeoutMs?: number;
  /** Jittered exponential reconnect backoff. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Records per message (default 500) and bytes per message before compression (default 256 KiB). */
  batchMaxRecords?: number;
  batchMaxBytes?: number;
  /** 'gzip' compresses each batch (topic suffix /gzip). Default 'none'. */
  compression?: 'none' | 'gzip';
  /** Unacknowledged messages at once (default 16). */
  maxInFlight?: number;
  /** Rate cap for records that were already waiting when the connection came up (records/s; 0 = no cap). Default 10000. */
  backfillRecordsPerSec?: number;
  /** Commands issued longer ago than this are refused as stale (s, default 300). */
  commandMaxAgeSec?: number;
  /** Commands issued up to this far ahead of the gateway's clock are accepted (clock skew, s, default 30). */
  commandClockSkewSec?: number;
  /**
   * Remote configuration over `<prefix>/cmd/config` (off by default): a new site config is checked,
   * kept in the config history, applied, and rolled back when the broker or buses that worked are
   * lost within `deadlineSec` (default 120); the newest `keep` configs are kept (default 10).
   */
  remoteConfig?: { enabled?: boolean; deadlineSec?: number; keep?: number };
  /** Home Assistant MQTT discovery (runtime/uplink/home-assistant.ts). Default off. */
  homeAssistant?: HomeAssistantConfig;
}

export interface ResolvedUplinkConfig {
  url: string;
  clientId: string;
  topicPrefix: string;
  username?: string;
  password?: string;
  tls: NonNullable<UplinkConfig['tls']>;
  protocolVersion: 4 | 5;
  keepaliveSec: number;
  connectTimeoutMs: number;
  publishTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  batchMaxRecords: number;
  batchMaxBytes: number;
  compression: 'none' | 'gzip';
  maxInFlight: number;
  backfillRecordsPerSec: number;
  commandMaxAgeSec: number;
  commandClockSkewSec: number;
}

export function resolveUplinkConfig(c: UplinkConfig, url: string, siteId: string, gatewayId: string): ResolvedUplinkConfig {
  return {
    url,
    clientId: c.clientId ?? `carbonedge-${siteId}-${gatewayId}`,
    topicPrefix: (c.topicPrefix ?? `carbonedge/${siteId}/${gatewayId}`).replace(/\/+$/, ''),
    username: c.username,
    password: c.password ?? (c.passwordEnv ? process.env[c.passwordEnv] : undefined),
    tls: c.tls ?? {},
    protocolVersion: c.protocolVersion ?? 4,
    keepaliveSec: c.keepaliveSec ?? 30,
    connectTimeoutMs: c.connectTimeoutMs ?? 10_000,
    publishTimeoutMs: c.publishTimeoutMs ?? 10_000,
    reconnectMinMs: c.reconnect?.minMs ?? 1000,
    reconnectMaxMs: c.reconnect?.maxMs ?? 60_000,
    batchMaxRecords: c.batchMaxRecords ?? 500,
    batchMaxBytes: c.batchMaxBytes ?? 256 * 1024,
    compression: c.compression ?? 'none',
    maxInFlight: c.maxInFlight ?? 16,
    backfillRecordsPerSec: c.backfillRecordsPerSec ?? 10_000,
    commandMaxAgeSec: c.commandMaxAgeSec ?? DEFAULT_COMMAND_MAX_AGE_SEC,
    commandClockSkewSec: c.commandClockSkewSec ?? DEFAULT_COMMAND_CLOCK_SKEW_SEC,
  };
}

const int = (min: number, max: number, description: string) => ({ type: 'integer', minimum: min, maximum: max, description });

/** JSON Schema of this section of the site config (composed in runtime/config/schema.ts). */
export const uplinkConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  description: 'MQTT uplink (store-and-forward from the outbox); off when no url is given here or with --uplink',
  properties: {
    url: { type: 'string', pattern: '^(mqtts?|wss?)://[^\\s]+$', description: 'broker URL: mqtt://host:1883, mqtts://host:8883, ws(s)://...' },
    clientId: { type: 'string', minLength: 1, maxLength: 128 },
    topicPrefix: { type: 'string', minLength: 1, pattern: '^[^#+]+$', description: 'topic prefix without wildcards' },
    username: { type: 'string' },
    password: { type: 'string' },
    passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable holding the password' },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1, description: 'CA certificate (PEM file) that signed the broker certificate' },
        cert: { type: 'string', minLength: 1, description: 'client certificate (PEM file)' },
        key: { type: 'string', minLength: 1, description: 'client private key (PEM file)' },
        rejectUnauthorized: { type: 'boolean', description: 'verify the broker certificate (default true)' },
        servername: { type: 'string' },
      },
    },
    protocolVersion: { enum: [4, 5] },
    keepaliveSec: int(5, 3600, 'MQTT keepalive (s)'),
    connectTimeoutMs: int(500, 120_000, 'connection attempt timeout (ms)'),
    publishTimeoutMs: int(500, 300_000, 'PUBACK timeout (ms); on expiry the connection is dropped and re-established'),
    reconnect: {
      type: 'object',
      additionalProperties: false,
      properties: { minMs: int(100, 600_000, 'first reconnect delay (ms)'), maxMs: int(100, 3_600_000, 'largest reconnect delay (ms)') },
    },
    batchMaxRecords: int(1, 100_000, 'records per message'),
    batchMaxBytes: int(1024, 64 * 1024 * 1024, 'bytes per message before compression'),
    compression: { enum: ['none', 'gzip'] },
    maxInFlight: int(1, 1000, 'unacknowledged messages at once'),
    backfillRecordsPerSec: int(0, 10_000_000, 'rate cap for the backlog after an outage (records/s, 0 = none)'),
    commandMaxAgeSec: int(1, 86_400, 'commands issued longer ago than this are refused as stale (s)'),
    commandClockSkewSec: int(0, 3600, 'commands issued up to this far ahead of the gateway clock are accepted (s)'),
    remoteConfig: {
      type: 'object',
      additionalProperties: false,
      description: 'site config pushed on <prefix>/cmd/config: checked, kept, applied, rolled back automatically (README: Remote configuration)',
      properties: {
        enabled: { type: 'boolean', description: 'accept config commands (default false)' },
        deadlineSec: int(3, 3600, 'after applying, the broker and every bus that worked before must be back within this time, else the previous config is restored (s, default 120)'),
        keep: int(2, 100, 'configs kept in the history (default 10)'),
      },
    },
    homeAssistant: {
      type: 'object',
      additionalProperties: false,
      description: 'Home Assistant MQTT discovery: retained sensor configs for power and energy points',
      properties: {
        enabled: { type: 'boolean', description: 'publish discovery configs and device states (default false)' },
        prefix: { type: 'string', minLength: 1, pattern: '^[^#+]+$', description: "Home Assistant's discovery prefix (default homeassistant)" },
      },
    },
  },
};

/** Cross-reference checks the schema cannot express; `file` is the config file for messages. */
export function validateUplinkConfig(config: SiteConfig, _profiles: Map<string, AnyProfile>, file: string): ConfigIssue[] {
  const u = config.uplink as UplinkConfig | undefined;
  const issues: ConfigIssue[] = [];
  if (!u) return issues;
  if (u.tls && (u.tls.cert === undefined) !== (u.tls.key === undefined)) {
    issues.push({ file, path: '/uplink/tls', message: 'a client certificate needs both cert and key' });
  }
  if (u.reconnect?.minMs !== undefined && u.reconnect.maxMs !== undefined && u.reconnect.minMs > u.reconnect.maxMs) {
    issues.push({ file, path: '/uplink/reconnect', message: `minMs (${u.reconnect.minMs}) must not exceed maxMs (${u.reconnect.maxMs})` });
  }
  if (u.password !== undefined && u.passwordEnv !== undefined) {
    issues.push({ file, path: '/uplink/password', message: 'give either password or passwordEnv, not both' });
  }
  return issues;
}
