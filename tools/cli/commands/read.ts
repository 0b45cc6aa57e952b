import path from 'node:path';
import { ModbusBus } from '../../../drivers/modbus/bus.js';
import { DevicePoller } from '../../../drivers/modbus/device-poller.js';
import { builtinProfileDir, loadProfiles } from '../../../drivers/profiles/load.js';
import { variantOf } from '../../../drivers/dlt645/variant.js';
import { isDlt645Profile, type AnyProfile, type Dlt645Profile } from '../../../drivers/profiles/types.js';
import type { DeviceConfig, Dlt645BusConfig } from '../../../runtime/config/types.js';
import { validateSiteConfig } from '../site.js';
import { ConfigError } from '../../../runtime/config/errors.js';
import type { Reading } from '../../../runtime/types.js';
import type { Command } from '../command.js';
import { formatTable, hostPort, parseCommandArgs, runCommand, UsageError } from '../command.js';
import type { GatewayRead } from './read-via-gateway.js';

/** The error of a serial port another process holds (serialport's flock): read through the running gateway instead. */
const PORT_LOCKED = /Cannot lock port|Resource temporarily unavailable|EBUSY/i;
const viaGateway: typeof import('./read-via-gateway.js').readViaGateway = async (opts) => (await import('./read-via-gateway.js')).readViaGateway(opts);

const usage =
  'carbonedge read --profile ID (--tcp HOST:PORT | --rtu PATH --baud N --parity none|even|odd [--stop-bits 1|2] | --rtu-over-tcp HOST:PORT) ' +
  '(--unit N | --address 123456789012) [--json] [--profile-dir DIR] [--timeout MS] [--url http://HOST:PORT | --config FILE] [--token TOKEN]\n' +
  '  a serial port a running gateway holds is read through that gateway\'s HTTP API (--url, else the --config file\'s http.listen, else 127.0.0.1:8080);\n' +
  '  DL/T 645 profiles (dlt645-2007, dlt645-1997) take the meter --address (omitted: asked with 13h, one 2007 meter on the line;\n' +
  '  dlt645-1997 needs --address);\n' +
  '  --rtu defaults to --baud 2400 --parity even for them, and --tcp is a TCP serial converter (raw bytes)';

