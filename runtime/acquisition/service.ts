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
}

export const ACQUISITION = serviceKey<AcquisitionService>('acquisition');
