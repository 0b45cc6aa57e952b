/**
 * Modbus value codec: registers <-> raw values <-> engineering values, driven by profile points.
 *
 * Word and byte order (a 32-bit value whose big-endian bytes are A B C D, A most significant):
 *
 *   | name | wordOrder | byteOrder | registers on the wire |
 *   |------|-----------|-----------|-----------------------|
 *   | ABCD | big       | big       | [AB, CD]              |
 *   | CDAB | little    | big       | [CD, AB]              |
 *   | BADC | big       | little    | [BA, DC]              |
 *   | DCBA | little    | little    | [DC, BA]              |
 *
 * 64-bit values extend the same rule to four words (`little` word order = least significant word
 * first). Strings use byte order only (two characters per register, first character in the high
 * byte for `big`); word order does not apply to them.
 *
 * Engineering value = raw * 10^sf * scale + offset, where `sf` is the value of the point's
 * `scaleFactorPoint` (SunSpec), then checked against sentinels (raw "not implemented" patterns),
 * NaN/Infinity and the point's plausible range: its min/max, else the default range of its unit
 * (drivers/profiles/plausible-ranges.ts). 64-bit integers are decoded as bigint and converted to number only for the
 * engineering value.
 */
import type { PointValue, Quality } from '../../runtime/types.js';
import type { DataType, Profile, ProfilePoint, RegisterType } from '../profiles/types.js';
import { plausibleBounds, type RangeBound } from '../profiles/plausible-ranges.js';

/** One read request of a plan (drivers/modbus/planner.ts) and the points it decodes. */
export interface ReadBlock {
  register: RegisterType;
  /** First address read (zero-based protocol address). */
  start: number;
  /** Registers (or bits) read. */
  count: number;
  /** Points decoded from this read, in address order. */
  points: ProfilePoint[];
  /**
   * Ids of points in `points` that were not asked for and are read only as scale-factor
   * sources of other points; decodeBlockResults does not report them. Absent when none.
   */
  helpers?: string[];
}

export type RawValue = number | bigint | string;

export interface EngineeringResult {
  value: PointValue;
  quality: Quality;
  error?: string;
}

export interface BlockResult {
  block: ReadBlock;
  /** Registers read (holding/input blocks). */
  words?: number[];
  /** Bits read (coil/discrete blocks). */
  bits?: boolean[];
  /** Why the block could not be read (timeout, exception 02, ...): its points become comm-error. */
  error?: string;
}

export interface PointResult {
  point: ProfilePoint;
  value: PointValue;
  quality: Quality;
  error?: string;
  /** When the value was read (the `ts` passed to decodeBlockResults). */
  ts: number;
}

const WIDTH: Record<DataType, number> = {
  u16: 1, i16: 1, bit: 1, u32: 2, i32: 2, f32: 2, u64: 4, i64: 4, f64: 4, string: 0,
};

/** Registers (or bits, for coil/discrete) a point occupies. */
export function registerCount(p: Pick<ProfilePoint, 'type' | 'length' | 'register'>): number {
  if (p.register === 'coil' || p.register === 'discrete') return 1;
  if (p.type === 'string') return p.length ?? 1;
  return WIDTH[p.type];
}

const swap16 = (w: number) => ((w & 0xff) << 8) | ((w >> 8) & 0xff);

/** Registers as read -> registers in canonical big-endian order (most significant word first). */
function toCanonical(p: ProfilePoint, words: number[]): number[] {
  let out = words.map((w) => w & 0xffff);
  if (p.byteOrder === 'little') out = out.map(swap16);
  if (p.wordOrder === 'little' && p.type !== 'string') out = out.reverse();
  return out;
}

/** Canonical big-endian words -> registers as the device lays them out (the inverse). */
function fromCanonical(p: ProfilePoint, words: number[]): number[] {
  let out = words.slice();
  if (p.wordOrder === 'little' && p.type !== 'string') out = out.reverse();
  if (p.byteOrder === 'little') out = out.map(swap16);
  return out;
}

