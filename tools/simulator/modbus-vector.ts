/**
 * The Modbus service vector of the simulators: requests routed by unit id to each device's
 * register image, writes checked by the device, every request counted. In modbus-serial's
 * callback style (its ServerTCP / ServerSerial call it), also driven by the mixed-line server
 * (./line-server.ts). A request for an unknown unit stays unanswered on RTU (the callback is never
 * called), as on a real bus; over TCP it gets exception 0B, as a gateway answers.
 */
import type { Logger } from '../../runtime/logger.js';
import type { PointValue } from '../../runtime/types.js';
import type { ProfilePoint } from '../../drivers/profiles/types.js';
import { MODBUS_EXCEPTION, ModbusException, type RegisterImage } from './register-image.js';

/** One device on the simulated bus. */
export interface SimulatedDevice {
  unitId: number;
  /** Name for logs (device id or profile id). */
  name: string;
  image: RegisterImage;
  /** The profile's `sharesUnit` group: devices of one group may answer on one unit id (one server, several logical devices). */
  sharesUnit?: string;
  /**
   * Called for every point a write touched, before the image changes; throw to refuse the write
   * (the client gets exception 03, or the exception's own code).
   */
  onWrite?(point: ProfilePoint, value: PointValue): void;
}

export interface SimulatorStats {
  /** Register reads and writes answered (including exception replies), by unit id. */
  requests: Map<number, number>;
  /** Exception replies, by unit id. */
  exceptions: Map<number, number>;
  /** Write requests received (FC05/06/15/16), by unit id, answered or not. */
  writes: Map<number, number>;
}

export type Cb<T> = (err: Error | null, value?: T) => void;

/** modbus-serial's server vector (the methods it calls, in its callback style). */
export interface ModbusVector {
  getCoil(addr: number, unitID: number, cb: Cb<boolean>): void;
  getDiscreteInput(addr: number, unitID: number, cb: Cb<boolean>): void;
  getInputRegister(addr: number, unitID: number, cb: Cb<number>): void;
  getHoldingRegister(addr: number, unitID: number, cb: Cb<number>): void;
  getMultipleInputRegisters(addr: number, length: number, unitID: number, cb: Cb<number[]>): void;
  getMultipleHoldingRegisters(addr: number, length: number, unitID: number, cb: Cb<number[]>): void;
  setCoil(addr: number, value: boolean, unitID: number, cb: Cb<void>): void;
  setRegister(addr: number, value: number, unitID: number, cb: Cb<void>): void;
  setRegisterArray(addr: number, values: number[], unitID: number, cb: Cb<void>): void;
}

/**
 * The devices by unit id. Several at one unit only when they name the same `sharesUnit` group (a
 * Huawei SUN2000 answering for its meter and battery): a request goes to the first whose image
 * implements it. Throws for a unit id used twice otherwise.
 */
export function devicesByUnit(list: readonly SimulatedDevice[]): Map<number, SimulatedDevice[]> {
  const units = new Map<number, SimulatedDevice[]>();
  for (const d of list) {
    const here = units.get(d.unitId) ?? [];
    const other = here.find((o) => d.sharesUnit === undefined || o.sharesUnit !== d.sharesUnit);
    if (other) throw new RangeError(`unit id ${d.unitId} is used twice (${other.name}, ${d.name})`);
    units.set(d.unitId, [...here, d]);
  }
  return units;
}

export function emptyStats(): SimulatorStats {
  return { requests: new Map(), exceptions: new Map(), writes: new Map() };
}

function count(map: Map<number, number>, unit: number): void {
  map.set(unit, (map.get(unit) ?? 0) + 1);
}

