/**
 * A simulated mixed RS-485 line: Modbus devices by unit id and DL/T 645 meters by 12-digit
 * address, from profiles (`PROFILE@UNIT` / `PROFILE@ADDRESS`), served by one LineServer on a pty
 * or a TCP port (like a TCP serial converter). Used by `carbonedge simulate --device` and tests.
 */
import { isDlt645Profile, type AnyProfile } from '../../drivers/profiles/types.js';
import { fixtureValues } from './fixture-values.js';
import { Dlt645Server, meterValuesFor, type SimulatedMeter } from './dlt645-server.js';
import { LineServer } from './line-server.js';
import { SingleSimulatedDevice } from './site.js';

/** One device of the line: a profile and a unit id (Modbus) or a 12-digit address (DL/T 645). */
export interface LineDeviceSpec {
  profile: string;
  /** Modbus unit id 1..247, or a DL/T 645 meter address (12 digits). */
  at: number | string;
}

/** Parse `PROFILE@UNIT` or `PROFILE@ADDRESS`; a message saying what was expected otherwise. */
export function parseLineDevice(spec: string): LineDeviceSpec | string {
  const m = /^([A-Za-z0-9._-]+)@(\d+)$/.exec(spec);
  if (!m) return `expected PROFILE@UNIT (1..247) or PROFILE@ADDRESS (12 digits), got '${spec}'`;
  const at = m[2]!;
  if (at.length === 12) return { profile: m[1]!, at };
  const unit = Number(at);
  if (unit < 1 || unit > 247) return `unit id ${at} of '${spec}' is not 1..247 (a DL/T 645 address has 12 digits)`;
  return { profile: m[1]!, at: unit };
}

export interface SimulatedLine {
  server: LineServer;
  modbus: SingleSimulatedDevice[];
  dlt645: Dlt645Server[];
  /** One line per device: `unit 1: chint-dtsu666`, `address 123456789012: dlt645-2007`. */
  described: string[];
  start(): void;
  stop(): void;
}

/** Build the line's simulators (not yet listening). Throws a message for a spec that does not fit its profile. */
export function buildLine(specs: LineDeviceSpec[], profiles: ReadonlyMap<string, AnyProfile>, opts: { generate?: boolean; seed?: number; speed?: number } = {}): SimulatedLine {
  const modbus: SingleSimulatedDevice[] = [];
  const meters = new Map<string, SimulatedMeter[]>();
  const described: string[] = [];
  for (const s of specs) {
    const profile = profiles.get(s.profile);
    if (!profile) throw new Error(`unknown profile '${s.profile}' (known: ${[...profiles.keys()].sort().join(', ')})`);
    if (isDlt645Profile(profile)) {
      if (typeof s.at !== 'string') throw new Error(`profile '${profile.id}' is a DL/T 645 profile: give the meter's 12-digit address (${profile.id}@123456789012)`);
      const list = meters.get(profile.id) ?? [];
      list.push({ address: s.at, values: meterValuesFor(profile, [...meters.values()].flat().length) });
      meters.set(profile.id, list);
      described.push(`address ${s.at}: ${profile.id}`);
      continue;
    }
    if (typeof s.at !== 'number') throw new Error(`profile '${profile.id}' is a Modbus profile: give a unit id 1..247 (${profile.id}@1)`);
    const base = fixtureValues(profile.id);
    modbus.push(new SingleSimulatedDevice({ profile, unitId: s.at, generate: opts.generate, site: { seed: (opts.seed ?? 1) + modbus.length }, speed: opts.speed, ...(base ? { base } : {}) }));
    described.push(`unit ${s.at}: ${profile.id}`);
  }
  const dlt645 = [...meters].map(([id, list]) => {
    const profile = profiles.get(id);
    if (!profile || !isDlt645Profile(profile)) throw new Error(`profile ${id} is not a DL/T 645 profile`);
    return new Dlt645Server({ profile, meters: list });
  });
  const server = new LineServer({ modbus: modbus.map((d) => d.device), dlt645 });
  return {
    server,
    modbus,
    dlt645,
    described,
    start: () => modbus.forEach((d) => d.start()),
    stop: () => modbus.forEach((d) => d.stop()),
  };
}