function wordsToBytes(words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 2);
  words.forEach((w, i) => {
    b[2 * i] = (w >> 8) & 0xff;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

function bytesToWords(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push((b[i]! << 8) | b[i + 1]!);
  return out;
}

function isBitPoint(p: ProfilePoint): boolean {
  return p.type === 'bit' || p.register === 'coil' || p.register === 'discrete';
}

/**
 * Decode the registers of one point (exactly registerCount(p) words, or one 0/1 value for a coil
 * or discrete input) into its raw value: number for 16/32-bit and floats, bigint for 64-bit
 * integers, string for strings, 0/1 for bits.
 */
export function decodeRaw(p: ProfilePoint, words: number[]): RawValue {
  const n = registerCount(p);
  if (words.length < n) throw new RangeError(`point '${p.id}' needs ${n} register(s), got ${words.length}`);
  if (p.register === 'coil' || p.register === 'discrete') return words[0] ? 1 : 0;
  if (p.type === 'bit') return (words[0]! >> (p.bit ?? 0)) & 1;
  const w = toCanonical(p, words.slice(0, n));
  const bytes = wordsToBytes(w);
  const dv = new DataView(bytes.buffer);
  switch (p.type) {
    case 'u16': return dv.getUint16(0);
    case 'i16': return dv.getInt16(0);
    case 'u32': return dv.getUint32(0);
    case 'i32': return dv.getInt32(0);
    case 'f32': return dv.getFloat32(0);
    case 'u64': return dv.getBigUint64(0);
    case 'i64': return dv.getBigInt64(0);
    case 'f64': return dv.getFloat64(0);
    case 'string': {
      let end = bytes.length;
      const nul = bytes.indexOf(0);
      if (nul >= 0) end = nul;
      return Buffer.from(bytes.subarray(0, end)).toString('latin1').replace(/[\s]+$/, '');
    }
  }
  throw new TypeError(`point '${p.id}': unknown type '${String(p.type)}'`);
}

const INT_RANGE: Partial<Record<DataType, [bigint, bigint]>> = {
  u16: [0n, 0xffffn],
  i16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffffffffn],
  i32: [-0x80000000n, 0x7fffffffn],
  u64: [0n, 0xffffffffffffffffn],
  i64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

/** Encode a raw value into the registers a device expects (inverse of decodeRaw). */
export function encodeRaw(p: ProfilePoint, raw: RawValue): number[] {
  if (isBitPoint(p)) {
    const on = typeof raw === 'string' ? raw !== '' && raw !== '0' : Number(raw) !== 0;
    return [on ? 1 : 0];
  }
  const n = registerCount(p);
  const bytes = new Uint8Array(n * 2);
  const dv = new DataView(bytes.buffer);
  if (p.type === 'string') {
    const s = Buffer.from(String(raw), 'latin1');
    if (s.length > bytes.length) throw new RangeError(`point '${p.id}': '${String(raw)}' is longer than ${bytes.length} characters`);
    bytes.set(s);
  } else if (p.type === 'f32' || p.type === 'f64') {
    const v = Number(raw);
    if (p.type === 'f32') dv.setFloat32(0, v);
    else dv.setFloat64(0, v);
  } else {
    if (typeof raw === 'string' || (typeof raw === 'number' && !Number.isInteger(raw))) {
      throw new RangeError(`point '${p.id}': ${p.type} needs an integer, got ${String(raw)}`);
    }
    const v = BigInt(raw);
    const [lo, hi] = INT_RANGE[p.type]!;
    if (v < lo || v > hi) throw new RangeError(`point '${p.id}': ${String(raw)} does not fit in ${p.type} (${lo}..${hi})`);
    switch (p.type) {
      case 'u16': dv.setUint16(0, Number(v)); break;
      case 'i16': dv.setInt16(0, Number(v)); break;
      case 'u32': dv.setUint32(0, Number(v)); break;
      case 'i32': dv.setInt32(0, Number(v)); break;
      case 'u64': dv.setBigUint64(0, v); break;
      case 'i64': dv.setBigInt64(0, v); break;
    }
  }
  return fromCanonical(p, bytesToWords(bytes));
}

/** The unsigned bit pattern of a raw value, for comparing with sentinels such as 0x8000. */
function rawPattern(p: ProfilePoint, raw: RawValue): bigint | undefined {
  if (typeof raw === 'string') return undefined;
  const bytes = new Uint8Array(8);
  const dv = new DataView(bytes.buffer);
  switch (p.type) {
    case 'i16': case 'u16': dv.setUint16(0, Number(raw) & 0xffff); return BigInt(dv.getUint16(0));
    case 'i32': case 'u32': dv.setUint32(0, Number(raw) >>> 0); return BigInt(dv.getUint32(0));
    case 'f32': dv.setFloat32(0, Number(raw)); return BigInt(dv.getUint32(0));
    case 'f64': dv.setFloat64(0, Number(raw)); return dv.getBigUint64(0);
    case 'i64': case 'u64': return BigInt.asUintN(64, BigInt(raw));
    default: return BigInt(Number(raw));
  }
}

/** Whether a raw value is one of the point's "not implemented" sentinels. */
export function isSentinel(p: ProfilePoint, raw: RawValue): boolean {
  if (!p.sentinels?.length || typeof raw === 'string') return false;
  const pattern = rawPattern(p, raw);
  for (const s of p.sentinels) {
    if (typeof raw === 'number' && s === raw) return true;
    if (typeof raw === 'bigint' && Number.isInteger(s) && BigInt(s) === raw) return true;
    if (pattern !== undefined && Number.isInteger(s) && s >= 0 && BigInt(s) === pattern) return true;
  }
  return false;
}

/** Remove binary floating-point noise from a scaled value (2305 * 0.1 = 230.50000000000003). */
const tidy = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(15)) : v);

