import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinProfileDir, loadProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles } from '../../drivers/profiles/types.js';
import { MAX_PROFILE_BYTES } from '../../runtime/config/read-file.js';

const dirs: string[] = [];
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ce-profiles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HEADER = `version: 1
manufacturer: Acme
model: M1
kind: meter
source:
  document: Acme M1 Modbus map rev 3
limits:
  maxRegistersPerRequest: 60
  maxFillRegisters: 10
  interRequestDelayMs: 20
  timeoutMs: 500
`;

describe('loadProfiles', () => {
  it('loads a valid profile and applies defaults', () => {
    const dir = dirWith({
      'acme-m1.yaml': `id: acme-m1
${HEADER}defaults:
  wordOrder: little
points:
  - id: power
    canonical: active_power
    register: input
    address: 12
    type: f32
  - id: volt
    canonical: voltage_l1
    unit: V
    register: input
    address: 0
    type: u16
    scale: 0.1
    byteOrder: little
  - id: relay
    register: coil
    address: 0
    type: bit
    access: read-write
modes:
  on:
    writes: [{ point: relay, value: true }]
`,
    });
    const { profiles, issues } = loadProfiles([dir]);
    expect(issues).toEqual([]);
    const p = modbusProfiles(profiles).get('acme-m1')!;
    expect(p.file).toBe(path.join(dir, 'acme-m1.yaml'));
    expect(p.limits.prohibited).toEqual([]);
    expect(p.points[0]).toMatchObject({ id: 'power', wordOrder: 'little', byteOrder: 'big', access: 'read', unit: 'W' });
    expect(p.points[1]).toMatchObject({ wordOrder: 'little', byteOrder: 'little', unit: 'V', scale: 0.1 });
    expect(p.modes!.on!.writes).toEqual([{ point: 'relay', value: true }]);
  });

  it('reports every issue at once, with file, path, line and what was expected', () => {
    const text = `id: acme-bad
${HEADER}  prohibited:
    - { register: input, start: 40, end: 49 }
points:
  - id: power
    canonical: active_power
    register: input
    address: 12
    type: f32
    scaleFactorPoint: nope
  - id: power
    register: input
    address: 20
    type: u16
  - id: flag
    register: holding
    address: 3
    type: bit
  - id: name
    register: holding
    address: 100
    type: string
  - id: hole
    register: input
    address: 44
    type: u16
  - id: watts
    canonical: wattage
    register: input
    address: 30
    type: u16
  - id: kwh
    register: coil
    address: 1
    type: u32
  - id: sf
    register: input
    address: 50
    type: u16
  - id: scaled
    register: input
    address: 52
    type: i16
    scaleFactorPoint: sf
  - id: energy
    canonical: energy_import
    unit: Wh
    register: input
    address: 60
    type: u32
  - id: setpoint
    register: holding
    address: 200
    type: u16
  - id: overlap
    register: input
    address: 13
    type: u16
modes:
  boost:
    writes:
      - { point: setpoint, value: 5 }
      - { point: ghost, value: 1 }
`;
    const dir = dirWith({ 'acme-bad.yaml': text });
    const { profiles, issues } = loadProfiles([dir]);
    expect(profiles.size).toBe(0);
    const file = path.join(dir, 'acme-bad.yaml');
    for (const i of issues) expect(i.file).toBe(file);
    const at = (p: string) => issues.filter((i) => i.path === p);
    const lineOf = (needle: string, from = 0) => text.split('\n').findIndex((l, k) => k >= from && l.includes(needle)) + 1;
    expect(at('/points/0/scaleFactorPoint')[0]!.message).toMatch(/unknown point 'nope'/);
    expect(at('/points/0/scaleFactorPoint')[0]!.line).toBe(lineOf('scaleFactorPoint: nope'));
    expect(at('/points/1/id')[0]!.message).toMatch(/duplicate point id 'power' \(also \/points\/0\)/);
    expect(at('/points/2/bit')[0]!.message).toMatch(/needs 'bit' \(0\.\.15\)/);
    expect(at('/points/3/length')[0]!.message).toMatch(/'string' point needs 'length'/);
    expect(at('/points/4/address')[0]!.message).toMatch(/inside prohibited range \/limits\/prohibited\/0 \(40\.\.49\)/);
    expect(at('/points/4/address')[0]!.line).toBe(lineOf('address: 44'));
    expect(at('/points/5/canonical')[0]!.message).toMatch(/'wattage' is not in the canonical vocabulary/);
    expect(at('/points/6/type')[0]!.message).toMatch(/a coil is a single bit: expected type 'bit', got 'u32'/);
    expect(at('/points/8/scaleFactorPoint')[0]!.message).toMatch(/must be an i16, it is u16/);
    expect(at('/points/9/unit')[0]!.message).toMatch(/canonical 'energy_import' is in 'kWh', got 'Wh'/);
    expect(at('/points/11/address')[0]!.message).toMatch(/overlaps 'power'/);
    expect(at('/modes/boost/writes/0/point')[0]!.message).toMatch(/'setpoint' is not writeable: expected access 'read-write'/);
    expect(at('/modes/boost/writes/1/point')[0]!.message).toMatch(/unknown point 'ghost'/);
    expect(issues.length).toBe(12);
    for (const i of issues) expect(i.line).toBeGreaterThan(0);
  });

  it('reports schema errors for every file and keeps the valid ones', () => {
    const dir = dirWith({
      'good.yaml': `id: good\n${HEADER}points:\n  - { id: a, register: holding, address: 0, type: u16 }\n`,
      'schema-bad.yaml': `id: schema-bad
version: 0
manufacturer: Acme
model: M1
kind: toaster
source: {}
limits:
  maxRegistersPerRequest: 200
  maxFillRegisters: 10
  interRequestDelayMs: 0
  timeoutMs: 500
points:
  - id: a
    register: holdings
    address: 70000
    type: float
    colour: red
`,
      'syntax.yaml': 'id: [unclosed\n',
      'wrong-name.json': JSON.stringify({ id: 'other', version: 1, manufacturer: 'A', model: 'B', kind: 'meter', source: { document: 'd' }, limits: { maxRegistersPerRequest: 10, maxFillRegisters: 0, interRequestDelayMs: 0, timeoutMs: 100 }, points: [{ id: 'a', register: 'holding', address: 0, type: 'u16' }] }),
      'notes.txt': 'ignored',
    });
    const { profiles, issues } = loadProfiles([dir]);
    expect([...profiles.keys()]).toEqual(['good']);
    const bad = issues.filter((i) => i.file.endsWith('schema-bad.yaml'));
    const msg = (p: string) => bad.find((i) => i.path === p)?.message;
    expect(msg('/version')).toMatch(/>= 1/);
    expect(msg('/kind')).toMatch(/expected one of .*'meter'.*got 'toaster'/);
    expect(msg('/source/document')).toMatch(/required/);
    expect(msg('/limits/maxRegistersPerRequest')).toMatch(/<= 125/);
    expect(msg('/points/0/register')).toMatch(/'holding'.*got 'holdings'/);
    expect(msg('/points/0/address')).toMatch(/<= 65535/);
    expect(msg('/points/0/type')).toMatch(/'f32'.*got 'float'/);
    expect(msg('/points/0/colour')).toMatch(/unknown field 'colour'/);
    expect(bad.find((i) => i.path === '/points/0/colour')!.line).toBe(17);
    expect(issues.find((i) => i.file.endsWith('syntax.yaml'))!.message).toMatch(/YAML syntax/);
    expect(issues.find((i) => i.file.endsWith('wrong-name.json'))!.message).toMatch(/equal the file name 'wrong-name', got 'other'/);
  });

  it('a duplicate profile id across directories and a missing directory are issues', () => {
    const a = dirWith({ 'dup.yaml': `id: dup\n${HEADER}points:\n  - { id: a, register: holding, address: 0, type: u16 }\n` });
    const b = dirWith({ 'dup.yaml': `id: dup\n${HEADER}points:\n  - { id: b, register: holding, address: 0, type: u16 }\n` });
    const { profiles, issues } = loadProfiles([a, b, path.join(a, 'missing')]);
    expect(profiles.get('dup')!.points[0]!.id).toBe('a');
    expect(issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/duplicate profile id 'dup' \(already defined in .*dup\.yaml\)/),
      expect.stringMatching(/cannot read the profile directory: ENOENT/),
    ]);
  });

  it('mode values must suit the point', () => {
    const dir = dirWith({
      'modes.yaml': `id: modes
${HEADER}points:
  - { id: relay, register: coil, address: 0, type: bit, access: read-write }
  - { id: mode, register: holding, address: 0, type: u16, access: read-write, max: 4 }
  - { id: level, register: input, address: 0, type: u16, access: read-write }
modes:
  a: { writes: [{ point: relay, value: 2 }] }
  b: { writes: [{ point: mode, value: 9 }] }
  c: { writes: [{ point: mode, value: true }] }
`,
    });
    const { issues } = loadProfiles([dir]);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^\/points\/2\/access: input registers are read-only/),
      expect.stringMatching(/^\/modes\/a\/writes\/0\/value: point 'relay' is a bit: expected true\/false, got 2/),
      expect.stringMatching(/^\/modes\/b\/writes\/0\/value: cannot write 9 to 'mode': .*above the maximum 4/),
      expect.stringMatching(/^\/modes\/c\/writes\/0\/value: point 'mode' is a u16: expected a number, got true/),
    ]);
  });

  it('builtinProfileDir finds device-profiles/ with the schema', () => {
    expect(builtinProfileDir()).toBe(path.resolve('device-profiles'));
  });

  it('reads only regular files under the size limit: a link to /dev/zero, a FIFO and a huge file are issues, the rest loads', () => {
    const dir = dirWith({
      'good.yaml': `id: good\n${HEADER}points:\n  - { id: a, register: holding, address: 0, type: u16 }\n`,
      'huge.yaml': `id: huge\n${HEADER}points:\n  - { id: a, register: holding, address: 0, type: u16 }\n# ${'x'.repeat(MAX_PROFILE_BYTES)}\n`,
    });
    symlinkSync('/dev/zero', path.join(dir, 'zero.yaml'));
    execFileSync('mkfifo', [path.join(dir, 'fifo.yaml')]);
    const { profiles, issues } = loadProfiles([dir]);
    expect([...profiles.keys()]).toEqual(['good']);
    const byFile = Object.fromEntries(issues.map((i) => [path.basename(i.file), i]));
    expect(byFile['zero.yaml']).toMatchObject({ code: 'CE_CONFIG_NOT_REGULAR_FILE', message: 'cannot read the profile: expected a regular file, got a device' });
    expect(byFile['fifo.yaml']).toMatchObject({ code: 'CE_CONFIG_NOT_REGULAR_FILE', message: 'cannot read the profile: expected a regular file, got a FIFO' });
    expect(byFile['huge.yaml']).toMatchObject({ code: 'CE_CONFIG_FILE_TOO_LARGE' });
    expect(issues).toHaveLength(3);
  });
});
