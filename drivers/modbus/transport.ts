import modbusSerial from 'modbus-serial';
import type { BusConfig, Parity } from '../../runtime/config/types.js';
import type { Clock } from '../../runtime/types.js';
import { monoNow, systemClock } from '../../runtime/types.js';
import type { RegisterType } from '../profiles/types.js';

/**
 * One physical Modbus link through modbus-serial: Modbus TCP (MBAP framing), Modbus RTU on a
 * serial port (RS-485 adapter), or RTU frames over a raw TCP socket (serial device servers,
 * "transparent" RS-485-to-Ethernet converters).
 *
 * A transport does no queueing: ModbusBus (bus.ts) guarantees one transaction at a time.
 * It is responsible for never matching a late reply to a newer request:
 * - RTU and RTU-over-TCP have no transaction ids: after a timeout or a bad frame the link is
 *   dropped (port closed / socket destroyed) and reopened, and bytes that arrive before the next
 *   request is written are discarded (`resync`).
 * - Modbus TCP matches replies by transaction id, but modbus-serial's ids wrap at 256: after a
 *   timeout the connection is dropped before the id of the timed-out request can be reused.
 */
export type TransportKind = BusConfig['type'];

export interface TransportOptions {
  /** Connect / open timeout, ms. */
  connectTimeoutMs?: number;
  /** Quiet periods run on its monotonic reading (timeouts are timers, monotonic already). */
  clock?: Clock;
}

// modbus-serial is CommonJS: its module.exports is the client class, also exported as `.default`.
const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;

const TCP_TIMEOUTS_BEFORE_RECONNECT = 3;

/** modbus-serial's callback API (the promise API keeps a mutable unit id; we pass it per call). */
interface CallbackClient {
  writeFC1(unit: number, addr: number, len: number, cb: (err: unknown, res?: { data: boolean[] }) => void): void;
  writeFC2(unit: number, addr: number, len: number, cb: (err: unknown, res?: { data: boolean[] }) => void): void;
  writeFC3(unit: number, addr: number, len: number, cb: (err: unknown, res?: { data: number[] }) => void): void;
  writeFC4(unit: number, addr: number, len: number, cb: (err: unknown, res?: { data: number[] }) => void): void;
  writeFC5(unit: number, addr: number, state: boolean, cb: (err: unknown) => void): void;
  writeFC15(unit: number, addr: number, states: boolean[], cb: (err: unknown) => void): void;
  writeFC16(unit: number, addr: number, values: number[], cb: (err: unknown) => void): void;
  _port?: { _buffer?: Buffer; _client?: { flush?: (cb?: (err?: unknown) => void) => void } };
}

const PARITY: Record<Parity, 'none' | 'even' | 'odd'> = { none: 'none', even: 'even', odd: 'odd' };

/** `modbus-tcp://host:port`, `modbus-rtu:///dev/ttyUSB0`, `modbus-rtu-over-tcp://host:port`. */
export function busUri(cfg: BusConfig): string {
  switch (cfg.type) {
    case 'tcp':
      return `modbus-tcp://${cfg.host}:${cfg.port}`;
    case 'rtu-over-tcp':
      return `modbus-rtu-over-tcp://${cfg.host}:${cfg.port}`;
    case 'rtu':
      return `modbus-rtu://${cfg.path.startsWith('/') ? '' : '/'}${cfg.path}`;
  }
}

export class ModbusTransport {
  readonly cfg: BusConfig;
  readonly uri: string;
  private client: Client | undefined;
  private open_ = false;
  private readonly connectTimeoutMs: number;
  private readonly clock: Clock;
  /** Transactions sent on the current TCP connection, and when the oldest unanswered one was. */
  private txOnConnection = 0;
  /** Timeouts in a row on this connection, with no reply in between (any unit). */
  private consecutiveTimeouts = 0;
  private timedOutAtTx: number | undefined;
  /**
   * RTU: per unit, until when (monotonic time) its replies are not trusted after a timeout or bad frame. A late
   * reply can only be mistaken for an answer to the same unit (modbus-serial checks the unit id
   * and the CRC), so only that unit's next request waits, with the link open and draining.
   */
  private readonly quietUntil = new Map<number, number>();
  /** Rejects the transaction in flight (when the link goes away under it). */
  private inflight: ((err: unknown) => void) | undefined;
  /** Called when the link goes away by itself (socket closed, adapter unplugged). */
  onClose: ((reason: string) => void) | undefined;