/** x * 10^exp; for negative exponents divide (10^-1 is inexact, 2305 / 10 is exactly 230.5). */
function applyScale(x: number, exp: number): number {
  return exp >= 0 ? x * 10 ** exp : x / 10 ** -exp;
}

/**
 * Raw value -> engineering value with quality. `sfExp` is the (already decoded) value of the
 * point's scale-factor register, when it has one.
 */
export function toEngineering(p: ProfilePoint, raw: RawValue, sfExp?: number): EngineeringResult {
  if (isSentinel(p, raw)) return { value: null, quality: 'out-of-range', error: 'not implemented' };
  if (typeof raw === 'string') return { value: raw, quality: 'good' };
  if (isBitPoint(p)) return { value: Number(raw) !== 0, quality: 'good' };
  let v = typeof raw === 'bigint' ? Number(raw) : raw;
  if (Number.isNaN(v)) return { value: null, quality: 'out-of-range', error: 'not a number (NaN)' };
  if (!Number.isFinite(v)) return { value: null, quality: 'out-of-range', error: `not finite (${v})` };
  let scaled = false;
  if (p.scaleFactorPoint !== undefined) {
    if (sfExp === undefined || !Number.isInteger(sfExp) || sfExp < -10 || sfExp > 10) {
      return { value: null, quality: 'out-of-range', error: `scale factor '${p.scaleFactorPoint}' unavailable or invalid (${String(sfExp)})` };
    }
    v = applyScale(v, sfExp);
    scaled = true;
  }
  if (p.scale !== undefined && p.scale !== 1) {
    v *= p.scale;
    scaled = true;
  }
  if (p.offset !== undefined && p.offset !== 0) {
    v += p.offset;
    scaled = true;
  }
  if (scaled) v = tidy(v);
  if (!Number.isFinite(v)) return { value: null, quality: 'out-of-range', error: `not finite after scaling (${v})` };
  // The point's own min/max, else the plausible range of its unit (a float32 sentinel such as 3.4e38 A is not a value).
  const { min, max } = plausibleBounds(p);
  const why = (b: RangeBound) => (b.from === 'profile' ? `${b.value}` : `${b.value} (plausible range, ${b.from})`);
  if (min !== undefined && v < min.value) return { value: v, quality: 'out-of-range', error: `${v} is below the minimum ${why(min)}` };
  if (max !== undefined && v > max.value) return { value: v, quality: 'out-of-range', error: `${v} is above the maximum ${why(max)}` };
  return { value: v, quality: 'good' };
}

/**
 * Engineering value -> registers to write (or [0|1] for bits): the inverse of toEngineering.
 * Throws RangeError when the value is outside min/max or cannot be represented by the type.
 */
