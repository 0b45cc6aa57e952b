import fs from 'node:fs';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { formatAjvErrors, loadContract, type Contract } from '../../runtime/uplink/contract.js';
import { firstConnectAndSubscribe } from './subscribe.js';

/**
 * The reference receiver: what a cloud team reads first. Subscribes to `<topic>#`, validates every
 * message against the contract (envelope, then each record against its stream's schema),
 * deduplicates by record id, stores records in its own SQLite, and reports gaps in the sequence
 * numbers per (gateway, stream, store epoch). A gateway whose database started over (a corrupt
 * file moved aside, a zero-length file) numbers its records again from 1 under a new store epoch,
 * announced in its retained status and in every envelope: the receiver records the new epoch and
 * starts a new sequence for it (neither a gap nor duplicates). Legacy gateways send no epoch
 * (epoch '' here).
 */

export interface ReceiverOptions {
  url: string;
  /** SQLite file; default in memory. */
  db?: string;
  /** Topic prefix to subscribe under (default `carbonedge/`). */
  topic?: string;
  /** Persistent session id (clean: false): messages published while the receiver is away are queued by the broker. */
  clientId?: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Called after each message is processed. */
  onMessage?: (ev: MessageEvent) => void;
  contract?: Contract;
}

export interface MessageEvent {
  topic: string;
  kind: 'data' | 'status' | 'response' | 'other';
  gateway?: string;
  stream?: string;
  /** The store epoch of the records or status ('' = a legacy gateway without epochs). */
  epoch?: string;
  /** Set when this message announced a store epoch not seen before from its gateway (its database started over). */
  newEpoch?: boolean;
  records: number;
  accepted: number;
  duplicates: number;
  invalid: number;
  firstSeq?: number;
  lastSeq?: number;
  backfill?: boolean;
  error?: string;
}

export interface GapReport {
  gateway: string;
  stream: string;
  /** Store epoch (absent for a legacy gateway): sequence numbers count from 1 in each. */
  epoch?: string;
  firstSeq: number;
  lastSeq: number;
  records: number;
  /** Missing sequence ranges [from, to] between firstSeq and lastSeq. */
  missing: [number, number][];
}

export interface ReceiverStats {
  messages: number;
  records: number;
  duplicates: number;
  invalidMessages: number;
  invalidRecords: number;
  /** Records of streams with no schema in the contract: stored, counted, not validated. */
  unvalidatedRecords: number;
  statusMessages: number;
  /** Times a gateway was seen under a new store epoch after another one (its database started over). */
  epochChanges: number;
  /** Answers to commands seen on `<prefix>/cmd/<name>/response` (validated; commands themselves are not ours). */
  commandResponses: number;
  /** Error answers by their code (`code` of command-response.v1: CE_CMD_...; `none` for gateways that send no code). */
  commandErrorCodes: Record<string, number>;
}

export class Receiver {
  readonly db: Database.Database;
  private client: MqttClient | undefined;
  private readonly contract: Contract;
  private readonly prefix: string;
  private readonly s: ReceiverStats = {
    messages: 0,
    records: 0,
    duplicates: 0,
    invalidMessages: 0,
    invalidRecords: 0,
    unvalidatedRecords: 0,
    statusMessages: 0,
    epochChanges: 0,
    commandResponses: 0,
    commandErrorCodes: {},
  };
  private readonly insert: Database.Statement;
  private readonly insertInvalid: Database.Statement;
  private readonly upsertStatus: Database.Statement;
  private readonly insertEpoch: Database.Statement;
  /** The latest store epoch seen per gateway. */
  private readonly currentEpoch = new Map<string, string>();

