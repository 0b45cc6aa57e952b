/**
 * The disclosure report's content, independent of its format: built from the same inventory
 * result `carbonedge inventory --json` prints (so every figure in a report equals the inventory
 * JSON), plus the reporting entity, electricity by month and the product footprint.
 */
import type { Organisation } from '../../runtime/accounting/activity-extras.js';
import type { FootprintResult } from '../../runtime/accounting/footprint.js';
import type { InventoryLine, InventoryResult } from '../../runtime/accounting/inventory.js';

export interface MonthRow {
  month: string;
  grid_import_MWh: number;
  onsite_renewable_MWh: number;
  consumption_MWh: number;
  /** Present when the source has it (the store's quarter records). */
  co2_location_t?: number;
  co2_market_t?: number;
  green_share?: number;
}

export interface FactorRow {
  id: string;
  value: string;
  unit: string;
  source: string;
  data_year?: number;
  edition?: string;
  used_for: string[];
}

export interface EvidenceRow {
  type: string;
  MWh: string;
  vintage?: string;
  serials: string[];
  evidence?: string;
}

export interface OffsetRow {
  type: string;
  tCO2: number;
  vintage?: string | number;
  project?: string;
  serials?: string[];
  retiredOn?: string;
  evidence?: string;
}

/** Fields the offsets work adds to the inventory (read when present). */
interface BalanceFields {
  offsets_t?: number;
  net_location_t?: number;
  net_market_t?: number;
  zero_carbon?: boolean;
  /** Why `zero_carbon` is false (one sentence each). */
  zero_carbon_missing?: string[];
  coverage?: { quarters?: number; complete_quarters?: number; gaps?: { start: string; devices: string[] }[]; flags?: { device: string; point: string; flag: string; ts: number }[] };
  energy_MWh?: Record<string, number>;
  meter_changes?: unknown[];
}

export type ReportInventory = InventoryResult & BalanceFields;

export interface ReportModel {
  schema: 'carbonedge-report/1';
  generated_at: string;
  source: { kind: 'activity' | 'db'; file: string };
  period: { from?: string; to?: string };
  organisation: Organisation & { name: string };
  method: {
    standards: string[];
    location_factor: string;
    market_remainder: string;
    market_remainder_statement: string;
    exports: 'gross' | 'net';
  };
  totals: {
    scope1_t: number;
    scope2_location_t: number;
    scope2_market_t: number;
    total_location_t: number;
    total_market_t: number;
  };
  scope1: { category: string; description: string; emissions_t: number; factor_id?: string }[];
  scope2: { method: 'location' | 'market'; category: string; description: string; emissions_t: number; factor_id?: string }[];
  energy: {
    electricity: { grid_import_MWh?: number; grid_export_MWh?: number; onsite_renewable_MWh?: number; consumption_MWh: number };
    fuels: { fuel: string; quantity: string; unit: string; emissions_t: number }[];
    heat: { name: string; GJ?: string; emissions_t: number }[];
  };
  green_share: { annual_volumetric: number; hourly_matched?: number; self_sufficiency: number };
  evidence: EvidenceRow[];
  balance: { offsets_t?: number; net_location_t?: number; net_market_t?: number; zero_carbon?: boolean; explanation: string[]; offsets: OffsetRow[] };
  intensity: NonNullable<InventoryResult['intensity']>;
  footprint?: FootprintResult;
  completeness: { complete: boolean; notes: string[]; quarters?: number; complete_quarters?: number; gaps: { start: string; devices: string[] }[]; flags: number; meter_changes: number };
  factors: FactorRow[];
  monthly: MonthRow[];
  inventory: ReportInventory;
}

const STANDARDS = ['GB/T 32150-2015', 'GB/T 32151', 'GHG Protocol Corporate Standard', 'GHG Protocol Scope 2 Guidance (2015)', 'GB/T 24067-2024'];

const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));

function factorRows(lines: InventoryLine[], fp?: FootprintResult): FactorRow[] {
  const rows = new Map<string, FactorRow>();
  for (const l of lines) {
    if (!l.factor_id || !l.factor_value) continue;
    const r = rows.get(l.factor_id) ?? {
      id: l.factor_id,
      value: l.factor_value,
      unit: l.factor_unit ?? '',
      source: l.factor_source ?? '',
      ...(l.factor_data_year !== undefined ? { data_year: l.factor_data_year } : {}),
      ...(l.factor_edition ? { edition: l.factor_edition } : {}),
      used_for: [],
    };
    if (!r.used_for.includes(l.description)) r.used_for.push(l.description);
    rows.set(l.factor_id, r);
  }
  for (const f of fp ? [fp.factor.grid, ...(fp.factor.onsite ? [fp.factor.onsite] : [])] : []) {
    rows.set(f.id, { id: f.id, value: f.value, unit: 'tCO2e/MWh', source: f.source, ...(f.dataYear !== undefined ? { data_year: f.dataYear } : {}), ...(f.edition ? { edition: f.edition } : {}), used_for: ['product footprint (GB/T 24067)'] });
  }
  return [...rows.values()];
}

function evidenceRows(lines: InventoryLine[]): EvidenceRow[] {
  return lines
    .filter((l) => l.category === 'instrument')
    .map((l) => ({
      type: str(l.inputs.type) ?? 'instrument',
      MWh: str(l.inputs.MWh) ?? '',
      ...(l.inputs.vintage !== undefined ? { vintage: str(l.inputs.vintage) } : {}),
      serials: Array.isArray(l.inputs.serials) ? l.inputs.serials : [],
      ...(typeof l.inputs.evidence === 'string' ? { evidence: l.inputs.evidence } : {}),
    }));
}

