/**
 * A client of a running gateway's HTTP API (`carbonedge status`, `carbonedge read` on a port the
 * gateway holds). The address: --url, else the site config's http.listen (a wildcard address is
 * asked on loopback), else 127.0.0.1:8080. The token: --token, else $CARBONEDGE_TOKEN, else the
 * config's http.token / http.tokenEnv.
 */
import { section } from '../../runtime/feature-api.js';
import { DEFAULT_HTTP_LISTEN, parseListen, resolveToken, type HttpConfig } from '../../runtime/http/config.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { UsageError } from './command.js';

export interface GatewayApi {
  url: string;
  get(path: string): Promise<unknown>;
  post(path: string, body?: unknown): Promise<unknown>;
}

/** Why a request to the gateway failed, with the address asked. */
export class GatewayApiError extends Error {
  override name = 'GatewayApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The base URL of the running gateway's API. */
export function gatewayUrl(opts: { url?: string; config?: SiteConfig }): string {
  if (opts.url !== undefined) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new UsageError(`--url expects http://HOST:PORT, got '${opts.url}'`);
    }
    if (u.protocol !== 'http:') throw new UsageError(`--url expects http://HOST:PORT, got '${opts.url}'`);
    return u.origin;
  }
  const listen = (opts.config && section<HttpConfig>(opts.config, 'http')?.listen) ?? DEFAULT_HTTP_LISTEN;
  const addr = parseListen(listen);
  if (!addr) throw new UsageError(`http.listen '${listen}' is not HOST:PORT`);
  const host = addr.host === '0.0.0.0' || addr.host === '::' ? '127.0.0.1' : addr.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
}

export function gatewayApi(url: string, token: string | undefined, timeoutMs = 15_000): GatewayApi {
  const call = async (method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new GatewayApiError(`no gateway API answering at ${url} (${cause}); is the gateway running with an http section or --http HOST:PORT?`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GatewayApiError(`${url}${path} answered ${res.status} with something other than JSON`, res.status);
    }
    if (!res.ok) {
      const e = json as { error?: string; code?: string };
      const hint = res.status === 401 ? ' (give --token TOKEN or set CARBONEDGE_TOKEN)' : '';
      throw new GatewayApiError(`${url}${path}: ${res.status} ${e.code ?? ''} ${e.error ?? ''}${hint}`.replace(/\s+/g, ' ').trim(), res.status);
    }
    return json;
  };
  return { url, get: (p) => call('GET', p), post: (p, b) => call('POST', p, b ?? {}) };
}

/** The token to present: --token, $CARBONEDGE_TOKEN, or the config's. */
export function gatewayToken(flag: string | undefined, config?: SiteConfig): string | undefined {
  return flag ?? (process.env.CARBONEDGE_TOKEN || undefined) ?? resolveToken(config ? section<HttpConfig>(config, 'http') : undefined);
}

