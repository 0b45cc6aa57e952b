import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { havePeer, waitFor } from '../helpers/peers.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import type { Receiver } from '../../tools/receiver/receiver.js';
import { drain, expectComplete, lastSeqs, sigkillScenario, startGateway, startReceiver, type TestGateway } from './scenarios.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-mosq-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};
async function mosquitto(opts: Parameters<typeof Mosquitto.start>[0] = {}): Promise<Mosquitto> {
  const m = await Mosquitto.start(opts);
  cleanups.push(() => m.close());
  return m;
}
async function gateway(opts: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const t = await startGateway(opts);
  cleanups.push(() => t.gw.stop());
  return t;
}
async function receiver(url: string, extra: Parameters<typeof startReceiver>[2] = {}): Promise<Receiver> {
  const r = await startReceiver(url, undefined, extra);
  cleanups.push(async () => {
    await r.stop();
    r.close();
  });
  return r;
}

describe.runIf(havePeer('mosquitto'))('uplink against mosquitto (interop tier)', () => {
  it('broker stopped for a minute while the gateway keeps producing, then restarted: every record, no gap', async () => {
    const broker = await mosquitto();
    const rx = await receiver(broker.url);
    // The backfill rate counts on the gateway's monotonic clock, which runs 60x here: 5 records/s
    // (a bucket of 5, refilled at each 100 ms pump) sends about 50 records per real second, so the
    // backlog of 600+ records takes over 10 s while a live readings-1m record closes every second.
    // (At 100/s the whole backlog went out within one gateway minute and no live record fell inside.)
    const t = await gateway({ dataDir: tmp(), url: broker.url, config: { uplink: { backfillRecordsPerSec: 5, reconnect: { minMs: 200, maxMs: 2000 } } } });
    await waitFor(() => rx.count('gw1', 'readings-1m') >= 24, 30_000, 'records flowing');
    await broker.stop();
    const clock = t.gw.ctx.clock;
    const outageStart = clock.now();
    await waitFor(() => !t.uplink!.health().connected, 10_000, 'uplink saw the outage');
    // An hour of the gateway's clock down (60x: about a minute); it keeps producing.
    await waitFor(() => clock.now() - outageStart >= 3_600_000, 120_000, 'an hour of the gateway clock');
    const h = t.uplink!.health();
    expect(h.connected).toBe(false);
    expect(h.backlogRecords).toBeGreaterThanOrEqual(600);
    expect(h.oldestUnsentAgeMs).toBeGreaterThan(30 * 60_000); // gateway clock: half an hour and more
    await broker.restart();
    await waitFor(() => t.uplink!.health().connected, 20_000, 'reconnected');
    await drain(t, 90_000);
    await expectComplete(rx, lastSeqs(t.store));
    // Live records were not starved by the rate-capped backlog: the first live
    // record arrived before the last backfilled one (receiver insertion order).
    const order = rx.db
      .prepare(
        "SELECT (SELECT min(rowid) FROM records WHERE stream = 'readings-1m' AND backfill = 0 AND rowid > (SELECT min(rowid) FROM records WHERE backfill = 1)) AS firstLive, (SELECT max(rowid) FROM records WHERE backfill = 1) AS lastBackfill",
      )
      .get() as { firstLive: number; lastBackfill: number };
    expect(order.lastBackfill).toBeGreaterThan(0);
    expect(order.firstLive).toBeLessThan(order.lastBackfill);
  }, 180_000);

  it('gateway killed with SIGKILL mid-publish and restarted: every record, no gap, duplicates dropped by id', async () => {
    const broker = await mosquitto();
    const rx = await receiver(broker.url);
    await sigkillScenario(broker.url, rx, tmp());
  }, 120_000);

  it('a broker that accepts but never acknowledges, then mosquitto on that port: nothing lost', async () => {
    // Mosquitto first, only to register the receiver's persistent session; then it goes away.
    const broker = await mosquitto();
    const port = broker.port;
    const rx = await receiver(broker.url);
    await rx.stop();
    await broker.stop();
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))); // CONNACK, then silence
    });
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', () => r()));
    const t = await gateway({ dataDir: tmp(), url: `mqtt://127.0.0.1:${port}`, config: { uplink: { publishTimeoutMs: 500, reconnect: { minMs: 100, maxMs: 300 } } } });
    await waitFor(() => t.uplink!.health().publishTimeouts >= 2, 30_000, 'publish timeouts');
    expect(t.uplink!.health().recordsAcked).toBe(0);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    await broker.restart();
    await rx.start();
    await drain(t);
    await expectComplete(rx, lastSeqs(t.store));
  }, 120_000);

  it('byte cap reached during an outage: oldest dropped by policy, counters right, memory flat, no crash', async () => {
    // Mosquitto first, only to register the receiver's persistent session; then the outage.
    const broker = await mosquitto();
    const url = broker.url;
    const rx = await receiver(url);
    await rx.stop();
    await broker.stop();
    const cap = 4 * 1024 * 1024;
    const t = await gateway({
      dataDir: tmp(),
      url,
      devices: 10,
      points: 30,
      intervalMs: 20,
      config: { store: { flushIntervalMs: 200, closeGraceMs: 500, statsIntervalMs: 0, maxBytes: cap, maintenanceIntervalMs: 1000 } },
    });
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
    cleanups.push(() => clearInterval(sampler));
    await waitFor(() => (t.store.stats().dropped.outboxByCap['readings-1m'] ?? 0) > 0, 90_000, 'outbox records dropped by the cap');
    // Keep producing over the cap for a while: it must stay bounded.
    const rssAtCap = process.memoryUsage().rss;
    // 50 000 readings more (a few seconds of this production), all over the cap.
    const persistedAtCap = t.store.stats().readingsPersisted;
    await waitFor(() => t.store.stats().readingsPersisted >= persistedAtCap + 50_000, 60_000, 'more production over the cap');
    const st = t.store.stats();
    expect(st.usedBytes).toBeLessThanOrEqual(cap * 1.1);
    expect(st.dropped.rawByCap).toBeGreaterThan(0);
    // Memory is flat: bounded overall, and producing on past the cap adds (almost) nothing.
    expect(rssMax - rss0).toBeLessThan(64 * 1024 * 1024);
    expect(rssMax - rssAtCap).toBeLessThan(32 * 1024 * 1024);
    // Broker comes up: what was not dropped arrives; the gaps are exactly what the counters say.
    await broker.restart();
    await rx.start();
    await drain(t, 120_000);
    const last = lastSeqs(t.store);
    const dropped = t.store.stats().dropped.outboxByCap;
    await waitFor(() => rx.count('gw1', 'readings-1m') === last['readings-1m']! - (dropped['readings-1m'] ?? 0), 30_000, 'survivors delivered');
    const seqs = rx.seqs('gw1', 'readings-1m');
    // Drops are the oldest: the survivors are one contiguous run ending at the last seq.
    expect(seqs[seqs.length - 1]).toBe(last['readings-1m']);
    expect(seqs[0]).toBe((dropped['readings-1m'] ?? 0) + 1);
    expect(rx.gaps().find((g) => g.stream === 'readings-1m')!.missing).toEqual([]);
    // Drops were reported upstream.
    const stats = rx.records('gw1', 'store-stats');
    expect(stats.length).toBeGreaterThan(0);
    expect(rx.gaps().find((g) => g.stream === 'store-stats')!.missing).toEqual([]);
    const reported = stats[stats.length - 1]!.dropped as { outboxByCap: Record<string, number>; rawByCap: number };
    expect(reported.outboxByCap['readings-1m']).toBeGreaterThan(0);
    expect(reported.rawByCap).toBeGreaterThan(0);
  }, 240_000);
});

