import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSiteConfigFile, loadSiteConfigText } from '../../tools/cli/site.js';
import { ConfigError } from '../../runtime/config/errors.js';

const exec = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'ce-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = `version: 1
site: { id: plant-1, name: Test plant }
gateway: { id: gw-1 }
buses:
  - { id: rs485-1, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: even }
  - { id: lan, type: tcp, host: 127.0.0.1, port: 1502 }
devices:
  - { id: grid, role: grid_meter, bus: rs485-1, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }
  - { id: meter2, role: submeter, bus: lan, unitId: 1, profile: chint-dtsu666, pollIntervalMs: 5000 }
`;

function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('site configuration', () => {
  it('accepts a valid file and resolves profiles', () => {
    const site = loadSiteConfigText(good, 'site.yaml');
    expect(site.config.devices.map((d) => d.id)).toEqual(['grid', 'meter2']);
    expect(site.profiles.get('eastron-sdm630')?.points.length).toBeGreaterThan(5);
  });

  it('reports every error at once with file, path, line and what was expected', () => {
    const bad = `version: 1
site: { id: plant-1 }
gateway: { id: gw-1 }
buses:
  - { id: rs485-1, type: rtu, path: /dev/ttyUSB0, baudRate: 9601, parity: even }
devices:
  - id: grid
    role: grid_meter
    bus: rs485-1
    unitId: "one"
    profile: eastron-sdm630
    pollIntervalMs: 5000
  - id: pv
    role: solar
    bus: rs485-1
    unitId: 2
    profile: eastron-sdm630
    pollIntervalMs: 5000
    colour: red
`;
    const issues = issuesOf(() => loadSiteConfigText(bad, 'bad.yaml'));
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(byPath['/buses/0/baudRate']?.message).toMatch(/expected one of .*9600/);
    expect(byPath['/buses/0/baudRate']?.line).toBe(5);
    expect(byPath['/devices/0/unitId']?.message).toMatch(/expected integer, got string/);
    expect(byPath['/devices/0/unitId']?.line).toBe(10);
    expect(byPath['/devices/1/role']?.message).toMatch(/expected one of .*grid_meter.*got 'solar'/);
    expect(byPath['/devices/1/colour']?.message).toMatch(/unknown field 'colour'/);
    expect(byPath['/devices/1/colour']?.message).toContain('(expected one of: id, name, role, bus, unitId, profile, pollIntervalMs, staleAfterMs, timeoutMs, tags)');
    expect(issues.every((i) => i.file === 'bad.yaml')).toBe(true);
  });

  it('lists the fields an object accepts for an unknown field, also inside if/then/else branches', () => {
    const bad = good.replace('parity: even }', 'parity: even, speed: 9600 }').replace('gateway: { id: gw-1 }', 'gateway: { id: gw-1, dryrun: true }');
    const issues = issuesOf(() => loadSiteConfigText(bad, 'bad.yaml'));
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['/gateway/dryrun']).toBe("unknown field 'dryrun' (did you mean 'dryRun'? expected one of: id, dryRun, staleAfterMs, dataDir)");
    expect(byPath['/buses/0/speed']).toBe("unknown field 'speed' (expected one of: id, timeoutMs, interRequestDelayMs, type, path, baudRate, parity, dataBits, stopBits)");
  });

  it('checks cross references: buses, unit ids, profiles, shared serial ports', () => {
    const bad = `version: 1
site: { id: s }
gateway: { id: g }
buses:
  - { id: a, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }
  - { id: b, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }
devices:
  - { id: m1, role: grid_meter, bus: a, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 1000 }
  - { id: m2, role: submeter, bus: a, unitId: 1, profile: no-such-meter, pollIntervalMs: 1000 }
  - { id: m3, role: submeter, bus: c, unitId: 0, profile: eastron-sdm630, pollIntervalMs: 1000 }
`;
    const messages = issuesOf(() => loadSiteConfigText(bad, 'x.yaml')).map((i) => `${i.path} ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/buses\/1\/path serial port \/dev\/ttyUSB0 is already used by bus 'a'/),
        expect.stringMatching(/^\/devices\/1\/unitId unit id 1 on bus 'a' is already used by device 'm1'/),
        expect.stringMatching(/^\/devices\/1\/profile unknown profile 'no-such-meter' \(expected one of: .*eastron-sdm630/),
        expect.stringMatching(/^\/devices\/2\/bus unknown bus 'c'/),
      ]),
    );
  });

  it('lets the profiles of one sharesUnit group share a unit id (a Huawei SUN2000 with its meter and battery), nothing else', () => {
    const head = `version: 1
site: { id: s }
gateway: { id: g }
buses:
  - { id: dongle, type: tcp, host: 192.0.2.10, port: 502 }
devices:
  - { id: inv, role: pv_inverter, bus: dongle, unitId: 1, profile: huawei-sun2000, pollIntervalMs: 5000 }
  - { id: meter, role: grid_meter, bus: dongle, unitId: 1, profile: huawei-sun2000-dtsu666h, pollIntervalMs: 5000 }
  - { id: bat, role: battery, bus: dongle, unitId: 1, profile: huawei-luna2000, pollIntervalMs: 5000 }
`;
    expect(loadSiteConfigText(head, 'huawei.yaml').config.devices.map((d) => `${d.id}@${d.unitId}`)).toEqual(['inv@1', 'meter@1', 'bat@1']);
    const bad = `${head}  - { id: inv2, role: pv_inverter, bus: dongle, unitId: 1, profile: huawei-sun2000, pollIntervalMs: 5000 }
  - { id: other, role: submeter, bus: dongle, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }
`;
    expect(issuesOf(() => loadSiteConfigText(bad, 'huawei.yaml')).map((i) => `${i.code} ${i.path} ${i.message}`)).toEqual([
      "CE_CONFIG_CONFLICT /devices/3/unitId unit id 1 on bus 'dongle' is already used by device 'inv' with the same profile 'huawei-sun2000' (devices sharing a unit id need different profiles of one group)",
      "CE_CONFIG_CONFLICT /devices/4/unitId unit id 1 on bus 'dongle' is already used by device 'inv'",
    ]);
  });

  it('names YAML syntax errors with their line', () => {
    const issues = issuesOf(() => loadSiteConfigText('version: 1\nsite: { id: x\n', 'broken.yaml'));
    expect(issues[0]!.message).toMatch(/YAML syntax/);
    expect(issues[0]!.line).toBeGreaterThan(0);
  });

  it('reports a missing file as a config error naming it', async () => {
    await expect(loadSiteConfigFile(path.join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml.*cannot read the configuration file: ENOENT/s);
  });

  it('`carbonedge check` exits 0 on a valid file and 1 listing every error on a bad one', async () => {
    const okFile = path.join(dir, 'ok.yaml');
    writeFileSync(okFile, good);
    const ok = await exec(process.execPath, ['tools/carbonedge.js', 'check', '--config', okFile]);
    expect(ok.stdout).toMatch(/OK \(site plant-1, gateway gw-1, 2 bus\(es\), 2 device\(s\)/);
    const badFile = path.join(dir, 'bad.yaml');
    writeFileSync(badFile, good.replace('unitId: 1, profile: eastron', 'unitId: 300, profile: eastron').replace('port: 1502', 'port: 70000'));
    const res = await exec(process.execPath, ['tools/carbonedge.js', 'check', '--config', badFile]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refusing to start/);
    expect(res.stderr).toMatch(new RegExp(`${badFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ /devices/0/unitId: expected a number <= 255`));
    expect(res.stderr).toMatch(/\/buses\/1\/port: expected a number <= 65535/);
  });
});
