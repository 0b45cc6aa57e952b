import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBlockResults, fromEngineering, type BlockResult } from '../../drivers/modbus/codec.js';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile } from '../../drivers/profiles/types.js';
import { DEMO_DEVICE_SPECS } from '../../tools/simulator/demo-config.js';
import { DEMO_DEVICES, type DemoDevice } from '../../tools/simulator/demo-site.js';
import type { PointValue } from '../../runtime/types.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SimulatedSite, SingleSimulatedDevice } from '../../tools/simulator/site.js';
import { havePeer, waitFor } from '../helpers/peers.js';
import { ModbusClient, type ModbusClientInstance, runPython } from './helpers.js';

const NOON = Date.UTC(2025, 5, 17, 11, 0, 0); // 12:00 CET on a Tuesday in June

/** A full read of a device with the project's planner and codec over a raw modbus-serial client. */
async function readDevice(client: ModbusClientInstance, unit: number, profile: Profile): Promise<Record<string, PointValue>> {
  client.setID(unit);
  const results: BlockResult[] = [];
  for (const block of planReads(profile)) {
    switch (block.register) {
      case 'holding':
        results.push({ block, words: (await client.readHoldingRegisters(block.start, block.count)).data });
        break;
      case 'input':
        results.push({ block, words: (await client.readInputRegisters(block.start, block.count)).data });
        break;
      case 'coil':
        results.push({ block, bits: (await client.readCoils(block.start, block.count)).data.slice(0, block.count) });
        break;
      case 'discrete':
        results.push({ block, bits: (await client.readDiscreteInputs(block.start, block.count)).data.slice(0, block.count) });
        break;
    }
  }
  const out: Record<string, PointValue> = {};
  for (const r of decodeBlockResults(profile, results, Date.now())) {
    expect(r.quality, `${profile.id}.${r.point.id}: ${r.error ?? ''}`).toBe('good');
    out[r.point.id] = r.value;
  }
  return out;
}

/** Relative closeness for values that went through f32 or integer scaling. */
function expectNear(actual: PointValue, expected: number | boolean, what: string, resolution = 0.01): void {
  if (typeof expected === 'boolean') {
    expect(actual, what).toBe(expected);
    return;
  }
  expect(typeof actual, what).toBe('number');
  // f32 precision, or half the resolution of a scaled integer
  const tol = Math.max(Math.abs(expected) * 1e-6, resolution / 2 + 1e-9);
  expect(Math.abs((actual as number) - expected), `${what}: ${String(actual)} vs ${expected}`).toBeLessThanOrEqual(tol);
}

