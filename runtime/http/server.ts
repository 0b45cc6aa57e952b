/**
 * The HTTP server (fastify): the JSON API, `/healthz`, `/metrics` and the local page's static
 * files (runtime/http/assets, uPlot from its package). Routes and auth: README "HTTP API and local
 * page". Bodies are JSON and small (16 KiB); a request that does not arrive in full within
 * `requestTimeoutMs` is answered 408; errors are JSON `{ error, code }` with a 4xx status and
 * never take the process down.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { GatewayContext } from '../feature-api.js';
import { ACQUISITION } from '../acquisition/service.js';
import { STORE } from '../store/service.js';
import type { Logger } from '../logger.js';
import { packagePath } from '../package-root.js';
import { SeriesQuery } from '../store/series.js';
import type { HealthCheck } from './health.js';
import type { GatewayMetrics } from './metrics.js';
import type { RulesView } from './rules-view.js';
import type { GatewayViews } from './views.js';

export const TOKEN_COOKIE = 'carbonedge_token';
const BODY_LIMIT = 16 * 1024;
const HOUR_MS = 3_600_000;

export interface ServerParts {
  ctx: GatewayContext;
  log: Logger;
  views: GatewayViews;
  rules: RulesView;
  health: HealthCheck;
  metrics: GatewayMetrics;
  token?: string;
  requestTimeoutMs: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token a request carries: `Authorization: Bearer`, else the page's cookie. */
