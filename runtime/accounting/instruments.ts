/**
 * Contractual instruments (GEC green certificates, green-power contracts, PPAs, I-RECs) for
 * market-based Scope 2: recorded in the site config (`accounting.instruments`) or pushed later,
 * by the running gateway's service (`accounting.addInstrument`) or by `carbonedge instruments
 * --add` writing into the store. Every path goes through `recordInstrument`: the same checks
 * (evidence, serial counts), the same idempotent key, the same table (`acct_instrument`). The live
 * engine reads that table at every quarter-hour close, so an instrument added by another process
 * covers grid import from the next closing quarter of its validity period on.
 */
import type Database from 'better-sqlite3';
import type { ConfigIssue } from '../config/errors.js';
import type { ValidateFunction } from 'ajv';
import { ajvIssues } from '../config/ajv-issues.js';
import { schemaValidator } from '../config/precompiled.js';
import { migrateAccounting } from './acct-db.js';
import { accountingConfigSchema, type InstrumentConfig } from './config-schema.js';
import { Q } from './exact.js';
import { countSerials } from './serials.js';
import { gecValidity } from './quality.js';

/** A stable key for an instrument (its serials, or type/MWh/vintage/evidence). */
export function instrumentKey(i: InstrumentConfig): string {
  return i.serials?.length ? `${i.type}:${i.serials.join(',')}` : `${i.type}:${i.MWh}:${i.vintage ?? ''}:${i.evidence ?? ''}`;
}

let validator: ValidateFunction | undefined;

/**
 * Every problem with an instrument: its shape (the config section's schema), missing evidence
 * (neither serials nor an evidence reference), malformed or duplicate serials, GEC serials not
 * matching the MWh (1 GEC = 1 MWh), a validity period that ends before it starts.
 */
export function checkInstrument(ins: unknown, file = 'instrument', where = ''): ConfigIssue[] {
  validator ??= schemaValidator('instrument', (accountingConfigSchema.properties as { instruments: { items: object } }).instruments.items);
  if (!validator(ins)) return ajvIssues(validator.errors, file, ins).map((i) => ({ ...i, path: `${where}${i.path}` }));
  const x = ins as InstrumentConfig;
  const issues: ConfigIssue[] = [];
  if (!x.serials?.length && !x.evidence) {
    issues.push({ file, code: 'CE_CONFIG_EVIDENCE', path: where, message: `missing evidence: ${x.type} of ${x.MWh} MWh has neither serials nor an evidence reference (contract, settlement or retirement record)` });
  }
  if (x.type === 'GEC' && !Number.isInteger(x.MWh)) {
    issues.push({ file, code: 'CE_CONFIG_EVIDENCE', path: `${where}/MWh`, message: `${x.MWh} MWh of GEC: GECs are issued in whole certificates (1 GEC = 1 MWh)` });
  }
  if (x.serials?.length) {
    const { count, duplicates, bad } = countSerials(x.serials);
    if (bad.length) issues.push({ file, path: `${where}/serials`, message: `malformed serial range(s): ${bad.join(', ')} (expected PREFIX000001..PREFIX000100)` });
    if (duplicates.length) issues.push({ file, path: `${where}/serials`, message: `duplicate serials (a certificate can be claimed once): ${duplicates.join(', ')}` });
    if (x.type === 'GEC' && !Q.of(count).eq(Q.from(x.MWh))) issues.push({ file, path: `${where}/serials`, message: `${count} GEC serials do not cover ${x.MWh} MWh (1 GEC = 1 MWh)` });
  }
  if (x.validFrom && x.validTo && x.validTo < x.validFrom) issues.push({ file, path: `${where}/validTo`, message: `validTo ${x.validTo} is before validFrom ${x.validFrom}` });
  return issues;
}

/**
 * The consumption period an instrument may cover, ms: validFrom..validTo (local days, inclusive),
 * else for a GEC two years from its production month (`vintage` YYYY-MM; a YYYY vintage: from
 * January to 24 months after December), else its vintage year, else unlimited. `dayStart(ts)` gives the start of the local day of ts.
 */
