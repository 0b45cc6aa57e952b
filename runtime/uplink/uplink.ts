import fs from 'node:fs';
import zlib from 'node:zlib';
import mqtt, { type IClientOptions, type IClientSubscribeOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Clock } from '../types.js';
import { monoNow, systemClock } from '../types.js';
import type { OutboxAck, OutboxBatch, OutboxReader } from '../outbox/outbox.js';
import type { ResolvedUplinkConfig } from './config-schema.js';
import { errorResponse, type CommandResponse, type CommandRouter } from './commands.js';

/** Version of the envelope and status payloads (runtime/uplink/contract/envelope.v1.schema.json). */
export const ENVELOPE_SCHEMA_VERSION = 1;

export interface UplinkHealth {
  connected: boolean;
  /** Broker URL without credentials. */
  url: string;
  backlogRecords: number;
  backlogBytes: number;
  /** Age of the oldest record not yet acknowledged, ms; 0 when the outbox is empty. */
  oldestUnsentAgeMs: number;
  lastAckAt?: number;
  lastConnectAt?: number;
  lastError?: string;
  connects: number;
  /** Publishes that got no PUBACK in time (each dropped the connection). */
  publishTimeouts: number;
  inFlight: number;
  messagesAcked: number;
  recordsAcked: number;
  /** Inbound commands (`<prefix>/cmd/<name>`): subscribed on this connection, and counts since start. */
  commands: { subscribed: boolean; received: number; ok: number; error: number; responsesDropped: number };
}

interface Lane {
  /** Highest seq handed to the wire on this connection. */
  cursor: number;
  /** Backfill lane: only records up to this seq (the last seq when the connection came up). */
  upTo?: number;
}

/** Per-stream cursors for one connection: backfill (records waiting at connect) and live. */
interface StreamLanes {
  backfill: Lane;
  live: Lane;
}

export function topicFor(prefix: string, stream: string, gzip: boolean): string {
  return `${prefix}/data/${stream}${gzip ? '/gzip' : ''}`;
}

/** Commands to the gateway arrive on `<prefix>/cmd/<name>`; answers go to `<prefix>/cmd/<name>/response`. */
export function commandTopic(prefix: string, name = '+'): string {
  return `${prefix}/cmd/${name}`;
}

/** Pending commands at most (a flood is answered with errors, never buffered without bound). */
const MAX_PENDING_COMMANDS = 64;

/**
 * The MQTT uplink: publishes the store's outbox, deletes records only after PUBACK.
 *
 * - One supervised connection; a new mqtt.js client per attempt (reconnectPeriod 0) with jittered
 *   exponential backoff, so mqtt.js's in-memory outgoing store never outlives a connection: every
 *   unacknowledged record is still in the outbox and is re-sent from there after a reconnect.
 * - Clean session (clean: true): the outbox, not the broker session, is the source of truth. The
 *   only subscription is the command topic `<prefix>/cmd/+` (QoS 1), renewed on every connect;
 *   commands published while the gateway is offline are not queued for it (see README: a stale
 *   override or price replayed hours later would be worse than none).
 * - Every publish is guarded by `publishTimeoutMs`: a broker that stops acknowledging makes us drop
 *   the connection and reconnect, never wait forever (publishAsync never settles while offline).
 * - Ordered per stream. Records already waiting when the connection comes up are backfilled in
 *   sequence order with a rate cap (`backfillRecordsPerSec`), in a lane separate from live records,
 *   so live data is not starved; envelopes carry `backfill: true` for the former.
 * - A retained `<prefix>/status` {state: online|offline} on connect, set as the Will, and on stop.
 *   With commands, `online` is published once the command subscription is acknowledged: a cloud
 *   that sees `online` can send commands.
 */
