import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { builtinProfileDir, loadProfiles } from '../../../drivers/profiles/load.js';
import { modbusProfiles, type Profile } from '../../../drivers/profiles/types.js';
import { ConfigError } from '../../../runtime/config/errors.js';
import { createLogger, type Logger } from '../../../runtime/logger.js';
import { DEMO_DEVICE_SPECS, DEMO_LINE } from '../../simulator/demo-config.js';
import { DEMO_FACTORY } from '../../simulator/demo-factory.js';
import { DEMO_DEVICES } from '../../simulator/demo-site.js';
import type { ImageValues } from '../../simulator/register-image.js';
import { createPtyPair, SocatMissingError, type PtyPair } from '../../simulator/pty.js';
import { SimulatorServer, type SimulatedDevice } from '../../simulator/server.js';
import { SimulatedSite, SingleSimulatedDevice } from '../../simulator/site.js';
import type { LineServer } from '../../simulator/line-server.js';
import { buildLine, parseLineDevice, type LineDeviceSpec, type SimulatedLine } from '../../simulator/line-site.js';
import type { Command } from '../command.js';
import { parseCommandArgs, runCommand, UsageError } from '../command.js';

const usage =
  'carbonedge simulate (--site demo | --profile ID --unit N [--values FILE.json] [--static] | --device PROFILE@UNIT|PROFILE@ADDRESS ...) ' +
  '[--tcp PORT] [--host HOST] [--rtu [PATH]] [--baud N] [--parity none|even|odd] [--speed N] [--seed N] [--strict] [--profile-dir DIR]\n' +
  '  --device (repeatable): one mixed RS-485 line of Modbus units and DL/T 645 meters (12-digit address), on a pty (--rtu)\n' +
  '  or on --tcp PORT as a TCP serial converter passes the line through (read it with --rtu-over-tcp / a dlt645-tcp bus)';

const DEFAULT_TCP_PORT = 1502;

/** `--rtu` takes an optional path: a bare `--rtu` (last, or followed by another option) means "make a pty pair". */
export function normaliseOptionalRtu(argv: string[]): string[] {
  return argv.map((a, i) => (a === '--rtu' && (i === argv.length - 1 || argv[i + 1]!.startsWith('--')) ? '--rtu=' : a));
}

