/**
 * Request planner: coalesce a device's points into the fewest Modbus reads its limits allow.
 *
 * Constraints of one read (per register type; coils, discrete inputs, input and holding
 * registers are never mixed):
 *  - it spans at most `limits.maxRegistersPerRequest` registers (for coil/discrete: at most
 *    `limits.maxBitsPerRequest` bits, default and Modbus maximum 2000);
 *  - every run of unused (filler) registers inside it is at most `limits.maxFillRegisters` long;
 *  - it never includes an address of a `limits.prohibited` range of that register type.
 *
 * Points whose registers overlap (bit points sharing a register, or views of the same register)
 * are first merged into one "atom". Atoms are disjoint and sorted, so the set of atoms a read
 * covers is a contiguous run, and a sub-run of a feasible run is feasible (smaller span, a subset
 * of its gaps, a subset of its addresses). For such hereditary constraints greedy (extend the
 * current read while still feasible) is optimal. Proof: let greedy's k-th read end at atom g_k and
 * any valid plan's k-th read end at o_k. g_1 >= o_1 because 0..o_1 is feasible. If g_{k-1} >= o_{k-1},
 * greedy's k-th read starts at s = g_{k-1}+1; either s > o_k, or s..o_k is a sub-run of the
 * feasible o_{k-1}+1..o_k and greedy extends at least to o_k. So g_k >= o_k for every k and
 * greedy never needs more reads than any other plan. (The loader rejects points that partially
 * overlap, so merging only joins views of the same registers, which any plan reads together.)
 * `minimumRequestCount` computes the minimum independently by dynamic programming over every
 * partition, and test/planner checks both against an exhaustive set cover on random profiles.
 */
import type { Profile, ProfileLimits, ProfilePoint, ProhibitedRange, RegisterType } from '../profiles/types.js';
import { registerCount, type ReadBlock } from './codec.js';

export type { ReadBlock } from './codec.js';


/** Modbus maximum bits per FC01/FC02 read. */
export const MAX_BITS_PER_REQUEST = 2000;
/** Modbus maximum registers per FC03/FC04 read. */
export const MAX_REGISTERS_PER_REQUEST = 125;

const REGISTER_ORDER: RegisterType[] = ['coil', 'discrete', 'input', 'holding'];

interface Atom {
  start: number;
  /** Inclusive. */
  end: number;
  points: ProfilePoint[];
}

/** The largest read allowed for a register type. */
export function maxSpan(limits: ProfileLimits, register: RegisterType): number {
  if (register === 'coil' || register === 'discrete') {
    return Math.min(limits.maxBitsPerRequest ?? MAX_BITS_PER_REQUEST, MAX_BITS_PER_REQUEST);
  }
  return Math.min(limits.maxRegistersPerRequest, MAX_REGISTERS_PER_REQUEST);
}

/** The points a read needs: the given points (default: every polled point) plus their scale-factor sources. */
export function pointsToRead(profile: Profile, points?: ProfilePoint[]): ProfilePoint[] {
  return [...withHelpers(profile, points).chosen.values()];
}

function withHelpers(profile: Profile, points?: ProfilePoint[]): { chosen: Map<string, ProfilePoint>; helpers: Set<string> } {
  const base = points ?? profile.points.filter((p) => p.poll !== false);
  const byId = new Map(profile.points.map((p) => [p.id, p]));
  const chosen = new Map<string, ProfilePoint>();
  const helpers = new Set<string>();
  for (const p of base) chosen.set(p.id, p);
  for (const p of base) {
    const sf = p.scaleFactorPoint !== undefined ? byId.get(p.scaleFactorPoint) : undefined;
    if (sf && !chosen.has(sf.id)) {
      chosen.set(sf.id, sf);
      helpers.add(sf.id);
    }
  }
  return { chosen, helpers };
}

