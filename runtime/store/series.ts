/**
 * Time series of one canonical point per device from the 1-minute aggregates (read-only: the
 * local page's 24 h chart). Means of the good samples, averaged into `stepMs` buckets.
 */
import type { Persistence } from '../persistence/database.js';

export interface PointSeries {
  /** Bucket starts, ms since the epoch, ascending. */
  t: number[];
  /** Per device: the mean in each bucket, null where the device had no good sample. */
  values: Record<string, (number | null)[]>;
}

export class SeriesQuery {
  private readonly select;

  constructor(persistence: Persistence) {
    this.select = persistence.db.prepare(
      `SELECT (r.bucket / @step) * @step AS t, p.device AS device, AVG(r.mean) AS v
         FROM readings_1m r JOIN points p ON p.id = r.point_id
        WHERE r.bucket >= @from AND r.mean IS NOT NULL AND (p.canonical = @canonical OR (p.canonical IS NULL AND p.point = @canonical))
        GROUP BY t, p.device ORDER BY t`,
    );
  }

  /** `canonical` (e.g. active_power) of every device that has it, from `from` on, in `stepMs` buckets. */
  series(canonical: string, from: number, stepMs: number): PointSeries {
    const step = Math.max(60_000, Math.round(stepMs));
    const rows = this.select.all({ step, from, canonical }) as { t: number; device: string; v: number }[];
    const t: number[] = [];
    const index = new Map<number, number>();
    for (const r of rows) if (!index.has(r.t)) index.set(r.t, t.push(r.t) - 1);
    const values: Record<string, (number | null)[]> = {};
    for (const r of rows) (values[r.device] ??= new Array<number | null>(t.length).fill(null))[index.get(r.t)!] = r.v;
    return { t, values };
  }
}
