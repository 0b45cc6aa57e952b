import type { Dlt645BusConfig } from '../../runtime/config/types.js';
import type { Logger } from '../../runtime/logger.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Clock } from '../../runtime/types.js';
import { monoNow, systemClock } from '../../runtime/types.js';
import { Backoff } from '../modbus/backoff.js';
import { Dlt645Error, type Dlt645Target } from './errors.js';
import {
  BROADCAST_READ_ADDRESS,
  ERROR_BIT,
  FOLLOW_UP_BIT,
  REPLY_BIT,
  describeErrorByte,
  encodeFrame,
  hex,
  parseFrame,
  type Frame,
} from './frame.js';
import { SerialLink, TcpLink, type ByteLink } from './link.js';
import { decodeDataIdentifier, encodeDataIdentifier } from './values.js';
import { DLT645_2007, variantOf, type Dlt645Protocol, type Dlt645Variant } from './variant.js';

export const DLT645_DEFAULT_BAUD = 2400;
export const DLT645_DEFAULT_PARITY = 'even';
const DEFAULT_TIMEOUT_MS = 1000;
/** A reply spread over more frames than this is refused (a meter looping on B2h). */
const MAX_FOLLOW_UP_FRAMES = 32;

export interface Dlt645RequestOptions {
  device?: string;
  timeoutMs?: number;
  /** Repeats after a timeout or a bad frame (default 1). Error replies are never repeated. */
  retries?: number;
  /** Pause after this transaction, ms (the larger of this and the bus's delay applies). */
  delayAfterMs?: number;
  /** The meter's edition (its profile's `protocol`): control codes and DI length (default dlt645-2007). */
  protocol?: Dlt645Protocol;
}

export interface Dlt645BusStats {
  /** Frames sent (a follow-up request counts as one). */
  transactions: number;
  timeouts: number;
  badFrames: number;
  errorReplies: number;
  retries: number;
  reconnects: number;
  /** Requests refused without touching the wire (link down, waiting to reconnect). */
  refused: number;
}

/** `dlt645:///dev/ttyUSB0` or `dlt645-tcp://host:port`. */
export function createLink(cfg: Dlt645BusConfig): ByteLink {
  return cfg.type === 'dlt645'
    ? new SerialLink({ path: cfg.path, baudRate: cfg.baudRate ?? DLT645_DEFAULT_BAUD, parity: cfg.parity ?? DLT645_DEFAULT_PARITY, dataBits: cfg.dataBits, stopBits: cfg.stopBits })
    : new TcpLink(cfg.host, cfg.port);
}

