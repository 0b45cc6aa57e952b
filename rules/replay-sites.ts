/**
 * Site time for replays: local midnights and UTC offsets in the site's time zone. The sites a
 * replay runs on are the demo site's physics (tools/simulator/replay-site.ts) or recorded minute
 * data from a gateway's store (rules/replay-recorded.ts).
 */

/** Offset of `timeZone` from UTC at `t`, minutes. */
export function utcOffsetMinutes(timeZone: string | undefined, t: number): number {
  if (!timeZone) return 0;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' }).formatToParts(new Date(t));
  const get = (k: string) => Number(parts.find((p) => p.type === k)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return Math.round((local - Math.floor(t / 60000) * 60000) / 60000);
}

/** Local midnight of `date` (YYYY-MM-DD) in the site's time zone, ms. */
export function localMidnight(date: string, timeZone?: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new Error(`date '${date}' must be YYYY-MM-DD`);
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return utc - utcOffsetMinutes(timeZone, utc) * 60000;
}
