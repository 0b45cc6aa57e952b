/**
 * Fingerprint a Modbus unit against the library: each profile's `identify` probes are read (never
 * written) and must all hold. A point probe reads that listed point and checks min/max/equals on
 * its decoded value; a register probe compares raw words. A profile without `identify` is never
 * claimed. Probe reads are cached per unit: two profiles probing one register cost one request.
 */
import { decodeRaw, registerCount, toEngineering } from '../../drivers/modbus/codec.js';
import type { IdentifyProbe, Profile } from '../../drivers/profiles/types.js';

/** Read `count` words of a register type at a unit (throws when the device answers an exception or not at all). */
export type WordReader = (register: 'holding' | 'input', address: number, count: number) => Promise<number[]>;

/** Why a probe does not hold, or undefined when it does. */
async function probeProblem(profile: Profile, probe: IdentifyProbe, read: WordReader): Promise<string | undefined> {
  if ('register' in probe) {
    const want = Array.isArray(probe.value) ? probe.value : [probe.value];
    const got = await read(probe.register, probe.address, want.length);
    return want.every((w, i) => got[i] === w) ? undefined : `${probe.register} ${probe.address}: [${got.join(', ')}], expected [${want.join(', ')}]`;
  }
  const p = profile.points.find((q) => q.id === probe.point);
  if (!p) return `no point '${probe.point}'`;
  // Only word registers with a fixed scale can be probed (no coils, no SunSpec scale-factor points).
  if ((p.register !== 'holding' && p.register !== 'input') || p.scaleFactorPoint !== undefined) return `point '${p.id}' cannot be probed`;
  const { value } = toEngineering(p, decodeRaw(p, await read(p.register, p.address, registerCount(p))));
  if (value === null) return `${p.id}: not available`;
  if (probe.equals !== undefined) return value === probe.equals ? undefined : `${p.id} = ${String(value)}, expected ${String(probe.equals)}`;
  if (typeof value !== 'number') return `${p.id} = ${String(value)}, expected a number`;
  if ((probe.min !== undefined && value < probe.min) || (probe.max !== undefined && value > probe.max)) return `${p.id} = ${value}, expected ${probe.min ?? '-inf'}..${probe.max ?? '+inf'}`;
  return undefined;
}

/** The profiles (with `identify`) whose probes all hold at this unit, in library order. */
export async function fingerprint(profiles: readonly Profile[], read: WordReader): Promise<Profile[]> {
  const cache = new Map<string, Promise<number[]>>();
  const cached: WordReader = (register, address, count) => {
    const key = `${register}:${address}:${count}`;
    let r = cache.get(key);
    if (!r) cache.set(key, (r = read(register, address, count)));
    return r;
  };
  const matches: Profile[] = [];
  for (const profile of profiles) {
    if (!profile.identify?.length) continue;
    let ok = true;
    for (const probe of profile.identify) {
      const problem = await probeProblem(profile, probe, cached).catch((err: Error) => err.message);
      if (problem !== undefined) {
        ok = false;
        break;
      }
    }
    if (ok) matches.push(profile);
  }
  return matches;
}
