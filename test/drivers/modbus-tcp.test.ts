import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquisitionFeature, type AcquisitionService } from '../../runtime/acquisition/feature.js';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { ModbusExceptionError, ModbusTimeoutError } from '../../drivers/modbus/errors.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import type { Reading } from '../../runtime/types.js';
import { freePort, havePeer, waitFor } from '../helpers/peers.js';
import { PymodbusServer } from '../helpers/pymodbus.js';
import { siteConfig, testMeter, testMeterImage, testMeterValues } from './fixtures.js';
import { ACQUISITION } from '../../runtime/acquisition/feature.js';

const ok = havePeer('pymodbus');

function byPoint(readings: Reading[]): Record<string, Reading> {
  return Object.fromEntries(readings.map((r) => [r.point, r]));
}

describe.runIf(ok)('Modbus TCP against an independent pymodbus server', () => {
  let server: PymodbusServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = await new PymodbusServer({
      mode: 'tcp',
      port,
      units: { 1: testMeterImage(), 2: testMeterImage(), 3: testMeterImage() },
    }).start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('polls a device through the gateway and publishes decoded, timestamped, sourced readings', async () => {
    const config = siteConfig({ id: 'plant', type: 'tcp', host: '127.0.0.1', port }, [{ id: 'meter1', unitId: 1 }]);
    const gw = new Gateway({ config, profiles: new Map([['test-meter', testMeter]]), logger: silentLogger(), features: [acquisitionFeature] });
    const before = Date.now();
    await gw.start();
    try {
      await waitFor(() => gw.ctx.hub.latest('meter1', 'relay') !== undefined, 10000, 'first poll');
      const snap = gw.ctx.hub.snapshot();
      for (const [id, expected] of Object.entries(testMeterValues)) {
        const r = snap.get(`meter1/${id}`)!;
        expect(r, id).toBeDefined();
        expect(r.quality, `${id}: ${r.error}`).toBe('good');
        if (typeof expected === 'number') expect(r.value as number, id).toBeCloseTo(expected, 2);
        else expect(r.value, id).toBe(expected);
        expect(r.ts).toBeGreaterThanOrEqual(before);
      }
      const p = snap.get('meter1/active_power')!;
      expect(p.canonical).toBe('active_power');
      expect(p.unit).toBe('W');
      expect(p.source).toBe(`modbus-tcp://127.0.0.1:${port}#1/input/12`);
      expect(snap.get('meter1/frequency')!.source).toBe(`modbus-tcp://127.0.0.1:${port}#1/holding/10`);
      // Polling continues at the device's interval.
      const acq = gw.ctx.services.get(ACQUISITION)!;
      const poller = acq.pollers().get('meter1')!;
      await waitFor(() => poller.stats.complete >= 3, 10000, 'three complete polls');
      expect(poller.stats.failed).toBe(0);
      // Requests per cycle = the planner's blocks, not one per point.
      expect(poller.stats.requests).toBe(poller.stats.polls * poller.blocks.length);
      expect(poller.blocks.length).toBeLessThan(testMeter.points.length);
    } finally {
      await gw.stop();
    }
  });

  it('writes a point with read-back through the acquisition service', async () => {
    const config = siteConfig({ id: 'plant', type: 'tcp', host: '127.0.0.1', port }, [{ id: 'meter2', unitId: 2, pollIntervalMs: 60000 }]);
    const gw = new Gateway({ config, profiles: new Map([['test-meter', testMeter]]), logger: silentLogger(), features: [acquisitionFeature] });
    await gw.start();
    try {
      const acq = gw.ctx.services.get(ACQUISITION)!;
      const w = await acq.writePoint('meter2', 'setpoint', -250.5);
      expect(w.readBack).toBeCloseTo(-250.5, 3);
      const c = await acq.writePoint('meter2', 'relay', false);
      expect(c.readBack).toBe(false);
      const all = byPoint(await acq.readDevice('meter2'));
      expect(all.setpoint!.value).toBeCloseTo(-250.5, 3);
      expect(all.relay!.value).toBe(false);
      expect(all.voltage_l1!.value as number).toBeCloseTo(230.5, 3);
      await expect(acq.writePoint('meter2', 'voltage_l1', 1)).rejects.toThrow(/not writeable/);
      await expect(acq.writePoint('nope', 'relay', true)).rejects.toThrow(/unknown device 'nope'/);
    } finally {
      await gw.stop();
    }
  });

  it('refuses writes at the driver when the gateway is in dry-run (read-only) mode', async () => {
    const config = siteConfig({ id: 'plant', type: 'tcp', host: '127.0.0.1', port }, [{ id: 'meter3', unitId: 3, pollIntervalMs: 60000 }]);
    const gw = new Gateway({
      config,
      profiles: new Map([['test-meter', testMeter]]),
      logger: silentLogger(),
      features: [acquisitionFeature],
      options: { dryRun: true },
    });
    await gw.start();
    try {
      const acq = gw.ctx.services.get(ACQUISITION)!;
      await expect(acq.writePoint('meter3', 'setpoint', 42)).rejects.toThrow(/refused: the gateway is in dry-run/);
      const all = byPoint(await acq.readDevice('meter3'));
      expect(all.setpoint!.value).toBeCloseTo(1500.25, 3); // unchanged on the device
    } finally {
      await gw.stop();
    }
  });

  it('maps exception codes and timeouts to typed errors naming device, unit and register', async () => {
    const bus = new ModbusBus({ id: 'b', type: 'tcp', host: '127.0.0.1', port });
    try {
      const err = await bus.read(1, 'holding', 500, 2, { device: 'meter1', timeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModbusExceptionError);
      expect((err as ModbusExceptionError).code).toBe(2);
      expect((err as Error).message).toBe(`device meter1 (unit 1 on modbus-tcp://127.0.0.1:${port}) holding 500..501: exception 02 illegal data address`);
      // Unit 9 does not exist: the server stays silent (ignore_missing_slaves), so this times out.
      const t = await bus.read(9, 'input', 0, 2, { device: 'ghost', timeoutMs: 200 }).catch((e: unknown) => e);
      expect(t).toBeInstanceOf(ModbusTimeoutError);
      expect((t as Error).message).toMatch(/device ghost \(unit 9 .*\) input 0\.\.1: no reply within 200 ms/);
      // The bus keeps working after both.
      const words = (await bus.read(1, 'holding', 10, 2, { timeoutMs: 500 })) as number[];
      expect(words).toEqual([5001, 65536 - 123]);
      expect(bus.stats.timeouts).toBe(1);
    } finally {
      await bus.close();
    }
  });
});
