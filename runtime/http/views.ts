/**
 * The JSON views of a running gateway the API serves (README "HTTP API and local page"): read
 * from the readings hub and the parts' services, never written to. One instance per gateway.
 */
import type { GatewayContext } from '../feature-api.js';
import { ACQUISITION, type PollHealth } from '../acquisition/service.js';
import { ACCOUNTING } from '../accounting/service.js';
import { greenShares } from '../accounting/quarter.js';
import type { Totals } from '../accounting/model.js';
import { Q } from '../accounting/exact.js';
import { STORE } from '../store/service.js';
import { UPLINK } from '../uplink/service.js';
import type { Quality, Reading } from '../types.js';
import { monoNow } from '../types.js';

const DAY_MS = 86_400_000;
/** Worst first: a device's quality is its worst point's. */
const QUALITY_ORDER: Quality[] = ['comm-error', 'out-of-range', 'stale', 'good'];

export interface DeviceRow {
  id: string;
  name?: string;
  role: string;
  profile: string;
  bus: string;
  /** The bus's serial device path or host:port (how `carbonedge read` finds a device the gateway holds). */
  port: string;
  /** Modbus unit id, or DL/T 645 meter address. */
  unitId?: number;
  address?: string;
  quality: Quality | 'unknown';
  powerW: number | null;
  energyKwh: number | null;
  lastGoodTs: number | null;
  lastGoodAgeMs: number | null;
  polls: number;
  errors: number;
  skipped: number;
  backoff: PollHealth['backedOff'] | null;
  lastError: string | null;
}

export interface FlowView {
  ts: number;
  /** W; grid + = import, battery + = discharge, pv + = generation. */
  gridW: number | null;
  pvW: number | null;
  batteryW: number | null;
  heatPumpW: number | null;
  loadsW: number | null;
  /** grid + pv + battery: what the site consumes. */
  consumptionW: number | null;
  /** consumption - heat pump - metered loads (unmetered consumers). */
  otherW: number | null;
  socPct: number | null;
  /** Devices whose power was not good (the flow leaves them out). */
  missing: string[];
}

const good = (r: Reading | undefined): number | undefined => (r && r.quality === 'good' && typeof r.value === 'number' ? r.value : undefined);
const kg = (g: string | undefined) => (g === undefined ? 0 : Number(Q.from(g).div(1000).toFixed(3)));

export class GatewayViews {
  /** Wall time of each device's latest good reading. */
  private readonly lastGood = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(private readonly ctx: GatewayContext) {
    for (const r of ctx.hub.snapshot().values()) this.noteGood(r);
    this.unsubscribe = ctx.hub.subscribe((batch) => {
      for (const r of batch) this.noteGood(r);
    });
  }

  close(): void {
    this.unsubscribe();
  }

  private noteGood(r: Reading): void {
    if (r.quality === 'good' && r.ts > (this.lastGood.get(r.device) ?? 0)) this.lastGood.set(r.device, r.ts);
  }

  /** Every latest value with its quality and age. */
  snapshot(): { ts: number; values: (Reading & { ageMs: number | null })[] } {
    const mono = monoNow(this.ctx.clock);
    const values = [...this.ctx.hub.snapshot().values()].map((r) => ({ ...r, ageMs: this.ctx.hub.ageMs(r.device, r.point, mono) ?? null }));
    return { ts: this.ctx.clock.now(), values };
  }

  /** One row per configured device: values, quality, last good read, poll errors, backoff. */
  devices(): DeviceRow[] {
    const health = new Map((this.ctx.services.get(ACQUISITION)?.pollHealth() ?? []).map((h) => [h.device, h]));
    const byDevice = new Map<string, Reading[]>();
    for (const r of this.ctx.hub.snapshot().values()) (byDevice.get(r.device) ?? byDevice.set(r.device, []).get(r.device)!).push(r);
    const now = this.ctx.clock.now();
    const ports = new Map(this.ctx.config.buses.map((b) => [b.id, 'path' in b ? b.path : `${b.host}:${b.port}`]));
    return this.ctx.config.devices.map((d) => {
      const readings = byDevice.get(d.id) ?? [];
      const h = health.get(d.id);
      const quality = QUALITY_ORDER.find((q) => readings.some((r) => r.quality === q)) ?? 'unknown';
      const canon = (c: string) => readings.find((r) => r.canonical === c);
      const energy = good(canon(d.role === 'pv_inverter' ? 'energy_export' : 'energy_import')) ?? good(canon('energy_import')) ?? good(canon('energy_export'));
      const lastGood = this.lastGood.get(d.id);
      return {
        id: d.id,
        ...(d.name ? { name: d.name } : {}),
        role: d.role,
        profile: d.profile,
        bus: d.bus,
        port: ports.get(d.bus) ?? '',
        ...(d.unitId !== undefined ? { unitId: d.unitId } : {}),
        ...(d.address !== undefined ? { address: d.address } : {}),
        quality,
        powerW: good(canon('active_power')) ?? null,
        energyKwh: energy ?? null,
        lastGoodTs: lastGood ?? null,
        lastGoodAgeMs: lastGood === undefined ? null : Math.max(0, now - lastGood),
        polls: h?.polls ?? 0,
        errors: h?.failed ?? 0,
        skipped: h?.skipped ?? 0,
        backoff: h?.backedOff ?? null,
        lastError: readings.find((r) => r.error)?.error ?? null,
      };
    });
  }

