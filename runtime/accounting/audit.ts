/**
 * Audit trail of the quarter-hour records (`acct_quarter`): each record keeps the meters and the
 * absolute start and end readings it was computed from (`audit.meters`), and the hash of the
 * previous record (`audit.prevHash`); its own hash (column `hash`) is
 *
 *   sha256( canonical JSON of the record, `audit.prevHash` included ), lower-case hex,
 *
 * canonical JSON = JSON.stringify with the keys of every object sorted by UTF-16 code units, no
 * whitespace (numbers and strings as JSON.stringify writes them). The first record's prevHash is
 * 64 zeros. `verifyQuarters` walks the chain: a record changed after it was written no longer has
 * its hash; a record removed breaks the next one's prevHash; each quarter's energy is recomputed
 * from the readings it keeps (end - start per meter = the amount booked), and from the raw
 * readings still in the store where the caller provides them.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** One counter of a quarter: where its energy came from. Readings in the counter's unit. */
export interface AuditMeter {
  device: string;
  point: string;
  flow: string;
  start: number;
  startTs: number;
  end: number;
  endTs: number;
  /** Milli-units booked from this counter in the quarter (the stage's deltas). */
  booked: number;
  /** The quarter holds a discontinuity of this counter (reset, jump, rollover, meter change): end - start is not the booked amount. */
  discontinuity?: boolean;
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export function recordHash(record: unknown): string {
  return createHash('sha256').update(canonicalJson(record), 'utf8').digest('hex');
}

export interface StoredQuarter {
  startMs: number;
  hash: string | null;
  record: Record<string, any>;
}

export interface VerifyResult {
  ok: boolean;
  quarters: number;
  /** Records whose content no longer matches their hash. */
  changed: string[];
  /** Breaks in the chain: a record whose prevHash is not the previous record's hash (one removed, or inserted). */
  removed: { before: string; expectedPrev: string; found: string }[];
  /** Quarters whose kept readings do not give the energy booked. */
  recompute: string[];
  /** Records without a hash (written before the audit trail): not verifiable. */
  unchained: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Verify quarter records in start order. `prevOfFirst`: the hash the first one must point to
 * (the record before the period, or the genesis hash). `raw(device, point, ts)`: the raw reading
 * at ts when the store still has it.
 */
export function verifyQuarters(rows: readonly StoredQuarter[], prevOfFirst: string | undefined, raw?: (device: string, point: string, ts: number) => number | undefined): VerifyResult {
  const res: VerifyResult = { ok: true, quarters: rows.length, changed: [], removed: [], recompute: [], unchained: 0 };
  let prev = prevOfFirst;
  for (const row of rows) {
    const at = iso(row.startMs);
    if (!row.hash) {
      res.unchained++;
      prev = undefined;
      continue;
    }
    if (recordHash(row.record) !== row.hash) res.changed.push(at);
    const found = String(row.record.audit?.prevHash ?? '');
    if (prev !== undefined && found !== prev) res.removed.push({ before: at, expectedPrev: prev, found });
    prev = row.hash;
    for (const m of (row.record.audit?.meters ?? []) as AuditMeter[]) {
      const span = Math.round(m.end * 1000) - Math.round(m.start * 1000);
      const rawStart = raw?.(m.device, m.point, m.startTs);
      const rawEnd = raw?.(m.device, m.point, m.endTs);
      const rawOk = (rawStart === undefined || rawStart === m.start) && (rawEnd === undefined || rawEnd === m.end);
      const bookedOk = m.discontinuity || span === m.booked;
      const flowOk = (row.record.devices?.[m.device]?.[m.flow] ?? 0) >= m.booked;
      if (!rawOk || !bookedOk || !flowOk) res.recompute.push(`${at} ${m.device}/${m.point}`);
    }
  }
  res.ok = !res.changed.length && !res.removed.length && !res.recompute.length;
  return res;
}
