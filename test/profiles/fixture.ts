/**
 * Profile fixtures: `device-profiles/fixtures/<profile-id>.yaml` holds a device's register image as
 * it is sent on the wire (register type, address, 16-bit words or bits) and the engineering
 * values (with quality) the profile must decode from it. The words come from the device's
 * documentation, never from our own codec, so a fixture checks the profile and the codec
 * independently. Format: device-profiles/README.md, "Fixtures".
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeBlockResults, registerCount, type PointResult } from '../../drivers/modbus/codec.js';
import { maxSpan, planReads, type ReadBlock } from '../../drivers/modbus/planner.js';
import { builtinProfileDir } from '../../drivers/profiles/load.js';
import type { Profile, ProfilePoint, RegisterType } from '../../drivers/profiles/types.js';
import { formatIssue, type ConfigIssue } from '../../runtime/config/errors.js';
import { parseSource } from '../../runtime/config/yaml-source.js';
import type { PointValue, Quality } from '../../runtime/types.js';

export type WordRun = { register: 'input' | 'holding'; address: number; words: number[] };
export type BitRun = { register: 'coil' | 'discrete'; address: number; bits: boolean[] };
export interface FixtureRead {
  register: RegisterType;
  address: number;
  count: number;
}
export interface Expected {
  value: PointValue;
  quality: Quality;
}

export interface ProfileFixture {
  file: string;
  profile: string;
  source: string;
  registers: (WordRun | BitRun)[];
  /** The requests a full read makes, in order. */
  reads: FixtureRead[];
  /** Every reported point of the profile, by point id. */
  expected: Record<string, Expected>;
}

/** The image as maps `<register>:<address>` -> word or bit. */
export interface RawImage {
  words: Map<string, number>;
  bits: Map<string, boolean>;
}

const REGISTERS: readonly RegisterType[] = ['coil', 'discrete', 'input', 'holding'];
const QUALITIES: readonly Quality[] = ['good', 'stale', 'comm-error', 'out-of-range'];
const key = (register: RegisterType, address: number) => `${register}:${address}`;
const isBitRegister = (r: RegisterType): r is 'coil' | 'discrete' => r === 'coil' || r === 'discrete';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAddress = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
const isRegister = (v: unknown): v is RegisterType => REGISTERS.some((r) => r === v);
const isQuality = (v: unknown): v is Quality => QUALITIES.some((q) => q === v);
const isPointValue = (v: unknown): v is PointValue => v === null || ['number', 'string', 'boolean'].includes(typeof v);

