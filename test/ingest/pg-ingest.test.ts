import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { havePeer, waitFor } from '../helpers/peers.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { havePostgres, PgCluster } from '../helpers/postgres.js';
import { assertBuilt } from '../uplink/child-gateway.js';
import { publishBacklogs } from '../../tools/ingest/sim-gateways.js';
import { exactlyOnce, freshDatabase, q, recordCount, spawnReceiver, startIngest, type ReceiverProcess } from './harness.js';

/**
 * `carbonedge receive --pg` against real parts: mosquitto 2 and a PostgreSQL 15 cluster of our own
 * (temp directory, random port, run as nobody when root). Gateways are simulated publishers of
 * contract-valid backlogs (tools/ingest/sim-gateways.ts).
 */
const run = havePeer('mosquitto') && havePostgres();

let cluster: PgCluster;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeAll(async () => {
  // fsync off: the OS does not crash here. synchronous_commit stays on: an acknowledged message's rows must survive the crash restart below.
  if (run) cluster = await PgCluster.start({ settings: ['fsync=off'] });
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(): Promise<Mosquitto> {
  const m = await Mosquitto.start();
  cleanups.push(() => m.close());
  return m;
}

function track(r: ReceiverProcess): ReceiverProcess {
  cleanups.push(async () => {
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill('SIGKILL');
      await r.exited;
    }
  });
  return r;
}

async function ingest(o: Parameters<typeof startIngest>[0]) {
  const r = await startIngest(o);
  cleanups.push(() => r.ingest.stop(1000));
  return r;
}

describe.runIf(run)('carbonedge receive --pg (mosquitto + PostgreSQL)', () => {
  it('three receivers in one share group, 50 gateways, one receiver SIGKILLed mid-run and restarted: every record exactly once', async () => {
    assertBuilt();
    const m = await broker();
    const db = await freshDatabase(cluster);
    const rx = [];
    for (let i = 0; i < 3; i++) rx.push(track(await spawnReceiver(m.url, db, 'ce', `rx${i}`)));
    const G = 50;
    const N = 600;
    const publishing = publishBacklogs(m.url, { gateways: G, records: N, batch: 50, inFlight: 4 });
    await waitFor(async () => (await recordCount(db)) >= (G * N) / 4, 120_000, 'a quarter ingested');
    rx[1]!.proc.kill('SIGKILL');
    expect(await rx[1]!.exited).toBe(128);
    await publishing;
    // Redeliveries: ten gateways send their whole backlog again (a gateway restart after lost PUBACKs).
    await publishBacklogs(m.url, { gateways: 10, records: N, batch: 50 });
    // A supervisor restarts the killed receiver under its client id: its session's unacknowledged messages come back.
    rx[1] = track(await spawnReceiver(m.url, db, 'ce', 'rx1'));
    await waitFor(async () => (await recordCount(db)) >= G * N, 180_000, 'every record');
    await waitFor(async () => Number((await q<{ n: string }>(db, 'SELECT sum(records) AS n FROM carbonedge_streams'))[0]!.n) >= G * N, 30_000, 'gap bookkeeping');
    expect(await exactlyOnce(db, G, N)).toEqual({ rows: G * N, distinct: G * N, complete: G, gaps: 0 });
    // The load was split: each surviving receiver stored records.
    const summaries = [];
    for (const r of [rx[0]!, rx[2]!]) {
      r.proc.kill('SIGINT');
      expect(await r.exited).toBe(0);
      summaries.push(JSON.parse(r.output().trim().split('\n').find((l) => l.includes('"type":"summary"'))!) as { stats: { inserted: number; duplicates: number } });
    }
    for (const s of summaries) expect(s.stats.inserted).toBeGreaterThan(0);
    expect(Number((await q<{ n: string }>(db, 'SELECT count(*) AS n FROM carbonedge_rejected'))[0]!.n)).toBe(0);
  }, 300_000);

  it('acknowledges only after the commit: a receiver killed while PostgreSQL is down loses nothing (the broker redelivers)', async () => {
    assertBuilt();
    const m = await broker();
    const db = await freshDatabase(cluster);
    const rx = track(await spawnReceiver(m.url, db, 'solo', 'rxk', 1));
    await cluster.stop('fast');
    try {
      await publishBacklogs(m.url, { gateways: 3, records: 200, batch: 20 });
      await waitFor(() => rx.output().includes('reading no more from the broker (backpressure)'), 30_000, 'backpressure log line');
      rx.proc.kill('SIGKILL');
      await rx.exited;
    } finally {
      await cluster.restart();
    }
    expect(await recordCount(db)).toBe(0);
    track(await spawnReceiver(m.url, db, 'solo', 'rxk', 1));
    await waitFor(async () => (await recordCount(db)) >= 600, 60_000, 'redelivered records');
    expect(await exactlyOnce(db, 3, 200)).toEqual({ rows: 600, distinct: 600, complete: 3, gaps: 0 });
  }, 180_000);

  it('PostgreSQL restarted during ingest: no loss, no duplicate, the receivers resume', async () => {
    const m = await broker();
    const db = await freshDatabase(cluster);
    const rxs: Awaited<ReturnType<typeof ingest>>[] = [];
    for (let i = 0; i < 3; i++) rxs.push(await ingest({ url: m.url, pg: db, share: 'pgr', clientId: `pgr${i}`, connections: 2 }));
    const G = 50;
    const N = 400;
    const publishing = publishBacklogs(m.url, { gateways: G, records: N, batch: 40, inFlight: 2 });
    await waitFor(async () => (await recordCount(db)) >= (G * N) / 5, 120_000, 'a fifth ingested');
    await cluster.restart('immediate');
    await publishing;
    await waitFor(async () => (await recordCount(db)) >= G * N, 180_000, 'every record after the restart');
    await waitFor(() => rxs.every((r) => r.ingest.stats().unacked === 0), 30_000, 'everything acknowledged');
    expect(await exactlyOnce(db, G, N)).toEqual({ rows: G * N, distinct: G * N, complete: G, gaps: 0 });
    const failures = rxs.reduce((a, r) => a + r.ingest.stats().pgFailures, 0);
    expect(failures).toBeGreaterThan(0);
    expect(rxs.some((r) => r.logs.some((l) => l.includes('PostgreSQL available again')))).toBe(true);
  }, 300_000);
});
