/**
 * The site calendar: quarter-hour, hour, day, month and year buckets of an instant in the site's
 * time zone. A bucket is identified by the UTC instant it starts at and labelled in local time, so
 * a 25-hour day (DST ends) has two distinct 02:00 hours, a 23-hour day has no 02:00 hour, and in a
 * half-hour zone (Asia/Kolkata, UTC+05:30) an hour runs from :30 to :30 UTC.
 *
 * Keys are the local labels (`2024-06-01T10`, `2024-06-01`, `2024-06`, `2024`). Only an hour whose
 * local label occurs twice in a day (the repeated hour when DST ends) carries its UTC offset in its
 * key (`2024-10-27T02+02:00`, then `2024-10-27T02+01:00`), so every key names one bucket.
 */

export const QUARTER_MS = 15 * 60_000;
export const HOUR_MS = 3_600_000;

/** Start (ms) of the UTC quarter-hour containing ts. Quarter-hours are the same instants in every zone in use. */
export const quarterStart = (ts: number): number => Math.floor(ts / QUARTER_MS) * QUARTER_MS;

/**
 * Split an integer amount that accrued over (t0, t1] over the quarter-hours it spans, in proportion
 * to time and exactly (cumulative floor: the parts add up to `amount`). `book(ts, part)` receives
 * an instant inside each quarter-hour and its part: every part > 0, and always the last one. A
 * sample exactly on a boundary closes the quarter-hour before it.
 */
export function splitOverQuarters(amount: number, t0: number, t1: number, book: (ts: number, part: number) => void): void {
  let booked = 0;
  let s = quarterStart(t0);
  while (s + QUARTER_MS < t1) {
    const end = s + QUARTER_MS;
    const cum = Math.floor((amount * (end - t0)) / (t1 - t0));
    if (cum > booked) book(Math.max(t0, s), cum - booked);
    booked = cum;
    s = end;
  }
  book(t1 - 1, amount - booked);
}

export interface CalendarKeys {
  hour: string;
  day: string;
  month: string;
  year: string;
}

export interface HourBucket {
  /** UTC instant (ms) at which the local hour starts. */
  start: number;
  /** Local label, `YYYY-MM-DDTHH`. */
  label: string;
  /** The bucket's key: the label, with the UTC offset when the label occurs twice. */
  key: string;
}

interface LocalParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  /** Local time minus UTC, ms. */
  offsetMs: number;
}

const two = (n: number) => String(n).padStart(2, '0');

/** `+05:30` for an offset in ms. */
export function formatOffset(offsetMs: number): string {
  const m = Math.round(Math.abs(offsetMs) / 60_000);
  return `${offsetMs < 0 ? '-' : '+'}${two(Math.floor(m / 60))}:${two(m % 60)}`;
}

export class Calendar {
  private readonly fmt: Intl.DateTimeFormat;

  constructor(readonly timezone: string) {
    this.fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  }

  /** Local date and hour of an instant, and the zone's offset from UTC at that instant. */
  private local(ts: number): LocalParts {
    const p: Record<string, string> = {};
    for (const x of this.fmt.formatToParts(ts)) p[x.type] = x.value;
    const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
    return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, offsetMs: asUtc - Math.floor(ts / 1000) * 1000 };
  }

  /** Local time minus UTC at ts, ms (e.g. 19,800,000 for Asia/Kolkata). */
  offsetMs(ts: number): number {
    return this.local(ts).offsetMs;
  }

  /** The local hour containing ts: its UTC start, local label and key. */
  hour(ts: number): HourBucket {
    const p = this.local(ts);
    const label = `${p.year}-${p.month}-${p.day}T${p.hour}`;
    const start = Math.floor((ts + p.offsetMs) / HOUR_MS) * HOUR_MS - p.offsetMs;
    return { start, label, key: this.repeated(start, label) ? `${label}${formatOffset(p.offsetMs)}` : label };
  }

  /** Whether another local hour with the same label lies within three hours (only where the offset changes). */
  private repeated(start: number, label: string): boolean {
    const before = this.local(start - 3 * HOUR_MS).offsetMs;
    const after = this.local(start + 4 * HOUR_MS).offsetMs;
    if (before === after) return false;
    for (let t = start - 3 * HOUR_MS; t <= start + 4 * HOUR_MS; t += QUARTER_MS) {
      if (t >= start && t < start + HOUR_MS) continue;
      const p = this.local(t);
      if (`${p.year}-${p.month}-${p.day}T${p.hour}` === label) return true;
    }
    return false;
  }

  /** Hour, day, month and year keys of the buckets containing ts. */
  keys(ts: number): CalendarKeys {
    const p = this.local(ts);
    const day = `${p.year}-${p.month}-${p.day}`;
    return { hour: this.hour(ts).key, day, month: `${p.year}-${p.month}`, year: p.year };
  }

  /** Local day (`YYYY-MM-DD`) of ts. */
  day(ts: number): string {
    const p = this.local(ts);
    return `${p.year}-${p.month}-${p.day}`;
  }

  /** Start (ms) of the local day containing ts, found on quarter-hour boundaries. */
  dayStart(ts: number): number {
    const day = this.day(ts);
    let s = quarterStart(ts);
    while (this.day(s - QUARTER_MS) === day) s -= QUARTER_MS;
    return s;
  }
}