  constructor(cfg: BusConfig, opts: TransportOptions = {}) {
    this.cfg = cfg;
    this.uri = busUri(cfg);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.clock = opts.clock ?? systemClock;
  }

  get isOpen(): boolean {
    return this.open_ && !!this.client?.isOpen;
  }

  /** Open a fresh link (a new modbus-serial client each time: no state survives a reconnect). */
  async open(): Promise<void> {
    await this.close();
    const client = new ModbusRTU();
    // modbus-serial emits 'error' for serial port errors: without a listener it would crash the process.
    client.on('error', () => this.markClosed(client, 'port error'));
    const cfg = this.cfg;
    const connect = async () => {
      switch (cfg.type) {
        case 'tcp':
          // setTimeout before connect: modbus-serial also uses it as the socket's connect timeout.
          client.setTimeout(this.connectTimeoutMs);
          await client.connectTCP(cfg.host, { port: cfg.port, timeout: this.connectTimeoutMs });
          break;
        case 'rtu-over-tcp':
          // Raw RTU frames (with CRC) over a TCP socket. modbus-serial's connectTcpRTUBuffered
          // sends MBAP-framed Modbus TCP despite its name; its "telnet" port is the raw-RTU one.
          client.setTimeout(this.connectTimeoutMs);
          await client.connectTelnet(cfg.host, { port: cfg.port, timeout: this.connectTimeoutMs });
          break;
        case 'rtu':
          await client.connectRTUBuffered(cfg.path, {
            baudRate: cfg.baudRate,
            parity: PARITY[cfg.parity],
            dataBits: cfg.dataBits ?? 8,
            stopBits: cfg.stopBits ?? 1,
          });
          break;
      }
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`could not connect within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      void destroyClient(client);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
    client.on('close', () => this.markClosed(client, 'closed by peer or adapter removed'));
    this.client = client;
    this.open_ = true;
    this.txOnConnection = 0;
    this.timedOutAtTx = undefined;
    this.consecutiveTimeouts = 0;
  }

  private markClosed(client: Client, reason: string): void {
    if (client !== this.client || !this.open_) return;
    this.open_ = false;
    this.client = undefined;
    void destroyClient(client);
    const err = new Error(`Port Not Open: ${reason}`);
    err.name = 'PortNotOpenError';
    this.inflight?.(err);
    this.onClose?.(reason);
  }

  /** Close the link; never throws and never hangs. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.open_ = false;
    if (!client) return;
    const err = new Error('Port Not Open: closed');
    err.name = 'PortNotOpenError';
    this.inflight?.(err);
    await destroyClient(client);
  }

  /**
   * Called by the bus after a timeout or a bad frame. RTU / RTU-over-TCP: the link is dropped
   * (a late reply can only land on the dead link). TCP: remembered, so the connection is
   * replaced before modbus-serial's 8-bit transaction id wraps onto the timed-out request.
   */
  async afterFailedTransaction(kind: 'timeout' | 'frame', unit: number, timeoutMs: number): Promise<void> {
    if (this.cfg.type === 'tcp') {
      // A bad frame, or a timeout with unparsed bytes pending, means the byte stream may be out
      // of step with the MBAP headers: start over on a fresh connection.
      const pending = (this.client as unknown as { _port?: { _clientRcvData?: Buffer } } | undefined)?._port?._clientRcvData;
      if (kind === 'frame' || (pending && pending.length > 0)) {
        await this.close();
        return;
      }
      if (this.timedOutAtTx === undefined) this.timedOutAtTx = this.txOnConnection;
      // Nothing at all answered for a while on this connection: it may be half-open (cable
      // pulled, NAT or converter state lost). Replace it rather than time out on it forever.
      if (++this.consecutiveTimeouts >= TCP_TIMEOUTS_BEFORE_RECONNECT) await this.close();
      return;
    }
    this.quietUntil.set(unit, monoNow(this.clock) + timeoutMs);
    await this.close();
  }

  /** RTU: wait out a unit's quiet period (late replies land in the buffer and are dropped). */
  private async settle(unit: number): Promise<void> {
    const until = this.quietUntil.get(unit);
    if (until === undefined) return;
    this.quietUntil.delete(unit);
    const wait = until - monoNow(this.clock);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  /** Whether the link must be (re)opened before the next request. */
  needsOpen(): boolean {
    if (!this.isOpen) return true;
    // Transaction ids are 8-bit in modbus-serial: never let one come round to a timed-out request.
    return this.timedOutAtTx !== undefined && this.txOnConnection - this.timedOutAtTx >= 200;
  }

  async read(unit: number, register: RegisterType, address: number, count: number, timeoutMs: number): Promise<number[] | boolean[]> {
    return this.transact<number[] | boolean[]>(unit, timeoutMs, (c, done) => {
      const cb = (err: unknown, res?: { data: number[] | boolean[] }) => {
        if (err) done(err);
        else if (!res || !Array.isArray(res.data) || res.data.length < count) done(new Error('Data length error, short reply'));
        else done(null, res.data.slice(0, count) as number[] | boolean[]);
      };
      switch (register) {
        case 'coil':
          return c.writeFC1(unit, address, count, cb);
        case 'discrete':
          return c.writeFC2(unit, address, count, cb);
        case 'holding':
          return c.writeFC3(unit, address, count, cb);
        case 'input':
          return c.writeFC4(unit, address, count, cb);
      }
    });
  }

  /** Write coils (FC05 / FC15) or holding registers (FC16: the function every meter supports). */
  async write(unit: number, register: 'coil' | 'holding', address: number, values: number[] | boolean[], timeoutMs: number): Promise<void> {
    await this.transact<void>(unit, timeoutMs, (c, done) => {
      const cb = (err: unknown) => (err ? done(err) : done(null));
      if (register === 'coil') {
        const bits = (values as Array<number | boolean>).map((v) => !!v);
        if (bits.length === 1) c.writeFC5(unit, address, bits[0]!, cb);
        else c.writeFC15(unit, address, bits, cb);
      } else {
        c.writeFC16(unit, address, values as number[], cb);
      }
    });
  }

  /**
   * Run one transaction. Settles exactly once: on the reply, on modbus-serial's timeout, when
   * the link closes under it, or (belt and braces) on a guard timer slightly after the timeout.
   */
  private async transact<T>(unit: number, timeoutMs: number, send: (c: CallbackClient, done: (err: unknown, v?: T) => void) => void): Promise<T> {
    if (this.cfg.type !== 'tcp') await this.settle(unit);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let guard: NodeJS.Timeout | undefined;
      const done = (err: unknown, v?: T) => {
        if (settled) return;
        settled = true;
        // Any reply (data or exception) shows the link is alive.
        if (!err || (err as { modbusCode?: number }).modbusCode !== undefined) this.consecutiveTimeouts = 0;
        if (guard) clearTimeout(guard);
        this.inflight = undefined;
        if (err) reject(err);
        else resolve(v as T);
      };
      try {
        const c = this.prepare(timeoutMs);
        this.inflight = (err) => done(err);
        guard = setTimeout(() => {
          const e = new Error('Timed out');
          e.name = 'TransactionTimedOutError';
          done(e);
        }, timeoutMs + 250);
        send(c, done);
      } catch (err) {
        done(err);
      }
    });
  }

  private prepare(timeoutMs: number): CallbackClient {
    const client = this.client;
    if (!client || !this.open_) {
      const err = new Error('Port Not Open');
      err.name = 'PortNotOpenError';
      throw err;
    }
    client.setTimeout(timeoutMs);
    this.txOnConnection++;
    const cc = client as unknown as CallbackClient;
    if (this.cfg.type !== 'tcp') {
      // Bytes received outside a transaction are stale or noise: drop them before writing.
      if (cc._port && Buffer.isBuffer(cc._port._buffer)) cc._port._buffer = Buffer.alloc(0);
    }
    return cc;
  }
}

function destroyClient(client: Client): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    const t = setTimeout(finish, 1000);
    t.unref();
    try {
      const port = (client as unknown as { _port?: { destroy?: unknown; _client?: { destroy?: () => void } } })._port;
      // TCP-based ports: destroy the socket (end() waits for the peer and may never call back).
      if (port && typeof port.destroy === 'function' && port._client && typeof port._client.destroy === 'function') {
        client.destroy(() => finish());
        // TcpPort.destroy calls back only via the socket's close event; force it after destroy.
        setImmediate(finish);
        return;
      }
      if (client.isOpen) client.close(() => finish());
      else finish();
    } catch {
      finish();
    }
  });
}
