import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRaw, registerCount, toEngineering } from '../../drivers/modbus/codec.js';
import type { PointValue } from '../../runtime/types.js';
import type { ProfilePoint } from '../../drivers/profiles/types.js';
import { RegisterImage } from '../../tools/simulator/register-image.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { createPtyPair, type PtyPair } from '../../tools/simulator/pty.js';
import { havePeer } from '../helpers/peers.js';
import { ModbusClient, type ModbusClientInstance, runPython, testProfile } from './helpers.js';

const VALUES = {
  u16: 231.4,
  i16: -1234,
  u32_cdab: 3_000_000_000,
  i32: -20_000,
  f32_abcd: 12.5,
  f32_cdab: 12.5,
  f32_badc: 12.5,
  f32_dcba: 12.5,
  u64: 123_456_789.123,
  name: 'SIM1',
  w: 27_450,
  mode: 2,
  after_prohibited: 7,
  soc: 55.5,
  relay: false,
  alarm: true,
};

/** Decode a profile's points from a register read starting at `start`, like a poller would. */
function decodeAll(points: ProfilePoint[], start: number, words: number[]): Record<string, PointValue> {
  const out: Record<string, PointValue> = {};
  const raw = (p: ProfilePoint) => decodeRaw(p, words.slice(p.address - start, p.address - start + registerCount(p)));
  const byId = new Map(points.map((p) => [p.id, p]));
  for (const p of points) {
    if (p.register !== 'holding' || p.address < start || p.address + registerCount(p) > start + words.length) continue;
    const sf = p.scaleFactorPoint ? Number(raw(byId.get(p.scaleFactorPoint)!)) : undefined;
    out[p.id] = toEngineering(p, raw(p), sf).value;
  }
  return out;
}

const modbusCode = async (fn: () => Promise<unknown>): Promise<number | string> => {
  try {
    await fn();
    return 'no error';
  } catch (err) {
    const e = err as { modbusCode?: number; message?: string };
    return e.modbusCode ?? e.message ?? 'error';
  }
};

