import type { DeviceConfig, SiteConfig, BusConfig } from '../../runtime/config/types.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { isDlt645Profile, type Dlt645Profile, type Profile } from '../../drivers/profiles/types.js';
import { at, f32Words, u32Words, type RegisterImage } from '../helpers/pymodbus.js';

/** A small meter profile covering the data types the poll path must carry end to end. */
export const testMeter: Profile = {
  id: 'test-meter',
  version: 1,
  manufacturer: 'carbonedge tests',
  model: 'inline meter',
  kind: 'meter',
  source: { document: 'test fixture' },
  limits: { maxRegistersPerRequest: 60, maxFillRegisters: 10, prohibited: [], interRequestDelayMs: 0, timeoutMs: 400 },
  points: [
    { id: 'voltage_l1', canonical: 'voltage_l1', register: 'input', address: 0, type: 'f32', unit: 'V' },
    { id: 'active_power', canonical: 'active_power', register: 'input', address: 12, type: 'f32', unit: 'W' },
    { id: 'energy_import', canonical: 'energy_import', register: 'input', address: 72, type: 'u32', scale: 0.01, unit: 'kWh' },
    { id: 'frequency', canonical: 'frequency', register: 'holding', address: 10, type: 'u16', scale: 0.01, unit: 'Hz' },
    { id: 'temperature', register: 'holding', address: 11, type: 'i16', scale: 0.1, unit: 'degC' },
    { id: 'setpoint', register: 'holding', address: 20, type: 'f32', wordOrder: 'little', unit: 'W', access: 'read-write' },
    { id: 'relay', register: 'coil', address: 3, type: 'bit', access: 'read-write' },
  ],
};

export const testMeterValues = {
  voltage_l1: 230.5,
  active_power: -1234.5,
  energy_import: 12345.67,
  frequency: 50.01,
  temperature: -12.3,
  setpoint: 1500.25,
  relay: true,
};

/** Register image matching testMeterValues (encoded by hand, not by the codec under test). */
export function testMeterImage(): RegisterImage {
  // Every register from 0 to the last point answers (filler registers read as 0), like a real meter.
  return {
    input: { ...zeros(80), ...at(0, f32Words(230.5)), ...at(12, f32Words(-1234.5)), ...at(72, u32Words(1234567)) },
    holding: { ...zeros(30), 10: 5001, 11: (-123 + 65536) & 0xffff, ...at(20, f32Words(1500.25, 'little')) },
    coil: { ...zeros(8), 3: 1 },
  };
}

export function zeros(n: number): Record<number, number> {
  return at(0, new Array<number>(n).fill(0));
}

export function siteConfig(bus: BusConfig, devices: Array<Partial<DeviceConfig> & { id: string; unitId: number }>): SiteConfig & { buses: BusConfig[]; devices: DeviceConfig[] } {
  return {
    version: 1,
    site: { id: 'test-site' },
    gateway: { id: 'test-gw' },
    buses: [bus],
    devices: devices.map((d) => ({ role: 'submeter', bus: bus.id, profile: 'test-meter', pollIntervalMs: 200, ...d })),
  };
}

/** One holding register (address 7, u16 active power): the smallest device a poller can read. */
export const oneRegister: Profile = {
  id: 'one-register',
  version: 1,
  manufacturer: 'carbonedge tests',
  model: 'one holding register',
  kind: 'meter',
  source: { document: 'test fixture' },
  limits: { maxRegistersPerRequest: 125, maxFillRegisters: 0, prohibited: [], interRequestDelayMs: 0, timeoutMs: 400 },
  points: [{ id: 'value', canonical: 'active_power', register: 'holding', address: 7, type: 'u16', unit: 'W' }],
};

/** The built-in DL/T 645-2007 meter profile. */
export function builtinDlt645Profile(id = 'dlt645-2007'): Dlt645Profile {
  const p = loadBuiltinProfiles().profiles.get(id);
  if (!p || !isDlt645Profile(p)) throw new Error(`built-in DL/T 645 profile ${id} not loaded`);
  return p;
}
