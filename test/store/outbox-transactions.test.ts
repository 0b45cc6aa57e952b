/**
 * The outbox inside other parts' transactions (exactly-once for accounting summaries), and the
 * store's own failed transactions: a rolled-back enqueue consumes no sequence number, so the
 * receiver never sees a gap the gateway cannot explain, nor the same record under a second id.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../runtime/store/store.js';
import type { OutboxWriter } from '../../runtime/services.js';
import type { Reading } from '../../runtime/types.js';
import { QUARTER_MS } from '../../runtime/accounting/live.js';
import { DAY0, demoConfig, makeEngine } from '../accounting/helpers.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function open(dir?: string, clock = { now: () => T0 }): { store: Store; dir: string } {
  const d = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ce-outbox-tx-'));
  if (!dir) dirs.push(d);
  const store = new Store({ dataDir: d, siteId: 's', gatewayId: 'gw', clock, config: { statsIntervalMs: 0 } });
  stores.push(store);
  return { store, dir: d };
}
const seqsOf = (store: Store, stream: string) => store.outbox.readOutbox(stream, 0, 1e6).map((r) => r.seq);
const tick = () => new Promise((r) => setImmediate(r));

describe('outbox enqueue inside another transaction on the store database', () => {
  it('commits with it, or rolls back with it without consuming a sequence number', async () => {
    const { store } = open();
    store.db.exec('CREATE TABLE t_marks (k TEXT PRIMARY KEY)');
    const mark = store.db.prepare('INSERT INTO t_marks (k) VALUES (?)');
    // Committed: record and mark together.
    store.db.transaction(() => {
      expect(store.outbox.enqueue('carbon-15m', { ts: 1, n: 1 }).seq).toBe(1);
      mark.run('a');
    })();
    // Rolled back (the "crash" between enqueue and mark): neither.
    expect(() =>
      store.db.transaction(() => {
        expect(store.outbox.enqueue('carbon-15m', { ts: 2, n: 2 }).seq).toBe(2);
        throw new Error('power cut');
      })(),
    ).toThrow('power cut');
    // The retry in the same tick, before anything settled: seq 2 again, not 3.
    store.db.transaction(() => {
      expect(store.outbox.enqueue('carbon-15m', { ts: 2, n: 2 }).seq).toBe(2);
      mark.run('b');
    })();
    expect(seqsOf(store, 'carbon-15m')).toEqual([1, 2]);
    expect(store.outbox.lastSeq('carbon-15m')).toBe(2);
    expect(store.outbox.outboxStats().byStream['carbon-15m']).toMatchObject({ records: 2, lastSeq: 2 });
    expect(store.db.prepare('SELECT count(*) FROM t_marks').pluck().get()).toBe(2);
    // A new stream whose only enqueue rolled back does not exist afterwards.
    expect(() =>
      store.db.transaction(() => {
        store.outbox.enqueue('carbon-day', { ts: 3 });
        throw new Error('power cut');
      })(),
    ).toThrow();
    await tick();
    expect(store.outbox.streams()).toEqual(['carbon-15m']);
    expect(store.outbox.outboxStats().records).toBe(2);
    expect(store.outbox.enqueue('carbon-day', { ts: 4 }).seq).toBe(1);
  });

  it('a rolled-back savepoint inside a committed transaction leaves no gap', () => {
    const { store } = open();
    store.db.transaction(() => {
      store.outbox.enqueue('decision', { ts: 1 });
      try {
        store.db.transaction(() => {
          store.outbox.enqueue('decision', { ts: 2 });
          throw new Error('inner');
        })();
      } catch {
        /* the inner step failed; the outer goes on */
      }
      expect(store.outbox.enqueue('decision', { ts: 3 }).seq).toBe(2);
    })();
    expect(seqsOf(store, 'decision')).toEqual([1, 2]);
    expect(store.outbox.outboxStats().byStream.decision).toMatchObject({ records: 2, lastSeq: 2 });
    expect(store.outbox.readOutbox('decision', 0, 10).map((r) => (JSON.parse(r.payload) as { ts: number }).ts)).toEqual([1, 3]);
  });

  it('the uplink is woken once the enclosing transaction has committed', async () => {
    const { store } = open();
    const woken: string[] = [];
    store.outbox.onEnqueue((s) => woken.push(s));
    store.db.transaction(() => {
      store.outbox.enqueue('carbon-15m', { ts: 1 });
      expect(woken).toEqual([]); // not yet committed: nothing to read
    })();
    await tick();
    expect(woken).toEqual(['carbon-15m']);
    // Outside any transaction: at once.
    store.outbox.enqueue('carbon-15m', { ts: 2 });
    expect(woken).toEqual(['carbon-15m', 'carbon-15m']);
  });
});

