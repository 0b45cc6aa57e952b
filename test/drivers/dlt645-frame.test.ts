/**
 * DL/T 645-2007 framing against an independent frame builder written from the standard
 * (DL/T 645-2007 section 4 and the worked example in shared/reference/protocols.md), not from our
 * encoder: FEh preamble, 68H A0..A5 68H C L DATA CS 16H, address low byte first, data +33h,
 * CS = sum mod 256 from the first 68H to the end of DATA.
 */
import { describe, expect, it } from 'vitest';
import { describeErrorByte, encodeFrame, parseFrame } from '../../drivers/dlt645/frame.js';
import { decodeBcd, decodeDataIdentifier, encodeBcd, encodeDataIdentifier, parseFormat } from '../../drivers/dlt645/values.js';
import { decodePointValue } from '../../drivers/dlt645/poller.js';

/** The standard's frame, built byte by byte from hex strings: what a meter or a reference master sends. */
function standardFrame(address: string, control: number, plainDataHex: string, wakeUps = 0): number[] {
  const addr: number[] = [];
  for (let i = 10; i >= 0; i -= 2) addr.push(parseInt(address.slice(i, i + 2), 16)); // A0 = last two digits
  const plain = (plainDataHex.match(/../g) ?? []).map((h) => parseInt(h, 16));
  const data = plain.map((b) => (b + 0x33) % 256);
  const body = [0x68, ...addr, 0x68, control, data.length, ...data];
  let cs = 0;
  for (const b of body) cs = (cs + b) % 256;
  return [...Array(wakeUps).fill(0xfe), ...body, cs, 0x16];
}
const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

describe('DL/T 645-2007 worked example', () => {
  // Read DI 00 01 00 00 (forward active total energy) from meter 000102030425.
  const request = '68 25 04 03 02 01 00 68 11 04 33 33 34 33 E1 16';

  it('the independent builder reproduces the standard\'s request bytes (checksum E1h)', () => {
    expect(Buffer.from(standardFrame('000102030425', 0x11, '00000100'))).toEqual(bytes(request));
  });

  it('our encoder sends exactly those bytes, after 0-4 FEh wake-up bytes', () => {
    for (const n of [0, 1, 2, 4]) {
      const ours = encodeFrame({ address: '000102030425', control: 0x11, data: encodeDataIdentifier('00010000') }, { preamble: n });
      expect(ours).toEqual(Buffer.concat([Buffer.alloc(n, 0xfe), bytes(request)]));
    }
  });

  it('decodes the example reply 33 33 34 33 75 39 45 33 to 001206.42 kWh', () => {
    // The reply frame as the meter sends it, scrambled data field taken from the standard.
    const plain = bytes('33 33 34 33 75 39 45 33').map((b) => (b - 0x33) & 0xff);
    const wire = Buffer.from(standardFrame('000102030425', 0x91, Buffer.from(plain).toString('hex'), 2));
    expect(wire.subarray(2 + 10, 2 + 18)).toEqual(bytes('33 33 34 33 75 39 45 33'));
    const r = parseFrame(wire);
    if (r.kind !== 'frame') throw new Error(`expected a frame, got ${r.kind}`);
    expect(r.frame.address).toBe('000102030425');
    expect(r.frame.control).toBe(0x91);
    expect(decodeDataIdentifier(r.frame.data)).toBe('00010000');
    expect(decodeBcd(r.frame.data.subarray(4), parseFormat('XXXXXX.XX'))).toBe(1206.42);
  });
});

describe('frames', () => {
  it.each([
    ['123456789012', 0x11, '00000000', 0],
    ['123456789012', 0x91, '0000030242061200', 4],
    ['999999999999', 0x08, '010203040506', 1],
    ['AAAAAAAAAAAA', 0x13, '', 3],
    ['000000000001', 0xd1, '02', 0],
  ])('meter %s control %s data %s (%d wake-up bytes): decoded as the standard builds it', (address, control, data, wake) => {
    const wire = Buffer.from(standardFrame(address, control, data, wake));
    const r = parseFrame(wire);
    if (r.kind !== 'frame') throw new Error(`expected a frame, got ${r.kind}`);
    expect(r.frame).toEqual({ address, control, data: bytes(data) });
    expect(r.rest.length).toBe(0);
    // and our encoder produces the same bytes
    expect(encodeFrame(r.frame, { preamble: wake })).toEqual(wire);
  });

  it('waits for more bytes, skips noise before 68H, and keeps what follows a frame', () => {
    const wire = Buffer.from(standardFrame('123456789012', 0x91, '00000100', 4));
    expect(parseFrame(wire.subarray(0, wire.length - 1)).kind).toBe('incomplete');
    const r = parseFrame(Buffer.concat([bytes('00 68 13'), wire, bytes('FE FE')]));
    expect(r.kind).toBe('frame');
    expect(r.kind === 'frame' && [...r.rest]).toEqual([0xfe, 0xfe]);
  });

  it('reports a wrong checksum and a wrong end byte', () => {
    const wire = Buffer.from(standardFrame('123456789012', 0x91, '00000100'));
    const badCs = Buffer.from(wire);
    badCs[badCs.length - 2] = (badCs[badCs.length - 2]! + 1) & 0xff;
    const r = parseFrame(badCs);
    expect(r.kind).toBe('bad');
    expect(r.kind === 'bad' && r.reason).toMatch(/checksum error/);
    const badEnd = Buffer.from(wire);
    badEnd[badEnd.length - 1] = 0x17;
    expect(parseFrame(badEnd)).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/16h/) });
  });

  it('decodes the error byte of an error reply', () => {
    expect(describeErrorByte(0x02)).toBe('no requested data (the meter does not support this data identifier) (ERR 02h)');
    expect(describeErrorByte(0x05)).toMatch(/^other error; password error or unauthorized/);
  });
});

describe('BCD values in the formats of appendix A', () => {
  it.each([
    // format, signed, value bytes on the wire (low byte first), value
    ['XXXXXX.XX', false, '42061200', 1206.42],
    ['XXXXXX.XX', true, '00000080', -0],
    ['XX.XXXX', true, '452301', 1.2345],
    ['XX.XXXX', true, '452381', -1.2345],
    ['XXX.X', false, '0122', 220.1],
    ['XXX.XXX', true, '000501', 10.5],
    ['X.XXX', true, '5189', -0.951],
    ['XX.XX', false, '0150', 50.01],
  ])('%s signed=%s %s -> %d', (format, signed, hex, value) => {
    const f = parseFormat(format);
    expect(decodeBcd(bytes(hex), f, signed)).toBe(value);
    if (!Object.is(value, -0)) expect(encodeBcd(value, f, signed).toString('hex')).toBe(hex);
  });

  it('refuses bytes that are not BCD (FFh filler) and formats that are not whole bytes', () => {
    expect(() => decodeBcd(bytes('FFFFFFFF'), parseFormat('XXXXXX.XX'))).toThrow(/not BCD/);
    expect(() => parseFormat('XX.X')).toThrow(/even number of X digits/);
  });

  it('scales a kW value to W without float noise', () => {
    expect(decodePointValue({ id: 'p', di: '02030000', format: 'XX.XXXX', signed: true, scale: 1000 }, bytes('452301'))).toBe(1234.5);
  });
});
