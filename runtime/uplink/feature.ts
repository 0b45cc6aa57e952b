import { section, type FeatureDeclaration } from '../feature-api.js';
import { STORE } from '../store/service.js';
import { uplinkConfigSchema, validateUplinkConfig, type UplinkConfig } from './config-schema.js';
import { UPLINK } from './service.js';

export { UPLINK } from './service.js';

/**
 * The uplink feature: publishes the store's outbox to the MQTT broker given by `--uplink URL`
 * (ctx.options.uplinkUrl) or `uplink.url` in the config; without either it stays off (the store
 * still fills). Offers service `uplink` (Uplink, with health()). Routes the commands the features
 * registered (`<prefix>/cmd/<name>`, runtime/uplink/commands.ts); handlers are looked up when a
 * command arrives, so features created after the uplink can register theirs.
 */
export const uplinkFeature: FeatureDeclaration = {
  name: 'uplink',
  sections: [{ key: 'uplink', schema: uplinkConfigSchema }],
  check: validateUplinkConfig,
  requires: [STORE],
  provides: [UPLINK],
  async create(ctx) {
    const url = ctx.options.uplinkUrl ?? section<UplinkConfig>(ctx.config, 'uplink')?.url;
    if (!url) {
      ctx.logger.child({ feature: 'uplink' }).info('no uplink URL (uplink.url or --uplink): store-only, nothing is published');
      return null;
    }
    // Loaded only when an uplink is configured: mqtt.js and the compiled contract cost a store-only
    // gateway ~9 MB of resident memory for nothing.
    return (await import('./feature-impl.js')).createUplinkFeature(ctx, url);
  },
};