/** Read a fixture file; problems are `file:line /path: message` strings, all at once. */
export function loadFixture(file: string): { fixture?: ProfileFixture; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [`${file}: cannot read the fixture (${err instanceof Error ? err.message : String(err)})`] };
  }
  const source = parseSource(text, file);
  if (source.syntaxIssues.length) return { problems: source.syntaxIssues.map(formatIssue) };
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ file, path, message, ...source.locate(path) });
  const doc = source.value;
  if (!isRecord(doc)) return { problems: [`${file}: expected a mapping with profile, source, registers, reads and expected`] };
  for (const k of Object.keys(doc)) {
    if (!['profile', 'source', 'registers', 'reads', 'expected'].includes(k)) add(`/${k}`, `unknown key '${k}'`);
  }
  if (typeof doc.profile !== 'string') add('/profile', 'expected the profile id');
  if (typeof doc.source !== 'string' || doc.source.length < 10) add('/source', 'expected where the words come from (document, table, example)');

  const registers: (WordRun | BitRun)[] = [];
  if (!Array.isArray(doc.registers) || doc.registers.length === 0) add('/registers', 'expected a list of { register, address, words | bits }');
  else {
    doc.registers.forEach((r: unknown, i) => {
      const at = `/registers/${i}`;
      if (!isRecord(r) || !isRegister(r.register) || !isAddress(r.address)) {
        add(at, `expected { register: ${REGISTERS.join(' | ')}, address: 0..65535, words | bits }`);
        return;
      }
      const { register, address } = r;
      if (isBitRegister(register)) {
        if (!Array.isArray(r.bits) || !r.bits.length || !r.bits.every((b) => typeof b === 'boolean') || 'words' in r) add(at, `expected bits: [true|false, ...] for ${register}`);
        else registers.push({ register, address, bits: r.bits.filter((b) => typeof b === 'boolean') });
      } else if (!Array.isArray(r.words) || !r.words.length || !r.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) || 'bits' in r) {
        add(at, `expected words: [0x0000..0xFFFF, ...] for ${register}`);
      } else registers.push({ register, address, words: r.words.filter((w) => typeof w === 'number') });
    });
  }

  const reads: FixtureRead[] = [];
  if (!Array.isArray(doc.reads) || doc.reads.length === 0) add('/reads', 'expected the list of requests of a full read: { register, address, count }');
  else {
    doc.reads.forEach((r: unknown, i) => {
      if (isRecord(r) && isRegister(r.register) && isAddress(r.address) && typeof r.count === 'number' && Number.isInteger(r.count) && r.count > 0) {
        reads.push({ register: r.register, address: r.address, count: r.count });
      } else add(`/reads/${i}`, 'expected { register, address, count }');
    });
  }

  const expected: Record<string, Expected> = {};
  if (!isRecord(doc.expected)) add('/expected', 'expected a mapping point id -> { value, quality }');
  else {
    for (const [id, e] of Object.entries(doc.expected)) {
      if (isRecord(e) && isPointValue(e.value) && isQuality(e.quality) && Object.keys(e).length === 2) expected[id] = { value: e.value, quality: e.quality };
      else add(`/expected/${id}`, `expected { value: number | string | boolean | null, quality: ${QUALITIES.join(' | ')} }`);
    }
  }
  if (issues.length || typeof doc.profile !== 'string' || typeof doc.source !== 'string') return { problems: issues.map(formatIssue) };
  return { fixture: { file, profile: doc.profile, source: doc.source, registers, reads, expected }, problems: [] };
}

/** Directory of the shipped profiles' fixtures: `<profile-id>.yaml` each. */
export const FIXTURE_DIR = path.join(builtinProfileDir(), 'fixtures');

/** The fixture of a shipped profile; throws with every problem when it is missing or malformed. */
export function builtinFixture(id: string): ProfileFixture {
  const { fixture, problems } = loadFixture(path.join(FIXTURE_DIR, `${id}.yaml`));
  if (!fixture) throw new Error(`fixture of ${id}:\n${problems.join('\n')}`);
  return fixture;
}

/** The fixture's words and bits by address; an address given twice is a problem. */
export function rawImage(fixture: ProfileFixture): { image: RawImage; problems: string[] } {
  const image: RawImage = { words: new Map(), bits: new Map() };
  const problems: string[] = [];
  const put = <T>(map: Map<string, T>, register: RegisterType, address: number, v: T) => {
    const k = key(register, address);
    if (map.has(k)) problems.push(`${register} ${address} is given twice`);
    map.set(k, v);
  };
  for (const run of fixture.registers) {
    if ('bits' in run) run.bits.forEach((b, i) => put(image.bits, run.register, run.address + i, b));
    else run.words.forEach((w, i) => put(image.words, run.register, run.address + i, w));
  }
  return { image, problems };
}

/**
 * What is wrong between a profile and its fixture image: a register a full read decodes that the
 * image does not give, or an image address that is in a prohibited range or neither a point's
 * register nor inside a planned read.
 */