describe('Modbus simulator over TCP', () => {
  const profile = testProfile();
  const writes: { point: string; value: PointValue }[] = [];
  let server: SimulatorServer;
  let client: ModbusClientInstance;

  beforeAll(async () => {
    const image = new RegisterImage(profile);
    image.update(VALUES);
    const strict = new RegisterImage(profile, { strict: true });
    strict.update(VALUES);
    server = await SimulatorServer.start({
      tcp: { port: 0 },
      devices: [
        { unitId: 7, name: 'lenient', image, onWrite: (p, v) => writes.push({ point: p.id, value: v }) },
        { unitId: 9, name: 'strict', image: strict },
      ],
    });
    client = new ModbusClient();
    await client.connectTCP('127.0.0.1', { port: server.tcpPort! });
    client.setTimeout(2000);
  });

  afterAll(async () => {
    await new Promise<void>((r) => (client?.isOpen ? client.close(() => r()) : r()));
    await server?.close();
  });

  it('binds loopback on a random port (port 0), never the default 502', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.tcpPort).toBeGreaterThan(1024);
    const other = await SimulatorServer.start({ tcp: { port: 0 }, devices: [{ unitId: 1, name: 'other', image: new RegisterImage(profile) }] });
    try {
      expect(other.tcpPort).toBeGreaterThan(1024);
      expect(other.tcpPort).not.toBe(server.tcpPort);
    } finally {
      await other.close();
    }
  });

  it('serves every data type and word order at its address (raw client, codec-independent vectors)', async () => {
    client.setID(7);
    const { data } = await client.readHoldingRegisters(0, 27);
    // float32 12.5 = 0x41480000 in the four orders
    expect(data.slice(6, 14)).toEqual([0x4148, 0x0000, 0x0000, 0x4148, 0x4841, 0x0000, 0x0000, 0x4841]);
    expect(data[0]).toBe(2314); // 231.4 V at scale 0.1
    expect(data[1]).toBe(0x10000 - 1234);
    expect([data[2], data[3]]).toEqual([3_000_000_000 & 0xffff, 3_000_000_000 >>> 16]); // CDAB
    expect(Buffer.from(data.slice(18, 22).flatMap((w) => [w >> 8, w & 0xff])).toString('latin1')).toBe('SIM1\0\0\0\0');
    expect(data.slice(22, 24)).toEqual([0, 0]); // filler registers within maxFill
    expect(data[25]).toBe(0); // W_SF chosen for W: 27 450 fits an i16 at 10^0
    const decoded = decodeAll(profile.points, 0, data);
    for (const [id, v] of Object.entries(VALUES)) {
      if (id in decoded) expect(decoded[id], id).toBe(v);
    }
    const input = await client.readInputRegisters(0, 1);
    expect(input.data).toEqual([555]);
    const coils = await client.readCoils(0, 1);
    expect(coils.data[0]).toBe(false);
    const di = await client.readDiscreteInputs(3, 1);
    expect(di.data[0]).toBe(true);
  });

  it('answers exception 02 for unimplemented and prohibited addresses, 0B for an unknown unit', async () => {
    client.setID(7);
    expect(await modbusCode(() => client.readHoldingRegisters(28, 5))).toBe(2); // crosses prohibited 30-31
    expect(await modbusCode(() => client.readHoldingRegisters(33, 1))).toBe(2); // beyond maxFill
    expect(await modbusCode(() => client.readInputRegisters(1, 1))).toBe(2);
    expect((await client.readHoldingRegisters(100, 1)).data).toEqual([0xffff]); // no value: its sentinel
    client.setID(9);
    expect(await modbusCode(() => client.readHoldingRegisters(20, 4))).toBe(2); // strict: fillers are not implemented
    expect((await client.readHoldingRegisters(24, 3)).data).toEqual([27_450, 0, 2]);
    client.setID(42);
    expect(await modbusCode(() => client.readHoldingRegisters(0, 1))).toBe(0x0b);
    expect(server.stats.exceptions.get(42)).toBe(1);
  });

  it('decodes writes into engineering values and refuses read-only points and bad values', async () => {
    client.setID(7);
    writes.length = 0;
    const i32 = (v: number) => [(v >>> 16) & 0xffff, v & 0xffff];
    await client.writeRegisters(4, i32(-31_000));
    expect(writes).toEqual([{ point: 'i32', value: -31_000 }]);
    expect((await client.readHoldingRegisters(4, 2)).data).toEqual(i32(-31_000));
    await client.writeRegister(26, 4);
    expect(writes.at(-1)).toEqual({ point: 'mode', value: 4 });
    expect(await modbusCode(() => client.writeRegister(26, 9))).toBe(3); // above max 4
    expect(await modbusCode(() => client.writeRegisters(4, i32(60_000)))).toBe(3);
    expect(await modbusCode(() => client.writeRegister(0, 1))).toBe(2); // read-only point
    expect(await modbusCode(() => client.writeRegister(22, 1))).toBe(2); // filler
    expect((await client.readHoldingRegisters(26, 1)).data).toEqual([4]); // refused writes changed nothing
    await client.writeCoil(0, true);
    expect(writes.at(-1)).toEqual({ point: 'relay', value: true });
    expect((await client.readCoils(0, 1)).data[0]).toBe(true);
    expect(writes).toHaveLength(3);
  });

  describe.runIf(havePeer('pymodbus'))('read by pymodbus (independent client)', () => {
    it('decodes to the expected engineering values', async () => {
      const script = `
import json, struct, sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient('127.0.0.1', port=int(sys.argv[1]))
assert c.connect()
r = c.read_holding_registers(0, 27, slave=7).registers
def b(ws): return b''.join(struct.pack('>H', w) for w in ws)
out = {
  'u16': r[0] * 0.1,
  'i16': struct.unpack('>h', b(r[1:2]))[0],
  'u32_cdab': struct.unpack('>I', b([r[3], r[2]]))[0],
  'i32': struct.unpack('>i', b(r[4:6]))[0],
  'f32_abcd': struct.unpack('>f', b(r[6:8]))[0],
  'f32_cdab': struct.unpack('>f', b([r[9], r[8]]))[0],
  'f32_badc': struct.unpack('<f', b([r[11], r[10]]))[0],
  'f32_dcba': struct.unpack('<f', b(r[12:14]))[0],
  'u64': struct.unpack('>Q', b(r[14:18]))[0] / 1000,
  'name': b(r[18:22]).rstrip(b'\\0').decode('latin1'),
  'w': struct.unpack('>h', b(r[24:25]))[0] * 10 ** struct.unpack('>h', b(r[25:26]))[0],
  'soc': c.read_input_registers(0, 1, slave=7).registers[0] / 10,
  'alarm': c.read_discrete_inputs(3, 1, slave=7).bits[0],
}
e = c.read_holding_registers(30, 1, slave=7)
out['exception'] = getattr(e, 'exception_code', None)
c.close()
print(json.dumps(out))
`;
      const out = JSON.parse(await runPython(script, [String(server.tcpPort)])) as Record<string, number | string | boolean>;
      expect(out.u16).toBeCloseTo(231.4, 6);
      expect(out.i16).toBe(-1234);
      expect(out.u32_cdab).toBe(3_000_000_000);
      expect(out.i32).toBe(-31_000); // written by the previous test
      for (const k of ['f32_abcd', 'f32_cdab', 'f32_badc', 'f32_dcba']) expect(out[k], k).toBe(12.5);
      expect(out.u64).toBeCloseTo(123_456_789.123, 3);
      expect(out.name).toBe('SIM1');
      expect(out.w).toBe(27_450);
      expect(out.soc).toBe(55.5);
      expect(out.alarm).toBe(true);
      expect(out.exception).toBe(2);
    });
  });
});

