import { describe, expect, it } from 'vitest';
import {
  decodeBlockResults,
  decodeRaw,
  encodeRaw,
  fromEngineering,
  registerCount,
  toEngineering,
} from '../../drivers/modbus/codec.js';
import { planReads } from '../../drivers/modbus/planner.js';
import type { ByteOrder, DataType, Profile, ProfilePoint, WordOrder } from '../../drivers/profiles/types.js';

const pt = (type: DataType, extra: Partial<ProfilePoint> = {}): ProfilePoint => ({
  id: 'x',
  register: 'holding',
  address: 0,
  type,
  wordOrder: 'big',
  byteOrder: 'big',
  ...extra,
});

const ORDERS: Record<string, { wordOrder: WordOrder; byteOrder: ByteOrder }> = {
  ABCD: { wordOrder: 'big', byteOrder: 'big' },
  CDAB: { wordOrder: 'little', byteOrder: 'big' },
  BADC: { wordOrder: 'big', byteOrder: 'little' },
  DCBA: { wordOrder: 'little', byteOrder: 'little' },
};

describe('registerCount', () => {
  it('counts registers per type', () => {
    expect(registerCount(pt('u16'))).toBe(1);
    expect(registerCount(pt('i16'))).toBe(1);
    expect(registerCount(pt('bit', { bit: 3 }))).toBe(1);
    expect(registerCount(pt('u32'))).toBe(2);
    expect(registerCount(pt('i32'))).toBe(2);
    expect(registerCount(pt('f32'))).toBe(2);
    expect(registerCount(pt('u64'))).toBe(4);
    expect(registerCount(pt('i64'))).toBe(4);
    expect(registerCount(pt('f64'))).toBe(4);
    expect(registerCount(pt('string', { length: 16 }))).toBe(16);
    expect(registerCount(pt('bit', { register: 'coil' }))).toBe(1);
  });
});

describe('float32 word/byte orders (230.5 V = 0x43668000)', () => {
  const vectors: Record<string, number[]> = {
    ABCD: [0x4366, 0x8000],
    CDAB: [0x8000, 0x4366],
    BADC: [0x6643, 0x0080],
    DCBA: [0x0080, 0x6643],
  };
  for (const [name, words] of Object.entries(vectors)) {
    it(`${name} decodes ${words.map((w) => w.toString(16)).join(' ')} to 230.5 and encodes back`, () => {
      const p = pt('f32', ORDERS[name]);
      expect(decodeRaw(p, words)).toBe(230.5);
      expect(encodeRaw(p, 230.5)).toEqual(words);
    });
  }
  it('a wrong order gives a wildly wrong value (what users see when the profile is wrong)', () => {
    expect(decodeRaw(pt('f32', ORDERS.ABCD), vectors.CDAB!)).not.toBeCloseTo(230.5, 0);
    // 0x80004366 is a tiny negative denormal-ish number
    expect(Math.abs(decodeRaw(pt('f32', ORDERS.ABCD), [0x8000, 0x4366]) as number)).toBeLessThan(1e-30);
  });
  it('negative float -12.25 = 0xC1440000 in all orders', () => {
    expect(decodeRaw(pt('f32', ORDERS.ABCD), [0xc144, 0x0000])).toBe(-12.25);
    expect(decodeRaw(pt('f32', ORDERS.CDAB), [0x0000, 0xc144])).toBe(-12.25);
    expect(decodeRaw(pt('f32', ORDERS.BADC), [0x44c1, 0x0000])).toBe(-12.25);
    expect(decodeRaw(pt('f32', ORDERS.DCBA), [0x0000, 0x44c1])).toBe(-12.25);
  });
  it('49.98 Hz keeps float32 precision', () => {
    expect(decodeRaw(pt('f32'), [0x4247, 0xeb85])).toBeCloseTo(49.98, 5);
  });
});

