/**
 * Meter-change records: a meter replaced (or reset) on purpose, with the old counter's final
 * reading, the new counter's initial reading and the time. Recorded in `acct_meter_change` by
 * `carbonedge meter-change`, the MQTT instruments channel (`type: "meter-change"`) or the service;
 * the running accounting applies new records to the metering stage at every tick, so the first
 * reading of the new meter closes the old counter exactly (runtime/metering/stage.ts) instead of
 * being flagged as a reset or implausible jump (which leaves its window incomplete).
 */
import type Database from 'better-sqlite3';
import type { ConfigIssue } from '../config/errors.js';
import type { MeterChange } from '../metering/stage.js';
import { migrateAccounting } from './acct-db.js';

/** One record as sent (`at`: RFC 3339 with zone, or epoch ms). */
export interface MeterChangeSpec {
  device: string;
  /** Counter point id or canonical name (default energy_import). */
  point?: string;
  oldFinal: number;
  newInitial: number;
  at: string | number;
}

/** JSON Schema of one record (MQTT command, CLI). */
export const meterChangeSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'oldFinal', 'newInitial', 'at'],
  properties: {
    device: { type: 'string', minLength: 1 },
    point: { type: 'string', minLength: 1 },
    oldFinal: { type: 'number', minimum: 0, description: "the old counter's final reading (its unit, e.g. kWh)" },
    newInitial: { type: 'number', minimum: 0, description: "the new counter's initial reading" },
    at: { oneOf: [{ type: 'string', format: 'date-time' }, { type: 'integer', minimum: 1000000000000 }], description: 'when the meter was changed' },
  },
};

export function toMeterChange(s: MeterChangeSpec): MeterChange {
  return { device: s.device, point: s.point ?? 'energy_import', oldFinal: s.oldFinal, newInitial: s.newInitial, at: typeof s.at === 'number' ? s.at : Date.parse(s.at) };
}

/** Problems of a record against the site's devices (`devices` undefined: not checked). */
export function checkMeterChange(s: MeterChangeSpec, file: string, devices?: ReadonlySet<string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (devices && !devices.has(s.device)) issues.push({ file, path: '/device', message: `no device '${s.device}' (known: ${[...devices].join(', ')})` });
  if (!Number.isFinite(toMeterChange(s).at)) issues.push({ file, path: '/at', message: `'${s.at}' is not a time (RFC 3339 with zone, or epoch ms)` });
  if (!(s.oldFinal >= 0) || !(s.newInitial >= 0)) issues.push({ file, path: '', message: 'oldFinal and newInitial are counter readings >= 0' });
  return issues;
}

/** Record in acct_meter_change (idempotent by device, point and time). */
export function recordMeterChange(db: Database.Database, s: MeterChangeSpec, nowMs: number): { added: boolean; change: MeterChange } {
  migrateAccounting(db);
  const c = toMeterChange(s);
  const r = db
    .prepare("INSERT OR IGNORE INTO acct_meter_change (device, point, old_final, new_initial, at_ms, recorded_ms, status) VALUES (?, ?, ?, ?, ?, ?, 'recorded')")
    .run(c.device, c.point, c.oldFinal, c.newInitial, c.at, nowMs);
  return { added: r.changes > 0, change: c };
}

export interface MeterChangeRow extends MeterChange {
  id: number;
  recordedMs: number;
  status: string;
}

export function listMeterChanges(db: Database.Database): MeterChangeRow[] {
  const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'acct_meter_change'").pluck().get();
  if (!has) return [];
  const rows = db.prepare('SELECT id, device, point, old_final, new_initial, at_ms, recorded_ms, status FROM acct_meter_change ORDER BY at_ms, id').all() as {
    id: number;
    device: string;
    point: string;
    old_final: number;
    new_initial: number;
    at_ms: number;
    recorded_ms: number;
    status: string;
  }[];
  return rows.map((r) => ({ id: r.id, device: r.device, point: r.point, oldFinal: r.old_final, newInitial: r.new_initial, at: r.at_ms, recordedMs: r.recorded_ms, status: r.status }));
}

/**
 * Hand the records not seen by this process yet to the metering stage (`apply`); a record the
 * stage refuses (the counter was already read after the change) gets that reason as its status.
 * Returns the ids handled now.
 */
export function applyMeterChanges(db: Database.Database, seen: Set<number>, apply: (c: MeterChange) => { applied: boolean; reason?: string }): number[] {
  const done: number[] = [];
  const mark = db.prepare('UPDATE acct_meter_change SET status = ? WHERE id = ?');
  for (const row of listMeterChanges(db)) {
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    if (row.status !== 'recorded' && row.status !== 'pending') continue;
    const r = apply(row);
    mark.run(r.applied ? 'pending' : `refused: ${r.reason ?? ''}`, row.id);
    done.push(row.id);
  }
  return done;
}
