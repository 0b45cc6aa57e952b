/**
 * One simulated RS-485 line with Modbus RTU devices (by unit id) and DL/T 645 meters (by
 * address) on it, served on a serial port (a pty pair's end) or on a TCP port the way a TCP serial
 * converter passes the line through (raw frames, no MBAP). Each request is taken from the byte
 * stream at a frame start: FEh wake-up bytes and 68h ... 68h open a DL/T 645 frame, anything else
 * is a Modbus RTU request (length by function code, CRC checked); a byte that starts neither is
 * dropped, and a silence of GAP_MS ends a partial frame, as the line's t3.5 does. Devices that are
 * not addressed stay silent. Every Modbus function code seen on the line is counted (`functions`).
 */
import { parseFrame, REPLY_BIT } from '../../drivers/dlt645/frame.js';
import type { Logger } from '../../runtime/logger.js';
import { LineEndpoints } from './line-endpoints.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Dlt645Server } from './dlt645-server.js';
import { devicesByUnit, emptyStats, modbusVector, type SimulatedDevice, type SimulatorStats } from './modbus-vector.js';
import { answerRtu, parseRtuRequest } from './rtu-frames.js';

const FRAME_START = 0x68;
const WAKE_UP = 0xfe;
/** A silence this long ends a partial frame. */
const GAP_MS = 50;

export interface LineServerOptions {
  modbus?: SimulatedDevice[];
  /** The DL/T 645 meters on the line (their simulators answer their frames). */
  dlt645?: Dlt645Server[];
  logger?: Logger;
}

export class LineServer {
  readonly stats: SimulatorStats = emptyStats();
  /** Modbus requests seen on the line by function code (answered or not). */
  readonly functions = new Map<number, number>();
  private readonly devices: Map<number, SimulatedDevice[]>;
  private readonly log: Logger;
  private readonly endpoints = new LineEndpoints((write, onData) => this.attach(write, onData));

  constructor(private readonly opts: LineServerOptions) {
    this.log = opts.logger ?? silentLogger();
    this.devices = devicesByUnit(opts.modbus ?? []);
  }

  /** Serve on a serial port (the simulator's end of a pty pair). */
  listenSerial(path: string, opts: { baudRate?: number; parity?: 'none' | 'even' | 'odd' } = {}): Promise<void> {
    return this.endpoints.listenSerial(path, { baudRate: opts.baudRate ?? 9600, parity: opts.parity ?? 'none' });
  }

  /** Serve like a TCP serial converter on `host` (port 0 = any free port); returns the port. */
  listenTcp(port = 0, host = '127.0.0.1'): Promise<number> {
    return this.endpoints.listenTcp(port, host);
  }

  close(): Promise<void> {
    return this.endpoints.close();
  }

  private attach(write: (b: Buffer) => void, onData: (fn: (d: Buffer) => void) => void): void {
    const vector = modbusVector({ devices: this.devices, stats: this.stats, log: this.log, mode: 'rtu' });
    let rx: Buffer = Buffer.alloc(0);
    let gap: NodeJS.Timeout | undefined;
    // Requests are answered one at a time, in order: one line, one transaction.
    let queue = Promise.resolve();
    const next = (): Buffer | undefined => {
      let start = 0;
      while (start < rx.length && rx[start] === WAKE_UP) start++;
      rx = rx.subarray(start);
      if (rx.length === 0) return undefined;
      if (rx[0] === FRAME_START && rx.length < 8) return undefined;
      if (rx[0] === FRAME_START && rx[7] === FRAME_START) {
        const r = parseFrame(rx);
        if (r.kind === 'incomplete') return undefined;
        if (r.kind === 'frame') {
          rx = r.rest;
          const frame = r.frame;
          const replies = frame.control & REPLY_BIT ? [] : (this.opts.dlt645 ?? []).flatMap((s) => s.reply(frame) ?? []);
          return Buffer.concat(replies);
        }
      }
      const m = parseRtuRequest(rx);
      if (m.kind === 'incomplete') return undefined;
      if (m.kind === 'bad') {
        rx = rx.subarray(1);
        return Buffer.alloc(0);
      }
      rx = rx.subarray(m.length);
      this.functions.set(m.fc, (this.functions.get(m.fc) ?? 0) + 1);
      if (this.devices.has(m.unit)) queue = queue.then(async () => write(await answerRtu(vector, m.unit, m.fc, m.pdu)));
      return Buffer.alloc(0);
    };
    onData((d) => {
      rx = Buffer.concat([rx, d]);
      for (let out = next(); out !== undefined; out = next()) if (out.length) queue = queue.then(() => write(out));
      if (gap) clearTimeout(gap);
      if (rx.length) {
        gap = setTimeout(() => (rx = Buffer.alloc(0)), GAP_MS);
        gap.unref();
      }
    });
  }
}
