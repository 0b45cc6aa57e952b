import zlib from 'node:zlib';
import { formatAjvErrors, type Contract } from '../../runtime/uplink/contract.js';

/**
 * What one MQTT message means to the PostgreSQL ingest: data records to store, a gateway status,
 * nothing (commands and their answers), or a rejection with its reason. Pure: no I/O.
 */

export interface IngestRecord {
  id: string;
  gateway: string;
  stream: string;
  epoch: string;
  seq: number;
  /** ms since the Unix epoch. */
  ts: number;
  /** The record as received (JSON text). */
  body: string;
  /** Parsed record (typed carbon tables read it). */
  record: Record<string, unknown>;
  site: string;
}

export interface Rejection {
  topic: string;
  reason: string;
  recordId?: string;
  payloadBytes: number;
  /** The first 4 KiB of the payload (or of the record). */
  payload: string;
}

export interface GatewayStatus {
  gateway: string;
  site: string;
  state: string;
  storeEpoch: string;
  ts: number;
}

/** A gateway's retained `<prefix>/metadata` (metadata.v1). */
export interface GatewayMetadata {
  gateway: string;
  site: string;
  /** The message as received (JSON text). */
  body: string;
  ts: number;
}

/** A device's retained `<prefix>/device/<device>/availability` (availability.v1). */
export interface DeviceAvailability {
  gateway: string;
  device: string;
  state: string;
  reason?: string;
  ts: number;
}

export type Decoded =
  | { kind: 'data'; records: IngestRecord[]; rejected: Rejection[] }
  | { kind: 'status'; status?: GatewayStatus; rejected: Rejection[] }
  | { kind: 'metadata'; metadata?: GatewayMetadata; rejected: Rejection[] }
  | { kind: 'availability'; availability?: DeviceAvailability; rejected: Rejection[] }
  | { kind: 'ignore'; rejected: Rejection[] };

export interface DecodeLimits {
  /** Largest payload accepted as received (default 8 MiB). */
  maxPayloadBytes: number;
  /** Largest gunzipped payload (default 64 MiB). */
  maxInflatedBytes: number;
}

export const DEFAULT_LIMITS: DecodeLimits = { maxPayloadBytes: 8 * 1024 * 1024, maxInflatedBytes: 64 * 1024 * 1024 };

const SNIPPET = 4096;

interface Envelope {
  schemaVersion: number;
  site: string;
  gateway: string;
  stream: string;
  epoch?: string;
  records: Record<string, unknown>[];
}

