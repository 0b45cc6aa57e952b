/**
 * `carbonedge inventory --db FILE --from DATE --to DATE`: the inventory of a period from the
 * gateway's own store, as the exact sum of its closed quarter-hours (acct_quarter). Same public
 * fields as the activity-file inventory, plus coverage (gaps are reported, never filled).
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ConfigError } from '../config/errors.js';
import { Calendar, QUARTER_MS } from './calendar.js';
import { Q } from './exact.js';
import type { FactorLibrary } from './factors.js';
import type { InventoryLine, InventoryResult } from './inventory.js';
import { listOffsets, offsetBalance, offsetLine, offsetsForPeriod, type OffsetSpec } from './offsets.js';

interface QuarterRecord {
  startMs: number;
  endMs: number;
  day: string;
  site: string;
  /** Site time zone (IANA); absent only in records older than the field. */
  timezone?: string;
  method: {
    locationFactor: { id: string; value: string; unit: string; source: string; dataYear?: number };
    marketRemainder: 'residual' | 'grid-average';
    remainderFactor: { id: string; value: string; unit: string; source: string; dataYear?: number };
    remainderStatement: string;
    heatFactor: { id: string };
    onsiteAttributes: string;
  };
  energy_Wh: Record<string, number>;
  co2_g: Record<string, string>;
  fuels: { device: string; fuel: string; quantity: string; unit: string; basis_quantity: string; basis_unit: string; conversion?: string; factor: string; factor_value?: string; factor_unit?: string; factor_source?: string; co2_g: string }[];
  heat: { device: string; kind?: string; quantity?: string; unit?: string; GJ: string; conversion?: string; factor: string; factor_value?: string; factor_unit?: string; factor_source?: string; co2_g: string }[];
  process?: { device: string; quantity: string; unit: string; factor: string; factor_value: string; factor_unit?: string; factor_source: string; co2_g: string }[];
  production: { device: string; line: string; quantity: string; unit: string; co2_location_g: string; co2_market_g: string }[];
  quality: { complete: boolean; gaps: { device: string; from: number; to: number | null }[]; flags: { device: string; point: string; flag: string; ts: number }[]; integrated: string[] };
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Quarter records of [from, to]: dates are local days (inclusive), ISO times instants ([from, to)). */
export function quartersFromDb(db: Database.Database, from: string, to: string): QuarterRecord[] {
  let rows: { record: string }[];
  if (DATE_RE.test(from) && DATE_RE.test(to)) {
    rows = db.prepare('SELECT record FROM acct_quarter WHERE day >= ? AND day <= ? ORDER BY start_ms').all(from, to) as { record: string }[];
  } else {
    const f = Date.parse(from);
    const t = Date.parse(to);
    if (Number.isNaN(f) || Number.isNaN(t)) throw new ConfigError([{ file: 'command line', path: '--from/--to', message: `expected dates YYYY-MM-DD or ISO times, got '${from}' and '${to}'` }]);
    rows = db.prepare('SELECT record FROM acct_quarter WHERE start_ms >= ? AND end_ms <= ? ORDER BY start_ms').all(f, t) as { record: string }[];
  }
  return rows.map((r) => JSON.parse(r.record) as QuarterRecord);
}

const num = (q: Q) => Number(q.toFixed(6));
const mwh = (wh: number) => Q.of(wh, 1_000_000);