export class Uplink {
  private client: MqttClient | undefined;
  private generation = 0;
  private connected = false;
  private stopped = true;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  /** A pump queued for the next turn of the event loop (one at most, however many PUBACKs ask). */
  private pumpImmediate: NodeJS.Immediate | undefined;
  private attempts = 0;
  private lanes = new Map<string, StreamLanes>();
  private inFlight = 0;
  private tokens = 0;
  private tokensAt = 0;
  private pumping = false;
  private unsubs: (() => void)[] = [];
  private pendingAcks: OutboxAck[] = [];
  private ackTimer: NodeJS.Timeout | undefined;
  private commandsSubscribed = false;
  private pendingCommands = 0;
  private commandChain: Promise<void> = Promise.resolve();
  private responsesDropped = 0;
  /** Retained messages besides the status (metadata, availability, discovery): latest payload per topic. */
  private readonly retained = new Map<string, string>();
  private readonly h = { connects: 0, publishTimeouts: 0, messagesAcked: 0, recordsAcked: 0, lastAckAt: undefined as number | undefined, lastConnectAt: undefined as number | undefined, lastError: undefined as string | undefined };
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(
    private readonly outbox: OutboxReader,
    readonly config: ResolvedUplinkConfig,
    private readonly ids: { site: string; gateway: string; config?: { id: string; sha256: string } },
    opts: { logger?: Logger; clock?: Clock; commands?: CommandRouter } = {},
  ) {
    this.log = opts.logger ?? silentLogger();
    this.clock = opts.clock ?? systemClock;
    this.commands = opts.commands;
  }

  private readonly commands?: CommandRouter;

  get statusTopic(): string {
    return `${this.config.topicPrefix}/status`;
  }

  /**
   * Keep `payload` retained on `topic` (QoS 1): published now when connected, and again after
   * every connect (a broker restarted without persistence has lost it). Same payload: nothing sent.
   */
  publishRetained(topic: string, payload: string): void {
    if (this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    if (this.connected && this.client) this.sendRetained(this.client, topic, payload);
  }

  private sendRetained(client: MqttClient, topic: string, payload: string): void {
    const gen = this.generation;
    try {
      client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        if (err && gen === this.generation) this.noteError(err);
      });
    } catch (err) {
      this.noteError(err as Error);
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubs.push(this.outbox.onEnqueue(() => this.schedulePump(0)));
    this.connect();
  }

  /** Publish the offline status (best effort, bounded) and close the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubs.splice(0)) u();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.pumpImmediate) clearImmediate(this.pumpImmediate);
    this.pumpTimer = undefined;
    this.pumpImmediate = undefined;
    const client = this.client;
    this.client = undefined;
    this.generation++;
    if (!client) {
      this.flushAcks();
      return;
    }
    if (this.connected) {
      await withTimeout(
        new Promise<void>((resolve) => client.publish(this.statusTopic, this.statusPayload('offline'), { qos: 1, retain: true }, () => resolve())),
        2000,
      ).catch(() => undefined);
    }
    this.connected = false;
    await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), 2000).catch(() => {
      client.end(true);
    });
    this.flushAcks();
  }

  health(): UplinkHealth {
    const s = this.outbox.outboxStats();
    return {
      connected: this.connected,
      url: redact(this.config.url),
      backlogRecords: s.records,
      backlogBytes: s.bytes,
      oldestUnsentAgeMs: s.oldestCreated === undefined ? 0 : Math.max(0, this.clock.now() - s.oldestCreated),
      lastAckAt: this.h.lastAckAt,
      lastConnectAt: this.h.lastConnectAt,
      lastError: this.h.lastError,
      connects: this.h.connects,
      publishTimeouts: this.h.publishTimeouts,
      inFlight: this.inFlight,
      messagesAcked: this.h.messagesAcked,
      recordsAcked: this.h.recordsAcked,
      commands: {
        subscribed: this.commandsSubscribed,
        received: this.commands?.counts.received ?? 0,
        ok: this.commands?.counts.ok ?? 0,
        error: this.commands?.counts.error ?? 0,
        responsesDropped: this.responsesDropped,
      },
    };
  }

  private statusPayload(state: 'online' | 'offline'): string {
    const epoch = this.outbox.epoch;
    const config = this.ids.config ? { config: { id: this.ids.config.id, sha256: this.ids.config.sha256 } } : {};
    return JSON.stringify({ schemaVersion: ENVELOPE_SCHEMA_VERSION, site: this.ids.site, gateway: this.ids.gateway, state, ts: this.clock.now(), ...(epoch ? { storeEpoch: epoch } : {}), ...config });
  }

  /**
   * Publish a later answer to a command (e.g. the outcome of a config apply, after the restart it
   * caused) on `<prefix>/cmd/<name>/response`. False when not connected: the caller retries.
   */
  answer(name: string, res: CommandResponse): boolean {
    if (!this.client || !this.connected) return false;
    this.publishResponse(`${this.config.topicPrefix}/cmd/${name}/response`, res);
    return true;
  }

