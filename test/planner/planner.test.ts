import { describe, expect, it } from 'vitest';
import { registerCount } from '../../drivers/modbus/codec.js';
import {
  minimumRequestCount,
  onePerPointRequestCount,
  planReads,
  type ReadBlock,
} from '../../drivers/modbus/planner.js';
import type { DataType, Profile, ProfileLimits, ProfilePoint, ProhibitedRange, RegisterType } from '../../drivers/profiles/types.js';
import { prng } from '../helpers/prng.js';

function profileOf(points: ProfilePoint[], limits: Partial<ProfileLimits> = {}): Profile {
  return {
    id: 'test',
    version: 1,
    manufacturer: 'test',
    model: 'test',
    kind: 'meter',
    source: { document: 'test' },
    limits: { maxRegistersPerRequest: 125, maxFillRegisters: 10, prohibited: [], interRequestDelayMs: 0, timeoutMs: 1000, ...limits },
    points,
  };
}

const f32 = (id: string, address: number, register: RegisterType = 'input'): ProfilePoint => ({ id, register, address, type: 'f32' });

/** Check every constraint of every block, and that every expected point is in exactly one block. */
function assertValidPlan(profile: Profile, blocks: ReadBlock[], expected: ProfilePoint[]): void {
  const seen = new Set<string>();
  for (const b of blocks) {
    const bitReg = b.register === 'coil' || b.register === 'discrete';
    expect(b.count).toBeLessThanOrEqual(bitReg ? (profile.limits.maxBitsPerRequest ?? 2000) : profile.limits.maxRegistersPerRequest);
    for (const r of profile.limits.prohibited) {
      if (r.register === b.register) expect(r.start > b.start + b.count - 1 || r.end < b.start).toBe(true);
    }
    const used = new Array<boolean>(b.count).fill(false);
    for (const p of b.points) {
      expect(p.register).toBe(b.register);
      expect(p.address).toBeGreaterThanOrEqual(b.start);
      expect(p.address + registerCount(p)).toBeLessThanOrEqual(b.start + b.count);
      for (let a = p.address; a < p.address + registerCount(p); a++) used[a - b.start] = true;
      expect(seen.has(p.id)).toBe(false);
      seen.add(p.id);
    }
    expect(used[0]).toBe(true);
    expect(used[b.count - 1]).toBe(true);
    let run = 0;
    for (const u of used) {
      run = u ? 0 : run + 1;
      expect(run).toBeLessThanOrEqual(profile.limits.maxFillRegisters);
    }
  }
  expect([...seen].sort()).toEqual(expected.map((p) => p.id).sort());
}

/**
 * Exhaustive minimum, independent of the planner's reasoning: the smallest set of read windows
 * covering every point (set cover over all candidate windows, by DP over subsets).
 */
function exhaustiveMinimum(profile: Profile, points: ProfilePoint[]): number {
  let total = 0;
  for (const reg of ['coil', 'discrete', 'input', 'holding'] as RegisterType[]) {
    const ps = points.filter((p) => p.register === reg);
    if (!ps.length) continue;
    const n = ps.length;
    const span = ps.map((p) => [p.address, p.address + registerCount(p) - 1] as const);
    const max = reg === 'coil' || reg === 'discrete' ? (profile.limits.maxBitsPerRequest ?? 2000) : profile.limits.maxRegistersPerRequest;
    const proh = profile.limits.prohibited.filter((r) => r.register === reg);
    const windows: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const s = span[i]![0];
        const e = span[j]![1];
        if (e < s || e - s + 1 > max) continue;
        if (proh.some((r) => r.start <= e && r.end >= s)) continue;
        let mask = 0;
        const used = new Array<boolean>(e - s + 1).fill(false);
        span.forEach(([a, b], k) => {
          if (a >= s && b <= e) {
            mask |= 1 << k;
            for (let x = a; x <= b; x++) used[x - s] = true;
          }
        });
        let run = 0;
        let ok = true;
        for (const u of used) {
          run = u ? 0 : run + 1;
          if (run > profile.limits.maxFillRegisters) ok = false;
        }
        if (ok) windows.push(mask);
      }
    }
    const full = (1 << n) - 1;
    const dp = new Array<number>(full + 1).fill(Infinity);
    dp[0] = 0;
    for (let m = 0; m <= full; m++) {
      if (!Number.isFinite(dp[m]!)) continue;
      if (m === full) break;
      let low = 0;
      while (m & (1 << low)) low++;
      for (const w of windows) if (w & (1 << low)) dp[m | w] = Math.min(dp[m | w]!, dp[m]! + 1);
    }
    total += dp[full]!;
  }
  return total;
}

