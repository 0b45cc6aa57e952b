/**
 * The site-config snippet of a scan (buses + devices), ready to paste under a site file's
 * `version`, `site` and `gateway`: it passes `carbonedge check`. What cannot go in as it is (a unit
 * no profile claims, DL/T 645 meters sharing a line with Modbus devices, the same port found at a
 * second line setting) is written as comments saying why.
 */
import type { AnyProfile } from '../../drivers/profiles/types.js';
import type { DeviceRole } from '../../runtime/types.js';
import type { FoundUnit, ScanLine } from './sweep.js';

const ROLE_OF_KIND: Record<string, DeviceRole> = { meter: 'submeter', pv_inverter: 'pv_inverter', battery: 'battery', heat_pump: 'heat_pump', load: 'load' };
const POLL_MS = 5000;

/** The profile a found unit is configured with: the best fingerprint, else generic SunSpec. */
export function profileFor(u: FoundUnit): string | undefined {
  return u.profiles[0] ?? (u.sunspec ? 'sunspec' : undefined);
}

function roleOf(u: FoundUnit, profile: AnyProfile | undefined): DeviceRole {
  if (u.profiles.length === 0 && u.sunspec) {
    const m = new Set(u.sunspec.models);
    if ([101, 102, 103, 111, 112, 113].some((id) => m.has(id))) return 'pv_inverter';
    if (m.has(124) || m.has(802)) return 'battery';
    if ([201, 202, 203, 204, 211, 212, 213, 214].some((id) => m.has(id))) return 'submeter';
  }
  return (profile && ROLE_OF_KIND[profile.kind]) ?? 'other';
}

const q = (s: string) => JSON.stringify(s);

const groupOf = (p: AnyProfile | undefined): string | undefined => (p && 'sharesUnit' in p ? p.sharesUnit : undefined);

/** Further matching profiles of the best match's `sharesUnit` group: logical devices behind the same unit. */
function unitSharers(u: FoundUnit, profiles: ReadonlyMap<string, AnyProfile>): string[] {
  const group = groupOf(profiles.get(u.profiles[0] ?? ''));
  return group === undefined ? [] : u.profiles.slice(1).filter((p) => groupOf(profiles.get(p)) === group);
}

function busId(line: ScanLine): string {
  if (line.type === 'rtu') return `rs485-${line.baudRate}-${line.parity}`;
  return line.type === 'tcp' ? 'modbus-tcp' : 'converter';
}

function endpoint(line: ScanLine): string {
  return line.type === 'rtu' ? `path: ${q(line.path!)}, baudRate: ${line.baudRate}, parity: ${line.parity}` : `host: ${q(line.host!)}, port: ${line.port}`;
}

/** The physical port of a line: a serial path, or a TCP endpoint. */
const portOf = (line: ScanLine) => (line.type === 'rtu' ? `rtu:${line.path}` : `${line.type}:${line.host}:${line.port}`);

/** Ids made unique in the snippet: the second `converter` is `converter-2`. */
function uniqueIds(): (id: string) => string {
  const used = new Map<string, number>();
  return (id) => {
    const n = (used.get(id) ?? 0) + 1;
    used.set(id, n);
    return n === 1 ? id : `${id}-${n}`;
  };
}

export function siteSnippet(lines: readonly ScanLine[], profiles: ReadonlyMap<string, AnyProfile>): string {
  const buses: string[] = [];
  const devices: string[] = [];
  const busName = uniqueIds();
  const deviceName = uniqueIds();
  const ports = new Set<string>();
  lines.forEach((line) => {
    // One bus per physical port: a second setting of the same port is only reported.
    const again = ports.has(portOf(line));
    ports.add(portOf(line));
    const c = again ? '# ' : '';
    if (again) devices.push(`  # the same port also answered at ${line.baudRate} ${line.parity}: devices at different settings cannot share one bus`);
    const modbusBus = line.units.length ? busName(busId(line)) : '';
    const meterBus = line.meters.length ? busName(line.type === 'rtu' ? `dlt645-${line.baudRate}-${line.parity}` : 'dlt645-converter') : '';
    const dltType = line.type === 'rtu' ? 'dlt645' : 'dlt645-tcp';
    if (line.units.length) buses.push(`${c}  - { id: ${modbusBus}, type: ${line.type}, ${endpoint(line)} }`);
    for (const u of line.units) {
      const id = profileFor(u);
      const profile = id === undefined ? undefined : profiles.get(id);
      const what = u.sunspec ? ` SunSpec ${u.sunspec.manufacturer ?? '?'} ${u.sunspec.model ?? '?'}, models ${u.sunspec.models.join(' ')}` : '';
      if (id === undefined) {
        devices.push(`  # unit ${u.unit} answers but no profile's identify probes hold: try carbonedge read --profile ID --unit ${u.unit}`);
        continue;
      }
      const sharing = unitSharers(u, profiles);
      const others = u.profiles.filter((p) => p !== id && !sharing.includes(p));
      devices.push(`  # unit ${u.unit}: ${profile ? `${profile.manufacturer} ${profile.model}` : id}${what}${others.length ? ` (also matches ${others.join(', ')})` : ''}`);
      for (const [k, pid] of [id, ...sharing].entries()) {
        const p = profiles.get(pid);
        if (k > 0) devices.push(`  # unit ${u.unit} also answers for: ${p ? `${p.manufacturer} ${p.model}` : pid} (profiles sharing a unit id: ${groupOf(profile) ?? ''})`);
        devices.push(`${c}  - { id: ${deviceName(`${pid}-${u.unit}`)}, role: ${roleOf(u, p)}, bus: ${modbusBus}, unitId: ${u.unit}, profile: ${pid}, pollIntervalMs: ${POLL_MS} }`);
      }
    }
    if (!line.meters.length) return;
    // The gateway polls one protocol per line: meters beside Modbus devices need their own line.
    const shared = line.units.length > 0;
    const m = shared || again ? '# ' : '';
    if (shared) devices.push('  # DL/T 645 meters on this line share it with Modbus devices; the gateway polls one protocol per line (one bus per port): wire them to a line of their own, then use:');
    buses.push(`${m}  - { id: ${meterBus}, type: ${dltType}, ${endpoint(line)} }`);
    for (const meter of line.meters) {
      devices.push(`${m}  - { id: ${deviceName(`meter-${meter.address}`)}, role: submeter, bus: ${meterBus}, address: ${q(meter.address)}, profile: ${meter.protocol}, pollIntervalMs: ${POLL_MS} }`);
    }
  });
  // A list whose entries are all commented out is empty, not null.
  const list = (entries: string[]) => (entries.some((e) => e.startsWith('  - ')) ? entries : [...entries, '  []']);
  return ['buses:', ...list(buses), 'devices:', ...list(devices), ''].join('\n');
}