  private clientOptions(): IClientOptions {
    const c = this.config;
    const readPem = (f?: string) => (f ? fs.readFileSync(f) : undefined);
    return {
      clientId: c.clientId,
      clean: true,
      protocolVersion: c.protocolVersion,
      keepalive: c.keepaliveSec,
      connectTimeout: c.connectTimeoutMs,
      reconnectPeriod: 0,
      queueQoSZero: false,
      // No table of 65,536 pre-built 2-byte Buffers in mqtt-packet (~4 MB of heap, ~7 MB of RSS
      // measured by `npm run bench -- memory`); numbers are encoded as they are written instead.
      writeCache: false,
      username: c.username,
      password: c.password,
      ca: readPem(c.tls.ca),
      cert: readPem(c.tls.cert),
      key: readPem(c.tls.key),
      rejectUnauthorized: c.tls.rejectUnauthorized ?? true,
      servername: c.tls.servername,
      will: { topic: this.statusTopic, payload: Buffer.from(this.statusPayload('offline')), qos: 1, retain: true },
    };
  }

  private connect(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    let client: MqttClient;
    try {
      client = mqtt.connect(this.config.url, this.clientOptions());
    } catch (err) {
      this.noteError(err as Error);
      this.scheduleReconnect();
      return;
    }
    this.client = client;
    client.on('connect', () => {
      if (gen !== this.generation) return;
      this.connected = true;
      this.attempts = 0;
      this.h.connects++;
      this.h.lastConnectAt = this.clock.now();
      this.inFlight = 0;
      this.flushAcks();
      this.lanes.clear();
      // Records waiting now are backlog (rate-capped backfill); everything enqueued later is live.
      for (const stream of this.outbox.streams()) {
        const upTo = this.outbox.lastSeq(stream);
        this.lanes.set(stream, { backfill: { cursor: 0, upTo }, live: { cursor: upTo } });
      }
      this.tokens = this.config.backfillRecordsPerSec;
      this.tokensAt = monoNow(this.clock);
      this.log.info({ url: redact(this.config.url), backlog: this.outbox.outboxStats().records }, 'uplink connected');
      let announced = false;
      const live = () => gen === this.generation && this.client === client && this.connected;
      const online = () => {
        if (announced || !live()) return;
        announced = true;
        this.sendRetained(client, this.statusTopic, this.statusPayload('online'));
        for (const [topic, payload] of this.retained) this.sendRetained(client, topic, payload);
      };
      if (this.commands) {
        const topic = commandTopic(this.config.topicPrefix);
        // A broker that never answers the SUBSCRIBE still gets the status (data flows regardless).
        const subTimer = setTimeout(() => {
          if (!live() || announced) return;
          this.log.error({ topic, timeoutMs: this.config.publishTimeoutMs }, 'no SUBACK for the command subscription: online without commands');
          online();
        }, this.config.publishTimeoutMs);
        subTimer.unref?.();
        // MQTT 5: retain-as-published, so a command retained at the broker keeps its retain flag
        // on live delivery too and is refused (MQTT 3.1.1 clears the flag then; the command's
        // issuedAt bounds how long such a message can be applied: ./command-freshness.ts).
        const subOpts: IClientSubscribeOptions = { qos: 1, ...(this.config.protocolVersion === 5 ? { rap: true } : {}) };
        client.subscribe(topic, subOpts, (err, granted) => {
          clearTimeout(subTimer);
          if (!live()) return; // the connection went away meanwhile
          const refused = err ?? (granted?.some((g) => g.qos === 128) ? new Error(`broker refused the subscription to ${topic}`) : undefined);
          if (refused) {
            this.noteError(refused);
            this.log.error({ topic, err: refused.message }, 'command subscription failed: this gateway receives no commands on this connection');
          } else {
            this.commandsSubscribed = true;
            this.log.info({ topic, commands: this.commands!.names() }, 'listening for commands');
          }
          online();
        });
      } else online();
      this.schedulePump(0);
    });
    client.on('message', (topic, payload, packet) => {
      if (gen === this.generation) this.onCommandMessage(topic, payload, !!packet.retain);
    });
    client.on('error', (err) => {
      if (gen === this.generation) this.noteError(err);
    });
    client.on('close', () => {
      if (gen !== this.generation) return;
      const was = this.connected;
      this.connected = false;
      this.commandsSubscribed = false;
      this.inFlight = 0;
      this.client = undefined;
      client.removeAllListeners('connect');
      client.end(true);
      if (was) this.log.warn({ url: redact(this.config.url) }, 'uplink disconnected; unacknowledged records stay in the outbox');
      this.scheduleReconnect();
    });
  }

