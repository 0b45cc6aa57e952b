import type { Feature, FeatureFactory, GatewayContext } from '../runtime/gateway.js';
import type { PointValue, Reading } from '../runtime/types.js';
import { ModbusBus } from './modbus/bus.js';
import { DevicePoller } from './modbus/device-poller.js';

/** Service `acquisition` (see /work/shared contracts): ONLY the write gate may call writePoint. */
export interface AcquisitionService {
  /** Raw, ungated write of one point with read-back. */
  writePoint(device: string, point: string, value: number | boolean): Promise<{ readBack: PointValue }>;
  /** Read every point of a device now (published to the hub too). */
  readDevice(device: string): Promise<Reading[]>;
  /** Poll statistics per device (for health and tests). */
  pollers(): ReadonlyMap<string, DevicePoller>;
  buses(): ReadonlyMap<string, ModbusBus>;
}

/**
 * Acquisition: one ModbusBus per configured bus, one DevicePoller per device, publishing to the
 * readings hub. Devices whose profile is missing are refused by config validation before start;
 * here they are skipped with an error log rather than crashing the gateway.
 */
export const acquisitionFeature: FeatureFactory = (ctx: GatewayContext): Feature | null => {
  const { config, logger, hub, clock } = ctx;
  if (!config.devices.length) return null;
  const log = logger.child({ feature: 'acquisition' });
  const buses = new Map<string, ModbusBus>();
  for (const b of config.buses) buses.set(b.id, new ModbusBus(b, { logger: log }));
  const pollers = new Map<string, DevicePoller>();
  for (const d of config.devices) {
    const bus = buses.get(d.bus);
    const profile = ctx.profiles.get(d.profile);
    if (!bus || !profile) {
      log.error({ device: d.id, bus: d.bus, profile: d.profile }, `device ${d.id} not polled: unknown ${bus ? 'profile' : 'bus'}`);
      continue;
    }
    pollers.set(d.id, new DevicePoller({ device: d, profile, bus, hub, clock, logger: log }));
  }
  const pollerOf = (device: string): DevicePoller => {
    const p = pollers.get(device);
    if (!p) throw new Error(`acquisition: unknown device '${device}' (known: ${[...pollers.keys()].join(', ') || 'none'})`);
    return p;
  };
  const service: AcquisitionService = {
    async writePoint(device, point, value) {
      const p = pollerOf(device);
      // Read-only / dry-run is enforced here, where writes are issued, not only by convention upstream.
      if (config.gateway.dryRun) {
        log.warn({ device, point, value }, 'write refused: gateway is in dry-run (read-only) mode');
        throw new Error(`acquisition: write of ${device}/${point} refused: the gateway is in dry-run (read-only) mode`);
      }
      const { readBack } = await p.writePoint(point, value);
      log.info({ device, point, value, readBack }, 'point written');
      return { readBack };
    },
    async readDevice(device) {
      return pollerOf(device).pollOnce();
    },
    pollers: () => pollers,
    buses: () => buses,
  };
  ctx.services.set('acquisition', service);

  return {
    name: 'acquisition',
    async start() {
      for (const p of pollers.values()) {
        const points = p.profile.points.filter((q) => q.poll !== false);
        log.info(
          {
            device: p.device.id,
            profile: `${p.profile.id} v${p.profile.version}`,
            source: `${buses.get(p.device.bus)!.uri}#${p.device.unitId}`,
            points: points.length,
            canonical: points.filter((q) => q.canonical).map((q) => q.canonical),
            writeable: p.profile.points.filter((q) => q.access === 'read-write' || q.access === 'write').map((q) => q.id),
            plannedRequests: p.blocks.length,
            pollIntervalMs: p.device.pollIntervalMs,
          },
          'device capabilities',
        );
      }
      for (const p of pollers.values()) p.start();
    },
    async stop() {
      // Stop scheduling first, then close the buses so queued requests fail at once, then wait
      // for the cycles in flight (bounded by the request timeouts).
      const stopping = [...pollers.values()].map((p) => p.stop());
      await Promise.all([...buses.values()].map((b) => b.close()));
      await Promise.all(stopping);
    },
  };
};