/** A number given on the command line as a number, anything else as given (the schema says what it expected). */
function numeric(v: string | undefined): number | string | undefined {
  return v !== undefined && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

const CLI_SOURCE = '<command line>';

/** The flag that set a path of the site config built from the command line. */
function flagOf(p: string, transport: string): string {
  const key = p.split('/')[3];
  const byKey: Record<string, string> = {
    host: transport,
    port: transport,
    type: transport,
    path: '--rtu',
    baudRate: '--baud',
    parity: '--parity',
    stopBits: '--stop-bits',
    timeoutMs: '--timeout',
    unitId: '--unit',
    address: '--address',
    profile: '--profile',
  };
  return (key && byKey[key]) ?? transport;
}

/**
 * Validate the device options as a one-bus, one-device site config, with the loader `check`
 * uses (same schema, same cross checks): `--baud 9200` is refused here as it is in a config file.
 */
function validateOptions(
  bus: Record<string, unknown>,
  device: Record<string, unknown>,
  known: { profiles: Map<string, AnyProfile> },
  transport: string,
) {
  const config = { version: 1, site: { id: 'cli' }, gateway: { id: 'cli' }, buses: [bus], devices: [device] };
  try {
    const site = validateSiteConfig(config, CLI_SOURCE, known);
    return { bus: site.config.buses[0]!, device: site.config.devices[0]! };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // A flag may set two fields (--timeout: the bus's and the device's): say each problem once.
    const lines = new Set(err.issues.map((i) => `${flagOf(i.path, transport)}: ${i.message} [${i.code}]`));
    throw new UsageError([...lines].join('\n'));
  }
}

/** One read of every point of a device: the installer's first check after wiring a meter. */
export const command: Command = {
  summary: 'Read every point of one Modbus device or DL/T 645 meter once, using a device profile (table, or --json keyed by point id).',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(argv, {
        profile: { type: 'string', short: 'p' },
        tcp: { type: 'string' },
        rtu: { type: 'string' },
        'rtu-over-tcp': { type: 'string' },
        baud: { type: 'string' },
        parity: { type: 'string' },
        'stop-bits': { type: 'string' },
        unit: { type: 'string', short: 'u' },
        address: { type: 'string' },
        json: { type: 'boolean' },
        'profile-dir': { type: 'string', multiple: true },
        timeout: { type: 'string' },
        url: { type: 'string' },
        config: { type: 'string', short: 'c' },
        token: { type: 'string' },
      });
      if (!values.profile) throw new UsageError('--profile ID is required');
      const transports = [values.tcp, values.rtu, values['rtu-over-tcp']].filter((v) => v !== undefined);
      if (transports.length !== 1) throw new UsageError('give exactly one of --tcp HOST:PORT, --rtu PATH or --rtu-over-tcp HOST:PORT');
      const timeoutMs = numeric(values.timeout);
      const dirs = [builtinProfileDir(), ...(values['profile-dir'] ?? []).map((d) => path.resolve(d))];
      const { profiles, issues } = loadProfiles(dirs);
      const profile = profiles.get(values.profile);
      if (profile && isDlt645Profile(profile)) return readMeter(values, profile, profiles, timeoutMs);
      if (values.address !== undefined) {
        const meters = [...profiles.values()].filter(isDlt645Profile).map((p) => p.id).sort();
        throw new UsageError(`--address is for DL/T 645 meters; profile '${values.profile}' is not a DL/T 645 profile (DL/T 645 profiles: ${meters.join(', ') || 'none'})`);
      }
      if (values.unit === undefined) throw new UsageError('--unit N is required');

      let raw: Record<string, unknown>;
      let transport: string;
      if (values.tcp !== undefined) [raw, transport] = [{ type: 'tcp', ...hostPort('--tcp', values.tcp) }, '--tcp'];
      else if (values['rtu-over-tcp'] !== undefined) [raw, transport] = [{ type: 'rtu-over-tcp', ...hostPort('--rtu-over-tcp', values['rtu-over-tcp']) }, '--rtu-over-tcp'];
      else {
        if (values.baud === undefined) throw new UsageError('--rtu needs --baud N (e.g. 9600)');
        if (values.parity === undefined) throw new UsageError('--rtu needs --parity none|even|odd');
        const stopBits = numeric(values['stop-bits']);
        [raw, transport] = [{ type: 'rtu', path: values.rtu, baudRate: numeric(values.baud), parity: values.parity, ...(stopBits !== undefined ? { stopBits } : {}) }, '--rtu'];
      }
      const rawDevice = {
        id: 'cli-device',
        role: 'other',
        bus: 'cli',
        unitId: numeric(values.unit),
        profile: values.profile,
        // Long enough for any request timeout (the config check wants 4 x the timeout).
        pollIntervalMs: Math.max(1000, 4 * (typeof timeoutMs === 'number' ? timeoutMs : 0)),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      };

      if (!profile) {
        const relevant = issues.filter((i) => i.file.includes(values.profile!));
        if (relevant.length) throw new ConfigError(relevant, `profile '${values.profile}' has errors`);
        throw new UsageError(`unknown profile '${values.profile}' (available: ${[...profiles.keys()].sort().join(', ') || 'none'}; searched ${dirs.join(', ')})`);
      }
      const checked = validateOptions({ id: 'cli', ...raw, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }, rawDevice, { profiles }, transport);
      const { bus, device: checkedDevice } = checked;
      if (bus.type === 'dlt645' || bus.type === 'dlt645-tcp' || checkedDevice.address !== undefined) throw new Error('a Modbus device was validated as a DL/T 645 meter');
      const unit = checkedDevice.unitId;
      const device: DeviceConfig = { ...checkedDevice, id: profile.id };

      const modbus = new ModbusBus(bus, { connectTimeoutMs: Math.max(1000, device.timeoutMs ?? 3000) });
      try {
        const poller = new DevicePoller({ device, profile, bus: modbus });
        if (!(await modbus.connect())) {
          const r = await poller.pollOnce(); // carries the connection error with what and where
          if (bus.type === 'rtu' && PORT_LOCKED.test(r[0]?.error ?? '')) {
            return printGatewayRead(values, await viaGateway({ port: bus.path, unitId: unit, profile: profile.id, url: values.url, config: values.config, token: values.token }), r[0]!.error!);
          }
          process.stderr.write(`carbonedge read: cannot reach ${modbus.uri}: ${r[0]?.error ?? 'connection failed'}\n`);
          return 1;
        }
        const readings = await poller.pollOnce();
        const unreachable = readings.length > 0 && poller.backedOff !== undefined;
        if (unreachable) {
          const why = readings.find((r) => r.error)?.error ?? 'no reply';
          process.stderr.write(`carbonedge read: device unit ${unit} on ${modbus.uri} did not answer (profile ${profile.id}): ${why}\n`);
          if (values.json) process.stdout.write(`${JSON.stringify(toJson(readings), null, 2)}\n`);
          return 1;
        }
        if (values.json) process.stdout.write(`${JSON.stringify(toJson(readings), null, 2)}\n`);
        else process.stdout.write(table(readings, `${profile.manufacturer} ${profile.model} (${profile.id} v${profile.version}) unit ${unit} on ${modbus.uri}`, new Map(profile.points.map((p) => [p.id, p.type]))));
        const bad = readings.filter((r) => r.quality !== 'good').length;
        if (bad) process.stderr.write(`carbonedge read: ${bad} of ${readings.length} point(s) not good (see quality/error)\n`);
        return 0;
      } finally {
        await modbus.close();
      }
    }),
};

