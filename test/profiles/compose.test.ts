/**
 * Profile composition (drivers/profiles/compose.ts): `extends` and `include` resolved at load time,
 * with errors that name the file, line and path where the offending part was written.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfileFile, loadProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile } from '../../drivers/profiles/types.js';

const dirs: string[] = [];
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ce-compose-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const BASE = `id: acme-base
version: 1
manufacturer: Acme
model: Base
kind: pv_inverter
source:
  document: Acme inverter Modbus map rev 3
defaults:
  wordOrder: little
limits:
  maxRegistersPerRequest: 60
  maxFillRegisters: 10
  prohibited:
    - { register: input, start: 40, end: 49 }
  interRequestDelayMs: 20
  timeoutMs: 500
points:
  - { id: power, canonical: active_power, register: input, address: 0, type: i32 }
  - { id: energy, canonical: energy_export, register: input, address: 2, type: u32, scale: 0.1 }
  - { id: mode, register: holding, address: 100, type: u16, access: read-write, max: 3 }
modes:
  hold: { writes: [{ point: mode, value: 1 }] }
  discharge: { writes: [{ point: mode, value: 2 }] }
identify:
  - { register: input, address: 0, value: 1 }
`;

const BLOCK = `block: acme-battery
description: battery registers shared by the hybrid models
source:
  document: Acme inverter Modbus map rev 3, battery section
defaults:
  wordOrder: big
points:
  - { id: soc, canonical: soc, register: input, address: 20, type: u16, scale: 0.1 }
  - { id: battery_power, register: input, address: 21, type: i32, unit: W }
`;

/** The Modbus profiles of the directories (composition is a Modbus-profile feature). */
const load = (d: string[]) => {
  const r = loadProfiles(d);
  return { profiles: modbusProfiles(r.profiles), issues: r.issues };
};
const points = (p: Profile) => p.points.map((q) => q.id);
const point = (p: Profile, id: string) => p.points.find((q) => q.id === id)!;

