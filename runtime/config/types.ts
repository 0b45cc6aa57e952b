import type { DeviceRole } from '../types.js';

export type Parity = 'none' | 'even' | 'odd';

interface BusCommon {
  id: string;
  /** Per-request timeout default for devices on this bus, ms. */
  timeoutMs?: number;
  /** Pause between two transactions on this bus, ms (RS-485 turnaround, RTU-to-TCP converters). */
  interRequestDelayMs?: number;
}
export interface TcpBusConfig extends BusCommon {
  type: 'tcp';
  host: string;
  port: number;
}
export interface RtuOverTcpBusConfig extends BusCommon {
  type: 'rtu-over-tcp';
  host: string;
  port: number;
}
export interface RtuBusConfig extends BusCommon {
  type: 'rtu';
  path: string;
  baudRate: number;
  parity: Parity;
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}
export type BusConfig = TcpBusConfig | RtuOverTcpBusConfig | RtuBusConfig;

export interface DeviceConfig {
  id: string;
  name?: string;
  role: DeviceRole;
  bus: string;
  unitId: number;
  /** Profile id (device-profiles/<id>.yaml or a user profile directory). */
  profile: string;
  pollIntervalMs: number;
  /** Values older than this become `stale` (default: gateway.staleAfterMs or 3 x poll interval). */
  staleAfterMs?: number;
  timeoutMs?: number;
  /** Free-form tags for rules and accounting (e.g. line: A). */
  tags?: Record<string, string>;
}

export interface GatewayConfig {
  id: string;
  /** Global read-only / dry-run: no write reaches any device. */
  dryRun?: boolean;
  staleAfterMs?: number;
  /** Where the store lives (overridden by --data). */
  dataDir?: string;
}

/**
 * The site configuration file (YAML). Sections for later parts (store, uplink, accounting,
 * rules, control) have their schemas in their own modules; see runtime/config/schema.ts.
 */
export interface SiteConfig {
  version: 1;
  site: { id: string; name?: string; timezone?: string };
  gateway: GatewayConfig;
  /** Extra directories with user device profiles (relative to the config file). */
  profileDirs?: string[];
  buses: BusConfig[];
  devices: DeviceConfig[];
  store?: Record<string, unknown>;
  uplink?: Record<string, unknown>;
  accounting?: Record<string, unknown>;
  rules?: unknown[];
  control?: Record<string, unknown>;
}
