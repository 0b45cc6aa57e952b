/**
 * The HTTP API over a real listener on 127.0.0.1 against a gateway on the simulated demo site:
 * every view answers with live values, overrides go through the rules' command path, /healthz and
 * /metrics answer, and hostile requests get a 4xx without taking the gateway down.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parse from 'parse-prometheus-text-format';
import { waitFor } from '../helpers/peers.js';
import { startDemoGateway, type DemoGateway } from './demo-gateway.js';

let demo: DemoGateway;
const get = async (path: string, init?: RequestInit) => {
  const res = await fetch(`${demo.url}${path}`, init);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
};
const post = (path: string, body: unknown) => get(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  demo = await startDemoGateway({ requestTimeoutMs: 1000 });
}, 60_000);
afterAll(async () => demo?.stop());

describe('HTTP API on the demo site', () => {
  it('snapshot: every current value with its quality and age', async () => {
    const { status, body } = await get('/api/snapshot');
    expect(status).toBe(200);
    const grid = body.values.find((v: any) => v.device === 'grid' && v.point === 'active_power');
    expect(grid).toMatchObject({ quality: 'good', canonical: 'active_power', unit: 'W' });
    expect(typeof grid.value).toBe('number');
    expect(grid.ageMs).toBeGreaterThanOrEqual(0);
  });

  it('devices: power, energy, quality, last good read, poll counters and backoff per configured device', async () => {
    const { body } = await get('/api/devices');
    expect(body.devices.map((d: any) => d.id)).toEqual(['grid', 'pv', 'battery', 'heatpump', 'load', 'line']);
    for (const d of body.devices) {
      // A loaded machine may time out a poll now and then: counted, never more than the polls.
      expect(['good', 'stale', 'comm-error', 'out-of-range']).toContain(d.quality);
      expect(d.errors).toBeGreaterThanOrEqual(0);
      expect(d.errors).toBeLessThanOrEqual(d.polls);
      expect(d.backoff === null || d.backoff.failures > 0).toBe(true);
      expect(d.polls).toBeGreaterThan(0);
      expect(d.lastGoodTs).toBeGreaterThan(0);
      // The production line counts pieces: it has no power or energy point.
      if (d.id === 'line') expect(d.energyKwh).toBeNull();
      else expect(typeof d.energyKwh).toBe('number');
    }
  });

  it('flow: grid + PV + battery = consumption = heat pump + loads + other', async () => {
    const { body: f } = await get('/api/flow');
    expect(f.missing).toEqual([]);
    expect(f.consumptionW).toBeCloseTo(f.gridW + f.pvW + f.batteryW, 6);
    expect(f.consumptionW).toBeCloseTo(f.heatPumpW + f.loadsW + f.otherW, 6);
  });

  it('live: flow, devices, status and health in one request (what the page polls)', async () => {
    const { status, body } = await get('/api/live');
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['devices', 'flow', 'health', 'status']);
    expect(body.devices).toHaveLength(6);
    expect(body.health.ok).toBe(true);
  });

  it('accounting: today, this month and the rolling 24 h with CO2 by both methods and green shares', async () => {
    const { status, body } = await get('/api/accounting');
    expect(status).toBe(200);
    for (const w of [body.today, body.month, body.rolling24h]) {
      expect(w).toMatchObject({ co2Kg: { location: expect.any(Number), market: expect.any(Number) } });
      expect(w.green).toHaveProperty('annual_volumetric');
    }
  });

  it('series, rules, status: answer from the store, the rule engine and the outbox', async () => {
    const s = await get('/api/series?hours=24');
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ canonical: 'active_power', stepMs: 300_000 });
    expect((await get('/api/series?hours=9999')).status).toBe(400);
    const r = await get('/api/rules');
    expect(r.body.running).toBe(true);
    expect(r.body.rules.length).toBeGreaterThan(0);
    const st = await get('/api/status');
    expect(st.body.store).toMatchObject({ backlogRecords: expect.any(Number), oldestUnsentAgeMs: expect.any(Number), dropped: { readingsOnError: 0 } });
    expect(st.body.uplink).toBeNull();
  });

  it('an override set through the API is in the shared override table and listed; a bad one is refused; clearing removes it', async () => {
    const ok = await post('/api/overrides', { output: 'load', value: 'on', forS: 600, reason: 'test', by: 'vitest' });
    expect(ok.status).toBe(200);
    expect(ok.body.overrides).toEqual([expect.objectContaining({ output: 'load', value: 'on', by: 'vitest' })]);
    expect((await get('/api/rules')).body.overrides.map((o: any) => o.output)).toEqual(['load']);
    const bad = await post('/api/overrides', { output: 'load', value: 'sideways', forS: 600 });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('CE_CMD_OUT_OF_RANGE');
    expect((await post('/api/overrides', { output: 'nope.x', value: 1, forS: 60 })).status).toBe(400);
    const cleared = await get('/api/overrides/load', { method: 'DELETE' });
    expect(cleared.body.overrides).toEqual([]);
  });

  it('on-demand read of a configured device through the gateway; an unknown device is 404', async () => {
    const r = await post('/api/devices/grid/read', {});
    expect(r.status).toBe(200);
    expect(r.body.readings.find((x: any) => x.point === 'active_power')).toMatchObject({ quality: 'good' });
    expect((await post('/api/devices/nope/read', {})).status).toBe(404);
  });

  it('/healthz is 200 with every check ok', async () => {
    const { status, body } = await get('/healthz');
    expect(body.reasons).toEqual([]);
    expect(status).toBe(200);
    expect(body.checks).toMatchObject({ buses: 'ok', store: 'ok', control: 'ok', uplink: 'off' });
  });

  it('/metrics parses as Prometheus text and the poll counters rise between two scrapes', async () => {
    const scrape = async () => {
      const res = await fetch(`${demo.url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return parse(await res.text());
    };
    const polls = (fams: ReturnType<typeof parse>) => Number(fams.find((f) => f.name === 'carbonedge_device_polls_total')!.metrics.find((m) => m.labels?.device === 'grid')!.value);
    const first = await scrape();
    const names = first.map((f) => f.name);
    for (const n of ['carbonedge_device_poll_errors_total', 'carbonedge_http_request_duration_seconds', 'carbonedge_outbox_backlog_records', 'carbonedge_store_dropped_records_total', 'carbonedge_rule_writes_total', 'carbonedge_process_resident_memory_bytes']) {
      expect(names).toContain(n);
    }
    expect(first.every((f) => f.name.startsWith('carbonedge_'))).toBe(true);
    expect(Number(first.find((f) => f.name === 'carbonedge_process_resident_memory_bytes')!.metrics[0]!.value)).toBeGreaterThan(1e6);
    const before = polls(first);
    let after = before;
    await waitFor(async () => (after = polls(await scrape())) > before, 20_000, 'the grid poll counter to rise');
    expect(after).toBeGreaterThan(before);
  });
});

describe('hostile requests: a 4xx, never a crash, never a file outside the assets', () => {
  it('malformed and oversized JSON bodies', async () => {
    const bad = await get('/api/overrides', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"output": ' });
    expect(bad.status).toBe(400);
    const big = await post('/api/overrides', { output: 'load', value: 'on', forS: 60, reason: 'x'.repeat(64 * 1024) });
    expect(big.status).toBe(413);
    const wrongType = await get('/api/overrides', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(wrongType.status).toBe(400);
  });

  it('path traversal on the static assets (plain, encoded, double-encoded) and the vendored chart library', async () => {
    for (const p of ['/assets/../package.json', '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/..%252f..%252fpackage.json', '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd', '/vendor/uplot/..%2fpackage.json', '/vendor/uplot/uPlot.cjs.js', '/assets/']) {
      const r = await get(p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.status, p).toBeLessThan(500);
      expect(JSON.stringify(r.body), p).not.toMatch(/"name": ?"carbonedge"|root:x:0/);
    }
    expect((await get('/assets/app.js')).status).toBe(200);
    expect((await get('/vendor/uplot/uPlot.iife.min.js')).status).toBe(200);
  });

  it('unknown routes and methods', async () => {
    const r = await get('/api/nothing');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('CE_HTTP_NOT_FOUND');
    expect((await get('/api/devices', { method: 'PUT' })).status).toBe(404);
  });

  it('a slow client that never finishes its body gets 408 while others are served', async () => {
    const sock = net.connect(Number(new URL(demo.url).port), '127.0.0.1');
    let answer = '';
    let closed = false;
    sock.on('data', (d) => (answer += d.toString()));
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.write('POST /api/overrides HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"output":');
    expect((await get('/api/flow')).status).toBe(200);
    await waitFor(() => closed, 20_000, 'the slow request to be cut off');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect((await get('/healthz')).status).toBe(200);
  });
});
