import fs from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import type { Logger } from '../../runtime/logger.js';
import { loadContract, type Contract } from '../../runtime/uplink/contract.js';
import { decodeMessage, DEFAULT_LIMITS, type Decoded, type DecodeLimits, type Rejection } from './decode.js';
import { migrate } from './migrations.js';
import { insertRejected, writeBatch, type Batch } from './pg-sink.js';
import { firstConnectAndSubscribe } from '../receiver/subscribe.js';

/**
 * `carbonedge receive --pg`: MQTT (v5, optionally a shared subscription `$share/<group>/...`) into
 * PostgreSQL. Each MQTT connection hands over one QoS 1 message at a time and gets its PUBACK only
 * after the transaction holding that message's rows has committed (mqtt.js `customHandleAcks`: the
 * client reads no further packet of that connection until the callback runs). So the in-memory
 * queue holds at most one message per connection (bounded by construction), a crash before the
 * commit leaves the message unacknowledged at the broker (redelivered), and when PostgreSQL is slow
 * or down the receiver stops reading: the broker holds the backlog (backpressure), not our heap.
 */

export interface PgIngestOptions {
  url: string;
  /** PostgreSQL connection string. */
  pg: string;
  /** MQTT v5 shared subscription group: several receivers split the load. */
  share?: string;
  /** Topic prefix (default `carbonedge/`). */
  topic?: string;
  /** Stable client id: persistent sessions (`<id>-<n>`), so a restarted receiver gets its unacknowledged messages again. */
  clientId?: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** MQTT connections of this receiver in the share group (default 4 with --share, else 1): messages in one transaction. */
  connections?: number;
  /** Wait this long for more messages before committing a partial batch (default 5 ms). */
  lingerMs?: number;
  limits?: DecodeLimits;
  logger: Logger;
  contract?: Contract;
  /** Retry delay after a PostgreSQL failure (doubles up to maxMs). */
  retry?: { minMs: number; maxMs: number };
}

export interface PgIngestStats {
  messages: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  batches: number;
  /** Failed batch attempts (PostgreSQL unreachable, restarted, deadlock): retried, nothing acknowledged. */
  pgFailures: number;
  /** Messages received and not yet acknowledged (at most one per connection). */
  unacked: number;
  /** QoS 0 messages dropped because the queue was full (QoS 0 has no acknowledgement to withhold). */
  droppedQos0: number;
  /** True while PostgreSQL is failing and the receiver is holding messages (not reading). */
  backpressure: boolean;
}

interface Pending {
  decoded: Decoded;
  ack: () => void;
}

const TRANSIENT = /^(08|40|53|57|58)/; // connection, transaction rollback (deadlock, serialization), resources, operator intervention, system

/** An error in the data (a SQLSTATE outside the transient classes), not in reaching the database. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !TRANSIENT.test(code);
}

/** A message PostgreSQL refused, as rejections (per record for data). */
function refused(d: Decoded, reason: string): Rejection[] {
  const one = (topic: string, body: string, recordId?: string): Rejection => ({ topic, reason, recordId, payloadBytes: body.length, payload: body.slice(0, 4096) });
  if (d.kind === 'data') return d.records.map((r) => one(`${r.gateway}/${r.stream}`, r.body, r.id));
  if (d.kind === 'metadata' && d.metadata) return [one(`${d.metadata.gateway}/metadata`, d.metadata.body)];
  if (d.kind === 'availability' && d.availability) return [one(`${d.availability.gateway}/device/${d.availability.device}/availability`, JSON.stringify(d.availability))];
  return [];
}

export class PgIngest {
  private readonly contract: Contract;
  private readonly clients: MqttClient[] = [];
  private readonly queue: Pending[] = [];
  private db: pg.Client | undefined;
  private readonly knownMonths = new Set<number>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly s: PgIngestStats = { messages: 0, inserted: 0, duplicates: 0, rejected: 0, batches: 0, pgFailures: 0, unacked: 0, droppedQos0: 0, backpressure: false };
  private readonly log: Logger;

