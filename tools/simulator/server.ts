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
import type { PointValue } from '../../runtime/types.js';
import type { ProfilePoint } from '../../drivers/profiles/types.js';
import { MODBUS_EXCEPTION, ModbusException, type RegisterImage } from './register-image.js';
import { freeTcpPort } from '../free-port.js';

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

/** One device on the simulated bus. */
export interface SimulatedDevice {
  unitId: number;
  /** Name for logs (device id or profile id). */
  name: string;
  image: RegisterImage;
  /**
   * Called for every point a write touched, before the image changes; throw to refuse the write
   * (the client gets exception 03, or the exception's own code).
   */
  onWrite?(point: ProfilePoint, value: PointValue): void;
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

type Cb<T> = (err: Error | null, value?: T) => void;

export interface SimulatorStats {
  /** Register reads and writes answered (including exception replies), by unit id. */
  requests: Map<number, number>;
  /** Exception replies, by unit id. */
  exceptions: Map<number, number>;
}

export class SimulatorServer {
  readonly host: string;
  /** The bound TCP port (resolved when port 0 was asked for). */
  tcpPort?: number;
  rtuPath?: string;
  readonly stats: SimulatorStats = { requests: new Map(), exceptions: new Map() };
  private readonly devices = new Map<number, SimulatedDevice>();
  private readonly log: Logger;
  private tcp?: ModbusServerHandle;
  private rtu?: ModbusServerHandle;
  private closed = false;

  private constructor(private readonly opts: SimulatorServerOptions) {
    this.host = opts.tcp?.host ?? '127.0.0.1';
    this.log = opts.logger ?? silentLogger();
    for (const d of opts.devices) {
      if (d.unitId < 1 || d.unitId > 247) throw new RangeError(`unit id ${d.unitId} of ${d.name} is not 1..247`);
      if (this.devices.has(d.unitId)) throw new RangeError(`unit id ${d.unitId} is used twice (${this.devices.get(d.unitId)!.name}, ${d.name})`);
      this.devices.set(d.unitId, d);
    }
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
      const server = new ModbusRTU.ServerTCP(this.vector('tcp'), { host: this.host, port: p, unitID: 255 });
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
      const server = new ModbusRTU.ServerSerial(this.vector('rtu'), {
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

  private count(map: Map<number, number>, unit: number): void {
    map.set(unit, (map.get(unit) ?? 0) + 1);
  }

  /**
   * modbus-serial's service vector in callback style, so that a request for an unknown unit on
   * RTU can stay unanswered (the callback is never called) as on a real bus.
   */
  private vector(mode: 'tcp' | 'rtu'): object {
    const route = <T>(unitID: number, cb: Cb<T>, body: (d: SimulatedDevice) => T): void => {
      const d = this.devices.get(unitID);
      if (!d) {
        if (mode === 'rtu') return; // silence: no device with this address on the bus
        this.count(this.stats.exceptions, unitID);
        cb(new ModbusException(MODBUS_EXCEPTION.gatewayTargetFailed, `no device with unit id ${unitID}`));
        return;
      }
      try {
        const v = body(d);
        cb(null, v);
      } catch (err) {
        this.count(this.stats.exceptions, unitID);
        const code = err instanceof ModbusException ? err.modbusErrorCode : MODBUS_EXCEPTION.deviceFailure;
        const e = err instanceof ModbusException ? err : new ModbusException(code, (err as Error).message);
        this.log.debug({ unit: unitID, device: d.name, code, reason: e.message }, 'simulator: exception reply');
        cb(e);
      }
    };
    // Count what gets an answer: over RTU a request for an unknown unit gets none.
    const request = (unitID: number) => {
      if (mode === 'tcp' || this.devices.has(unitID)) this.count(this.stats.requests, unitID);
    };
    const write = (d: SimulatedDevice, register: 'holding' | 'coil', addr: number, data: number[] | boolean[]) => {
      const { writes, commit } = d.image.prepareWrite(register, addr, data);
      for (const w of writes) {
        try {
          d.onWrite?.(w.point, w.value);
        } catch (err) {
          if (err instanceof ModbusException) throw err;
          throw new ModbusException(MODBUS_EXCEPTION.illegalDataValue, (err as Error).message);
        }
      }
      commit();
      this.log[this.opts.writeLogLevel ?? 'info']({ unit: d.unitId, device: d.name, writes: writes.map((w) => `${w.point.id}=${String(w.value)}`) }, 'simulator: write');
    };
    return {
      // FC01/FC02 ask for every bit separately: bit reads are not counted as requests.
      getCoil: (addr: number, unitID: number, cb: Cb<boolean>) => route(unitID, cb, (d) => d.image.readBit('coil', addr)),
      getDiscreteInput: (addr: number, unitID: number, cb: Cb<boolean>) => route(unitID, cb, (d) => d.image.readBit('discrete', addr)),
      getInputRegister: (addr: number, unitID: number, cb: Cb<number>) => {
        request(unitID);
        route(unitID, cb, (d) => d.image.readWords('input', addr, 1)[0]!);
      },
      getHoldingRegister: (addr: number, unitID: number, cb: Cb<number>) => {
        request(unitID);
        route(unitID, cb, (d) => d.image.readWords('holding', addr, 1)[0]!);
      },
      getMultipleInputRegisters: (addr: number, length: number, unitID: number, cb: Cb<number[]>) => {
        request(unitID);
        route(unitID, cb, (d) => d.image.readWords('input', addr, length));
      },
      getMultipleHoldingRegisters: (addr: number, length: number, unitID: number, cb: Cb<number[]>) => {
        request(unitID);
        route(unitID, cb, (d) => d.image.readWords('holding', addr, length));
      },
      setCoil: (addr: number, value: boolean, unitID: number, cb: Cb<void>) => {
        request(unitID);
        route(unitID, cb, (d) => write(d, 'coil', addr, [value]));
      },
      setRegister: (addr: number, value: number, unitID: number, cb: Cb<void>) => {
        request(unitID);
        route(unitID, cb, (d) => write(d, 'holding', addr, [value]));
      },
      setRegisterArray: (addr: number, values: number[], unitID: number, cb: Cb<void>) => {
        request(unitID);
        route(unitID, cb, (d) => write(d, 'holding', addr, values));
      },
    };
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
