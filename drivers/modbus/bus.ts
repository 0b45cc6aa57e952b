import type { BusConfig } from '../../runtime/config/types.js';
import type { Logger } from '../../runtime/logger.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Clock } from '../../runtime/types.js';
import { monoNow, systemClock } from '../../runtime/types.js';
import type { RegisterType } from '../profiles/types.js';
import { Backoff } from './backoff.js';
import {
  ModbusConnectionError,
  ModbusUnavailableError,
  classifyError,
  type ModbusError,
  type ModbusTarget,
} from './errors.js';
import { ModbusTransport } from './transport.js';

export interface BusRequestOptions {
  /** Device id, for messages. */
  device?: string;
  /** Per-request timeout, ms (profile limit / device config / bus default). */
  timeoutMs?: number;
  /** Pause after this transaction, ms (the larger of this and the bus's delay applies). */
  delayAfterMs?: number;
}

export interface BusStats {
  transactions: number;
  failures: number;
  timeouts: number;
  reconnects: number;
  /** Requests refused without touching the wire (bus waiting to reconnect). */
  refused: number;
}

interface Job {
  run: () => Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 1000;

/**
 * One physical bus (a serial port, or one TCP connection): a FIFO queue so that never two
 * transactions are on the wire at once, per-request timeouts, an inter-request pause, typed
 * errors, and automatic reconnect with capped, jittered backoff when the link goes away.
 * Requests made while the bus waits to reconnect fail at once (ModbusUnavailableError) so
 * they do not pile up in the queue.
 */
export class ModbusBus {
  readonly cfg: BusConfig;
  readonly id: string;
  readonly uri: string;
  readonly stats: BusStats = { transactions: 0, failures: 0, timeouts: 0, reconnects: 0, refused: 0 };
  private readonly transport: ModbusTransport;
  private readonly log: Logger;
  private readonly reconnectBackoff: Backoff;
  private readonly queue: Job[] = [];
  private running = false;
  private stopped = false;
  /** Monotonic time (clock.mono) before which no reconnect is attempted. */
  private nextConnectAt = 0;
  private lastConnectError: string | undefined;
  private everConnected = false;
  private readonly clock: Clock;

  constructor(
    cfg: BusConfig,
    opts: {
      logger?: Logger;
      reconnect?: { baseMs?: number; maxMs?: number };
      random?: () => number;
      /** Reconnect backoff and the RTU quiet period run on its monotonic reading. */
      clock?: Clock;
      connectTimeoutMs?: number;
    } = {},
  ) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.clock = opts.clock ?? systemClock;
    this.transport = new ModbusTransport(cfg, { connectTimeoutMs: opts.connectTimeoutMs ?? Math.max(1000, cfg.timeoutMs ?? 3000), clock: this.clock });
    this.uri = this.transport.uri;
    this.log = (opts.logger ?? silentLogger()).child({ bus: cfg.id, uri: this.uri });
    this.reconnectBackoff = new Backoff({ baseMs: opts.reconnect?.baseMs ?? 500, maxMs: opts.reconnect?.maxMs ?? 30_000, jitter: 0.25, random: opts.random });
    this.transport.onClose = (reason) => {
      this.log.warn({ reason }, 'bus link lost; will reconnect');
    };
  }

  /** Read registers (words) or coils/discrete inputs (bits). Throws a ModbusError. */
  read(unit: number, register: RegisterType, address: number, count: number, opts: BusRequestOptions = {}): Promise<number[] | boolean[]> {
    const target: ModbusTarget = { bus: this.uri, device: opts.device, unit, register, address, count };
    return this.enqueue(target, opts, (timeoutMs) => this.transport.read(unit, register, address, count, timeoutMs));
  }

  /** Write holding registers (FC16) or coils (FC05/FC15). Throws a ModbusError. */
  write(unit: number, register: 'coil' | 'holding', address: number, values: number[] | boolean[], opts: BusRequestOptions = {}): Promise<void> {
    const target: ModbusTarget = { bus: this.uri, device: opts.device, unit, register, address, count: values.length };
    return this.enqueue(target, opts, (timeoutMs) => this.transport.write(unit, register, address, values, timeoutMs));
  }

  /** Requests waiting in the queue (not counting the one on the wire). */
  get pending(): number {
    return this.queue.length;
  }

  get connected(): boolean {
    return this.transport.isOpen;
  }

  /** Open the link now (optional: requests open it on demand). Never throws. */
  async connect(): Promise<boolean> {
    try {
      await this.ensureOpen({ bus: this.uri, unit: 0, register: 'holding', address: 0, count: 0 });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    // Queued jobs see `stopped` and reject with "bus closed".
    for (const job of this.queue.splice(0)) void job.run().catch(() => undefined);
    await this.transport.close();
  }

  private enqueue<T>(target: ModbusTarget, opts: BusRequestOptions, op: (timeoutMs: number) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run: async () => {
          if (this.stopped) {
            reject(new ModbusUnavailableError(target, 'bus closed'));
            return;
          }
          const timeoutMs = opts.timeoutMs ?? this.cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
          try {
            await this.ensureOpen(target);
          } catch (err) {
            this.stats.refused++;
            reject(err);
            return;
          }
          this.stats.transactions++;
          let failure: ModbusError | undefined;
          try {
            const value = await op(timeoutMs);
            resolve(value);
          } catch (err) {
            failure = classifyError(err, target, timeoutMs);
            this.stats.failures++;
            if (failure.kind === 'timeout') this.stats.timeouts++;
            reject(failure);
          }
          if (failure) await this.afterFailure(failure, timeoutMs);
          const pause = Math.max(opts.delayAfterMs ?? 0, this.cfg.interRequestDelayMs ?? 0);
          if (pause > 0) await sleep(pause);
        },
      });
      void this.drain();
    });
  }

  private async afterFailure(err: ModbusError, timeoutMs: number): Promise<void> {
    if (err.kind === 'timeout' || err.kind === 'frame') {
      await this.transport.afterFailedTransaction(err.kind, err.target.unit, timeoutMs);
    } else if (err.kind === 'connection') {
      this.log.warn({ err: err.message }, 'bus link failed; reconnecting');
      await this.transport.close();
    }
  }

  private async ensureOpen(target: ModbusTarget): Promise<void> {
    if (!this.transport.needsOpen()) return;
    const now = monoNow(this.clock);
    if (now < this.nextConnectAt) {
      throw new ModbusUnavailableError(
        target,
        `bus not connected (${this.lastConnectError ?? 'link down'}); next reconnect attempt in ${Math.ceil(this.nextConnectAt - now)} ms`,
      );
    }
    try {
      const reconnect = this.everConnected;
      await this.transport.open();
      this.reconnectBackoff.reset();
      this.nextConnectAt = 0;
      this.lastConnectError = undefined;
      if (reconnect) {
        this.stats.reconnects++;
        this.log.info('bus reconnected');
      } else {
        this.log.debug('bus connected');
      }
      this.everConnected = true;
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      const wait = this.reconnectBackoff.fail();
      this.nextConnectAt = monoNow(this.clock) + wait;
      if (this.lastConnectError !== msg) this.log.warn({ err: msg, retryInMs: wait }, 'cannot open bus');
      this.lastConnectError = msg;
      throw new ModbusConnectionError(target, `cannot open ${this.uri}: ${msg}`, { cause: err });
    }
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const job = this.queue.shift();
        if (!job) break;
        try {
          await job.run();
        } catch (err) {
          // A job never throws (it settles its own promise); keep the queue alive regardless.
          this.log.error({ err }, 'bus job failed unexpectedly');
        }
      }
    } finally {
      this.running = false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