  constructor(private readonly o: PgIngestOptions) {
    this.contract = o.contract ?? loadContract();
    this.log = o.logger;
  }

  get connectionCount(): number {
    return this.o.connections ?? (this.o.share ? 4 : 1);
  }

  get subscription(): string {
    const t = this.o.topic ?? 'carbonedge/';
    const filter = `${t.endsWith('/') ? t : `${t}/`}#`;
    return this.o.share ? `$share/${this.o.share}/${filter}` : filter;
  }

  /** Migrate the schema (under the advisory lock), then connect and subscribe every MQTT connection. */
  async start(): Promise<void> {
    const db = await this.connectDb();
    const applied = await migrate(db);
    if (applied.length) this.log.info({ applied }, 'carbonedge PostgreSQL schema migrated');
    const n = this.connectionCount;
    await Promise.all(Array.from({ length: n }, (_, i) => this.connectMqtt(i)));
  }

  private async connectDb(): Promise<pg.Client> {
    if (this.db) return this.db;
    const c = new pg.Client({ connectionString: this.o.pg, connectionTimeoutMillis: 5000 });
    c.on('error', (err) => {
      this.log.warn({ err: err.message }, 'PostgreSQL connection lost');
      if (this.db === c) this.db = undefined;
    });
    await c.connect();
    this.db = c;
    return c;
  }

