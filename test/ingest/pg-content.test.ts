import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { contractDir } from '../../runtime/uplink/contract.js';
import { migrate } from '../../tools/ingest/migrations.js';
import { publishBacklogs, simEnvelope } from '../../tools/ingest/sim-gateways.js';
import { havePeer, waitFor } from '../helpers/peers.js';
import { havePostgres } from '../helpers/postgres.js';
import { ingestSuite, q, recordCount } from './harness.js';

/** What `carbonedge receive --pg` stores: gaps opened and closed, rejections, carbon tables and views, the migration lock. */
const run = havePeer('mosquitto') && havePostgres();

const suite = ingestSuite(run);
const { ingest, publish } = suite;

const gaps = (db: string) => q<{ gateway: string; from_seq: string; to_seq: string; first_seen: Date }>(db, 'SELECT gateway, from_seq, to_seq, first_seen FROM carbonedge_gaps ORDER BY gateway, from_seq');

describe.runIf(run)('carbonedge receive --pg: what is stored', () => {
  it('a gateway outage and its backfill: the gap is recorded, split by a partial backfill, then closed (two receivers)', async () => {
    const db = await suite.database();
    const a = await ingest({ pg: db, share: 'gap', clientId: 'gapA', connections: 2 });
    const b = await ingest({ pg: db, share: 'gap', clientId: 'gapB', connections: 2 });
    // Live before the outage (1..100), live after it (151..200); 101..150 waited in the gateway's outbox.
    await publishBacklogs(suite.brokerUrl(), { gateways: 1, records: 200, batch: 10, skip: (_, s) => s > 100 && s <= 150 });
    await waitFor(async () => (await recordCount(db)) === 150, 30_000, 'live records');
    await waitFor(async () => (await gaps(db)).length === 1, 10_000, 'gap');
    const [g] = await gaps(db);
    expect(g).toMatchObject({ gateway: 'gw000', from_seq: '101', to_seq: '150' });
    // Backfill in two parts: 121..130 first (splits the gap), then the rest (closes it). Live seqs
    // arrive before backfilled ones, as the contract allows.
    await publish([simEnvelope(0, range(121, 130), true)]);
    await waitFor(async () => (await gaps(db)).length === 2, 10_000, 'gap split');
    const split = await gaps(db);
    expect(split.map((x) => [x.from_seq, x.to_seq])).toEqual([['101', '120'], ['131', '150']]);
    expect(split.every((x) => x.first_seen.getTime() === g!.first_seen.getTime())).toBe(true);
    await publishBacklogs(suite.brokerUrl(), { gateways: 1, records: 150, batch: 7, skip: (_, s) => s <= 100 || (s >= 121 && s <= 130), backfill: true });
    await waitFor(async () => (await recordCount(db)) === 200, 30_000, 'backfill');
    await waitFor(async () => (await gaps(db)).length === 0, 10_000, 'gap closed');
    expect(a.ingest.stats().inserted + b.ingest.stats().inserted).toBe(200);
    const [s] = await q<{ min_seq: string; max_seq: string; records: string }>(db, 'SELECT min_seq, max_seq, records FROM carbonedge_streams');
    expect(s).toEqual({ min_seq: '1', max_seq: '200', records: '200' });
  }, 90_000);

  it('records first seen above seq 1 (live before backfill): the range below is a gap once lower ones arrive, closed by the rest', async () => {
    const db = await suite.database();
    await ingest({ pg: db });
    await publish([simEnvelope(1, range(50, 60)), simEnvelope(1, range(10, 12), true)]);
    await waitFor(async () => (await recordCount(db)) === 14, 20_000, 'records');
    expect((await gaps(db)).map((x) => [x.from_seq, x.to_seq])).toEqual([['13', '49']]);
    await publish([simEnvelope(1, range(13, 49), true)]);
    await waitFor(async () => (await gaps(db)).length === 0, 20_000, 'gap closed');
    expect(await recordCount(db)).toBe(51);
  }, 60_000);

  it('rogue messages go to carbonedge_rejected with a reason, are acknowledged, and never stop ingest', async () => {
    const db = await suite.database();
    const { ingest: rx } = await ingest({ pg: db, limits: { maxPayloadBytes: 64 * 1024, maxInflatedBytes: 1024 * 1024 } });
    const good = simEnvelope(2, range(1, 5));
    const env = JSON.parse(good.payload) as { records: Record<string, unknown>[]; gateway: string };
    const wrongId = { ...env, records: [{ ...env.records[0], id: 'gw999/readings-1m/5f3a00000002-1' }] };
    const wrongSchema = { ...env, records: [{ ...env.records[0], seq: 6, id: `${(env.records[0]!.id as string).replace(/-1$/, '-6')}`, quality: 'splendid' }] };
    await publish([
      { topic: good.topic, payload: 'this is not JSON' },
      { topic: good.topic, payload: JSON.stringify({ hello: 'world' }) },
      { topic: good.topic, payload: JSON.stringify(wrongId) },
      { topic: good.topic, payload: JSON.stringify(wrongSchema) },
      { topic: good.topic.replace('gw002', 'gw003').replace('site2', 'site3'), payload: good.payload },
      { topic: good.topic, payload: Buffer.alloc(100 * 1024, 0x7b) },
      { topic: `${good.topic}/gzip`, payload: zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)) },
      { topic: good.topic, payload: 'not JSON at QoS 0', qos: 0 },
      { topic: good.topic, payload: good.payload },
    ]);
    await waitFor(async () => (await recordCount(db)) === 5, 20_000, 'the good message');
    await waitFor(async () => Number((await q<{ n: string }>(db, 'SELECT count(*) AS n FROM carbonedge_rejected'))[0]!.n) === 8, 20_000, 'rejections');
    const reasons = (await q<{ reason: string; record_id: string | null }>(db, 'SELECT reason, record_id FROM carbonedge_rejected ORDER BY received_at, reason')).map((r) => r.reason);
    const expectReason = (re: RegExp) => expect(reasons.some((r) => re.test(r)), `${re} in ${JSON.stringify(reasons)}`).toBe(true);
    expectReason(/^not JSON/);
    expectReason(/^envelope: /);
    expectReason(/^record id 'gw999\/readings-1m\/5f3a00000002-1' does not match/);
    expectReason(/^readings-1m record seq 6: .*quality/);
    expectReason(/^envelope gateway 'gw002' is not in the topic/);
    expectReason(/^payload of 102400 bytes exceeds the limit of 65536/);
    expectReason(/^not gzip or too large when inflated/);
    const ids = (await q<{ id: string }>(db, 'SELECT id FROM carbonedge_records ORDER BY seq')).map((r) => r.id);
    expect(ids).toEqual(range(1, 5).map((s) => `gw002/readings-1m/5f3a00000002-${s}`));
    await waitFor(() => rx.stats().unacked === 0, 10_000, 'all acknowledged');
    expect(rx.stats().rejected).toBe(8);
  }, 60_000);

  it('carbon records land in typed tables; the views give green share and CO2 per site per day and month, and per-device energy', async () => {
    const db = await suite.database();
    await ingest({ pg: db });
    const ex = (n: string) => fs.readFileSync(path.join(contractDir(), 'examples', `${n}.json`), 'utf8');
    await publish([
      { topic: 'carbonedge/demo-factory/gw-test/data/carbon-day', payload: ex('carbon-day') },
      { topic: 'carbonedge/demo-factory/gw-test/data/carbon-15m/gzip', payload: zlib.gzipSync(ex('carbon-15m')) },
    ]);
    await waitFor(async () => (await recordCount(db)) === 2, 20_000, 'carbon records');
    const [d] = await q<Record<string, unknown>>(db, "SELECT * FROM carbonedge_site_daily WHERE site = 'demo-factory'");
    expect(d).toMatchObject({ day: expect.any(Date), gateways: '1', complete: true });
    expect(Number(d!.consumption_kwh)).toBeCloseTo(165.379, 6);
    expect(Number(d!.green_share)).toBeCloseTo(124148 / 165379, 9);
    expect(Number(d!.scope2_location_kg)).toBeCloseTo(11.6843426, 7);
    expect(Number(d!.scope2_market_kg)).toBeCloseTo(13.4240016, 7);
    const [mo] = await q<Record<string, unknown>>(db, 'SELECT * FROM carbonedge_site_monthly');
    expect(Number(mo!.green_share)).toBeCloseTo(124148 / 165379, 9);
    expect(mo).toMatchObject({ days: '1' });
    const dev = await q<{ device: string; flow: string; energy_kwh: number }>(db, 'SELECT device, flow, energy_kwh FROM carbonedge_device_energy_daily ORDER BY device, flow');
    expect(dev).toContainEqual({ device: 'pv', flow: 'pv', energy_kwh: 4.379 });
    expect(dev).toContainEqual({ device: 'grid', flow: 'grid_export', energy_kwh: 0.604 });
    const [c15] = await q<Record<string, unknown>>(db, 'SELECT green_annual_volumetric, scope2_location_g, scope2_market_g FROM carbonedge_carbon_15m');
    expect(c15).toEqual({ green_annual_volumetric: 0.9992372234935164, scope2_location_g: '0.5306', scope2_market_g: '0.6096' });
  }, 60_000);

  it('schema: receivers starting together apply each migration once (advisory lock); records are partitioned by month', async () => {
    const db = await suite.database();
    const clients = await Promise.all([0, 1, 2].map(async () => {
      const c = new pg.Client(db);
      await c.connect();
      return c;
    }));
    const applied = await Promise.all(clients.map((c) => migrate(c)));
    await Promise.all(clients.map((c) => c.end()));
    expect(applied.flat().sort()).toEqual([1, 2]);
    expect(await q(db, 'SELECT version FROM carbonedge_migrations ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }]);
    await ingest({ pg: db });
    await publish([simEnvelope(4, range(1, 3))]);
    await waitFor(async () => (await recordCount(db)) === 3, 20_000, 'records');
    const parts = await q<{ name: string }>(db, "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'carbonedge_records'::regclass");
    expect(parts).toEqual([{ name: 'carbonedge_records_2026_01' }]);
    const [kind] = await q<{ relkind: string }>(db, "SELECT relkind FROM pg_class WHERE relname = 'carbonedge_records'");
    expect(kind).toEqual({ relkind: 'p' });
  }, 60_000);
});

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}
