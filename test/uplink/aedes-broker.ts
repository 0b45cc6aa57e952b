import net from 'node:net';
import { Aedes } from 'aedes';

/**
 * An in-process aedes broker on 127.0.0.1 that can be stopped (listener closed, every connection
 * cut) and restarted on the same port while keeping its in-memory sessions (persistent
 * subscriptions of the receiver), like a broker restart with persistence.
 */
export class AedesBroker {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  private constructor(readonly aedes: Aedes) {}

  static async start(port = 0): Promise<AedesBroker> {
    const b = new AedesBroker(await Aedes.createBroker());
    await b.listen(port);
    return b;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async listen(port = this.port): Promise<void> {
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Stop accepting connections and cut every existing one (a broker outage). */
  async pause(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.pause();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}
