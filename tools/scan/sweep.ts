/**
 * `carbonedge scan`: what is on a bus, with read requests only (FC03 / FC04 and DL/T 645 11h /
 * 13h; nothing here can write). Sweep order, for each line setting (serial: every --bauds x
 * --parities pair, in the order given; TCP: one):
 *   1. every unit id of --units in ascending order: SunSpec discovery (holding 40000, 0, 50000,
 *      2 registers each, then the model chain and model 1); a unit that does not answer the first
 *      read at all (timeout, or gateway exception 0A/0B) is empty and costs one timeout; a unit
 *      that answers is fingerprinted with the library's `identify` probes;
 *   2. DL/T 645 (serial lines and TCP serial converters, not Modbus TCP): one broadcast
 *      read-address (13h to AAAAAAAAAAAA, answered when one meter is on the line), then each
 *      --address given, read with 11h (DI 00000000); an error reply also proves a meter.
 */
import { Dlt645Bus } from '../../drivers/dlt645/bus.js';
import type { Dlt645Protocol } from '../../drivers/dlt645/variant.js';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { ModbusError } from '../../drivers/modbus/errors.js';
import { isDlt645Profile, type AnyProfile, type Profile } from '../../drivers/profiles/types.js';
import { discoverSunSpec, SunSpecDiscoveryError } from '../../drivers/sunspec/discover.js';
import type { BusConfig, Dlt645BusConfig, Parity } from '../../runtime/config/types.js';
import { fingerprint, type WordReader } from './fingerprint.js';

export type ScanTarget = { type: 'tcp'; host: string; port: number } | { type: 'rtu-over-tcp'; host: string; port: number } | { type: 'rtu'; path: string };

export interface ScanOptions {
  target: ScanTarget;
  /** Unit ids in sweep order. */
  units: number[];
  /** Serial only: every pair is swept. */
  bauds: number[];
  parities: Parity[];
  /** Per-request timeout, ms: what an empty unit costs. */
  timeoutMs: number;
  /** DL/T 645 meter addresses to probe one by one (besides the broadcast). */
  addresses: string[];
  profiles: ReadonlyMap<string, AnyProfile>;
  onProgress?(done: number, total: number, what: string): void;
}

export interface FoundSunSpec {
  base: number;
  manufacturer?: string;
  model?: string;
  version?: string;
  serial?: string;
  /** Model ids of the chain, in order. */
  models: number[];
}

export interface FoundUnit {
  unit: number;
  sunspec?: FoundSunSpec;
  /** Library profiles whose identify probes all hold (best first). */
  profiles: string[];
}

export interface FoundMeter {
  address: string;
  /** How it was found: the broadcast read-address, or probing the given address. */
  via: '13h' | 'address';
  /** The edition that answered (and the built-in profile of that name). */
  protocol: Dlt645Protocol;
}

/** One line setting swept and what answered on it. */
export interface ScanLine {
  type: ScanTarget['type'];
  host?: string;
  port?: number;
  path?: string;
  baudRate?: number;
  parity?: Parity;
  units: FoundUnit[];
  meters: FoundMeter[];
}

const noDevice = (err: unknown) => err instanceof ModbusError && !err.deviceAnswered && err.kind !== 'connection' && err.kind !== 'unavailable';

/** Probe one unit: undefined when nobody answers. Connection failures propagate (the line is unusable). */
async function probeUnit(bus: ModbusBus, unit: number, timeoutMs: number, candidates: readonly Profile[]): Promise<FoundUnit | undefined> {
  const read: WordReader = async (register, address, count) => (await bus.read(unit, register, address, count, { timeoutMs })) as number[];
  let sunspec: FoundSunSpec | undefined;
  try {
    const chain = await discoverSunSpec((address, count) => read('holding', address, count));
    sunspec = { base: chain.base, ...chain.common, models: chain.models.map((m) => m.id) };
  } catch (err) {
    if (noDevice(err)) return undefined;
    if (!(err instanceof SunSpecDiscoveryError) && !(err instanceof ModbusError && err.deviceAnswered)) throw err;
  }
  const matches = await fingerprint(candidates, read);
  return { unit, ...(sunspec ? { sunspec } : {}), profiles: matches.map((p) => p.id) };
}

