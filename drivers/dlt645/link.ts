import net from 'node:net';
import { SerialPort } from 'serialport';
import type { Parity } from '../../runtime/config/types.js';

/**
 * A byte link to an RS-485 line: a serial port (USB adapter) or a raw TCP socket to a serial
 * device server ("transparent" RS-485-to-Ethernet converter). No framing, no queueing: the bus
 * (bus.ts) owns both. `onData` and `onClose` are set by the bus.
 */
export interface ByteLink {
  readonly uri: string;
  readonly isOpen: boolean;
  open(timeoutMs: number): Promise<void>;
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
  onData: ((chunk: Buffer) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
}

export interface SerialLinkOptions {
  path: string;
  baudRate: number;
  parity: Parity;
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class SerialLink implements ByteLink {
  readonly uri: string;
  onData: ((chunk: Buffer) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  private port: SerialPort | undefined;

  constructor(private readonly opts: SerialLinkOptions) {
    this.uri = `dlt645://${opts.path.startsWith('/') ? '' : '/'}${opts.path}`;
  }

  get isOpen(): boolean {
    return !!this.port?.isOpen;
  }

  async open(timeoutMs: number): Promise<void> {
    await this.close();
    const port = new SerialPort({
      path: this.opts.path,
      baudRate: this.opts.baudRate,
      parity: this.opts.parity,
      dataBits: this.opts.dataBits ?? 8,
      stopBits: this.opts.stopBits ?? 1,
      autoOpen: false,
    });
    // Without an 'error' listener a port error would crash the process.
    port.on('error', () => undefined);
    try {
      await withTimeout(new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res()))), timeoutMs, 'could not open the serial port');
    } catch (err) {
      if (port.isOpen) port.close();
      throw err;
    }
    port.on('data', (d: Buffer) => this.onData?.(d));
    port.on('close', () => {
      if (this.port !== port) return;
      this.port = undefined;
      this.onClose?.('serial port closed (adapter removed?)');
    });
    this.port = port;
  }

  write(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new Error('serial port not open'));
    return new Promise<void>((res, rej) => {
      port.write(bytes, (e) => (e ? rej(e) : port.drain((e2) => (e2 ? rej(e2) : res()))));
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }
}

export class TcpLink implements ByteLink {
  readonly uri: string;
  onData: ((chunk: Buffer) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  private socket: net.Socket | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.uri = `dlt645-tcp://${host}:${port}`;
  }

  get isOpen(): boolean {
    return !!this.socket && !this.socket.destroyed;
  }

  async open(timeoutMs: number): Promise<void> {
    await this.close();
    const socket = net.createConnection({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    try {
      await withTimeout(
        new Promise<void>((res, rej) => {
          socket.once('connect', () => res());
          socket.once('error', rej);
        }),
        timeoutMs,
        'could not connect',
      );
    } catch (err) {
      socket.destroy();
      throw err;
    }
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => this.onData?.(d));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.onClose?.('connection closed by the converter');
    });
    this.socket = socket;
  }

  write(bytes: Buffer): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('not connected'));
    return new Promise<void>((res, rej) => socket.write(bytes, (e) => (e ? rej(e) : res())));
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((r) => {
        socket.once('close', () => r());
        socket.destroy();
      });
    }
  }
}
