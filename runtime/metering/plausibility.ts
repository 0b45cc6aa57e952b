/**
 * The default counter-jump plausibility limit of an energy counter: what its device can deliver
 * at most, from the datasheet's rated power (profile `ratedPowerW`), with a margin. A used meter
 * fitted in place of a failed one (reading 60,000.5 kWh where the old one read 52,376 kWh) is then
 * flagged `implausible` and not counted, instead of booking the difference as energy.
 */

/** Margin over the rated power (meter class tolerance, short overloads). */
export const RATED_MARGIN = 1.25;

/** Energy units per kWh. */
const PER_KWH: Record<string, number> = { Wh: 1000, kWh: 1, MWh: 0.001 };

/**
 * Highest plausible increase per hour of an energy counter in `unit` (Wh, kWh, MWh) for a device
 * rated `ratedPowerW`; undefined when the unit is not an energy unit or the rating is unknown.
 */
export function ratedMaxRatePerHour(ratedPowerW: number | undefined, unit: string | undefined): number | undefined {
  if (ratedPowerW === undefined || !(ratedPowerW > 0)) return undefined;
  const per = PER_KWH[unit ?? 'kWh'];
  if (per === undefined) return undefined;
  return (ratedPowerW / 1000) * RATED_MARGIN * per;
}
