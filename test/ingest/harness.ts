import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pg from 'pg';
import pino from 'pino';
import { PgIngest, type PgIngestOptions } from '../../tools/ingest/pg-ingest.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Mosquitto } from '../helpers/mosquitto.js';
import { PgCluster } from '../helpers/postgres.js';
import { waitFor } from '../helpers/peers.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'carbonedge.js');

let dbCounter = 0;

/** A fresh database in `cluster`; its URL. */
export async function freshDatabase(cluster: PgCluster): Promise<string> {
  const name = `t${process.pid}_${++dbCounter}`;
  const c = new pg.Client(cluster.url);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

/** One query on a short-lived connection (survives server restarts between calls). */
export async function q<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Count of rows in carbonedge_records, or -1 while the database is unreachable. */
export async function recordCount(url: string): Promise<number> {
  try {
    return Number((await q<{ n: string }>(url, 'SELECT count(*) AS n FROM carbonedge_records'))[0]!.n);
  } catch {
    return -1;
  }
}

/** Every gateway 0..gateways-1 holds seq 1..records exactly once, and nothing else is stored. */
export async function exactlyOnce(url: string, gateways: number, records: number): Promise<{ rows: number; distinct: number; complete: number; gaps: number }> {
  const [r] = await q<{ rows: string; distinct: string }>(url, 'SELECT count(*) AS rows, count(DISTINCT id) AS distinct FROM carbonedge_records');
  const [c] = await q<{ complete: string }>(
    url,
    `SELECT count(*) AS complete FROM (SELECT gateway FROM carbonedge_records GROUP BY gateway HAVING count(DISTINCT seq) = $1 AND min(seq) = 1 AND max(seq) = $1) x`,
    [records],
  );
  const [g] = await q<{ n: string }>(url, 'SELECT count(*) AS n FROM carbonedge_gaps');
  return { rows: Number(r!.rows), distinct: Number(r!.distinct), complete: Number(c!.complete) === gateways ? gateways : Number(c!.complete), gaps: Number(g!.n) };
}

/** Publish messages in order on one short-lived MQTT connection (QoS 1 unless told). */
export async function publishTo(url: string, messages: { topic: string; payload: string | Buffer; qos?: 0 | 1; retain?: boolean }[]): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId: `pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  for (const m of messages) await c.publishAsync(m.topic, m.payload, { qos: m.qos ?? 1, retain: m.retain ?? false });
  await c.endAsync();
}

/** An in-process receiver whose log lines are kept. */
export async function startIngest(o: Omit<PgIngestOptions, 'logger'>): Promise<{ ingest: PgIngest; logs: string[] }> {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(s) });
  const ingest = new PgIngest({ ...o, logger, retry: { minMs: 100, maxMs: 1000 } });
  await ingest.start();
  return { ingest, logs };
}

export interface ReceiverProcess {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number>;
}

/** `carbonedge receive --url --pg --share --client-id [extra]` as a child process (dist/ must be built). */
export async function spawnReceiver(url: string, pgUrl: string, share: string, clientId: string, connections = 2, extra: string[] = []): Promise<ReceiverProcess> {
  const proc = spawn(process.execPath, [CLI, 'receive', '--url', url, '--pg', pgUrl, '--share', share, '--client-id', clientId, '--connections', String(connections), '--json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number>((r) => proc.once('exit', (code, sig) => r(code ?? (sig ? 128 : -1))));
  await waitFor(() => out.includes('receiving from') || proc.exitCode !== null, 30_000, `receiver ${clientId} subscribed`);
  if (proc.exitCode !== null) throw new Error(`receiver ${clientId} exited: ${out}`);
  return { proc, output: () => out, exited };
}

/**
 * The peers of a test file of in-process ingests: one PostgreSQL cluster and one mosquitto for the
 * file (started only when `run`), and every ingest started through it stopped after each test.
 */
export function ingestSuite(run: boolean) {
  let cluster: PgCluster | undefined;
  let broker: Mosquitto | undefined;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  beforeAll(async () => {
    if (!run) return;
    cluster = await PgCluster.start({ settings: ['fsync=off'] });
    broker = await Mosquitto.start();
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await cluster?.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const brokerUrl = () => broker!.url;
  return {
    brokerUrl,
    /** A fresh database of the file's cluster; its URL. */
    database: () => freshDatabase(cluster!),
    async ingest(o: Omit<Parameters<typeof startIngest>[0], 'url'>) {
      const r = await startIngest({ url: brokerUrl(), ...o });
      cleanups.push(() => r.ingest.stop(1000));
      return r;
    },
    publish: (messages: Parameters<typeof publishTo>[1]) => publishTo(brokerUrl(), messages),
  };
}
