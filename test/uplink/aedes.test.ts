import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/peers.js';
import { AedesBroker } from './aedes-broker.js';
import { drain, expectComplete, lastSeqs, startGateway, startReceiver, type TestGateway } from './scenarios.js';
import type { Receiver } from '../../tools/receiver/receiver.js';
import { loadContract } from '../../runtime/uplink/contract.js';
import { OUTBOX } from '../../runtime/services.js';
import { resolveUplinkConfig } from '../../runtime/uplink/config-schema.js';
import { Uplink } from '../../runtime/uplink/uplink.js';
import { Store } from '../../runtime/store/store.js';
import { TestClock } from '../helpers/test-clock.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-uplink-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

let broker: AedesBroker;
beforeAll(async () => {
  broker = await AedesBroker.start();
});
afterAll(async () => {
  await broker?.close();
});

async function gateway(opts: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const t = await startGateway(opts);
  cleanups.push(() => t.gw.stop());
  return t;
}
async function receiver(url: string): Promise<Receiver> {
  const r = await startReceiver(url);
  cleanups.push(async () => {
    await r.stop();
    r.close();
  });
  return r;
}

describe('uplink against aedes (fast tier)', () => {
  it('delivers every summary and outbox record once, in order, with a retained online status', async () => {
    const rx = await receiver(broker.url);
    const t = await gateway({ dataDir: tmp(), url: broker.url });
    const outbox = t.gw.ctx.services.get(OUTBOX)!;
    // Another part's stream (rule engine decisions), validated against its contract schema.
    const ex = JSON.parse(fs.readFileSync(path.join(loadContract().dir, 'examples', 'decision.json'), 'utf8')) as Record<string, unknown>;
    const { id: _id, seq: _seq, ...decision } = (Array.isArray(ex.records) ? (ex.records as Record<string, unknown>[])[0] : ex) as Record<string, unknown>;
    for (let i = 0; i < 5; i++) outbox.enqueue('decision', { ...decision, ts: Date.now() + i });
    await waitFor(() => t.store.outbox.lastSeq('readings-1m') >= 24, 30_000, 'two minutes of summaries');
    await drain(t);
    const seqs = lastSeqs(t.store);
    expect(seqs['readings-1m']).toBeGreaterThanOrEqual(24);
    await expectComplete(rx, seqs);
    expect(rx.stats().duplicates).toBe(0);
    expect(rx.stats().unvalidatedRecords).toBe(0);
    expect(rx.statuses()).toEqual([expect.objectContaining({ gateway: 'gw1', state: 'online' })]);
    const rec = rx.records('gw1', 'readings-1m').find((r) => r.point === 'energy_import' && r.deltaFlag === undefined);
    expect(rec?.delta as number).toBeGreaterThan(0);
    const h = t.uplink!.health();
    expect(h).toMatchObject({ connected: true, backlogRecords: 0, oldestUnsentAgeMs: 0 });
    expect(h.lastAckAt).toBeDefined();
    // A clean stop publishes the retained offline status.
    await t.gw.stop();
    await waitFor(() => rx.statuses().some((s) => s.state === 'offline'), 10_000, 'offline status on stop');
  });

  it('broker outage while producing: everything produced arrives afterwards, backlog backfilled, no gap', async () => {
    const rx = await receiver(broker.url);
    // gzip batches here (topic suffix /gzip): the receiver inflates them.
    const t = await gateway({ dataDir: tmp(), url: broker.url, config: { uplink: { compression: 'gzip', publishTimeoutMs: 2000, reconnect: { minMs: 100, maxMs: 1000 } } } });
    let gzipTopics = 0;
    const onPublish = (packet: { topic: string }) => {
      if (packet.topic.endsWith('/gzip')) gzipTopics++;
    };
    broker.aedes.on('publish', onPublish);
    cleanups.push(() => void broker.aedes.removeListener('publish', onPublish));
    await waitFor(() => t.store.outbox.lastSeq('readings-1m') >= 12, 30_000, 'first summaries');
    await broker.pause();
    await waitFor(() => !t.uplink!.health().connected, 10_000, 'uplink noticed the outage');
    const before = t.store.outbox.lastSeq('readings-1m');
    await waitFor(() => t.store.outbox.lastSeq('readings-1m') >= before + 36, 30_000, 'summaries produced during the outage');
    const h = t.uplink!.health();
    expect(h.backlogRecords).toBeGreaterThan(0);
    expect(h.oldestUnsentAgeMs).toBeGreaterThan(0);
    await broker.listen();
    await drain(t);
    await expectComplete(rx, lastSeqs(t.store));
    const backfilled = rx.db.prepare("SELECT count(*) FROM records WHERE backfill = 1").pluck().get() as number;
    expect(backfilled).toBeGreaterThan(0);
    expect(gzipTopics).toBeGreaterThan(0);
  });

  it('a broker that accepts the connection but never acknowledges: nothing is lost, delivered once a real broker answers', async () => {
    // The real broker first, only to register the receiver's persistent session (so nothing
    // published before the receiver is back can miss it); then it goes away.
    const real = await AedesBroker.start();
    cleanups.push(() => real.close());
    const port = real.port;
    const rx = await receiver(real.url);
    await rx.stop();
    await real.pause();
    // A raw TCP "broker" on that port: answers CONNACK, ignores everything else.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', () => r()));
    const url = `mqtt://127.0.0.1:${port}`;
    const t = await gateway({ dataDir: tmp(), url, config: { uplink: { publishTimeoutMs: 500, reconnect: { minMs: 100, maxMs: 300 } } } });
    await waitFor(() => t.uplink!.health().connects >= 3, 30_000, 'repeated connect -> publish timeout -> reconnect');
    const h = t.uplink!.health();
    expect(h.recordsAcked).toBe(0);
    expect(h.backlogRecords).toBeGreaterThan(0);
    expect(h.publishTimeouts).toBeGreaterThanOrEqual(2);
    // Replace the silent broker by the real one on the same port.
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    await real.listen();
    await rx.start();
    await drain(t);
    await expectComplete(rx, lastSeqs(t.store));
  });

  it('without an uplink URL the store still fills', async () => {
    const t = await gateway({ dataDir: tmp() });
    expect(t.uplink).toBeUndefined();
    await waitFor(() => t.store.outbox.lastSeq('readings-1m') >= 12, 30_000, 'summaries in the outbox');
    expect(t.store.db.prepare('SELECT count(*) FROM readings_raw').pluck().get()).toBeGreaterThan(0);
  });
});

