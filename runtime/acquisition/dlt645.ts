import { Dlt645Bus } from '../../drivers/dlt645/bus.js';
import { Dlt645Poller } from '../../drivers/dlt645/poller.js';
import { isDlt645Profile } from '../../drivers/profiles/types.js';
import { isDlt645Bus, type Dlt645DeviceConfig } from '../config/types.js';
import type { GatewayContext } from '../feature-api.js';
import type { Logger } from '../logger.js';
import { LIVENESS } from '../supervision/liveness.js';

/** The DL/T 645 part of acquisition: one Dlt645Bus per dlt645 / dlt645-tcp bus, one poller per meter. */
export interface Dlt645Acquisition {
  buses: Map<string, Dlt645Bus>;
  pollers: Map<string, Dlt645Poller>;
}

export function createDlt645Acquisition(ctx: GatewayContext, log: Logger): Dlt645Acquisition {
  const buses = new Map<string, Dlt645Bus>();
  for (const b of ctx.config.buses) if (isDlt645Bus(b)) buses.set(b.id, new Dlt645Bus(b, { logger: log, clock: ctx.clock }));
  const pollers = new Map<string, Dlt645Poller>();
  for (const d of ctx.config.devices) {
    if (d.address === undefined) continue;
    const device: Dlt645DeviceConfig = d;
    const bus = buses.get(d.bus);
    const profile = ctx.profiles.get(d.profile);
    if (!bus || !profile || !isDlt645Profile(profile)) {
      log.error({ device: d.id, bus: d.bus, profile: d.profile }, `device ${d.id} not polled: unknown DL/T 645 ${bus ? 'profile' : 'bus'}`);
      continue;
    }
    pollers.set(d.id, new Dlt645Poller({ device, profile, bus, hub: ctx.hub, clock: ctx.clock, logger: log, liveness: ctx.services.get(LIVENESS)?.loop(`poll:${d.id}`) }));
  }
  return { buses, pollers };
}