/** Telegraf `max_insert` style: extend while the hole <= 50 and size <= 125; no prohibited ranges. */
function telegrafPlan(points: ProfilePoint[], maxFill = 50): { start: number; end: number }[] {
  const sorted = [...points].sort((a, b) => a.address - b.address);
  const out: { start: number; end: number }[] = [];
  for (const p of sorted) {
    const end = p.address + registerCount(p) - 1;
    const cur = out[out.length - 1];
    if (cur && p.address - cur.end - 1 <= maxFill && end - cur.start + 1 <= 125) cur.end = Math.max(cur.end, end);
    else out.push({ start: p.address, end });
  }
  return out;
}

function randomProfile(seed: number): Profile {
  const r = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const limits: ProfileLimits = {
    maxRegistersPerRequest: int(4, 30),
    maxBitsPerRequest: int(2, 30),
    maxFillRegisters: int(0, 8),
    prohibited: [],
    interRequestDelayMs: 0,
    timeoutMs: 1000,
  };
  const points: ProfilePoint[] = [];
  const prohibited: ProhibitedRange[] = [];
  const types: DataType[] = ['u16', 'i16', 'u32', 'f32', 'u64', 'f64'];
  let id = 0;
  for (const reg of ['holding', 'input', 'coil'] as RegisterType[]) {
    let addr = int(0, 5);
    const count = int(1, reg === 'coil' ? 5 : 7);
    for (let k = 0; k < count; k++) {
      if (reg === 'coil') {
        points.push({ id: `p${id++}`, register: reg, address: addr, type: 'bit' });
        addr += 1 + int(0, 6);
      } else {
        const type = types[int(0, types.length - 1)]!;
        const p: ProfilePoint = { id: `p${id++}`, register: reg, address: addr, type };
        points.push(p);
        // sometimes several bit views of the same register
        if (type === 'u16' && r() < 0.3) {
          points.push({ id: `p${id++}`, register: reg, address: addr, type: 'bit', bit: 0 });
          points.push({ id: `p${id++}`, register: reg, address: addr, type: 'bit', bit: 7 });
        }
        addr += registerCount(p);
      }
      const gap = int(0, 12);
      if (gap >= 2 && r() < 0.3) {
        const s = addr + int(0, gap - 1);
        prohibited.push({ register: reg, start: s, end: s + int(0, addr + gap - 1 - s) });
      }
      addr += gap;
    }
  }
  limits.prohibited = prohibited;
  // every point must fit in one request
  for (const p of points) {
    if (p.register !== 'coil') limits.maxRegistersPerRequest = Math.max(limits.maxRegistersPerRequest, registerCount(p));
  }
  return profileOf(points, limits);
}

