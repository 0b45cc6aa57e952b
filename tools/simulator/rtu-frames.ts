/**
 * Modbus RTU request frames as a device on the line sees them: split out of a byte stream
 * (length by function code, CRC-16/MODBUS), answered through the simulators' service vector
 * (./modbus-vector.ts) with a reply frame, an exception frame, or silence.
 */
import { MODBUS_EXCEPTION, ModbusException } from './register-image.js';
import type { Cb, ModbusVector } from './modbus-vector.js';

/** CRC-16/MODBUS: init FFFFh, reflected polynomial A001h; sent low byte first. */
export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function withCrc(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 2);
  body.copy(out);
  out.writeUInt16LE(crc16(body), body.length);
  return out;
}

export type RtuParse = { kind: 'incomplete' } | { kind: 'bad' } | { kind: 'request'; unit: number; fc: number; pdu: Buffer; length: number };

/** The request frame at the start of `buf` (function codes 1-6, 15, 16). */
export function parseRtuRequest(buf: Buffer): RtuParse {
  if (buf.length < 2) return { kind: 'incomplete' };
  const fc = buf[1]!;
  let length: number;
  if (fc >= 1 && fc <= 6) length = 8;
  else if (fc === 15 || fc === 16) {
    if (buf.length < 7) return { kind: 'incomplete' };
    length = 9 + buf[6]!;
  } else return { kind: 'bad' };
  if (buf.length < length) return { kind: 'incomplete' };
  if (crc16(buf.subarray(0, length - 2)) !== buf.readUInt16LE(length - 2)) return { kind: 'bad' };
  return { kind: 'request', unit: buf[0]!, fc, pdu: buf.subarray(2, length - 2), length };
}

const call = <T>(fn: (cb: Cb<T>) => void) => new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

/** The reply frame to a request for a unit that is on the line. */
export async function answerRtu(vector: ModbusVector, unit: number, fc: number, pdu: Buffer): Promise<Buffer> {
  const addr = pdu.readUInt16BE(0);
  const qty = pdu.readUInt16BE(2);
  try {
    switch (fc) {
      case 1:
      case 2: {
        const bits: boolean[] = [];
        for (let i = 0; i < qty; i++) bits.push(await call<boolean>((cb) => (fc === 1 ? vector.getCoil : vector.getDiscreteInput)(addr + i, unit, cb)));
        const bytes = Buffer.alloc(Math.ceil(qty / 8));
        bits.forEach((b, i) => (bytes[i >> 3]! |= b ? 1 << (i & 7) : 0));
        return withCrc(Buffer.concat([Buffer.from([unit, fc, bytes.length]), bytes]));
      }
      case 3:
      case 4: {
        const words = await call<number[]>((cb) => (fc === 3 ? vector.getMultipleHoldingRegisters : vector.getMultipleInputRegisters)(addr, qty, unit, cb));
        const data = Buffer.alloc(words.length * 2);
        words.forEach((w, i) => data.writeUInt16BE(w & 0xffff, i * 2));
        return withCrc(Buffer.concat([Buffer.from([unit, fc, data.length]), data]));
      }
      case 5:
        await call<void>((cb) => vector.setCoil(addr, qty === 0xff00, unit, cb));
        return withCrc(Buffer.concat([Buffer.from([unit, fc]), pdu]));
      case 6:
        await call<void>((cb) => vector.setRegister(addr, qty, unit, cb));
        return withCrc(Buffer.concat([Buffer.from([unit, fc]), pdu]));
      case 15:
        for (let i = 0; i < qty; i++) await call<void>((cb) => vector.setCoil(addr + i, ((pdu[5 + (i >> 3)] ?? 0) >> (i & 7)) % 2 === 1, unit, cb));
        return withCrc(Buffer.concat([Buffer.from([unit, fc]), pdu.subarray(0, 4)]));
      case 16: {
        const values = Array.from({ length: qty }, (_, i) => pdu.readUInt16BE(5 + i * 2));
        await call<void>((cb) => vector.setRegisterArray(addr, values, unit, cb));
        return withCrc(Buffer.concat([Buffer.from([unit, fc]), pdu.subarray(0, 4)]));
      }
      default:
        throw new ModbusException(MODBUS_EXCEPTION.illegalFunction, `function ${fc} is not served`);
    }
  } catch (err) {
    const code = err instanceof ModbusException ? err.modbusErrorCode : MODBUS_EXCEPTION.deviceFailure;
    return withCrc(Buffer.from([unit, fc | 0x80, code]));
  }
}
