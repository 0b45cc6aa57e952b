import { section, type FeatureDeclaration } from '../feature-api.js';
import { STORE } from '../store/service.js';
import { DEFAULT_HTTP_LISTEN, httpConfigSchema, validateHttpConfig, type HttpConfig } from './config.js';

/**
 * The local page and HTTP API (runtime/http/README section in the top-level README: "HTTP API and
 * local page"): on when the config has an `http:` section or `--http HOST:PORT` is given; off
 * otherwise, and then fastify, prom-client and the page cost nothing (loaded only in
 * ./feature-impl.ts). It reads every part's services (store, uplink, accounting, rules,
 * acquisition), so it is the last feature in the list and sits above the uplink in the layers.
 */
export const httpFeature: FeatureDeclaration = {
  name: 'http',
  sections: [{ key: 'http', schema: httpConfigSchema }],
  check: validateHttpConfig,
  uses: [STORE],
  async create(ctx) {
    const cfg = section<HttpConfig>(ctx.config, 'http');
    const listen = ctx.options.http ?? (cfg ? (cfg.listen ?? DEFAULT_HTTP_LISTEN) : undefined);
    if (!listen) return null;
    return (await import('./feature-impl.js')).createHttpFeature(ctx, listen, cfg);
  },
};
