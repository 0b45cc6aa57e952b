/**
 * Write backends behind the write gate: Modbus points through the acquisition service (with
 * read-back verification), GPIO relays, and simulated devices (replay). Only WriteGate calls them.
 */
import { isDlt645Profile, type AnyProfile } from '../../drivers/profiles/types.js';
import type { RelayOutput } from '../../drivers/gpio/relay.js';
import type { SiteConfig } from '../config/types.js';
import type { PointValue } from '../types.js';
import type { WriteBackend, WriteRequest, WriteResult } from '../services.js';

export interface PointWriter {
  writePoint(device: string, point: string, value: number | boolean): Promise<{ readBack: PointValue }>;
}

/** Modbus coil/register writes via `acquisition.writePoint`, verified by the value read back. */
export class ModbusWriteBackend implements WriteBackend {
  private readonly writable = new Map<string, { step: number }>();

  constructor(
    private readonly acquisition: PointWriter,
    config: SiteConfig,
    profiles: Map<string, AnyProfile>,
  ) {
    for (const d of config.devices) {
      const p = profiles.get(d.profile);
      // DL/T 645 meters are read-only: no point of theirs is written.
      if (!p || isDlt645Profile(p)) continue;
      for (const pt of p.points) {
        if (pt.register !== 'coil' && pt.register !== 'holding') continue;
        if (pt.access === 'read') continue;
        // The read-back may differ from the request by the register's resolution.
        this.writable.set(`${d.id}/${pt.id}`, { step: Math.abs(pt.scale ?? 1) });
      }
    }
  }

  canWrite(device: string, point: string): boolean {
    return this.writable.has(`${device}/${point}`);
  }

  async write(req: WriteRequest): Promise<WriteResult> {
    const { readBack } = await this.acquisition.writePoint(req.device, req.point, req.value);
    const mismatch = verify(req.value, readBack, this.writable.get(`${req.device}/${req.point}`)?.step ?? 1);
    if (mismatch) return { status: 'failed', error: mismatch };
    return { status: 'verified' };
  }
}

/** Undefined when `readBack` confirms `value` (within one register step), else why not. */
export function verify(value: number | boolean, readBack: PointValue, step: number): string | undefined {
  if (typeof value === 'boolean') {
    const rb = readBack === true || readBack === 1;
    if ((readBack === true || readBack === false || readBack === 0 || readBack === 1) && rb === value) return undefined;
    return `read-back ${JSON.stringify(readBack)} does not confirm the written ${value}`;
  }
  if (typeof readBack === 'number' && Math.abs(readBack - value) <= step / 2 + 1e-9) return undefined;
  return `read-back ${JSON.stringify(readBack)} does not confirm the written ${value}`;
}

/** GPIO relays (drivers/gpio): `gpio.<id>` outputs; read back from the pin. */
export class GpioWriteBackend implements WriteBackend {
  constructor(
    private readonly device: string,
    private readonly relays: Map<string, RelayOutput>,
  ) {}

  canWrite(device: string, point: string): boolean {
    return device === this.device && this.relays.has(point);
  }

  async write(req: WriteRequest): Promise<WriteResult> {
    const relay = this.relays.get(req.point)!;
    const on = req.value === true || req.value === 1;
    await relay.set(on);
    const rb = await relay.get();
    return rb === on ? { status: 'verified' } : { status: 'failed', error: `relay ${req.point} reads ${rb ? 'on' : 'off'} after writing ${on ? 'on' : 'off'}` };
  }
}

/** A simulated site's control inputs (tools/simulator DemoSite.write), for replays. */
export interface SimulatedDevices {
  write(device: string, point: string, value: number | boolean): void;
}

export class SimulatedWriteBackend implements WriteBackend {
  constructor(
    private readonly site: SimulatedDevices,
    private readonly devices: Set<string>,
  ) {}

  canWrite(device: string): boolean {
    return this.devices.has(device);
  }

  async write(req: WriteRequest): Promise<WriteResult> {
    this.site.write(req.device, req.point, req.value);
    return { status: 'written' };
  }
}
