/**
 * Where a simulated RS-485 line is served: a serial port (a pty pair's end) or a TCP port that
 * passes raw frames through like a TCP serial converter. The owner's `attach` handles the bytes
 * of each (one per TCP client).
 */
import net from 'node:net';
import { SerialPort } from 'serialport';

export type Attach = (write: (b: Buffer) => void, onData: (fn: (d: Buffer) => void) => void) => void;

export class LineEndpoints {
  private port: SerialPort | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly attach: Attach) {}

  async listenSerial(path: string, opts: { baudRate: number; parity: 'none' | 'even' | 'odd' }): Promise<void> {
    const port = new SerialPort({ path, baudRate: opts.baudRate, parity: opts.parity, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    port.on('error', () => undefined);
    this.port = port;
    this.attach((b) => port.write(b), (fn) => port.on('data', fn));
  }

  /** Serve on `host` (port 0 = any free port); returns the port. */
  async listenTcp(port: number, host: string): Promise<number> {
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      this.attach((b) => socket.write(b), (fn) => socket.on('data', fn));
    });
    this.server = server;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(port, host, () => res());
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