function presented(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Paths served without the token: the page shell (login form when unauthenticated), its static files, the login. */
const PUBLIC = /^\/(|login|assets\/.*|vendor\/uplot\/.*)$/;

const apiError = (reply: FastifyReply, status: number, code: string, error: string) => reply.code(status).send({ error, code });

export async function buildServer(p: ServerParts) {
  const { ctx, views } = p;
  const app = Fastify({
    loggerInstance: p.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Node checks request timeouts every connectionsCheckingInterval (default 30 s): check each second.
    serverFactory: (handler) =>
      createServer({ requestTimeout: p.requestTimeoutMs, headersTimeout: p.requestTimeoutMs, connectionsCheckingInterval: 1000, keepAliveTimeout: 5000 }, handler),
    maxParamLength: 200,
    return503OnClosing: true,
  });
  const tokenDigest = p.token === undefined ? undefined : digest(p.token);
  const authorized = (req: FastifyRequest) => {
    if (!tokenDigest) return true;
    const t = presented(req);
    return t !== undefined && timingSafeEqual(digest(t), tokenDigest);
  };
  const setCookie = (reply: FastifyReply, token: string) =>
    reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${30 * 86400}`);

  app.addHook('onRequest', async (req, reply) => {
    const url = req.url.split('?')[0] ?? '';
    if (!PUBLIC.test(url) && !authorized(req)) return apiError(reply, 401, 'CE_HTTP_UNAUTHORIZED', 'a token is required (Authorization: Bearer TOKEN)');
  });
  app.addHook('onResponse', async (req, reply) => {
    p.metrics.requestSeconds.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.setNotFoundHandler((req, reply) => apiError(reply, 404, 'CE_HTTP_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) p.log.error({ err, url: req.url }, 'HTTP request failed');
    return apiError(reply, status, status === 500 ? 'CE_HTTP_INTERNAL' : 'CE_HTTP_BAD_REQUEST', status === 500 ? 'internal error (logged)' : `${err.code ? `${err.code}: ` : ''}${err.message}`);
  });

  // ---------------------------------------------------------------- the page
  await app.register(fastifyStatic, { root: packagePath('runtime', 'http', 'assets'), prefix: '/assets/', index: false, serveDotFiles: false });
  const uplotDir = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  await app.register(fastifyStatic, {
    root: uplotDir,
    prefix: '/vendor/uplot/',
    decorateReply: false,
    index: false,
    allowedPath: (pathName) => pathName === '/uPlot.iife.min.js' || pathName === '/uPlot.min.css',
  });
  app.get<{ Querystring: { token?: string } }>('/', async (req, reply) => {
    const q = req.query.token;
    if (tokenDigest && typeof q === 'string' && timingSafeEqual(digest(q), tokenDigest)) {
      // Once: the token moves into a cookie and out of the address bar (and the history).
      return setCookie(reply, q).redirect('/', 303);
    }
    return reply.header('cache-control', 'no-store').sendFile(authorized(req) ? 'index.html' : 'login.html');
  });
  app.post<{ Body: { token: string } }>(
    '/login',
    { schema: { body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', maxLength: 512 } } } } },
    async (req, reply) => {
      if (!tokenDigest) return { ok: true };
      if (!timingSafeEqual(digest(req.body.token), tokenDigest)) return apiError(reply, 401, 'CE_HTTP_UNAUTHORIZED', 'wrong token');
      return setCookie(reply, req.body.token).send({ ok: true });
    },
  );

  // ---------------------------------------------------------------- the API
  app.get('/api/snapshot', async () => views.snapshot());
  app.get('/api/devices', async () => ({ ts: ctx.clock.now(), devices: views.devices() }));
  app.get('/api/flow', async () => views.flow());
  app.get('/api/accounting', async (_req, reply) => views.accounting() ?? apiError(reply, 404, 'CE_HTTP_NOT_ENABLED', 'carbon accounting is not enabled (no accounting section)'));
  let series: SeriesQuery | undefined;
  app.get<{ Querystring: { hours?: number; canonical?: string } }>(
    '/api/series',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { hours: { type: 'number', minimum: 1, maximum: 168 }, canonical: { type: 'string', pattern: '^[a-z0-9_]{1,64}$' } },
        },
      },
    },
    async (req, reply) => {
      const store = ctx.services.get(STORE);
      if (!store?.persistence.isOpen) return apiError(reply, 404, 'CE_HTTP_NOT_ENABLED', 'no store on this gateway');
      series ??= new SeriesQuery(store.persistence);
      const hours = req.query.hours ?? 24;
      const from = ctx.clock.now() - hours * HOUR_MS;
      const stepMs = Math.max(60_000, Math.round((hours * HOUR_MS) / 288 / 60_000) * 60_000);
      const canonical = req.query.canonical ?? 'active_power';
      const roles = Object.fromEntries(ctx.config.devices.map((d) => [d.id, d.role]));
      return { from, stepMs, canonical, roles, ...series.series(canonical, from, stepMs) };
    },
  );
  app.get('/api/rules', async () => p.rules.view());
  app.post<{ Body: { output: string; value: unknown; forS: unknown; reason?: unknown; by?: unknown } }>(
    '/api/overrides',
    {
      schema: {
        body: {
          type: 'object',
          required: ['output', 'value', 'forS'],
          additionalProperties: false,
          properties: {
            output: { type: 'string', minLength: 1, maxLength: 200 },
            value: { type: ['boolean', 'number', 'string'] },
            forS: { type: 'number' },
            reason: { type: 'string', maxLength: 200 },
            by: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (req, reply) => {
      const r = p.rules.command({ type: 'override', ...req.body }, req.ip);
      return r.ok ? { ok: true, overrides: p.rules.view().overrides } : apiError(reply, r.code === 'CE_CMD_NOT_RUNNING' ? 409 : 400, r.code ?? 'CE_CMD_REFUSED', r.error);
    },
  );
  app.delete<{ Params: { output: string } }>('/api/overrides/:output', async (req, reply) => {
    const r = p.rules.command({ type: 'clear-override', output: req.params.output }, req.ip);
    return r.ok ? { ok: true, overrides: p.rules.view().overrides } : apiError(reply, r.code === 'CE_CMD_NOT_RUNNING' ? 409 : 400, r.code ?? 'CE_CMD_REFUSED', r.error);
  });
  app.get('/api/status', async () => views.status());
  // On-demand read of a configured device's points, through the gateway's own bus queue (read-only).
  app.post<{ Params: { id: string } }>('/api/devices/:id/read', async (req, reply) => {
    const acq = ctx.services.get(ACQUISITION);
    const device = ctx.config.devices.find((d) => d.id === req.params.id);
    if (!device) return apiError(reply, 404, 'CE_HTTP_NOT_FOUND', `no device '${req.params.id}' in this gateway's config`);
    if (!acq) return apiError(reply, 409, 'CE_HTTP_NOT_ENABLED', 'acquisition is not running');
    const readings = await acq.readDevice(device.id);
    return { device: device.id, profile: device.profile, bus: device.bus, readings };
  });
  app.get('/healthz', async (_req, reply) => {
    const h = p.health.report();
    return reply.code(h.ok ? 200 : 503).send(h);
  });
  app.get('/metrics', async (_req, reply) => reply.type(p.metrics.registry.contentType).send(await p.metrics.registry.metrics()));
  return app;
}