describe('demo site served over Modbus TCP with the real profiles', () => {
  const { profiles: all, issues } = loadBuiltinProfiles();
  const profiles = modbusProfiles(all);
  let sim: SimulatedSite;
  let server: SimulatorServer;
  let client: ModbusClientInstance;

  beforeAll(async () => {
    expect(issues).toEqual([]);
    sim = new SimulatedSite({ profiles, site: { seed: 11, startMs: NOON } });
    sim.stepTo(NOON + 10 * 60_000);
    server = await SimulatorServer.start({ tcp: { port: 0 }, devices: sim.devices });
    client = new ModbusClient();
    await client.connectTCP('127.0.0.1', { port: server.tcpPort! });
    client.setTimeout(2000);
  });

  afterAll(async () => {
    await new Promise<void>((r) => (client?.isOpen ? client.close(() => r()) : r()));
    await server?.close();
  });

  it('every device reads back, through the planner and codec, as the physics values (units 1-5)', async () => {
    for (const device of DEMO_DEVICES) {
      const spec = DEMO_DEVICE_SPECS[device];
      const profile = profiles.get(spec.profile)!;
      const read = await readDevice(client, spec.unitId, profile);
      const truth = sim.site.values(device);
      const image = sim.devices.find((d) => d.unitId === spec.unitId)!.image;
      let compared = 0;
      for (const p of profile.points) {
        if (p.poll === false || !(p.id in read)) continue;
        const v = truth[p.id] ?? (p.canonical ? truth[p.canonical] : undefined);
        if (v === undefined) continue;
        const sf = p.scaleFactorPoint ? image.scaleFactor(p.scaleFactorPoint)! : 0;
        const resolution = p.type === 'f32' || p.type === 'f64' ? 0 : (p.scale ?? 1) * 10 ** sf;
        expectNear(read[p.id]!, v, `${device}.${p.id}`, resolution);
        compared++;
      }
      // the canonical points every consumer relies on are all there
      expect(read.active_power, device).toBeDefined();
      expect(compared, device).toBeGreaterThanOrEqual(device === 'load' ? 3 : 5);
    }
  });

  it('the meter balance holds across what was read: grid = loads - pv - battery', async () => {
    const get = async (d: DemoDevice) => readDevice(client, DEMO_DEVICE_SPECS[d].unitId, profiles.get(DEMO_DEVICE_SPECS[d].profile)!);
    const [grid, pv, bat, hp, load] = [await get('grid'), await get('pv'), await get('battery'), await get('heatpump'), await get('load')];
    const base = sim.site.powers().base; // the factory's own consumption has no meter of its own
    const balance = base + Number(hp.active_power) + Number(load.active_power) - Number(pv.active_power) - Number(bat.active_power);
    expect(grid.active_power).toBeCloseTo(balance, 0);
  });

  it('SunSpec header and model chain are in place', async () => {
    client.setID(2);
    const { data } = await client.readHoldingRegisters(40000, 4);
    expect(data).toEqual([0x5375, 0x6e53, 1, 66]);
    expect((await client.readHoldingRegisters(40070, 2)).data).toEqual([103, 50]);
    expect((await client.readHoldingRegisters(40122, 1)).data).toEqual([0xffff]);
  });

  it('writes reach DemoSite and change the physics', async () => {
    const before = { ...sim.site.writeCount };
    // battery: forced discharge at 6 kW (holding 100 = control_mode, then power_setpoint i32 in the profile's word order)
    client.setID(3);
    const battery = profiles.get('carbonedge-battery')!;
    const setpoint = battery.points.find((p) => p.id === 'power_setpoint')!;
    await client.writeRegisters(setpoint.address, fromEngineering(setpoint, 6000));
    await client.writeRegister(100, 3);
    // heat pump: SG-Ready state 4 (both relays on); flexible load on
    client.setID(4);
    await client.writeCoil(0, true);
    await client.writeCoil(1, true);
    client.setID(5);
    await client.writeCoil(0, true);
    expect(sim.site.writeCount.battery - before.battery).toBe(2);
    expect(sim.site.writeCount.heatpump - before.heatpump).toBe(2);
    expect(sim.site.writeCount.load - before.load).toBe(1);
    expect(sim.site.writeCount.grid).toBe(0);
    sim.stepTo(sim.site.nowMs + 60_000);
    const p = sim.site.powers();
    expect(p.battery).toBe(6000);
    expect(p.heatpump).toBeGreaterThan(7500);
    expect(p.load).toBeGreaterThan(4500);
    // read back through Modbus
    const bat = await readDevice(client, 3, profiles.get('carbonedge-battery')!);
    expect(bat).toMatchObject({ control_mode: 3, power_setpoint: 6000, active_power: 6000 });
    const hp = await readDevice(client, 4, profiles.get('carbonedge-sg-ready-heat-pump')!);
    expect(hp).toMatchObject({ sg_relay_1: true, sg_relay_2: true, sg_state: 4 });
    // a bad mode is refused with exception 03 and never reaches the physics as a value
    client.setID(3);
    const err = await client.writeRegister(100, 9).then(
      () => undefined,
      (e: { modbusCode?: number }) => e.modbusCode,
    );
    expect(err).toBe(3);
    expect(sim.site.values('battery').control_mode).toBe(3);
    // the grid meter is read-only
    client.setID(1);
    const err2 = await client.writeRegister(0, 1).then(
      () => undefined,
      (e: { modbusCode?: number }) => e.modbusCode,
    );
    expect(err2).toBe(2);
    expect(sim.site.writeCount.grid).toBe(0);
  });

  describe.runIf(havePeer('pymodbus'))('read by pymodbus', () => {
    it('SDM630 floats and SunSpec scaled integers decode to the physics values', async () => {
      const script = `
import json, struct, sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient('127.0.0.1', port=int(sys.argv[1]))
assert c.connect()
def f32(regs): return struct.unpack('>f', struct.pack('>HH', *regs))[0]
g = c.read_input_registers(0x34, 2, slave=1).registers
imp = c.read_input_registers(0x48, 4, slave=1).registers
v = c.read_input_registers(0, 2, slave=1).registers
pv = c.read_holding_registers(40084, 2, slave=2).registers
wh = c.read_holding_registers(40094, 3, slave=2).registers
soc = c.read_input_registers(2, 1, slave=3).registers
s16 = lambda x: x - 65536 if x >= 32768 else x
print(json.dumps({
  'grid_power': f32(g), 'grid_import': f32(imp[0:2]), 'grid_export': f32(imp[2:4]), 'voltage_l1': f32(v),
  'pv_power': s16(pv[0]) * 10 ** s16(pv[1]),
  'pv_energy_kwh': ((wh[0] << 16) | wh[1]) * 10 ** s16(wh[2]) / 1000,
  'soc': soc[0] / 10,
}))
c.close()
`;
      const out = JSON.parse(await runPython(script, [String(server.tcpPort)])) as Record<string, number>;
      const g = sim.site.values('grid');
      const pv = sim.site.values('pv');
      expectNear(out.grid_power!, g.active_power as number, 'grid_power');
      expectNear(out.grid_import!, g.energy_import as number, 'grid_import');
      expectNear(out.grid_export!, g.energy_export as number, 'grid_export');
      expectNear(out.voltage_l1!, g.voltage_l1 as number, 'voltage_l1');
      expect(out.pv_power).toBe(pv.active_power);
      expect(Math.abs(out.pv_energy_kwh! - (pv.energy_export as number))).toBeLessThan(0.001);
      expect(Math.abs(out.soc! - sim.site.soc())).toBeLessThanOrEqual(0.05);
    });
  });
});

