/**
 * The feature API: typed service registry, declared requirements checked before a feature is
 * created, the site schema derived from the composition root's list, commands registered by the
 * features that own them.
 */
import { describe, expect, it } from 'vitest';
import { CommandRegistry, ServiceRegistry, serviceKey, type FeatureDeclaration } from '../../runtime/feature-api.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { createSiteLoader } from '../../runtime/config/load.js';
import { siteConfigSchema } from '../../runtime/config/schema.js';
import { ConfigError } from '../../runtime/config/errors.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { FEATURES } from '../../tools/cli/features.js';

const config = (extra: Record<string, unknown> = {}): SiteConfig => ({
  version: 1,
  site: { id: 's' },
  gateway: { id: 'g' },
  buses: [{ id: 'b', type: 'tcp', host: '127.0.0.1', port: 502 }],
  devices: [{ id: 'm', role: 'grid_meter', bus: 'b', unitId: 1, profile: 'eastron-sdm630', pollIntervalMs: 1000 }],
  ...extra,
});

interface Counter {
  n: number;
}
const COUNTER = serviceKey<Counter>('counter');

describe('service registry', () => {
  it('returns what was provided under the same key, typed; a second provider is refused', () => {
    const r = new ServiceRegistry();
    expect(r.get(COUNTER)).toBeUndefined();
    r.provide(COUNTER, { n: 3 }, 'a');
    const c: Counter | undefined = r.get(COUNTER);
    expect(c?.n).toBe(3);
    expect(() => r.provide(COUNTER, { n: 4 }, 'b')).toThrow(/'counter' is already provided by 'a' \(second provider: 'b'\)/);
    expect(r.require(COUNTER, 'x').n).toBe(3);
    expect(() => r.require(serviceKey<Counter>('other'), 'x')).toThrow(/feature 'x' requires service 'other'/);
  });

  it('commands: one handler per name, listed sorted', () => {
    const c = new CommandRegistry();
    c.register({ name: 'zeta', feature: 'f1', run: () => ({ ok: true }) });
    c.register({ name: 'alpha', feature: 'f2', run: () => ({ ok: true }) });
    expect(c.names()).toEqual(['alpha', 'zeta']);
    expect(() => c.register({ name: 'zeta', feature: 'f3', run: () => ({ ok: true }) })).toThrow(/already registered by feature 'f1'/);
  });
});

describe('gateway wiring', () => {
  it('creates features in list order, each seeing the services of the ones before it', async () => {
    const seen: string[] = [];
    const provider: FeatureDeclaration = {
      name: 'provider',
      provides: [COUNTER],
      create(ctx) {
        ctx.services.provide(COUNTER, { n: 1 }, 'provider');
        return { name: 'provider', start: async () => void seen.push('start provider'), stop: async () => void seen.push('stop provider') };
      },
    };
    const consumer: FeatureDeclaration = {
      name: 'consumer',
      requires: [COUNTER],
      create(ctx) {
        const c = ctx.services.require(COUNTER, 'consumer');
        c.n++;
        return { name: 'consumer', start: async () => void seen.push(`start consumer n=${c.n}`), stop: async () => void seen.push('stop consumer') };
      },
    };
    const gw = new Gateway({ config: config({ devices: [] }), profiles: new Map(), logger: silentLogger(), features: [provider, consumer], options: { dataDir: '/nonexistent' } });
    await gw.start();
    await gw.stop();
    expect(seen).toEqual(['start provider', 'start consumer n=2', 'stop consumer', 'stop provider']);
  });

  it('refuses to start when a required service has no provider before it, and stops what started', async () => {
    const stopped: string[] = [];
    const first: FeatureDeclaration = { name: 'first', create: () => ({ name: 'first', start: async () => {}, stop: async () => void stopped.push('first') }) };
    const consumer: FeatureDeclaration = { name: 'consumer', requires: [COUNTER], create: () => null };
    const gw = new Gateway({ config: config({ devices: [] }), profiles: new Map(), logger: silentLogger(), features: [first, consumer], options: { dataDir: '/nonexistent' } });
    await expect(gw.start()).rejects.toThrow("feature 'consumer' requires service 'counter', which no feature listed before it provides");
    expect(stopped).toEqual(['first']);
  });
});

describe('site schema derived from the feature list', () => {
  it('accepts a section only when a listed feature declares it', () => {
    const withStore = createSiteLoader(FEATURES.filter((f) => f.name === 'store'));
    expect(() => withStore.validateSiteConfig(config({ store: { flushIntervalMs: 500 } }), 'site.yaml')).not.toThrow();
    let err: unknown;
    try {
      withStore.validateSiteConfig(config({ store: { flushIntervalMs: 500 }, accounting: { gridFactor: 'x' } }), 'site.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.message).join('\n')).toMatch(/accounting/);
  });

  it("runs each feature's own checks", () => {
    const all = createSiteLoader(FEATURES);
    expect(() => all.validateSiteConfig(config({ uplink: { password: 'a', passwordEnv: 'B' } }), 'site.yaml')).toThrow(/give either password or passwordEnv/);
    const noUplink = createSiteLoader(FEATURES.filter((f) => f.name !== 'uplink'));
    expect(() => noUplink.validateSiteConfig(config({ uplink: { password: 'a', passwordEnv: 'B' } }), 'site.yaml')).toThrow(/uplink/);
  });

  it('two features cannot claim one section, nor a core key', () => {
    const schema = { type: 'object' };
    expect(() => siteConfigSchema([{ name: 'a', sections: [{ key: 'x', schema }] }, { name: 'b', sections: [{ key: 'x', schema }] }])).toThrow(
      "config section 'x' of feature 'b' is already defined by feature 'a'",
    );
    expect(() => siteConfigSchema([{ name: 'a', sections: [{ key: 'devices', schema }] }])).toThrow(/already defined by the core schema/);
  });

  it("the composition root's list declares every section of today's config format", () => {
    const props = Object.keys((createSiteLoader(FEATURES).schema as { properties: object }).properties).sort();
    expect(props).toEqual(['accounting', 'buses', 'control', 'devices', 'gateway', 'http', 'profileDirs', 'rules', 'site', 'store', 'uplink', 'version']);
  });
});