/** Inventory of the quarter records (exact sums; grams -> tonnes). */
export function inventoryFromQuarters(quarters: QuarterRecord[], period: { from: string; to: string }, lib?: FactorLibrary, offsets: readonly OffsetSpec[] = []): InventoryResult {
  if (!quarters.length) {
    throw new ConfigError([{ file: 'store', path: '/acct_quarter', message: `no closed quarter-hours between ${period.from} and ${period.to}: nothing to report (a gap is not a zero)` }], 'no accounting data');
  }
  const sum = (get: (r: QuarterRecord) => string | undefined) => quarters.reduce((a, r) => a.add(Q.from(get(r) ?? '0')), Q.ZERO);
  const whSum = (k: string, rs = quarters) => rs.reduce((a, r) => a + (r.energy_Wh[k] ?? 0), 0);
  const t = (g: Q) => g.div(1_000_000);
  const lines: InventoryLine[] = [];
  const warnings: string[] = [];

  // group by method so a factor change inside the period stays traceable
  const groups = new Map<string, QuarterRecord[]>();
  for (const r of quarters) {
    const k = JSON.stringify(r.method);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  if (groups.size > 1) warnings.push(`the accounting method changed within the period (${groups.size} methods): lines are given per method`);

  // Fuels, heat and process per device and factor (a factor change inside the period is a new line).
  type Src = { factor: string; factor_value?: string; factor_unit?: string; factor_source?: string };
  const srcOf = (x: Src, lib?: FactorLibrary) => {
    const e = x.factor_source ? undefined : lib?.get(x.factor);
    return {
      factor_id: x.factor,
      ...(x.factor_value ?? (e ? String(e.value) : undefined) ? { factor_value: x.factor_value ?? String(e!.value) } : {}),
      ...(x.factor_unit ?? e?.unit ? { factor_unit: x.factor_unit ?? e!.unit } : {}),
      factor_source: x.factor_source ?? (e ? `${e.source} (library entry; the record did not carry its source)` : 'not recorded'),
      ...(e?.dataYear ? { factor_data_year: e.dataYear } : {}),
    };
  };
  const fuels = new Map<string, { device: string; fuel: string; unit: string; basisUnit: string; conversion?: string; src: Src; qty: Q; basis: Q; g: Q }>();
  for (const r of quarters) {
    for (const f of r.fuels ?? []) {
      const k = `${f.device}|${f.factor}|${f.factor_value ?? ''}`;
      const x = fuels.get(k) ?? { device: f.device, fuel: f.fuel, unit: f.unit, basisUnit: f.basis_unit, conversion: f.conversion?.split(' = ').slice(0, 2).join(' = '), src: f, qty: Q.ZERO, basis: Q.ZERO, g: Q.ZERO };
      fuels.set(k, { ...x, qty: x.qty.add(Q.from(f.quantity)), basis: x.basis.add(Q.from(f.basis_quantity)), g: x.g.add(Q.from(f.co2_g)) });
    }
  }
  for (const f of fuels.values()) {
    const e = t(f.g);
    lines.push({
      scope: '1',
      category: 'fuel',
      description: `${f.fuel} combustion (meter ${f.device})`,
      inputs: { quantity: f.qty.toString(), unit: f.unit, basis_quantity: f.basis.toString(), basis_unit: f.basisUnit, ...(f.conversion ? { conversion: f.conversion } : {}) },
      formula: `E = FC x NCV x CC x OF x 44/12 = ${f.basis.toString()} ${f.basisUnit} x ${f.src.factor_value ? Q.from(f.src.factor_value).toFixed(9) : 'EF'}${f.src.factor_unit ? ` ${f.src.factor_unit}` : ''} (exact sum of quarter-hours)`,
      ...srcOf(f.src, lib),
      emissions_t: num(e),
      emissions_exact: e.toString(),
    });
  }
  const processes = new Map<string, { device: string; unit: string; src: Src; qty: Q; g: Q }>();
  for (const r of quarters) {
    for (const p of r.process ?? []) {
      const k = `${p.device}|${p.factor_value}`;
      const x = processes.get(k) ?? { device: p.device, unit: p.unit, src: p, qty: Q.ZERO, g: Q.ZERO };
      processes.set(k, { ...x, qty: x.qty.add(Q.from(p.quantity)), g: x.g.add(Q.from(p.co2_g)) });
    }
  }
  for (const p of processes.values()) {
    const e = t(p.g);
    lines.push({
      scope: '1',
      category: 'process',
      description: `process emissions (counter ${p.device})`,
      inputs: { quantity: p.qty.toString(), unit: p.unit },
      formula: `E = AD x EF = ${p.qty.toString()} ${p.unit} x ${p.src.factor_value} ${p.src.factor_unit ?? ''}`.trimEnd(),
      ...srcOf(p.src),
      emissions_t: num(e),
      emissions_exact: e.toString(),
    });
  }
  const processT = t(sum((r) => r.co2_g.process));
  const linedProcess = Q.sum([...processes.values()].map((p) => t(p.g)));
  if (!processT.sub(linedProcess).isZero()) {
    const rest = processT.sub(linedProcess);
    lines.push({ scope: '1', category: 'process', description: 'process emissions (records without per-counter detail)', inputs: {}, formula: 'E = units x EF', emissions_t: num(rest), emissions_exact: rest.toString() });
  }

  for (const rs of groups.values()) {
    const m = rs[0]!.method;
    const imp = whSum('grid_import', rs);
    const cov = whSum('instrument_covered', rs);
    const nullWh = whSum('null_power', rs);
    const loc = t(rs.reduce((a, r) => a.add(Q.from(r.co2_g.electricity_location ?? '0')), Q.ZERO));
    const mkt = t(rs.reduce((a, r) => a.add(Q.from(r.co2_g.electricity_market ?? '0')), Q.ZERO));
    const nul = t(rs.reduce((a, r) => a.add(Q.from(r.co2_g.null_power ?? '0')), Q.ZERO));
    const fl = (f: QuarterRecord['method']['locationFactor']) => ({
      factor_id: f.id,
      factor_value: f.value,
      factor_unit: f.unit,
      factor_source: f.source,
      ...(f.dataYear ? { factor_data_year: f.dataYear } : {}),
    });
    lines.push({
      scope: '2-location',
      category: 'electricity',
      description: 'purchased electricity, location-based (gross import)',
      inputs: { gridImportMWh: mwh(imp).toString(), gridExportMWh: mwh(whSum('grid_export', rs)).toString(), exports: 'gross', quarters: rs.length },
      formula: `E = ${mwh(imp).toString()} MWh x ${m.locationFactor.value} ${m.locationFactor.unit}`,
      ...fl(m.locationFactor),
      emissions_t: num(loc),
      emissions_exact: loc.toString(),
    });
    lines.push({
      scope: '2-market',
      category: 'electricity-instruments',
      description: 'grid electricity covered by contractual instruments',
      inputs: { coveredMWh: mwh(cov).toString() },
      formula: `E = ${mwh(cov).toString()} MWh x 0`,
      emissions_t: 0,
      emissions_exact: '0',
    });
    lines.push({
      scope: '2-market',
      category: 'electricity-remainder',
      description: `grid electricity not covered by instruments (${m.marketRemainder} remainder)`,
      inputs: { uncoveredMWh: mwh(imp - cov).toString(), marketRemainder: m.marketRemainder },
      formula: `E = ${mwh(imp - cov).toString()} MWh x ${m.remainderFactor.value} ${m.remainderFactor.unit}`,
      ...fl(m.remainderFactor),
      emissions_t: num(mkt),
      emissions_exact: mkt.toString(),
    });
    const ren = whSum('renewable_consumed', rs);
    if (ren > 0) {
      lines.push(
        m.onsiteAttributes === 'sold'
          ? {
              scope: '2-market',
              category: 'onsite-null-power',
              description: 'on-site renewable power consumed, attributes SOLD: null power, not green',
              inputs: { onsiteRenewableConsumedMWh: mwh(nullWh).toString(), onsiteAttributesRetained: false },
              formula: `E = ${mwh(nullWh).toString()} MWh x ${m.remainderFactor.value} ${m.remainderFactor.unit}`,
              ...fl(m.remainderFactor),
              emissions_t: num(nul),
              emissions_exact: nul.toString(),
            }
          : {
              scope: '2-market',
              category: 'onsite-renewable',
              description: 'on-site renewable power consumed (incl. via battery), attributes retained',
              inputs: { onsiteRenewableConsumedMWh: mwh(ren).toString(), onsiteAttributesRetained: true },
              formula: `E = ${mwh(ren).toString()} MWh x 0`,
              emissions_t: 0,
              emissions_exact: '0',
            },
      );
    }
  }
  const heat = new Map<string, { device: string; kind?: string; unit?: string; conversion?: string; src: Src; qty: Q; gj: Q; g: Q }>();
  for (const r of quarters) {
    for (const h of r.heat ?? []) {
      const k = `${h.device}|${h.factor}|${h.factor_value ?? ''}`;
      const x = heat.get(k) ?? { device: h.device, kind: h.kind, unit: h.unit, src: h, qty: Q.ZERO, gj: Q.ZERO, g: Q.ZERO };
      heat.set(k, { ...x, qty: x.qty.add(Q.from(h.quantity ?? h.GJ)), gj: x.gj.add(Q.from(h.GJ)), g: x.g.add(Q.from(h.co2_g)) });
    }
  }
  for (const h of heat.values()) {
    const e = t(h.g);
    const what = h.kind === 'steam' ? 'purchased steam' : h.kind === 'hot-water' ? 'purchased hot water' : 'purchased heat';
    for (const scope of ['2-location', '2-market'] as const) {
      lines.push({
        scope,
        category: 'heat',
        description: `${what} (meter ${h.device})`,
        inputs: { GJ: h.gj.toString(), ...(h.unit ? { quantity: h.qty.toString(), unit: h.unit } : {}) },
        formula: `E = ${h.gj.toString()} GJ x ${h.src.factor_value ?? 'EF'}${h.src.factor_unit ? ` ${h.src.factor_unit}` : ''}`,
        ...srcOf(h.src, lib),
        emissions_t: num(e),
        emissions_exact: e.toString(),
      });
    }
  }

  const scope1 = t(sum((r) => r.co2_g.scope1));
  const s2loc = t(sum((r) => r.co2_g.scope2_location));
  const s2mkt = t(sum((r) => r.co2_g.scope2_market));
  const totLoc = t(sum((r) => r.co2_g.total_location));
  const totMkt = t(sum((r) => r.co2_g.total_market));

  const L = whSum('consumption');
  const retained = quarters[0]!.method.onsiteAttributes !== 'sold';
  const ratio = (a: number) => (L > 0 ? num(Q.min(Q.ONE, Q.max(Q.ZERO, Q.of(a, L)))) : 0);
  // Hourly matching per local hour of the site, bucketed by UTC instant (as the live hour windows).
  const calendars = new Map<string, Calendar>();
  const byHour = new Map<number, { l: number; c: number }>();
  for (const r of quarters) {
    const tz = r.timezone ?? 'UTC';
    let cal = calendars.get(tz);
    if (!cal) calendars.set(tz, (cal = new Calendar(tz)));
    const h = cal.hour(r.startMs).start;
    const x = byHour.get(h) ?? { l: 0, c: 0 };
    byHour.set(h, { l: x.l + (r.energy_Wh.consumption ?? 0), c: x.c + (r.energy_Wh.clean ?? 0) });
  }
  let matched = 0;
  for (const x of byHour.values()) matched += Math.max(0, Math.min(x.l, x.c));

  const gaps = quarters.filter((r) => !r.quality.complete);
  const flags = quarters.flatMap((r) => r.quality.flags ?? []);
  if (gaps.length) warnings.push(`${gaps.length} of ${quarters.length} quarter-hours have data gaps (devices: ${[...new Set(gaps.flatMap((g) => g.quality.gaps.map((x) => x.device)))].join(', ')}); energy of a gap is booked when the counter is next read`);
  if (flags.some((f) => f.flag === 'reset' || f.flag === 'implausible')) warnings.push('counter resets or implausible jumps were flagged and not counted');
  const m0 = quarters[0]!.method;
  // What keeps the zero-carbon balance open: incomplete quarters, and quarters of the period not in the store.
  const open: string[] = [];
  if (gaps.length) open.push(`${gaps.length} of ${quarters.length} quarter-hours have data gaps or flags (incomplete)`);
  const expected = expectedQuarters(period, quarters[0]!.timezone ?? 'UTC');
  if (expected !== undefined && quarters.length < expected) open.push(`${expected - quarters.length} of ${expected} quarter-hours of the period are not in the store (not yet closed, or lost)`);
  for (const o of offsets) lines.push(offsetLine(o));
  const balance = offsetBalance(totLoc, totMkt, offsets, open);
  const prod = new Map<string, { line: string; unit: string; qty: Q; loc: Q; mkt: Q }>();
  for (const r of quarters) {
    for (const p of r.production ?? []) {
      const x = prod.get(p.device) ?? { line: p.line, unit: p.unit, qty: Q.ZERO, loc: Q.ZERO, mkt: Q.ZERO };
      prod.set(p.device, { ...x, qty: x.qty.add(Q.from(p.quantity)), loc: x.loc.add(Q.from(p.co2_location_g)), mkt: x.mkt.add(Q.from(p.co2_market_g)) });
    }
  }
  const result: InventoryResult & { coverage: Record<string, unknown>; energy_MWh: Record<string, number> } = {
    site: quarters[0]!.site,
    period,
    method: {
      location_factor: m0.locationFactor.id,
      market_remainder: m0.marketRemainder,
      market_remainder_factor: m0.remainderFactor.id,
      market_remainder_statement: m0.remainderStatement,
      exports: 'gross',
      heat_factor: m0.heatFactor.id,
    },
    scope1_t: num(scope1),
    scope2_location_t: num(s2loc),
    scope2_market_t: num(s2mkt),
    total_location_t: num(totLoc),
    total_market_t: num(totMkt),
    green_share_annual: ratio((retained ? whSum('renewable_consumed') : 0) + whSum('instrument_covered')),
    green_share_hourly: retained ? ratio(matched) : 0,
    self_sufficiency: ratio(whSum('onsite_consumed')),
    consumption_MWh: num(mwh(L)),
    offsets_t: balance.offsets_t,
    net_location_t: balance.net_location_t,
    net_market_t: balance.net_market_t,
    zero_carbon: balance.zero_carbon,
    zero_carbon_missing: balance.zero_carbon_missing,
    ...(prod.size
      ? {
          intensity: [...prod.values()].map((p) => ({
            line: p.line,
            unit: p.unit,
            quantity: num(p.qty),
            kgCO2_per_unit_location: p.qty.isZero() ? 0 : num(p.loc.div(1000).div(p.qty)),
            kgCO2_per_unit_market: p.qty.isZero() ? 0 : num(p.mkt.div(1000).div(p.qty)),
          })),
        }
      : {}),
    lines,
    warnings,
    exact: { scope1_t: scope1.toString(), scope2_location_t: s2loc.toString(), scope2_market_t: s2mkt.toString(), total_location_t: totLoc.toString(), total_market_t: totMkt.toString(), ...balance.exact },
    energy_MWh: Object.fromEntries(
      [...new Set(quarters.flatMap((r) => Object.keys(r.energy_Wh)))].map((k) => [k, num(mwh(whSum(k)))]),
    ),
    coverage: {
      quarters: quarters.length,
      complete_quarters: quarters.length - gaps.length,
      first: new Date(quarters[0]!.startMs).toISOString(),
      last_end: new Date(quarters[quarters.length - 1]!.endMs).toISOString(),
      gaps: gaps.map((g) => ({ start: new Date(g.startMs).toISOString(), devices: g.quality.gaps.map((x) => x.device) })),
      flags,
    },
  };
  return result;
}

/** Quarter-hours in a period of local dates (inclusive) or instants; undefined when not computable. */
function expectedQuarters(period: { from: string; to: string }, timezone: string): number | undefined {
  let f: number;
  let t: number;
  if (DATE_RE.test(period.from) && DATE_RE.test(period.to)) {
    const cal = new Calendar(timezone);
    f = cal.dayStart(Date.parse(`${period.from}T12:00:00Z`));
    t = cal.dayStart(Date.parse(`${period.to}T12:00:00Z`) + 86_400_000);
  } else {
    f = Date.parse(period.from);
    t = Date.parse(period.to);
  }
  return Number.isFinite(f) && Number.isFinite(t) && t > f ? Math.floor((t - f) / QUARTER_MS) : undefined;
}

/**
 * Open a store read-only for accounting reads and run `fn` on it; refused with a ConfigError when
 * the file is missing or has no accounting tables. Closed afterwards.
 */
export function withAccountingDb<T>(file: string, fn: (db: Database.Database) => T): T {
  if (!existsSync(file)) throw new ConfigError([{ file, path: '', message: 'no such store database' }], 'cannot read the store');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'acct_quarter'").pluck().get();
    if (!has) throw new ConfigError([{ file, path: '', message: 'the store has no accounting tables (was accounting configured?)' }], 'no accounting data');
    return fn(db);
  } finally {
    db.close();
  }
}

/** The inventory of [from, to] in an open store (its closed quarters plus the offsets claimed for the period), and those quarters. */
export function inventoryOfDb(db: Database.Database, from: string, to: string, lib?: FactorLibrary): { inventory: InventoryResult; quarters: QuarterRecord[] } {
  const offsets = DATE_RE.test(from) && DATE_RE.test(to) ? offsetsForPeriod(listOffsets(db).map((r) => r.spec), from, to) : [];
  const quarters = quartersFromDb(db, from, to);
  return { inventory: inventoryFromQuarters(quarters, { from, to }, lib, offsets), quarters };
}

export function inventoryFromDb(file: string, from: string, to: string, lib?: FactorLibrary): InventoryResult {
  return withAccountingDb(file, (db) => inventoryOfDb(db, from, to, lib).inventory);
}
