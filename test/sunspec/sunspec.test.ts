/**
 * SunSpec discovery, generic decoding and the model check against an independent Modbus peer
 * (pymodbus) serving model chains built by hand from the SunSpec model definitions.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles } from '../../drivers/profiles/types.js';
import { discoverSunSpec } from '../../drivers/sunspec/discover.js';
import { sunspecProfile } from '../../drivers/sunspec/profile.js';
import type { DeviceConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';
import { freePort, havePeer } from '../helpers/peers.js';
import { PymodbusServer } from '../helpers/pymodbus.js';
import { battery802, chainImage, common, inverter103, inverter113, meter203 } from './chain-image.js';

const ok = havePeer('pymodbus');
const profiles = modbusProfiles(loadBuiltinProfiles().profiles);
const byPoint = (readings: Reading[]) => new Map(readings.map((r) => [r.point, r]));
const value = (readings: Reading[], point: string) => {
  const r = byPoint(readings).get(point);
  return r && { value: r.value, quality: r.quality, canonical: r.canonical };
};

describe('the shipped sunspec profile', () => {
  it('lists exactly the points discovery generates for a device with only the common model at 40000', () => {
    const stub = profiles.get('sunspec')!;
    const generated = sunspecProfile(stub, { base: 40000, models: [{ id: 1, address: 40002, length: 66 }] });
    const shape = (ps: typeof stub.points) => ps.filter((p) => p.poll !== false).map(({ id, address, type, length, sentinels }) => ({ id, address, type, length, sentinels }));
    expect(shape(generated.points)).toEqual(shape(stub.points));
  });
});

describe.runIf(ok)('SunSpec against pymodbus', () => {
  let server: PymodbusServer;
  let bus: ModbusBus;
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });

  beforeAll(async () => {
    const port = await freePort();
    const full = [common('Acme Power', 'Hybrid-10', '2.0.1', 'ACM0001'), inverter103, meter203, battery802];
    server = await new PymodbusServer({
      mode: 'tcp',
      port,
      units: {
        1: { holding: chainImage(40000, full) },
        2: { holding: chainImage(0, [common('Base Zero', 'BZ-1', '1.0', 'BZ1'), inverter103]) },
        3: { holding: chainImage(50000, [common('Base Fifty', 'BF-1', '1.0', 'BF1'), inverter103]) },
        4: { holding: chainImage(40000, [common('Float Inc', 'F-113', '3.1', 'F113'), inverter113]) },
        5: { holding: { 40000: 0, 40001: 0, 0: 1, 1: 2 } },
      },
    }).start();
    bus = new ModbusBus({ id: 'sunspec', type: 'tcp', host: '127.0.0.1', port, timeoutMs: 2000 });
  });

  afterAll(async () => {
    await bus?.close();
    await server?.stop();
  });

  const poller = (unitId: number, profile: string) => {
    const device: DeviceConfig = { id: `dev${unitId}-${profile}`, role: 'other', bus: bus.id, unitId, profile, pollIntervalMs: 1000 };
    return new DevicePoller({ device, profile: profiles.get(profile)!, bus, logger });
  };

  it('discovers common + inverter 103 + meter 203 + battery 802 at 40000 and decodes them with scale factors and sentinels', async () => {
    const p = poller(1, 'sunspec');
    const r = await p.pollOnce();
    expect(p.profile.kind).toBe('pv_inverter');
    expect(value(r, 'manufacturer')).toEqual({ value: 'Acme Power', quality: 'good', canonical: undefined });
    expect(value(r, 'serial_number')?.value).toBe('ACM0001');
    // inverter 103: integer + scale factors (negative and positive), canonical names and units
    expect(value(r, 'current_l1')).toEqual({ value: 14.5, quality: 'good', canonical: 'current_l1' });
    expect(value(r, 'voltage_l1')).toEqual({ value: 230.5, quality: 'good', canonical: 'voltage_l1' });
    expect(value(r, 'active_power')).toEqual({ value: 9870, quality: 'good', canonical: 'active_power' });
    expect(value(r, 'frequency')).toEqual({ value: 50.01, quality: 'good', canonical: 'frequency' });
    expect(value(r, 'reactive_power')).toEqual({ value: -100, quality: 'good', canonical: 'reactive_power' });
    expect(value(r, 'power_factor')).toEqual({ value: 0.985, quality: 'good', canonical: 'power_factor' });
    expect(value(r, 'energy_export')).toEqual({ value: 12345.678, quality: 'good', canonical: 'energy_export' });
    expect(value(r, 'temperature')).toEqual({ value: 45.2, quality: 'good', canonical: 'temperature' });
    // not-implemented sentinels are bad quality, never values
    expect(value(r, 'apparent_power')).toMatchObject({ value: null, quality: 'out-of-range' });
    expect(value(r, 'dc_power')).toMatchObject({ value: null, quality: 'out-of-range' });
    // meter 203: names the inverter already took stay model-prefixed; energy_import is the meter's
    expect(value(r, 'm203_w')).toEqual({ value: -1500, quality: 'good', canonical: undefined });
    expect(value(r, 'energy_import')).toEqual({ value: 500, quality: 'good', canonical: 'energy_import' });
    expect(value(r, 'm203_totwhexp')).toMatchObject({ value: null, quality: 'out-of-range' });
    expect(value(r, 'm203_phvpha')).toMatchObject({ value: null, quality: 'out-of-range' });
    // battery 802
    expect(value(r, 'soc')).toEqual({ value: 81.5, quality: 'good', canonical: 'soc' });
    expect(value(r, 'soh')).toMatchObject({ value: null, quality: 'out-of-range', canonical: 'soh' });
    expect(value(r, 'm802_w')).toMatchObject({ value: -2500, quality: 'good' });
    // scale-factor registers are helpers, not readings
    expect(byPoint(r).has('m103_w_sf')).toBe(false);
    const found = logs.find((l) => l.msg === 'SunSpec device discovered' && l.device === 'dev1-sunspec');
    expect(found).toMatchObject({ base: 40000, models: [1, 103, 203, 802], manufacturer: 'Acme Power', model: 'Hybrid-10', serial: 'ACM0001', version: '2.0.1' });
    // discovery happens once; the next poll only reads the planned blocks
    const probes = p.stats.probes;
    await p.pollOnce();
    expect(p.stats.probes).toBe(probes);
    expect(p.stats.complete).toBe(2);
  });

  it.each([
    [2, 0, 'Base Zero'],
    [3, 50000, 'Base Fifty'],
  ])('unit %i: discovers the chain at base %i', async (unit, base, manufacturer) => {
    const read = async (address: number, count: number) => (await bus.read(unit, 'holding', address, count, { timeoutMs: 2000 })) as number[];
    const chain = await discoverSunSpec(read);
    expect(chain.base).toBe(base);
    expect(chain.models).toEqual([{ id: 1, address: base + 2, length: 66 }, { id: 103, address: base + 70, length: 50 }]);
    const r = await poller(unit, 'sunspec').pollOnce();
    expect(value(r, 'manufacturer')?.value).toBe(manufacturer);
    expect(value(r, 'active_power')).toEqual({ value: 9870, quality: 'good', canonical: 'active_power' });
  });

  it('decodes float model 113 generically (NaN sentinel is bad quality)', async () => {
    const r = await poller(4, 'sunspec').pollOnce();
    expect(value(r, 'active_power')).toEqual({ value: 9870.5, quality: 'good', canonical: 'active_power' });
    expect(value(r, 'energy_export')).toEqual({ value: 1234.567, quality: 'good', canonical: 'energy_export' });
    expect(value(r, 'voltage_l1')).toMatchObject({ value: null, quality: 'out-of-range' });
  });

  it('marks every value of a model-113 device read by the fixed model-103 profile bad, naming expected and found model', async () => {
    const p = poller(4, 'sunspec-inverter-103');
    const r = await p.pollOnce();
    expect(r.length).toBeGreaterThan(10);
    for (const x of r) {
      expect(x.quality, x.point).toBe('comm-error');
      expect(x.value, x.point).toBeNull();
      expect(x.error).toMatch(/expected SunSpec inverter model 103 \(length 50\) \(103 50\) at holding 40070, found 113 60/);
    }
    expect(logs.some((l) => l.device === 'dev4-sunspec-inverter-103' && l.level === 50 && String(l.problem).includes('found 113 60'))).toBe(true);
    // the same profile reads a real model-103 device as good
    const good = await poller(1, 'sunspec-inverter-103').pollOnce();
    expect(value(good, 'active_power')).toEqual({ value: 9870, quality: 'good', canonical: 'active_power' });
  });

  it('discovers again after the device was unreachable', async () => {
    const device: DeviceConfig = { id: 'dev2-reconnect', role: 'other', bus: bus.id, unitId: 2, profile: 'sunspec', pollIntervalMs: 1000, timeoutMs: 300 };
    const p = new DevicePoller({ device, profile: profiles.get('sunspec')!, bus, logger });
    await p.pollOnce();
    const afterFirst = p.stats.probes;
    await p.pollOnce();
    expect(p.stats.probes).toBe(afterFirst); // no discovery while the device answers
    await server.control({ silent: [2] });
    try {
      const down = await p.pollOnce();
      expect(down.every((x) => x.quality === 'comm-error')).toBe(true);
    } finally {
      await server.control({ silent: [] });
    }
    const back = await p.pollOnce();
    expect(p.stats.probes).toBeGreaterThan(afterFirst); // discovered again
    expect(value(back, 'active_power')).toEqual({ value: 9870, quality: 'good', canonical: 'active_power' });
  });

  it('reports a device without the SunS marker: every point bad, the bases named', async () => {
    const r = await poller(5, 'sunspec').pollOnce();
    expect(r.length).toBeGreaterThan(0);
    for (const x of r) {
      expect(x.quality).toBe('comm-error');
      expect(x.error).toMatch(/no SunSpec marker "SunS" \(0x5375 0x6E53\) at holding 40000, 0, 50000/);
    }
  });
});
