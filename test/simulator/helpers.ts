import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { PEERS } from '../helpers/peers.js';
import type { Profile } from '../../drivers/profiles/types.js';

const require = createRequire(import.meta.url);
/** The raw modbus-serial client (CommonJS: module.exports is the class). */
export const ModbusClient = require('modbus-serial') as typeof import('modbus-serial').default;
export type ModbusClientInstance = InstanceType<typeof ModbusClient>;

/** A profile exercising every data type and word order the simulator must encode. */
export function testProfile(): Profile {
  return {
    id: 'sim-test',
    version: 1,
    manufacturer: 'carbonedge',
    model: 'simulator test map',
    kind: 'meter',
    source: { document: 'test' },
    limits: { maxRegistersPerRequest: 125, maxFillRegisters: 4, prohibited: [{ register: 'holding', start: 30, end: 31 }], interRequestDelayMs: 0, timeoutMs: 1000 },
    points: [
      { id: 'u16', register: 'holding', address: 0, type: 'u16', unit: 'V', scale: 0.1, canonical: 'voltage_l1' },
      { id: 'i16', register: 'holding', address: 1, type: 'i16', unit: 'W' },
      { id: 'u32_cdab', register: 'holding', address: 2, type: 'u32', wordOrder: 'little', unit: 'Wh' },
      { id: 'i32', register: 'holding', address: 4, type: 'i32', unit: 'W', access: 'read-write', min: -50_000, max: 50_000 },
      { id: 'f32_abcd', register: 'holding', address: 6, type: 'f32', unit: 'Hz' },
      { id: 'f32_cdab', register: 'holding', address: 8, type: 'f32', wordOrder: 'little', unit: 'A' },
      { id: 'f32_badc', register: 'holding', address: 10, type: 'f32', byteOrder: 'little', unit: 'A' },
      { id: 'f32_dcba', register: 'holding', address: 12, type: 'f32', wordOrder: 'little', byteOrder: 'little', unit: 'A' },
      { id: 'u64', register: 'holding', address: 14, type: 'u64', unit: 'Wh', scale: 0.001 },
      { id: 'name', register: 'holding', address: 18, type: 'string', length: 4 },
      // a gap of 2 registers (22-23): within maxFill, implemented as filler
      { id: 'w', register: 'holding', address: 24, type: 'i16', unit: 'W', scaleFactorPoint: 'w_sf' },
      { id: 'w_sf', register: 'holding', address: 25, type: 'i16', poll: false },
      { id: 'mode', register: 'holding', address: 26, type: 'u16', access: 'read-write', min: 0, max: 4 },
      // 27-29 filler, 30-31 prohibited, then a point
      { id: 'after_prohibited', register: 'holding', address: 32, type: 'u16' },
      // far away: the gap 33..99 is beyond maxFill
      { id: 'far', register: 'holding', address: 100, type: 'u16', sentinels: [0xffff] },
      { id: 'soc', register: 'input', address: 0, type: 'u16', unit: '%', scale: 0.1 },
      { id: 'relay', register: 'coil', address: 0, type: 'bit', access: 'read-write' },
      { id: 'alarm', register: 'discrete', address: 3, type: 'bit' },
    ],
  };
}

/** Run a Python script with the Debian python (pymodbus); resolves stdout. */
export function runPython(script: string, args: string[] = [], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PEERS.python, ['-c', script, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
