import type { Persistence } from '../persistence/database.js';
import { ChunkedInsert } from '../persistence/chunked-insert.js';
import type { OutboxBatch, OutboxBatchRequest, OutboxRow } from './outbox.js';

interface BatchRow {
  n: number;
  first: number;
  last: number;
  b: number;
  text: Buffer;
}

/** The SQL of tables `outbox` and `outbox_seq` (created by migration store/1). */
export class OutboxRepository {
  private readonly st;
  private readonly insert: ChunkedInsert;

  constructor(private readonly persistence: Persistence) {
    const db = persistence.db;
    this.insert = new ChunkedInsert(db, 'INSERT INTO outbox', ['stream', 'seq', 'ts', 'created', 'bytes', 'payload'], 32);
    this.st = {
      batch: db.prepare(batchSql('')),
      batchUpTo: db.prepare(batchSql('AND seq <= @upToSeq')),
      sizes: db.prepare('SELECT seq, bytes FROM outbox WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?').raw(),
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

  /** The next batch after `afterSeq` (see OutboxReader.readBatch), joined by SQLite. */
  readBatch(stream: string, afterSeq: number, req: OutboxBatchRequest): OutboxBatch | undefined {
    const { maxRecords, maxBytes, upToSeq } = req;
    const params = { stream, afterSeq, limit: maxRecords, head: req.head ?? '', tail: req.tail ?? '' };
    let r = (upToSeq === undefined ? this.st.batch.get(params) : this.st.batchUpTo.get({ ...params, upToSeq })) as BatchRow | undefined;
    if (!r || r.n === 0) return undefined;
    if (r.n > 1 && r.b + r.n - 1 > maxBytes) {
      // Over the byte limit (rare: records are small): cut after the last record that fits.
      const sizes = this.st.sizes.all(stream, afterSeq, r.last, maxRecords) as [number, number][];
      let joined = -1;
      let last = sizes[0]![0];
      for (const [seq, bytes] of sizes) {
        if (joined >= 0 && joined + 1 + bytes > maxBytes) break;
        joined += bytes + 1;
        last = seq;
      }
      r = this.st.batchUpTo.get({ ...params, upToSeq: last }) as BatchRow;
    }
    return { firstSeq: r.first, lastSeq: r.last, records: r.n, bytes: r.b, text: r.text };
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

/**
 * The batch after a seq as one row, the payloads joined by SQLite (as a BLOB: a Buffer, no string
 * on the JavaScript heap to collect). The subquery reads in primary
 * key order and, having a LIMIT, runs as a co-routine feeding group_concat in that order (a
 * `group_concat(... ORDER BY seq)` would sort the payloads again: 1.7x slower; the order is
 * checked by test/outbox/sqlite-outbox.test.ts).
 */
function batchSql(upTo: string): string {
  return `SELECT count(*) AS n, min(seq) AS first, max(seq) AS last, coalesce(sum(bytes), 0) AS b, CAST(@head || group_concat(payload, ',') || @tail AS BLOB) AS text
    FROM (SELECT seq, bytes, payload FROM outbox WHERE stream = @stream AND seq > @afterSeq ${upTo} ORDER BY seq LIMIT @limit)`;
}
