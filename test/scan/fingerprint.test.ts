import { describe, expect, it } from 'vitest';
import type { Profile } from '../../drivers/profiles/types.js';
import { fingerprint, type WordReader } from '../../tools/scan/fingerprint.js';
import { testMeter } from '../drivers/fixtures.js';

/** A register image as a reader: a missing register is an exception, as a device answers. */
const reader = (img: Partial<Record<'holding' | 'input', Record<number, number>>>): WordReader => async (register, address, count) =>
  Array.from({ length: count }, (_, i) => {
    const w = img[register]?.[address + i];
    if (w === undefined) throw new Error(`exception 02 at ${register} ${address + i}`);
    return w;
  });

const profile = (id: string, identify: Profile['identify']): Profile => ({ ...testMeter, id, ...(identify ? { identify } : {}) });
// testMeter: frequency = holding 10 (u16, x0.01 Hz).
const image = { holding: { 10: 5000, 11: 215, 100: 0x1234, 101: 0x5678 } };

describe('fingerprint', () => {
  it('claims a profile only when every probe holds; a profile without identify is never claimed', async () => {
    const profiles = [
      profile('no-identify', undefined),
      profile('freq', [{ point: 'frequency', min: 45, max: 65 }]),
      profile('freq-and-words', [{ point: 'frequency', min: 45, max: 65 }, { register: 'holding', address: 100, value: [0x1234, 0x5678] }]),
      profile('wrong-words', [{ point: 'frequency', min: 45, max: 65 }, { register: 'holding', address: 100, value: [0x1234, 0x0000] }]),
      profile('out-of-range', [{ point: 'frequency', min: 55, max: 65 }]),
      profile('equals', [{ point: 'frequency', equals: 50 }]),
      profile('missing-register', [{ point: 'energy_import', min: 0 }]),
      profile('unknown-point', [{ point: 'nope', min: 0 }]),
    ];
    expect((await fingerprint(profiles, reader(image))).map((p) => p.id)).toEqual(['freq', 'freq-and-words', 'equals']);
  });

  it('reads each probed register once however many profiles probe it', async () => {
    let reads = 0;
    const counting: WordReader = (r, a, c) => {
      reads++;
      return reader(image)(r, a, c);
    };
    await fingerprint([1, 2, 3].map((n) => profile(`p${n}`, [{ point: 'frequency', min: 45, max: 65 }])), counting);
    expect(reads).toBe(1);
  });
});
