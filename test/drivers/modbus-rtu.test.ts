import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { ModbusTimeoutError } from '../../drivers/modbus/errors.js';
import { ReadingsHub } from '../../runtime/readings-hub.js';
import type { BusConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { PtyPair } from '../helpers/pty.js';
import { PymodbusServer } from '../helpers/pymodbus.js';
import { siteConfig, testMeter, testMeterImage, testMeterValues } from './fixtures.js';

const ok = havePeer('pymodbus', 'socat');

function expectTestMeter(readings: Reading[]): void {
  const by = Object.fromEntries(readings.map((r) => [r.point, r]));
  for (const [id, expected] of Object.entries(testMeterValues)) {
    const r = by[id]!;
    expect(r.quality, `${id}: ${r.error}`).toBe('good');
    if (typeof expected === 'number') expect(r.value as number, id).toBeCloseTo(expected, 2);
    else expect(r.value, id).toBe(expected);
  }
}

function poller(bus: ModbusBus, unitId: number, id = `meter${unitId}`, hub?: ReadingsHub): DevicePoller {
  const device = siteConfig(bus.cfg, [{ id, unitId }]).devices[0]!;
  return new DevicePoller({ device, profile: testMeter, bus, hub });
}

describe.runIf(ok)('Modbus RTU over a socat pty pair against pymodbus serial server', () => {
  let pty: PtyPair;
  let server: PymodbusServer;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    pty = await new PtyPair().start();
    server = await new PymodbusServer({
      mode: 'rtu',
      device: pty.b,
      baud: 9600,
      parity: 'N',
      units: { 1: testMeterImage(), 2: testMeterImage() },
      counters: { 1: { holding: [100] } },
    }).start();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  afterAll(async () => {
    await server?.stop();
    await pty?.dispose();
  });

  const rtuBus = (): ModbusBus => {
    const cfg: BusConfig = { id: 'rs485', type: 'rtu', path: pty.a, baudRate: 9600, parity: 'none', timeoutMs: 500 };
    const bus = new ModbusBus(cfg);
    cleanups.push(() => bus.close());
    return bus;
  };

  it('reads every data type of a device and names the serial source', async () => {
    const bus = rtuBus();
    const readings = await poller(bus, 1).pollOnce();
    expectTestMeter(readings);
    expect(readings.find((r) => r.point === 'active_power')!.source).toBe(`modbus-rtu://${pty.a}#1/input/12`);
    // A second unit on the same line.
    expectTestMeter(await poller(bus, 2).pollOnce());
  });

  it('never matches a late reply to a newer request (peer answers after the timeout)', async () => {
    const bus = rtuBus();
    // Register holding/100 of unit 1 counts the reads the device served: 1, 2, 3...
    const first = (await bus.read(1, 'holding', 100, 1, { timeoutMs: 500 })) as number[];
    const base = first[0]!;
    // The next request is answered 750 ms late (timeout 500 ms); the one after promptly.
    await server.control({ delayMs: { 1: 750 }, delayCount: { 1: 1 } });
    const late = await bus.read(1, 'holding', 100, 1, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(ModbusTimeoutError);
    const next = (await bus.read(1, 'holding', 100, 1, { timeoutMs: 500 })) as number[];
    // The late reply carried base+1; the answer to the newer request carries base+2.
    expect(next[0]).toBe(base + 2);
    const again = (await bus.read(1, 'holding', 100, 1, { timeoutMs: 500 })) as number[];
    expect(again[0]).toBe(base + 3);
  });
});

describe.runIf(ok)('RTU over TCP (raw RTU frames on a socket) against pymodbus', () => {
  let server: PymodbusServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = await new PymodbusServer({ mode: 'rtu-over-tcp', port, units: { 7: testMeterImage() } }).start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('reads every data type through an RTU-over-TCP bus', async () => {
    const bus = new ModbusBus({ id: 'gw', type: 'rtu-over-tcp', host: '127.0.0.1', port, timeoutMs: 1000 });
    try {
      const readings = await poller(bus, 7).pollOnce();
      expectTestMeter(readings);
      expect(readings[0]!.source).toMatch(new RegExp(`^modbus-rtu-over-tcp://127\\.0\\.0\\.1:${port}#7/`));
    } finally {
      await bus.close();
    }
  });
});

export { waitFor };