  constructor(private readonly opts: ReceiverOptions) {
    this.contract = opts.contract ?? loadContract();
    const t = opts.topic ?? 'carbonedge/';
    this.prefix = t.endsWith('/') ? t : `${t}/`;
    this.db = new Database(opts.db ?? ':memory:');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS records (
        id TEXT PRIMARY KEY, site TEXT NOT NULL, gateway TEXT NOT NULL, stream TEXT NOT NULL,
        seq INTEGER NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, backfill INTEGER NOT NULL,
        payload TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS records_stream_seq ON records (gateway, stream, seq);
      CREATE TABLE IF NOT EXISTS invalid (received_at INTEGER NOT NULL, topic TEXT NOT NULL, error TEXT NOT NULL, payload TEXT);
      CREATE TABLE IF NOT EXISTS status (site TEXT NOT NULL, gateway TEXT NOT NULL, state TEXT NOT NULL, ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL, PRIMARY KEY (site, gateway));
      CREATE TABLE IF NOT EXISTS epochs (gateway TEXT NOT NULL, epoch TEXT NOT NULL, first_seen INTEGER NOT NULL, PRIMARY KEY (gateway, epoch));
    `);
    // Receiver databases written before store epochs: add the columns (existing rows are legacy, epoch '').
    addColumn(this.db, 'records', 'epoch', "TEXT NOT NULL DEFAULT ''");
    addColumn(this.db, 'status', 'store_epoch', "TEXT NOT NULL DEFAULT ''");
    this.db.exec('CREATE INDEX IF NOT EXISTS records_epoch_seq ON records (gateway, stream, epoch, seq)');
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO records (id, site, gateway, stream, epoch, seq, ts, received_at, backfill, payload) VALUES (?,?,?,?,?,?,?,?,?,?)',
    );
    this.insertInvalid = this.db.prepare('INSERT INTO invalid (received_at, topic, error, payload) VALUES (?,?,?,?)');
    this.upsertStatus = this.db.prepare('INSERT OR REPLACE INTO status (site, gateway, state, ts, received_at, store_epoch) VALUES (?,?,?,?,?,?)');
    this.insertEpoch = this.db.prepare('INSERT OR IGNORE INTO epochs (gateway, epoch, first_seen) VALUES (?,?,?)');
    for (const r of this.db.prepare('SELECT gateway, epoch FROM epochs ORDER BY rowid').all() as { gateway: string; epoch: string }[]) this.currentEpoch.set(r.gateway, r.epoch);
  }

  /** Note the store epoch a gateway speaks under; true when it is a new one after another (the gateway's database started over). */
  private seeEpoch(gateway: string, epoch: string, now: number): boolean {
    if (this.currentEpoch.get(gateway) === epoch) return false;
    // An epoch seen before (a late Will of the previous connection) changes nothing.
    if (this.insertEpoch.run(gateway, epoch, now).changes === 0) return false;
    const changed = this.currentEpoch.has(gateway);
    this.currentEpoch.set(gateway, epoch);
    if (changed) this.s.epochChanges++;
    return changed;
  }

  /** Connect and subscribe; resolves once the subscription is acknowledged. */
  async start(): Promise<void> {
    const o = this.opts;
    const readPem = (f?: string) => (f ? fs.readFileSync(f) : undefined);
    const options: IClientOptions = {
      clientId: o.clientId ?? `carbonedge-receiver-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: o.clientId === undefined,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      username: o.username,
      password: o.password,
      ca: readPem(o.tls?.ca),
      cert: readPem(o.tls?.cert),
      key: readPem(o.tls?.key),
      rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
    };
    const client = mqtt.connect(o.url, options);
    this.client = client;
    client.on('message', (topic, payload) => this.handle(topic, payload));
    client.on('error', () => undefined); // reconnects; errors surface through start() or stats
    await firstConnectAndSubscribe(client, `${this.prefix}#`);
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
  }

  close(): void {
    this.db.close();
  }

  get connected(): boolean {
    return !!this.client?.connected;
  }

