/** `carbonedge profiles list|show|validate` as an installer runs it (the built CLI, separate processes). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles } from '../../drivers/profiles/types.js';

const exec = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const cli = (...args: string[]) =>
  exec(process.execPath, [CLI, 'profiles', ...args], { timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
const all = loadBuiltinProfiles().profiles;

describe('carbonedge profiles', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'profiles-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('list --json: every library profile with id, kind, manufacturer, model, protocol, version', async () => {
    const r = await cli('list', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((x) => x.id)).toEqual([...all.keys()].sort());
    expect(rows.find((x) => x.id === 'dlt645-2007')).toMatchObject({ kind: 'meter', protocol: 'dlt645-2007', version: 1 });
    expect(rows.find((x) => x.id === 'eastron-sdm630')).toMatchObject({ kind: 'meter', manufacturer: 'Eastron', protocol: 'modbus' });
  });

  it('list --kind and --manufacturer filter; the table has the named columns', async () => {
    const meters = JSON.parse((await cli('list', '--kind', 'meter', '--json')).stdout) as { id: string; kind: string }[];
    expect(meters.length).toBeGreaterThan(1);
    expect(meters.every((m) => m.kind === 'meter')).toBe(true);
    const t = await cli('list', '--kind', 'meter', '--manufacturer', 'eastron');
    expect(t.stdout.split('\n')[0]).toMatch(/^id\s+kind\s+manufacturer\s+model\s+protocol\s+version$/);
    expect(t.stdout).toMatch(/eastron-sdm630\s+meter\s+Eastron/);
    expect(t.stdout).not.toMatch(/chint-dtsu666/);
  });

  it('show ID: points and the requests the poller plans (same planner)', async () => {
    const r = await cli('show', 'chint-dtsu666', '--json');
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as { points: { id: string; at: string; canonical: string; access: string }[]; requests: { request: string; points: string[] }[] };
    const profile = modbusProfiles(all).get('chint-dtsu666')!;
    expect(shown.points.map((p) => p.id)).toEqual(profile.points.map((p) => p.id));
    expect(shown.points.find((p) => p.id === 'active_power')).toMatchObject({ at: 'holding 8210', canonical: 'active_power', access: 'read' });
    const plan = planReads(profile);
    expect(shown.requests.map((q) => q.points)).toEqual(plan.map((b) => b.points.map((p) => p.id)));
    expect(shown.requests[0]!.request).toBe(`FC03 holding ${plan[0]!.start}..${plan[0]!.start + plan[0]!.count - 1} (${plan[0]!.count})`);
    const text = await cli('show', 'dlt645-2007');
    expect(text.stdout).toMatch(/energy_import\s+DI 00010000\s+XXXXXX\.XX\s+kWh\s+energy_import\s+read/);
    expect(text.stdout).toMatch(/11h read DI 00010000/);
    // A DL/T 645-1997 meter is read with 01h and 2-byte identifiers.
    expect((await cli('show', 'dlt645-1997')).stdout).toMatch(/01h read DI 9010\s+energy_import/);
  });

  it('show of an unknown id: exit 2 with the ids there are', async () => {
    const r = await cli('show', 'no-such-meter');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown profile 'no-such-meter' \(available: .*eastron-sdm630/);
  });

  it('validate FILE: every issue with file:line, path and what was expected, exit 1, nothing else', async () => {
    const file = path.join(dir, 'acme-m1.yaml');
    writeFileSync(
      file,
      `id: acme-m1
version: 1
manufacturer: Acme
model: M1
kind: meter
source: { document: Acme M1 manual }
limits: { maxRegistersPerRequest: 100, maxFillRegisters: 10, interRequestDelayMs: 0, timeoutMs: 500 }
points:
  - { id: power, register: holding, address: 10, type: f33, canonical: active_power }
  - { id: energy, register: input, address: 20, type: u32, access: read-write }
`,
    );
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`${file}: the profile has errors`);
    expect(lines.slice(1)).toEqual([
      `  - CE_CONFIG_ENUM ${file}:9:56 /points/0/type: expected one of 'u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64', 'string', 'bit', got 'f33' (did you mean 'f32'?)`,
    ]);
    expect(r.stderr).not.toMatch(/unknown profile/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('f33', 'f32'));
    const semantic = await cli('validate', file);
    expect(semantic.code).toBe(1);
    expect(semantic.stderr).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:10:\\d+ /points/1/access: input registers are read-only: expected 'read', got 'read-write'`));
    writeFileSync(file, readFileSync(file, 'utf8').replace(', access: read-write', ''));
    const ok = await cli('validate', file);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toBe(`${file}: OK (acme-m1 v1, Acme M1, 2 points, modbus)\n`);
  });
});
