import type { Feature, FeatureDeclaration } from '../../runtime/feature-api.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import type { Reading } from '../../runtime/types.js';

/** A minimal site config: no buses/devices (readings come from the synthetic feature). */
export function syntheticConfig(extra: Partial<SiteConfig> = {}): SiteConfig {
  return { version: 1, site: { id: 'site1' }, gateway: { id: 'gw1' }, buses: [], devices: [], ...extra };
}

/**
 * Feeds `devices` x `points` readings into the hub every `intervalMs` (point 0 is an
 * energy_import counter rising with time), timestamped by the gateway clock.
 */
export function syntheticFeature(opts: { devices: number; points: number; intervalMs: number }): FeatureDeclaration & { paused: boolean } {
  const create: FeatureDeclaration['create'] = (ctx) => {
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      if (factory.paused) return;
      const ts = ctx.clock.now();
      const batch: Reading[] = [];
      for (let d = 0; d < opts.devices; d++) {
        for (let p = 0; p < opts.points; p++) {
          const counter = p === 0;
          batch.push({
            device: `dev${d}`,
            point: counter ? 'energy_import' : `p${p}`,
            canonical: counter ? 'energy_import' : undefined,
            unit: counter ? 'kWh' : 'W',
            value: counter ? ts / 3_600_000 : Math.sin(ts / 60_000 + p) * 1000,
            quality: 'good',
            ts,
            source: 'synthetic',
          });
        }
      }
      ctx.hub.publish(batch);
    };
    const f: Feature = {
      name: 'synthetic',
      async start() {
        timer = setInterval(tick, opts.intervalMs);
      },
      async stop() {
        if (timer) clearInterval(timer);
      },
    };
    return f;
  };
  const factory = { name: 'synthetic', create, paused: false };
  return factory;
}

/** A clock running `factor` times faster than real time from `start` (elapsed time measured monotonically). */
export function acceleratedClock(factor: number, start = Date.now()) {
  const real0 = performance.now();
  return { now: () => start + Math.floor((performance.now() - real0) * factor) };
}