describe('integer vectors', () => {
  it('u16 / i16', () => {
    expect(decodeRaw(pt('u16'), [0xffff])).toBe(65535);
    expect(decodeRaw(pt('i16'), [0xffff])).toBe(-1);
    expect(decodeRaw(pt('i16'), [0x8000])).toBe(-32768);
    expect(decodeRaw(pt('i16'), [0x7fff])).toBe(32767);
    expect(decodeRaw(pt('u16', ORDERS.BADC), [0x3412])).toBe(0x1234);
    expect(encodeRaw(pt('i16'), -2)).toEqual([0xfffe]);
    expect(encodeRaw(pt('u16', ORDERS.BADC), 0x1234)).toEqual([0x3412]);
  });
  it('u32 0x12345678 in all four orders', () => {
    const v = 0x12345678;
    expect(decodeRaw(pt('u32', ORDERS.ABCD), [0x1234, 0x5678])).toBe(v);
    expect(decodeRaw(pt('u32', ORDERS.CDAB), [0x5678, 0x1234])).toBe(v);
    expect(decodeRaw(pt('u32', ORDERS.BADC), [0x3412, 0x7856])).toBe(v);
    expect(decodeRaw(pt('u32', ORDERS.DCBA), [0x7856, 0x3412])).toBe(v);
    for (const o of Object.values(ORDERS)) expect(decodeRaw(pt('u32', o), encodeRaw(pt('u32', o), v))).toBe(v);
  });
  it('i32 -123456 = 0xFFFE1DC0', () => {
    expect(decodeRaw(pt('i32', ORDERS.ABCD), [0xfffe, 0x1dc0])).toBe(-123456);
    expect(decodeRaw(pt('i32', ORDERS.CDAB), [0x1dc0, 0xfffe])).toBe(-123456);
    expect(decodeRaw(pt('i32', ORDERS.BADC), [0xfeff, 0xc01d])).toBe(-123456);
    expect(decodeRaw(pt('i32', ORDERS.DCBA), [0xc01d, 0xfeff])).toBe(-123456);
    expect(encodeRaw(pt('i32', ORDERS.CDAB), -123456)).toEqual([0x1dc0, 0xfffe]);
  });
  it('u64 / i64 are bigint, all orders', () => {
    const words = [0x0102, 0x0304, 0x0506, 0x0708];
    expect(decodeRaw(pt('u64', ORDERS.ABCD), words)).toBe(0x0102030405060708n);
    expect(decodeRaw(pt('u64', ORDERS.CDAB), [0x0708, 0x0506, 0x0304, 0x0102])).toBe(0x0102030405060708n);
    expect(decodeRaw(pt('u64', ORDERS.BADC), [0x0201, 0x0403, 0x0605, 0x0807])).toBe(0x0102030405060708n);
    expect(decodeRaw(pt('u64', ORDERS.DCBA), [0x0807, 0x0605, 0x0403, 0x0201])).toBe(0x0102030405060708n);
    expect(decodeRaw(pt('i64'), [0xffff, 0xffff, 0xffff, 0xfffe])).toBe(-2n);
    expect(decodeRaw(pt('i64'), [0xffff, 0xfee0, 0x8e04, 0xfb35])).toBe(-1234567890123n);
    expect(decodeRaw(pt('u64'), [0xffff, 0xffff, 0xffff, 0xffff])).toBe(0xffffffffffffffffn);
    expect(encodeRaw(pt('i64', ORDERS.CDAB), -1234567890123n)).toEqual([0xfb35, 0x8e04, 0xfee0, 0xffff]);
  });
  it('64-bit engineering value converts to number and scales', () => {
    const p = pt('u64', { scale: 0.001 });
    const raw = decodeRaw(p, [0x0000, 0x0000, 0x0bc6, 0x14e5]); // 197530853 Wh
    expect(raw).toBe(197530853n);
    expect(toEngineering(p, raw)).toEqual({ value: 197530.853, quality: 'good' });
    expect(toEngineering(pt('i64'), -1234567890123n).value).toBe(-1234567890123);
  });
  it('f64 230.5 and -1234.5678 in all orders', () => {
    expect(decodeRaw(pt('f64'), [0x406c, 0xd000, 0, 0])).toBe(230.5);
    expect(decodeRaw(pt('f64'), [0xc093, 0x4a45, 0x6d5c, 0xfaad])).toBe(-1234.5678);
    expect(decodeRaw(pt('f64', ORDERS.CDAB), [0xfaad, 0x6d5c, 0x4a45, 0xc093])).toBe(-1234.5678);
    expect(decodeRaw(pt('f64', ORDERS.BADC), [0x93c0, 0x454a, 0x5c6d, 0xadfa])).toBe(-1234.5678);
    expect(decodeRaw(pt('f64', ORDERS.DCBA), [0xadfa, 0x5c6d, 0x454a, 0x93c0])).toBe(-1234.5678);
  });
  it('rejects values that do not fit the type', () => {
    expect(() => encodeRaw(pt('u16'), 65536)).toThrow(/does not fit in u16/);
    expect(() => encodeRaw(pt('i16'), -32769)).toThrow(/does not fit/);
    expect(() => encodeRaw(pt('u32'), -1)).toThrow(/does not fit/);
    expect(() => encodeRaw(pt('i32'), 1.5)).toThrow(/needs an integer/);
  });
  it('throws when too few registers are given', () => {
    expect(() => decodeRaw(pt('f32'), [0x4366])).toThrow(/needs 2 register/);
  });
});