function atomsOf(points: ProfilePoint[]): Atom[] {
  const sorted = points
    .map((p) => ({ start: p.address, end: p.address + registerCount(p) - 1, p }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const atoms: Atom[] = [];
  for (const s of sorted) {
    const last = atoms[atoms.length - 1];
    if (last && s.start <= last.end) {
      last.end = Math.max(last.end, s.end);
      last.points.push(s.p);
    } else {
      atoms.push({ start: s.start, end: s.end, points: [s.p] });
    }
  }
  return atoms;
}

function crossesProhibited(prohibited: ProhibitedRange[], from: number, to: number): boolean {
  return prohibited.some((r) => r.start <= to && r.end >= from);
}

/** Whether atoms[i..j] (inclusive) can be one read. */
function feasible(atoms: Atom[], i: number, j: number, max: number, fill: number, prohibited: ProhibitedRange[]): boolean {
  const first = atoms[i]!;
  const last = atoms[j]!;
  if (last.end - first.start + 1 > max) return false;
  for (let k = i + 1; k <= j; k++) {
    const gapFrom = atoms[k - 1]!.end + 1;
    const gapTo = atoms[k]!.start - 1;
    if (gapTo >= gapFrom) {
      if (gapTo - gapFrom + 1 > fill) return false;
      if (crossesProhibited(prohibited, gapFrom, gapTo)) return false;
    }
  }
  return !crossesProhibited(prohibited, first.start, last.end);
}

function groupByRegister(points: ProfilePoint[]): Map<RegisterType, ProfilePoint[]> {
  const groups = new Map<RegisterType, ProfilePoint[]>();
  for (const p of points) {
    const g = groups.get(p.register) ?? [];
    g.push(p);
    groups.set(p.register, g);
  }
  return groups;
}

/**
 * Plan the reads of a device: the fewest requests covering `points` (default: every polled point
 * and the scale factors they need) within the profile's limits. Throws if a single point cannot
 * be read at all (larger than a request, or inside a prohibited range: the loader rejects both).
 */
export function planReads(profile: Profile, points?: ProfilePoint[]): ReadBlock[] {
  const limits = profile.limits;
  const blocks: ReadBlock[] = [];
  const { chosen, helpers } = withHelpers(profile, points);
  const groups = groupByRegister([...chosen.values()]);
  for (const register of REGISTER_ORDER) {
    const group = groups.get(register);
    if (!group?.length) continue;
    const max = maxSpan(limits, register);
    const fill = Math.max(0, limits.maxFillRegisters);
    const prohibited = (limits.prohibited ?? []).filter((r) => r.register === register);
    const atoms = atomsOf(group);
    let i = 0;
    while (i < atoms.length) {
      if (!feasible(atoms, i, i, max, fill, prohibited)) {
        const a = atoms[i]!;
        throw new RangeError(
          `profile '${profile.id}': ${register} ${a.start}..${a.end} (${a.points.map((p) => p.id).join(', ')}) cannot be read in one request within the limits`,
        );
      }
      let j = i;
      while (j + 1 < atoms.length && feasible(atoms, i, j + 1, max, fill, prohibited)) j++;
      const start = atoms[i]!.start;
      const blockPoints = atoms.slice(i, j + 1).flatMap((a) => a.points);
      const blockHelpers = blockPoints.filter((p) => helpers.has(p.id)).map((p) => p.id);
      blocks.push({
        register,
        start,
        count: atoms[j]!.end - start + 1,
        points: blockPoints,
        ...(blockHelpers.length ? { helpers: blockHelpers } : {}),
      });
      i = j + 1;
    }
  }
  return blocks;
}

/**
 * The minimum number of requests for the same points and limits, by dynamic programming over
 * every partition of the sorted atoms into reads (O(n^2) feasibility checks). Used by the
 * benchmark and tests as an independent check of planReads.
 */
export function minimumRequestCount(profile: Profile, points?: ProfilePoint[]): number {
  const limits = profile.limits;
  let total = 0;
  for (const [register, group] of groupByRegister(pointsToRead(profile, points))) {
    const max = maxSpan(limits, register);
    const fill = Math.max(0, limits.maxFillRegisters);
    const prohibited = (limits.prohibited ?? []).filter((r) => r.register === register);
    const atoms = atomsOf(group);
    const n = atoms.length;
    // best[j] = fewest reads covering atoms[0..j-1].
    const best = new Array<number>(n + 1).fill(Infinity);
    best[0] = 0;
    for (let j = 1; j <= n; j++) {
      for (let i = j - 1; i >= 0; i--) {
        // Once atoms[i..j-1] is infeasible, every longer run ending at j-1 is infeasible too.
        if (!feasible(atoms, i, j - 1, max, fill, prohibited)) break;
        if (best[i]! + 1 < best[j]!) best[j] = best[i]! + 1;
      }
    }
    if (!Number.isFinite(best[n]!)) throw new RangeError(`profile '${profile.id}': some ${register} point cannot be read within the limits`);
    total += best[n]!;
  }
  return total;
}

/** Requests a driver without coalescing needs: one per point (ThingsBoard, node-red-contrib-modbus). */
export function onePerPointRequestCount(profile: Profile, points?: ProfilePoint[]): number {
  return pointsToRead(profile, points).length;
}
