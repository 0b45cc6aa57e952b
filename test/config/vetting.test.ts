/**
 * `check` vets everything `run` would refuse (issue 8, section 3), and config files are read
 * safely (section 2): time zones with a did-you-mean, schema and cross-reference errors in one
 * pass without follow-on errors, did-you-mean for keys and enum values, rule-file lines, one line
 * for an unknown bus type, stable codes, regular files under a size limit, YAML alias bombs.
 */
import { execFileSync, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigError, type ConfigIssue } from '../../runtime/config/errors.js';
import { MAX_CONFIG_BYTES } from '../../runtime/config/read-file.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { loadSiteConfigFile, loadSiteConfigText, validateSiteConfig } from '../../tools/cli/site.js';

const exec = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'ce-vetting-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

async function issuesOfAsync(p: Promise<unknown>): Promise<ConfigIssue[]> {
  return p.then(
    () => {
      throw new Error('expected a ConfigError');
    },
    (err: unknown) => {
      if (err instanceof ConfigError) return err.issues;
      throw err;
    },
  );
}

/** The demo config as YAML, changed by `edit`. */
function demoYaml(edit: (c: ReturnType<typeof demoSiteConfig>) => void = () => {}): string {
  const c = demoSiteConfig({ tcpPort: 1502 });
  edit(c);
  return YAML.stringify(c);
}

const byPath = (issues: ConfigIssue[]) => Object.fromEntries(issues.map((i) => [i.path, i]));

