import path from 'node:path';
import type { Feature, FeatureFactory } from '../gateway.js';
import type { Store } from '../store/store.js';
import { resolveUplinkConfig, type UplinkConfig } from './config-schema.js';

/**
 * The uplink feature: publishes the store's outbox to the MQTT broker given by `--uplink URL`
 * (ctx.options.uplinkUrl) or `uplink.url` in the config; without either it stays off (the store
 * still fills). Offers service `uplink` (Uplink, with health()). Takes commands on
 * `<prefix>/cmd/rules` and `<prefix>/cmd/instruments` (runtime/uplink/commands.ts), handed to the
 * `rules` and `accounting` services (looked up when a command arrives: they start after the uplink).
 */
export const uplinkFeature: FeatureFactory = async (ctx) => {
  const log = ctx.logger.child({ feature: 'uplink' });
  const raw = (ctx.config.uplink ?? {}) as UplinkConfig;
  // TLS file paths are relative to the config file (or the working directory for built-in configs).
  const base = ctx.configFile ? path.dirname(path.resolve(ctx.configFile)) : process.cwd();
  const rel = (f?: string) => (f === undefined ? undefined : path.resolve(base, f));
  const cfg: UplinkConfig = raw.tls ? { ...raw, tls: { ...raw.tls, ca: rel(raw.tls.ca), cert: rel(raw.tls.cert), key: rel(raw.tls.key) } } : raw;
  const url = ctx.options.uplinkUrl ?? cfg.url;
  if (!url) {
    log.info('no uplink URL (uplink.url or --uplink): store-only, nothing is published');
    return null;
  }
  const store = ctx.services.get('store') as Store | undefined;
  if (!store) throw new Error('uplink needs the store feature (it publishes the store outbox)');
  // Loaded only when an uplink is configured: mqtt.js and the compiled contract cost a store-only
  // gateway ~9 MB of resident memory for nothing.
  const [{ Uplink }, { CommandRouter, gatewayCommandSpecs }, { loadContract }] = await Promise.all([
    import('./uplink.js'),
    import('./commands.js'),
    import('./contract.js'),
  ]);
  const commands = new CommandRouter(gatewayCommandSpecs({ services: ctx.services, contract: loadContract(), clock: ctx.clock }), { logger: log });
  const uplink = new Uplink(store.outbox, resolveUplinkConfig(cfg, url, ctx.config.site.id, ctx.config.gateway.id), {
    site: ctx.config.site.id,
    gateway: ctx.config.gateway.id,
  }, { logger: log, clock: ctx.clock, commands });
  ctx.services.set('uplink', uplink);
  const feature: Feature = {
    name: 'uplink',
    async start() {
      uplink.start();
    },
    async stop() {
      await uplink.stop();
    },
  };
  return feature;
};
