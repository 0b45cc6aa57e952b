import type { DevicePoller } from '../../drivers/modbus/device-poller.js';
import type { ModbusBus } from '../../drivers/modbus/bus.js';
import { serviceKey } from '../service-registry.js';
import type { PointValue, Reading } from '../types.js';

/** Service `acquisition`: ONLY the write gate may call writePoint. */
export interface AcquisitionService {
  /** Raw, ungated write of one point with read-back. */
  writePoint(device: string, point: string, value: number | boolean): Promise<{ readBack: PointValue }>;
  /** Read every point of a device now (published to the hub too). */
  readDevice(device: string): Promise<Reading[]>;
  /** Poll statistics per device (for health and tests). */
  pollers(): ReadonlyMap<string, DevicePoller>;
  buses(): ReadonlyMap<string, ModbusBus>;
  /** Poll counters and backoff state of every polled device, Modbus and DL/T 645 (read-only: page, API, metrics). */
  pollHealth(): PollHealth[];
}

/** One device's poll counters and backoff state. */
export interface PollHealth {
  device: string;
  bus: string;
  polls: number;
  complete: number;
  failed: number;
  skipped: number;
  /** Requests (Modbus) or data identifiers (DL/T 645) put on the bus. */
  requests: number;
  /** Backed off after it stopped answering: until when (wall ms) and after how many failures. */
  backedOff?: { until: number; failures: number };
}

export const ACQUISITION = serviceKey<AcquisitionService>('acquisition');
