import type pg from 'pg';
import type { DeviceAvailability, GatewayMetadata, GatewayStatus, IngestRecord, Rejection } from './decode.js';

/**
 * One batch of decoded messages written to PostgreSQL in one transaction: records deduplicated by
 * id (carbonedge_record_ids, ON CONFLICT DO NOTHING), the new ones into carbonedge_records and the
 * typed carbon tables, sequence gaps updated in SQL under each stream's row lock, statuses and
 * rejections. Several receivers may write the same streams at once: every batch locks its
 * streams' rows in key order first, so ids and gaps of one stream are written by one transaction
 * at a time and no two batches deadlock.
 */

export interface Batch {
  records: IngestRecord[];
  statuses: GatewayStatus[];
  metadata: GatewayMetadata[];
  availability: DeviceAvailability[];
  rejected: Rejection[];
}

export interface BatchResult {
  inserted: number;
  duplicates: number;
}

const MONTH_MS = (t: number) => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

/** `knownMonths`: months (UTC ms) whose partition this connection's database is known to have; updated. */
export async function writeBatch(client: pg.ClientBase, batch: Batch, knownMonths: Set<number>): Promise<BatchResult> {
  // Distinct ids, in id order (within a batch, a record may come twice: a redelivery beside its original).
  const byId = new Map<string, IngestRecord>();
  for (const r of batch.records) if (!byId.has(r.id)) byId.set(r.id, r);
  const records = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const months = [...new Set(records.map((r) => MONTH_MS(r.ts)))].filter((m) => !knownMonths.has(m));
  if (months.length) {
    // Own transaction: partition DDL is committed even if the batch is retried.
    await client.query('SELECT carbonedge_ensure_partition(to_timestamp(m / 1000.0)) FROM unnest($1::float8[]) m', [months]);
    for (const m of months) knownMonths.add(m);
  }
  await client.query('BEGIN');
  try {
    let inserted = 0;
    if (records.length) {
      const keys = [...new Map(records.map((r) => [`${r.gateway}\u0000${r.stream}\u0000${r.epoch}`, r])).values()];
      keys.sort((a, b) => cmp(a.gateway, b.gateway) || cmp(a.stream, b.stream) || cmp(a.epoch, b.epoch));
      const kg = keys.map((k) => k.gateway);
      const ks = keys.map((k) => k.stream);
      const ke = keys.map((k) => k.epoch);
      await client.query(
        'INSERT INTO carbonedge_streams (gateway, stream, epoch) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING',
        [kg, ks, ke],
      );
      await client.query(
        `SELECT 1 FROM carbonedge_streams s JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(g, st, e) ON s.gateway = k.g AND s.stream = k.st AND s.epoch = k.e
         ORDER BY s.gateway, s.stream, s.epoch FOR UPDATE OF s`,
        [kg, ks, ke],
      );
      const ids = records.map((r) => r.id);
      const ts = records.map((r) => r.ts);
      const fresh = new Set(
        (
          await client.query<{ id: string }>(
            'INSERT INTO carbonedge_record_ids (id, ts) SELECT id, to_timestamp(t / 1000.0) FROM unnest($1::text[], $2::float8[]) AS u(id, t) ON CONFLICT DO NOTHING RETURNING id',
            [ids, ts],
          )
        ).rows.map((r) => r.id),
      );
      const news = records.filter((r) => fresh.has(r.id));
      inserted = news.length;
      if (news.length) {
        await client.query(
          `INSERT INTO carbonedge_records (id, gateway, stream, seq, ts, body)
           SELECT id, g, s, q, to_timestamp(t / 1000.0), b::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::float8[], $6::text[]) AS u(id, g, s, q, t, b)`,
          [news.map((r) => r.id), news.map((r) => r.gateway), news.map((r) => r.stream), news.map((r) => r.seq), news.map((r) => r.ts), news.map((r) => r.body)],
        );
        await insertCarbon(client, news);
        await noteSeqs(client, news);
      }
    }
    for (const s of batch.statuses) {
      await client.query(
        `INSERT INTO carbonedge_gateways (gateway, site, state, store_epoch, ts) VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0))
         ON CONFLICT (gateway) DO UPDATE SET site = EXCLUDED.site, state = EXCLUDED.state, store_epoch = EXCLUDED.store_epoch, ts = EXCLUDED.ts, received_at = now()
         WHERE carbonedge_gateways.ts <= EXCLUDED.ts`,
        [s.gateway, s.site, s.state, s.storeEpoch, s.ts],
      );
    }
    await upsertRetained(client, batch);
    if (batch.rejected.length) await insertRejected(client, batch.rejected);
    await client.query('COMMIT');
    return { inserted, duplicates: batch.records.length - inserted };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function insertRejected(client: pg.ClientBase, rejected: Rejection[]): Promise<void> {
  await client.query(
    'INSERT INTO carbonedge_rejected (topic, reason, record_id, payload_bytes, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[])',
    [rejected.map((r) => r.topic), rejected.map((r) => r.reason), rejected.map((r) => r.recordId ?? null), rejected.map((r) => r.payloadBytes), rejected.map((r) => r.payload)],
  );
}

/**
 * The retained metadata and availabilities, one statement each in key order (two in one batch for
 * the same key: the newer wins, whatever their order). A redelivered older message changes nothing.
 */
async function upsertRetained(client: pg.ClientBase, batch: Batch): Promise<void> {
  for (const m of [...batch.metadata].sort((a, b) => cmp(a.gateway, b.gateway))) {
    await client.query(
      `INSERT INTO carbonedge_metadata (gateway, site, body, ts) VALUES ($1, $2, $3::jsonb, to_timestamp($4 / 1000.0))
       ON CONFLICT (gateway) DO UPDATE SET site = EXCLUDED.site, body = EXCLUDED.body, ts = EXCLUDED.ts, received_at = now()
       WHERE carbonedge_metadata.ts <= EXCLUDED.ts`,
      [m.gateway, m.site, m.body, m.ts],
    );
  }
  for (const a of [...batch.availability].sort((x, y) => cmp(x.gateway, y.gateway) || cmp(x.device, y.device))) {
    await client.query(
      `INSERT INTO carbonedge_device_availability (gateway, device, state, reason, ts) VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0))
       ON CONFLICT (gateway, device) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, ts = EXCLUDED.ts, received_at = now()
       WHERE carbonedge_device_availability.ts < EXCLUDED.ts`,
      [a.gateway, a.device, a.state, a.reason ?? null, a.ts],
    );
  }
}

/** Per stream key, the new sequence numbers (ascending) to carbonedge_note_seqs, in key order (the locks are already held). */
async function noteSeqs(client: pg.ClientBase, news: IngestRecord[]): Promise<void> {
  const by = new Map<string, { g: string; s: string; e: string; q: number[] }>();
  for (const r of news) {
    const k = `${r.gateway}\u0000${r.stream}\u0000${r.epoch}`;
    let v = by.get(k);
    if (!v) by.set(k, (v = { g: r.gateway, s: r.stream, e: r.epoch, q: [] }));
    v.q.push(r.seq);
  }
  const groups = [...by.values()].sort((a, b) => cmp(a.g, b.g) || cmp(a.s, b.s) || cmp(a.e, b.e));
  for (const v of groups) v.q.sort((a, b) => a - b);
  await client.query(
    `SELECT carbonedge_note_seqs(k->>'g', k->>'s', k->>'e', ARRAY(SELECT jsonb_array_elements_text(k->'q')::int8))
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(k, n) ORDER BY n`,
    [JSON.stringify(groups)],
  );
}

const CARBON_SELECT = `
  b->>'id', b->>'site', b->>'gateway', (b->>'day')::date, (b->>'start')::timestamptz, (b->>'end')::timestamptz, b->>'timezone',
  (b->'energy_Wh'->>'consumption')::float8, (b->'energy_Wh'->>'grid_import')::float8, (b->'energy_Wh'->>'grid_export')::float8,
  (b->'energy_Wh'->>'pv')::float8, (b->'energy_Wh'->>'renewable_consumed')::float8, (b->'energy_Wh'->>'instrument_covered')::float8,
  (b->'co2_g'->>'scope2_location')::numeric, (b->'co2_g'->>'scope2_market')::numeric,
  (b->'co2_g'->>'total_location')::numeric, (b->'co2_g'->>'total_market')::numeric,
  (b->'green'->>'annual_volumetric')::float8, (b->'green'->>'hourly_matched')::float8, (b->'green'->>'self_sufficiency')::float8,
  b->'method'->'locationFactor'->>'id', b->'method'->'remainderFactor'->>'id', (b->'quality'->>'complete')::boolean`;

/** The carbon streams' records also into their typed tables (same transaction, same new ids). */
async function insertCarbon(client: pg.ClientBase, news: IngestRecord[]): Promise<void> {
  const q15 = news.filter((r) => r.stream === 'carbon-15m').map((r) => r.body);
  const qDay = news.filter((r) => r.stream === 'carbon-day').map((r) => r.body);
  if (q15.length)
    await client.query(`INSERT INTO carbonedge_carbon_15m SELECT ${CARBON_SELECT}, b->'devices' FROM unnest($1::jsonb[]) AS u(b) ON CONFLICT (id) DO NOTHING`, [q15]);
  if (qDay.length)
    await client.query(
      `INSERT INTO carbonedge_carbon_day SELECT ${CARBON_SELECT}, (b->'quality'->>'quarters')::int, (b->'quality'->>'expectedQuarters')::int FROM unnest($1::jsonb[]) AS u(b) ON CONFLICT (id) DO NOTHING`,
      [qDay],
    );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