  /** Power flow between grid, PV, battery, heat pump and loads, from one snapshot of the hub. */
  flow(): FlowView {
    const snap = this.ctx.hub.snapshot();
    const missing: string[] = [];
    const sum = (roles: string[]): number | null => {
      const devices = this.ctx.config.devices.filter((d) => roles.includes(d.role));
      if (!devices.length) return null;
      let total = 0;
      for (const d of devices) {
        const r = [...snap.values()].find((x) => x.device === d.id && x.canonical === 'active_power');
        const w = good(r);
        if (w === undefined) missing.push(d.id);
        else total += w;
      }
      return total;
    };
    const gridW = sum(['grid_meter']);
    const pvW = sum(['pv_inverter', 'wind_turbine']);
    const batteryW = sum(['battery']);
    const heatPumpW = sum(['heat_pump']);
    const loadsW = sum(['load']);
    const consumptionW = gridW === null && pvW === null && batteryW === null ? null : (gridW ?? 0) + (pvW ?? 0) + (batteryW ?? 0);
    const battery = this.ctx.config.devices.find((d) => d.role === 'battery');
    const soc = battery ? good([...snap.values()].find((x) => x.device === battery.id && x.canonical === 'soc')) : undefined;
    return {
      ts: this.ctx.clock.now(),
      gridW,
      pvW,
      batteryW,
      heatPumpW,
      loadsW,
      consumptionW,
      otherW: consumptionW === null ? null : consumptionW - (heatPumpW ?? 0) - (loadsW ?? 0),
      socPct: soc ?? null,
      missing,
    };
  }

  /** Today, this month and the rolling 24 h: energy, CO2 (location- and market-based), green share. */
  accounting(): Record<string, unknown> | null {
    const acct = this.ctx.services.get(ACCOUNTING);
    if (!acct) return null;
    const w = acct.windows();
    const view = (t: Totals, key: string) => ({
      key,
      quarters: t.quarters,
      completeQuarters: t.completeQuarters,
      energyKwh: Object.fromEntries(Object.entries(t.wh).map(([k, v]) => [k, v / 1000])),
      co2Kg: { location: kg(t.co2g.total_location), market: kg(t.co2g.total_market) },
      green: greenShares(t.wh, acct.onsiteAttributes, t.matchedWh),
    });
    return {
      note: 'closed quarter-hours only (the open one is added when it closes)',
      today: w.day ? view(w.day, w.day.key) : null,
      month: w.month ? view(w.month, w.month.key) : null,
      rolling24h: view(acct.rolling(DAY_MS), 'last 24 h'),
    };
  }

  /** Store and uplink state: backlog, oldest unsent, last acknowledgement, dropped records. */
  status(): Record<string, unknown> {
    const store = this.ctx.services.get(STORE);
    const uplink = this.ctx.services.get(UPLINK);
    const s = store?.stats();
    const now = this.ctx.clock.now();
    return {
      ts: now,
      site: this.ctx.config.site.id,
      gateway: this.ctx.config.gateway.id,
      dryRun: !!this.ctx.config.gateway.dryRun,
      store: s
        ? {
            file: s.file,
            usedBytes: s.usedBytes,
            maxBytes: s.maxBytes,
            readingsPersisted: s.readingsPersisted,
            backlogRecords: s.outbox.records,
            backlogBytes: s.outbox.bytes,
            oldestUnsentAgeMs: s.outbox.oldestCreated === undefined ? 0 : Math.max(0, now - s.outbox.oldestCreated),
            dropped: s.dropped,
          }
        : null,
      uplink: uplink ? uplink.health() : null,
    };
  }
}
