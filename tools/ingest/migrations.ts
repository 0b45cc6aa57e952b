import type pg from 'pg';

/**
 * The PostgreSQL schema of `carbonedge receive --pg`, created and migrated by the receiver itself.
 * Applied migrations are listed in `carbonedge_migrations`; a session-level advisory lock makes
 * concurrent receivers (a share group starting together) apply each migration exactly once.
 *
 * Idempotency with partitioning: PostgreSQL requires the primary key of a partitioned table to
 * include the partition key, so `carbonedge_records` (partitioned by `ts`) cannot declare
 * `id text primary key` itself. The unpartitioned `carbonedge_record_ids (id primary key, ts)` is
 * the dedup table: a batch inserts its ids there with ON CONFLICT DO NOTHING, and only the ids that
 * were new are inserted into `carbonedge_records`, in the same transaction. So `id` is unique
 * across all partitions, a redelivered record is one row, and a late duplicate costs one index
 * probe. (Partitioning by a hash of `id` would keep the key but lose time pruning and retention
 * by dropping old partitions, which are why records are partitioned at all.) The id table also
 * gives a record's `ts`, i.e. its partition, for a lookup by id.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Arbitrary constant key of the migration advisory lock ('ce-migr'). */
export const MIGRATION_LOCK = 0x63652d6d696772;

