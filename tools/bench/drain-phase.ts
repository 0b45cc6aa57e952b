/**
 * One phase of the drain benchmark in a process of its own (./drain.ts starts it), so that its RSS
 * growth is not hidden by memory an earlier phase left to the allocator:
 *   node drain-phase.js raw|uplink DB_FILE MQTT_URL BATCH IN_FLIGHT
 * `raw`: mqtt.js publishes the outbox rows as envelopes straight from SQLite (reads only);
 * `uplink`: carbonedge's uplink drains the outbox (and deletes it). Prints one JSON line:
 * { seconds, growthMB, peakMB } with the growth from after setup (and a full GC when the process
 * runs with --expose-gc) to the peak sampled every 50 ms.
 */
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

const MB = 1024 * 1024;

async function raw(file: string, url: string, batch: number, inFlight: number): Promise<() => Promise<void>> {
  const reader = new Database(file, { readonly: true });
  const client = await mqtt.connectAsync(url, { clientId: 'bench-raw', clean: true, reconnectPeriod: 0 });
  return async () => {
    const rows = reader.prepare("SELECT payload FROM outbox WHERE stream = 'readings-1m' ORDER BY seq").pluck().iterate() as IterableIterator<string>;
    let pending = 0;
    let wake: (() => void) | undefined;
    const send = async (payloads: string[]) => {
      while (pending >= inFlight) await new Promise<void>((r) => (wake = r));
      pending++;
      const json = `{"schemaVersion":1,"site":"bench","gateway":"gw","stream":"readings-1m","sentAt":${Date.now()},"records":[${payloads.join(',')}]}`;
      client.publish(topicFor('carbonedge/bench/gw', 'readings-1m', false), json, { qos: 1 }, () => {
        pending--;
        wake?.();
      });
    };
    let buf: string[] = [];
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
  };
}

async function uplink(file: string, url: string, batch: number, inFlight: number): Promise<() => Promise<void>> {
  const persistence = openPersistence(path.dirname(file), [STORE_MIGRATIONS], silentLogger());
  const outbox = new SqliteOutbox(persistence, { gatewayId: 'gw', clock: systemClock, logger: silentLogger() });
  const up = new Uplink(
    outbox,
    { ...resolveUplinkConfig({}, url, 'bench', 'gw'), batchMaxRecords: batch, batchMaxBytes: 4 * MB, maxInFlight: inFlight, backfillRecordsPerSec: 0 },
    { site: 'bench', gateway: 'gw' },
    { logger: silentLogger() },
  );
  return async () => {
    up.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (outbox.outboxStats().records === 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    await up.stop();
    persistence.close();
  };
}

const [mode, file, url, batch, inFlight] = process.argv.slice(2);
if (mode !== 'raw' && mode !== 'uplink') throw new Error('usage: drain-phase.js raw|uplink DB_FILE MQTT_URL BATCH IN_FLIGHT');
const run = await (mode === 'raw' ? raw : uplink)(file!, url!, Number(batch), Number(inFlight));
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const start = process.hrtime.bigint();
await run();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(`${JSON.stringify({ seconds, growthMB: Math.round((peak - rss0) / MB), peakMB: Math.round(peak / MB) })}\n`);