  /** Process one MQTT message (public so tests can feed raw payloads). */
  handle(topic: string, payload: Buffer): MessageEvent {
    const now = Date.now();
    this.s.messages++;
    const ev: MessageEvent = { topic, kind: 'other', records: 0, accepted: 0, duplicates: 0, invalid: 0 };
    const bad = (error: string, raw?: string) => {
      this.s.invalidMessages++;
      ev.error = error;
      this.insertInvalid.run(now, topic, error, raw ?? payload.subarray(0, 4096).toString('utf8'));
    };
    try {
      if (topic.includes('/cmd/')) {
        if (!topic.endsWith('/response')) return this.emit(ev); // a command to a gateway: not ours
        ev.kind = 'response';
        const msg = JSON.parse(payload.toString('utf8')) as { status?: string; code?: string };
        // The schema checks `code` (CE_CMD_..., only with status error) when present.
        if (!this.contract.commandResponse(msg)) {
          bad(`command response: ${formatAjvErrors(this.contract.commandResponse.errors)}`);
          return this.emit(ev);
        }
        this.s.commandResponses++;
        if (msg.status === 'error') {
          const code = msg.code ?? 'none';
          this.s.commandErrorCodes[code] = (this.s.commandErrorCodes[code] ?? 0) + 1;
        }
        return this.emit(ev);
      }
      if (topic.endsWith('/status')) {
        ev.kind = 'status';
        if (payload.length === 0) return this.emit(ev); // retained message cleared
        const msg = JSON.parse(payload.toString('utf8')) as { site: string; gateway: string; state: string; ts: number; storeEpoch?: string };
        if (!this.contract.status(msg)) {
          bad(`status: ${formatAjvErrors(this.contract.status.errors)}`);
          return this.emit(ev);
        }
        this.s.statusMessages++;
        ev.gateway = msg.gateway;
        ev.epoch = msg.storeEpoch ?? '';
        // The Will (offline) was set at connect time: it carries the epoch of that connection too.
        ev.newEpoch = this.seeEpoch(msg.gateway, ev.epoch, now);
        this.upsertStatus.run(msg.site, msg.gateway, msg.state, msg.ts, now, ev.epoch);
        return this.emit(ev);
      }
      if (!topic.includes('/data/')) return this.emit(ev);
      ev.kind = 'data';
      const gz = topic.endsWith('/gzip') || (payload[0] === 0x1f && payload[1] === 0x8b);
      const text = (gz ? zlib.gunzipSync(payload, { maxOutputLength: 256 * 1024 * 1024 }) : payload).toString('utf8');
      let msg: { schemaVersion: number; site: string; gateway: string; stream: string; epoch?: string; backfill?: boolean; records: Record<string, unknown>[] };
      try {
        msg = JSON.parse(text);
      } catch (err) {
        bad(`not JSON: ${(err as Error).message}`, text.slice(0, 4096));
        return this.emit(ev);
      }
      if (!this.contract.envelope(msg)) {
        bad(`envelope: ${formatAjvErrors(this.contract.envelope.errors)}`, text.slice(0, 4096));
        return this.emit(ev);
      }
      ev.gateway = msg.gateway;
      ev.stream = msg.stream;
      ev.backfill = !!msg.backfill;
      const epoch = msg.epoch ?? '';
      ev.epoch = epoch;
      ev.newEpoch = this.seeEpoch(msg.gateway, epoch, now);
      const idHead = `${msg.gateway}/${msg.stream}/${epoch ? `${epoch}-` : ''}`;
      const validate = this.contract.record(msg.stream, msg.schemaVersion);
      this.db.transaction(() => {
        for (const r of msg.records) {
          ev.records++;
          const seq = r.seq as number;
          const id = r.id as string;
          let error: string | undefined;
          if (id !== `${idHead}${seq}`) error = `record id '${id}' is not <gateway>/<stream>/${epoch ? '<epoch>-' : ''}<seq> = '${idHead}${seq}'`;
          else if (validate && !validate(r)) error = `${msg.stream} record seq ${seq}: ${formatAjvErrors(validate.errors)}`;
          if (error) {
            ev.invalid++;
            this.s.invalidRecords++;
            this.insertInvalid.run(now, topic, error, JSON.stringify(r));
            continue;
          }
          if (!validate) this.s.unvalidatedRecords++;
          const res = this.insert.run(id, msg.site, msg.gateway, msg.stream, epoch, seq, r.ts as number, now, msg.backfill ? 1 : 0, JSON.stringify(r));
          if (res.changes === 0) {
            ev.duplicates++;
            this.s.duplicates++;
          } else {
            ev.accepted++;
            this.s.records++;
          }
          if (ev.firstSeq === undefined || seq < ev.firstSeq) ev.firstSeq = seq;
          if (ev.lastSeq === undefined || seq > ev.lastSeq) ev.lastSeq = seq;
        }
      })();
    } catch (err) {
      bad(`unreadable message: ${(err as Error).message}`);
    }
    return this.emit(ev);
  }

