/** The outbox module on its own: backlog counts stay exact through acks and byte-cap drops. */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../runtime/logger.js';
import { SqliteOutbox } from '../../runtime/outbox/sqlite-outbox.js';
import { openDatabase, type Persistence } from '../../runtime/persistence/database.js';
import { STORE_MIGRATIONS } from '../../runtime/store/migrations.js';

const open: Persistence[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});
function outbox(): SqliteOutbox {
  const p = openDatabase({ file: ':memory:', migrations: [STORE_MIGRATIONS] });
  open.push(p);
  return new SqliteOutbox(p, { gatewayId: 'gw', clock: { now: () => 1000 }, logger: silentLogger() });
}
const sum = (rows: { bytes: number }[]) => rows.reduce((s, r) => s + r.bytes, 0);

describe('SqliteOutbox', () => {
  it('ack with the bytes the reader saw, or without: the same exact backlog counts', () => {
    for (const withBytes of [true, false]) {
      const o = outbox();
      o.enqueueMany('carbon-15m', [{ ts: 1, a: 1 }, { ts: 2, a: 22 }, { ts: 3, a: 333 }]);
      const rows = o.readOutbox('carbon-15m', 0, 10);
      o.ack([{ stream: 'carbon-15m', seqs: [1, 2], ...(withBytes ? { bytes: sum(rows.slice(0, 2)) } : {}) }]);
      expect(o.outboxStats().byStream['carbon-15m']).toEqual({ records: 1, bytes: rows[2]!.bytes, lastSeq: 3 });
    }
  });

  it('an ack of records already dropped by the byte cap recounts instead of trusting the bytes given', () => {
    const o = outbox();
    o.enqueueMany('decision', [{ ts: 1 }, { ts: 2 }, { ts: 3 }, { ts: 4 }]);
    const rows = o.readOutbox('decision', 0, 10);
    expect(o.dropOldest('decision', 1)).toBe(1);
    o.ack([{ stream: 'decision', seqs: [1, 2], bytes: sum(rows.slice(0, 2)) }]);
    expect(o.outboxStats()).toMatchObject({ records: 2, bytes: sum(rows.slice(2)) });
    expect(o.readOutbox('decision', 0, 10).map((r) => r.seq)).toEqual([3, 4]);
  });

  it('readBatch: the records after a seq in sequence order between head and tail, cut at the record and byte limits', () => {
    const o = outbox();
    // Enough records for SQLite to spill pages, interleaved with another stream, and a gap.
    for (let i = 0; i < 30; i++) {
      o.enqueueMany('readings-1m', Array.from({ length: 100 }, (_, k) => ({ ts: i * 100 + k, v: 'é'.repeat(k % 7) })));
      o.enqueue('decision', { ts: i });
    }
    o.ack([{ stream: 'readings-1m', seqs: [50, 51, 52] }]);
    const rows = o.readOutbox('readings-1m', 10, 2000);
    const joined = (rs: typeof rows) => rs.map((r) => r.payload).join(',');
    const all = o.readBatch('readings-1m', 10, { maxRecords: 1000, maxBytes: 1e9, head: '<[', tail: ']>' })!;
    expect(all).toMatchObject({ firstSeq: 11, lastSeq: 1013, records: 1000, bytes: sum(rows.slice(0, 1000)) });
    expect(all.text.toString('utf8')).toBe(`<[${joined(rows.slice(0, 1000))}]>`);
    // Byte limit: as many whole records as fit, joined by commas, the tail not counted.
    const cut = o.readBatch('readings-1m', 10, { maxRecords: 1000, maxBytes: Buffer.byteLength(joined(rows.slice(0, 7))) + 3 })!;
    expect(cut).toMatchObject({ firstSeq: 11, lastSeq: 17, records: 7, bytes: sum(rows.slice(0, 7)) });
    expect(cut.text.toString('utf8')).toBe(joined(rows.slice(0, 7)));
    // At the boundary: exactly the length of 8 joined records takes 8, one byte less takes 7.
    const eight = Buffer.byteLength(joined(rows.slice(0, 8)));
    expect(o.readBatch('readings-1m', 10, { maxRecords: 1000, maxBytes: eight })!.records).toBe(8);
    expect(o.readBatch('readings-1m', 10, { maxRecords: 1000, maxBytes: eight - 1 })!.records).toBe(7);
    expect(o.readBatch('readings-1m', 10, { maxRecords: 8, maxBytes: eight - 1 })!.records).toBe(7);
    // The first record always goes; upToSeq bounds the batch; nothing after the last: undefined.
    expect(o.readBatch('readings-1m', 10, { maxRecords: 5, maxBytes: 1 })).toMatchObject({ firstSeq: 11, lastSeq: 11, records: 1 });
    expect(o.readBatch('readings-1m', 40, { maxRecords: 100, maxBytes: 1e9, upToSeq: 60 })).toMatchObject({ firstSeq: 41, lastSeq: 60, records: 17 });
    expect(o.readBatch('readings-1m', 3000, { maxRecords: 100, maxBytes: 1e9 })).toBeUndefined();
  });

  it('an ack of a batch range deletes the range and keeps the counts exact (recounts when some were dropped)', () => {
    const o = outbox();
    o.enqueueMany('decision', [{ ts: 1 }, { ts: 2 }, { ts: 3 }, { ts: 4 }]);
    const b = o.readBatch('decision', 0, { maxRecords: 2, maxBytes: 1e9 })!;
    o.ack([{ stream: 'decision', from: b.firstSeq, to: b.lastSeq, records: b.records, bytes: b.bytes }]);
    const rest = o.readOutbox('decision', 0, 10);
    expect(rest.map((r) => r.seq)).toEqual([3, 4]);
    expect(o.outboxStats()).toMatchObject({ records: 2, bytes: sum(rest) });
    const c = o.readBatch('decision', 2, { maxRecords: 2, maxBytes: 1e9 })!;
    expect(o.dropOldest('decision', 1)).toBe(1);
    o.ack([{ stream: 'decision', from: c.firstSeq, to: c.lastSeq, records: c.records, bytes: c.bytes }]);
    expect(o.outboxStats()).toMatchObject({ records: 0, bytes: 0 });
  });
});