describe('uplink against aedes: the store starts over', () => {
  it('a corrupt database moved aside at restart: the new records arrive under a new store epoch, no false duplicates, no gaps', async () => {
    const rx = await receiver(broker.url);
    const dataDir = tmp();
    const t1 = await startGateway({ dataDir, url: broker.url });
    const epochA = t1.store.persistence.epoch!;
    await waitFor(() => t1.store.outbox.lastSeq('readings-1m') >= 12, 30_000, 'first summaries');
    await drain(t1);
    const lastA = t1.store.outbox.lastSeq('readings-1m');
    await t1.gw.stop();
    await waitFor(() => rx.count('gw1', 'readings-1m', epochA) === lastA, 20_000, 'first epoch delivered');
    // (Earlier tests left a retained status of another 'gw1' on this broker: count from here.)
    const changesBefore = rx.stats().epochChanges;
    // Corrupt the database while the gateway is down.
    const file = path.join(dataDir, 'carbonedge.db');
    for (const s of ['-wal', '-shm']) fs.rmSync(file + s, { force: true });
    fs.writeFileSync(file, 'not a database any more '.repeat(2000));
    const t2 = await startGateway({ dataDir, url: broker.url });
    cleanups.push(() => t2.gw.stop());
    expect(t2.store.corruption).toBeDefined();
    const epochB = t2.store.persistence.epoch!;
    expect(epochB).toMatch(/^[0-9a-f]{12}$/);
    expect(epochB).not.toBe(epochA);
    // The retained status announces the new epoch.
    await waitFor(() => rx.statuses().some((s) => s.storeEpoch === epochB && s.state === 'online'), 20_000, 'status with the new epoch');
    await waitFor(() => t2.store.outbox.lastSeq('readings-1m') >= 6, 30_000, 'new summaries');
    await drain(t2);
    const lastB = t2.store.outbox.lastSeq('readings-1m');
    await waitFor(() => rx.count('gw1', 'readings-1m', epochB) === lastB, 20_000, 'second epoch delivered');
    // Sequence numbers 1.. again, but new ids: every record stored, none taken for a duplicate.
    expect(rx.seqs('gw1', 'readings-1m', epochB)[0]).toBe(1);
    const st = rx.stats();
    expect(st.duplicates).toBe(0);
    expect(st.epochChanges).toBe(changesBefore + 1);
    expect(st.invalidRecords + st.invalidMessages).toBe(0);
    expect(rx.epochs('gw1').slice(-2)).toEqual([epochA, epochB]);
    const gaps = rx.gaps().filter((g) => g.stream === 'readings-1m' && (g.epoch === epochA || g.epoch === epochB));
    expect(gaps).toMatchObject([
      { epoch: epochA, firstSeq: 1, lastSeq: lastA, missing: [] },
      { epoch: epochB, firstSeq: 1, lastSeq: lastB, missing: [] },
    ]);
    // The store-stats record of the new epoch says why it started over.
    await waitFor(() => rx.records('gw1', 'store-stats', epochB).some((r) => r.corruption !== undefined), 20_000, 'corruption report delivered');
  });
});