export function decodeMessage(contract: Contract, topic: string, payload: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): Decoded {
  const reject = (reason: string, text?: string, recordId?: string): Rejection => ({
    topic,
    reason: noNul(reason),
    recordId: recordId === undefined ? undefined : noNul(String(recordId)),
    payloadBytes: payload.length,
    payload: noNul((text ?? payload.subarray(0, SNIPPET).toString('utf8')).slice(0, SNIPPET)),
  });
  if (topic.includes('/cmd/')) return { kind: 'ignore', rejected: [] };
  if (payload.length > limits.maxPayloadBytes) return { kind: 'ignore', rejected: [reject(`payload of ${payload.length} bytes exceeds the limit of ${limits.maxPayloadBytes}`)] };
  if (topic.endsWith('/status')) {
    if (payload.length === 0) return { kind: 'status', rejected: [] }; // a cleared retained status
    const msg = parse(payload.toString('utf8'));
    if (!msg.ok) return { kind: 'status', rejected: [reject(`not JSON: ${msg.error}`)] };
    if (!contract.status(msg.value)) return { kind: 'status', rejected: [reject(`status: ${formatAjvErrors(contract.status.errors)}`)] };
    const s = msg.value as { site: string; gateway: string; state: string; ts: number; storeEpoch?: string };
    return { kind: 'status', status: { gateway: s.gateway, site: s.site, state: s.state, ts: s.ts, storeEpoch: s.storeEpoch ?? '' }, rejected: [] };
  }
  const at = topic.lastIndexOf('/data/');
  if (at < 0) return decodeRetained(contract, topic, payload, reject) ?? { kind: 'ignore', rejected: [] };
  const topicGateway = topic.slice(0, at).split('/');
  const tail = topic.slice(at + 6).split('/');
  const topicStream = tail[0] ?? '';
  const gz = (tail.length === 2 && tail[1] === 'gzip') || (payload[0] === 0x1f && payload[1] === 0x8b);
  if (tail.length > 2 || (tail.length === 2 && tail[1] !== 'gzip')) return { kind: 'ignore', rejected: [reject(`topic: expected <prefix>/data/<stream>[/gzip]`)] };
  let text: string;
  try {
    text = (gz ? zlib.gunzipSync(payload, { maxOutputLength: limits.maxInflatedBytes }) : payload).toString('utf8');
  } catch (err) {
    return { kind: 'ignore', rejected: [reject(`not gzip or too large when inflated: ${(err as Error).message}`)] };
  }
  const msg = parse(text);
  if (!msg.ok) return { kind: 'ignore', rejected: [reject(`not JSON: ${msg.error}`, text)] };
  if (!contract.envelope(msg.value)) return { kind: 'ignore', rejected: [reject(`envelope: ${formatAjvErrors(contract.envelope.errors)}`, text)] };
  const env = msg.value as Envelope;
  if (env.stream !== topicStream) return { kind: 'ignore', rejected: [reject(`envelope stream '${env.stream}' does not match the topic's '${topicStream}'`, text)] };
  if (!topicGateway.includes(env.gateway)) return { kind: 'ignore', rejected: [reject(`envelope gateway '${env.gateway}' is not in the topic '${topic}'`, text)] };
  const epoch = env.epoch ?? '';
  const head = `${env.gateway}/${env.stream}/${epoch ? `${epoch}-` : ''}`;
  const validate = contract.record(env.stream, env.schemaVersion);
  const records: IngestRecord[] = [];
  const rejected: Rejection[] = [];
  for (const r of env.records) {
    const id = r.id as string;
    const seq = r.seq as number;
    const body = JSON.stringify(r);
    if (body.includes('\\u0000')) rejected.push(reject('a NUL character (\\u0000) in the record: PostgreSQL text and jsonb cannot hold it', body, id));
    else if (id !== `${head}${seq}`) rejected.push(reject(`record id '${id}' does not match its topic and envelope: expected '${head}${seq}'`, body, id));
    else if (validate && !validate(r)) rejected.push(reject(`${env.stream} record seq ${seq}: ${formatAjvErrors(validate.errors)}`, body, id));
    else records.push({ id, gateway: env.gateway, stream: env.stream, epoch, seq, ts: r.ts as number, body, record: r, site: env.site });
  }
  return { kind: 'data', records, rejected };
}

const AVAILABILITY = /\/device\/([^/]+)\/availability$/;

/** `<prefix>/metadata` and `<prefix>/device/<device>/availability`; undefined for any other topic. */
function decodeRetained(contract: Contract, topic: string, payload: Buffer, reject: (reason: string) => Rejection): Decoded | undefined {
  const device = AVAILABILITY.exec(topic)?.[1];
  const kind = device !== undefined ? 'availability' : topic.endsWith('/metadata') ? 'metadata' : undefined;
  if (!kind) return undefined;
  const fail = (reason: string): Decoded => ({ kind, rejected: [reject(reason)] });
  if (payload.length === 0) return { kind, rejected: [] }; // a cleared retained message
  const text = payload.toString('utf8');
  const msg = parse(text);
  if (!msg.ok) return fail(`not JSON: ${msg.error}`);
  if (JSON.stringify(msg.value).includes('\\u0000')) return fail(`${kind}: a NUL character (\\u0000): PostgreSQL text and jsonb cannot hold it`);
  const validate = contract[kind];
  if (!validate(msg.value)) return fail(`${kind}: ${formatAjvErrors(validate.errors)}`);
  const m = msg.value as { site: string; gateway: string; ts: number; device?: string; state?: string; reason?: string };
  const topicGateway = topic.split('/');
  if (!topicGateway.includes(m.gateway)) return fail(`${kind} gateway '${m.gateway}' is not in the topic '${topic}'`);
  if (kind === 'metadata') return { kind, metadata: { gateway: m.gateway, site: m.site, body: text, ts: m.ts }, rejected: [] };
  if (device === undefined || m.device !== device) return fail(`availability device '${m.device}' does not match the topic's '${device}'`);
  return { kind, availability: { gateway: m.gateway, device, state: m.state ?? '', reason: m.reason, ts: m.ts }, rejected: [] };
}

function parse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** PostgreSQL text cannot hold NUL characters. */
function noNul(s: string): string {
  return s.replace(/\u0000/g, '\\u0000');
}
