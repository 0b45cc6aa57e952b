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
/** A Modbus bus. */
export type BusConfig = TcpBusConfig | RtuOverTcpBusConfig | RtuBusConfig;

/** A DL/T 645 RS-485 line on a serial port (default 2400 baud, even parity, 8 data bits, 1 stop bit). */
export interface Dlt645SerialBusConfig extends BusCommon {
  type: 'dlt645';
  path: string;
  baudRate?: number;
  parity?: Parity;
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}
/** A DL/T 645 RS-485 line behind a TCP serial converter (raw bytes over TCP). */
export interface Dlt645TcpBusConfig extends BusCommon {
  type: 'dlt645-tcp';
  host: string;
  port: number;
}
export type Dlt645BusConfig = Dlt645SerialBusConfig | Dlt645TcpBusConfig;
/** Any bus of the site configuration. */
export type SiteBusConfig = BusConfig | Dlt645BusConfig;

export function isDlt645Bus(b: SiteBusConfig): b is Dlt645BusConfig {
  return b.type === 'dlt645' || b.type === 'dlt645-tcp';
}

interface DeviceCommon {
  id: string;
  name?: string;
  role: DeviceRole;
  bus: string;
  /** Profile id (device-profiles/<id>.yaml or a user profile directory). */
  profile: string;
  pollIntervalMs: number;
  /** Values older than this become `stale` (default: gateway.staleAfterMs or 3 x poll interval). */
  staleAfterMs?: number;
  timeoutMs?: number;
  /** Free-form tags for rules and accounting (e.g. line: A). */
  tags?: Record<string, string>;
}
/** A device on a Modbus bus, by unit id. */
export interface DeviceConfig extends DeviceCommon {
  unitId: number;
  address?: undefined;
}
/** A meter on a DL/T 645 bus, by its 12-digit address. */
export interface Dlt645DeviceConfig extends DeviceCommon {
  address: string;
  unitId?: undefined;
}
/** Any device of the site configuration. */
export type SiteDeviceConfig = DeviceConfig | Dlt645DeviceConfig;

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
  buses: SiteBusConfig[];
  devices: SiteDeviceConfig[];
  store?: Record<string, unknown>;
  uplink?: Record<string, unknown>;
  accounting?: Record<string, unknown>;
  rules?: unknown[];
  control?: Record<string, unknown>;
  http?: Record<string, unknown>;
}
