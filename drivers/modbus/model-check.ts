/**
 * Model check: a profile's `expect` probes (registers the device must hold for the map to apply,
 * e.g. the SunSpec model id at its fixed address) compared with what the device holds.
 */
import type { ExpectProbe } from '../profiles/types.js';
import type { BlockResult } from './codec.js';

/** Words of `count` registers at `address`, when known. */
export type WordLookup = (register: ExpectProbe['register'], address: number, count: number) => number[] | undefined;

export const probeWords = (p: ExpectProbe): number[] => (Array.isArray(p.value) ? p.value : [p.value]);

const show = (words: number[]) => words.map((w) => (w > 255 ? `0x${w.toString(16).toUpperCase().padStart(4, '0')}` : String(w))).join(' ');

/** The error of a probe that does not hold: names what was expected, where, and what was found. */
export function mismatchMessage(p: ExpectProbe, found: number[]): string {
  const what = p.description ? `${p.description} (${show(probeWords(p))})` : show(probeWords(p));
  return `model check failed: expected ${what} at ${p.register} ${p.address}, found ${show(found)}: the device is not the one this profile describes, its values are not trusted`;
}

/** The first probe that does not hold among those `lookup` knows, and the probes it does not know. */
export function checkProbes(probes: ExpectProbe[], lookup: WordLookup): { problem?: string; unchecked: ExpectProbe[] } {
  const unchecked: ExpectProbe[] = [];
  for (const p of probes) {
    const want = probeWords(p);
    const found = lookup(p.register, p.address, want.length);
    if (!found) {
      unchecked.push(p);
      continue;
    }
    if (found.some((w, i) => w !== want[i])) return { problem: mismatchMessage(p, found), unchecked };
  }
  return { unchecked };
}

/** Look words up in the blocks a poll read (only blocks that were read, only registers they cover). */
export function blockLookup(results: BlockResult[]): WordLookup {
  return (register, address, count) => {
    for (const r of results) {
      const b = r.block;
      if (b.register !== register || !r.words || address < b.start || address + count > b.start + b.count) continue;
      return r.words.slice(address - b.start, address - b.start + count);
    }
    return undefined;
  };
}
