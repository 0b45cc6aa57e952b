/** The accounting feature's implementation (declaration: ./feature.ts). */
import type { Feature, GatewayContext } from '../feature-api.js';
import { section } from '../feature-api.js';
import { OUTBOX } from '../services.js';
import { METERING } from '../metering/service.js';
import { recordOffset } from './offsets.js';
import { applyMeterChanges, checkMeterChange, listMeterChanges, recordMeterChange } from './meter-change.js';
import { ACCOUNTING, type AccountingService } from './service.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { AccountingConfig, InstrumentConfig } from './config-schema.js';
import { GRID_KINDS, LOCATION_KINDS, loadFactorLibrary, type FactorLibrary } from './factors.js';
import { fromEntry, resolveFactor, type ResolvedFactor } from './factors.js';
import { AccountingEngine, accountingDevices, type AcctSettings } from './live.js';
import { RollingTotals } from './rolling.js';

/** Resolve the accounting section against the factor library: every problem at once. */
export function resolveAccountingSettings(
  ctx: Pick<GatewayContext, 'config'>,
  baseLib: FactorLibrary = loadFactorLibrary(),
): AcctSettings {
  const file = 'config';
  const a = section<AccountingConfig>(ctx.config, 'accounting');
  if (!a) throw new ConfigError([{ file, path: '/accounting', message: 'no accounting section' }]);
  const issues: ConfigIssue[] = [];
  const lib = a.factors?.length ? baseLib.withOverrides(a.factors, file) : baseLib;
  const grid = resolveFactor(a.gridFactor, lib, LOCATION_KINDS, 'tCO2/MWh', 'accounting/gridFactor', file, issues);
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

export async function createAccountingFeature(ctx: GatewayContext, a: AccountingConfig): Promise<Feature> {
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
  // The site database, shared with the store (or opened for accounting alone).
  const database = await ctx.database();
  const db = database.persistence.db;
  const outbox = ctx.services.get(OUTBOX);
  const metering = ctx.services.get(METERING);
  const meterChangesSeen = new Set<number>();
  const engine = new AccountingEngine(settings, devices, { db, outbox, logger: log, ...(metering ? { metering: metering.stage } : {}) });
  const rolling = new RollingTotals(db);
  const service: AccountingService = {
    engine,
    windows: () => engine.windows(),
    addInstrument: (ins) => engine.addInstrument(ins, ctx.clock.now()),
    rolling: (ms) => rolling.totals(ctx.clock.now() - ms),
    onsiteAttributes: settings.onsiteAttributes,
    addMeterChange: (spec) => {
      const issues = checkMeterChange(spec, 'meter-change', new Set(ctx.config.devices.map((d) => d.id)));
      if (issues.length) return { added: false, issues };
      const r = recordMeterChange(db, spec, ctx.clock.now());
      applyMeterChanges(db, meterChangesSeen, (c) => engine.meterChange(c));
      const row = listMeterChanges(db).find((x) => x.device === r.change.device && x.point === r.change.point && x.at === r.change.at);
      const refused = row?.status.startsWith('refused') ? row.status : undefined;
      return { added: r.added, issues: refused ? [{ file: 'meter-change', path: '/at', message: refused }] : [] };
    },
    addOffset: (o) => {
      const r = recordOffset(db, o, ctx.clock.now());
      if (r.added) log.info({ offset: r.key, tCO2: o.tCO2, type: o.type }, 'offset recorded');
      return { added: r.added, issues: r.issues };
    },
  };
  // Offsets from the config are recorded at every start (idempotent by key), like instruments.
  for (const o of a.offsets ?? []) {
    const r = service.addOffset(o);
    if (r.issues.length) log.error({ offset: o, issues: r.issues.map((i) => i.message) }, 'offset NOT recorded: it is not claimed');
  }
  ctx.services.provide(ACCOUNTING, service, 'accounting');
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'accounting',
    async start() {
      // A first start reports from now on: quarters in which no device answers are gaps, not skipped.
      engine.begin(ctx.clock.now());
      // Readings with the metering stage's counter deltas, the same the store books.
      unsubscribe = metering ? metering.subscribe((batch, events) => engine.ingest(batch, events)) : ctx.hub.subscribe((batch) => engine.ingest(batch));
      timer = setInterval(() => {
        try {
          // Meter changes recorded by another process (carbonedge meter-change) reach the stage here.
          applyMeterChanges(db, meterChangesSeen, (c) => {
            const r = engine.meterChange(c);
            if (!r.applied) log.error({ change: c, reason: r.reason }, 'meter change NOT applied');
            return r;
          });
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
      database.release();
    },
  };
}
