/**
 * Poll-path benchmark: points decoded per second through the whole poll path (bus queue +
 * planner + codec + readings-hub publish) on loopback Modbus TCP, against the raw modbus-serial
 * client doing the same block reads and decoding nothing. Both talk to the same modbus-serial
 * ServerTCP serving an SDM630 register image; rounds alternate so machine noise hits both.
 */
import modbusSerial from 'modbus-serial';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { fromEngineering } from '../../drivers/modbus/codec.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { planReads } from '../../drivers/modbus/planner.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile } from '../../drivers/profiles/types.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { Reading } from '../../runtime/types.js';
import { freeTcpPort } from '../free-port.js';
import { median } from './procfs.js';

const ModbusRTU = modbusSerial.default;
const { ServerTCP } = modbusSerial;

/** SDM630 image: every polled point at a plausible value, everything else 0. */
function image(profile: Profile): { input: number[]; holding: number[] } {
  const input = new Array<number>(65536).fill(0);
  const holding = new Array<number>(65536).fill(0);
  profile.points.forEach((p, i) => {
    if (p.register !== 'input' && p.register !== 'holding') return;
    if (p.type === 'string' || p.scaleFactorPoint !== undefined) return;
    let v = 100 + i;
    if (p.min !== undefined && v < p.min) v = p.min;
    if (p.max !== undefined && v > p.max) v = p.max;
    const words = fromEngineering(p, v);
    const target = p.register === 'input' ? input : holding;
    words.forEach((w, k) => (target[p.address + k] = w));
  });
  return { input, holding };
}

export async function benchPoll(opts: { cycles?: number; rounds?: number } = {}): Promise<Record<string, unknown>> {
  const cycles = opts.cycles ?? 400;
  const rounds = opts.rounds ?? 5;
  const base = modbusProfiles(loadBuiltinProfiles().profiles).get('eastron-sdm630');
  if (!base) throw new Error('profile eastron-sdm630 not found');
  // Loopback TCP: no RS-485 turnaround pause for either side.
  const profile: Profile = { ...base, limits: { ...base.limits, interRequestDelayMs: 0 } };
  const blocks = planReads(profile);
  const img = image(profile);
  const port = await freeTcpPort();
  const server = new ServerTCP(
    {
      getInputRegister: (addr: number) => img.input[addr] ?? 0,
      getHoldingRegister: (addr: number) => img.holding[addr] ?? 0,
      getMultipleInputRegisters: (addr: number, len: number) => img.input.slice(addr, addr + len),
      getMultipleHoldingRegisters: (addr: number, len: number) => img.holding.slice(addr, addr + len),
    },
    { host: '127.0.0.1', port, unitID: 1 },
  );
  await new Promise<void>((resolve) => server.on('initialized', () => resolve()));

  const hub = new ReadingsHub();
  let published = 0;
  hub.subscribe((batch: readonly Reading[]) => (published += batch.length));
  const bus = new ModbusBus({ id: 'bench', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 });
  const poller = new DevicePoller({
    device: { id: 'grid', role: 'grid_meter', bus: 'bench', unitId: 1, profile: profile.id, pollIntervalMs: 1000 },
    profile,
    bus,
    hub,
  });
  const raw = new ModbusRTU();
  raw.setTimeout(2000);
  await raw.connectTCP('127.0.0.1', { port });
  raw.setID(1);

  let pointsPerCycle = 0;
  let bad = 0;
  const ours = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const rs = await poller.pollOnce();
      pointsPerCycle = rs.length;
      for (const r of rs) if (r.quality !== 'good') bad++;
    }
  };
  const rawRead = async (n: number) => {
    for (let i = 0; i < n; i++) {
      for (const b of blocks) {
        if (b.register === 'input') await raw.readInputRegisters(b.start, b.count);
        else if (b.register === 'holding') await raw.readHoldingRegisters(b.start, b.count);
        else if (b.register === 'coil') await raw.readCoils(b.start, b.count);
        else await raw.readDiscreteInputs(b.start, b.count);
      }
    }
  };
  const time = async (fn: (n: number) => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await fn(cycles);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  try {
    await ours(30);
    await rawRead(30);
    const oursRates: number[] = [];
    const rawRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a = await time(ours);
      const b = await time(rawRead);
      oursRates.push((cycles * pointsPerCycle) / a);
      // The raw client reads the same blocks; credit it with the same points (it decodes none).
      rawRates.push((cycles * pointsPerCycle) / b);
    }
    const oursRate = median(oursRates);
    const rawRate = median(rawRates);
    const result = {
      profile: profile.id,
      points: pointsPerCycle,
      requestsPerRead: blocks.length,
      cyclesPerRound: cycles,
      rounds,
      pollPathPointsPerSec: Math.round(oursRate),
      rawClientPointsPerSec: Math.round(rawRate),
      rawOverPollPath: Number((rawRate / oursRate).toFixed(3)),
      aim: 'rawOverPollPath <= 1.2',
      badReadings: bad,
      published,
    };
    process.stdout.write(
      `poll path: ${result.pollPathPointsPerSec} points/s; raw modbus-serial client, same ${blocks.length} reads, no decoding: ` +
        `${result.rawClientPointsPerSec} points/s; ratio raw/ours ${result.rawOverPollPath} (aim <= 1.2)\n`,
    );
    return result;
  } finally {
    await bus.close();
    await new Promise<void>((r) => raw.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  }
}
