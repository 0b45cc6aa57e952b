import path from 'node:path';
import type { Feature, GatewayContext } from '../feature-api.js';
import { section } from '../feature-api.js';
import { STORE } from '../store/service.js';
import { CommandRouter } from './commands.js';
import { resolveUplinkConfig, type UplinkConfig } from './config-schema.js';
import { lazyCommandSchemas } from './command-schemas.js';
import { UPLINK } from './service.js';
import { Uplink } from './uplink.js';
import { SiteAnnouncer } from './announce.js';

/** Publish the store's outbox to the broker; route commands to the handlers features registered. */
export function createUplinkFeature(ctx: GatewayContext, url: string): Feature {
  const log = ctx.logger.child({ feature: 'uplink' });
  const raw = section<UplinkConfig>(ctx.config, 'uplink') ?? {};
  // TLS file paths are relative to the config file (or the working directory for built-in configs).
  const base = ctx.configFile ? path.dirname(path.resolve(ctx.configFile)) : process.cwd();
  const rel = (f?: string) => (f === undefined ? undefined : path.resolve(base, f));
  const cfg: UplinkConfig = raw.tls ? { ...raw, tls: { ...raw.tls, ca: rel(raw.tls.ca), cert: rel(raw.tls.cert), key: rel(raw.tls.key) } } : raw;
  const store = ctx.services.require(STORE, 'uplink');
  const resolved = resolveUplinkConfig(cfg, url, ctx.config.site.id, ctx.config.gateway.id);
  const commands = new CommandRouter(ctx.commands, lazyCommandSchemas(), {
    logger: log,
    clock: ctx.clock,
    maxAgeSec: resolved.commandMaxAgeSec,
    clockSkewSec: resolved.commandClockSkewSec,
  });
  const uplink = new Uplink(store.outbox, resolved, {
    site: ctx.config.site.id,
    gateway: ctx.config.gateway.id,
    ...(ctx.options.configVersion ? { config: ctx.options.configVersion } : {}),
  }, { logger: log, clock: ctx.clock, commands });
  ctx.services.provide(UPLINK, uplink, 'uplink');
  const announcer = new SiteAnnouncer(uplink, {
    config: ctx.config,
    profiles: ctx.profiles,
    hub: ctx.hub,
    clock: ctx.clock,
    prefix: resolved.topicPrefix,
    homeAssistant: cfg.homeAssistant,
    logger: log,
  });
  return {
    name: 'uplink',
    async start() {
      announcer.start();
      uplink.start();
    },
    async stop() {
      announcer.stop();
      await uplink.stop();
    },
  };
}