export function modbusVector(opts: {
  devices: ReadonlyMap<number, readonly SimulatedDevice[]>;
  stats: SimulatorStats;
  log: Logger;
  mode: 'tcp' | 'rtu';
  /** Level of the log line of each accepted write (default info). */
  writeLogLevel?: 'info' | 'debug';
}): ModbusVector {
  const { devices, stats, log, mode } = opts;
  const route = <T>(unitID: number, cb: Cb<T>, body: (d: SimulatedDevice) => T): void => {
    const here = devices.get(unitID) ?? [];
    if (!here.length) {
      if (mode === 'rtu') return; // silence: no device with this address on the bus
      count(stats.exceptions, unitID);
      cb(new ModbusException(MODBUS_EXCEPTION.gatewayTargetFailed, `no device with unit id ${unitID}`));
      return;
    }
    let failure: { device: SimulatedDevice; error: ModbusException } | undefined;
    for (const d of here) {
      try {
        const v = body(d);
        cb(null, v);
        return;
      } catch (err) {
        const code = err instanceof ModbusException ? err.modbusErrorCode : MODBUS_EXCEPTION.deviceFailure;
        failure ??= { device: d, error: err instanceof ModbusException ? err : new ModbusException(code, (err as Error).message) };
        // Devices sharing the unit: an address this one does not implement may be the next one's.
        if (code !== MODBUS_EXCEPTION.illegalDataAddress) break;
      }
    }
    count(stats.exceptions, unitID);
    const { device, error } = failure!;
    log.debug({ unit: unitID, device: device.name, code: error.modbusErrorCode, reason: error.message }, 'simulator: exception reply');
    cb(error);
  };
  // Count what gets an answer: over RTU a request for an unknown unit gets none.
  const request = (unitID: number) => {
    if (mode === 'tcp' || devices.has(unitID)) count(stats.requests, unitID);
  };
  const write = (d: SimulatedDevice, register: 'holding' | 'coil', addr: number, data: number[] | boolean[]) => {
    const { writes, commit } = d.image.prepareWrite(register, addr, data);
    for (const w of writes) {
      try {
        d.onWrite?.(w.point, w.value);
      } catch (err) {
        if (err instanceof ModbusException) throw err;
        throw new ModbusException(MODBUS_EXCEPTION.illegalDataValue, (err as Error).message);
      }
    }
    commit();
    log[opts.writeLogLevel ?? 'info']({ unit: d.unitId, device: d.name, writes: writes.map((w) => `${w.point.id}=${String(w.value)}`) }, 'simulator: write');
  };
  const writeRequest = (unitID: number) => {
    count(stats.writes, unitID);
    request(unitID);
  };
  return {
    // FC01/FC02 ask for every bit separately: bit reads are not counted as requests.
    getCoil: (addr, unitID, cb) => route(unitID, cb, (d) => d.image.readBit('coil', addr)),
    getDiscreteInput: (addr, unitID, cb) => route(unitID, cb, (d) => d.image.readBit('discrete', addr)),
    getInputRegister: (addr, unitID, cb) => {
      request(unitID);
      route(unitID, cb, (d) => d.image.readWords('input', addr, 1)[0]!);
    },
    getHoldingRegister: (addr, unitID, cb) => {
      request(unitID);
      route(unitID, cb, (d) => d.image.readWords('holding', addr, 1)[0]!);
    },
    getMultipleInputRegisters: (addr, length, unitID, cb) => {
      request(unitID);
      route(unitID, cb, (d) => d.image.readWords('input', addr, length));
    },
    getMultipleHoldingRegisters: (addr, length, unitID, cb) => {
      request(unitID);
      route(unitID, cb, (d) => d.image.readWords('holding', addr, length));
    },
    setCoil: (addr, value, unitID, cb) => {
      writeRequest(unitID);
      route(unitID, cb, (d) => write(d, 'coil', addr, [value]));
    },
    setRegister: (addr, value, unitID, cb) => {
      writeRequest(unitID);
      route(unitID, cb, (d) => write(d, 'holding', addr, [value]));
    },
    setRegisterArray: (addr, values, unitID, cb) => {
      writeRequest(unitID);
      route(unitID, cb, (d) => write(d, 'holding', addr, values));
    },
  };
}
