/**
 * `carbonedge verify`: the hash chain of the quarter records in a store database, and each
 * quarter recomputed from the readings it keeps and the raw readings still stored (audit.ts).
 */
import type Database from 'better-sqlite3';
import { GENESIS_HASH, verifyQuarters, type StoredQuarter, type VerifyResult } from './audit.js';

/** Verify [fromMs, toMs) (default: everything). */
export function verifyStore(db: Database.Database, fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): VerifyResult {
  const rows = (db.prepare('SELECT start_ms, hash, record FROM acct_quarter WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms').all(fromMs, toMs) as { start_ms: number; hash: string | null; record: string }[]).map(
    (r): StoredQuarter => ({ startMs: r.start_ms, hash: r.hash, record: JSON.parse(r.record) as Record<string, any> }),
  );
  const before = db.prepare('SELECT hash FROM acct_quarter WHERE start_ms < ? ORDER BY start_ms DESC LIMIT 1').get(fromMs) as { hash: string | null } | undefined;
  const prevOfFirst = before ? (before.hash ?? undefined) : GENESIS_HASH;
  const hasRaw = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('readings_raw', 'points')").pluck().get() === 2;
  const rawStmt = hasRaw ? db.prepare('SELECT r.value FROM readings_raw r JOIN points p ON p.id = r.point_id WHERE p.device = ? AND (p.point = ? OR p.canonical = ?) AND r.ts = ? AND r.quality = 0 LIMIT 1').pluck() : undefined;
  const raw = rawStmt ? (device: string, point: string, ts: number) => (rawStmt.get(device, point, point, ts) as number | null | undefined) ?? undefined : undefined;
  return verifyQuarters(rows, prevOfFirst, raw);
}
