import type { DevicePoller } from '../../drivers/modbus/device-poller.js';
import type { ModbusBus } from '../../drivers/modbus/bus.js';
import { serviceKey, type FeatureDeclaration } from '../feature-api.js';
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

/**
 * Acquisition: one bus per configured bus, one poller per device, publishing to the readings hub.
 * Owns the core `buses` and `devices` sections (their schema is the site schema's core).
 */
export const acquisitionFeature: FeatureDeclaration = {
  name: 'acquisition',
  provides: [ACQUISITION],
  create: async (ctx) => (ctx.config.devices.length ? (await import('./feature-impl.js')).createAcquisitionFeature(ctx) : null),
};