describe('simulated clock', () => {
  const profiles = modbusProfiles(loadBuiltinProfiles().profiles);

  it('--speed accelerates simulated time and the images follow it', async () => {
    const sim = new SimulatedSite({ profiles, site: { seed: 1, startMs: NOON }, speed: 3600, tickMs: 20 });
    const energy0 = sim.site.values('pv').energy_export as number;
    const image = sim.devices.find((d) => d.name === 'pv')!.image;
    sim.start();
    try {
      // an hour of simulated time (one wall second at 3600x; generous bound only to avoid hangs)
      await waitFor(() => sim.site.nowMs >= NOON + 3_600_000, 30_000, 'an hour of simulated time');
    } finally {
      sim.stop();
    }
    const produced = (sim.site.values('pv').energy_export as number) - energy0;
    expect(produced).toBeGreaterThan(5); // kWh around noon in June
    expect(image.snapshot().energy_export as number).toBeCloseTo(sim.site.values('pv').energy_export as number, 2);
    const t = sim.site.nowMs;
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.site.nowMs).toBe(t); // stopped
  });
});

describe('single simulated device from a profile', () => {
  const profiles = modbusProfiles(loadBuiltinProfiles().profiles);

  it('serves static values from a file over generated ones, and generated ones for the rest', async () => {
    const dev = new SingleSimulatedDevice({
      profile: profiles.get('eastron-sdm630')!,
      unitId: 17,
      values: { voltage_l1: 239.5, energy_import: 1234.5 },
      site: { seed: 2, startMs: NOON },
    });
    const server = await SimulatorServer.start({ tcp: { port: 0 }, devices: [dev.device] });
    const client = new ModbusClient();
    try {
      await client.connectTCP('127.0.0.1', { port: server.tcpPort! });
      client.setTimeout(2000);
      const read = await readDevice(client, 17, profiles.get('eastron-sdm630')!);
      expect(read.voltage_l1).toBeCloseTo(239.5, 4);
      expect(read.energy_import).toBeCloseTo(1234.5, 2);
      expectNear(read.active_power!, dev.site!.values('grid').active_power as number, 'generated active_power');
      expect(read.frequency as number).toBeGreaterThan(49.9);
    } finally {
      await new Promise<void>((r) => (client.isOpen ? client.close(() => r()) : r()));
      await server.close();
    }
  });

  it.each(['eastron-sdm630', 'chint-dtsu666'])('a %s with generated values reads back whole and good, matching the demo grid meter', async (id) => {
    const profile = profiles.get(id)!;
    expect(profile, id).toBeDefined();
    const dev = new SingleSimulatedDevice({ profile, unitId: 1, site: { seed: 4, startMs: NOON } });
    const server = await SimulatorServer.start({ tcp: { port: 0 }, devices: [dev.device] });
    const client = new ModbusClient();
    try {
      await client.connectTCP('127.0.0.1', { port: server.tcpPort! });
      client.setTimeout(2000);
      const read = await readDevice(client, 1, profile); // every point good
      const truth = dev.site!.values('grid');
      for (const c of ['active_power', 'energy_import', 'energy_export', 'voltage_l1', 'current_l2', 'frequency']) {
        const p = profile.points.find((x) => x.canonical === c);
        if (!p) continue;
        const sf = p.scaleFactorPoint ? dev.image.scaleFactor(p.scaleFactorPoint)! : 0;
        const resolution = p.type === 'f32' || p.type === 'f64' ? 0 : Math.abs(p.scale ?? 1) * 10 ** sf;
        expectNear(read[p.id]!, truth[c] as number, `${id}.${p.id}`, resolution);
      }
    } finally {
      await new Promise<void>((r) => (client.isOpen ? client.close(() => r()) : r()));
      await server.close();
    }
  });

  it('without generation, unset points read as zero or as their not-implemented sentinel', () => {
    const dev = new SingleSimulatedDevice({ profile: profiles.get('sunspec-inverter-103')!, unitId: 1, generate: false, values: { active_power: 1500 } });
    const snap = dev.image.snapshot();
    expect(snap.active_power).toBe(1500);
    expect(snap.voltage_l1).toBeNull(); // 0xFFFF: not implemented
    expect(dev.site).toBeUndefined();
  });
});
