import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { silentLogger } from '../../runtime/logger.js';
import { SqliteOutbox } from '../../runtime/outbox/sqlite-outbox.js';
import { openPersistence } from '../../runtime/persistence/database.js';
import { STORE_MIGRATIONS } from '../../runtime/store/migrations.js';
import { systemClock } from '../../runtime/types.js';
import { resolveUplinkConfig } from '../../runtime/uplink/config-schema.js';
import { topicFor, Uplink } from '../../runtime/uplink/uplink.js';
import { startMosquitto } from './mosquitto.js';

/**
 * Backlog drain: a one-day backlog of `devices` x `points` 1-minute summaries (readings-1m records
 * as the store writes them) drained from the outbox into a local mosquitto through the uplink
 * (batches, QoS 1, delete after PUBACK, no backfill rate cap), against mqtt.js publishing the same
 * envelopes (same batching, same in-flight window) straight from the rows, with no outbox bookkeeping.
 */
export async function benchDrain(opts: { devices?: number; points?: number; minutes?: number; batch?: number; inFlight?: number } = {}): Promise<Record<string, unknown>> {
  const devices = opts.devices ?? 50;
  const points = opts.points ?? 40;
  const minutes = opts.minutes ?? 1440;
  const batch = opts.batch ?? 500;
  const inFlight = opts.inFlight ?? 16;
  const total = devices * points * minutes;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-bench-drain-'));
  const { url, proc } = await startMosquitto(dir);
  try {
    // Build the backlog.
    const persistence = openPersistence(dir, [STORE_MIGRATIONS], silentLogger());
    const outbox = new SqliteOutbox(persistence, { gatewayId: 'gw', clock: systemClock, logger: silentLogger() });
    const t0 = Date.UTC(2026, 0, 1);
    const buildStart = performance.now();
    for (let m = 0; m < minutes; m++) {
      const recs: Record<string, unknown>[] = [];
      for (let d = 0; d < devices; d++)
        for (let p = 0; p < points; p++)
          recs.push({ ts: t0 + m * 60_000, device: `dev${d}`, point: `p${p}`, unit: 'W', min: 100 + p, max: 200 + p, mean: 150.5 + p, last: 170.25, count: 12, samples: 12, quality: 'good' });
      outbox.enqueueMany('readings-1m', recs);
    }
    const buildSec = (performance.now() - buildStart) / 1000;
    const backlogBytes = outbox.outboxStats().bytes;

    // Baseline: mqtt.js publishing the same envelopes straight from the rows.
    const baseStart = process.hrtime.bigint();
    {
      const reader = new Database(persistence.file, { readonly: true });
      const client = await mqtt.connectAsync(url, { clientId: 'bench-raw', clean: true, reconnectPeriod: 0 });
      const rows = reader.prepare("SELECT payload FROM outbox WHERE stream = 'readings-1m' ORDER BY seq").pluck().iterate() as IterableIterator<string>;
      let pending = 0;
      let wake: (() => void) | undefined;
      let buf: string[] = [];
      const send = async (payloads: string[]) => {
        while (pending >= inFlight) await new Promise<void>((r) => (wake = r));
        pending++;
        const json = `{"schemaVersion":1,"site":"bench","gateway":"gw","stream":"readings-1m","sentAt":${Date.now()},"records":[${payloads.join(',')}]}`;
        client.publish(topicFor('carbonedge/bench/gw', 'readings-1m', false), json, { qos: 1 }, () => {
          pending--;
          wake?.();
        });
      };
      for (const p of rows) {
        buf.push(p);
        if (buf.length === batch) {
          await send(buf);
          buf = [];
        }
      }
      if (buf.length) await send(buf);
      while (pending > 0) await new Promise<void>((r) => (wake = r));
      await client.endAsync();
      reader.close();
    }
    const baseSec = Number(process.hrtime.bigint() - baseStart) / 1e9;

    // Through the uplink.
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    const uplink = new Uplink(
      outbox,
      { ...resolveUplinkConfig({}, url, 'bench', 'gw'), batchMaxRecords: batch, batchMaxBytes: 4 * 1024 * 1024, maxInFlight: inFlight, backfillRecordsPerSec: 0 },
      { site: 'bench', gateway: 'gw' },
      { logger: silentLogger() },
    );
    const start = process.hrtime.bigint();
    uplink.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (outbox.outboxStats().records === 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const sec = Number(process.hrtime.bigint() - start) / 1e9;
    clearInterval(sampler);
    await uplink.stop();
    persistence.close();
    const res = {
      records: total,
      backlogMB: Number((backlogBytes / 1024 / 1024).toFixed(1)),
      buildSeconds: Number(buildSec.toFixed(1)),
      drainSeconds: Number(sec.toFixed(1)),
      recordsPerSec: Math.round(total / sec),
      rawMqttJsSeconds: Number(baseSec.toFixed(1)),
      rawMqttJsRecordsPerSec: Math.round(total / baseSec),
      ratioOursOverRaw: Number((sec / baseSec).toFixed(2)),
      peakRssMB: Math.round(peakRss / 1024 / 1024),
      rssGrowthMB: Math.round((peakRss - rss0) / 1024 / 1024),
      aim: 'one-day backlog of 50 devices x 40 points at 1-minute summaries drained in < 60 s, <= 1.5x mqtt.js direct, RSS growth <= 15 MB',
    };
    process.stdout.write(
      `drain: ${total} records (${res.backlogMB} MB) in ${res.drainSeconds} s = ${res.recordsPerSec} records/s through the uplink vs ${res.rawMqttJsRecordsPerSec}/s mqtt.js direct (${res.rawMqttJsSeconds} s) -> ${res.ratioOursOverRaw}x (aim <= 1.5x, < 60 s); RSS growth ${res.rssGrowthMB} MB (aim <= 15 MB), peak ${res.peakRssMB} MB\n`,
    );
    return res;
  } finally {
    proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]));
if (isMain) await benchDrain();
