import type { ConfigIssue } from '../config/errors.js';
import type { SiteConfig } from '../config/types.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import type { CounterDeltaOptions } from '../metering/counter-delta.js';

/** The `store:` section of the site config. All fields optional; defaults in resolveStoreConfig. */
export interface StoreConfig {
  /** Write buffered readings at least this often (ms). Default 1000. */
  flushIntervalMs?: number;
  /** ...or as soon as this many readings are buffered. Default 5000. */
  flushMaxRows?: number;
  /** An aggregate bucket is closed (stored and enqueued) this long after it ends (ms). Default 2000. */
  closeGraceMs?: number;
  /** Retention by age per table. */
  retention?: { rawHours?: number; oneMinuteDays?: number; fifteenMinuteDays?: number; energyDays?: number };
  /** Byte cap for the whole database (live pages). Default 1 GiB. */
  maxBytes?: number;
  /** Enqueue summaries for the uplink: readings-1m (default true), readings-15m (default true). */
  publish?: { readings1m?: boolean; readings15m?: boolean };
  /** Counter handling for energy deltas. */
  counters?: { rolloverAt?: number; maxRatePerHour?: number; points?: string[] };
  /** Run retention + byte-cap checks this often (ms). Default 60000. */
  maintenanceIntervalMs?: number;
  /** Enqueue a store-stats record this often (ms; 0 = only on drops/corruption). Default 900000. */
  statsIntervalMs?: number;
}

export interface ResolvedStoreConfig {
  flushIntervalMs: number;
  flushMaxRows: number;
  closeGraceMs: number;
  retention: { rawMs: number; oneMinuteMs: number; fifteenMinuteMs: number; energyMs: number };
  maxBytes: number;
  publish1m: boolean;
  publish15m: boolean;
  counterOptions: CounterDeltaOptions;
  counterPoints: Set<string>;
  maintenanceIntervalMs: number;
  statsIntervalMs: number;
}

const H = 3_600_000;
const D = 24 * H;

export function resolveStoreConfig(c: StoreConfig = {}): ResolvedStoreConfig {
  const r = c.retention ?? {};
  return {
    flushIntervalMs: c.flushIntervalMs ?? 1000,
    flushMaxRows: c.flushMaxRows ?? 5000,
    closeGraceMs: c.closeGraceMs ?? 2000,
    retention: {
      rawMs: (r.rawHours ?? 48) * H,
      oneMinuteMs: (r.oneMinuteDays ?? 31) * D,
      fifteenMinuteMs: (r.fifteenMinuteDays ?? 400) * D,
      energyMs: (r.energyDays ?? 400) * D,
    },
    maxBytes: c.maxBytes ?? 1024 * 1024 * 1024,
    publish1m: c.publish?.readings1m ?? true,
    publish15m: c.publish?.readings15m ?? true,
    counterOptions: { rolloverAt: c.counters?.rolloverAt, maxRatePerHour: c.counters?.maxRatePerHour },
    counterPoints: new Set(c.counters?.points ?? []),
    maintenanceIntervalMs: c.maintenanceIntervalMs ?? 60_000,
    statsIntervalMs: c.statsIntervalMs ?? 900_000,
  };
}

const posInt = (min: number, max: number, description: string) => ({ type: 'integer', minimum: min, maximum: max, description });

/** JSON Schema of this section of the site config (composed in runtime/config/schema.ts). */
export const storeConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  description: 'Local SQLite store (<dataDir>/carbonedge.db): batching, retention, byte cap, summaries for the uplink',
  properties: {
    flushIntervalMs: posInt(100, 60_000, 'write buffered readings at least this often (ms)'),
    flushMaxRows: posInt(100, 1_000_000, 'write as soon as this many readings are buffered'),
    closeGraceMs: posInt(0, 60_000, 'close an aggregate bucket this long after it ends (ms), for late readings'),
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rawHours: { type: 'number', minimum: 1, maximum: 8760, description: 'keep raw readings this many hours (>= 1)' },
        oneMinuteDays: { type: 'number', minimum: 1, maximum: 3650, description: 'keep 1-minute aggregates this many days' },
        fifteenMinuteDays: { type: 'number', minimum: 1, maximum: 36500, description: 'keep 15-minute aggregates this many days' },
        energyDays: { type: 'number', minimum: 1, maximum: 36500, description: 'keep per-minute energy deltas this many days' },
      },
    },
    maxBytes: posInt(1024 * 1024, 1024 ** 4, 'byte cap for the whole database (bytes, >= 1 MiB); oldest data dropped by policy beyond it'),
    publish: {
      type: 'object',
      additionalProperties: false,
      properties: {
        readings1m: { type: 'boolean', description: 'enqueue 1-minute summaries (stream readings-1m)' },
        readings15m: { type: 'boolean', description: 'enqueue 15-minute summaries (stream readings-15m)' },
      },
    },
    counters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rolloverAt: { type: 'number', exclusiveMinimum: 0, description: 'value at which counters wrap to 0' },
        maxRatePerHour: { type: 'number', exclusiveMinimum: 0, description: 'largest plausible counter increase per hour' },
        points: {
          type: 'array',
          items: { type: 'string', pattern: '^[^/]+/[^/]+$' },
          description: 'extra cumulative counter points as device/point (energy_import/export etc. are counters already)',
        },
      },
    },
    maintenanceIntervalMs: posInt(1000, 3_600_000, 'retention and byte-cap check interval (ms)'),
    statsIntervalMs: posInt(0, 86_400_000, 'store-stats record interval (ms; 0 = only when something is dropped)'),
  },
};

/** Cross-reference checks the schema cannot express; `file` is the config file for messages. */
export function validateStoreConfig(config: SiteConfig, _profiles: Map<string, AnyProfile>, file: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const points = (config.store as StoreConfig | undefined)?.counters?.points ?? [];
  const devices = new Set(config.devices.map((d) => d.id));
  points.forEach((p, i) => {
    const device = p.split('/')[0]!;
    if (!devices.has(device)) {
      issues.push({ file, path: `/store/counters/points/${i}`, message: `unknown device '${device}' (expected one of: ${[...devices].join(', ')})` });
    }
  });
  return issues;
}
