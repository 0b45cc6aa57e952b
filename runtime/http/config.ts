/**
 * The `http:` section of the site config (the local page and HTTP API) and its checks. Light: no
 * HTTP library is loaded here (the declaration and `carbonedge check` use it).
 */
import { isIP } from 'node:net';
import type { ConfigIssue } from '../config/errors.js';
import type { SiteConfig } from '../config/types.js';
import { section } from '../feature-api.js';

export interface HttpConfig {
  /** `HOST:PORT` to listen on (default 127.0.0.1:8080 when the section is present); overridden by `--http HOST:PORT`. */
  listen?: string;
  /** Bearer token the API and the page require. Needed to listen on anything but loopback. */
  token?: string;
  /** Name of an environment variable holding the token (keeps it out of the config file). */
  tokenEnv?: string;
  /** A request (headers and body) must arrive within this time, else 408 (default 10000). */
  requestTimeoutMs?: number;
}

export const DEFAULT_HTTP_LISTEN = '127.0.0.1:8080';
/** Shortest token accepted: a guessable token is no protection on a LAN. */
export const MIN_TOKEN_LENGTH = 16;

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parse `HOST:PORT` (IPv6 in brackets: `[::1]:8080`); undefined when malformed. */
export function parseListen(s: string): ListenAddress | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  if (m[1]!.startsWith('[') && isIP(host) !== 6) return undefined;
  return { host, port };
}

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The token in force: `token`, or the environment variable `tokenEnv` names (empty counts as none). */
export function resolveToken(c: HttpConfig | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const t = c?.token ?? (c?.tokenEnv ? env[c.tokenEnv] : undefined);
  return t ? t : undefined;
}

/**
 * Problems of listening on `listen` with this section: a malformed address, or a non-loopback one
 * without a token (never exposed on the LAN without a credential, and there is no default one).
 */
export function listenIssues(listen: string, c: HttpConfig | undefined, file: string, where: string, env: NodeJS.ProcessEnv = process.env): ConfigIssue[] {
  const addr = parseListen(listen);
  if (!addr) return [{ file, path: where, message: `expected HOST:PORT (e.g. 127.0.0.1:8080), got '${listen}'`, code: 'CE_CONFIG_SCHEMA' }];
  if (isLoopback(addr.host) || resolveToken(c, env)) return [];
  const hint = c?.tokenEnv ? `environment variable ${c.tokenEnv} is not set` : 'no http.token or http.tokenEnv is configured';
  return [
    {
      file,
      path: where,
      message: `refusing to serve the page and API on non-loopback address ${addr.host} without a token (${hint}); set http.token (>= ${MIN_TOKEN_LENGTH} characters) or http.tokenEnv, or listen on 127.0.0.1`,
      code: 'CE_CONFIG_HTTP_EXPOSED',
    },
  ];
}

/** JSON Schema of the section (composed into the site schema from the feature list). */
export const httpConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  description: 'Local web page and HTTP API (loopback by default; a non-loopback address needs a token)',
  properties: {
    listen: { type: 'string', minLength: 3, maxLength: 300, description: 'HOST:PORT to listen on (default 127.0.0.1:8080); --http HOST:PORT overrides it' },
    token: { type: 'string', minLength: MIN_TOKEN_LENGTH, maxLength: 512, pattern: '^[\\x21-\\x7e]+$', description: `bearer token (>= ${MIN_TOKEN_LENGTH} printable characters, no spaces)` },
    tokenEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable holding the token' },
    requestTimeoutMs: { type: 'integer', minimum: 500, maximum: 600_000, description: 'a request must arrive in full within this time, else 408 (ms, default 10000)' },
  },
};

/** `carbonedge check` and the loader: the section's address and credential. */
export function validateHttpConfig(config: SiteConfig, _profiles: unknown, file: string): ConfigIssue[] {
  const c = section<HttpConfig>(config, 'http');
  if (!c) return [];
  const issues: ConfigIssue[] = [];
  if (c.token !== undefined && c.tokenEnv !== undefined) issues.push({ file, path: '/http/token', message: 'give either token or tokenEnv, not both' });
  issues.push(...listenIssues(c.listen ?? DEFAULT_HTTP_LISTEN, c, file, '/http/listen'));
  return issues;
}
