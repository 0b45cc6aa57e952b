import type { RegisterType } from '../profiles/types.js';

/** Where a Modbus transaction was aimed: carried by every driver error so messages say what and where. */
export interface ModbusTarget {
  /** Bus URI, e.g. `modbus-tcp://127.0.0.1:502` or `modbus-rtu:///dev/ttyUSB0`. */
  bus: string;
  /** Device id from the site configuration (or the CLI's profile id). */
  device?: string;
  unit: number;
  register: RegisterType;
  address: number;
  count: number;
}

export type ModbusErrorKind = 'exception' | 'timeout' | 'connection' | 'frame' | 'unavailable';

/** Names of the Modbus exception codes (Modbus Application Protocol v1.1b3, section 7). */
export const EXCEPTION_NAMES: Record<number, string> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

export function describeTarget(t: ModbusTarget): string {
  const dev = t.device ? `device ${t.device} ` : '';
  const span = t.count > 1 ? `${t.address}..${t.address + t.count - 1}` : `${t.address}`;
  return `${dev}(unit ${t.unit} on ${t.bus}) ${t.register} ${span}`;
}

/** Base class of every error the Modbus driver raises. */
export class ModbusError extends Error {
  readonly kind: ModbusErrorKind;
  readonly target: ModbusTarget;
  constructor(kind: ModbusErrorKind, target: ModbusTarget, detail: string, options?: { cause?: unknown }) {
    super(`${describeTarget(target)}: ${detail}`, options);
    this.name = 'ModbusError';
    this.kind = kind;
    this.target = target;
  }
  /** True when the device itself answered (exception): it is alive, only this request failed. */
  get deviceAnswered(): boolean {
    return this.kind === 'exception';
  }
}

/** The device answered with a Modbus exception code (01 illegal function, 02 illegal address, ...). */
export class ModbusExceptionError extends ModbusError {
  readonly code: number;
  constructor(target: ModbusTarget, code: number) {
    const hex = code.toString(16).toUpperCase().padStart(2, '0');
    super('exception', target, `exception ${hex} ${EXCEPTION_NAMES[code] ?? 'unknown exception'}`);
    this.name = 'ModbusExceptionError';
    this.code = code;
  }
  /** 0A / 0B come from a gateway: the device behind it did not answer. */
  override get deviceAnswered(): boolean {
    return this.code !== 0x0a && this.code !== 0x0b;
  }
}

export class ModbusTimeoutError extends ModbusError {
  constructor(target: ModbusTarget, timeoutMs: number) {
    super('timeout', target, `no reply within ${timeoutMs} ms`);
    this.name = 'ModbusTimeoutError';
  }
}

/** The port or socket is not open / went away / could not be opened. */
export class ModbusConnectionError extends ModbusError {
  constructor(target: ModbusTarget, detail: string, options?: { cause?: unknown }) {
    super('connection', target, detail, options);
    this.name = 'ModbusConnectionError';
  }
}

/** A reply arrived but was not a valid answer (CRC error, wrong length, wrong unit or function). */
export class ModbusFrameError extends ModbusError {
  constructor(target: ModbusTarget, detail: string) {
    super('frame', target, `bad reply: ${detail}`);
    this.name = 'ModbusFrameError';
  }
}

/** The request was not sent: the device is backed off or the bus is waiting to reconnect. */
export class ModbusUnavailableError extends ModbusError {
  constructor(target: ModbusTarget, detail: string) {
    super('unavailable', target, detail);
    this.name = 'ModbusUnavailableError';
  }
}

interface LibError {
  name?: string;
  message?: string;
  errno?: string;
  code?: string;
  modbusCode?: number;
}

/** Map an error thrown by modbus-serial / serialport / net onto a typed ModbusError. */
export function classifyError(err: unknown, target: ModbusTarget, timeoutMs: number): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = (err ?? {}) as LibError;
  const msg = String(e.message ?? err);
  if (typeof e.modbusCode === 'number') return new ModbusExceptionError(target, e.modbusCode);
  if (e.name === 'TransactionTimedOutError' || e.errno === 'ETIMEDOUT' || /timed out/i.test(msg)) {
    return new ModbusTimeoutError(target, timeoutMs);
  }
  if (/CRC error|Data length error|Unexpected data error|out of range|Index out of range/i.test(msg)) {
    return new ModbusFrameError(target, msg);
  }
  return new ModbusConnectionError(target, e.code ? `${msg} (${e.code})` : msg, { cause: err });
}
