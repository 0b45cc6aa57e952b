/**
 * The retained metadata message of a gateway (`<prefix>/metadata`, contract metadata.v1): its
 * devices, the profile (id, version, manufacturer, model) each speaks, and the points each has,
 * with units and canonical names, so a cloud can label what it receives without the site file.
 */
import type { AnyProfile, Dlt645Profile, Profile } from '../../drivers/profiles/types.js';
import { CANONICAL } from '../../drivers/profiles/canonical.js';
import type { SiteConfig } from '../config/types.js';

export const METADATA_SCHEMA_VERSION = 1;

export type PointKind = 'number' | 'string' | 'boolean';

export interface MetadataPoint {
  id: string;
  canonical?: string;
  unit?: string;
  type: PointKind;
  writable?: boolean;
  description?: string;
}

export interface MetadataDevice {
  id: string;
  name?: string;
  role: string;
  bus: string;
  /** Modbus unit id, or the 12-digit DL/T 645 address. */
  unitId?: number;
  address?: string;
  profile: { id: string; version: number; manufacturer: string; model: string; protocol: string };
  availabilityTopic: string;
  points: MetadataPoint[];
}

export interface GatewayMetadata {
  schemaVersion: number;
  site: string;
  siteName?: string;
  timezone?: string;
  gateway: string;
  ts: number;
  devices: MetadataDevice[];
}

export const metadataTopic = (prefix: string) => `${prefix}/metadata`;
export const availabilityTopic = (prefix: string, device: string) => `${prefix}/device/${device}/availability`;

function pointKind(p: Profile['points'][number] | Dlt645Profile['points'][number]): PointKind {
  if ('type' in p) return p.type === 'string' ? 'string' : p.type === 'bit' || p.register === 'coil' || p.register === 'discrete' ? 'boolean' : 'number';
  return 'number';
}

/** The points of a profile as metadata (polled and write-only points; scale-factor helpers left out). */
export function profilePoints(profile: AnyProfile): MetadataPoint[] {
  const out: MetadataPoint[] = [];
  for (const p of profile.points) {
    const modbus = 'register' in p ? p : undefined;
    if (modbus && modbus.poll === false && modbus.access !== 'write' && modbus.access !== 'read-write') continue;
    const unit = p.unit ?? (p.canonical ? CANONICAL[p.canonical]?.unit : undefined);
    out.push({
      id: p.id,
      ...(p.canonical ? { canonical: p.canonical } : {}),
      ...(unit ? { unit } : {}),
      type: pointKind(p),
      ...(modbus && (modbus.access === 'write' || modbus.access === 'read-write') ? { writable: true } : {}),
      ...(p.description ? { description: p.description } : {}),
    });
  }
  return out;
}

export function buildMetadata(
  config: SiteConfig,
  profiles: ReadonlyMap<string, AnyProfile>,
  prefix: string,
  ts: number,
): GatewayMetadata {
  const devices: MetadataDevice[] = [];
  for (const d of config.devices) {
    const profile: AnyProfile | undefined = profiles.get(d.profile);
    if (!profile) continue; // the config check refuses unknown profiles before start
    devices.push({
      id: d.id,
      ...(d.name ? { name: d.name } : {}),
      role: d.role,
      bus: d.bus,
      ...(d.unitId !== undefined ? { unitId: d.unitId } : {}),
      ...(d.address !== undefined ? { address: d.address } : {}),
      profile: { id: profile.id, version: profile.version, manufacturer: profile.manufacturer, model: profile.model, protocol: profile.protocol ?? 'modbus' },
      availabilityTopic: availabilityTopic(prefix, d.id),
      points: profilePoints(profile),
    });
  }
  return {
    schemaVersion: METADATA_SCHEMA_VERSION,
    site: config.site.id,
    ...(config.site.name ? { siteName: config.site.name } : {}),
    ...(config.site.timezone ? { timezone: config.site.timezone } : {}),
    gateway: config.gateway.id,
    ts,
    devices,
  };
}
