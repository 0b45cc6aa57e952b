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
});