  private async connectMqtt(i: number): Promise<void> {
    const o = this.o;
    const readPem = (f?: string) => (f ? fs.readFileSync(f) : undefined);
    const persistent = o.clientId !== undefined;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: persistent ? `${o.clientId}-${i}` : `carbonedge-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}-${i}`,
      clean: !persistent,
      // A persistent session outlives a crash: the broker keeps this connection's unacknowledged messages for its return.
      properties: persistent ? { sessionExpiryInterval: 7 * 86400 } : undefined,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
      ca: readPem(o.tls?.ca),
      cert: readPem(o.tls?.cert),
      key: readPem(o.tls?.key),
      rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
      // The PUBACK of a message received on a connection that has closed since is not sent: its
      // packet id may name another message on the new connection (the broker redelivers ours).
      customHandleAcks: (topic, payload, _packet, done) => {
        const gen = generation;
        this.enqueue(topic, payload, () => {
          if (gen === generation) done(0);
        });
      },
    };
    let generation = 0;
    const client = mqtt.connect(o.url, options);
    client.on('close', () => generation++);
    this.clients.push(client);
    client.on('message', (topic, payload, packet) => {
      if (packet.qos !== 0) return; // QoS 1/2 came through customHandleAcks
      if (this.queue.length >= this.connectionCount * 4) {
        this.s.droppedQos0++;
        return;
      }
      this.enqueue(topic, payload, () => undefined);
    });
    client.on('error', (err) => this.log.warn({ err: err.message, connection: i }, 'MQTT connection error (reconnecting)'));
    await firstConnectAndSubscribe(client, this.subscription);
  }

  private enqueue(topic: string, payload: Buffer, ack: () => void): void {
    this.s.messages++;
    this.s.unacked++;
    this.queue.push({ decoded: decodeMessage(this.contract, topic, payload, this.o.limits ?? DEFAULT_LIMITS), ack });
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.timer) return;
    if (this.queue.length >= this.connectionCount) return void this.startFlush();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startFlush();
    }, this.o.lingerMs ?? 5);
  }

  private startFlush(): void {
    if (this.flushing || !this.queue.length) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.queue.length) this.schedule();
    });
  }

  /** Commit everything queued (retrying while PostgreSQL fails), then acknowledge it. */
  private async flush(): Promise<void> {
    const items = this.queue.splice(0);
    let delay = this.o.retry?.minMs ?? 200;
    for (;;) {
      try {
        await this.commit(items);
        break;
      } catch (err) {
        this.s.pgFailures++;
        const e = err as Error & { code?: string };
        // The data, not the database: commit message by message; a message refused alone becomes a rejection.
        if (isDataError(e) && (await this.isolate(items))) break;
        if (!this.s.backpressure) {
          this.s.backpressure = true;
          this.log.error(
            { err: e.message, code: e.code, unacked: this.s.unacked },
            `PostgreSQL unavailable: holding ${this.s.unacked} unacknowledged message(s) and reading no more from the broker (backpressure) until a commit succeeds`,
          );
        }
        this.dropDb();
        if (this.stopping && this.stopDeadlinePassed()) return; // leave them unacknowledged: the broker redelivers
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.o.retry?.maxMs ?? 5000);
      }
    }
    if (this.s.backpressure) {
      this.s.backpressure = false;
      this.log.info({ failures: this.s.pgFailures }, 'PostgreSQL available again: ingest resumed');
    }
    for (const it of items) {
      this.s.unacked--;
      it.ack();
    }
  }

  private async commit(items: Pending[]): Promise<void> {
    const batch: Batch = { records: [], statuses: [], metadata: [], availability: [], rejected: [] };
    for (const { decoded: d } of items) {
      batch.rejected.push(...d.rejected);
      if (d.kind === 'data') batch.records.push(...d.records);
      else if (d.kind === 'status' && d.status) batch.statuses.push(d.status);
      else if (d.kind === 'metadata' && d.metadata) batch.metadata.push(d.metadata);
      else if (d.kind === 'availability' && d.availability) batch.availability.push(d.availability);
    }
    const db = await this.connectDb();
    const t0 = performance.now();
    const r = await writeBatch(db, batch, this.knownMonths).catch((err: { code?: string }) => {
      if (err.code !== '23514') throw err;
      // "no partition of relation found for row": a partition was dropped (retention) since we saw it.
      this.knownMonths.clear();
      return writeBatch(db, batch, this.knownMonths);
    });
    this.log.debug({ messages: items.length, records: batch.records.length, inserted: r.inserted, ms: Math.round(performance.now() - t0) }, 'batch committed');
    this.s.batches++;
    this.s.inserted += r.inserted;
    this.s.duplicates += r.duplicates;
    this.s.rejected += batch.rejected.length;
  }

  /** Commit message by message (false when PostgreSQL itself fails meanwhile: retry the whole set). */
  private async isolate(items: Pending[]): Promise<boolean> {
    for (const it of items) {
      try {
        await this.commit([it]);
      } catch (err) {
        const e = err as Error & { code?: string };
        if (!isDataError(e)) return false;
        const d = it.decoded;
        const reason = `PostgreSQL refused the message: ${e.message}`;
        const rej = refused(d, reason);
        this.log.warn({ err: e.message, records: rej.length }, 'message refused by PostgreSQL: recorded in carbonedge_rejected');
        try {
          if (rej.length) await insertRejected(await this.connectDb(), rej);
        } catch {
          return false;
        }
        this.s.rejected += rej.length;
      }
    }
    return true;
  }

  private dropDb(): void {
    const c = this.db;
    this.db = undefined;
    c?.end().catch(() => undefined);
  }

  private stopDeadline = Infinity;
  private stopDeadlinePassed(): boolean {
    return performance.now() > this.stopDeadline;
  }

  /** Commit what is queued (for up to `graceMs` if PostgreSQL is down), then disconnect. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.stopDeadline = performance.now() + graceMs;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing || this.queue.length) {
      if (!this.flushing) this.startFlush();
      await this.flushing;
      if (this.stopDeadlinePassed()) break;
    }
    await Promise.all(this.clients.splice(0).map((c) => new Promise<void>((resolve) => c.end(false, {}, () => resolve()))));
    this.dropDb();
  }

  stats(): PgIngestStats {
    return { ...this.s };
  }
}
