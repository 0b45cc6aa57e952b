/**
 * `/healthz`: healthy when the buses, the store, the control loop and (if configured) the uplink
 * are; otherwise the reasons. Ages are monotonic (a wall-clock step never makes a part unhealthy).
 */
import type { GatewayContext } from '../feature-api.js';
import { ACQUISITION } from '../acquisition/service.js';
import { STORE } from '../store/service.js';
import { UPLINK } from '../uplink/service.js';
import { RULES } from '../../rules/service.js';
import { DEFAULT_TICK_MS } from '../../rules/compile-rules.js';
import { section } from '../feature-api.js';
import { monoNow } from '../types.js';

/** The uplink may be down this long (reconnecting) before it counts as unhealthy. */
const UPLINK_GRACE_MS = 60_000;

export interface HealthReport {
  ok: boolean;
  reasons: string[];
  checks: Record<string, 'ok' | 'fail' | 'off'>;
}

export class HealthCheck {
  private ticks = { count: -1, since: 0 };
  private uplinkDownSince: number | undefined;
  private readonly tickMs: number;

  constructor(private readonly ctx: GatewayContext) {
    this.tickMs = section<{ tickMs?: number }>(ctx.config, 'control')?.tickMs ?? DEFAULT_TICK_MS;
    // Not connected yet at start: the grace runs from here.
    this.uplinkDownSince = monoNow(ctx.clock);
  }

  report(): HealthReport {
    const reasons: string[] = [];
    const checks: HealthReport['checks'] = {};
    const mono = monoNow(this.ctx.clock);
    const check = (name: string, problems: string[] | undefined) => {
      checks[name] = problems === undefined ? 'off' : problems.length ? 'fail' : 'ok';
      if (problems) reasons.push(...problems.map((p) => `${name}: ${p}`));
    };
    check('buses', this.buses(mono));
    check('store', this.store());
    check('control', this.control(mono));
    check('uplink', this.uplink(mono));
    return { ok: reasons.length === 0, reasons, checks };
  }

  /** A bus is unhealthy when none of its devices has a good value within its stale age. */
  private buses(mono: number): string[] | undefined {
    if (!this.ctx.services.get(ACQUISITION)) return this.ctx.config.devices.length ? ['acquisition is not running'] : undefined;
    const problems: string[] = [];
    const hub = this.ctx.hub;
    // Devices with a good value younger than their stale age.
    const fresh = new Set<string>();
    const maxAge = new Map(this.ctx.config.devices.map((d) => [d.id, d.staleAfterMs ?? 3 * d.pollIntervalMs]));
    for (const r of hub.snapshot().values()) {
      if (r.quality === 'good' && (hub.ageMs(r.device, r.point, mono) ?? Infinity) < (maxAge.get(r.device) ?? 0)) fresh.add(r.device);
    }
    for (const b of this.ctx.config.buses) {
      const devices = this.ctx.config.devices.filter((d) => d.bus === b.id);
      if (!devices.length) continue;
      const answering = devices.some((d) => fresh.has(d.id));
      if (!answering) problems.push(`bus ${b.id}: no device answering (${devices.map((d) => d.id).join(', ')})`);
    }
    return problems;
  }

  private store(): string[] | undefined {
    const store = this.ctx.services.get(STORE);
    if (!store) return undefined;
    return store.persistence.isOpen ? [] : ['the site database is closed'];
  }

  /** The control loop must have ticked within a few of its periods. */
  private control(mono: number): string[] | undefined {
    const rules = this.ctx.services.get(RULES);
    if (!rules) return undefined;
    const count = rules.engine.ticks;
    if (count !== this.ticks.count) this.ticks = { count, since: mono };
    const quiet = mono - this.ticks.since;
    const limit = Math.max(5 * this.tickMs, 15_000);
    return quiet > limit ? [`no control tick for ${Math.round(quiet / 1000)} s (period ${this.tickMs} ms)`] : [];
  }

  private uplink(mono: number): string[] | undefined {
    const uplink = this.ctx.services.get(UPLINK);
    if (!uplink) return undefined;
    const h = uplink.health();
    if (h.connected) {
      this.uplinkDownSince = undefined;
      return [];
    }
    this.uplinkDownSince ??= mono;
    return mono - this.uplinkDownSince >= UPLINK_GRACE_MS ? [`not connected to ${h.url}${h.lastError ? ` (${h.lastError})` : ''}`] : [];
  }
}
