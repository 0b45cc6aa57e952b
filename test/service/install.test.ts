/**
 * tools/service/install.sh against a temporary root directory (--root: users and groups through
 * systemd-sysusers --root, the unit enabled with systemctl --root, commands that act on the
 * running system recorded in var/lib/carbonedge-install/deferred.txt). Checks the resulting tree,
 * that an existing site.yaml is kept, that an invalid one stops the install before the service is
 * enabled, that --dry-run writes nothing, that Node 18 is refused, and that the package tarball
 * carries the compiled dist/.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../uplink/child-gateway.js';
import { haveTools } from './system-peers.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(ROOT, 'tools', 'service', 'install.sh');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-install-'));
const tarball = path.join(dir, 'carbonedge-9.9.9.tgz');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  assertBuilt();
  writeFileSync(tarball, 'a package tarball (not unpacked in --root mode)');
});

const install = (root: string, ...args: string[]) => spawnSync('bash', [SCRIPT, '--package', tarball, '--root', root, ...args], { encoding: 'utf8' });
const member = (groupFile: string, group: string) => readFileSync(groupFile, 'utf8').split('\n').find((l) => l.startsWith(`${group}:`))?.split(':')[3]?.split(',') ?? [];

describe('install.sh --root', () => {
  const tools = haveTools('systemdSysusers', 'systemctl');

  it.skipIf(!tools)('installs the user and groups, directories, sample config, unit (enabled) and keeps the tarball; system commands deferred', () => {
    const root = path.join(dir, 'root');
    const r = install(root);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const passwd = readFileSync(path.join(root, 'etc/passwd'), 'utf8');
    const user = passwd.split('\n').find((l) => l.startsWith('carbonedge:'))!.split(':');
    expect(user[6]).toBe('/usr/sbin/nologin');
    expect(member(path.join(root, 'etc/group'), 'dialout')).toContain('carbonedge');
    expect(member(path.join(root, 'etc/group'), 'gpio')).toContain('carbonedge');
    const state = statSync(path.join(root, 'var/lib/carbonedge'));
    expect(state.mode & 0o777).toBe(0o750);
    expect(state.uid).toBe(Number(user[2]));
    expect(statSync(path.join(root, 'etc/carbonedge/profiles')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(root, 'etc/carbonedge/site.yaml'), 'utf8')).toMatch(/^version: 1$/m);
    const unit = readFileSync(path.join(root, 'etc/systemd/system/carbonedge.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/carbonedge run --config \$\{CONFIGURATION_DIRECTORY\}\/site\.yaml/m);
    const wants = path.join(root, 'etc/systemd/system/multi-user.target.wants/carbonedge.service');
    expect(lstatSync(wants).isSymbolicLink()).toBe(true);
    expect(readlinkSync(wants)).toBe('/etc/systemd/system/carbonedge.service');
    expect(readdirSync(path.join(root, 'var/lib/carbonedge-packages'))).toEqual(['carbonedge-9.9.9.tgz']);
    const deferred = readFileSync(path.join(root, 'var/lib/carbonedge-install/deferred.txt'), 'utf8').trim().split('\n');
    expect(deferred[0]).toMatch(/^npm install -g .*\/var\/lib\/carbonedge-packages\/carbonedge-9\.9\.9\.tgz$/);
    expect(deferred).toContain('systemctl restart carbonedge.service');
    // `carbonedge check` ran before enabling.
    expect(r.stdout.indexOf('site.yaml: OK')).toBeGreaterThan(0);
    expect(r.stdout.indexOf('site.yaml: OK')).toBeLessThan(r.stdout.indexOf('systemctl --root'));

    // A second run (an update) keeps the operator's site.yaml.
    const site = path.join(root, 'etc/carbonedge/site.yaml');
    writeFileSync(site, `${readFileSync(site, 'utf8')}# edited by the operator\n`);
    expect(install(root).status).toBe(0);
    expect(readFileSync(site, 'utf8')).toMatch(/# edited by the operator\n$/);
  }, 120_000);

  it.skipIf(!tools)('an invalid site.yaml stops the install before the service is enabled', () => {
    const root = path.join(dir, 'bad');
    mkdirSync(path.join(root, 'etc/carbonedge'), { recursive: true });
    writeFileSync(path.join(root, 'etc/carbonedge/site.yaml'), 'version: 1\nsite: {}\n');
    const r = install(root);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/refusing to start/);
    expect(existsSync(path.join(root, 'etc/systemd/system/multi-user.target.wants'))).toBe(false);
  }, 60_000);

  it('--dry-run prints every step and writes nothing', () => {
    const root = path.join(dir, 'dry');
    const r = install(root, '--dry-run');
    expect(r.status, r.stderr).toBe(0);
    for (const s of ['checking Node.js', 'npm install -g', 'systemd-sysusers', '/etc/carbonedge', 'carbonedge.service', 'check --config', 'systemctl --root']) expect(r.stdout).toContain(s);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses Node 18 (bookworm) and says where to get a supported Node', () => {
    const fake = path.join(dir, 'node18');
    mkdirSync(fake, { recursive: true });
    writeFileSync(path.join(fake, 'node'), '#!/bin/sh\ncase "$1" in --version) echo v18.19.0;; *) echo 18;; esac\n');
    chmodSync(path.join(fake, 'node'), 0o755);
    const r = spawnSync('bash', [SCRIPT, '--package', tarball, '--root', path.join(dir, 'old'), '--dry-run'], { encoding: 'utf8', env: { ...process.env, PATH: `${fake}:${process.env.PATH}` } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Node >= 20/);
    expect(r.stderr).toMatch(/NodeSource/);
  });

  it('the package tarball carries the compiled dist/, the bin and the unit', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/tools/cli/main.js', 'tools/carbonedge.js', 'tools/service/carbonedge.service', 'device-profiles/profile.schema.json']));
    expect(files.some((f) => f.startsWith('test/'))).toBe(false);
  }, 60_000);
});