describe('time zones', () => {
  it('site.timezone and accounting.timezone must be IANA zones the runtime knows, with a did-you-mean', () => {
    const issues = issuesOf(() =>
      loadSiteConfigText(
        demoYaml((c) => {
          c.site.timezone = 'Asia/Shanghi';
          c.accounting = { ...c.accounting, timezone: 'Europe/Berlim' };
        }),
        'tz.yaml',
      ),
    );
    const at = byPath(issues);
    expect(at['/site/timezone']).toMatchObject({ code: 'CE_CONFIG_TIMEZONE', line: 5 });
    expect(at['/site/timezone']!.message).toMatch(/unknown time zone 'Asia\/Shanghi' \(did you mean 'Asia\/Shanghai'\?/);
    expect(at['/accounting/timezone']!.message).toMatch(/did you mean 'Europe\/Berlin'\?/);
  });

  it('a zone with nothing close is refused without a guess', () => {
    const issues = issuesOf(() => validateSiteConfig({ ...demoSiteConfig({ tcpPort: 1502 }), site: { id: 's', timezone: 'Mars/Olympus' } }, '<x>'));
    expect(issues.map((i) => [i.path, i.code])).toEqual([['/site/timezone', 'CE_CONFIG_TIMEZONE']]);
    expect(issues[0]!.message).not.toMatch(/did you mean/);
  });

  it('accepts aliases the runtime knows (UTC, Etc/GMT-8)', () => {
    for (const tz of ['UTC', 'Etc/GMT-8', 'Asia/Shanghai']) {
      expect(() => validateSiteConfig({ ...demoSiteConfig({ tcpPort: 1502 }), site: { id: 's', timezone: tz } }, '<x>')).not.toThrow();
    }
  });
});

describe('schema and cross-reference errors in one pass', () => {
  it('an unknown key does not hide an unknown profile, a duplicate id or a rule error', () => {
    const issues = issuesOf(() =>
      validateSiteConfig(
        {
          ...demoSiteConfig({ tcpPort: 1502 }),
          colour: 'red',
        },
        '<x>',
      ),
    );
    expect(issues.map((i) => i.code)).toEqual(['CE_CONFIG_UNKNOWN_KEY']);
    const c = demoSiteConfig({ tcpPort: 1502 });
    const bad = {
      ...c,
      gateway: { ...c.gateway, dryrun: true },
      devices: c.devices.map((d, i) => (i === 2 ? { ...d, profile: 'no-such-meter' } : i === 4 ? { ...d, id: 'pv' } : d)),
      rules: c.rules!.map((r, i) => (i === 0 && typeof r === 'object' && r !== null ? { ...r, priority: 'high' } : r)),
    };
    const got = issuesOf(() => validateSiteConfig(bad, '<x>')).map((i) => `${i.code} ${i.path}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'CE_CONFIG_UNKNOWN_KEY /gateway/dryrun',
        'CE_CONFIG_UNKNOWN_REF /devices/2/profile',
        'CE_CONFIG_DUPLICATE_ID /devices/4/id',
      ]),
    );
  });

  it('rule errors are reported beside a schema error elsewhere', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const rules = structuredClone(c.rules!);
    const first = rules[0];
    if (typeof first === 'object' && first !== null && 'surplus' in first) first.surplus = 'nowhere.power';
    const issues = issuesOf(() => validateSiteConfig({ ...c, buses: [{ ...c.buses[0]!, colour: 'red' }], rules }, '<x>'));
    expect(issues.map((i) => i.path)).toEqual(expect.arrayContaining(['/buses/0/colour']));
    expect(issues.some((i) => i.path.startsWith('/rules/0') && /nowhere/.test(i.message))).toBe(true);
  });

  it('a mistyped key (baudrate) does not hide rule errors either', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const rules = structuredClone(c.rules!);
    const first = rules[0];
    if (typeof first === 'object' && first !== null && 'surplus' in first) first.surplus = 'nowhere.power';
    const buses = [{ id: 'demo', type: 'rtu', path: '/dev/ttyUSB0', baudrate: 9600, parity: 'none' }];
    const issues = issuesOf(() => validateSiteConfig({ ...c, buses, devices: c.devices.map((d) => ({ ...d, pollIntervalMs: 5000 })), rules }, '<x>'));
    expect(issues.map((i) => `${i.code} ${i.path}`)).toEqual(['CE_CONFIG_UNKNOWN_KEY /buses/0/baudrate', 'CE_CONFIG_INVALID /rules/0/surplus']);
  });

  it('survives malformed parts (no crash, no internal error): devices that are not objects, a bus without fields', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    for (const value of [
      { ...c, devices: [1, null, 'x', ...c.devices] },
      { ...c, buses: [{}], devices: [{ id: 5 }] },
      { ...c, site: 'x', gateway: null, accounting: [] },
      null,
      [],
    ]) {
      const issues = issuesOf(() => validateSiteConfig(value, '<x>'));
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.filter((i) => /internal validation error/.test(i.message))).toEqual([]);
    }
  });
});

describe('did-you-mean and no follow-on errors', () => {
  it('an unknown key suggests the closest known one, and a key typed in the wrong case is one error, not two', () => {
    const text = `version: 1
site: { id: s }
gateway: { id: g }
buses:
  - { id: rs485, type: rtu, path: /dev/ttyUSB0, baudrate: 9600, parity: evn }
devices:
  - { id: m, role: grid_meter, bus: rs485, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }
`;
    const issues = issuesOf(() => loadSiteConfigText(text, 'typo.yaml'));
    expect(issues.map((i) => `${i.code} ${i.path}: ${i.message}`)).toEqual([
      "CE_CONFIG_UNKNOWN_KEY /buses/0/baudrate: unknown field 'baudrate' (did you mean 'baudRate'? expected one of: id, timeoutMs, interRequestDelayMs, type, path, baudRate, parity, dataBits, stopBits)",
      "CE_CONFIG_ENUM /buses/0/parity: expected one of 'none', 'even', 'odd', got 'evn' (did you mean 'even'?)",
    ]);
    expect(issues.every((i) => i.line === 5)).toBe(true);
  });

  it('a numeric enum suggests the nearest value (9200 baud -> 9600)', () => {
    const text = `version: 1
site: { id: s }
gateway: { id: g }
buses: [{ id: b, type: rtu, path: /dev/ttyUSB0, baudRate: 9200, parity: none }]
devices: [{ id: m, role: grid_meter, bus: b, unitId: 1, profile: eastron-sdm630, pollIntervalMs: 5000 }]
`;
    expect(issuesOf(() => loadSiteConfigText(text, 'b.yaml'))[0]!.message).toMatch(/got 9200 \(did you mean 9600\?\)/);
  });

  it('a duplicate device id does not also claim the site has no grid meter', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const issues = issuesOf(() => validateSiteConfig({ ...c, devices: c.devices.map((d, i) => (i === 1 ? { ...d, id: 'grid' } : d)) }, '<x>'));
    expect(issues.map((i) => `${i.code} ${i.path}`)).toEqual(['CE_CONFIG_DUPLICATE_ID /devices/1/id']);
  });

  it('an unknown profile is one error, not also one per rule using the device', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const issues = issuesOf(() => validateSiteConfig({ ...c, devices: c.devices.map((d) => (d.id === 'battery' ? { ...d, profile: 'nope' } : d)) }, '<x>'));
    expect(issues.map((i) => `${i.code} ${i.path}`)).toEqual(['CE_CONFIG_UNKNOWN_REF /devices/2/profile']);
  });

  it('an out-of-range unit id is reported once (not again by the cross check)', () => {
    const text = `version: 1
site: { id: s }
gateway: { id: g }
buses: [{ id: b, type: rtu, path: /dev/ttyUSB0, baudRate: 9600, parity: none }]
devices: [{ id: m, role: grid_meter, bus: b, unitId: 300, profile: eastron-sdm630, pollIntervalMs: 5000 }]
`;
    expect(issuesOf(() => loadSiteConfigText(text, 'u.yaml')).map((i) => i.path)).toEqual(['/devices/0/unitId']);
  });

  it('rule-file errors carry their line, in list and in `rules:` form', () => {
    const listFile = path.join(dir, 'list-rules.yaml');
    writeFileSync(listFile, '- id: a\n  kind: switch\n  output: load.relay\n  when: "true"\n- id: b\n  kind: switch\n  output: nowhere.relay\n  when: "true"\n');
    const objFile = path.join(dir, 'obj-rules.yaml');
    writeFileSync(objFile, 'rules:\n  - id: c\n    kind: switch\n    output: load.relay\n    when: "no_such_input > 1"\n');
    const c = demoSiteConfig({ tcpPort: 1502 });
    const issues = issuesOf(() => validateSiteConfig({ ...c, rules: [], control: { ...c.control, ruleFiles: [listFile, objFile] } }, path.join(dir, 'site.yaml')));
    const inList = issues.find((i) => i.file === listFile);
    expect(inList).toMatchObject({ path: '/1/output', line: 7 });
    const inObj = issues.find((i) => i.file === objFile);
    expect(inObj).toMatchObject({ path: '/0/when', line: 5 });
  });
});

describe('bus types and codes', () => {
  it('a bus of an unknown type gets one line naming the supported types (dlt645 among them), not every field of a branch', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const issues = issuesOf(() => validateSiteConfig({ ...c, buses: [...c.buses, { id: 'meters', type: 'dlt654', path: '/dev/ttyUSB1', baudRate: 2400 }] }, '<x>'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: '/buses/1/type', code: 'CE_CONFIG_ENUM' });
    expect(issues[0]!.message).toBe("expected one of 'tcp', 'rtu', 'rtu-over-tcp', 'dlt645', 'dlt645-tcp', got 'dlt654' (did you mean 'dlt645'?)");
  });

  it('a dlt645 bus is supported: no CE_CONFIG_UNSUPPORTED', () => {
    const c = demoSiteConfig({ tcpPort: 1502 });
    const site = validateSiteConfig({ ...c, buses: [...c.buses, { id: 'meters', type: 'dlt645', path: '/dev/ttyUSB1', baudRate: 2400 }] }, '<x>');
    expect(site.config.buses.map((b) => b.type)).toContain('dlt645');
  });

  it('every issue has a stable code, printed in the message', () => {
    const err = (() => {
      try {
        loadSiteConfigText(demoYaml((c) => (c.site.timezone = 'Asia/Shanghi')), 'codes.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^ {2}- CE_CONFIG_TIMEZONE codes\.yaml:5:\d+ \/site\/timezone: unknown time zone/m);
    expect((err as ConfigError).issues.every((i) => /^CE_CONFIG_[A-Z_]+$/.test(i.code))).toBe(true);
  });
});

describe('reading the config file', () => {
  it('refuses a file over the size limit without parsing it', async () => {
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `${demoYaml()}\n# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    const issues = await issuesOfAsync(loadSiteConfigFile(big));
    expect(issues).toEqual([expect.objectContaining({ file: big, code: 'CE_CONFIG_FILE_TOO_LARGE' })]);
    expect(issues[0]!.message).toMatch(/is 4\.0 MiB, more than the limit of 4 MiB/);
  });

  it('refuses a FIFO (instead of hanging) and a link to /dev/zero (instead of filling memory)', async () => {
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(await issuesOfAsync(loadSiteConfigFile(fifo))).toEqual([expect.objectContaining({ code: 'CE_CONFIG_NOT_REGULAR_FILE', message: expect.stringMatching(/got a FIFO/) })]);
    expect(await issuesOfAsync(loadSiteConfigFile('/dev/zero'))).toEqual([expect.objectContaining({ code: 'CE_CONFIG_NOT_REGULAR_FILE', message: expect.stringMatching(/got a device/) })]);
  });

  it('a YAML alias bomb is a clean error with file and line, and `check` prints no stack', async () => {
    const lines = ['version: 1', 'a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const bomb = path.join(dir, 'bomb.yaml');
    writeFileSync(bomb, `${lines.join('\n')}\n`);
    const issues = await issuesOfAsync(loadSiteConfigFile(bomb));
    expect(issues).toEqual([expect.objectContaining({ file: bomb, code: 'CE_CONFIG_YAML', line: 3 })]);
    expect(issues[0]!.message).toMatch(/aliases expand/);
    const res = await exec(process.execPath, ['tools/carbonedge.js', 'check', '--config', bomb]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CE_CONFIG_YAML .*bomb\.yaml:3:\d+/);
    expect(res.stderr).not.toMatch(/ReferenceError|\n\s+at /);
  });
});