  /** A message on `<prefix>/cmd/<name>`: handled in arrival order, answered on `.../response`. */
  private onCommandMessage(topic: string, payload: Buffer, retained: boolean): void {
    const router = this.commands;
    const base = commandTopic(this.config.topicPrefix, '');
    if (!router || !topic.startsWith(base)) return;
    const name = topic.slice(base.length);
    if (!name || name.includes('/')) return;
    const responseTopic = `${topic}/response`;
    if (this.pendingCommands >= MAX_PENDING_COMMANDS) {
      router.counts.received++;
      router.counts.error++;
      this.log.warn({ command: name, pending: this.pendingCommands }, 'command refused: too many commands pending');
      this.publishResponse(responseTopic, errorResponse('CE_CMD_BUSY', `busy: ${this.pendingCommands} commands pending, try again later`));
      return;
    }
    this.pendingCommands++;
    this.commandChain = this.commandChain
      .then(() => router.handle(name, payload, { retained }))
      .then(
        (res) => this.publishResponse(responseTopic, res),
        (err: unknown) => this.log.error({ err, command: name }, 'command handling failed'),
      )
      .finally(() => {
        this.pendingCommands--;
      });
  }

  private publishResponse(topic: string, res: CommandResponse): void {
    const client = this.client;
    if (!client || !this.connected) {
      this.responsesDropped++;
      this.log.warn({ topic, status: res.status, transaction: res.transaction }, 'command response dropped: not connected');
      return;
    }
    try {
      client.publish(topic, JSON.stringify(res), { qos: 1 }, (err) => {
        if (err) {
          this.responsesDropped++;
          this.log.warn({ topic, err: err.message }, 'command response not delivered');
        }
      });
    } catch (err) {
      this.responsesDropped++;
      this.log.warn({ topic, err: (err as Error).message }, 'command response not delivered');
    }
  }

  private noteError(err: Error): void {
    const msg = err.message;
    if (msg !== this.h.lastError) this.log.warn({ err: msg, url: redact(this.config.url) }, 'uplink error');
    this.h.lastError = msg;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = Math.min(this.config.reconnectMaxMs, this.config.reconnectMinMs * 2 ** Math.min(this.attempts, 20));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /** Drop the connection (e.g. a publish that was never acknowledged): reconnect and re-send from the outbox. */
  private dropConnection(reason: string): void {
    const client = this.client;
    if (!client) return;
    this.h.lastError = reason;
    this.log.warn({ reason }, 'uplink dropping connection');
    client.end(true); // emits 'close' -> scheduleReconnect
  }

  /** Delete acknowledged records from the outbox (before lanes are reset, on stop, and every few ms). */
  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const acks = this.pendingAcks.splice(0);
    if (!acks.length) return;
    try {
      this.outbox.ack(acks);
    } catch (e) {
      this.log.error({ err: e }, 'could not delete acknowledged records; they will be re-sent (deduplicated by id)');
    }
  }