  private emit(ev: MessageEvent): MessageEvent {
    try {
      this.opts.onMessage?.(ev);
    } catch {
      /* a listener must not break reception */
    }
    return ev;
  }

  stats(): ReceiverStats {
    return { ...this.s, commandErrorCodes: { ...this.s.commandErrorCodes } };
  }

  /** Sequence numbers held for (gateway, stream), ascending; of one store epoch when given ('' = legacy), else of all. */
  seqs(gateway: string, stream: string, epoch?: string): number[] {
    const [where, params] = scope(gateway, stream, epoch);
    return this.db.prepare(`SELECT seq FROM records WHERE ${where} ORDER BY seq`).pluck().all(...params) as number[];
  }

  /** Records held for (gateway, stream), in sequence order; of one store epoch when given. */
  records(gateway: string, stream: string, epoch?: string): Record<string, unknown>[] {
    const [where, params] = scope(gateway, stream, epoch);
    return (this.db.prepare(`SELECT payload FROM records WHERE ${where} ORDER BY seq`).pluck().all(...params) as string[]).map((p) => JSON.parse(p) as Record<string, unknown>);
  }

  count(gateway?: string, stream?: string, epoch?: string): number {
    if (gateway && stream) {
      const [where, params] = scope(gateway, stream, epoch);
      return this.db.prepare(`SELECT count(*) FROM records WHERE ${where}`).pluck().get(...params) as number;
    }
    return this.db.prepare('SELECT count(*) FROM records').pluck().get() as number;
  }

  /** Gaps per (gateway, stream, store epoch) between the first and last sequence number held. */
  gaps(): GapReport[] {
    const out: GapReport[] = [];
    const groups = this.db
      .prepare('SELECT gateway, stream, epoch, min(seq) AS first, max(seq) AS last, count(*) AS n FROM records GROUP BY gateway, stream, epoch ORDER BY gateway, stream, min(rowid)')
      .all() as { gateway: string; stream: string; epoch: string; first: number; last: number; n: number }[];
    for (const g of groups) {
      const missing: [number, number][] = [];
      if (g.n !== g.last - g.first + 1) {
        let expect = g.first;
        for (const seq of this.seqs(g.gateway, g.stream, g.epoch)) {
          if (seq > expect) missing.push([expect, seq - 1]);
          expect = seq + 1;
        }
      }
      out.push({ gateway: g.gateway, stream: g.stream, ...(g.epoch ? { epoch: g.epoch } : {}), firstSeq: g.first, lastSeq: g.last, records: g.n, missing });
    }
    return out;
  }

  statuses(): { site: string; gateway: string; state: string; ts: number; storeEpoch: string }[] {
    return this.db.prepare('SELECT site, gateway, state, ts, store_epoch AS storeEpoch FROM status').all() as { site: string; gateway: string; state: string; ts: number; storeEpoch: string }[];
  }

  /** Store epochs seen per gateway, in the order first seen ('' = legacy). */
  epochs(gateway: string): string[] {
    return this.db.prepare('SELECT epoch FROM epochs WHERE gateway = ? ORDER BY rowid').pluck().all(gateway) as string[];
  }
}

/** WHERE clause and parameters for one (gateway, stream[, epoch]). */
function scope(gateway: string, stream: string, epoch?: string): [string, string[]] {
  return epoch === undefined ? ['gateway = ? AND stream = ?', [gateway, stream]] : ['gateway = ? AND stream = ? AND epoch = ?', [gateway, stream, epoch]];
}

function addColumn(db: Database.Database, table: string, column: string, decl: string): void {
  const cols = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[];
  if (!cols.includes(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
}
