/**
 * The canonical vocabulary: names accounting and rules use instead of vendors' point names.
 * Documented (with sign conventions) in device-profiles/README.md; the loader rejects a profile
 * point whose `canonical` is not listed here or whose unit differs from the canonical unit.
 *
 * Sign conventions: meters (grid meters, submeters) take the site's view through the meter:
 * active_power + = import (the site consumes from the grid), energy_import / energy_export are the
 * cumulative counters through the meter. Every other device takes its own view: PV inverter
 * active_power + = generation and energy_export = energy produced; battery active_power + =
 * discharge, energy_import = charged, energy_export = discharged; loads and heat pumps
 * active_power + = consumption, energy_import = consumed.
 */
export interface CanonicalEntry {
  unit: string;
  description: string;
}

const phases = (base: string, unit: string, what: string): Record<string, CanonicalEntry> =>
  Object.fromEntries([1, 2, 3].map((n) => [`${base}_l${n}`, { unit, description: `${what}, phase L${n}` }]));

export const CANONICAL: Record<string, CanonicalEntry> = {
  active_power: {
    unit: 'W',
    description:
      'Total active power. Meters: + = import (site consumes from the grid), - = export. PV: + = generation. Battery: + = discharge, - = charge. Loads/heat pumps: + = consumption.',
  },
  ...phases('active_power', 'W', 'Active power (same sign convention as active_power)'),
  reactive_power: { unit: 'var', description: 'Total reactive power; + = inductive (lagging) as seen with the active_power sign convention.' },
  apparent_power: { unit: 'VA', description: 'Total apparent power (always >= 0).' },
  energy_import: {
    unit: 'kWh',
    description:
      'Cumulative active energy counter. Meters: imported from the grid through the meter. Battery: charged. Loads/heat pumps: consumed. Never decreases except on a meter reset.',
  },
  energy_export: {
    unit: 'kWh',
    description:
      'Cumulative active energy counter. Meters: exported to the grid through the meter. PV: produced (lifetime). Battery: discharged. Never decreases except on a meter reset.',
  },
  reactive_energy_import: { unit: 'kvarh', description: 'Cumulative reactive energy, import direction.' },
  reactive_energy_export: { unit: 'kvarh', description: 'Cumulative reactive energy, export direction.' },
  ...phases('voltage', 'V', 'Phase-to-neutral voltage (RMS)'),
  voltage_l1_l2: { unit: 'V', description: 'Line-to-line voltage L1-L2 (RMS).' },
  voltage_l2_l3: { unit: 'V', description: 'Line-to-line voltage L2-L3 (RMS).' },
  voltage_l3_l1: { unit: 'V', description: 'Line-to-line voltage L3-L1 (RMS).' },
  ...phases('current', 'A', 'Phase current (RMS, always >= 0)'),
  current_n: { unit: 'A', description: 'Neutral current (RMS).' },
  frequency: { unit: 'Hz', description: 'Grid frequency.' },
  power_factor: {
    unit: '',
    description: 'Total power factor, dimensionless -1..1 (the device\'s own sign; |PF| is what accounting may use).',
  },
  ...phases('power_factor', '', 'Power factor, dimensionless -1..1'),
  soc: { unit: '%', description: 'Battery state of charge, 0..100.' },
  soh: { unit: '%', description: 'Battery state of health, 0..100.' },
  dc_power: { unit: 'W', description: 'DC-side power (PV input or battery DC), + = into the inverter from the DC source.' },
  temperature: { unit: '°C', description: 'Device (cabinet, heat sink or water) temperature.' },
  power_setpoint: { unit: 'W', description: 'Active power setpoint written to a controllable device (magnitude; direction given by its mode).' },
  reserve_soc: { unit: '%', description: 'Battery SoC kept in reserve (not discharged below), 0..100.' },
};

/** Whether a name belongs to the canonical vocabulary. */
export function isCanonical(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(CANONICAL, name);
}
