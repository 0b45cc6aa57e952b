/**
 * Dockerfile.arm64 works as documented. With a Docker daemon: built for the host architecture and
 * the demo run in it. Without one: the final stage's file tree is rebuilt in a temporary
 * directory from the same COPY lines (/app/X of the build stage = X of this checkout after
 * `npm ci`), and its entrypoint runs `demo` as an unprivileged user (uid 65534) with the stage's
 * ENV: no EACCES, the store under the data directory (the /data volume). The HEALTHCHECK one-liner
 * passes on a 200 from /healthz and fails on a 503; the README maps devices by their by-id names.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../uplink/child-gateway.js';
import { finalStage } from './dockerfile.js';
import { launch, until } from './processes.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCKERFILE = path.join(ROOT, 'Dockerfile.arm64');
const stage = finalStage(DOCKERFILE);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ce-container-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOBODY = 65534;
const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;

describe('Dockerfile.arm64 final stage', () => {
  it('non-root, /data volume and data dir, tini as PID 1, a HEALTHCHECK, run on the mounted config', () => {
    expect(stage.user).toBe('carbonedge');
    expect(stage.volumes).toContain('/data');
    expect(stage.env.CARBONEDGE_DATA_DIR).toBe('/data');
    expect(stage.entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(stage.cmd).toEqual(['run', '--config', '/etc/carbonedge/site.yaml']);
    expect(stage.healthcheck?.[0]).toBe('node');
  });

  it('the HEALTHCHECK one-liner passes on 200 from /healthz and fails on 503 or no answer', async () => {
    let status = 200;
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    const check = async () => {
      const run = launch(process.execPath, stage.healthcheck!.slice(1), { env: { ...process.env, CARBONEDGE_HEALTH_URL: url } });
      return (await run.exited).code;
    };
    try {
      expect(await check()).toBe(0);
      status = 503;
      expect(await check()).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const run = launch(process.execPath, stage.healthcheck!.slice(1), { env: { ...process.env, CARBONEDGE_HEALTH_URL: url } });
    expect((await run.exited).code).toBe(1); // nothing listens any more
  });

  it('the README and the image header map serial adapters by their /dev/serial/by-id names, with log-size options', () => {
    for (const text of [readFileSync(path.join(ROOT, 'README.md'), 'utf8'), readFileSync(DOCKERFILE, 'utf8')]) {
      const device = /--device (\/dev\/serial\/by-id\/\S+):(\S+)/.exec(text);
      expect(device?.[1]).toBe(device?.[2]);
      expect(text).toMatch(/--log-opt max-size=\S+/);
      expect(text).not.toMatch(/--device \/dev\/ttyUSB0/);
    }
  });

  it.runIf(!dockerWorks)('without Docker: the entrypoint runs the demo as uid 65534 from the same file tree, data under /data', async () => {
    assertBuilt();
    const tree = path.join(dir, 'tree');
    const map = (p: string) => path.join(tree, p);
    for (const c of stage.copies) {
      expect(c.src.startsWith('/app/'), c.src).toBe(true);
      const from = path.join(ROOT, c.src.slice('/app/'.length));
      mkdirSync(path.dirname(map(c.dest)), { recursive: true });
      // node_modules: linked (dependencies, read-only); the package's own files: copied.
      if (c.src === '/app/node_modules') symlinkSync(from, map(c.dest));
      else cpSync(from, map(c.dest), { recursive: true });
    }
    for (const v of stage.volumes) {
      mkdirSync(map(v), { recursive: true });
      chownSync(map(v), NOBODY, NOBODY);
    }
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (const [k, v] of Object.entries(stage.env)) env[k] = v.startsWith('/') ? map(v) : v;
    // tini is not installed here: run what it would exec (the rest of the entrypoint).
    const [prog, ...args] = stage.entrypoint.slice(stage.entrypoint.indexOf('--') + 1).map((a) => (a.startsWith('/app/') ? map(a) : a));
    expect(prog).toBe('node');
    const asNobody = process.getuid?.() === 0 ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath] : [process.execPath];
    const run = launch(asNobody[0]!, [...asNobody.slice(1), ...args, 'demo', '--port', '0'], { cwd: map(stage.workdir), env });
    try {
      await until(() => run.output().includes('gateway started') || run.proc.exitCode !== null, 'gateway started', run.output);
      expect(run.output()).not.toMatch(/EACCES/);
      expect(run.output()).toMatch(/gateway started/);
      const db = path.join(map('/data'), 'demo', 'carbonedge.db');
      expect(existsSync(db)).toBe(true);
      if (process.getuid?.() === 0) expect(statSync(db).uid).toBe(NOBODY);
      run.proc.kill('SIGTERM');
      expect((await run.exited).code, run.output()).toBe(0);
    } finally {
      run.proc.kill('SIGKILL');
    }
  }, 120_000);

  it.runIf(dockerWorks)('with Docker: the image builds for the host architecture and runs the demo as carbonedge with data in /data', async () => {
    const platform = spawnSync('docker', ['version', '-f', '{{.Server.Os}}/{{.Server.Arch}}'], { encoding: 'utf8' }).stdout.trim();
    const tag = `carbonedge-test:${process.pid}`;
    const build = spawnSync('docker', ['build', '--build-arg', `PLATFORM=${platform}`, '-f', DOCKERFILE, '-t', tag, ROOT], { encoding: 'utf8', timeout: 1_800_000 });
    expect(build.status, build.stderr.slice(-4000)).toBe(0);
    const name = `carbonedge-test-${process.pid}`;
    try {
      const start = spawnSync('docker', ['run', '-d', '--name', name, '--log-opt', 'max-size=1m', tag, 'demo', '--port', '0'], { encoding: 'utf8' });
      expect(start.status, start.stderr).toBe(0);
      const logs = () => spawnSync('docker', ['logs', name], { encoding: 'utf8' }).stderr;
      await until(() => logs().includes('gateway started'), 'gateway started in the container', logs);
      expect(logs()).not.toMatch(/EACCES/);
      const ls = spawnSync('docker', ['exec', name, 'sh', '-c', 'id -un && test -s /data/demo/carbonedge.db && echo ok'], { encoding: 'utf8' });
      expect(ls.stdout.trim().split('\n')).toEqual(['carbonedge', 'ok']);
      spawnSync('docker', ['stop', '-t', '30', name]);
      const code = spawnSync('docker', ['inspect', '-f', '{{.State.ExitCode}}', name], { encoding: 'utf8' }).stdout.trim();
      expect(code).toBe('0');
    } finally {
      spawnSync('docker', ['rm', '-f', name]);
      spawnSync('docker', ['rmi', '-f', tag]);
    }
  }, 2_000_000);
});
