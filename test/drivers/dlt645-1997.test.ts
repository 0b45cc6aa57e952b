/**
 * DL/T 645-1997, the second edition of the same driver: frames against an independent builder
 * written from the standard (01h read, 2-byte DI1 DI0 sent DI0 first, replies 81h / A1h / C1h,
 * 02h read follow-up), checked against two public worked examples whose checksums were recomputed
 * by hand; a 1997 and a 2007 meter on one socat pty line; `carbonedge read --profile dlt645-1997`;
 * the profile loader refusing a 2007-length data identifier in a 1997 profile.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Dlt645Bus } from '../../drivers/dlt645/bus.js';
import { describeErrorByte, encodeFrame, parseFrame } from '../../drivers/dlt645/frame.js';
import type { ByteLink } from '../../drivers/dlt645/link.js';
import { Dlt645Poller } from '../../drivers/dlt645/poller.js';
import { decodeBcd, decodeDataIdentifier, encodeDataIdentifier, parseFormat } from '../../drivers/dlt645/values.js';
import { DLT645_1997 } from '../../drivers/dlt645/variant.js';
import { builtinProfileDir, loadBuiltinProfiles, loadProfileFile } from '../../drivers/profiles/load.js';
import type { Reading } from '../../runtime/types.js';
import { fixedMeterValues, meterValuesFor } from '../../tools/simulator/dlt645-server.js';
import { buildLine, type SimulatedLine } from '../../tools/simulator/line-site.js';
import { builtinDlt645Profile } from './fixtures.js';
import { havePeer } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';

const run = promisify(execFile);
const CLI = path.resolve('tools/carbonedge.js');
const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const old = builtinDlt645Profile('dlt645-1997');
const modern = builtinDlt645Profile('dlt645-2007');

/** A 1997 frame built byte by byte (not with our codec): 68 A0..A5 68 C L DATA+33h CS 16, CS summed here. */
function frame1997(address: string, control: number, plainDataHex: string): Buffer {
  const addr: number[] = [];
  for (let i = 10; i >= 0; i -= 2) addr.push(parseInt(address.slice(i, i + 2), 16));
  const data = (plainDataHex.replace(/\s+/g, '').match(/../g) ?? []).map((h) => (parseInt(h, 16) + 0x33) % 256);
  const body = [0x68, ...addr, 0x68, control, data.length, ...data];
  let cs = 0;
  for (const b of body) cs = (cs + b) % 256;
  return Buffer.from([...body, cs, 0x16]);
}

describe('DL/T 645-1997 frames: public worked examples', () => {
  // Read 9010 (forward active total) from meter 138000130754; checksum DAh, recomputed by hand:
  // 68+54+07+13+00+80+13+68+01+02+43+C3 = 2DAh.
  const request = '68 54 07 13 00 80 13 68 01 02 43 C3 DA 16';
  const reply = '68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16';

  it('the independent builder and our encoder both give the example request (01h, DI0 DI1 = 10 90 +33h)', () => {
    expect(frame1997('138000130754', 0x01, '1090')).toEqual(bytes(request));
    expect(encodeFrame({ address: '138000130754', control: DLT645_1997.control.read, data: encodeDataIdentifier('9010', 2) }, { preamble: 0 })).toEqual(bytes(request));
    expect(encodeFrame({ address: '138000130754', control: 0x01, data: encodeDataIdentifier('9010', 2) }).subarray(0, 4)).toEqual(bytes('FE FE FE FE'));
  });

  it('decodes the example reply (81h) to DI 9010 = 000000.01 kWh', () => {
    expect(frame1997('138000130754', 0x81, '1090 01000000')).toEqual(bytes(reply));
    const r = parseFrame(Buffer.concat([bytes('FE FE'), bytes(reply)]));
    if (r.kind !== 'frame') throw new Error(`expected a frame, got ${r.kind}`);
    expect(r.frame).toMatchObject({ address: '138000130754', control: 0x81 });
    expect(decodeDataIdentifier(r.frame.data, 2)).toBe('9010');
    expect(decodeBcd(r.frame.data.subarray(2), parseFormat('XXXXXX.XX'))).toBe(0.01);
  });

  it('the B611 example: request checksum 03h, reply 44 E9 33 34 = 100 V (a 2-byte whole-volt value)', () => {
    expect(frame1997('000000000003', 0x01, '11B6')).toEqual(bytes('68 03 00 00 00 00 00 68 01 02 44 E9 03 16'));
    const r = parseFrame(bytes('68 03 00 00 00 00 00 68 81 04 44 E9 33 34 EC 16'));
    if (r.kind !== 'frame') throw new Error(`expected a frame, got ${r.kind}`);
    expect(decodeDataIdentifier(r.frame.data, 2)).toBe('B611');
    expect(decodeBcd(r.frame.data.subarray(2), parseFormat(old.points.find((p) => p.di === 'B611')!.format))).toBe(100);
  });

  it('the 1997 error byte is shown in hex (its bit names are not taken from the 2007 table)', () => {
    expect(describeErrorByte(0x02, DLT645_1997)).toBe('DL/T 645-1997 error byte ERR 02h');
    expect(describeErrorByte(0x02)).toMatch(/^no requested data/);
  });
});

