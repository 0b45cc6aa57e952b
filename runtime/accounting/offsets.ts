/**
 * Offsets (retired carbon credits) and the zero-carbon balance (Guiding Opinions, path 6; the
 * reference's section 8). An offset is never netted inside gross emissions: the inventory reports
 * gross totals, the offsets and the net balance as separate fields (`offsets_t`, `net_location_t`,
 * `net_market_t`, `zero_carbon`).
 *
 * One entry, the same in an activity file, the site config (`accounting.offsets`), the CLI
 * (`carbonedge offsets --add`) and the MQTT instruments channel (`type: add-offset`):
 * `{ type: CCER, tCO2: 500, vintage: 2023, project: "...", serials: ["..."], retiredOn: 2024-03-01, evidence: "..." }`.
 * Checks (errors, never a silent claim), as for certificates: evidence (serials or a checkable
 * reference), malformed or duplicate serials, serials claimed by another offset, vintage after the
 * retirement, a retirement date that is not a date.
 */
import type Database from 'better-sqlite3';
import type { ConfigIssue } from '../config/errors.js';
import { migrateAccounting } from './acct-db.js';
import { evidenceProblem } from './evidence.js';
import { Q } from './exact.js';
import { countSerials } from './serials.js';

/** Preferred type (China Certified Emission Reduction); others are allowed with the type stated. */
export const PREFERRED_OFFSET_TYPE = 'CCER';

export interface OffsetSpec {
  /** CCER (preferred), VCS, GS, CDM, ... : the registry/standard of the credit, stated in every output. */
  type: string;
  tCO2: number;
  vintage: number | string;
  /** Project id in its registry. */
  project: string;
  serials?: string[];
  /** Retirement date (YYYY-MM-DD); YAML may give it as a date. */
  retiredOn: string | Date;
  /** Retirement certificate / registry record (document number or URL). */
  evidence?: string;
  /** The reporting period the credit is retired for (default: the vintage... see `offsetClaimPeriod`). */
  claimFor?: { from: string; to: string };
}

const dateText = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' };

/** JSON Schema of one offset entry (site config, activity file, MQTT command: the same object). */
export const offsetSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'tCO2', 'vintage', 'project', 'retiredOn'],
  properties: {
    type: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9.-]{1,31}$', description: 'CCER (preferred), or VCS, GS, CDM ... stated in every output' },
    tCO2: { type: 'number', exclusiveMinimum: 0 },
    vintage: { type: ['integer', 'string'], description: 'year (or YYYY-MM) of the reductions' },
    project: { type: 'string', minLength: 1 },
    serials: { type: 'array', items: { type: 'string', minLength: 1 } },
    retiredOn: { ...dateText, description: 'retirement date YYYY-MM-DD' },
    evidence: { type: 'string', minLength: 1 },
    claimFor: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: dateText, to: dateText } },
  },
};

/** The retirement date as YYYY-MM-DD (YAML turns an unquoted date into a Date). */
export function retiredOnText(o: Pick<OffsetSpec, 'retiredOn'>): string {
  return o.retiredOn instanceof Date ? o.retiredOn.toISOString().slice(0, 10) : o.retiredOn;
}

/** The entry with `retiredOn` as text (what is stored and shown). */
export function normalizeOffset(o: OffsetSpec): OffsetSpec & { retiredOn: string } {
  return { ...o, retiredOn: retiredOnText(o) };
}

/**
 * The reporting period an offset is retired for: `claimFor`, else the calendar year of its
 * vintage (a credit of vintage 2023 retired in March 2024 offsets the 2023 inventory).
 */
export function offsetClaimPeriod(o: OffsetSpec): { from: string; to: string } {
  if (o.claimFor) return o.claimFor;
  const y = String(o.vintage).slice(0, 4);
  return { from: `${y}-01-01`, to: `${y}-12-31` };
}

