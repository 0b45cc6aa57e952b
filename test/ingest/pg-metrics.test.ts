import parse from 'parse-prometheus-text-format';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics } from '../../tools/ingest/metrics.js';
import type { PgIngestStats } from '../../tools/ingest/pg-ingest.js';
import { publishBacklogs } from '../../tools/ingest/sim-gateways.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { havePostgres, PgCluster } from '../helpers/postgres.js';
import { assertBuilt } from '../uplink/child-gateway.js';
import { freshDatabase, recordCount, spawnReceiver } from './harness.js';

/** `carbonedge receive --pg --metrics HOST:PORT`: the receiver's counters in Prometheus text format. */
const run = havePeer('mosquitto') && havePostgres();

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** name -> value of every sample (no labels here). */
async function scrape(port: number): Promise<{ values: Record<string, number>; types: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parse(await res.text());
  return {
    values: Object.fromEntries(families.map((f) => [f.name, Number(f.metrics[0]!.value)])),
    types: Object.fromEntries(families.map((f) => [f.name, f.type])),
  };
}

describe('ingest metrics server', () => {
  it('serves the counters as carbonedge_ingest_* (read at scrape time) on 127.0.0.1, 404 elsewhere, and closes', async () => {
    const s: PgIngestStats = { messages: 7, inserted: 40, duplicates: 3, rejected: 2, batches: 5, pgFailures: 1, unacked: 1, droppedQos0: 0, backpressure: true };
    const server = await serveMetrics('127.0.0.1', 0, () => s);
    cleanups.push(() => server.close());
    const first = await scrape(server.port);
    expect(first.values).toEqual({
      carbonedge_ingest_messages_total: 7,
      carbonedge_ingest_inserted_total: 40,
      carbonedge_ingest_duplicates_total: 3,
      carbonedge_ingest_rejected_total: 2,
      carbonedge_ingest_batches_total: 5,
      carbonedge_ingest_pg_failures_total: 1,
      carbonedge_ingest_dropped_qos0_total: 0,
      carbonedge_ingest_unacked: 1,
      carbonedge_ingest_backpressure: 1,
    });
    expect(first.types.carbonedge_ingest_inserted_total).toBe('COUNTER');
    expect(first.types.carbonedge_ingest_backpressure).toBe('GAUGE');
    Object.assign(s, { messages: 9, inserted: 55, unacked: 0, backpressure: false });
    const second = await scrape(server.port);
    expect(second.values).toMatchObject({ carbonedge_ingest_messages_total: 9, carbonedge_ingest_inserted_total: 55, carbonedge_ingest_unacked: 0, carbonedge_ingest_backpressure: 0 });
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/metrics`)).rejects.toThrow();
  });
});

describe.runIf(run)('carbonedge receive --pg --metrics (mosquitto + PostgreSQL)', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await PgCluster.start({ settings: ['fsync=off'] });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('the CLI serves its counters while it runs and closes the port at exit', async () => {
    assertBuilt();
    const m = await Mosquitto.start();
    cleanups.push(() => m.close());
    const db = await freshDatabase(cluster);
    const port = await freePort();
    const rx = await spawnReceiver(m.url, db, 'met', 'rxm', 1, ['--metrics', `127.0.0.1:${port}`]);
    cleanups.push(async () => {
      if (rx.proc.exitCode === null && rx.proc.signalCode === null) {
        rx.proc.kill('SIGKILL');
        await rx.exited;
      }
    });
    await publishBacklogs(m.url, { gateways: 2, records: 30, batch: 10 });
    await waitFor(async () => (await recordCount(db)) === 60, 30_000, 'records');
    await waitFor(async () => (await scrape(port)).values.carbonedge_ingest_unacked === 0, 10_000, 'all acknowledged');
    const { values } = await scrape(port);
    expect(values).toMatchObject({ carbonedge_ingest_messages_total: 6, carbonedge_ingest_inserted_total: 60, carbonedge_ingest_duplicates_total: 0, carbonedge_ingest_rejected_total: 0, carbonedge_ingest_backpressure: 0 });
    expect(values.carbonedge_ingest_batches_total).toBeGreaterThan(0);
    rx.proc.kill('SIGINT');
    expect(await rx.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 90_000);

  it('--metrics must be HOST:PORT', async () => {
    assertBuilt();
    await expect(spawnReceiver('mqtt://127.0.0.1:1', 'postgres://x@127.0.0.1/db', 'met', 'rxbad', 1, ['--metrics', '9100'])).rejects.toThrow(/--metrics expects HOST:PORT, got '9100'/);
  }, 30_000);
});