export function coverageProblems(profile: Profile, image: RawImage): string[] {
  const problems: string[] = [];
  const blocks = planReads(profile);
  const has = (r: RegisterType, a: number) => (isBitRegister(r) ? image.bits : image.words).has(key(r, a));
  for (const p of blocks.flatMap((b) => b.points)) {
    for (let a = p.address; a < p.address + registerCount(p); a++) {
      if (!has(p.register, a)) problems.push(`no ${isBitRegister(p.register) ? 'bit' : 'word'} for ${p.register} ${a} (point ${p.id})`);
    }
  }
  const covered = (r: RegisterType, a: number, spans: { register: RegisterType; start: number; end: number }[]) =>
    spans.some((s) => s.register === r && a >= s.start && a <= s.end);
  const pointSpans = profile.points.map((p) => ({ register: p.register, start: p.address, end: p.address + registerCount(p) - 1 }));
  const readSpans = blocks.map((b) => ({ register: b.register, start: b.start, end: b.start + b.count - 1 }));
  const prohibited = profile.limits.prohibited ?? [];
  for (const k of [...image.words.keys(), ...image.bits.keys()]) {
    const [register, addr] = k.split(':');
    const a = Number(addr);
    if (!isRegister(register)) continue;
    if (covered(register, a, prohibited)) problems.push(`${register} ${a} is in a prohibited range`);
    else if (!covered(register, a, pointSpans) && !covered(register, a, readSpans)) problems.push(`${register} ${a} is neither a point's register nor read by the plan`);
  }
  return problems;
}

/** Decode the image through the real path: the planner's reads, answered from the image (unset fillers 0), then the codec. */
export function decodeImage(profile: Profile, image: RawImage): PointResult[] {
  const results = planReads(profile).map((block) => {
    const addrs = Array.from({ length: block.count }, (_, k) => block.start + k);
    return isBitRegister(block.register)
      ? { block, bits: addrs.map((a) => image.bits.get(key(block.register, a)) ?? false) }
      : { block, words: addrs.map((a) => image.words.get(key(block.register, a)) ?? 0) };
  });
  return decodeBlockResults(profile, results, 0);
}

/**
 * Decoded values keyed by point id, in the fixture's terms. An unscaled float32 carries the float
 * nearest to the documented value (230.1 V is sent as 0x4366 0x199A = 230.10000610...): such a
 * value is shown as the documented one when it is exactly `Math.fround` of it.
 */
export function asExpected(decoded: { point: ProfilePoint; value: PointValue; quality: Quality }[], expected: Record<string, Expected>): Record<string, Expected> {
  const out: Record<string, Expected> = {};
  for (const { point, value, quality } of decoded) {
    const want = expected[point.id]?.value;
    const nearestFloat = point.type === 'f32' && typeof value === 'number' && typeof want === 'number' && value === Math.fround(want);
    out[point.id] = { value: nearestFloat ? want : value, quality };
  }
  return out;
}

/** The planned reads in the fixture's `reads` form. */
export function readsOf(blocks: ReadBlock[]): FixtureRead[] {
  return blocks.map((b) => ({ register: b.register, address: b.start, count: b.count }));
}

/** Limits a planned read breaks: size, filler runs, prohibited addresses, mixed register types. */
export function limitProblems(profile: Profile, blocks: ReadBlock[]): string[] {
  const problems: string[] = [];
  const { limits } = profile;
  for (const b of blocks) {
    const at = `${b.register} ${b.start}+${b.count}`;
    if (b.count > maxSpan(limits, b.register)) problems.push(`${at} is larger than ${maxSpan(limits, b.register)}`);
    const end = b.start + b.count - 1;
    for (const r of limits.prohibited ?? []) {
      if (r.register === b.register && r.start <= end && r.end >= b.start) problems.push(`${at} reads prohibited ${r.start}..${r.end}`);
    }
    if (b.points.some((p) => p.register !== b.register)) problems.push(`${at} mixes register types`);
    const used = new Set(b.points.flatMap((p) => Array.from({ length: registerCount(p) }, (_, k) => p.address + k)));
    let run = 0;
    for (let a = b.start; a <= end; a++) {
      run = used.has(a) ? 0 : run + 1;
      if (run > limits.maxFillRegisters) {
        problems.push(`${at} has more than ${limits.maxFillRegisters} unused registers in a row (at ${a})`);
        break;
      }
    }
  }
  return problems;
}
