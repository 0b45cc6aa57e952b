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

/** A property of a parsed JSON body (undefined when the body is not an object). */
const field = (body: unknown, key: string): unknown => (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, key) ? Reflect.get(body, key) : undefined);

interface OverrideBody {
  output: string;
  value: boolean | number | string;
  forS: number;
  reason?: string;
  by?: string;
}
const OVERRIDE_KEYS = new Set(['output', 'value', 'forS', 'reason', 'by']);

/** The override a body asks for, or why it is not `{ output, value, forS, reason?, by? }` (the rules' command then checks the values). */
function parseOverride(body: unknown): OverrideBody | string {
  const usage = 'body must be {"output": "device[.point]", "value": true|number|"mode", "forS": seconds, "reason"?: "...", "by"?: "..."}';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return usage;
  const unknown = Object.keys(body).filter((k) => !OVERRIDE_KEYS.has(k));
  if (unknown.length) return `unknown field(s) ${unknown.join(', ')}; ${usage}`;
  const output = field(body, 'output');
  const value = field(body, 'value');
  const forS = field(body, 'forS');
  const reason = field(body, 'reason');
  const by = field(body, 'by');
  if (typeof output !== 'string' || !output || output.length > 200) return usage;
  if (typeof value !== 'boolean' && typeof value !== 'number' && typeof value !== 'string') return usage;
  if (typeof forS !== 'number') return usage;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 200)) return usage;
  if (by !== undefined && (typeof by !== 'string' || by.length > 64)) return usage;
  return { output, value, forS, ...(reason !== undefined ? { reason } : {}), ...(by !== undefined ? { by } : {}) };
}

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
    routerOptions: { maxParamLength: 200 },
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
  app.post<{ Body: unknown }>('/login', async (req, reply) => {
    const token = field(req.body, 'token');
    if (typeof token !== 'string' || token.length > 512) return apiError(reply, 400, 'CE_HTTP_BAD_REQUEST', 'body must be {"token": "..."}');
    if (!tokenDigest) return { ok: true };
    if (!timingSafeEqual(digest(token), tokenDigest)) return apiError(reply, 401, 'CE_HTTP_UNAUTHORIZED', 'wrong token');
    return setCookie(reply, token).send({ ok: true });
  });

  // ---------------------------------------------------------------- the API
  app.get('/api/snapshot', async () => views.snapshot());
  // What the page shows every few seconds, in one request.
  app.get('/api/live', async () => ({ flow: views.flow(), devices: views.devices(), status: views.status(), health: p.health.report() }));
  app.get('/api/devices', async () => ({ ts: ctx.clock.now(), devices: views.devices() }));
  app.get('/api/flow', async () => views.flow());
  app.get('/api/accounting', async (_req, reply) => views.accounting() ?? apiError(reply, 404, 'CE_HTTP_NOT_ENABLED', 'carbon accounting is not enabled (no accounting section)'));
  let series: SeriesQuery | undefined;
  app.get<{ Querystring: Record<string, string | undefined> }>('/api/series', async (req, reply) => {
    const { hours: h, canonical: c, ...rest } = req.query;
    const hours = h === undefined ? 24 : Number(h);
    const canonical = c ?? 'active_power';
    if (Object.keys(rest).length || !(hours >= 1 && hours <= 168) || !/^[a-z0-9_]{1,64}$/.test(canonical)) {
      return apiError(reply, 400, 'CE_HTTP_BAD_REQUEST', 'query: hours (1..168, default 24), canonical (a canonical point name, default active_power)');
    }
    const store = ctx.services.get(STORE);
    if (!store?.persistence.isOpen) return apiError(reply, 404, 'CE_HTTP_NOT_ENABLED', 'no store on this gateway');
    series ??= new SeriesQuery(store.persistence);
    const from = ctx.clock.now() - hours * HOUR_MS;
    const stepMs = Math.max(60_000, Math.round((hours * HOUR_MS) / 288 / 60_000) * 60_000);
    const roles = Object.fromEntries(ctx.config.devices.map((d) => [d.id, d.role]));
    return { from, stepMs, canonical, roles, ...series.series(canonical, from, stepMs) };
  });
  app.get('/api/rules', async () => p.rules.view());
  app.post<{ Body: unknown }>('/api/overrides', async (req, reply) => {
    const b = parseOverride(req.body);
    if (typeof b === 'string') return apiError(reply, 400, 'CE_HTTP_BAD_REQUEST', b);
    const r = p.rules.command({ type: 'override', ...b }, req.ip);
    return r.ok ? { ok: true, overrides: p.rules.view().overrides } : apiError(reply, r.code === 'CE_CMD_NOT_RUNNING' ? 409 : 400, r.code ?? 'CE_CMD_REFUSED', r.error);
  });
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