export function fromEngineering(p: ProfilePoint, value: number | boolean, sfExp?: number): number[] {
  if (isBitPoint(p)) return [value === true || (typeof value === 'number' && value !== 0) ? 1 : 0];
  if (p.type === 'string') throw new TypeError(`point '${p.id}': string points are not writeable as numbers`);
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (!Number.isFinite(v)) throw new RangeError(`point '${p.id}': ${v} is not a finite number`);
  if (p.min !== undefined && v < p.min) throw new RangeError(`point '${p.id}': ${v} is below the minimum ${p.min}`);
  if (p.max !== undefined && v > p.max) throw new RangeError(`point '${p.id}': ${v} is above the maximum ${p.max}`);
  let raw = v - (p.offset ?? 0);
  if (p.scale !== undefined && p.scale !== 1) raw /= p.scale;
  if (p.scaleFactorPoint !== undefined) {
    if (sfExp === undefined || !Number.isInteger(sfExp)) {
      throw new RangeError(`point '${p.id}': scale factor '${p.scaleFactorPoint}' is needed to write`);
    }
    raw = applyScale(raw, -sfExp);
  }
  if (p.type === 'f32' || p.type === 'f64') return encodeRaw(p, raw);
  const rounded = Math.round(tidy(raw));
  if (p.type === 'u64' || p.type === 'i64') return encodeRaw(p, BigInt(rounded));
  return encodeRaw(p, rounded);
}

/**
 * Decode the results of a plan's reads into one result per point. Scale-factor points are
 * resolved across blocks; a failed block makes its points comm-error (and points scaled by a
 * factor in a failed block too). Points a block lists in `helpers` (read only as scale-factor
 * sources, e.g. `poll: false` SunSpec *_SF registers) are not returned.
 */
export function decodeBlockResults(profile: Profile, results: BlockResult[], ts: number): PointResult[] {
  type Decoded = { point: ProfilePoint; raw?: RawValue; error?: string };
  const decoded = new Map<string, Decoded>();
  // Points read only as scale-factor sources are not reported (unless also asked for elsewhere).
  const helperOnly = new Set<string>();
  const asked = new Set<string>();
  for (const r of results) {
    const h = new Set(r.block.helpers ?? []);
    for (const p of r.block.points) (h.has(p.id) ? helperOnly : asked).add(p.id);
  }
  for (const id of asked) helperOnly.delete(id);
  for (const r of results) {
    for (const p of r.block.points) {
      let d: Decoded;
      if (r.error !== undefined) {
        d = { point: p, error: r.error };
      } else {
        const off = p.address - r.block.start;
        try {
          if (p.register === 'coil' || p.register === 'discrete') {
            const b = r.bits?.[off];
            if (b === undefined) throw new RangeError(`reply has no bit for address ${p.address}`);
            d = { point: p, raw: b ? 1 : 0 };
          } else {
            const n = registerCount(p);
            const w = r.words?.slice(off, off + n) ?? [];
            if (off < 0 || w.length < n) throw new RangeError(`reply too short for address ${p.address} (${n} register(s))`);
            d = { point: p, raw: decodeRaw(p, w) };
          }
        } catch (err) {
          d = { point: p, error: `garbage reply: ${(err as Error).message}` };
        }
      }
      // Should a point sit in two blocks, keep the copy that was read.
      const prev = decoded.get(p.id);
      if (!prev || prev.error !== undefined) decoded.set(p.id, d);
    }
  }
  const out: PointResult[] = [];
  for (const d of decoded.values()) {
    const p = d.point;
    if (helperOnly.has(p.id)) continue;
    if (d.error !== undefined) {
      out.push({ point: p, value: null, quality: 'comm-error', error: d.error, ts });
      continue;
    }
    let sf: number | undefined;
    if (p.scaleFactorPoint !== undefined) {
      const s = decoded.get(p.scaleFactorPoint);
      if (!s) {
        out.push({ point: p, value: null, quality: 'comm-error', error: `scale factor '${p.scaleFactorPoint}' was not read`, ts });
        continue;
      }
      if (s.error !== undefined) {
        out.push({ point: p, value: null, quality: 'comm-error', error: `scale factor '${p.scaleFactorPoint}': ${s.error}`, ts });
        continue;
      }
      const sfRes = toEngineering({ ...s.point, scale: undefined, offset: undefined, min: undefined, max: undefined }, s.raw!);
      if (sfRes.quality !== 'good' || typeof sfRes.value !== 'number') {
        out.push({ point: p, value: null, quality: 'out-of-range', error: `scale factor '${p.scaleFactorPoint}' ${sfRes.error ?? 'invalid'}`, ts });
        continue;
      }
      sf = sfRes.value;
    }
    const e = toEngineering(p, d.raw!, sf);
    out.push({ point: p, value: e.value, quality: e.quality, ...(e.error !== undefined ? { error: e.error } : {}), ts });
  }
  return out;
}
