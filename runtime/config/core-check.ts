/**
 * Cross-reference checks of the core sections (site, buses, devices, profiles). They run on the
 * raw value even when the schema found errors: every field is read through a guard, and a check
 * whose inputs are malformed or already reported is skipped (no follow-on errors).
 */
import path from 'node:path';
import { isDlt645Profile, type AnyProfile } from '../../drivers/profiles/types.js';
import type { ConfigIssue } from './errors.js';
import { timeZoneIssue } from './timezone.js';

/** True when the schema already reported the value at `path` (or inside it) as wrong. */
export type Reported = (path: string) => boolean;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map((x) => (isObj(x) ? x : {})) : []);
const str = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);
const int = (o: Obj, k: string): number | undefined => (Number.isInteger(o[k]) ? Number(o[k]) : undefined);

const SERIAL = new Set(['rtu', 'dlt645']);
/** Bus types whose host:port is a serial device server (an RS-485 line behind it). */
const SERIAL_SERVER = new Set(['rtu-over-tcp', 'dlt645-tcp']);
const DLT645_BUS = new Set(['dlt645', 'dlt645-tcp']);

/** What a physical port is, for "one bus per port": a serial path, a serial device server, a Modbus TCP endpoint. */
function endpointOf(type: string | undefined, b: Obj): string | undefined {
  const serial = str(b, 'path');
  const host = str(b, 'host');
  const port = int(b, 'port');
  if (type !== undefined && SERIAL.has(type)) return serial === undefined ? undefined : `serial:${path.resolve(serial)}`;
  if (host === undefined || port === undefined) return undefined;
  return `${type !== undefined && SERIAL_SERVER.has(type) ? 'serial-server' : type}:${host}:${port}`;
}