/**
 * The DL/T 645 branch: --address (or 13h discovery), --rtu with 2400 8E1 defaults, --tcp = serial
 * converter. The options are validated as a dlt645 / dlt645-tcp bus with one meter in a config file.
 */
async function readMeter(
  values: Record<string, string | boolean | string[] | undefined>,
  profile: Dlt645Profile,
  profiles: Map<string, AnyProfile>,
  timeoutMs: number | string | undefined,
): Promise<number> {
  const str = (k: string) => (typeof values[k] === 'string' ? values[k] : undefined);
  if (str('unit') !== undefined) throw new UsageError(`profile '${profile.id}' is a DL/T 645 profile: give the meter's --address (12 digits) instead of --unit`);
  if (str('rtu-over-tcp') !== undefined) throw new UsageError('a DL/T 645 meter behind a TCP serial converter is read with --tcp HOST:PORT');
  const address = str('address');
  if (address === undefined && !variantOf(profile.protocol).control.readAddress) {
    throw new UsageError(`profile '${profile.id}' is a ${variantOf(profile.protocol).standard} profile: give the meter's --address (12 digits, on its name plate); ${variantOf(profile.protocol).standard} has no read-address command (13h) to ask the meter for it`);
  }
  const tcp = str('tcp');
  const stopBits = numeric(str('stop-bits'));
  const [raw, transport]: [Record<string, unknown>, string] =
    tcp !== undefined
      ? [{ type: 'dlt645-tcp', ...hostPort('--tcp', tcp) }, '--tcp']
      : [{ type: 'dlt645', path: str('rtu'), baudRate: numeric(str('baud')) ?? 2400, parity: str('parity') ?? 'even', ...(stopBits !== undefined ? { stopBits } : {}) }, '--rtu'];
  const rawDevice = {
    id: 'cli-meter',
    role: 'other',
    bus: 'cli',
    // Without --address the meter is asked for its own (13h); a placeholder lets the check vet the rest.
    address: address ?? '000000000000',
    profile: profile.id,
    pollIntervalMs: Math.max(1000, 4 * (typeof timeoutMs === 'number' ? timeoutMs : 0)),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
  const checked = validateOptions({ id: 'cli', ...raw, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }, rawDevice, { profiles }, transport);
  const { bus } = checked;
  if (bus.type !== 'dlt645' && bus.type !== 'dlt645-tcp') throw new Error('a DL/T 645 meter was validated on a Modbus bus');
  const { readDlt645 } = await import('./read-dlt645.js');
  const r = await readDlt645(bus satisfies Dlt645BusConfig, profile, address, checked.device.timeoutMs);
  if (r.failure && bus.type === 'dlt645' && address !== undefined && PORT_LOCKED.test(r.failure)) {
    return printGatewayRead(values, await viaGateway({ port: bus.path, address, url: str('url'), config: str('config'), token: str('token') }), r.failure);
  }
  if (r.failure) {
    process.stderr.write(`carbonedge read: meter ${r.address} on ${r.uri} did not answer (profile ${profile.id}): ${r.failure}\n`);
    if (values.json && r.readings.length) process.stdout.write(`${JSON.stringify(toJson(r.readings), null, 2)}\n`);
    return 1;
  }
  if (values.json) process.stdout.write(`${JSON.stringify(toJson(r.readings), null, 2)}\n`);
  else process.stdout.write(table(r.readings, `${profile.manufacturer} ${profile.model} (${profile.id} v${profile.version}) meter ${r.address} on ${r.uri}`));
  const bad = r.readings.filter((x) => x.quality !== 'good').length;
  if (bad) process.stderr.write(`carbonedge read: ${bad} of ${r.readings.length} point(s) not good (see quality/error)\n`);
  return 0;
}

/** Print what the running gateway read for us (or why it could not), like a direct read. */
function printGatewayRead(values: { json?: boolean | string | string[] }, r: GatewayRead | { failure: string }, lockError: string): number {
  if ('failure' in r) {
    process.stderr.write(`carbonedge read: ${lockError}\ncarbonedge read: the port is held by another process, and reading through a running gateway failed: ${r.failure}\n`);
    return 1;
  }
  process.stderr.write(`carbonedge read: ${r.device.port} is held by the running gateway; read ${r.device.id} through its API at ${r.url}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(toJson(r.readings), null, 2)}\n`);
  else process.stdout.write(table(r.readings, `${r.device.id} (${r.device.profile}, ${r.device.unitId !== undefined ? `unit ${r.device.unitId}` : `meter ${r.device.address}`} on ${r.device.port}) read by the gateway at ${r.url}`));
  const bad = r.readings.filter((x) => x.quality !== 'good').length;
  if (bad) process.stderr.write(`carbonedge read: ${bad} of ${r.readings.length} point(s) not good (see quality/error)\n`);
  return 0;
}

function toJson(readings: Reading[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const r of readings) {
    out[r.point] = {
      value: r.value,
      unit: r.unit ?? null,
      quality: r.quality,
      ...(r.canonical ? { canonical: r.canonical } : {}),
      ts: new Date(r.ts).toISOString(),
      source: r.source,
      ...(r.error ? { error: r.error } : {}),
    };
  }
  return out;
}

/** Display a value with the precision its register type carries (float32: 7 significant digits). */
function show(v: Reading['value'], type: string | undefined): string {
  if (v === null) return '-';
  if (typeof v !== 'number') return String(v);
  return String(Number(v.toPrecision(type === 'f32' ? 7 : 15)));
}

function table(readings: Reading[], title: string, types = new Map<string, string>()): string {
  const rows = readings.map((r) => [
    r.point,
    show(r.value, types.get(r.point)),
    r.unit ?? '',
    r.quality,
    r.canonical ?? '',
    r.error ?? '',
  ]);
  return [title, '', formatTable(['point', 'value', 'unit', 'quality', 'canonical', 'error'], rows, new Set([1])), ''].join('\n');
}
