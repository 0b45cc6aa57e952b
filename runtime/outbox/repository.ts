import type { Persistence } from '../persistence/database.js';
import { ChunkedInsert } from '../persistence/chunked-insert.js';
import type { OutboxRow } from './outbox.js';

/** The SQL of tables `outbox` and `outbox_seq` (created by migration store/1). */
export class OutboxRepository {
  private readonly st;
  private readonly insert: ChunkedInsert;

  constructor(private readonly persistence: Persistence) {
    const db = persistence.db;
    this.insert = new ChunkedInsert(db, 'INSERT INTO outbox', ['stream', 'seq', 'ts', 'created', 'bytes', 'payload'], 32);
    this.st = {
      setSeq: db.prepare('INSERT OR REPLACE INTO outbox_seq (stream, last_seq) VALUES (?, ?)'),
      getSeq: db.prepare('SELECT last_seq FROM outbox_seq WHERE stream = ?').pluck(),
      allSeqs: db.prepare('SELECT stream, last_seq FROM outbox_seq'),
      count: db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE stream = ?'),
      countAll: db.prepare('SELECT stream, count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox GROUP BY stream'),
      read: db.prepare('SELECT seq, bytes, payload FROM outbox WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?'),
      readUpTo: db.prepare('SELECT seq, bytes, payload FROM outbox WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?'),
      sumRange: db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE stream = ? AND seq BETWEEN ? AND ?'),
      deleteRange: db.prepare('DELETE FROM outbox WHERE stream = ? AND seq BETWEEN ? AND ?'),
      deleteOldest: db.prepare('DELETE FROM outbox WHERE stream = ? AND seq IN (SELECT seq FROM outbox WHERE stream = ? ORDER BY seq LIMIT ?) RETURNING bytes').pluck(),
      oldest: db.prepare('SELECT created FROM outbox WHERE stream = ? ORDER BY seq LIMIT 1').pluck(),
    };
  }

  /** Rows as consecutive params (stream, seq, ts, created, bytes, payload). */
  insertRows(params: readonly unknown[]): void {
    if (params.length) this.insert.run(params);
  }

  setSeq(stream: string, lastSeq: number): void {
    this.st.setSeq.run(stream, lastSeq);
  }

  getSeq(stream: string): number {
    return (this.st.getSeq.get(stream) as number | undefined) ?? 0;
  }

  allSeqs(): [string, number][] {
    return (this.st.allSeqs.all() as { stream: string; last_seq: number }[]).map((r) => [r.stream, r.last_seq]);
  }

  count(stream: string): { records: number; bytes: number } {
    const c = this.st.count.get(stream) as { n: number; b: number };
    return { records: c.n, bytes: c.b };
  }

  countsByStream(): [string, { records: number; bytes: number }][] {
    return (this.st.countAll.all() as { stream: string; n: number; b: number }[]).map((r) => [r.stream, { records: r.n, bytes: r.b }]);
  }

  read(stream: string, afterSeq: number, limit: number, upToSeq?: number): OutboxRow[] {
    return (upToSeq === undefined ? this.st.read.all(stream, afterSeq, limit) : this.st.readUpTo.all(stream, afterSeq, upToSeq, limit)) as OutboxRow[];
  }

  /** Records and bytes of seqs from..to of `stream`. */
  sumRange(stream: string, from: number, to: number): { records: number; bytes: number } {
    const r = this.st.sumRange.get(stream, from, to) as { n: number; b: number };
    return { records: r.n, bytes: r.b };
  }

  /** Delete seqs from..to of `stream`; the number of records deleted. (DELETE ... RETURNING is ~2x slower here.) */
  deleteRange(stream: string, from: number, to: number): number {
    return this.st.deleteRange.run(stream, from, to).changes;
  }

  /** Delete the oldest `limit` records of `stream`; the bytes of each deleted record. */
  deleteOldest(stream: string, limit: number): number[] {
    return this.st.deleteOldest.all(stream, stream, limit) as number[];
  }

  oldestCreated(stream: string): number | undefined {
    return this.st.oldest.get(stream) as number | undefined;
  }

  oldestStreamExcept(except: string[]): string | undefined {
    const sql = `SELECT stream FROM outbox WHERE stream NOT IN (${except.map(() => '?').join(', ')}) ORDER BY created LIMIT 1`;
    return this.persistence.db.prepare(sql).pluck().get(...except) as string | undefined;
  }
}