  /** Pump after `delayMs`, or (0) on the next turn of the event loop, replacing a later one. */
  private schedulePump(delayMs: number): void {
    if (this.stopped || !this.connected || this.pumpImmediate) return;
    if (this.pumpTimer) {
      if (delayMs > 0) return;
      clearTimeout(this.pumpTimer);
      this.pumpTimer = undefined;
    }
    if (delayMs === 0) {
      this.pumpImmediate = setImmediate(() => {
        this.pumpImmediate = undefined;
        this.pump();
      });
      return;
    }
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, delayMs);
  }

  private lanesOf(stream: string): StreamLanes {
    let l = this.lanes.get(stream);
    if (!l) {
      // A stream first seen after the connection came up: all live.
      l = { backfill: { cursor: 0, upTo: 0 }, live: { cursor: 0 } };
      this.lanes.set(stream, l);
    }
    return l;
  }

  private refillTokens(): void {
    const rate = this.config.backfillRecordsPerSec;
    if (rate <= 0) return;
    // Monotonic: a step of the wall clock neither stalls the backfill nor lets a burst through.
    const now = monoNow(this.clock);
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) / 1000) * rate);
    this.tokensAt = now;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let backfillWaiting = false;
      let progress = true;
      while (progress && this.connected && this.inFlight < this.config.maxInFlight) {
        progress = false;
        for (const stream of this.outbox.streams()) {
          if (this.inFlight >= this.config.maxInFlight) break;
          const lanes = this.lanesOf(stream);
          // Live first: never starved by the backlog.
          if (this.sendFrom(stream, lanes.live, false, this.config.batchMaxRecords)) progress = true;
          if (this.inFlight >= this.config.maxInFlight) break;
          if (lanes.backfill.cursor < (lanes.backfill.upTo ?? 0)) {
            const rate = this.config.backfillRecordsPerSec;
            let limit = this.config.batchMaxRecords;
            if (rate > 0) {
              this.refillTokens();
              limit = Math.min(limit, Math.floor(this.tokens));
            }
            if (limit < Math.min(this.config.batchMaxRecords, lanes.backfill.upTo! - lanes.backfill.cursor)) {
              backfillWaiting = true;
              if (limit < 1) continue;
            }
            const n = this.sendFrom(stream, lanes.backfill, true, limit);
            if (n) {
              progress = true;
              if (rate > 0) this.tokens -= n;
            }
          }
        }
      }
      if (backfillWaiting && this.connected) this.schedulePump(100);
    } catch (err) {
      this.log.error({ err }, 'uplink pump failed; retrying');
      this.schedulePump(1000);
    } finally {
      this.pumping = false;
    }
  }

  /** Publish the next batch of a lane; returns the number of records sent. */
  private sendFrom(stream: string, lane: Lane, backfill: boolean, limit: number): number {
    if (limit < 1) return 0;
    // Records acknowledged/dropped below the cursor are gone; none after it: nothing to do.
    // The outbox hands back the whole envelope, records included, in one Buffer.
    const head = JSON.stringify({
      schemaVersion: ENVELOPE_SCHEMA_VERSION,
      site: this.ids.site,
      gateway: this.ids.gateway,
      stream,
      ...(this.outbox.epoch ? { epoch: this.outbox.epoch } : {}),
      sentAt: this.clock.now(),
      ...(backfill ? { backfill: true } : {}),
    });
    const batch = this.outbox.readBatch(stream, lane.cursor, {
      maxRecords: limit,
      maxBytes: this.config.batchMaxBytes,
      upToSeq: lane.upTo,
      head: `${head.slice(0, -1)},"records":[`,
      tail: ']}',
    });
    if (!batch) return 0;
    lane.cursor = batch.lastSeq;
    this.publishBatch(stream, batch);
    return batch.records;
  }

  /** Publish an envelope the outbox built (`batch.text`). */
  private publishBatch(stream: string, batch: OutboxBatch): void {
    const client = this.client;
    if (!client) return;
    const gen = this.generation;
    const gzip = this.config.compression === 'gzip';
    const body = gzip ? zlib.gzipSync(batch.text, { level: 1 }) : batch.text;
    // Only the numbers are kept until the PUBACK, not the batch's text.
    const { firstSeq, lastSeq, records, bytes } = batch;
    this.inFlight++;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled || gen !== this.generation) return;
      settled = true;
      this.h.publishTimeouts++;
      this.dropConnection(`no PUBACK within ${this.config.publishTimeoutMs} ms for ${stream} seq ${firstSeq}..${lastSeq}`);
    }, this.config.publishTimeoutMs);
    timer.unref?.();
    client.publish(topicFor(this.config.topicPrefix, stream, gzip), body, { qos: 1 }, (err) => {
      clearTimeout(timer);
      if (!err) {
        // A PUBACK is a PUBACK, even from a connection we have since abandoned: delete (acks
        // arriving together are deleted in one transaction).
        this.pendingAcks.push({ stream, from: firstSeq, to: lastSeq, records, bytes });
        if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), 5);
        this.h.lastAckAt = this.clock.now();
        this.h.messagesAcked++;
        this.h.recordsAcked += records;
      }
      if (settled || gen !== this.generation) return;
      settled = true;
      this.inFlight--;
      if (err) return; // the connection is going away: 'close' resets the lanes
      this.schedulePump(0);
    });
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