describe('planReads', () => {
  it('coalesces contiguous float32 points into one read', () => {
    const points = [f32('v1', 0), f32('v2', 2), f32('v3', 4), f32('i1', 6)];
    const blocks = planReads(profileOf(points));
    expect(blocks).toEqual([{ register: 'input', start: 0, count: 8, points }]);
  });

  it('fills gaps up to maxFillRegisters and no further', () => {
    const points = [f32('a', 0), f32('b', 12), f32('c', 30)]; // gaps of 10 and 16
    const blocks = planReads(profileOf(points, { maxFillRegisters: 10 }));
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0, 14], [30, 2]]);
    expect(planReads(profileOf(points, { maxFillRegisters: 9 })).length).toBe(3);
    expect(planReads(profileOf(points, { maxFillRegisters: 16 })).map((b) => [b.start, b.count])).toEqual([[0, 32]]);
  });

  it('respects maxRegistersPerRequest', () => {
    const points = Array.from({ length: 10 }, (_, i) => f32(`p${i}`, i * 2));
    const blocks = planReads(profileOf(points, { maxRegistersPerRequest: 6 }));
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0, 6], [6, 6], [12, 6], [18, 2]]);
  });

  it('never reads a prohibited address, even when the gap would be filled', () => {
    const points = [f32('a', 0), f32('b', 4), f32('c', 8)];
    const profile = profileOf(points, { maxFillRegisters: 10, prohibited: [{ register: 'input', start: 6, end: 6 }] });
    const blocks = planReads(profile);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0, 6], [8, 2]]);
    assertValidPlan(profile, blocks, points);
    // a prohibited range on another register type does not matter
    const other = profileOf(points, { maxFillRegisters: 10, prohibited: [{ register: 'holding', start: 6, end: 6 }] });
    expect(planReads(other).length).toBe(1);
  });

  it('separates register types and plans coils in bits (up to 2000)', () => {
    const coils = Array.from({ length: 30 }, (_, i): ProfilePoint => ({ id: `c${i}`, register: 'coil', address: i * 50, type: 'bit' }));
    const profile = profileOf([f32('v', 0, 'input'), f32('w', 0, 'holding'), ...coils], { maxFillRegisters: 60 });
    const blocks = planReads(profile);
    expect(blocks.map((b) => `${b.register}@${b.start}+${b.count}`)).toEqual(['coil@0+1451', 'input@0+2', 'holding@0+2']);
    const small = planReads({ ...profile, limits: { ...profile.limits, maxBitsPerRequest: 500 } });
    expect(small.filter((b) => b.register === 'coil').map((b) => b.count)).toEqual([451, 451, 451]);
  });

  it('bit points sharing a register are read once', () => {
    const points: ProfilePoint[] = [
      { id: 'status', register: 'holding', address: 5, type: 'u16' },
      { id: 'fault', register: 'holding', address: 5, type: 'bit', bit: 0 },
      { id: 'warn', register: 'holding', address: 5, type: 'bit', bit: 1 },
    ];
    const blocks = planReads(profileOf(points));
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ start: 5, count: 1 });
    expect(blocks[0]!.points.map((p) => p.id).sort()).toEqual(['fault', 'status', 'warn']);
  });

  it('skips poll:false points unless they are scale factors of polled points', () => {
    const points: ProfilePoint[] = [
      { id: 'w', register: 'holding', address: 14, type: 'i16', scaleFactorPoint: 'w_sf' },
      { id: 'w_sf', register: 'holding', address: 15, type: 'i16', poll: false },
      { id: 'setpoint', register: 'holding', address: 60, type: 'u16', poll: false, access: 'read-write' },
    ];
    const profile = profileOf(points);
    const blocks = planReads(profile);
    expect(blocks).toEqual([{ register: 'holding', start: 14, count: 2, points: [points[0], points[1]], helpers: ['w_sf'] }]);
    // explicit points (a read-back after a write) are read even if poll:false
    expect(planReads(profile, [points[2]!])).toEqual([{ register: 'holding', start: 60, count: 1, points: [points[2]] }]);
    expect(planReads(profile, [points[0]!]).map((b) => b.points.map((p) => p.id))).toEqual([['w', 'w_sf']]);
    // asking for the scale factor itself makes it a regular point, not a helper
    expect(planReads(profile, [points[0]!, points[1]!])[0]!.helpers).toBeUndefined();
  });

  it('refuses a point that cannot be read within the limits', () => {
    const profile = profileOf([{ id: 's', register: 'holding', address: 0, type: 'string', length: 20 }], { maxRegistersPerRequest: 10 });
    expect(() => planReads(profile)).toThrow(/cannot be read in one request/);
  });

  it('beats one-request-per-point and stays valid where Telegraf-style fill reads a prohibited hole', () => {
    // SDM630-like map: voltages, currents, powers (f32 every 2 registers) with a hole the
    // meter answers with exception 02, then the totals.
    const points = [
      f32('voltage_l1', 0x00), f32('voltage_l2', 0x02), f32('voltage_l3', 0x04),
      f32('current_l1', 0x06), f32('current_l2', 0x08), f32('current_l3', 0x0a),
      f32('power_l1', 0x0c), f32('power_l2', 0x0e), f32('power_l3', 0x10),
      f32('total_power', 0x34), f32('frequency', 0x46), f32('import_kwh', 0x48), f32('export_kwh', 0x4a),
    ];
    const profile = profileOf(points, {
      maxRegistersPerRequest: 80,
      maxFillRegisters: 40,
      prohibited: [{ register: 'input', start: 0x36, end: 0x45, reason: 'not implemented, exception 02' }],
    });
    const blocks = planReads(profile);
    assertValidPlan(profile, blocks, points);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0x00, 0x36], [0x46, 6]]);
    expect(onePerPointRequestCount(profile)).toBe(13);
    expect(minimumRequestCount(profile)).toBe(2);
    expect(exhaustiveMinimum(profile, points)).toBe(2);
    // Telegraf: one request 0x00..0x4B: reads the prohibited 0x36..0x45, fails with exception 02.
    const tg = telegrafPlan(points);
    expect(tg).toEqual([{ start: 0, end: 0x4b }]);
    expect(tg.some((w) => w.start <= 0x45 && w.end >= 0x36)).toBe(true);
    // Telegraf with a smaller fill still reads more filler than the device allows.
    expect(telegrafPlan(points, 10)).toEqual([{ start: 0, end: 0x11 }, { start: 0x34, end: 0x35 }, { start: 0x46, end: 0x4b }]);
  });

  it('is minimal: equals the exhaustive set-cover minimum on 400 random profiles', () => {
    let coalesced = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const profile = randomProfile(seed);
      const blocks = planReads(profile);
      assertValidPlan(profile, blocks, profile.points);
      const exhaustive = exhaustiveMinimum(profile, profile.points);
      expect({ seed, planned: blocks.length }).toEqual({ seed, planned: exhaustive });
      expect({ seed, dp: minimumRequestCount(profile) }).toEqual({ seed, dp: exhaustive });
      expect(blocks.length).toBeLessThanOrEqual(onePerPointRequestCount(profile));
      if (blocks.length < onePerPointRequestCount(profile)) coalesced++;
    }
    // the random profiles do exercise coalescing (the test would be vacuous otherwise)
    expect(coalesced).toBeGreaterThan(300);
  });
});
