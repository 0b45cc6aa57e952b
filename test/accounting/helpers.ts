import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Reading } from '../../runtime/types.js';
import type { AnyProfile } from '../../drivers/profiles/types.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { DEMO_DEVICES, DemoSite, type DemoDevice } from '../../tools/simulator/demo-site.js';
import { DEMO_DEVICE_SPECS } from '../../tools/simulator/demo-config.js';
import type { SiteConfig } from '../../runtime/config/types.js';
import { loadFactorLibrary } from '../../runtime/accounting/factors.js';
import { resolveAccountingSettings } from '../../runtime/accounting/feature-impl.js';
import { AccountingEngine, accountingDevices, type AcctSettings } from '../../runtime/accounting/live.js';
import type { AccountingConfig } from '../../runtime/accounting/config-schema.js';
import type { OutboxWriter } from '../../runtime/services.js';
import { Gateway } from '../../runtime/gateway.js';
import { silentLogger } from '../../runtime/logger.js';
import { meteringFeature } from '../../runtime/metering/feature.js';
import { storeFeature } from '../../runtime/store/feature.js';
import { ACCOUNTING as ACCOUNTING_KEY, accountingFeature } from '../../runtime/accounting/feature.js';
import type { Logger } from '../../runtime/logger.js';

export const profiles: Map<string, AnyProfile> = loadBuiltinProfiles().profiles;

export const ACCOUNTING: AccountingConfig = {
  gridFactor: 'CN-2023-national',
  residualFactor: 'CN-2023-residual',
  marketRemainder: 'residual',
  onsiteAttributes: 'retained',
  closeGraceMs: 30_000,
  checkpointMs: 60_000,
};

export function demoConfig(accounting: AccountingConfig = ACCOUNTING): SiteConfig {
  return {
    version: 1,
    site: { id: 'demo-factory', timezone: 'Asia/Shanghai' },
    gateway: { id: 'gw-test' },
    buses: [{ id: 'demo', type: 'tcp', host: '127.0.0.1', port: 1 }],
    devices: DEMO_DEVICES.map((id) => ({ id, role: DEMO_DEVICE_SPECS[id].role, bus: 'demo', unitId: DEMO_DEVICE_SPECS[id].unitId, profile: DEMO_DEVICE_SPECS[id].profile, pollIntervalMs: 5000 })),
    accounting: accounting as unknown as Record<string, unknown>,
  };
}

/** Readings of one demo device at ts, with canonical names from its profile. */
export function deviceReadings(site: DemoSite, device: DemoDevice, ts: number, onlyAccounting = false): Reading[] {
  const profile = profiles.get(DEMO_DEVICE_SPECS[device].profile)!;
  const byId = new Map(profile.points.map((p) => [p.id, p]));
  const out: Reading[] = [];
  for (const [point, value] of Object.entries(site.values(device))) {
    const p = byId.get(point);
    if (!p) continue;
    if (onlyAccounting && !['energy_import', 'energy_export', 'active_power'].includes(p.canonical ?? '')) continue;
    out.push({ device, point, ...(p.canonical ? { canonical: p.canonical } : {}), value: typeof value === 'boolean' ? value : value, unit: p.unit, quality: 'good', ts, source: `demo#${device}` });
  }
  return out;
}

export function tmpDb(): { db: Database.Database; file: string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'acct-'));
  const file = path.join(dir, 'carbonedge.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return { db, file, dir };
}

export class MemoryOutbox implements OutboxWriter {
  readonly records: { stream: string; record: Record<string, any> }[] = [];
  enqueue(stream: string, record: Record<string, unknown>) {
    this.records.push({ stream, record: JSON.parse(JSON.stringify(record)) });
    return { seq: this.records.length };
  }
  of(stream: string) {
    return this.records.filter((r) => r.stream === stream).map((r) => r.record);
  }
}

export function makeEngine(db: Database.Database, opts: { config?: SiteConfig; outbox?: OutboxWriter; logger?: Logger; settings?: Partial<AcctSettings>; hasPoint?: (device: string, point: string) => boolean } = {}) {
  const config = opts.config ?? demoConfig();
  const a = config.accounting as unknown as AccountingConfig;
  const settings = { ...resolveAccountingSettings({ config }, loadFactorLibrary()), ...opts.settings };
  const hasPoint = opts.hasPoint ?? ((device: string, point: string) => {
    const d = config.devices.find((x) => x.id === device)!;
    return !!profiles.get(d.profile)?.points.some((x) => x.id === point || x.canonical === point);
  });
  const devices = accountingDevices(config.devices, a.devices ?? {}, hasPoint, { integrationFallback: a.integrationFallback ?? true });
  return new AccountingEngine(settings, devices, { db, outbox: opts.outbox, ...(opts.logger ? { logger: opts.logger } : {}) });
}

/** Midnight in Asia/Shanghai (UTC+8) of 2024-06-01. */
export const DAY0 = Date.parse('2024-05-31T16:00:00Z');

/**
 * The demo site for one simulated day (from a minute before 2024-06-01 00:00 Asia/Shanghai to two
 * minutes after its end, 30 s polls) through metering, store and accounting into a fresh store.
 */
export async function demoDayStore(seed = 11): Promise<{ file: string; dir: string; stats: AccountingEngine['stats'] }> {
  const { dir, file, db: probe } = tmpDb();
  probe.close();
  const clock = { t: DAY0 - 60_000, now() { return this.t; } };
  const gw = new Gateway({ config: demoConfig(), profiles, logger: silentLogger(), options: { dataDir: dir, clock }, features: [meteringFeature, storeFeature, accountingFeature] });
  await gw.start();
  const site = new DemoSite({ seed, startMs: DAY0 - 60_000, utcOffsetMinutes: 480 });
  for (let t = DAY0 - 60_000; t <= DAY0 + 86_400_000 + 120_000; t += 30_000) {
    clock.t = t;
    site.step(t);
    gw.ctx.hub.publish(DEMO_DEVICES.flatMap((d) => deviceReadings(site, d, t)));
  }
  const stats = { ...gw.ctx.services.get(ACCOUNTING_KEY)!.engine.stats };
  await gw.stop();
  return { file, dir, stats };
}