describe.runIf(havePeer('socat'))('Modbus simulator over RTU on a pty pair', () => {
  const profile = testProfile();
  let pty: PtyPair;
  let server: SimulatorServer;
  let client: ModbusClientInstance;
  const writes: string[] = [];

  beforeAll(async () => {
    pty = await createPtyPair();
    const image = new RegisterImage(profile);
    image.update(VALUES);
    server = await SimulatorServer.start({
      rtu: { path: pty.serverPath, baudRate: 9600 },
      devices: [{ unitId: 3, name: 'rtu-device', image, onWrite: (p, v) => writes.push(`${p.id}=${String(v)}`) }],
    });
    client = new ModbusClient();
    await client.connectRTUBuffered(pty.clientPath, { baudRate: 9600 });
    client.setTimeout(1000);
  });

  afterAll(async () => {
    await new Promise<void>((r) => (client?.isOpen ? client.close(() => r()) : r()));
    await server?.close();
    await pty?.close();
  });

  it('answers reads and writes for its unit id', async () => {
    expect(server.rtuPath).toBe(pty.serverPath);
    client.setID(3);
    const { data } = await client.readHoldingRegisters(0, 14);
    const decoded = decodeAll(profile.points, 0, data);
    expect(decoded).toMatchObject({ u16: 231.4, i16: -1234, u32_cdab: 3_000_000_000, i32: -20_000, f32_abcd: 12.5, f32_dcba: 12.5 });
    await client.writeRegister(26, 1);
    expect(writes).toEqual(['mode=1']);
    expect(await modbusCode(() => client.readHoldingRegisters(33, 1))).toBe(2);
  });

  it('stays silent for another unit id, as a device on a shared bus does', async () => {
    client.setID(4);
    const res = await modbusCode(() => client.readHoldingRegisters(0, 1));
    expect(String(res)).toMatch(/timed out/i);
    expect(server.stats.requests.has(4)).toBe(false);
    // and the link still works afterwards
    client.setID(3);
    expect((await client.readHoldingRegisters(26, 1)).data).toEqual([1]);
  });
});
