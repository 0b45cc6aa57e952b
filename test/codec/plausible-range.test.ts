/**
 * Implausible values are out-of-range, not good: a raw register image goes through the real decode
 * path (planner -> decodeBlockResults) of the built-in Eastron SDM630 profile and of a profile
 * with its own bounds.
 */
import { describe, expect, it } from 'vitest';
import { decodeBlockResults, encodeRaw, type PointResult } from '../../drivers/modbus/codec.js';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { PLAUSIBLE_RANGES, PLAUSIBLE_RANGES_VERSION } from '../../drivers/profiles/plausible-ranges.js';
import { CANONICAL } from '../../drivers/profiles/canonical.js';
import { modbusProfiles, type Profile, type ProfilePoint } from '../../drivers/profiles/types.js';

const profiles = modbusProfiles(loadBuiltinProfiles().profiles);
const sdm630 = profiles.get('eastron-sdm630')!;

/** Decode a register image (input/holding address -> word) through every planned read of `profile`. */
function decodeImage(profile: Profile, image: Map<number, number>): Map<string, PointResult> {
  const results = planReads(profile).map((block) => ({ block, words: Array.from({ length: block.count }, (_, i) => image.get(block.start + i) ?? 0) }));
  return new Map(decodeBlockResults(profile, results, 1000).map((r) => [r.point.id, r]));
}

/** A register image holding `values` (engineering = raw for these points) at their points' addresses. */
function image(profile: Profile, values: Record<string, number>, raw: Record<string, number[]> = {}): Map<number, number> {
  const img = new Map<number, number>();
  for (const p of profile.points) {
    const words = raw[p.id] ?? (values[p.id] !== undefined ? encodeRaw(p, values[p.id]!) : undefined);
    words?.forEach((w, i) => img.set(p.address + i, w));
  }
  return img;
}

describe('plausible range of decoded values', () => {
  it('the float32 sentinel 0x7F7F 0xFFFF (3.4e38) on a current point is out-of-range, a real current is good', () => {
    expect(sdm630.points.find((p) => p.id === 'current_l1')).toMatchObject({ type: 'f32', unit: 'A', min: 0 });
    expect(sdm630.points.find((p) => p.id === 'current_l1')!.max).toBeUndefined();
    const r = decodeImage(sdm630, image(sdm630, { current_l2: 12.5, frequency: 50 }, { current_l1: [0x7f7f, 0xffff] }));
    expect(r.get('current_l1')).toMatchObject({ quality: 'out-of-range' });
    expect(r.get('current_l1')!.value).toBeGreaterThan(3.4e38);
    expect(r.get('current_l1')!.error).toMatch(/above the maximum 100000 \(plausible range, default for 'A'\)/);
    expect(r.get('current_l2')).toMatchObject({ value: 12.5, quality: 'good' });
    expect(r.get('frequency')).toMatchObject({ value: 50, quality: 'good' });
  });

  it('NaN and infinity on a current point are out-of-range with no value', () => {
    const r = decodeImage(sdm630, image(sdm630, {}, { current_l1: [0x7fc0, 0x0000], current_l2: [0xff80, 0x0000] }));
    expect(r.get('current_l1')).toMatchObject({ value: null, quality: 'out-of-range' });
    expect(r.get('current_l2')).toMatchObject({ value: null, quality: 'out-of-range' });
  });

  const own: Profile = {
    ...sdm630,
    id: 'bounds',
    points: [
      // The profile's max above the default: a 150 kA bus bar is this device's business.
      { id: 'i_big', canonical: 'current_l1', unit: 'A', register: 'input', address: 0, type: 'f32', wordOrder: 'big', byteOrder: 'big', max: 200_000 },
      // The profile's range narrower than the default: 70 Hz is plausible, but not on this meter.
      { id: 'f', canonical: 'frequency', unit: 'Hz', register: 'input', address: 2, type: 'f32', wordOrder: 'big', byteOrder: 'big', min: 45, max: 65 },
      // Only a min from the profile: the default max still applies.
      { id: 'i_min', canonical: 'current_l2', unit: 'A', register: 'input', address: 4, type: 'f32', wordOrder: 'big', byteOrder: 'big', min: -5 },
      // A counter: below 0 is implausible; no unit bound for a point without a unit.
      { id: 'kwh', canonical: 'energy_import', register: 'input', address: 6, type: 'i32', wordOrder: 'big', byteOrder: 'big' },
      { id: 'raw', register: 'input', address: 8, type: 'f32', wordOrder: 'big', byteOrder: 'big' },
    ] satisfies ProfilePoint[],
  };

  it("the profile's own min/max take precedence over the unit's default, bound by bound", () => {
    const r = decodeImage(own, image(own, { i_big: 150_000, f: 70, i_min: -4, kwh: -1 }, { raw: [0x7f7f, 0xffff] }));
    expect(r.get('i_big')).toMatchObject({ value: 150_000, quality: 'good' });
    expect(r.get('f')).toMatchObject({ value: 70, quality: 'out-of-range', error: '70 is above the maximum 65' });
    expect(r.get('i_min')).toMatchObject({ value: -4, quality: 'good' });
    expect(r.get('kwh')).toMatchObject({ value: -1, quality: 'out-of-range' });
    expect(r.get('raw')!.quality).toBe('good');
    const r2 = decodeImage(own, image(own, { i_min: 200_000, kwh: 5 }));
    expect(r2.get('i_min')).toMatchObject({ value: 200_000, quality: 'out-of-range' });
    expect(r2.get('kwh')).toMatchObject({ value: 5, quality: 'good' });
  });

  it('the defaults are versioned data covering the canonical units, each with a rationale', () => {
    expect(PLAUSIBLE_RANGES_VERSION).toBeGreaterThanOrEqual(1);
    const units = new Set(Object.values(CANONICAL).map((c) => c.unit));
    for (const u of ['A', 'V', 'W', 'var', 'VA', 'Hz', 'kWh', 'kvarh', '%', '°C']) expect(units.has(u), u).toBe(true);
    for (const [u, r] of Object.entries(PLAUSIBLE_RANGES)) {
      expect(units.has(u), `${u} is a canonical unit`).toBe(true);
      expect(r.min, u).toBeLessThan(r.max);
      expect(r.rationale.length, u).toBeGreaterThan(10);
    }
    expect(PLAUSIBLE_RANGES.A).toMatchObject({ min: -100_000, max: 100_000 });
    expect(PLAUSIBLE_RANGES.kWh).toMatchObject({ min: 0, max: 1e12 });
  });
});
