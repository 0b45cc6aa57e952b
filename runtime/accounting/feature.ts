/**
 * The accounting feature: live carbon accounting from the hub's readings into the store's SQLite
 * (`acct_*` tables), carbon summaries to the outbox (streams carbon-15m, carbon-day). Service
 * `accounting` (AccountingService).
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Feature, FeatureFactory, GatewayContext } from '../gateway.js';
import type { OutboxWriter } from '../services.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { AccountingConfig, InstrumentConfig } from './config-schema.js';
import { GRID_KINDS, loadFactorLibrary, type FactorLibrary } from './factors.js';
import { fromEntry, resolveFactor, type ResolvedFactor } from './factors.js';
import { AccountingEngine, accountingDevices, type AcctSettings, type Totals } from './live.js';
import { DB_FILE_NAME } from '../store/store.js';

export interface AccountingService {
  /** Hour, day, month and year-to-date windows (exact totals). */
  windows(): Record<string, Totals & { key: string }>;
  /**
   * Record a contractual instrument pushed after start (idempotent by serials; refused with the
   * issues when evidence is missing). Another process can do the same through the store:
   * `carbonedge instruments --add` writes acct_instrument, which the engine reads at every close.
   */
  addInstrument(ins: InstrumentConfig): { added: boolean; issues: ConfigIssue[] };
  readonly engine: AccountingEngine;
}

/** Resolve the accounting section against the factor library: every problem at once. */
export function resolveAccountingSettings(
  ctx: Pick<GatewayContext, 'config'>,
  baseLib: FactorLibrary = loadFactorLibrary(),
): AcctSettings {
  const a = ctx.config.accounting as unknown as AccountingConfig;
  const file = 'config';
  const issues: ConfigIssue[] = [];
  const lib = a.factors?.length ? baseLib.withOverrides(a.factors, file) : baseLib;
  const grid = resolveFactor(a.gridFactor, lib, GRID_KINDS, 'tCO2/MWh', 'accounting/gridFactor', file, issues);
  const residual = a.residualFactor === undefined ? undefined : resolveFactor(a.residualFactor, lib, GRID_KINDS, 'tCO2/MWh', 'accounting/residualFactor', file, issues);
  const heat = resolveFactor(a.heatFactor ?? 'CN-heat-default', lib, ['heat'], 'tCO2/GJ', 'accounting/heatFactor', file, issues);
  const marketRemainder = a.marketRemainder ?? 'residual';
  if (marketRemainder === 'residual' && !residual && a.residualFactor === undefined) {
    issues.push({ file, path: '/accounting/residualFactor', message: "marketRemainder is 'residual' but no residualFactor is given" });
  }
  const heatFactors = new Map<string, ResolvedFactor>();
  const fuels: AcctSettings['fuels'] = new Map();
  for (const [id, dc] of Object.entries(a.devices ?? {})) {
    if (dc.heatFactor !== undefined) {
      const f = resolveFactor(dc.heatFactor, lib, ['heat'], 'tCO2/GJ', `accounting/devices/${id}/heatFactor`, file, issues);
      if (f) heatFactors.set(id, f);
    }
    if (dc.fuel) {
      const e = lib.get(dc.fuel);
      if (!e?.fuel) issues.push({ file, path: `/accounting/devices/${id}/fuel`, message: `unknown fuel '${dc.fuel}'` });
      else fuels.set(id, { fuelId: dc.fuel, params: e.fuel, factor: fromEntry(e) });
    }
  }
  if (issues.length || !grid || !heat) throw new ConfigError(issues, 'the accounting configuration has errors');
  const hasRenewables = ctx.config.devices.some((d) => d.role === 'pv_inverter' || d.role === 'wind_turbine');
  return {
    siteId: ctx.config.site.id,
    gatewayId: ctx.config.gateway.id,
    timezone: a.timezone ?? ctx.config.site.timezone ?? 'UTC',
    gridFactor: grid,
    remainderFactor: marketRemainder === 'residual' ? residual! : grid,
    marketRemainder,
    heatFactor: heat,
    heatFactors,
    fuels,
    onsiteAttributes: a.onsiteAttributes ?? (hasRenewables ? 'sold' : 'none'),
    closeGraceMs: a.closeGraceMs ?? 30_000,
    checkpointMs: a.checkpointMs ?? 10_000,
    uplink: a.uplink ?? true,
    instruments: a.instruments ?? [],
  };
}

export const accountingFeature: FeatureFactory = (ctx) => {
  const a = ctx.config.accounting as unknown as AccountingConfig | undefined;
  if (!a || a.enabled === false) return null;
  const log = ctx.logger.child({ feature: 'accounting' });
  const settings = resolveAccountingSettings(ctx);
  const hasPoint = (device: string, point: string) => {
    const d = ctx.config.devices.find((x) => x.id === device);
    const p = d ? ctx.profiles.get(d.profile) : undefined;
    return !!p?.points.some((x) => x.id === point || x.canonical === point);
  };
  const devices = accountingDevices(ctx.config.devices, a.devices ?? {}, hasPoint, {
    integrationFallback: a.integrationFallback ?? true,
    ...(a.gapAfterMs !== undefined ? { gapAfterMs: a.gapAfterMs } : {}),
  });
  for (const d of devices) {
    if (d.power) log.warn({ device: d.id, flows: [d.power.positive, d.power.negative].filter(Boolean) }, 'no energy counter: integrating active_power (flagged as integrated)');
  }
  const store = ctx.services.get('store') as { db: Database.Database } | undefined;
  let ownDb: Database.Database | undefined;
  let db: Database.Database;
  if (store?.db) db = store.db;
  else {
    mkdirSync(ctx.dataDir, { recursive: true });
    ownDb = new Database(path.join(ctx.dataDir, DB_FILE_NAME));
    ownDb.pragma('journal_mode = WAL');
    ownDb.pragma('synchronous = FULL');
    db = ownDb;
  }
  const outbox = ctx.services.get('outbox') as OutboxWriter | undefined;
  const engine = new AccountingEngine(settings, devices, { db, outbox, logger: log });
  const service: AccountingService = {
    engine,
    windows: () => engine.windows(),
    addInstrument: (ins) => engine.addInstrument(ins, ctx.clock.now()),
  };
  ctx.services.set('accounting', service);
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'accounting',
    async start() {
      // A first start reports from now on: quarters in which no device answers are gaps, not skipped.
      engine.begin(ctx.clock.now());
      unsubscribe = ctx.hub.subscribe((batch) => engine.ingest(batch));
      timer = setInterval(() => {
        try {
          engine.advance(ctx.clock.now());
        } catch (err) {
          log.error({ err }, 'accounting tick failed');
        }
      }, 1000);
      timer.unref();
      log.info(
        { devices: devices.map((d) => d.id), location: settings.gridFactor.id, remainder: `${settings.marketRemainder}:${settings.remainderFactor.id}` },
        'accounting started',
      );
    },
    async stop() {
      unsubscribe?.();
      if (timer) clearInterval(timer);
      engine.stop();
      ownDb?.close();
    },
  } satisfies Feature;
};
