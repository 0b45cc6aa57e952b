/**
 * DL/T 645 data identifiers and value formats (2007: appendix A, 数据标识编码表).
 *
 * A data identifier (DI) is written most significant byte first, DI3 DI2 DI1 DI0 in the 2007
 * edition (`00010000` = forward active total energy), DI1 DI0 in the 1997 one (`9010`), and sent
 * DI0 first. A value is BCD, least significant byte first, in the DI's format: `XXXXXX.XX`
 * is 8 digits (4 bytes) with 2 decimals. In signed formats (power, current, power factor, combined
 * energy) the top bit of the most significant byte is the sign.
 */

const FORMAT_RE = /^(X+)(?:\.(X+))?$/;

/** Whether `di` is a data identifier of `diBytes` bytes (2: DI1 DI0, 4: DI3..DI0) written in hex. */
export function isDataIdentifier(di: string, diBytes: 2 | 4 = 4): boolean {
  return di.length === 2 * diBytes && /^[0-9A-F]+$/i.test(di);
}

/** `00010000` (or the 1997 `9010`) -> the bytes on the wire (DI0 first, before scrambling). */
export function encodeDataIdentifier(di: string, diBytes: 2 | 4 = 4): Buffer {
  if (!isDataIdentifier(di, diBytes)) throw new RangeError(`expected a data identifier of ${2 * diBytes} hex digits (${diBytes === 4 ? 'DI3 DI2 DI1 DI0' : 'DI1 DI0'}), got '${di}'`);
  return Buffer.from(di, 'hex').reverse();
}

/** The `diBytes` DI bytes from the wire (DI0 first) -> `00010000` (or `9010`). */
export function decodeDataIdentifier(bytes: Uint8Array, diBytes: 2 | 4 = 4): string {
  return Buffer.from(bytes.subarray(0, diBytes)).reverse().toString('hex').toUpperCase();
}

export interface ValueFormat {
  /** Value bytes on the wire (2 BCD digits each). */
  bytes: number;
  /** Digits after the decimal point. */
  decimals: number;
}

/** `XXXXXX.XX` -> 4 bytes, 2 decimals. Throws on a format that is not whole bytes of X digits. */
export function parseFormat(format: string): ValueFormat {
  const m = FORMAT_RE.exec(format);
  const digits = m ? m[1]!.length + (m[2]?.length ?? 0) : 0;
  if (!m || digits % 2 !== 0 || digits === 0 || digits > 16) {
    throw new RangeError(`expected a DL/T 645 value format of an even number of X digits with an optional point (e.g. XXXXXX.XX), got '${format}'`);
  }
  return { bytes: digits / 2, decimals: m[2]?.length ?? 0 };
}

/** Whether `format` is a value format parseFormat accepts. */
export function isValueFormat(format: string): boolean {
  try {
    parseFormat(format);
    return true;
  } catch {
    return false;
  }
}

/**
 * Decode a BCD value (least significant byte first). With `signed`, the top bit of the most
 * significant byte is the sign. Throws when a nibble is not a decimal digit (e.g. FFh filler).
 */
export function decodeBcd(bytes: Uint8Array, format: ValueFormat, signed = false): number {
  if (bytes.length < format.bytes) throw new RangeError(`expected ${format.bytes} value bytes, got ${bytes.length}`);
  let n = 0;
  let negative = false;
  for (let i = format.bytes - 1; i >= 0; i--) {
    let b = bytes[i]!;
    if (signed && i === format.bytes - 1) {
      negative = (b & 0x80) !== 0;
      b &= 0x7f;
    }
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) throw new RangeError(`value bytes ${Buffer.from(bytes.subarray(0, format.bytes)).toString('hex').toUpperCase()} are not BCD`);
    n = n * 100 + hi * 10 + lo;
  }
  const v = n / 10 ** format.decimals;
  return negative ? -v : v;
}

/** Encode a value as BCD (least significant byte first); the meter side of decodeBcd. */
export function encodeBcd(value: number, format: ValueFormat, signed = false): Buffer {
  const negative = value < 0;
  if (negative && !signed) throw new RangeError(`negative value ${value} in an unsigned format`);
  let n = Math.round(Math.abs(value) * 10 ** format.decimals);
  const digits = format.bytes * 2;
  if (n >= 10 ** digits || (signed && n >= 8 * 10 ** (digits - 1))) throw new RangeError(`value ${value} does not fit ${digits} BCD digits`);
  const out = Buffer.alloc(format.bytes);
  for (let i = 0; i < format.bytes; i++) {
    const two = n % 100;
    n = Math.floor(n / 100);
    out[i] = ((Math.floor(two / 10) << 4) | two % 10) & 0xff;
  }
  if (negative) out[format.bytes - 1] = out[format.bytes - 1]! | 0x80;
  return out;
}
