import type { ModbusBus } from '../../drivers/modbus/bus.js';

/**
 * Records each request put on `bus` (its device, and the monotonic time it was queued, ms), by
 * wrapping the bus's public `read`. Monotonic time: a step of the wall clock cannot move it.
 */
export function recordReads(bus: ModbusBus, mono: () => number = () => performance.now()): Array<{ device: string | undefined; at: number }> {
  const seen: Array<{ device: string | undefined; at: number }> = [];
  const read = bus.read.bind(bus);
  bus.read = (unit, register, address, count, opts) => {
    seen.push({ device: opts?.device, at: mono() });
    return read(unit, register, address, count, opts);
  };
  return seen;
}