const CARBON_COLUMNS = `
  id text PRIMARY KEY,
  site text NOT NULL,
  gateway text NOT NULL,
  day date NOT NULL,
  start_ts timestamptz NOT NULL,
  end_ts timestamptz NOT NULL,
  timezone text NOT NULL,
  consumption_wh double precision,
  grid_import_wh double precision,
  grid_export_wh double precision,
  pv_wh double precision,
  renewable_consumed_wh double precision,
  instrument_covered_wh double precision,
  scope2_location_g numeric,
  scope2_market_g numeric,
  total_location_g numeric,
  total_market_g numeric,
  green_annual_volumetric double precision,
  green_hourly_matched double precision,
  self_sufficiency double precision,
  location_factor text,
  market_remainder_factor text,
  complete boolean`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'records, dedup ids, gaps, rejected, status, carbon tables and views',
    sql: `
CREATE TABLE carbonedge_record_ids (id text PRIMARY KEY, ts timestamptz NOT NULL);

CREATE TABLE carbonedge_records (
  id text NOT NULL, gateway text NOT NULL, stream text NOT NULL, seq bigint NOT NULL,
  ts timestamptz NOT NULL, body jsonb NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX carbonedge_records_stream_seq ON carbonedge_records (gateway, stream, seq);
COMMENT ON TABLE carbonedge_records IS 'Every record of every stream, once; id is unique (enforced by carbonedge_record_ids); monthly partitions by ts';

-- Monthly partition holding ts, created on first need (serialized by an advisory lock).
CREATE FUNCTION carbonedge_ensure_partition(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m timestamptz := date_trunc('month', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name text := 'carbonedge_records_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN RETURN; END IF;
  PERFORM pg_advisory_xact_lock(${0x63652d70617274}); -- 'ce-part'
  IF to_regclass(name) IS NOT NULL THEN RETURN; END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF carbonedge_records FOR VALUES FROM (%L) TO (%L)', name, m, m + interval '1 month');
END $$;

-- Per (gateway, stream, store epoch): lowest and highest sequence number held. Its row is the lock
-- every batch takes (in key order) before touching that stream's ids and gaps.
CREATE TABLE carbonedge_streams (
  gateway text NOT NULL, stream text NOT NULL, epoch text NOT NULL,
  min_seq bigint, max_seq bigint, records bigint NOT NULL DEFAULT 0, last_seen timestamptz,
  PRIMARY KEY (gateway, stream, epoch)
);

-- Missing sequence ranges (inclusive) between min_seq and max_seq; epoch '' = a gateway without store epochs.
CREATE TABLE carbonedge_gaps (
  gateway text NOT NULL, stream text NOT NULL, epoch text NOT NULL DEFAULT '',
  from_seq bigint NOT NULL, to_seq bigint NOT NULL, first_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway, stream, epoch, from_seq),
  CHECK (from_seq <= to_seq)
);

-- Note newly stored sequence numbers of one stream (sorted, distinct, none held before); caller holds
-- the stream's row lock. Opens gaps below min / above max, splits or removes gaps the numbers fill.
CREATE FUNCTION carbonedge_note_seqs(g text, s text, e text, seqs bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE lo bigint; hi bigint; q bigint; gf bigint; gt bigint; gs timestamptz; n bigint := cardinality(seqs);
BEGIN
  SELECT min_seq, max_seq INTO lo, hi FROM carbonedge_streams WHERE gateway = g AND stream = s AND epoch = e;
  IF lo IS NULL THEN lo := seqs[1]; hi := seqs[1] - 1; END IF;
  FOREACH q IN ARRAY seqs LOOP
    IF q > hi THEN
      IF q > hi + 1 THEN INSERT INTO carbonedge_gaps (gateway, stream, epoch, from_seq, to_seq) VALUES (g, s, e, hi + 1, q - 1); END IF;
      hi := q;
    ELSIF q < lo THEN
      IF q < lo - 1 THEN INSERT INTO carbonedge_gaps (gateway, stream, epoch, from_seq, to_seq) VALUES (g, s, e, q + 1, lo - 1); END IF;
      lo := q;
    ELSE
      DELETE FROM carbonedge_gaps WHERE gateway = g AND stream = s AND epoch = e AND from_seq <= q AND to_seq >= q
        RETURNING from_seq, to_seq, first_seen INTO gf, gt, gs;
      IF gf IS NOT NULL THEN
        IF gf < q THEN INSERT INTO carbonedge_gaps VALUES (g, s, e, gf, q - 1, gs); END IF;
        IF q < gt THEN INSERT INTO carbonedge_gaps VALUES (g, s, e, q + 1, gt, gs); END IF;
      END IF;
    END IF;
  END LOOP;
  -- Records below the first one seen came later (backfill after live): lo moved down; the loop above
  -- visited seqs in ascending order, so a q < lo was handled before lo moved, and gaps stay exact.
  UPDATE carbonedge_streams SET min_seq = lo, max_seq = hi, records = records + n, last_seen = now()
    WHERE gateway = g AND stream = s AND epoch = e;
END $$;

CREATE TABLE carbonedge_rejected (
  received_at timestamptz NOT NULL DEFAULT now(), topic text NOT NULL, reason text NOT NULL,
  record_id text, payload_bytes integer NOT NULL, payload text
);

-- The latest retained status per gateway (online/offline, store epoch).
CREATE TABLE carbonedge_gateways (
  gateway text PRIMARY KEY, site text NOT NULL, state text NOT NULL, store_epoch text NOT NULL,
  ts timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE carbonedge_carbon_15m (${CARBON_COLUMNS},
  devices jsonb
);
CREATE INDEX carbonedge_carbon_15m_site_day ON carbonedge_carbon_15m (site, day);
CREATE TABLE carbonedge_carbon_day (${CARBON_COLUMNS},
  quarters integer, expected_quarters integer
);
CREATE INDEX carbonedge_carbon_day_site_day ON carbonedge_carbon_day (site, day);

-- Green share and CO2 per site and day (the gateways' day summaries, summed over a site's gateways).
CREATE VIEW carbonedge_site_daily AS
SELECT site, day,
  sum(consumption_wh) / 1000 AS consumption_kwh,
  sum(renewable_consumed_wh) / 1000 AS renewable_consumed_kwh,
  sum(grid_import_wh) / 1000 AS grid_import_kwh,
  sum(renewable_consumed_wh) / nullif(sum(consumption_wh), 0) AS green_share,
  sum(green_hourly_matched * consumption_wh) / nullif(sum(consumption_wh) FILTER (WHERE green_hourly_matched IS NOT NULL), 0) AS green_share_hourly_matched,
  sum(scope2_location_g) / 1000 AS scope2_location_kg,
  sum(scope2_market_g) / 1000 AS scope2_market_kg,
  sum(total_location_g) / 1000 AS co2_location_kg,
  sum(total_market_g) / 1000 AS co2_market_kg,
  bool_and(complete) AS complete,
  count(*) AS gateways
FROM carbonedge_carbon_day GROUP BY site, day;

CREATE VIEW carbonedge_site_monthly AS
SELECT site, date_trunc('month', day)::date AS month,
  sum(consumption_kwh) AS consumption_kwh,
  sum(renewable_consumed_kwh) AS renewable_consumed_kwh,
  sum(grid_import_kwh) AS grid_import_kwh,
  sum(renewable_consumed_kwh) / nullif(sum(consumption_kwh), 0) AS green_share,
  sum(scope2_location_kg) AS scope2_location_kg,
  sum(scope2_market_kg) AS scope2_market_kg,
  sum(co2_location_kg) AS co2_location_kg,
  sum(co2_market_kg) AS co2_market_kg,
  count(*) AS days,
  bool_and(complete) AS complete
FROM carbonedge_site_daily GROUP BY site, date_trunc('month', day);

-- Energy per device and flow per day (from the 15-minute carbon records' per-device energy).
CREATE VIEW carbonedge_device_energy_daily AS
SELECT c.site, c.gateway, c.day, d.key AS device, f.key AS flow, sum(f.value::double precision) / 1000 AS energy_kwh, count(*) AS quarters
FROM carbonedge_carbon_15m c, jsonb_each(c.devices) d, jsonb_each_text(d.value) f
GROUP BY c.site, c.gateway, c.day, d.key, f.key;
`,
  },
  {
    version: 2,
    name: 'gateway metadata, device availability, device points view',
    sql: `
-- The latest retained metadata (metadata.v1) per gateway: an older one never replaces a newer one.
CREATE TABLE carbonedge_metadata (
  gateway text PRIMARY KEY, site text NOT NULL, body jsonb NOT NULL,
  ts timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now()
);

-- The latest retained availability (availability.v1) per device: replaced only by a newer ts.
CREATE TABLE carbonedge_device_availability (
  gateway text NOT NULL, device text NOT NULL, state text NOT NULL, reason text,
  ts timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway, device)
);

-- Every point of every device from the latest metadata: join records (body->>'device', body->>'point') to units.
CREATE VIEW carbonedge_device_points AS
SELECT m.gateway, d->>'id' AS device, d->'profile'->>'id' AS profile, p->>'id' AS point, p->>'unit' AS unit, p->>'canonical' AS canonical
FROM carbonedge_metadata m, jsonb_array_elements(m.body->'devices') d, jsonb_array_elements(d->'points') p;
`,
  },
];

/** Apply the migrations not yet applied, under the advisory lock (other receivers wait). */
export async function migrate(client: pg.ClientBase, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS carbonedge_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM carbonedge_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO carbonedge_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`carbonedge PostgreSQL migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