/** A stable key: type and serials, else type/project/vintage/tCO2/retiredOn. */
export function offsetKey(o: OffsetSpec): string {
  return o.serials?.length ? `${o.type}:${o.serials.join(',')}` : `${o.type}:${o.project}:${o.vintage}:${o.tCO2}:${retiredOnText(o)}`;
}

/** Every problem of one (schema-valid) offset; `where` prefixes the paths. */
export function checkOffset(o: OffsetSpec, file: string, where: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const code = 'CE_CONFIG_EVIDENCE' as const;
  if (!o.serials?.length && !o.evidence) {
    issues.push({ file, code, path: where, message: `missing evidence: offset ${o.type} ${o.tCO2} tCO2 (project ${o.project}) has neither registry serials nor a retirement record (evidence)` });
  }
  if (o.evidence !== undefined) {
    const weak = evidenceProblem(o.evidence);
    if (weak) issues.push({ file, code, path: `${where}/evidence`, message: weak });
  }
  if (o.serials?.length) {
    const { duplicates, bad } = countSerials(o.serials);
    if (bad.length) issues.push({ file, code, path: `${where}/serials`, message: `malformed serial range(s): ${bad.join(', ')} (expected PREFIX000001..PREFIX000100)` });
    if (duplicates.length) issues.push({ file, code, path: `${where}/serials`, message: `duplicate serials (a credit can be claimed once): ${duplicates.join(', ')}` });
  }
  const retired = retiredOnText(o);
  if (Number.isNaN(Date.parse(`${retired}T00:00:00Z`))) issues.push({ file, path: `${where}/retiredOn`, message: `retiredOn '${retired}' is not a date (YYYY-MM-DD)` });
  const vintageYear = Number(String(o.vintage).slice(0, 4));
  if (!/^\d{4}(-\d{2})?$/.test(String(o.vintage))) issues.push({ file, path: `${where}/vintage`, message: `vintage '${o.vintage}' is not a year (YYYY or YYYY-MM)` });
  else if (vintageYear > Number(retired.slice(0, 4))) issues.push({ file, path: `${where}/vintage`, message: `vintage ${o.vintage} is after the retirement (${retired}): a credit is retired after its reductions happened` });
  return issues;
}

/** Every problem of a list of offsets, including serials claimed by two entries. */
export function checkOffsets(list: readonly OffsetSpec[], file: string, base: string): ConfigIssue[] {
  const issues = list.flatMap((o, i) => checkOffset(o, file, `${base}/${i}`));
  const dup = countSerials(list.flatMap((o) => o.serials ?? [])).duplicates;
  if (list.length > 1 && dup.length) issues.push({ file, code: 'CE_CONFIG_EVIDENCE', path: base, message: `the same offset serials appear in more than one entry (double claim): ${dup.join(', ')}` });
  return issues;
}

// ------------------------------------------------------------------ balance

export interface OffsetBalance {
  offsets_t: number;
  net_location_t: number;
  net_market_t: number;
  zero_carbon: boolean;
  /** Empty when zero_carbon is true; else what is missing, one sentence each. */
  zero_carbon_missing: string[];
  exact: { offsets_t: string; net_location_t: string; net_market_t: string };
}

const num = (q: Q) => Number(q.toFixed(6));

/**
 * The net balance: `net_location_t = total_location_t - offsets_t`, `net_market_t =
 * total_market_t - offsets_t`; `zero_carbon` only when `net_market_t <= 0` and nothing is open
 * (`open`: errors or gaps of the period, each a sentence).
 */
export function offsetBalance(totalLocation: Q, totalMarket: Q, offsets: readonly OffsetSpec[], open: readonly string[]): OffsetBalance {
  const off = Q.sum(offsets.map((o) => Q.from(o.tCO2)));
  const netLoc = totalLocation.sub(off);
  const netMkt = totalMarket.sub(off);
  const missing: string[] = [];
  if (netMkt.cmp(Q.ZERO) > 0) {
    missing.push(
      `net market-based balance is ${netMkt.toFixed(6)} tCO2 > 0: gross market-based ${totalMarket.toFixed(6)} t, offsets ${off.toFixed(6)} t${offsets.length ? '' : ' (no retired offsets recorded for the period)'}; reduce, cover with green power, or retire ${netMkt.toFixed(6)} t more`,
    );
  }
  missing.push(...open);
  return {
    offsets_t: num(off),
    net_location_t: num(netLoc),
    net_market_t: num(netMkt),
    zero_carbon: missing.length === 0,
    zero_carbon_missing: missing,
    exact: { offsets_t: off.toString(), net_location_t: netLoc.toString(), net_market_t: netMkt.toString() },
  };
}