describe('strings and bits', () => {
  it('decodes a string, trimming NUL and space padding', () => {
    // "SunS" = 0x5375 0x6E53 (SunSpec marker)
    expect(decodeRaw(pt('string', { length: 2 }), [0x5375, 0x6e53])).toBe('SunS');
    expect(decodeRaw(pt('string', { length: 4 }), [0x4142, 0x4300, 0x0000, 0x0000])).toBe('ABC');
    expect(decodeRaw(pt('string', { length: 3 }), [0x4142, 0x2020, 0x2020])).toBe('AB');
    expect(decodeRaw(pt('string', { length: 2, byteOrder: 'little' }), [0x7553, 0x536e])).toBe('SunS');
    expect(encodeRaw(pt('string', { length: 4 }), 'ABC')).toEqual([0x4142, 0x4300, 0, 0]);
    expect(() => encodeRaw(pt('string', { length: 1 }), 'ABC')).toThrow(/longer than 2/);
    expect(toEngineering(pt('string', { length: 2 }), 'SunS')).toEqual({ value: 'SunS', quality: 'good' });
  });
  it('extracts a bit of a register', () => {
    const w = [0b1000_0000_0000_0101];
    expect(decodeRaw(pt('bit', { bit: 0 }), w)).toBe(1);
    expect(decodeRaw(pt('bit', { bit: 1 }), w)).toBe(0);
    expect(decodeRaw(pt('bit', { bit: 2 }), w)).toBe(1);
    expect(decodeRaw(pt('bit', { bit: 15 }), w)).toBe(1);
    expect(toEngineering(pt('bit', { bit: 15 }), 1)).toEqual({ value: true, quality: 'good' });
    expect(toEngineering(pt('bit', { bit: 1 }), 0)).toEqual({ value: false, quality: 'good' });
  });
  it('coils are booleans and write as [0|1]', () => {
    const c = pt('bit', { register: 'coil' });
    expect(decodeRaw(c, [1])).toBe(1);
    expect(toEngineering(c, 0).value).toBe(false);
    expect(fromEngineering(c, true)).toEqual([1]);
    expect(fromEngineering(c, false)).toEqual([0]);
    expect(fromEngineering(c, 1)).toEqual([1]);
  });
});

describe('scaling, sentinels and ranges', () => {
  it('fixed scale and offset without float noise', () => {
    expect(toEngineering(pt('u16', { scale: 0.1 }), 2305)).toEqual({ value: 230.5, quality: 'good' });
    expect(toEngineering(pt('i16', { scale: 0.01 }), -99)).toEqual({ value: -0.99, quality: 'good' });
    expect(toEngineering(pt('u16', { scale: 0.1, offset: -40 }), 650)).toEqual({ value: 25, quality: 'good' });
    expect(toEngineering(pt('u32', { scale: 0.01 }), 12345678).value).toBe(123456.78);
  });
  it('SunSpec scale factor exponent', () => {
    const w = pt('i16', { scaleFactorPoint: 'w_sf' });
    expect(toEngineering(w, 4567, -1)).toEqual({ value: 456.7, quality: 'good' });
    expect(toEngineering(w, 4567, 2)).toEqual({ value: 456700, quality: 'good' });
    expect(toEngineering(w, -1234, -2)).toEqual({ value: -12.34, quality: 'good' });
    expect(toEngineering(w, 100, 0).value).toBe(100);
    // WH (acc32, Wh) with WH_SF 0 and a scale of 0.001 to kWh
    expect(toEngineering(pt('u32', { scaleFactorPoint: 'wh_sf', scale: 0.001 }), 123456789, 0).value).toBe(123456.789);
    const missing = toEngineering(w, 4567, undefined);
    expect(missing.quality).toBe('out-of-range');
    expect(missing.error).toMatch(/scale factor 'w_sf'/);
  });
  it('SunSpec not-implemented sentinels', () => {
    const i16 = pt('i16', { sentinels: [0x8000] });
    expect(toEngineering(i16, decodeRaw(i16, [0x8000]))).toEqual({ value: null, quality: 'out-of-range', error: 'not implemented' });
    expect(toEngineering(i16, decodeRaw(i16, [0x8001])).value).toBe(-32767);
    const u16 = pt('u16', { sentinels: [0xffff] });
    expect(toEngineering(u16, decodeRaw(u16, [0xffff])).error).toBe('not implemented');
    expect(toEngineering(u16, decodeRaw(u16, [0xfffe])).value).toBe(65534);
    const acc32 = pt('u32', { sentinels: [0] });
    expect(toEngineering(acc32, decodeRaw(acc32, [0, 0])).error).toBe('not implemented');
    expect(toEngineering(acc32, decodeRaw(acc32, [0, 1])).value).toBe(1);
    const f32 = pt('f32', { sentinels: [0x7fc00000] });
    expect(toEngineering(f32, decodeRaw(f32, [0x7fc0, 0x0000])).error).toBe('not implemented');
    const i32 = pt('i32', { sentinels: [0x80000000] });
    expect(toEngineering(i32, decodeRaw(i32, [0x8000, 0x0000])).error).toBe('not implemented');
    const i64 = pt('i64', { sentinels: [-1] });
    expect(toEngineering(i64, decodeRaw(i64, [0xffff, 0xffff, 0xffff, 0xffff])).error).toBe('not implemented');
  });
  it('NaN and infinities are out-of-range even without a declared sentinel', () => {
    const f = pt('f32');
    expect(toEngineering(f, decodeRaw(f, [0x7fc0, 0x0000]))).toMatchObject({ value: null, quality: 'out-of-range' });
    expect(toEngineering(f, decodeRaw(f, [0x7f80, 0x0000])).quality).toBe('out-of-range');
  });
  it('min/max make a value out-of-range but keep it visible', () => {
    const v = pt('f32', { min: 0, max: 500 });
    expect(toEngineering(v, 230.5)).toEqual({ value: 230.5, quality: 'good' });
    expect(toEngineering(v, 612)).toMatchObject({ value: 612, quality: 'out-of-range' });
    expect(toEngineering(v, -1).error).toMatch(/below the minimum 0/);
  });
});