function positiveNumber(name: string, raw: string | undefined, integer = false): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects a positive ${integer ? 'integer' : 'number'}, got '${raw}'`);
  }
  return n;
}

function readValuesFile(file: string, profile: Profile): ImageValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([{ file, path: '', message: `cannot read a JSON object of point values: ${(err as Error).message}` }]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([{ file, path: '', message: 'expected a JSON object keyed by point id, e.g. {"active_power": 1500, "voltage_l1": 230.1}' }]);
  }
  const known = new Set<string>();
  for (const p of profile.points) {
    known.add(p.id);
    if (p.canonical) known.add(p.canonical);
  }
  const issues = Object.entries(parsed as Record<string, unknown>).flatMap(([k, v]) => {
    if (!known.has(k)) return [{ file, path: `/${k}`, message: `'${k}' is not a point id or canonical name of profile '${profile.id}'` }];
    if (typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'string') return [{ file, path: `/${k}`, message: `expected a number, boolean or string, got ${JSON.stringify(v)}` }];
    return [];
  });
  if (issues.length) throw new ConfigError(issues);
  return parsed as ImageValues;
}

export interface RunningSimulation {
  /** Modbus TCP / RTU server (--site, --profile). */
  server?: SimulatorServer;
  /** The mixed line (--device). */
  line?: LineServer;
  pty?: PtyPair;
  description: string[];
  close(): Promise<void>;
}

/** Serve a mixed line of `--device` specs on a pty (`rtu` '' or a path) or a TCP port. */
export async function startLineSimulation(
  opts: { devices: LineDeviceSpec[]; tcpPort?: number; host?: string; rtu?: string; baudRate?: number; parity?: 'none' | 'even' | 'odd'; speed?: number; seed?: number; generate?: boolean; profileDirs?: string[] },
): Promise<RunningSimulation> {
  const { profiles, issues } = loadProfiles([builtinProfileDir(), ...(opts.profileDirs ?? []).map((d) => path.resolve(d))]);
  if (issues.length) throw new ConfigError(issues, 'the device profiles have errors');
  let line: SimulatedLine;
  try {
    line = buildLine(opts.devices, profiles, opts);
  } catch (err) {
    throw new UsageError(`--device: ${(err as Error).message}`);
  }
  const description: string[] = [];
  let pty: PtyPair | undefined;
  if (opts.rtu !== undefined) {
    pty = opts.rtu === '' ? await createPtyPair() : undefined;
    const rtuPath = pty?.serverPath ?? opts.rtu;
    await line.server.listenSerial(rtuPath, { baudRate: opts.baudRate, parity: opts.parity });
    description.push(`one RS-485 line on ${pty ? `a pseudo-terminal: use ${pty.clientPath} as the serial port` : rtuPath}`);
  } else {
    const port = await line.server.listenTcp(opts.tcpPort ?? DEFAULT_TCP_PORT, opts.host ?? '127.0.0.1');
    description.push(`one RS-485 line behind a TCP serial converter at ${opts.host ?? '127.0.0.1'}:${port} (--rtu-over-tcp for Modbus, a dlt645-tcp bus for the meters)`);
  }
  line.start();
  description.push(...line.described.map((d) => `  ${d}`));
  return {
    line: line.server,
    pty,
    description,
    close: async () => {
      line.stop();
      await line.server.close();
      await pty?.close();
    },
  };
}

/** Start simulators as the options say; shared by the command and tests. */
export async function startSimulation(
  opts: {
    site?: 'demo';
    profile?: string;
    unit?: number;
    values?: string;
    generate?: boolean;
    tcpPort?: number;
    host?: string;
    rtu?: string;
    baudRate?: number;
    parity?: 'none' | 'even' | 'odd';
    speed?: number;
    seed?: number;
    strict?: boolean;
    profileDirs?: string[];
  },
  logger: Logger,
): Promise<RunningSimulation> {
  const { profiles, issues } = loadProfiles([builtinProfileDir(), ...(opts.profileDirs ?? []).map((d) => path.resolve(d))]);
  if (issues.length) throw new ConfigError(issues, 'the device profiles have errors');
  let devices: SimulatedDevice[];
  let clock: { start(): void; stop(): void };
  const described: string[] = [];
  if (opts.site === 'demo') {
    const site = new SimulatedSite({ profiles, site: { ...DEMO_FACTORY, seed: opts.seed }, speed: opts.speed, image: { strict: opts.strict }, logger });
    devices = site.devices;
    clock = site;
    for (const d of DEMO_DEVICES) described.push(`unit ${DEMO_DEVICE_SPECS[d].unitId}: ${d} (${DEMO_DEVICE_SPECS[d].profile})`);
    described.push(`unit ${DEMO_LINE.unitId}: ${DEMO_LINE.id} (${DEMO_LINE.profile})`);
  } else {
    const profile = modbusProfiles(profiles).get(opts.profile!);
    if (!profile) throw new UsageError(`unknown profile '${opts.profile}' (known: ${[...profiles.keys()].sort().join(', ')})`);
    const values = opts.values ? readValuesFile(opts.values, profile) : undefined;
    const dev = new SingleSimulatedDevice({
      profile,
      unitId: opts.unit!,
      values,
      generate: opts.generate,
      site: { seed: opts.seed },
      speed: opts.speed,
      image: { strict: opts.strict },
    });
    devices = [dev.device];
    clock = dev;
    described.push(`unit ${opts.unit}: ${profile.id} (${dev.site ? 'generated values' : 'static values'}${values ? `, ${Object.keys(values).length} from ${opts.values}` : ''})`);
  }

  let pty: PtyPair | undefined;
  let rtuPath: string | undefined;
  if (opts.rtu !== undefined) {
    if (opts.rtu === '') {
      pty = await createPtyPair();
      rtuPath = pty.serverPath;
    } else {
      if (!existsSync(opts.rtu)) throw new UsageError(`--rtu ${opts.rtu}: no such serial device (give no path to create a pseudo-terminal pair)`);
      rtuPath = opts.rtu;
    }
  }
  let server: SimulatorServer;
  try {
    server = await SimulatorServer.start({
      devices,
      logger,
      ...(opts.tcpPort !== undefined ? { tcp: { port: opts.tcpPort, host: opts.host } } : {}),
      ...(rtuPath ? { rtu: { path: rtuPath, baudRate: opts.baudRate ?? 9600, parity: opts.parity ?? 'none' } } : {}),
    });
  } catch (err) {
    await pty?.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new UsageError(`port ${opts.tcpPort} on ${opts.host ?? '127.0.0.1'} is in use (choose another with --tcp PORT)`);
    throw err;
  }
  clock.start();
  const description: string[] = [];
  if (server.tcpPort !== undefined) description.push(`Modbus TCP on ${server.host}:${server.tcpPort}`);
  if (pty) description.push(`Modbus RTU on a pseudo-terminal: use ${pty.clientPath} as the serial port (${opts.baudRate ?? 9600} baud, parity ${opts.parity ?? 'none'})`);
  else if (rtuPath) description.push(`Modbus RTU on ${rtuPath} (${opts.baudRate ?? 9600} baud, parity ${opts.parity ?? 'none'})`);
  description.push(...described.map((d) => `  ${d}`));
  return {
    server,
    pty,
    description,
    close: async () => {
      clock.stop();
      await server.close();
      await pty?.close();
    },
  };
}

export const command: Command = {
  summary: 'Serve simulated devices (the demo site, one device from a profile, or a mixed Modbus / DL/T 645 line) over TCP and/or RTU.',
  usage,
  run: (argv) =>
    runCommand(usage, async () => {
      const { values } = parseCommandArgs(normaliseOptionalRtu(argv), {
        site: { type: 'string' },
        profile: { type: 'string' },
        unit: { type: 'string' },
        values: { type: 'string' },
        static: { type: 'boolean' },
        tcp: { type: 'string' },
        host: { type: 'string' },
        rtu: { type: 'string' },
        baud: { type: 'string' },
        parity: { type: 'string' },
        speed: { type: 'string' },
        seed: { type: 'string' },
        strict: { type: 'boolean' },
        'profile-dir': { type: 'string', multiple: true },
        device: { type: 'string', multiple: true },
      });
      if (values.site !== undefined && values.site !== 'demo') throw new UsageError(`--site: the only built-in site is 'demo', got '${values.site}'`);
      const devices = (values.device ?? []).map((d) => {
        const spec = parseLineDevice(d);
        if (typeof spec === 'string') throw new UsageError(`--device: ${spec}`);
        return spec;
      });
      if (devices.length && (values.site || values.profile)) throw new UsageError('give --device PROFILE@UNIT ... or --site demo or --profile ID, not several');
      if (!values.site && !values.profile && !devices.length) throw new UsageError('give --site demo, --profile ID --unit N or --device PROFILE@UNIT ...');
      if (values.site && values.profile) throw new UsageError('give either --site demo or --profile ID, not both');
      const unit = values.profile ? positiveNumber('unit', values.unit ?? '1', true)! : undefined;
      if (unit !== undefined && unit > 247) throw new UsageError(`--unit expects 1..247, got ${unit}`);
      if (values.parity !== undefined && !['none', 'even', 'odd'].includes(values.parity)) throw new UsageError(`--parity expects none, even or odd, got '${values.parity}'`);
      const tcpPort = values.tcp !== undefined ? positiveNumber('tcp', values.tcp, true) : values.rtu !== undefined ? undefined : DEFAULT_TCP_PORT;
      const seed = values.seed !== undefined ? Number(values.seed) : undefined;
      if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed expects an integer, got '${values.seed}'`);
      const logger = createLogger();
      const host = values.host ?? '127.0.0.1';
      if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
        logger.warn({ host }, 'the simulator is reachable from other machines on this address; anyone there can read and write its registers');
      }
      const common = {
        generate: !values.static,
        tcpPort,
        host,
        rtu: values.rtu,
        baudRate: positiveNumber('baud', values.baud, true),
        parity: values.parity as 'none' | 'even' | 'odd' | undefined,
        speed: positiveNumber('speed', values.speed),
        seed,
        profileDirs: values['profile-dir'],
      };
      let sim: RunningSimulation;
      try {
        sim = devices.length
          ? await startLineSimulation({ ...common, devices })
          : await startSimulation({ ...common, site: values.site as 'demo' | undefined, profile: values.profile, unit, values: values.values, strict: values.strict }, logger);
      } catch (err) {
        if (err instanceof SocatMissingError) {
          process.stderr.write(`carbonedge simulate: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
      process.stdout.write(`carbonedge simulate: serving ${values.site ? 'the demo site' : devices.length ? `${devices.length} device(s) on one line` : `profile ${values.profile}`}\n${sim.description.join('\n')}\nCtrl-C to stop.\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await sim.close();
      return 0;
    }),
};
