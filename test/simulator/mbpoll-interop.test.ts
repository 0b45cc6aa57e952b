/**
 * Independent peer: mbpoll (libmodbus, a C implementation that shares no code with modbus-serial
 * or our codec) reads and writes the project's simulator over Modbus TCP and over Modbus RTU on a
 * socat pty pair. Values mbpoll decodes must equal the values the simulator was given, and what
 * our own poll path (planner + bus + codec) reads from the same image.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile, type ProfilePoint } from '../../drivers/profiles/types.js';
import type { BusConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { createPtyPair, type PtyPair } from '../../tools/simulator/pty.js';
import { SimulatorServer } from '../../tools/simulator/server.js';
import { SingleSimulatedDevice } from '../../tools/simulator/site.js';
import { havePeer, PEERS } from '../helpers/peers.js';

const ok = havePeer('mbpoll', 'socat');

const profiles = modbusProfiles(loadBuiltinProfiles().profiles);
const profile = (id: string): Profile => {
  const p = profiles.get(id);
  if (!p) throw new Error(`built-in profile ${id} missing`);
  return p;
};

/** Run mbpoll once (-1) with zero-based references (-0); returns reference -> value text. */
function mbpoll(args: string[]): Promise<Map<number, string>> {
  return new Promise((resolve, reject) => {
    execFile(PEERS.mbpoll, ['-1', '-0', '-o', '2', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`mbpoll ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
        return;
      }
      const out = new Map<number, string>();
      for (const m of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) out.set(Number(m[1]), m[2]!);
      resolve(out);
    });
  });
}

/** Runs of consecutive float32 points (address step 2) of one register type, for one mbpoll call each. */
function f32Runs(points: ProfilePoint[]): ProfilePoint[][] {
  const sorted = points.filter((p) => p.type === 'f32' && p.wordOrder !== 'little' && p.byteOrder !== 'little').sort((a, b) => a.address - b.address);
  const runs: ProfilePoint[][] = [];
  for (const p of sorted) {
    const last = runs[runs.length - 1];
    if (last && p.address === last[last.length - 1]!.address + 2 && last.length < 60) last.push(p);
    else runs.push([p]);
  }
  return runs;
}

/** A distinct, exactly representable-in-float32-ish value per SDM630 point, inside its min/max. */
function sdmValues(p: Profile): Record<string, number> {
  const out: Record<string, number> = {};
  p.points.forEach((q, i) => {
    if (q.type !== 'f32') return;
    let v = 100 + i * 7.25;
    if (q.max !== undefined && v > q.max) v = q.max - 0.125;
    if (q.min !== undefined && v < q.min) v = q.min + 0.125;
    out[q.id] = v;
  });
  out.voltage_l1 = 230.5;
  out.active_power = -1234.5; // export: a negative float32
  out.power_factor = 0.875;
  out.frequency = 50.125;
  return out;
}

const byPoint = (rs: Reading[]) => new Map(rs.map((r) => [r.point, r]));

describe.runIf(ok)('mbpoll (libmodbus) against the carbonedge simulator', () => {
  const sdm = profile('eastron-sdm630');
  const battery = profile('carbonedge-battery');
  const heatpump = profile('carbonedge-sg-ready-heat-pump');
  const sdmSet = sdmValues(sdm);
  const batterySet = { active_power: -2750, soc: 61.5, energy_import: 1234.56, control_mode: 0, power_setpoint: 0, reserve_soc: 20 };
  const heatpumpSet = { sg_relay_1: false, sg_relay_2: true, active_power: 1800 };
  let server: SimulatorServer;
  let pty: PtyPair;
  let port: number;
  let tcpBus: ModbusBus;

  beforeAll(async () => {
    pty = await createPtyPair();
    const devices = [
      new SingleSimulatedDevice({ profile: sdm, unitId: 1, values: sdmSet, generate: false }),
      new SingleSimulatedDevice({ profile: battery, unitId: 3, values: batterySet, generate: false }),
      new SingleSimulatedDevice({ profile: heatpump, unitId: 4, values: heatpumpSet, generate: false }),
    ];
    server = await SimulatorServer.start({
      devices: devices.map((d) => d.device),
      tcp: { port: 0 },
      rtu: { path: pty.serverPath, baudRate: 19200, parity: 'even' },
    });
    port = server.tcpPort!;
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(502);
    tcpBus = new ModbusBus({ id: 'tcp', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 });
  });

  afterAll(async () => {
    await tcpBus?.close();
    await server?.close();
    await pty?.close();
  });

  const ours = async (bus: ModbusBus, p: Profile, unitId: number) => {
    const device = { id: p.id, role: 'other' as const, bus: bus.id, unitId, profile: p.id, pollIntervalMs: 1000 };
    return byPoint(await new DevicePoller({ device, profile: p, bus }).pollOnce());
  };

  it('TCP: every SDM630 float32 (ABCD) mbpoll reads equals the value served and our poll path', async () => {
    const mine = await ours(tcpBus, sdm, 1);
    const runs = f32Runs(sdm.points.filter((p) => p.register === 'input'));
    let compared = 0;
    for (const run of runs) {
      const got = await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '1', '-t', '3:float', '-B', '-r', String(run[0]!.address), '-c', String(run.length), '127.0.0.1']);
      for (const p of run) {
        const text = got.get(p.address);
        expect(text, `${p.id}: mbpoll printed no value for reference ${p.address}`).toBeDefined();
        const theirs = Number(text);
        const want = sdmSet[p.id]!;
        // mbpoll prints %g (6 significant digits).
        expect(Math.abs(theirs - want), `${p.id}: mbpoll ${text} vs served ${want}`).toBeLessThanOrEqual(Math.abs(want) * 1e-5 + 1e-9);
        const r = mine.get(p.id)!;
        expect(r.quality, `${p.id}: ${r.error}`).toBe('good');
        expect(Math.abs((r.value as number) - theirs), `${p.id}: ours ${String(r.value)} vs mbpoll ${text}`).toBeLessThanOrEqual(Math.abs(want) * 1e-5 + 1e-9);
        compared++;
      }
    }
    expect(compared).toBe(sdm.points.filter((p) => p.register === 'input' && p.type === 'f32').length);
    expect(compared).toBeGreaterThanOrEqual(20);
  });

  it('TCP: CDAB integers, scaled u16 and coils read by mbpoll equal the served values', async () => {
    // mbpoll's default 32-bit word order is low word first: the battery map's CDAB.
    const power = await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '3:int', '-r', '0', '-c', '1', '127.0.0.1']);
    expect(Number(power.get(0))).toBe(-2750);
    const soc = await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '3', '-r', '2', '-c', '1', '127.0.0.1']);
    expect(Number(soc.get(2))).toBe(615); // raw, scale 0.1
    const energy = await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '3:int', '-r', '4', '-c', '1', '127.0.0.1']);
    expect(Number(energy.get(4))).toBe(123456); // raw, scale 0.01
    const coils = await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '4', '-t', '0', '-r', '0', '-c', '2', '127.0.0.1']);
    expect([coils.get(0), coils.get(1)]).toEqual(['0', '1']);
    const mine = await ours(tcpBus, battery, 3);
    expect(mine.get('active_power')!.value).toBe(-2750);
    expect(mine.get('soc')!.value).toBe(61.5);
    expect(mine.get('energy_import')!.value).toBe(1234.56);
    const hp = await ours(tcpBus, heatpump, 4);
    expect(hp.get('sg_relay_1')!.value).toBe(false);
    expect(hp.get('sg_relay_2')!.value).toBe(true);
  });

  it('TCP: values mbpoll writes (FC06/FC16, FC05) are what our poll path reads back', async () => {
    await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '4', '-r', '100', '127.0.0.1', '2']);
    await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '4:int', '-r', '101', '127.0.0.1', '3500']);
    await mbpoll(['-m', 'tcp', '-p', String(port), '-a', '4', '-t', '0', '-r', '0', '127.0.0.1', '1']);
    const mine = await ours(tcpBus, battery, 3);
    expect(mine.get('control_mode')!.value).toBe(2);
    expect(mine.get('power_setpoint')!.value).toBe(3500);
    const hp = await ours(tcpBus, heatpump, 4);
    expect(hp.get('sg_relay_1')!.value).toBe(true);
    // The simulator refuses a value outside the profile's range (exception 03): mbpoll sees an error.
    await expect(mbpoll(['-m', 'tcp', '-p', String(port), '-a', '3', '-t', '4', '-r', '100', '127.0.0.1', '9'])).rejects.toThrow(/mbpoll .* failed/);
    expect((await ours(tcpBus, battery, 3)).get('control_mode')!.value).toBe(2);
  });

  it('RTU on a pty (19200 8E1): mbpoll reads the same SDM630 floats and CDAB integers as our poll path', async () => {
    const rtu = ['-m', 'rtu', '-b', '19200', '-P', 'even', '-d', '8', '-s', '1'];
    const run = f32Runs(sdm.points.filter((p) => p.register === 'input'))[0]!;
    expect(run.length).toBeGreaterThanOrEqual(6);
    const got = await mbpoll([...rtu, '-a', '1', '-t', '3:float', '-B', '-r', String(run[0]!.address), '-c', String(run.length), pty.clientPath]);
    // Our side opens the same pty end only while mbpoll is not running (one master on the line).
    const rtuCfg: BusConfig = { id: 'rtu', type: 'rtu', path: pty.clientPath, baudRate: 19200, parity: 'even', timeoutMs: 2000 };
    const rtuBus = new ModbusBus(rtuCfg);
    let mine: Map<string, Reading>;
    try {
      mine = await ours(rtuBus, sdm, 1);
    } finally {
      await rtuBus.close();
    }
    for (const p of run) {
      const theirs = Number(got.get(p.address));
      expect(Math.abs(theirs - sdmSet[p.id]!), p.id).toBeLessThanOrEqual(Math.abs(sdmSet[p.id]!) * 1e-5);
      expect(Math.abs((mine.get(p.id)!.value as number) - theirs), p.id).toBeLessThanOrEqual(Math.abs(sdmSet[p.id]!) * 1e-5);
    }
    const power = await mbpoll([...rtu, '-a', '3', '-t', '3:int', '-r', '0', '-c', '1', pty.clientPath]);
    expect(Number(power.get(0))).toBe(-2750);
  });
});