/** Retired offsets, from their inventory lines (category `offset`). */
function offsetRows(lines: InventoryLine[]): OffsetRow[] {
  return lines
    .filter((l) => l.category === 'offset')
    .map((l) => ({
      type: str(l.inputs.type) ?? 'offset',
      tCO2: Number(l.inputs.tCO2 ?? 0),
      ...(l.inputs.vintage !== undefined ? { vintage: str(l.inputs.vintage) } : {}),
      ...(typeof l.inputs.project === 'string' ? { project: l.inputs.project } : {}),
      ...(Array.isArray(l.inputs.serials) ? { serials: l.inputs.serials } : {}),
      ...(typeof l.inputs.retiredOn === 'string' ? { retiredOn: l.inputs.retiredOn } : {}),
      ...(typeof l.inputs.evidence === 'string' ? { evidence: l.inputs.evidence } : {}),
    }));
}

export interface BuildArgs {
  source: { kind: 'activity' | 'db'; file: string };
  inventory: ReportInventory;
  organisation?: Organisation;
  monthly: MonthRow[];
  footprint?: FootprintResult;
  electricity: { grid_import_MWh?: number; grid_export_MWh?: number; onsite_renewable_MWh?: number };
  now: Date;
}

/** The report model of one inventory. */
export function buildReport(a: BuildArgs): ReportModel {
  const inv = a.inventory;
  const lines = inv.lines;
  const explanation = inv.zero_carbon_missing ?? [];
  const gaps = inv.coverage?.gaps ?? [];
  const flags = inv.coverage?.flags ?? [];
  const complete = gaps.length === 0 && !flags.some((f) => f.flag === 'reset' || f.flag === 'implausible' || f.flag === 'unaccounted');
  return {
    schema: 'carbonedge-report/1',
    generated_at: a.now.toISOString(),
    source: a.source,
    period: inv.period ?? {},
    organisation: { ...a.organisation, name: a.organisation?.name ?? inv.site ?? 'site' },
    method: {
      standards: STANDARDS,
      location_factor: inv.method.location_factor,
      market_remainder: inv.method.market_remainder,
      market_remainder_statement: inv.method.market_remainder_statement,
      exports: inv.method.exports,
    },
    totals: {
      scope1_t: inv.scope1_t,
      scope2_location_t: inv.scope2_location_t,
      scope2_market_t: inv.scope2_market_t,
      total_location_t: inv.total_location_t,
      total_market_t: inv.total_market_t,
    },
    scope1: lines.filter((l) => l.scope === '1').map((l) => ({ category: l.category, description: l.description, emissions_t: l.emissions_t, ...(l.factor_id ? { factor_id: l.factor_id } : {}) })),
    scope2: lines
      .filter((l) => l.scope === '2-location' || l.scope === '2-market')
      .map((l) => ({ method: l.scope === '2-location' ? ('location' as const) : ('market' as const), category: l.category, description: l.description, emissions_t: l.emissions_t, ...(l.factor_id ? { factor_id: l.factor_id } : {}) })),
    energy: {
      electricity: { ...a.electricity, consumption_MWh: inv.consumption_MWh },
      fuels: lines.filter((l) => l.category === 'fuel').map((l) => ({ fuel: l.description.replace(/ combustion$/, ''), quantity: str(l.inputs.quantity) ?? '', unit: str(l.inputs.unit) ?? '', emissions_t: l.emissions_t })),
      // heat appears once per Scope 2 method: list it once, at its location-based line
      heat: lines.filter((l) => l.category === 'heat' && l.scope === '2-location').map((l) => ({ name: l.description, ...(l.inputs.GJ !== undefined ? { GJ: str(l.inputs.GJ) } : {}), emissions_t: l.emissions_t })),
    },
    green_share: { annual_volumetric: inv.green_share_annual, ...(inv.green_share_hourly !== undefined ? { hourly_matched: inv.green_share_hourly } : {}), self_sufficiency: inv.self_sufficiency },
    evidence: evidenceRows(lines),
    balance: {
      ...(inv.offsets_t !== undefined ? { offsets_t: inv.offsets_t } : {}),
      ...(inv.net_location_t !== undefined ? { net_location_t: inv.net_location_t } : {}),
      ...(inv.net_market_t !== undefined ? { net_market_t: inv.net_market_t } : {}),
      ...(inv.zero_carbon !== undefined ? { zero_carbon: inv.zero_carbon } : {}),
      explanation,
      offsets: offsetRows(lines),
    },
    intensity: inv.intensity ?? [],
    ...(a.footprint ? { footprint: a.footprint } : {}),
    completeness: {
      complete,
      notes: inv.warnings,
      ...(inv.coverage?.quarters !== undefined ? { quarters: inv.coverage.quarters } : {}),
      ...(inv.coverage?.complete_quarters !== undefined ? { complete_quarters: inv.coverage.complete_quarters } : {}),
      gaps,
      flags: flags.length,
      meter_changes: inv.meter_changes?.length ?? 0,
    },
    factors: factorRows(lines, a.footprint),
    monthly: a.monthly,
    inventory: inv,
  };
}