interface Waiter {
  target: Dlt645Target;
  accept: (f: Frame) => boolean;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/**
 * One DL/T 645 RS-485 line (serial port or TCP serial converter): a FIFO queue so that one
 * transaction at a time is on the wire, several meters told apart by their address, per-request
 * timeouts on the monotonic clock, repeats after a timeout or a bad frame, follow-up frames
 * (B1h -> 12h; 1997: A1h -> 02h) joined into one value, error replies (D1h; 1997: C1h) turned
 * into a clear error, meters of both editions (variant.ts) on one line, and
 * reconnect with capped, jittered backoff when the link goes away.
 */
export class Dlt645Bus {
  readonly cfg: Dlt645BusConfig;
  readonly id: string;
  readonly uri: string;
  readonly stats: Dlt645BusStats = { transactions: 0, timeouts: 0, badFrames: 0, errorReplies: 0, retries: 0, reconnects: 0, refused: 0 };
  private readonly link: ByteLink;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly preamble: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectBackoff: Backoff;
  private nextConnectAt = 0;
  private everConnected = false;
  private rx: Buffer = Buffer.alloc(0);
  private waiter: Waiter | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    cfg: Dlt645BusConfig,
    opts: { logger?: Logger; clock?: Clock; link?: ByteLink; preamble?: number; connectTimeoutMs?: number; reconnect?: { baseMs?: number; maxMs?: number } } = {},
  ) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.link = opts.link ?? createLink(cfg);
    this.uri = this.link.uri;
    this.clock = opts.clock ?? systemClock;
    this.preamble = opts.preamble ?? 4;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.log = (opts.logger ?? silentLogger()).child({ bus: cfg.id, uri: this.uri });
    this.reconnectBackoff = new Backoff({ baseMs: opts.reconnect?.baseMs ?? 500, maxMs: opts.reconnect?.maxMs ?? 30_000, jitter: 0.25 });
    this.link.onData = (chunk) => this.receive(chunk);
    this.link.onClose = (reason) => {
      this.log.warn({ reason }, 'bus link lost; will reconnect');
      const w = this.waiter;
      w?.reject(new Dlt645Error('connection', w.target, `link lost: ${reason}`));
    };
  }

  /**
   * Read one data identifier (11h; 01h for a 1997 meter) from the meter at `address`: the value
   * bytes that follow the DI in the reply (unscrambled), joined across follow-up frames. Throws a
   * Dlt645Error.
   */
  readData(address: string, di: string, opts: Dlt645RequestOptions = {}): Promise<Buffer> {
    const variant = variantOf(opts.protocol);
    const target: Dlt645Target = { bus: this.uri, address, what: `DI ${di}`, device: opts.device };
    return this.enqueue(target, opts, (timeoutMs) => this.readDataOnce(variant, address, di, target, timeoutMs));
  }

  /** Read the address of the one meter on the line (13h to AAAAAAAAAAAA; 2007 only). Throws a Dlt645Error. */
  readAddress(opts: Dlt645RequestOptions = {}): Promise<string> {
    const target: Dlt645Target = { bus: this.uri, address: BROADCAST_READ_ADDRESS, what: 'read address (13h)', device: opts.device };
    return this.enqueue(target, opts, async (timeoutMs) => {
      const reply = await this.exchange(DLT645_2007, { address: BROADCAST_READ_ADDRESS, control: DLT645_2007.control.readAddress!, data: Buffer.alloc(0) }, target, timeoutMs, () => true);
      return reply.address;
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    const w = this.waiter;
    w?.reject(new Dlt645Error('unavailable', w.target, 'bus closed'));
    await this.link.close();
  }

  private async readDataOnce(v: Dlt645Variant, address: string, di: string, target: Dlt645Target, timeoutMs: number): Promise<Buffer> {
    const n = v.diBytes;
    const diBytes = encodeDataIdentifier(di, n);
    // A late reply to an earlier request carries another DI: it is skipped, not taken for this one.
    const sameDi = (f: Frame) => f.data.length >= n && decodeDataIdentifier(f.data, n) === di.toUpperCase();
    const accept = (f: Frame) => (f.control & ERROR_BIT) !== 0 || sameDi(f);
    let reply = await this.exchange(v, { address, control: v.control.read, data: diBytes }, target, timeoutMs, accept);
    const parts = [reply.data.subarray(n)];
    for (let seq = 1; reply.control & FOLLOW_UP_BIT; seq++) {
      if (seq > MAX_FOLLOW_UP_FRAMES) throw new Dlt645Error('frame', target, `more than ${MAX_FOLLOW_UP_FRAMES} follow-up frames`);
      const data = v.followUpSequence ? Buffer.concat([diBytes, Buffer.from([seq & 0xff])]) : diBytes;
      reply = await this.exchange(v, { address, control: v.control.readFollowUp, data }, target, timeoutMs, accept);
      if (!v.followUpSequence) {
        parts.push(reply.data.subarray(n));
        continue;
      }
      const seqBack = reply.data[reply.data.length - 1];
      if (reply.data.length < n + 1 || seqBack !== (seq & 0xff)) throw new Dlt645Error('frame', target, `follow-up frame ${seq} came back with sequence ${String(seqBack)}`);
      parts.push(reply.data.subarray(n, reply.data.length - 1));
    }
    return Buffer.concat(parts);
  }

  /**
   * Send one request and wait for the addressed meter's reply to it (same function code, reply bit
   * set). Frames of other meters, echoes of the request and stale replies are skipped; a frame with
   * a bad checksum fails the exchange (the caller repeats it).
   */
  private async exchange(v: Dlt645Variant, req: Frame, target: Dlt645Target, timeoutMs: number, accept: (f: Frame) => boolean): Promise<Frame> {
    const broadcast = req.address === BROADCAST_READ_ADDRESS;
    const expected = req.control | REPLY_BIT;
    const started = monoNow(this.clock);
    this.rx = Buffer.alloc(0);
    this.stats.transactions++;
    const reply = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.stats.timeouts++;
        reject(new Dlt645Error('timeout', target, `no reply within ${timeoutMs} ms (${Math.round(monoNow(this.clock) - started)} ms waited)`));
      }, timeoutMs);
      const settle = <T>(fn: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        this.waiter = undefined;
        fn(v);
      };
      this.waiter = {
        target,
        accept: (f) => (broadcast || f.address === req.address) && (f.control & ~(ERROR_BIT | FOLLOW_UP_BIT)) === expected && accept(f),
        resolve: settle(resolve),
        reject: settle(reject),
      };
      this.link.write(encodeFrame(req, { preamble: this.preamble })).catch((err: unknown) => this.waiter?.reject(new Dlt645Error('connection', target, `write failed: ${(err as Error).message}`, { cause: err })));
    });
    if (reply.control & ERROR_BIT) {
      this.stats.errorReplies++;
      throw new Dlt645Error('error-reply', target, `error reply ${hex(reply.control)}: ${describeErrorByte(reply.data[0], v)}`);
    }
    return reply;
  }

  private receive(chunk: Buffer): void {
    this.rx = Buffer.concat([this.rx, chunk]);
    for (;;) {
      const r = parseFrame(this.rx);
      if (r.kind === 'incomplete') return;
      this.rx = r.rest;
      if (r.kind === 'bad') {
        this.stats.badFrames++;
        const w = this.waiter;
        w?.reject(new Dlt645Error('frame', w.target, r.reason));
        continue;
      }
      if (this.waiter?.accept(r.frame)) this.waiter.resolve(r.frame);
    }
  }

  private enqueue<T>(target: Dlt645Target, opts: Dlt645RequestOptions, op: (timeoutMs: number) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.stopped) throw new Dlt645Error('unavailable', target, 'bus closed');
      await this.ensureOpen(target);
      const timeoutMs = opts.timeoutMs ?? this.cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const retries = opts.retries ?? 1;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            return await op(timeoutMs);
          } catch (err) {
            const again = err instanceof Dlt645Error && (err.kind === 'timeout' || err.kind === 'frame') && attempt < retries && !this.stopped;
            if (!again) throw err;
            this.stats.retries++;
            this.log.debug({ err: err.message, attempt: attempt + 1 }, 'repeating request');
          }
        }
      } finally {
        const pause = Math.max(opts.delayAfterMs ?? 0, this.cfg.interRequestDelayMs ?? 0);
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async ensureOpen(target: Dlt645Target): Promise<void> {
    if (this.link.isOpen) return;
    const now = monoNow(this.clock);
    if (now < this.nextConnectAt) {
      this.stats.refused++;
      throw new Dlt645Error('unavailable', target, `bus not connected; next attempt in ${Math.ceil(this.nextConnectAt - now)} ms`);
    }
    try {
      await this.link.open(this.connectTimeoutMs);
      this.reconnectBackoff.reset();
      if (this.everConnected) {
        this.stats.reconnects++;
        this.log.info('bus reconnected');
      }
      this.everConnected = true;
    } catch (err) {
      const wait = this.reconnectBackoff.fail();
      this.nextConnectAt = monoNow(this.clock) + wait;
      this.stats.refused++;
      this.log.warn({ err: (err as Error).message, retryInMs: wait }, 'cannot open bus');
      throw new Dlt645Error('connection', target, `cannot open ${this.uri}: ${(err as Error).message}`, { cause: err });
    }
  }
}