describe('a failed store flush', () => {
  it('rolls back without skipping sequence numbers; the next flush closes the bucket from what was committed', () => {
    const clock = { t: T0, now: () => clock.t };
    const { store } = open(undefined, clock);
    const r = (device: string, value: number, ts: number): Reading => ({ device, point: 'p', value, ts, quality: 'good', source: 't' });
    store.ingest([r('a', 1, T0 + 1000), r('a', 3, T0 + 20_000)]);
    clock.t = T0 + 30_000;
    store.flush(); // raw rows committed, bucket open
    // The disk fails while the minute closes (and a new point appears in the same flush).
    store.db.exec("CREATE TEMP TRIGGER fail_1m BEFORE INSERT ON readings_1m BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END");
    store.ingest([r('a', 5, T0 + 40_000), r('b', 7, T0 + 41_000)]);
    clock.t = T0 + MIN + 3000;
    store.flush();
    expect(store.stats().dropped.readingsOnError).toBe(2);
    expect(store.outbox.lastSeq('readings-1m')).toBe(0);
    store.db.exec('DROP TRIGGER fail_1m');
    store.ingest([r('b', 9, T0 + MIN + 4000)]);
    clock.t = T0 + 2 * MIN + 3000;
    store.flush();
    const recs = store.outbox.readOutbox('readings-1m', 0, 100).map((x) => JSON.parse(x.payload) as Record<string, unknown>);
    // Minute 0 from the committed raw readings (1 and 3; the failed batch is lost and counted), then minute 1.
    expect(recs.map((x) => [x.seq, x.device, x.ts, x.min, x.max, x.count])).toEqual([
      [1, 'a', T0, 1, 3, 2],
      [2, 'b', T0 + MIN, 9, 9, 1],
    ]);
    // The point that first appeared in the failed flush got a real id afterwards.
    expect(store.db.prepare('SELECT device FROM points ORDER BY id').pluck().all()).toEqual(['a', 'b']);
  });
});

describe('accounting summaries: exactly once through the outbox', () => {
  function accounting(store: Store, outbox: OutboxWriter) {
    const config = demoConfig();
    config.devices = config.devices.filter((d) => ['grid', 'pv', 'battery'].includes(d.id));
    const engine = makeEngine(store.db, { config, outbox });
    const c = { imp: 1000, exp: 50, pv: 500, bIn: 10, bOut: 9 };
    const sample = (t: number) => {
      const rd = (device: string, point: string, value: number): Reading => ({ device, point, canonical: point, value, quality: 'good', ts: t, source: 'synth' });
      c.imp += 0.05;
      c.pv += 0.1;
      engine.ingest([rd('grid', 'energy_import', c.imp), rd('grid', 'energy_export', c.exp), rd('pv', 'energy_export', c.pv), rd('battery', 'energy_import', c.bIn), rd('battery', 'energy_export', c.bOut)]);
    };
    return { engine, sample };
  }

  it('a crash between enqueue and "marked sent" leaves nothing enqueued; the restart enqueues each summary exactly once, same seq', () => {
    const { store, dir } = open(undefined, { now: () => DAY0 });
    // The outbox works, then the process "dies" right after it returns (before the summary is marked sent).
    let crash = true;
    const dying: OutboxWriter = {
      enqueue(stream, record) {
        const r = store.outbox.enqueue(stream, record);
        if (crash) throw new Error('killed between enqueue and mark');
        return r;
      },
    };
    const a = accounting(store, dying);
    for (let i = 0; i <= 6 * 20; i++) a.sample(DAY0 + i * 10_000);
    a.engine.advance(DAY0 + QUARTER_MS + 60_000);
    // The quarter closed (its record is in acct_quarter) but nothing reached the outbox.
    expect(store.db.prepare('SELECT count(*) FROM acct_quarter').pluck().get()).toBe(1);
    expect(store.db.prepare('SELECT count(*) FROM acct_quarter WHERE sent = 0').pluck().get()).toBe(1);
    expect(seqsOf(store, 'carbon-15m')).toEqual([]);
    expect(store.outbox.lastSeq('carbon-15m')).toBe(0);
    a.engine.stop();
    store.close();
    stores.splice(stores.indexOf(store), 1);

    // Restart: the unsent summary is enqueued once, as seq 1.
    crash = false;
    const { store: again } = open(dir, { now: () => DAY0 + QUARTER_MS + 60_000 });
    const b = accounting(again, again.outbox);
    expect(seqsOf(again, 'carbon-15m')).toEqual([1]);
    expect(again.db.prepare('SELECT count(*) FROM acct_quarter WHERE sent = 0').pluck().get()).toBe(0);
    const rec = JSON.parse(again.outbox.readOutbox('carbon-15m', 0, 10)[0]!.payload) as { id: string; startMs: number };
    expect(rec).toMatchObject({ id: `gw/carbon-15m/${again.persistence.epoch}-1`, startMs: DAY0 });
    b.engine.stop();
    again.close();
    stores.splice(stores.indexOf(again), 1);
    // Another restart: nothing re-sent.
    const { store: third } = open(dir, { now: () => DAY0 + QUARTER_MS + 120_000 });
    const c = accounting(third, third.outbox);
    expect(seqsOf(third, 'carbon-15m')).toEqual([1]);
    c.engine.stop();
  });
});
