/**
 * What the uplink says about the site besides its records, all retained: the gateway metadata
 * (`<prefix>/metadata`), each device's availability (`<prefix>/device/<id>/availability`) and,
 * with `uplink.homeAssistant.enabled`, Home Assistant discovery configs plus each device's latest
 * good values (`<prefix>/device/<id>/state`, at most once per `stateIntervalMs`).
 */
import type { AnyProfile } from '../../drivers/profiles/types.js';
import type { SiteConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { ReadingsHub } from '../readings-hub.js';
import { monoNow, type Clock, type PointValue } from '../types.js';
import { availabilityPayload, DeviceAvailability } from './availability.js';
import { deviceStateTopic, discoveryConfigs, type HomeAssistantConfig } from './home-assistant.js';
import { availabilityTopic, buildMetadata, metadataTopic } from './metadata.js';

export interface RetainedPublisher {
  publishRetained(topic: string, payload: string): void;
}

export interface AnnouncerOptions {
  config: SiteConfig;
  profiles: ReadonlyMap<string, AnyProfile>;
  hub: ReadingsHub;
  clock: Clock;
  prefix: string;
  homeAssistant?: HomeAssistantConfig;
  logger: Logger;
  /** Home Assistant state messages: at most one per device per this many ms. Default 10 000. */
  stateIntervalMs?: number;
}

export class SiteAnnouncer {
  private readonly availability = new DeviceAvailability();
  private readonly values = new Map<string, Record<string, PointValue>>();
  private readonly dirty = new Set<string>();
  /** Monotonic time of each device's last state message. */
  private readonly sentAt = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly ids: { site: string; gateway: string };

  constructor(
    private readonly out: RetainedPublisher,
    private readonly o: AnnouncerOptions,
  ) {
    this.ids = { site: o.config.site.id, gateway: o.config.gateway.id };
  }

  private get ha(): boolean {
    return !!this.o.homeAssistant?.enabled;
  }

  start(): void {
    const { config, prefix } = this.o;
    const meta = buildMetadata(config, this.o.profiles, prefix, this.o.clock.now());
    this.out.publishRetained(metadataTopic(prefix), JSON.stringify(meta));
    if (this.ha) {
      const configs = discoveryConfigs(meta.devices, { ...this.ids, siteName: config.site.name }, prefix, this.o.homeAssistant?.prefix);
      for (const [topic, payload] of configs) this.out.publishRetained(topic, JSON.stringify(payload));
      this.o.logger.info({ sensors: configs.size, prefix: this.o.homeAssistant?.prefix ?? 'homeassistant' }, 'Home Assistant discovery published');
      this.timer = setInterval(() => this.flushState(), this.o.stateIntervalMs ?? 10_000);
      this.timer.unref();
    }
    this.unsubscribe = this.o.hub.subscribe((batch) => {
      for (const c of this.availability.update(batch)) {
        this.out.publishRetained(availabilityTopic(prefix, c.device), availabilityPayload(this.ids, c));
        if (c.state === 'offline') this.o.logger.warn({ device: c.device, reason: c.reason }, 'device offline');
        else this.o.logger.debug({ device: c.device }, 'device online');
      }
      if (!this.ha) return;
      for (const r of batch) {
        if (r.quality !== 'good' || r.value === null) continue;
        let v = this.values.get(r.device);
        if (!v) this.values.set(r.device, (v = {}));
        v[r.point] = r.value;
        this.dirty.add(r.device);
      }
      this.flushState(false);
    });
  }

  /** State messages of devices with new values: all of them, or (`all` false) those not sent within the interval. */
  private flushState(all = true): void {
    const now = monoNow(this.o.clock);
    const every = this.o.stateIntervalMs ?? 10_000;
    for (const device of this.dirty) {
      const last = this.sentAt.get(device);
      if (!all && last !== undefined && now - last < every) continue;
      this.sentAt.set(device, now);
      this.dirty.delete(device);
      this.out.publishRetained(deviceStateTopic(this.o.prefix, device), JSON.stringify(this.values.get(device)));
    }
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
  }
}