describe('profile composition', () => {
  it('extends inherits everything and overrides points by id, modes by name, limits by key; include adds block points', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK,
      'acme-hybrid.yaml': `id: acme-hybrid
version: 2
extends: acme-base
include: [acme-battery]
model: Hybrid H1
kind: battery
ratedPowerW: 5000
defaults:
  wordOrder: big
limits:
  timeoutMs: 900
  prohibited:
    - { register: input, start: 60, end: 69 }
points:
  - { id: energy, canonical: energy_export, register: input, address: 2, type: u32, scale: 0.01 }
  - { id: temp, canonical: temperature, register: input, address: 30, type: i16, scale: 0.1 }
modes:
  discharge: { writes: [{ point: mode, value: 3 }] }
  grid-charge: { writes: [{ point: mode, value: 0 }] }
identify:
  - { register: input, address: 0, value: 2 }
`,
    });
    const { profiles, issues } = load([dir]);
    expect(issues).toEqual([]);
    const h = profiles.get('acme-hybrid')!;
    expect(h).toMatchObject({ id: 'acme-hybrid', version: 2, manufacturer: 'Acme', model: 'Hybrid H1', kind: 'battery', ratedPowerW: 5000, file: path.join(dir, 'acme-hybrid.yaml') });
    expect(h.source.document).toBe('Acme inverter Modbus map rev 3');
    expect(points(h)).toEqual(['power', 'energy', 'mode', 'soc', 'battery_power', 'temp']);
    // Inherited points keep the base file's word order; block points the block's; own points this file's.
    expect(point(h, 'power').wordOrder).toBe('little');
    expect(point(h, 'battery_power').wordOrder).toBe('big');
    expect(point(h, 'energy')).toMatchObject({ scale: 0.01, wordOrder: 'big' });
    expect(h.limits).toMatchObject({ maxRegistersPerRequest: 60, timeoutMs: 900, interRequestDelayMs: 20 });
    expect(h.limits.prohibited.map((r) => r.start)).toEqual([40, 60]);
    expect(h.modes).toEqual({
      hold: { writes: [{ point: 'mode', value: 1 }] },
      discharge: { writes: [{ point: 'mode', value: 3 }] },
      'grid-charge': { writes: [{ point: 'mode', value: 0 }] },
    });
    expect(h.identify).toEqual([{ register: 'input', address: 0, value: 2 }]);
    // The base is untouched.
    const b = profiles.get('acme-base')!;
    expect(points(b)).toEqual(['power', 'energy', 'mode']);
    expect(point(b, 'energy')).toMatchObject({ scale: 0.1, wordOrder: 'little' });
    expect(b.modes!.discharge!.writes[0]!.value).toBe(2);
  });

  it('a profile made only of blocks needs no points of its own; a chain of extends resolves', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK,
      'acme-mid.yaml': 'id: acme-mid\nversion: 1\nextends: acme-base\nmodel: Mid\n',
      'acme-top.yaml': 'id: acme-top\nversion: 1\nextends: acme-mid\ninclude: [acme-battery]\n',
    });
    const { profiles, issues } = load([dir]);
    expect(issues).toEqual([]);
    expect(profiles.get('acme-top')!.model).toBe('Mid');
    expect(points(profiles.get('acme-top')!)).toEqual(['power', 'energy', 'mode', 'soc', 'battery_power']);
  });

  it('an unknown base, an unknown block and a cycle are errors naming file, line and path', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'lost.yaml': 'id: lost\nversion: 1\n\nextends: acme-bse\n',
      'noblock.yaml': 'id: noblock\nversion: 1\nextends: acme-base\ninclude:\n  - acme-batery\n',
      'loop-a.yaml': 'id: loop-a\nversion: 1\nextends: loop-b\n',
      'loop-b.yaml': 'id: loop-b\nversion: 1\nextends: loop-a\n',
      'onto-loop.yaml': 'id: onto-loop\nversion: 1\nextends: loop-a\n',
    });
    const { profiles, issues } = load([dir]);
    expect([...profiles.keys()]).toEqual(['acme-base']);
    const byFile = (name: string) => issues.filter((i) => path.basename(i.file) === name);
    expect(byFile('lost.yaml')).toEqual([
      expect.objectContaining({ path: '/extends', line: 4, code: 'CE_CONFIG_UNKNOWN_REF', message: expect.stringMatching(/^unknown profile 'acme-bse' to extend \(expected .*acme-base/) }),
    ]);
    expect(byFile('noblock.yaml')).toEqual([
      expect.objectContaining({ path: '/include/0', line: 5, code: 'CE_CONFIG_UNKNOWN_REF', message: expect.stringMatching(/^unknown point block 'acme-batery'/) }),
    ]);
    expect(byFile('loop-a.yaml')).toEqual([expect.objectContaining({ path: '/extends', line: 3, message: 'extends cycle: loop-a -> loop-b -> loop-a (a profile cannot inherit from itself)' })]);
    expect(byFile('loop-b.yaml')).toEqual([expect.objectContaining({ path: '/extends', message: 'extends cycle: loop-b -> loop-a -> loop-b (a profile cannot inherit from itself)' })]);
    expect(byFile('onto-loop.yaml')).toEqual([expect.objectContaining({ path: '/extends', message: "cannot extend 'loop-a': its extends chain has a cycle (loop-a -> loop-b -> loop-a)" })]);
    expect(issues).toHaveLength(5);
  });

  it('a duplicate point id after the merge is an error naming both places', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK,
      'blocks/acme-power.yaml': 'block: acme-power\nsource: { document: Acme map rev 3 }\npoints:\n  - { id: power, register: input, address: 50, type: i16 }\n',
      'clash.yaml': 'id: clash\nversion: 1\nextends: acme-base\ninclude: [acme-battery, acme-power]\n',
      'twice.yaml': 'id: twice\nversion: 1\nextends: acme-base\ninclude: [acme-battery, acme-battery]\n',
    });
    const { issues } = load([dir]);
    const clash = issues.filter((i) => i.file.endsWith('clash.yaml'));
    expect(clash).toEqual([expect.objectContaining({ path: '/include/1', line: 4, code: 'CE_CONFIG_DUPLICATE_ID' })]);
    expect(clash[0]!.message).toMatch(/^duplicate point id 'power' after composition: block 'acme-power' defines it at .*acme-power\.yaml:4 \/points\/0, already defined at .*acme-base\.yaml:18 \/points\/0$/);
    expect(issues.filter((i) => i.file.endsWith('twice.yaml')).map((i) => i.message)).toEqual([
      expect.stringMatching(/duplicate point id 'soc'/),
      expect.stringMatching(/duplicate point id 'battery_power'/),
    ]);
  });

  it('checks of the composed profile point at the file and line that wrote the part', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK,
      'bad.yaml': `id: bad
version: 1
extends: acme-base
include: [acme-battery]
limits:
  prohibited:
    - { register: input, start: 20, end: 20 }
points:
  - { id: extra, register: input, address: 3, type: u16 }
  - { id: extra, register: input, address: 90, type: u16 }
modes:
  hold: { writes: [{ point: nothing, value: 1 }] }
`,
    });
    const { issues } = load([dir]);
    const seen = issues.map((i) => `${path.basename(i.file)}:${i.line} ${i.path}: ${i.message}`);
    expect(seen).toEqual([
      expect.stringMatching(/^bad\.yaml:10 \/points\/1\/id: duplicate point id 'extra'/),
      // The block's point lies in the extending file's prohibited range: reported at the block's line.
      expect.stringMatching(/^acme-battery\.yaml:8 \/points\/0\/address: point input 20\.\.20 lies inside prohibited range/),
      expect.stringMatching(/^bad\.yaml:9 \/points\/0\/address: point 'extra' \(input 3\.\.3\) overlaps 'energy' \(2\.\.3\)/),
      expect.stringMatching(/^bad\.yaml:12 \/modes\/hold\/writes\/0\/point: unknown point 'nothing'/),
    ]);
  });

  it('a problem in a base is reported once, not again for each profile that extends it', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE.replace('address: 2, type: u32', 'address: 1, type: u32'),
      'acme-a.yaml': 'id: acme-a\nversion: 1\nextends: acme-base\n',
      'acme-b.yaml': 'id: acme-b\nversion: 1\nextends: acme-base\n',
    });
    const { issues } = load([dir]);
    expect(issues.map((i) => `${path.basename(i.file)}:${i.line} ${i.path}`)).toEqual(['acme-base.yaml:19 /points/1/address']);
  });

  it('a block is checked on its own: its name, and no profile keys', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK.replace('block: acme-battery', 'block: acme-batt'),
      'blocks/with-id.yaml': `block: with-id\nid: with-id\n${BLOCK.split('\n').slice(1).join('\n')}`,
      'user.yaml': 'id: user\nversion: 1\nextends: acme-base\ninclude: [acme-battery]\n',
    });
    const { profiles, issues } = load([dir]);
    expect(profiles.has('user')).toBe(false);
    const seen = issues.map((i) => `${path.basename(i.file)} ${i.path}: ${i.message}`);
    expect(seen).toEqual(expect.arrayContaining([
      "acme-battery.yaml /block: expected the block id to equal the file name 'acme-battery', got 'acme-batt'",
      expect.stringMatching(/^with-id\.yaml \/id: /),
      expect.stringMatching(/^user\.yaml \/include\/0: cannot include 'acme-battery': that block has errors/),
    ]));
  });

  it('extends a built-in profile from another directory, and loadProfileFile resolves alone', () => {
    const dir = dirWith({
      'my-battery.yaml': 'id: my-battery\nversion: 1\nextends: carbonedge-battery\nmodel: Site battery B2\nratedPowerW: 10000\n',
    });
    const one = loadProfileFile(path.join(dir, 'my-battery.yaml'));
    expect(one.issues).toEqual([]);
    expect(one.profile).toMatchObject({ id: 'my-battery', manufacturer: 'carbonedge', model: 'Site battery B2', ratedPowerW: 10000 });
    expect(Object.keys(one.profile!.modes!)).toContain('grid-charge');
    const missing = loadProfileFile(path.join(dir, 'my-battery.yaml'), [dir]);
    expect(missing.issues).toEqual([expect.objectContaining({ path: '/extends', message: expect.stringMatching(/unknown profile 'carbonedge-battery'/) })]);
  });

  it('a DL/T 645 profile extends another (the protocol is inherited): points with di, checked as DL/T 645 after the merge', () => {
    const dir = dirWith({
      'my-dlt.yaml': "id: my-dlt\nversion: 1\nextends: dlt645-2007\nmodel: Site revenue meter\npoints:\n  - { id: max_demand, di: '01010000', format: XX.XXXX, unit: kW, description: forward active maximum demand }\n",
      'bad-dlt.yaml': "id: bad-dlt\nversion: 1\nextends: dlt645-2007\npoints:\n  - { id: wrong, register: holding, address: 1, type: u16 }\n",
    });
    const one = loadProfileFile(path.join(dir, 'my-dlt.yaml'));
    expect(one.issues).toEqual([]);
    expect(one.profile).toMatchObject({ id: 'my-dlt', protocol: 'dlt645-2007', model: 'Site revenue meter' });
    expect(one.profile!.points.at(-1)).toMatchObject({ id: 'max_demand', di: '01010000' });
    const bad = loadProfileFile(path.join(dir, 'bad-dlt.yaml'));
    expect(bad.profile).toBeUndefined();
    expect(bad.issues.length).toBeGreaterThan(0);
    expect(bad.issues.every((i) => i.file.endsWith('bad-dlt.yaml') && i.path.startsWith('/points/'))).toBe(true);
  });

  it('identify probes name points of the composed profile', () => {
    const dir = dirWith({
      'acme-base.yaml': BASE,
      'blocks/acme-battery.yaml': BLOCK,
      'probe.yaml': 'id: probe\nversion: 1\nextends: acme-base\ninclude: [acme-battery]\nidentify:\n  - { point: soc, min: 0, max: 100 }\n  - { point: sco, min: 0 }\n',
    });
    const { issues } = load([dir]);
    expect(issues).toEqual([expect.objectContaining({ path: '/identify/1/point', line: 7, message: "unknown point 'sco' (expected the id of a point of this profile)" })]);
  });

  it('a file with extends needs only id and version; without it the full profile keys', () => {
    const dir = dirWith({ 'half.yaml': 'id: half\nversion: 1\nmodel: Half\n' });
    const { issues } = load([dir]);
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['/manufacturer', '/kind', '/source', '/limits', '/points']));
  });
});
