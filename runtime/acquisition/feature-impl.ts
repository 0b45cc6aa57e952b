import { ModbusBus } from '../../drivers/modbus/bus.js';
import { DevicePoller } from '../../drivers/modbus/device-poller.js';
import { isDlt645Profile } from '../../drivers/profiles/types.js';
import { isDlt645Bus, type BusConfig } from '../config/types.js';
import type { Feature, GatewayContext } from '../feature-api.js';
import type { Reading } from '../types.js';
import { LIVENESS } from '../supervision/liveness.js';
import { ACQUISITION, type AcquisitionService } from './service.js';

/** What acquisition asks of a poller of any protocol. */
interface AnyPoller {
  pollOnce(): Promise<Reading[]>;
  writePoint(point: string, value: number | boolean): Promise<{ readBack: Reading['value'] }>;
  start(): void;
  stop(): Promise<void>;
  readonly device: { id: string; bus: string };
  readonly stats: { polls: number; complete: number; failed: number; skipped: number; requests: number };
  readonly backedOff: { until: number; failures: number } | undefined;
}

/**
 * Acquisition: one ModbusBus per Modbus bus, one DevicePoller per Modbus device, and the same for
 * DL/T 645 lines and meters (runtime/acquisition/dlt645.ts, loaded only when the site has one),
 * publishing to the readings hub. Devices whose profile is missing are refused by config
 * validation before start; here they are skipped with an error log rather than crashing the gateway.
 */
export async function createAcquisitionFeature(ctx: GatewayContext): Promise<Feature | null> {
  const { config, logger, hub, clock } = ctx;
  if (!config.devices.length) return null;
  const log = logger.child({ feature: 'acquisition' });
  const buses = new Map<string, ModbusBus>();
  for (const b of config.buses) if (!isDlt645Bus(b)) buses.set(b.id, new ModbusBus(b satisfies BusConfig, { logger: log }));
  const dlt645 = config.buses.some(isDlt645Bus) ? (await import('./dlt645.js')).createDlt645Acquisition(ctx, log) : undefined;
  const pollers = new Map<string, DevicePoller>();
  for (const d of config.devices) {
    if (d.address !== undefined) continue;
    const bus = buses.get(d.bus);
    const profile = ctx.profiles.get(d.profile);
    if (!bus || !profile || isDlt645Profile(profile)) {
      log.error({ device: d.id, bus: d.bus, profile: d.profile }, `device ${d.id} not polled: unknown ${bus ? 'profile' : 'bus'}`);
      continue;
    }
    pollers.set(d.id, new DevicePoller({ device: d, profile, bus, hub, clock, logger: log, liveness: ctx.services.get(LIVENESS)?.loop(`poll:${d.id}`) }));
  }
  const all = new Map<string, AnyPoller>([...pollers, ...(dlt645?.pollers ?? [])]);
  const pollerOf = (device: string): AnyPoller => {
    const p = all.get(device);
    if (!p) throw new Error(`acquisition: unknown device '${device}' (known: ${[...all.keys()].join(', ') || 'none'})`);
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
    pollHealth: () =>
      [...all.values()].map((p) => {
        const { polls, complete, failed, skipped, requests } = p.stats;
        const backedOff = p.backedOff;
        return { device: p.device.id, bus: p.device.bus, polls, complete, failed, skipped, requests, ...(backedOff ? { backedOff } : {}) };
      }),
  };
  ctx.services.provide(ACQUISITION, service, 'acquisition');

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
      for (const p of dlt645?.pollers.values() ?? []) {
        const points = p.profile.points.filter((q) => q.poll !== false);
        log.info(
          { device: p.device.id, profile: `${p.profile.id} v${p.profile.version}`, source: `${dlt645!.buses.get(p.device.bus)!.uri}#${p.device.address}`, points: points.length, canonical: points.filter((q) => q.canonical).map((q) => q.canonical), pollIntervalMs: p.device.pollIntervalMs },
          'device capabilities',
        );
      }
      for (const p of all.values()) p.start();
    },
    async stop() {
      // Stop scheduling first, then close the buses so queued requests fail at once, then wait
      // for the cycles in flight (bounded by the request timeouts).
      const stopping = [...all.values()].map((p) => p.stop());
      await Promise.all([...buses.values(), ...(dlt645?.buses.values() ?? [])].map((b) => b.close()));
      await Promise.all(stopping);
    },
  };
}