/** `profiles`: the profiles devices may name: Modbus ones, and DL/T 645 ones for meters (by `address`). */
export function coreCrossCheck(value: unknown, profiles: Map<string, AnyProfile>, file: string, reported: Reported): ConfigIssue[] {
  const ids = (dlt645: boolean) => [...profiles.values()].filter((p) => isDlt645Profile(p) === dlt645).map((p) => p.id).sort();
  const issues: ConfigIssue[] = [];
  const cfg = isObj(value) ? value : {};
  const site = isObj(cfg.site) ? cfg.site : {};
  const tz = reported('/site/timezone') ? undefined : timeZoneIssue(site.timezone, file, '/site/timezone');
  if (tz) issues.push(tz);

  const buses = list(cfg.buses);
  const busIds = new Map<string, number>();
  const ports = new Map<string, string>();
  buses.forEach((b, i) => {
    const id = str(b, 'id');
    const type = str(b, 'type');
    if (id === undefined) return;
    if (busIds.has(id)) issues.push({ file, path: `/buses/${i}/id`, code: 'CE_CONFIG_DUPLICATE_ID', message: `duplicate bus id '${id}' (also /buses/${busIds.get(id)})` });
    else busIds.set(id, i);
    // A physical port is owned by exactly one bus object: two would corrupt each other's frames
    // (a Modbus RTU bus and a DL/T 645 bus on one serial port too).
    const endpoint = endpointOf(type, b);
    if (endpoint === undefined) return;
    const other = ports.get(endpoint);
    if (other !== undefined && type !== undefined && SERIAL.has(type)) {
      issues.push({ file, path: `/buses/${i}/path`, code: 'CE_CONFIG_CONFLICT', message: `serial port ${str(b, 'path')} is already used by bus '${other}'; put all devices of one RS-485 line on one bus` });
    } else if (other !== undefined && type !== undefined && SERIAL_SERVER.has(type)) {
      issues.push({ file, path: `/buses/${i}/host`, code: 'CE_CONFIG_CONFLICT', message: `serial device server ${str(b, 'host')}:${int(b, 'port')} is already used by bus '${other}'; put all devices of one RS-485 line on one bus` });
    }
    ports.set(endpoint, id);
  });

  const deviceIds = new Map<string, number>();
  /** Who holds each `bus#station`: several devices only when their profiles share a `sharesUnit` group. */
  const units = new Map<string, { device: string; profile: string | undefined; group: string | undefined }[]>();
  const unitGroup = (d: Obj): string | undefined => {
    const p = profiles.get(str(d, 'profile') ?? '');
    return p === undefined || isDlt645Profile(p) ? undefined : p.sharesUnit;
  };
  list(cfg.devices).forEach((d, i) => {
    const at = `/devices/${i}`;
    const id = str(d, 'id');
    if (id !== undefined) {
      if (deviceIds.has(id)) issues.push({ file, path: `${at}/id`, code: 'CE_CONFIG_DUPLICATE_ID', message: `duplicate device id '${id}' (also /devices/${deviceIds.get(id)})` });
      else deviceIds.set(id, i);
    }
    const busId = str(d, 'bus');
    const busIndex = busId === undefined ? undefined : busIds.get(busId);
    const bus = busIndex === undefined ? undefined : buses[busIndex];
    const unitId = reported(`${at}/unitId`) ? undefined : int(d, 'unitId');
    // A device with an `address` is a DL/T 645 meter (the schema's branch is chosen by its presence).
    const meter = 'address' in d;
    const address = reported(`${at}/address`) ? undefined : str(d, 'address');
    const busType = bus === undefined || busIndex === undefined || reported(`/buses/${busIndex}/type`) ? undefined : str(bus, 'type');
    if (busId !== undefined && bus === undefined) {
      issues.push({ file, path: `${at}/bus`, code: 'CE_CONFIG_UNKNOWN_REF', message: `unknown bus '${busId}' (expected one of: ${[...busIds.keys()].join(', ') || 'none defined'})` });
    } else if (bus && busId !== undefined) {
      if (busType !== undefined && DLT645_BUS.has(busType) !== meter) {
        issues.push(
          meter
            ? { file, path: `${at}/address`, code: 'CE_CONFIG_PROTOCOL_MISMATCH', message: `bus '${busId}' is a Modbus bus (${busType}): a meter 'address' needs a bus of type dlt645 or dlt645-tcp; Modbus devices take 'unitId'` }
            : { file, path: at, code: 'CE_CONFIG_PROTOCOL_MISMATCH', message: `bus '${busId}' is a DL/T 645 line: expected the meter's 12-digit 'address' instead of 'unitId'` },
        );
      } else if (!meter && unitId !== undefined && str(bus, 'type') !== 'tcp' && (unitId < 1 || unitId > 247)) {
        issues.push({ file, path: `${at}/unitId`, code: 'CE_CONFIG_INVALID', message: `expected a unit id 1..247 on serial bus '${busId}', got ${unitId}` });
      }
      const station = meter ? address : unitId;
      if (station !== undefined) {
        const unitKey = `${busId}#${station}`;
        const claim = { device: id ?? `#${i}`, profile: str(d, 'profile'), group: meter ? undefined : unitGroup(d) };
        const owners = units.get(unitKey) ?? [];
        const clash = owners.find((o) => claim.group === undefined || o.group !== claim.group || o.profile === claim.profile);
        if (clash) {
          const why = claim.group !== undefined && clash.group === claim.group ? ` with the same profile '${claim.profile}' (devices sharing a unit id need different profiles of one group)` : '';
          issues.push({ file, path: `${at}/${meter ? 'address' : 'unitId'}`, code: 'CE_CONFIG_CONFLICT', message: `${meter ? 'meter address' : 'unit id'} ${station} on bus '${busId}' is already used by device '${clash.device}'${why}` });
        } else units.set(unitKey, [...owners, claim]);
      }
    }
    const profileId = str(d, 'profile');
    if (profileId === undefined || reported(`${at}/profile`)) return;
    const profile = profiles.get(profileId);
    const dlt645 = profile !== undefined && isDlt645Profile(profile);
    if (meter || dlt645) {
      if (!dlt645) {
        const expected = `a DL/T 645 profile for the meter${address === undefined ? '' : ` at address ${address}`} (one of: ${ids(true).join(', ') || 'none'})`;
        issues.push({ file, path: `${at}/profile`, code: profiles.has(profileId) ? 'CE_CONFIG_PROTOCOL_MISMATCH' : 'CE_CONFIG_UNKNOWN_REF', message: `expected ${expected}, got '${profileId}'` });
      } else if (!meter) {
        issues.push({ file, path: `${at}/profile`, code: 'CE_CONFIG_PROTOCOL_MISMATCH', message: `profile '${profileId}' is a DL/T 645 profile: it needs a meter 'address' on a dlt645 or dlt645-tcp bus` });
      }
      return;
    }
    if (!profile) {
      const known = ids(false);
      issues.push({ file, path: `${at}/profile`, code: 'CE_CONFIG_UNKNOWN_REF', message: `unknown profile '${profileId}' (expected one of: ${known.join(', ')})` });
      return;
    }
    // Same rule as the poller: the device's own timeout, else the longer of profile and bus.
    const timing = [`${at}/pollIntervalMs`, `${at}/timeoutMs`, ...(busIndex === undefined ? [] : [`/buses/${busIndex}/timeoutMs`])];
    const poll = int(d, 'pollIntervalMs');
    if (poll === undefined || timing.some(reported)) return;
    const timeout = int(d, 'timeoutMs') ?? Math.max(profile.limits.timeoutMs, (bus && int(bus, 'timeoutMs')) ?? 0);
    if (poll * 4 < timeout) {
      issues.push({ file, path: `${at}/pollIntervalMs`, code: 'CE_CONFIG_INVALID', message: `poll interval ${poll} ms is too short for a request timeout of ${timeout} ms (expected at least ${Math.ceil(timeout / 4)} ms)` });
    }
  });
  return issues;
}