/** A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makePki(dir: string, name: string): { ca: string; caKey: string } {
  const ca = path.join(dir, `${name}-ca.pem`);
  const caKey = path.join(dir, `${name}-ca.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-keyout', caKey, '-out', ca], {
    stdio: 'ignore',
  });
  return { ca, caKey };
}
function issue(dir: string, ca: { ca: string; caKey: string }, name: string, server: boolean): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, server ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.ca, '-CAkey', ca.caKey, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert], {
    stdio: 'ignore',
  });
  return { cert, key };
}

describe.runIf(havePeer('mosquitto'))('uplink over TLS (mosquitto, test CA made with openssl)', () => {
  it('verifies the server, presents a client certificate, delivers; a wrong CA is rejected', async () => {
    const dir = tmp();
    const ca = makePki(dir, 'good');
    const srv = issue(dir, ca, 'broker', true);
    const gwCert = issue(dir, ca, 'gateway', false);
    const rxCert = issue(dir, ca, 'receiver', false);
    const broker = await mosquitto({ tls: { ca: ca.ca, cert: srv.cert, key: srv.key, requireCertificate: true } });
    expect(broker.url).toMatch(/^mqtts:/);
    const rx = await receiver(broker.url, { tls: { ca: ca.ca, cert: rxCert.cert, key: rxCert.key } });
    const t = await gateway({
      dataDir: tmp(),
      url: broker.url,
      // MQTT 5 here (mosquitto speaks it; aedes does not).
      config: { uplink: { protocolVersion: 5, tls: { ca: ca.ca, cert: gwCert.cert, key: gwCert.key }, publishTimeoutMs: 2000, reconnect: { minMs: 100, maxMs: 1000 } } },
    });
    await waitFor(() => rx.count('gw1', 'readings-1m') >= 12, 30_000, 'records over TLS');
    await drain(t);
    await expectComplete(rx, lastSeqs(t.store));

    // A gateway that trusts another CA refuses the broker's certificate and delivers nothing.
    const wrong = makePki(dir, 'wrong');
    const t2 = await gateway({
      dataDir: tmp(),
      url: broker.url,
      config: {
        gateway: { id: 'gw2' },
        uplink: { tls: { ca: wrong.ca, cert: gwCert.cert, key: gwCert.key }, reconnect: { minMs: 100, maxMs: 500 } },
      },
    });
    await waitFor(() => /certificate|self.signed|verify/i.test(t2.uplink!.health().lastError ?? ''), 20_000, 'TLS verification error');
    expect(t2.uplink!.health().connects).toBe(0);
    expect(rx.count('gw2', 'readings-1m')).toBe(0);
    // And a client without a certificate is refused by the broker (require_certificate).
    const t3 = await gateway({
      dataDir: tmp(),
      url: broker.url,
      config: { gateway: { id: 'gw3' }, uplink: { tls: { ca: ca.ca }, reconnect: { minMs: 100, maxMs: 500 } } },
    });
    await waitFor(() => (t3.uplink!.health().lastError ?? '') !== '', 20_000, 'broker refused a client without certificate');
    expect(t3.uplink!.health().connects).toBe(0);
  }, 120_000);
});