/** An independent 1997 meter on the far side of the bus's byte link: answers from frame1997, records what it got. */
class Meter1997Link implements ByteLink {
  readonly uri = 'test://meter-1997';
  isOpen = false;
  onData: ((chunk: Buffer) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  readonly received: Buffer[] = [];
  constructor(private readonly answer: (request: Buffer) => Buffer | undefined) {}
  open(): Promise<void> {
    this.isOpen = true;
    return Promise.resolve();
  }
  write(b: Buffer): Promise<void> {
    this.received.push(b);
    const reply = this.answer(b);
    if (reply) setImmediate(() => this.onData?.(reply));
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }
}

describe('DL/T 645-1997 against an independent meter: error reply and follow-up frames', () => {
  const A = '123456789012';
  const cfg = { id: 'line', type: 'dlt645' as const, path: '/dev/null', timeoutMs: 300 };

  it('an error reply C1h fails only that read, with the error byte; no repeat', async () => {
    const link = new Meter1997Link(() => frame1997(A, 0xc1, '02'));
    const bus = new Dlt645Bus(cfg, { link, preamble: 0 });
    await expect(bus.readData(A, 'B612', { protocol: 'dlt645-1997' })).rejects.toThrow(`meter ${A} on test://meter-1997 DI B612: error reply C1h: DL/T 645-1997 error byte ERR 02h`);
    expect(link.received).toEqual([frame1997(A, 0x01, '12B6')]);
    expect(bus.stats).toMatchObject({ errorReplies: 1, retries: 0 });
    await bus.close();
  });

  it('joins A1h + 02h -> 82h follow-up frames (DI only, no sequence byte) into one value', async () => {
    // 9010 = 012345.67 kWh: value bytes 67 45 23 01, sent as 67 45 (A1h, more follows) then 23 01 (82h).
    const link = new Meter1997Link((req) => (req[8] === 0x01 ? frame1997(A, 0xa1, '1090 6745') : frame1997(A, 0x82, '1090 2301')));
    const bus = new Dlt645Bus(cfg, { link, preamble: 0 });
    const value = await bus.readData(A, '9010', { protocol: 'dlt645-1997' });
    expect(decodeBcd(value, parseFormat('XXXXXX.XX'))).toBe(12345.67);
    expect(link.received).toEqual([frame1997(A, 0x01, '1090'), frame1997(A, 0x02, '1090')]);
    await bus.close();
  });

  it('a reply for another data identifier is not taken for this one (2-byte DI compared)', async () => {
    const link = new Meter1997Link(() => Buffer.concat([frame1997(A, 0x81, '2090 00000000'), frame1997(A, 0x81, '1090 99990000')]));
    const bus = new Dlt645Bus(cfg, { link, preamble: 0 });
    expect(decodeBcd(await bus.readData(A, '9010', { protocol: 'dlt645-1997' }), parseFormat('XXXXXX.XX'))).toBe(99.99);
    await bus.close();
  });
});

describe('the dlt645-1997 profile', () => {
  it('maps energies, voltages, currents, reactive power and power factors to canonical names, with 2-byte identifiers', () => {
    expect(old.protocol).toBe('dlt645-1997');
    expect(old.points.every((p) => /^[0-9A-F]{4}$/.test(p.di))).toBe(true);
    const canon = Object.fromEntries(old.points.filter((p) => p.canonical).map((p) => [p.canonical!, p.di]));
    expect(canon).toMatchObject({ energy_import: '9010', energy_export: '9020', voltage_l1: 'B611', current_l3: 'B623', reactive_power: 'B640', power_factor: 'B650' });
  });

  it('a 2007-length (4-byte) data identifier in a 1997 profile: an error naming file, line and path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlt97-'));
    const file = path.join(dir, 'my-1997.yaml');
    const text = readFileSync(path.join(builtinProfileDir(), 'dlt645-1997.yaml'), 'utf8').replace('id: dlt645-1997', 'id: my-1997').replace("di: '9020'", "di: '00020000'");
    writeFileSync(file, text);
    const line = text.split('\n').findIndex((l) => l.includes("'00020000'")) + 1;
    const { profile, issues } = loadProfileFile(file);
    expect(profile).toBeUndefined();
    expect(issues.map((i) => `${i.code} ${i.file}:${i.line} ${i.path}: ${i.message}`)).toEqual([
      `CE_CONFIG_INVALID ${file}:${line} /points/5/di: a DL/T 645-1997 data identifier is 2 bytes: expected 4 hex digits (DI1 DI0, e.g. 9010) for protocol dlt645-1997, got '00020000' (4 bytes)`,
    ]);
    // And the other way round: a 1997 identifier in a 2007 profile.
    writeFileSync(file, text.replace('protocol: dlt645-1997', 'protocol: dlt645-2007'));
    expect(loadProfileFile(file).issues[0]?.message).toMatch(/^a DL\/T 645-2007 data identifier is 4 bytes: expected 8 hex digits .* got '9010' \(2 bytes\)$/);
  });
});

