/**
 * Says once, at info, that a started gateway is healthy: every configured device has a good value,
 * the buses they sit on answer, and the uplink (when configured) is connected. If that takes longer
 * than the deadline, says once (warn) what is still missing, and still says "healthy" when it is.
 */
import type { Gateway } from '../../runtime/gateway.js';
import type { Logger } from '../../runtime/logger.js';
import { UPLINK } from '../../runtime/uplink/service.js';

export interface HealthSnapshot {
  devices: number;
  answering: string[];
  silent: string[];
  buses: number;
  busesUp: number;
  /** 'off' without an uplink, else 'connected' or 'not connected'. */
  uplink: 'off' | 'connected' | 'not connected';
  uplinkUrl?: string;
}

export function healthSnapshot(gw: Gateway): HealthSnapshot {
  const { config, hub, services } = gw.ctx;
  const good = new Set<string>();
  for (const r of hub.snapshot().values()) if (r.quality === 'good') good.add(r.device);
  const answering = config.devices.filter((d) => good.has(d.id)).map((d) => d.id);
  const silent = config.devices.filter((d) => !good.has(d.id)).map((d) => d.id);
  const busesUp = new Set(config.devices.filter((d) => good.has(d.id)).map((d) => d.bus)).size;
  const uplink = services.get(UPLINK);
  const h = uplink?.health();
  return {
    devices: config.devices.length,
    answering,
    silent,
    buses: config.buses.length,
    busesUp,
    uplink: !h ? 'off' : h.connected ? 'connected' : 'not connected',
    ...(h ? { uplinkUrl: h.url } : {}),
  };
}

export function isHealthy(s: HealthSnapshot): boolean {
  return s.silent.length === 0 && s.uplink !== 'not connected';
}

export function healthyMessage(s: HealthSnapshot): string {
  const uplink = s.uplink === 'off' ? 'uplink off (store only)' : `uplink ${s.uplink}${s.uplinkUrl ? ` to ${s.uplinkUrl}` : ''}`;
  return `healthy: ${s.busesUp} of ${s.buses} bus${s.buses === 1 ? '' : 'es'} up, ${s.answering.length} of ${s.devices} devices polling, ${uplink}`;
}

/** Watch until healthy (checked every `everyMs`); returns a stop function. */
export function watchHealthy(gw: Gateway, logger: Logger, opts: { deadlineMs?: number; everyMs?: number } = {}): () => void {
  const slowest = Math.max(0, ...gw.ctx.config.devices.map((d) => d.pollIntervalMs));
  const deadlineMs = opts.deadlineMs ?? Math.max(15_000, 3 * slowest);
  const started = performance.now(); // an interval: monotonic
  let warned = false;
  const timer = setInterval(() => {
    const s = healthSnapshot(gw);
    const fields = { devices: s.devices, polling: s.answering.length, buses: s.buses, busesUp: s.busesUp, uplink: s.uplink };
    if (isHealthy(s)) {
      clearInterval(timer);
      logger.info(fields, healthyMessage(s));
    } else if (!warned && performance.now() - started >= deadlineMs) {
      warned = true;
      const missing = [...(s.silent.length ? [`no good value yet from ${s.silent.join(', ')}`] : []), ...(s.uplink === 'not connected' ? ['uplink not connected'] : [])];
      logger.warn({ ...fields, silent: s.silent }, `running, not yet healthy: ${missing.join('; ')}`);
    }
  }, opts.everyMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}
