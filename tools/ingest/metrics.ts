import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { PgIngestStats } from './pg-ingest.js';

/**
 * `carbonedge receive --pg --metrics HOST:PORT`: the receiver's counters in Prometheus text format
 * (prom-client, its own registry, names under `carbonedge_ingest_`), read at scrape time.
 */

type Count = Exclude<keyof PgIngestStats, 'backpressure' | 'unacked'>;

const COUNTERS: [Count, string, string][] = [
  ['messages', 'carbonedge_ingest_messages_total', 'MQTT messages received'],
  ['inserted', 'carbonedge_ingest_inserted_total', 'Records stored (ids not held before)'],
  ['duplicates', 'carbonedge_ingest_duplicates_total', 'Records dropped because their id was already stored'],
  ['rejected', 'carbonedge_ingest_rejected_total', 'Messages or records written to carbonedge_rejected'],
  ['batches', 'carbonedge_ingest_batches_total', 'Transactions committed'],
  ['pgFailures', 'carbonedge_ingest_pg_failures_total', 'Failed batch attempts (retried; nothing acknowledged)'],
  ['droppedQos0', 'carbonedge_ingest_dropped_qos0_total', 'QoS 0 messages dropped while the queue was full'],
];

/** A registry whose metrics mirror `stats()` at every scrape. */
export function ingestRegistry(stats: () => PgIngestStats): Registry {
  const registers = [new Registry()];
  for (const [key, name, help] of COUNTERS)
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(stats()[key]);
      },
    });
  const gauge = (name: string, help: string, value: (s: PgIngestStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(stats()));
      },
    });
  gauge('carbonedge_ingest_unacked', 'Messages received and not yet acknowledged (at most one per connection)', (s) => s.unacked);
  gauge('carbonedge_ingest_backpressure', '1 while PostgreSQL is failing and the receiver reads no more from the broker', (s) => (s.backpressure ? 1 : 0));
  return registers[0]!;
}

export interface MetricsServer {
  /** The bound port (the one asked for, or the kernel's choice for 0). */
  port: number;
  close(): Promise<void>;
}

/** Serve `GET /metrics` on host:port (404 for anything else). */
export async function serveMetrics(host: string, port: number, stats: () => PgIngestStats): Promise<MetricsServer> {
  const registry = ingestRegistry(stats);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
