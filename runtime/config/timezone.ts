import { closest } from './did-you-mean.js';
import type { ConfigIssue } from './errors.js';

let zones: string[] | undefined;
/** The IANA zones this runtime knows (its ICU data), plus UTC. */
function knownZones(): string[] {
  zones ??= [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])];
  return zones;
}

/** True when the runtime can compute local time in `tz` (IANA name or alias, e.g. UTC, Etc/GMT-8). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The closest known zone to a mistyped one: by whole name, else by city (`Shanghi` -> `Asia/Shanghai`). */
export function suggestTimeZone(tz: string): string | undefined {
  const all = knownZones();
  const whole = closest(tz, all);
  if (whole) return whole;
  const city = tz.split('/').pop() ?? tz;
  const byCity = new Map(all.map((z) => [z.split('/').pop() ?? z, z]));
  const c = closest(city, byCity.keys()) ?? (byCity.has(city) ? city : undefined);
  return c === undefined ? undefined : byCity.get(c);
}

/** An issue when `tz` is given and not a time zone the runtime knows; undefined when fine or absent. */
export function timeZoneIssue(tz: unknown, file: string, path: string): ConfigIssue | undefined {
  if (typeof tz !== 'string' || isTimeZone(tz)) return undefined;
  const near = suggestTimeZone(tz);
  return {
    file,
    path,
    code: 'CE_CONFIG_TIMEZONE',
    message: `unknown time zone '${tz}' (${near ? `did you mean '${near}'? ` : ''}expected an IANA name such as Asia/Shanghai or Europe/Berlin, or UTC)`,
  };
}
