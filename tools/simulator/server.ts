/**
 * Modbus TCP and RTU servers for simulated devices (modbus-serial ServerTCP / ServerSerial).
 * Several unit ids share one port: each request is routed by its unit id to that device's register
 * image. A unit id nobody serves gets exception 0B over TCP (what a gateway answers) and no reply
 * at all over RTU (what a bus does). Loopback only unless a host is given.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../runtime/logger.js';
import { silentLogger } from '../../runtime/logger.js';
import { devicesByUnit, emptyStats, modbusVector, type SimulatedDevice, type SimulatorStats } from './modbus-vector.js';
import { freeTcpPort } from '../free-port.js';

export type { SimulatedDevice, SimulatorStats } from './modbus-vector.js';

// modbus-serial is CommonJS; its servers are exported as properties of the client class.
const require = createRequire(import.meta.url);
const ModbusRTU = require('modbus-serial') as {
  ServerTCP: new (vector: object, options: object) => ModbusServerHandle;
  ServerSerial: new (vector: object, options: object) => ModbusServerHandle;
};

interface ModbusServerHandle {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  close(cb: (err?: Error | null) => void): void;
  _server?: { address(): AddressInfo | string | null };
}

export interface SimulatorServerOptions {
  devices: SimulatedDevice[];
  /** Modbus TCP: port 0 = a free port (see `tcpPort`). Host default 127.0.0.1. */
  tcp?: { port: number; host?: string };
  /** Modbus RTU on a serial device (a real port or one end of a pty pair). */
  rtu?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd'; stopBits?: 1 | 2 };
  logger?: Logger;
  /** Level of the log line of each accepted write (default info; the demo's gateway logs writes itself). */
  writeLogLevel?: 'info' | 'debug';
}

export class SimulatorServer {
  readonly host: string;
  /** The bound TCP port (resolved when port 0 was asked for). */
  tcpPort?: number;
  rtuPath?: string;
  readonly stats: SimulatorStats = emptyStats();
  private readonly devices: Map<number, SimulatedDevice[]>;
  private readonly log: Logger;
  private tcp?: ModbusServerHandle;
  private rtu?: ModbusServerHandle;
  private closed = false;

  private constructor(private readonly opts: SimulatorServerOptions) {
    this.host = opts.tcp?.host ?? '127.0.0.1';
    this.log = opts.logger ?? silentLogger();
    for (const d of opts.devices) {
      if (d.unitId < 1 || d.unitId > 247) throw new RangeError(`unit id ${d.unitId} of ${d.name} is not 1..247`);
    }
    this.devices = devicesByUnit(opts.devices);
  }

  /** Start serving; resolves once every requested transport listens. */
  static async start(opts: SimulatorServerOptions): Promise<SimulatorServer> {
    if (!opts.tcp && !opts.rtu) throw new Error('nothing to serve on: give tcp and/or rtu');
    const s = new SimulatorServer(opts);
    try {
      if (opts.tcp) await s.startTcp(opts.tcp.port);
      if (opts.rtu) await s.startRtu(opts.rtu);
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  private async startTcp(port: number): Promise<void> {
    // ServerTCP treats port 0 as "default" (502): pick a free port ourselves, retrying if another
    // process takes it between the probe and the listen.
    for (let attempt = 0; ; attempt++) {
      const p = port === 0 ? await freeTcpPort(this.host) : port;
      const server = new ModbusRTU.ServerTCP(modbusVector({ devices: this.devices, stats: this.stats, log: this.log, mode: 'tcp', writeLogLevel: this.opts.writeLogLevel }), { host: this.host, port: p, unitID: 255 });
      try {
        await new Promise<void>((resolve, reject) => {
          server.on('initialized', () => resolve());
          server.on('serverError', (err) => reject(err as Error));
        });
      } catch (err) {
        await new Promise<void>((r) => server.close(() => r()));
        if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
        throw err;
      }
      this.tcp = server;
      server.on('socketError', (err) => this.log.debug({ err }, 'simulator: client socket error'));
      server.on('error', (err) => this.log.warn({ err }, 'simulator: error'));
      const addr = server._server?.address();
      this.tcpPort = typeof addr === 'object' && addr ? addr.port : p;
      return;
    }
  }

  private async startRtu(rtu: NonNullable<SimulatorServerOptions['rtu']>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const server = new ModbusRTU.ServerSerial(modbusVector({ devices: this.devices, stats: this.stats, log: this.log, mode: 'rtu', writeLogLevel: this.opts.writeLogLevel }), {
        path: rtu.path,
        baudRate: rtu.baudRate ?? 9600,
        parity: rtu.parity ?? 'none',
        stopBits: rtu.stopBits ?? 1,
        unitID: 255,
        openCallback: (err: Error | null) => (err ? reject(new Error(`cannot open ${rtu.path}: ${err.message}`)) : resolve()),
      });
      this.rtu = server;
      server.on('socketError', (err) => this.log.debug({ err }, 'simulator: serial error'));
      server.on('error', (err) => this.log.warn({ err }, 'simulator: serial error'));
    });
    this.rtuPath = rtu.path;
  }

  /** Stop serving and release the port(s); safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closeOne = (s: ModbusServerHandle | undefined) =>
      new Promise<void>((resolve) => {
        if (!s) return resolve();
        try {
          s.close(() => resolve());
        } catch {
          resolve();
        }
      });
    await Promise.all([closeOne(this.tcp), closeOne(this.rtu)]);
  }
}
