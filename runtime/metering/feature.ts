/**
 * The metering feature: one metering stage between the readings hub and its consumers. It
 * subscribes to the hub, decides the counter deltas of every batch once (runtime/metering/stage.ts)
 * and hands the batch with its events to the store and accounting, so `readings-1m` deltas and
 * `carbon-15m` energy come from the same decisions.
 *
 * Which points are counters, and their rollover / plausibility options: the counter canonicals
 * (energy_import, energy_export, reactive ...) and `store.counters.points`, with
 * `store.counters.rolloverAt` / `maxRatePerHour`; an accounting device's own `rolloverAt` /
 * `maxRatePerHour` (and its configured `point`) take precedence for that device.
 */
import { section, type FeatureDeclaration } from '../feature-api.js';
import type { SiteConfig } from '../config/types.js';
import type { CounterDeltaOptions } from './counter-delta.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import { ratedMaxRatePerHour } from './plausibility.js';
import { METERING, type MeteredListener, type MeteringService } from './service.js';
import { COUNTER_CANONICALS, counterLookup, MeteringStage, type MeterLookup } from './stage.js';

export { METERING, type MeteringService } from './service.js';

/** The parts of the store and accounting sections that say what a counter is (their schemas validate them). */
interface CounterSettings {
  rolloverAt?: number;
  maxRatePerHour?: number;
}
interface StoreCounters {
  counters?: CounterSettings & { points?: string[] };
}
interface AccountingCounters {
  enabled?: boolean;
  devices?: Record<string, CounterSettings & { point?: string }>;
}

/**
 * The site's counter lookup, from the `store.counters` and `accounting.devices` sections. An
 * energy counter without its own `maxRatePerHour` takes the limit from its device's rated power
 * (profile `ratedPowerW`, ./plausibility.ts) before the site-wide `store.counters.maxRatePerHour`.
 */
export function siteMeterLookup(config: SiteConfig, profiles: ReadonlyMap<string, AnyProfile> = new Map()): MeterLookup {
  const store = section<StoreCounters>(config, 'store')?.counters ?? {};
  const options: CounterDeltaOptions = {
    ...(store.rolloverAt !== undefined ? { rolloverAt: store.rolloverAt } : {}),
    ...(store.maxRatePerHour !== undefined ? { maxRatePerHour: store.maxRatePerHour } : {}),
  };
  const acct = section<AccountingCounters>(config, 'accounting');
  const devices = acct && acct.enabled !== false ? (acct.devices ?? {}) : {};
  const rated = (device: string, point: string, canonical: string | undefined): CounterDeltaOptions | undefined => {
    if (canonical === undefined || !COUNTER_CANONICALS.has(canonical)) return undefined;
    const profile = profiles.get(config.devices.find((x) => x.id === device)?.profile ?? '');
    const p = profile?.points.find((x) => x.id === point);
    const max = ratedMaxRatePerHour(profile?.ratedPowerW, p?.unit);
    return max === undefined ? undefined : { maxRatePerHour: max };
  };
  return counterLookup(new Set(store.points ?? []), options, (device, point, canonical) => {
    const d = devices[device];
    if (!d) return rated(device, point, canonical);
    const isCounter = d.point !== undefined ? d.point === point || d.point === canonical : canonical !== undefined && COUNTER_CANONICALS.has(canonical);
    if (!isCounter) return undefined;
    return {
      ...rated(device, point, canonical),
      ...(d.rolloverAt !== undefined ? { rolloverAt: d.rolloverAt } : {}),
      ...(d.maxRatePerHour !== undefined ? { maxRatePerHour: d.maxRatePerHour } : {}),
    };
  });
}

export const meteringFeature: FeatureDeclaration = {
  name: 'metering',
  provides: [METERING],
  create(ctx) {
    const stage = new MeteringStage(siteMeterLookup(ctx.config, ctx.profiles));
    const listeners = new Set<MeteredListener>();
    const log = ctx.logger.child({ feature: 'metering' });
    const service: MeteringService = {
      stage,
      subscribe(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    };
    ctx.services.provide(METERING, service, 'metering');
    let unsubscribe: (() => void) | undefined;
    return {
      name: 'metering',
      async start() {
        unsubscribe = ctx.hub.subscribe((batch) => {
          const events = stage.process(batch);
          for (const fn of listeners) {
            try {
              fn(batch, events);
            } catch (err) {
              // One consumer's failure must not keep the batch from the others.
              log.error({ err }, 'a metering consumer failed on a batch');
            }
          }
        });
      },
      async stop() {
        unsubscribe?.();
      },
    };
  },
};