describe('uplink backfill across a wall-clock step', () => {
  it('the wall clock stepped back one hour right after connecting: the rate-capped backfill keeps going', async () => {
    const clock = new TestClock({ real: true });
    const store = new Store({ dataDir: tmp(), siteId: 'site1', gatewayId: 'gw1', clock });
    cleanups.push(() => store.close());
    const ex = JSON.parse(fs.readFileSync(path.join(loadContract().dir, 'examples', 'decision.json'), 'utf8')) as Record<string, unknown>;
    const { id: _id, seq: _seq, ...decision } = (Array.isArray(ex.records) ? (ex.records as Record<string, unknown>[])[0] : ex) as Record<string, unknown>;
    // A backlog three times the rate: one second's worth goes at once, the rest as tokens refill.
    store.outbox.enqueueMany('decision', Array.from({ length: 300 }, (_, i) => ({ ...decision, ts: clock.now() + i })));
    const cfg = resolveUplinkConfig({ backfillRecordsPerSec: 100, batchMaxRecords: 20, reconnect: { minMs: 100, maxMs: 1000 } }, broker.url, 'site1', 'gw1');
    const uplink = new Uplink(store.outbox, cfg, { site: 'site1', gateway: 'gw1' }, { clock });
    cleanups.push(() => uplink.stop());
    uplink.start();
    await waitFor(() => uplink.health().connected, 10_000, 'uplink connected');
    clock.stepWall(-3_600_000);
    // Wall-clock arithmetic took an hour's worth of tokens away here: nothing more for an hour.
    await waitFor(() => store.outbox.outboxStats().records === 0, 15_000, 'backlog sent and acknowledged');
    expect(uplink.health().recordsAcked).toBe(300);
  });
});

describe('uplink against aedes: gateway process killed', () => {
  it('SIGKILL mid-publish and restart: every record delivered, no gap', async () => {
    const { sigkillScenario } = await import('./scenarios.js');
    const rx = await receiver(broker.url);
    await sigkillScenario(broker.url, rx, tmp());
  });
});