describe('fromEngineering is the inverse of decode', () => {
  it('round-trips every numeric type and order', () => {
    const cases: [DataType, number, Partial<ProfilePoint>][] = [
      ['u16', 230.5, { scale: 0.1 }],
      ['i16', -12.34, { scale: 0.01 }],
      ['u32', 123456.78, { scale: 0.01 }],
      ['i32', -5000, {}],
      ['f32', 230.5, {}],
      ['f64', -1234.5678, {}],
      ['u64', 197530.853, { scale: 0.001 }],
      ['i64', -1234567890, {}],
      ['i16', 25, { scale: 0.1, offset: -40 }],
    ];
    for (const [type, value, extra] of cases) {
      for (const o of Object.values(ORDERS)) {
        const p = pt(type, { ...extra, ...o });
        const words = fromEngineering(p, value);
        expect(words.length).toBe(registerCount(p));
        expect(toEngineering(p, decodeRaw(p, words)).value).toBe(value);
      }
    }
  });
  it('uses the scale factor', () => {
    const p = pt('i16', { scaleFactorPoint: 'sf' });
    expect(fromEngineering(p, 456.7, -1)).toEqual([4567]);
    expect(fromEngineering(p, -500, 2)).toEqual([0xfffb]);
    expect(() => fromEngineering(p, 1)).toThrow(/scale factor 'sf' is needed/);
  });
  it('refuses values outside min/max or the type', () => {
    expect(() => fromEngineering(pt('u16', { max: 100 }), 101)).toThrow(/above the maximum 100/);
    expect(() => fromEngineering(pt('i32', { min: 0 }), -1)).toThrow(/below the minimum 0/);
    expect(() => fromEngineering(pt('u16'), -1)).toThrow(/does not fit/);
    expect(() => fromEngineering(pt('u16'), Number.NaN)).toThrow(/not a finite/);
  });
  it('SG-ready style: battery power setpoint i32 W, CDAB', () => {
    const p = pt('i32', { wordOrder: 'little', min: 0 });
    expect(fromEngineering(p, 3000)).toEqual([3000, 0]);
    expect(fromEngineering(p, 70000)).toEqual([0x1170, 0x0001]);
  });
});

