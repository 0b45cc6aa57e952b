/**
 * `identify` fingerprints of the shipped meter profiles (used by `carbonedge scan`): every probe
 * of a profile holds on its own fixture image, and the probes of one meter never all hold on
 * another meter's image, so a scan tells the meters of the library apart. A register that an
 * image does not hold counts as the device answering exception 02: the probe fails.
 */
import { describe, expect, it } from 'vitest';
import { decodeRaw, registerCount, toEngineering } from '../../drivers/modbus/codec.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type IdentifyProbe, type Profile, type RegisterType } from '../../drivers/profiles/types.js';
import { builtinFixture, rawImage, type RawImage } from './fixture.js';

const profiles = modbusProfiles(loadBuiltinProfiles().profiles);
const meters = [...profiles.values()].filter((p) => p.kind === 'meter' && !p.discover);
const fingerprinted = meters.filter((p) => p.identify?.length);

function wordsAt(image: RawImage, register: RegisterType, address: number, count: number): number[] | undefined {
  const words: number[] = [];
  for (let a = address; a < address + count; a++) {
    const w = image.words.get(`${register}:${a}`);
    if (w === undefined) return undefined;
    words.push(w);
  }
  return words;
}

function pointValue(profile: Profile, id: string, image: RawImage): number | string | boolean | null | undefined {
  const p = profile.points.find((x) => x.id === id);
  if (!p) return undefined;
  const words = wordsAt(image, p.register, p.address, registerCount(p));
  if (!words) return undefined;
  let sf: number | undefined;
  if (p.scaleFactorPoint !== undefined) {
    const v = pointValue(profile, p.scaleFactorPoint, image);
    if (typeof v !== 'number') return undefined;
    sf = v;
  }
  return toEngineering(p, decodeRaw(p, words), sf).value;
}

function holds(profile: Profile, probe: IdentifyProbe, image: RawImage): boolean {
  if ('point' in probe) {
    const v = pointValue(profile, probe.point, image);
    if (probe.equals !== undefined) return v === probe.equals;
    if (typeof v !== 'number') return false;
    return (probe.min === undefined || v >= probe.min) && (probe.max === undefined || v <= probe.max);
  }
  const want = Array.isArray(probe.value) ? probe.value : [probe.value];
  const found = wordsAt(image, probe.register, probe.address, want.length);
  return found !== undefined && found.every((w, i) => w === want[i]);
}

const imageOf = (id: string) => rawImage(builtinFixture(id)).image;
const identifies = (profile: Profile, image: RawImage) => (profile.identify ?? []).every((probe) => holds(profile, probe, image));

describe('identify fingerprints of the meter profiles', () => {
  it('the library has fingerprinted meters', () => {
    expect(fingerprinted.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(fingerprinted.map((p) => [p.id, p] as const))('%s', (_id, profile) => {
    it('names only points of the profile', () => {
      const ids = new Set(profile.points.map((p) => p.id));
      const unknown = (profile.identify ?? []).flatMap((probe) => ('point' in probe && !ids.has(probe.point) ? [probe.point] : []));
      expect(unknown).toEqual([]);
    });

    it('holds on its own fixture image', () => {
      const image = imageOf(profile.id);
      const failing = (profile.identify ?? []).filter((probe) => !holds(profile, probe, image));
      expect(failing).toEqual([]);
    });

    it('does not hold on any other meter of the library', () => {
      const matches = meters.filter((other) => other.id !== profile.id && identifies(profile, imageOf(other.id))).map((o) => o.id);
      expect(matches).toEqual([]);
    });
  });
});