const byPoint = (rs: Reading[]) => new Map(rs.map((r) => [r.point, r]));
const A = '123456789012';
const B = '000102030425';

describe.skipIf(!havePeer('socat'))('a DL/T 645-1997 and a DL/T 645-2007 meter on one pty line', () => {
  let pty: PtyPair;
  let line: SimulatedLine | undefined;
  beforeAll(async () => {
    pty = await new PtyPair().start();
  });
  afterEach(async () => {
    await line?.server.close();
    line = undefined;
  });
  afterAll(async () => {
    await pty?.dispose();
  });
  // As `carbonedge simulate --device dlt645-1997@A --device dlt645-2007@B` builds its line.
  const serve = async () => {
    line = buildLine([{ profile: 'dlt645-1997', at: A }, { profile: 'dlt645-2007', at: B }], loadBuiltinProfiles().profiles);
    await line.server.listenSerial(pty.b, { baudRate: 1200, parity: 'even' });
    expect(line.described).toEqual([`address ${A}: dlt645-1997`, `address ${B}: dlt645-2007`]);
  };

  it('the poller reads each meter in its own edition, every point good and as served', async () => {
    await serve();
    const bus = new Dlt645Bus({ id: 'line', type: 'dlt645', path: pty.a, baudRate: 1200, timeoutMs: 400 });
    try {
      const device = (address: string, profile: string) => ({ id: `m${address}`, role: 'submeter' as const, bus: 'line', address, profile, pollIntervalMs: 1000 });
      const p97 = new Dlt645Poller({ device: device(A, 'dlt645-1997'), profile: old, bus });
      const p07 = new Dlt645Poller({ device: device(B, 'dlt645-2007'), profile: modern, bus });
      const [r97, r07] = await Promise.all([p97.pollOnce(), p07.pollOnce()]);
      const want97 = meterValuesFor(old, 0);
      expect(r97.map((r) => [r.point, r.quality, r.value])).toEqual(old.points.map((p) => [p.id, 'good', want97[p.id]]));
      expect(r07.map((r) => [r.point, r.quality, r.value])).toEqual(modern.points.map((p) => [p.id, 'good', fixedMeterValues(1)[p.id]]));
      expect(byPoint(r97).get('energy_import')).toMatchObject({ value: 1206.42, unit: 'kWh', canonical: 'energy_import', source: `dlt645://${pty.a}#${A}/9010` });
      expect(byPoint(r97).get('voltage_l1')).toMatchObject({ value: 230, unit: 'V' });
      expect(byPoint(r97).get('reactive_power')).toMatchObject({ value: 1030, unit: 'var' });
      expect(line!.dlt645.map((s) => [...s.served])).toEqual([[[A, old.points.length]], [[B, modern.points.length]]]);
      expect(bus.stats).toMatchObject({ timeouts: 0, errorReplies: 0, badFrames: 0 });
    } finally {
      await bus.close();
    }
  });

  const read = (...args: string[]) => run(process.execPath, [CLI, 'read', '--profile', 'dlt645-1997', '--rtu', pty.a, ...args], { timeout: 60_000 });

  it('carbonedge read --profile dlt645-1997 --rtu PATH --baud 1200 --parity even --address 123456789012 --json', async () => {
    await serve();
    const { stdout } = await read('--baud', '1200', '--parity', 'even', '--address', A, '--json');
    const json = JSON.parse(stdout) as Record<string, { value: number | null; quality: string; source: string; unit: string | null }>;
    const want = meterValuesFor(old, 0);
    expect(Object.entries(json).map(([id, r]) => [id, r.quality, r.value])).toEqual(old.points.map((p) => [p.id, 'good', want[p.id]]));
    expect(json.energy_import).toMatchObject({ value: 1206.42, unit: 'kWh', source: `dlt645://${pty.a}#${A}/9010` });
  });

  it('without --address: exit 2, saying 1997 has no read-address command; nothing is sent', async () => {
    await serve();
    const err = await read('--baud', '2400').then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain("profile 'dlt645-1997' is a DL/T 645-1997 profile: give the meter's --address (12 digits, on its name plate); DL/T 645-1997 has no read-address command (13h)");
    expect(line!.dlt645.every((s) => s.served.size === 0)).toBe(true);
  });
});