describe('decodeBlockResults', () => {
  const profile: Profile = {
    id: 'demo',
    version: 1,
    manufacturer: 'x',
    model: 'y',
    kind: 'pv_inverter',
    source: { document: 'test' },
    limits: { maxRegistersPerRequest: 4, maxFillRegisters: 0, prohibited: [], interRequestDelayMs: 0, timeoutMs: 1000 },
    points: [
      { id: 'w', register: 'holding', address: 10, type: 'i16', scaleFactorPoint: 'w_sf', canonical: 'active_power', unit: 'W' },
      { id: 'w_sf', register: 'holding', address: 11, type: 'i16', sentinels: [0x8000], poll: false },
      { id: 'v', register: 'holding', address: 20, type: 'u16', scale: 0.1, unit: 'V' },
      { id: 'wh', register: 'holding', address: 30, type: 'u32', scaleFactorPoint: 'wh_sf', scale: 0.001, sentinels: [0] },
      { id: 'wh_sf', register: 'holding', address: 40, type: 'i16' },
      { id: 'relay', register: 'coil', address: 3, type: 'bit' },
      { id: 'alarm', register: 'coil', address: 5, type: 'bit' },
    ],
  };
  const blocks = planReads(profile);
  const blockAt = (reg: string, start: number) => blocks.find((b) => b.register === reg && b.start === start)!;

  it('the plan groups as expected', () => {
    expect(blocks.map((b) => `${b.register}@${b.start}+${b.count}`)).toEqual([
      'coil@3+1', 'coil@5+1', 'holding@10+2', 'holding@20+1', 'holding@30+2', 'holding@40+1',
    ]);
  });
  it('decodes values, resolves scale factors across blocks, hides poll:false helpers', () => {
    const res = decodeBlockResults(
      profile,
      [
        { block: blockAt('coil', 3), bits: [true] },
        { block: blockAt('coil', 5), bits: [false] },
        { block: blockAt('holding', 10), words: [4567, 0xffff] },
        { block: blockAt('holding', 20), words: [2305] },
        { block: blockAt('holding', 30), words: [0x0001, 0xe240] },
        { block: blockAt('holding', 40), words: [1] },
      ],
      1234,
    );
    const byId = Object.fromEntries(res.map((r) => [r.point.id, r]));
    expect(Object.keys(byId).sort()).toEqual(['alarm', 'relay', 'v', 'w', 'wh', 'wh_sf']);
    expect(byId.w).toMatchObject({ value: 456.7, quality: 'good', ts: 1234 });
    expect(byId.v!.value).toBe(230.5);
    expect(byId.wh!.value).toBe(1234.56); // 123456 * 10^1 * 0.001
    expect(byId.wh_sf!.value).toBe(1);
    expect(byId.relay!.value).toBe(true);
    expect(byId.alarm!.value).toBe(false);
  });
  it('a poll:false point asked for explicitly (a read-back) is reported', () => {
    const sfPoint = profile.points.find((p) => p.id === 'w_sf')!;
    const [block] = planReads(profile, [sfPoint]);
    expect(block).toMatchObject({ start: 11, count: 1 });
    const res = decodeBlockResults(profile, [{ block: block!, words: [0xfffe] }], 5);
    expect(res.map((r) => [r.point.id, r.value, r.quality])).toEqual([['w_sf', -2, 'good']]);
  });
  it('a failed block makes its points and the points scaled by it comm-error', () => {
    const res = decodeBlockResults(
      profile,
      [
        { block: blockAt('coil', 3), error: 'timeout' },
        { block: blockAt('holding', 10), words: [4567, 0xffff] },
        { block: blockAt('holding', 20), words: [2305] },
        { block: blockAt('holding', 30), words: [0x0001, 0xe240] },
        { block: blockAt('holding', 40), error: 'exception 02 illegal data address' },
      ],
      1,
    );
    const byId = Object.fromEntries(res.map((r) => [r.point.id, r]));
    expect(byId.relay).toMatchObject({ value: null, quality: 'comm-error', error: 'timeout' });
    expect(byId.wh).toMatchObject({ value: null, quality: 'comm-error' });
    expect(byId.wh!.error).toMatch(/wh_sf.*exception 02/);
    expect(byId.w!.quality).toBe('good');
  });
  it('a not-implemented scale factor makes the value out-of-range; a short reply is comm-error', () => {
    const res = decodeBlockResults(
      profile,
      [
        { block: blockAt('holding', 10), words: [4567, 0x8000] },
        { block: blockAt('holding', 20), words: [] },
      ],
      1,
    );
    const byId = Object.fromEntries(res.map((r) => [r.point.id, r]));
    expect(byId.w).toMatchObject({ value: null, quality: 'out-of-range' });
    expect(byId.w!.error).toMatch(/w_sf.*not implemented/);
    expect(byId.v).toMatchObject({ value: null, quality: 'comm-error' });
    expect(byId.v!.error).toMatch(/garbage reply/);
  });
});
