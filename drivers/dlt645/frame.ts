/**
 * DL/T 645 framing, the same in the 1997 and 2007 editions (DL/T 645-2007 section 4 帧格式;
 * what differs between the editions is in variant.ts):
 *
 *   [FE x 0..4]  68  A0 A1 A2 A3 A4 A5  68  C  L  DATA(L bytes, each +33h)  CS  16
 *
 * - The address is 12 BCD digits sent low byte first (meter 000102030425 -> 25 04 03 02 01 00);
 *   AAAAAAAAAAAA is the "any meter" address of the read-address request (13h).
 * - CS is the sum modulo 256 of every byte from the first 68h to the end of DATA.
 * - The FEh wake-up preamble is sent before a request and tolerated (skipped) before a reply.
 * Pure functions only; the bus (bus.ts) owns the link and the timing.
 */

import { DLT645_2007, type Dlt645Variant } from './variant.js';

export const FRAME_START = 0x68;
export const FRAME_END = 0x16;
export const WAKE_UP = 0xfe;
export const SCRAMBLE = 0x33;
/** The address a read-address request (13h) is sent to. */
export const BROADCAST_READ_ADDRESS = 'AAAAAAAAAAAA';
/** Read requests carry at most 200 data bytes (the standard's limit for L on reads). */
export const MAX_DATA_LENGTH = 200;

/** Control code (C): function in bits 0-4 (per edition: variant.ts); bit 7 = reply, bit 6 = error reply, bit 5 = more frames follow. */
export const REPLY_BIT = 0x80;
export const ERROR_BIT = 0x40;
export const FOLLOW_UP_BIT = 0x20;

export interface Frame {
  /** 12 characters, most significant digit first (as printed on the meter's name plate). */
  address: string;
  control: number;
  /** Data field, unscrambled (the -33h already removed). */
  data: Buffer;
}

const ADDRESS_RE = /^(?:\d{12}|A{12})$/i;

/** Whether `address` is a meter address (12 digits) or the AAAAAAAAAAAA read-address wildcard. */
export function isFrameAddress(address: string): boolean {
  return ADDRESS_RE.test(address);
}

/** 12-digit address -> the 6 address bytes, low byte first. */
export function encodeAddress(address: string): Buffer {
  if (!isFrameAddress(address)) throw new RangeError(`expected a 12-digit meter address, got '${address}'`);
  return Buffer.from(address, 'hex').reverse();
}

/** The 6 address bytes (low byte first) -> 12 characters, most significant first. */
export function decodeAddress(bytes: Buffer): string {
  return Buffer.from(bytes).reverse().toString('hex').toUpperCase();
}

/** Sum modulo 256 (the frame checksum). */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** Data bytes +33h (sending side). */
export function scramble(data: Uint8Array): Buffer {
  return shift(data, SCRAMBLE);
}

/** Data bytes -33h (receiving side). */
export function unscramble(data: Uint8Array): Buffer {
  return shift(data, 0x100 - SCRAMBLE);
}

function shift(data: Uint8Array, by: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = (data[i]! + by) & 0xff;
  return out;
}

/** Encode a frame; `preamble` FEh bytes (0-4, default 4) go in front of it. */
export function encodeFrame(frame: Frame, opts: { preamble?: number } = {}): Buffer {
  const preamble = opts.preamble ?? 4;
  if (!Number.isInteger(preamble) || preamble < 0 || preamble > 4) throw new RangeError(`expected 0..4 wake-up bytes, got ${preamble}`);
  if (frame.data.length > 255) throw new RangeError(`data field of ${frame.data.length} bytes does not fit one frame (max 255)`);
  const body = Buffer.concat([
    Buffer.from([FRAME_START]),
    encodeAddress(frame.address),
    Buffer.from([FRAME_START, frame.control & 0xff, frame.data.length]),
    scramble(frame.data),
  ]);
  return Buffer.concat([Buffer.alloc(preamble, WAKE_UP), body, Buffer.from([checksum(body), FRAME_END])]);
}

export type ParseResult =
  /** Not enough bytes yet (wait for more). */
  | { kind: 'incomplete' }
  /** A whole, valid frame; `rest` is what follows it. */
  | { kind: 'frame'; frame: Frame; rest: Buffer }
  /** A whole frame whose checksum or end byte is wrong; `rest` is what follows it. */
  | { kind: 'bad'; reason: string; rest: Buffer };

/**
 * Find the first frame in `buf`: wake-up bytes and line noise before the first 68h are skipped,
 * as is a 68h not followed by a second 68h seven bytes later.
 */
export function parseFrame(buf: Buffer): ParseResult {
  let at = 0;
  for (;;) {
    while (at < buf.length && buf[at] !== FRAME_START) at++;
    if (buf.length - at < 10) return { kind: 'incomplete' };
    if (buf[at + 7] === FRAME_START) break;
    at++;
  }
  const len = buf[at + 9]!;
  const total = 12 + len;
  if (buf.length - at < total) return { kind: 'incomplete' };
  const body = buf.subarray(at, at + 10 + len);
  const cs = buf[at + 10 + len]!;
  const end = buf[at + 11 + len]!;
  const rest = buf.subarray(at + total);
  const expected = checksum(body);
  if (cs !== expected) return { kind: 'bad', reason: `checksum error (frame says ${hex(cs)}, computed ${hex(expected)})`, rest };
  if (end !== FRAME_END) return { kind: 'bad', reason: `frame does not end with 16h (got ${hex(end)})`, rest };
  return {
    kind: 'frame',
    frame: { address: decodeAddress(body.subarray(1, 7)), control: body[8]!, data: unscramble(body.subarray(10)) },
    rest,
  };
}

export function hex(b: number): string {
  return `${b.toString(16).toUpperCase().padStart(2, '0')}h`;
}

/**
 * The error byte of an error reply, as text ("no requested data ..."): one bit per reason, named
 * from the edition's table where it was checked (DL/T 645-2007 "应答异常帧 错误信息字 ERR"),
 * else the byte in hex.
 */
export function describeErrorByte(err: number | undefined, variant: Dlt645Variant = DLT645_2007): string {
  if (err === undefined) return 'error reply without an error byte';
  if (!variant.errorBits) return `${variant.standard} error byte ERR ${hex(err)}`;
  const reasons = variant.errorBits.filter((_, i) => err & (1 << i));
  return `${reasons.length ? reasons.join('; ') : 'unspecified error'} (ERR ${hex(err)})`;
}