export function instrumentPeriod(ins: InstrumentConfig, dayStart: (ts: number) => number): { from: number; to: number } {
  const local = (date: string) => dayStart(Date.parse(`${date.slice(0, 10)}T12:00:00Z`));
  if (ins.validFrom || ins.validTo) {
    return { from: ins.validFrom ? local(ins.validFrom) : 0, to: ins.validTo ? local(ins.validTo) + 86_400_000 : Number.MAX_SAFE_INTEGER };
  }
  // A GEC is valid two years from its production month (NEA), not only in its vintage year.
  const gec = ins.type === 'GEC' && ins.vintage !== undefined ? gecValidity(ins.vintage) : undefined;
  if (gec) return { from: local(gec.from), to: local(gec.to) };
  const y = ins.vintage !== undefined ? String(ins.vintage).slice(0, 4) : undefined;
  if (y && /^\d{4}$/.test(y)) return { from: local(`${y}-01-01`), to: local(`${Number(y) + 1}-01-01`) };
  return { from: 0, to: Number.MAX_SAFE_INTEGER };
}

export interface InstrumentRow {
  key: string;
  spec: InstrumentConfig;
  totalWh: number;
  remainingWh: number;
  validFrom: number;
  validTo: number;
  addedMs: number;
}

/**
 * Record an instrument in `acct_instrument` (idempotent by key: the same serials pushed twice are
 * recorded once). Returns the issues instead of recording when evidence is missing or the serials
 * do not add up: an unproven MWh is never claimed.
 */
export function recordInstrument(
  db: Database.Database,
  ins: InstrumentConfig,
  dayStart: (ts: number) => number,
  nowMs: number,
  file = 'instrument',
): { added: boolean; key: string; issues: ConfigIssue[] } {
  const issues = checkInstrument(ins, file);
  const key = issues.length ? '' : instrumentKey(ins);
  if (issues.length) return { added: false, key, issues };
  migrateAccounting(db);
  const { from, to } = instrumentPeriod(ins, dayStart);
  const wh = Number(Q.from(ins.MWh).mul(1_000_000).floor());
  // Serials already claimed by another recorded instrument are refused (a certificate counts once).
  if (ins.serials?.length) {
    const others = listInstruments(db).filter((r) => r.key !== key && r.spec.serials?.length);
    const clash = countSerials([...others.flatMap((r) => r.spec.serials!), ...ins.serials]).duplicates;
    if (clash.length) return { added: false, key, issues: [{ file, path: '/serials', message: `serials already claimed by a recorded instrument: ${clash.join(', ')}` }] };
  }
  const r = db
    .prepare('INSERT OR IGNORE INTO acct_instrument (key, spec, total_wh, remaining_wh, valid_from_ms, valid_to_ms, added_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(key, JSON.stringify(ins), wh, wh, from, to, nowMs);
  return { added: r.changes > 0, key, issues: [] };
}

/** Every recorded instrument with its remaining balance. */
export function listInstruments(db: Database.Database): InstrumentRow[] {
  const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'acct_instrument'").pluck().get();
  if (!has) return [];
  return (
    db.prepare('SELECT key, spec, total_wh, remaining_wh, valid_from_ms, valid_to_ms, added_ms FROM acct_instrument ORDER BY valid_from_ms, added_ms, key').all() as {
      key: string;
      spec: string;
      total_wh: number;
      remaining_wh: number;
      valid_from_ms: number;
      valid_to_ms: number;
      added_ms: number;
    }[]
  ).map((r) => ({ key: r.key, spec: JSON.parse(r.spec) as InstrumentConfig, totalWh: r.total_wh, remainingWh: r.remaining_wh, validFrom: r.valid_from_ms, validTo: r.valid_to_ms, addedMs: r.added_ms }));
}
