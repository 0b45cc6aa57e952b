/** The HTTP feature's implementation (declaration: ./feature.ts). Loads fastify and prom-client. */
import { ConfigError } from '../config/errors.js';
import type { Feature, GatewayContext } from '../feature-api.js';
import { listenIssues, parseListen, resolveToken, type HttpConfig } from './config.js';
import { HealthCheck } from './health.js';
import { GatewayMetrics } from './metrics.js';
import { RulesView } from './rules-view.js';
import { buildServer } from './server.js';
import { GatewayViews } from './views.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export async function createHttpFeature(ctx: GatewayContext, listen: string, cfg: HttpConfig | undefined): Promise<Feature> {
  const log = ctx.logger.child({ feature: 'http' });
  // --http is checked like http.listen: never on the LAN without a token.
  const where = ctx.options.http !== undefined ? '--http' : '/http/listen';
  const issues = listenIssues(listen, cfg, ctx.options.http !== undefined ? '<command line>' : (ctx.configFile ?? '<config>'), where);
  if (issues.length) throw new ConfigError(issues);
  const addr = parseListen(listen)!;
  const views = new GatewayViews(ctx);
  const metrics = new GatewayMetrics(ctx);
  const app = await buildServer({
    ctx,
    log,
    views,
    rules: new RulesView(ctx, log),
    health: new HealthCheck(ctx),
    metrics,
    token: resolveToken(cfg),
    requestTimeoutMs: cfg?.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
  return {
    name: 'http',
    async start() {
      try {
        await app.listen({ host: addr.host, port: addr.port });
      } catch (err) {
        views.close();
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(`http: cannot listen on ${listen}: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}`);
      }
      const a = app.server.address();
      const url = typeof a === 'object' && a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/` : listen;
      log.info({ url, token: resolveToken(cfg) ? 'required' : 'none (loopback only)' }, `local page and HTTP API on ${url}`);
    },
    async stop() {
      views.close();
      await app.close();
    },
  };
}