/** The info line of an offset (inventory `lines`): stated type, never inside a scope total. */
export function offsetLine(o: OffsetSpec): {
  scope: 'info';
  category: 'offset';
  description: string;
  inputs: Record<string, string | number | string[] | undefined>;
  formula: string;
  emissions_t: number;
  emissions_exact: string;
} {
  const retired = retiredOnText(o);
  const preferred = o.type === PREFERRED_OFFSET_TYPE ? '' : ` (type ${o.type}, not CCER: stated)`;
  return {
    scope: 'info',
    category: 'offset',
    description: `offset ${o.type} ${o.tCO2} tCO2, vintage ${o.vintage}, project ${o.project}, retired ${retired}${preferred}`,
    inputs: { type: o.type, tCO2: String(o.tCO2), vintage: String(o.vintage), project: o.project, serials: o.serials, retiredOn: retired, evidence: o.evidence ?? (o.serials?.length ? `${o.serials.length} serial entries` : undefined) },
    formula: 'retired credit: subtracted in the net balance only (offsets_t), never from gross emissions',
    emissions_t: 0,
    emissions_exact: '0',
  };
}

// ------------------------------------------------------------------ store

/**
 * Record an offset in `acct_offset` (idempotent by key). Refused with the issues when the checks
 * fail or its serials are already claimed by a recorded offset.
 */
export function recordOffset(db: Database.Database, spec: OffsetSpec, nowMs: number, file = 'offset'): { added: boolean; key: string; issues: ConfigIssue[] } {
  const o = normalizeOffset(spec);
  const issues = checkOffset(o, file, '');
  if (issues.length) return { added: false, key: '', issues };
  migrateAccounting(db);
  const key = offsetKey(o);
  if (o.serials?.length) {
    const others = listOffsets(db).filter((r) => r.key !== key && r.spec.serials?.length);
    const clash = countSerials([...others.flatMap((r) => r.spec.serials!), ...o.serials]).duplicates;
    if (clash.length) return { added: false, key, issues: [{ file, code: 'CE_CONFIG_EVIDENCE', path: '/serials', message: `offset serials already claimed by a recorded offset: ${clash.join(', ')}` }] };
  }
  const r = db.prepare('INSERT OR IGNORE INTO acct_offset (key, spec, t_co2, retired_on, added_ms) VALUES (?, ?, ?, ?, ?)').run(key, JSON.stringify(o), String(o.tCO2), o.retiredOn, nowMs);
  return { added: r.changes > 0, key, issues: [] };
}

/** Every recorded offset. */
export function listOffsets(db: Database.Database): { key: string; spec: OffsetSpec & { retiredOn: string }; addedMs: number }[] {
  const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'acct_offset'").pluck().get();
  if (!has) return [];
  const rows = db.prepare('SELECT key, spec, added_ms FROM acct_offset ORDER BY retired_on, added_ms, key').all() as { key: string; spec: string; added_ms: number }[];
  return rows.map((r) => ({ key: r.key, spec: JSON.parse(r.spec) as OffsetSpec & { retiredOn: string }, addedMs: r.added_ms }));
}

/** Offsets whose claim period lies within [from, to] (local dates, inclusive). */
export function offsetsForPeriod<T extends OffsetSpec>(all: readonly T[], from: string, to: string): T[] {
  return all.filter((o) => {
    const p = offsetClaimPeriod(o);
    return p.from >= from.slice(0, 10) && p.to <= to.slice(0, 10);
  });
}
