import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { packagePath } from '../../runtime/package-root.js';
import { migrate } from '../ingest/migrations.js';
import { PgCluster } from '../ingest/pg-cluster.js';
import { publishBacklogs, simEnvelope } from '../ingest/sim-gateways.js';
import { startMosquitto } from './mosquitto.js';

const CLI = packagePath('tools', 'carbonedge.js');

/**
 * Fleet ingest: a one-day backlog of 50 gateways (40 points x 1440 one-minute summaries each, the
 * drain benchmark's 2.88 M readings-1m records, envelopes of 500) published through a local
 * mosquitto and stored by `carbonedge receive --pg --share` with 1 and 3 receiver processes into a
 * throw-away PostgreSQL 15 cluster (default settings: fsync and synchronous_commit on), against a
 * plain server-side `COPY` of the same rows into the same table (the database's own limit here).
 *
 *   BENCH_INGEST_MINUTES=144 npm run bench -- ingest   # a tenth of the day (288 k records)
 */
export async function benchIngest(opts: { gateways?: number; minutes?: number; batch?: number } = {}): Promise<Record<string, unknown>> {
  const gateways = opts.gateways ?? 50;
  const minutes = opts.minutes ?? Number(process.env.BENCH_INGEST_MINUTES ?? 1440);
  const batch = opts.batch ?? 500;
  const perGateway = 40 * minutes;
  const total = gateways * perGateway;
  if (!PgCluster.available()) throw new Error('PostgreSQL 15 server binaries missing (/usr/lib/postgresql/15/bin): install postgresql-15');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-bench-ingest-'));
  const cluster = await PgCluster.start({ settings: ['shared_buffers=256MB', 'max_wal_size=4GB'] });
  const { url, proc } = await startMosquitto(dir);
  const res: Record<string, unknown> = { gateways, records: total, batch };
  try {
    // Baseline: COPY of the same rows (same bodies as the envelopes carry) into a fresh carbonedge_records.
    {
      const db = await database(cluster, 'bench_copy');
      const file = path.join(cluster.dir, 'rows.copy');
      const out = fs.openSync(file, 'w');
      for (let i = 0; i < gateways; i++) {
        for (let s = 1; s <= perGateway; s += batch) {
          const seqs = Array.from({ length: Math.min(batch, perGateway - s + 1) }, (_, k) => s + k);
          const env = JSON.parse(simEnvelope(i, seqs).payload) as { gateway: string; stream: string; records: { id: string; seq: number; ts: number }[] };
          fs.writeSync(out, env.records.map((r) => `${r.id}\t${env.gateway}\t${env.stream}\t${r.seq}\t${new Date(r.ts).toISOString()}\t${JSON.stringify(r).replace(/\\/g, '\\\\')}\n`).join(''));
        }
      }
      fs.closeSync(out);
      if (process.getuid?.() === 0) fs.chownSync(file, 65534, 65534);
      const c = new pg.Client(db);
      await c.connect();
      await migrate(c);
      await c.query("SELECT carbonedge_ensure_partition('2026-01-01T00:00:00Z')");
      const t0 = performance.now();
      await c.query(`COPY carbonedge_records (id, gateway, stream, seq, ts, body) FROM '${file}'`);
      const sec = (performance.now() - t0) / 1000;
      await c.end();
      fs.rmSync(file);
      await drop(cluster, 'bench_copy');
      res.copySeconds = round(sec);
      res.copyRecordsPerSec = Math.round(total / sec);
    }
    for (const receivers of [1, 3]) {
      const name = `bench_rx${receivers}`;
      const db = await database(cluster, name);
      const procs = [];
      for (let i = 0; i < receivers; i++) procs.push(await receiver(url, db, `bench${receivers}`, `bench${receivers}-${i}`));
      const t0 = performance.now();
      const publishing = publishBacklogs(url, { gateways, records: perGateway, batch, inFlight: 16 });
      const c = new pg.Client(db);
      await c.connect();
      for (;;) {
        const n = Number((await c.query<{ n: string | null }>('SELECT sum(records) AS n FROM carbonedge_streams')).rows[0]!.n ?? 0);
        if (n >= total) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const sec = (performance.now() - t0) / 1000;
      await publishing;
      const rows = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM carbonedge_records')).rows[0]!.n);
      await c.end();
      await Promise.all(procs.map(stop));
      await drop(cluster, name);
      if (rows !== total) throw new Error(`ingest with ${receivers} receiver(s): ${rows} rows, expected ${total}`);
      res[`receivers${receivers}Seconds`] = round(sec);
      res[`receivers${receivers}RecordsPerSec`] = Math.round(total / sec);
      res[`receivers${receivers}RatioToCopy`] = round(total / sec / (res.copyRecordsPerSec as number));
    }
    process.stdout.write(
      `ingest: ${total} records of ${gateways} gateways through mosquitto into PostgreSQL: 1 receiver ${res.receivers1RecordsPerSec}/s (${res.receivers1Seconds} s, ${res.receivers1RatioToCopy} of COPY), ` +
        `3 receivers ${res.receivers3RecordsPerSec}/s (${res.receivers3Seconds} s, ${res.receivers3RatioToCopy} of COPY); plain COPY ${res.copyRecordsPerSec}/s (${res.copySeconds} s)\n`,
    );
    return res;
  } finally {
    proc.kill('SIGTERM');
    await cluster.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function database(cluster: PgCluster, name: string): Promise<string> {
  const c = new pg.Client(cluster.url);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

async function drop(cluster: PgCluster, name: string): Promise<void> {
  const c = new pg.Client(cluster.url);
  await c.connect();
  await c.query(`DROP DATABASE ${name}`);
  await c.end();
}

async function receiver(url: string, db: string, share: string, clientId: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [CLI, 'receive', '--url', url, '--pg', db, '--share', share, '--client-id', clientId], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const deadline = performance.now() + 30_000;
  while (!err.includes('receiving from')) {
    if (p.exitCode !== null || performance.now() > deadline) throw new Error(`receiver ${clientId} did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

function round(x: number): number {
  return Number(x.toFixed(2));
}