async function probeMeters(cfg: Dlt645BusConfig, opts: ScanOptions, step: (what: string) => void): Promise<FoundMeter[]> {
  const bus = new Dlt645Bus(cfg, { connectTimeoutMs: Math.max(1000, opts.timeoutMs) });
  const found: FoundMeter[] = [];
  try {
    step('DL/T 645 read-address (13h)');
    const broadcast = await bus.readAddress({ timeoutMs: opts.timeoutMs, retries: 0 }).catch(() => undefined);
    if (broadcast) found.push({ address: broadcast, via: '13h', protocol: 'dlt645-2007' });
    for (const address of opts.addresses) {
      step(`DL/T 645 meter ${address}`);
      if (found.some((m) => m.address === address)) continue;
      const protocol = await probeAddress(bus, address, opts.timeoutMs);
      if (protocol) found.push({ address, via: 'address', protocol });
    }
  } finally {
    await bus.close();
  }
  return found;
}

/**
 * Which edition the meter at `address` speaks: a 2007 read (00000000), then a 1997 read of 9010.
 * A normal reply wins over an error reply (a meter may answer the other edition's function code
 * with an error); 2007 first.
 */
async function probeAddress(bus: Dlt645Bus, address: string, timeoutMs: number): Promise<Dlt645Protocol | undefined> {
  const ask = (protocol: Dlt645Protocol, di: string) =>
    bus.readData(address, di, { timeoutMs, retries: 0, protocol }).then(
      () => 'data' as const,
      (err: { kind?: string }) => (err.kind === 'error-reply' ? ('error' as const) : undefined),
    );
  const v2007 = await ask('dlt645-2007', '00000000');
  if (v2007 === 'data') return 'dlt645-2007';
  const v1997 = await ask('dlt645-1997', '9010');
  if (v1997 === 'data') return 'dlt645-1997';
  return v2007 ? 'dlt645-2007' : v1997 ? 'dlt645-1997' : undefined;
}

/** The line settings to sweep, in order. */
function settings(opts: ScanOptions): { modbus: BusConfig; dlt645?: Dlt645BusConfig; line: Omit<ScanLine, 'units' | 'meters'> }[] {
  const t = opts.target;
  const common = { id: 'scan', timeoutMs: opts.timeoutMs };
  if (t.type === 'tcp') return [{ modbus: { ...common, type: 'tcp', host: t.host, port: t.port }, line: { type: 'tcp', host: t.host, port: t.port } }];
  if (t.type === 'rtu-over-tcp') {
    return [{ modbus: { ...common, type: 'rtu-over-tcp', host: t.host, port: t.port }, dlt645: { ...common, type: 'dlt645-tcp', host: t.host, port: t.port }, line: { type: 'rtu-over-tcp', host: t.host, port: t.port } }];
  }
  const path = t.path;
  return opts.bauds.flatMap((baudRate) =>
    opts.parities.map((parity) => ({
      modbus: { ...common, type: 'rtu' as const, path, baudRate, parity },
      dlt645: { ...common, type: 'dlt645' as const, path, baudRate, parity },
      line: { type: 'rtu' as const, path, baudRate, parity },
    })),
  );
}

/** Sweep the target; lines on which nothing answered are left out. */
export async function scan(opts: ScanOptions): Promise<ScanLine[]> {
  const candidates = [...opts.profiles.values()].filter((p): p is Profile => !isDlt645Profile(p) && !!p.identify?.length);
  const plan = settings(opts);
  const total = plan.reduce((n, s) => n + opts.units.length + (s.dlt645 ? 1 + opts.addresses.length : 0), 0);
  let done = 0;
  const lines: ScanLine[] = [];
  for (const s of plan) {
    const where = s.line.baudRate ? ` at ${s.line.baudRate} ${s.line.parity}` : '';
    const step = (what: string) => opts.onProgress?.(done++, total, `${what}${where}`);
    const units: FoundUnit[] = [];
    const bus = new ModbusBus(s.modbus, { connectTimeoutMs: Math.max(1000, opts.timeoutMs) });
    try {
      for (const unit of opts.units) {
        step(`unit ${unit}`);
        const found = await probeUnit(bus, unit, opts.timeoutMs, candidates);
        if (found) units.push(found);
      }
    } finally {
      await bus.close();
    }
    const meters = s.dlt645 ? await probeMeters(s.dlt645, opts, step) : [];
    if (units.length || meters.length) lines.push({ ...s.line, units, meters });
  }
  opts.onProgress?.(total, total, 'done');
  return lines;
}
