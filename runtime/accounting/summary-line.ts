/**
 * The one readable line a closed 15-minute carbon summary is logged with (info): energy, CO2 by
 * both methods and the green share, plus the few numbers as pino fields.
 */
const kwh = (wh: unknown) => (typeof wh === 'number' ? (wh / 1000).toFixed(1) : '?');
const kg = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : '?');
const pct = (v: unknown) => (typeof v === 'number' ? `${Math.round(v * 100)} %` : 'n/a');

/** Local HH:MM of a timestamp in the site's time zone. */
function localTime(ms: number, timezone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
}

/** A carbon-15m record (runtime/accounting/quarter.ts quarterRecord) as one log line. */
export function quarterSummaryLine(record: Record<string, any>): { fields: Record<string, unknown>; msg: string } {
  const e: Record<string, number> = record.energy_Wh ?? {};
  const co2: Record<string, number> = record.co2_kg ?? {};
  const green = record.green?.annual_volumetric;
  const tz = String(record.timezone ?? 'UTC');
  const onsite = (e.pv ?? 0) + (e.wind ?? 0) + (e.generator ?? 0);
  const span = `${record.day} ${localTime(record.startMs, tz)}-${localTime(record.endMs, tz)}`;
  const intensity = (record.production ?? [])
    .filter((p: Record<string, unknown>) => p.kgCO2_per_unit_location !== null)
    .map((p: Record<string, any>) => `, ${p.device} ${Number(p.quantity)} ${p.unit} at ${Number(p.kgCO2_per_unit_location).toFixed(3)} kgCO2/${p.unit}`)
    .join('');
  const msg =
    `carbon 15 min ${span}: used ${kwh(e.consumption)} kWh (grid ${kwh(e.grid_import)}, on-site ${kwh(onsite)}, export ${kwh(e.grid_export)}), ` +
    `CO2 ${kg(co2.total_location)} kg location / ${kg(co2.total_market)} kg market, green ${pct(green)}` +
    intensity +
    (record.quality?.complete === false ? ' (incomplete)' : '');
  return {
    fields: {
      window: record.start,
      consumption_kWh: Number(kwh(e.consumption)),
      co2_location_kg: co2.total_location,
      co2_market_kg: co2.total_market,
      green: typeof green === 'number' ? Number(green.toFixed(3)) : null,
      complete: record.quality?.complete,
    },
    msg,
  };
}
