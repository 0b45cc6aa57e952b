/**
 * Credentials: with a token every request without it is 401 (Bearer header, or the page's cookie
 * set once from the login form or `?token=`); a non-loopback address without a token is refused
 * at `carbonedge check` (CE_CONFIG_HTTP_EXPOSED) and at start (--http).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { ConfigError } from '../../runtime/config/errors.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { httpFeature } from '../../runtime/http/feature.js';
import { isLoopback, parseListen } from '../../runtime/http/config.js';
import { demoSiteConfig } from '../../tools/simulator/demo-config.js';
import { startDemoGateway, type DemoGateway } from './demo-gateway.js';

const TOKEN = 'test-token-0123456789abcdef';
const CLI = path.resolve('tools/carbonedge.js');
let demo: DemoGateway;

beforeAll(async () => {
  demo = await startDemoGateway({ token: TOKEN });
}, 60_000);
afterAll(async () => demo?.stop());

describe('with a token', () => {
  it('API, /healthz and /metrics without the token are 401; with the Bearer header 200', async () => {
    for (const p of ['/api/devices', '/api/flow', '/healthz', '/metrics', '/api/overrides/load']) {
      const r = await fetch(`${demo.url}${p}`, { method: p.includes('overrides') ? 'DELETE' : 'GET' });
      expect(r.status, p).toBe(401);
      expect(await r.json()).toMatchObject({ code: 'CE_HTTP_UNAUTHORIZED' });
    }
    expect((await fetch(`${demo.url}/api/devices`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await fetch(`${demo.url}/api/devices`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('the page without the token is the login form; ?token= sets an HttpOnly cookie once and redirects; the cookie then works', async () => {
    const login = await fetch(`${demo.url}/`);
    expect(await login.text()).toContain('id="login"');
    const redirect = await fetch(`${demo.url}/?token=${TOKEN}`, { redirect: 'manual' });
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe('/');
    const cookie = redirect.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    const pair = cookie.split(';')[0]!;
    expect(await (await fetch(`${demo.url}/`, { headers: { cookie: pair } })).text()).toContain('id="flow"');
    expect((await fetch(`${demo.url}/api/flow`, { headers: { cookie: pair } })).status).toBe(200);
    const wrong = await fetch(`${demo.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${demo.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(right.headers.get('set-cookie')).toMatch(/^carbonedge_token=/);
  });
});

describe('exposure without a credential is refused', () => {
  it('loopback detection', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '192.168.1.10', '::', 'gateway.local'].some(isLoopback)).toBe(false);
    expect(parseListen('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseListen('8080')).toBeUndefined();
  });

  it('carbonedge check: http.listen 0.0.0.0 without a token -> CE_CONFIG_HTTP_EXPOSED naming file and path; with a token OK', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'http-check-'));
    const file = path.join(dir, 'site.yaml');
    const site = { ...demoSiteConfig({ tcpPort: 1502 }), http: { listen: '0.0.0.0:8080' } };
    writeFileSync(file, YAML.stringify(site));
    let out = '';
    try {
      execFileSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      out = String((err as { stderr: string }).stderr);
    }
    expect(out).toMatch(/CE_CONFIG_HTTP_EXPOSED/);
    expect(out).toContain(file);
    expect(out).toContain('/http/listen');
    writeFileSync(file, YAML.stringify({ ...site, http: { listen: '0.0.0.0:8080', token: TOKEN } }));
    expect(execFileSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' })).toMatch(/OK/);
  });

  it('--http 0.0.0.0:PORT without a token: the gateway refuses to start', async () => {
    const { profiles } = loadBuiltinProfiles();
    const config = { ...demoSiteConfig({ tcpPort: 1 }), devices: [], buses: [], rules: [], control: { enabled: false } };
    const gw = new Gateway({ config, profiles, logger: silentLogger(), options: { dataDir: mkdtempSync(path.join(os.tmpdir(), 'http-exp-')), http: '0.0.0.0:0' }, features: [httpFeature] });
    const err = await gw.start().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]).toMatchObject({ code: 'CE_CONFIG_HTTP_EXPOSED', path: '--http' });
  });
});
