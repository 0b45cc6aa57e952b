/**
 * Which devices the accounting reads and how: each role's energy counters and power sign map to
 * flows; a device without a counter integrates its active power when allowed (flagged).
 */
import type { DeviceRole } from '../types.js';
import type { AccountingDeviceConfig } from './config-schema.js';
import type { AcctDevice, ElecFlow } from './model.js';

/** Role defaults: which canonical counters and power sign map to which flows. */
function roleSpec(role: DeviceRole): { counters: { point: string; flow: ElecFlow }[]; power?: { positive: ElecFlow; negative?: ElecFlow } } | undefined {
  switch (role) {
    case 'grid_meter':
      return { counters: [{ point: 'energy_import', flow: 'grid_import' }, { point: 'energy_export', flow: 'grid_export' }], power: { positive: 'grid_import', negative: 'grid_export' } };
    case 'pv_inverter':
      return { counters: [{ point: 'energy_export', flow: 'pv' }], power: { positive: 'pv' } };
    case 'wind_turbine':
      return { counters: [{ point: 'energy_export', flow: 'wind' }], power: { positive: 'wind' } };
    case 'generator':
      return { counters: [{ point: 'energy_export', flow: 'generator' }], power: { positive: 'generator' } };
    case 'battery':
      return {
        counters: [{ point: 'energy_import', flow: 'battery_charge' }, { point: 'energy_export', flow: 'battery_discharge' }],
        power: { positive: 'battery_discharge', negative: 'battery_charge' },
      };
    case 'heat_pump':
      return { counters: [{ point: 'energy_import', flow: 'heat_pump' }], power: { positive: 'heat_pump' } };
    case 'load':
      return { counters: [{ point: 'energy_import', flow: 'load' }], power: { positive: 'load' } };
    case 'submeter':
      return { counters: [{ point: 'energy_import', flow: 'submeter' }], power: { positive: 'submeter' } };
    default:
      return undefined;
  }
}

/**
 * Build the accounting's device list from the site devices and, per device, the canonical points
 * its profile offers (`hasCanonical(deviceId, canonical)`). Devices with an energy counter are
 * accounted from it; others integrate `active_power` when allowed (flagged).
 */
export function accountingDevices(
  devices: { id: string; role: DeviceRole; pollIntervalMs: number; tags?: Record<string, string> }[],
  cfg: Record<string, AccountingDeviceConfig>,
  hasPoint: (device: string, point: string) => boolean,
  opts: { integrationFallback: boolean; gapAfterMs?: number },
): AcctDevice[] {
  const out: AcctDevice[] = [];
  for (const d of devices) {
    const c = cfg[d.id] ?? {};
    const gapAfterMs = opts.gapAfterMs ?? Math.max(60_000, 3 * d.pollIntervalMs);
    const line = c.line ?? d.tags?.line;
    if (d.role === 'fuel_meter' || d.role === 'heat_meter' || d.role === 'production_counter' || (d.role === 'other' && c.processFactor !== undefined)) {
      if (!c.point) continue;
      out.push({ id: d.id, role: d.role, counters: [{ point: c.point, flow: d.role, scale: 1000 }], cfg: c, line, gapAfterMs });
      continue;
    }
    const spec = roleSpec(d.role);
    if (!spec) continue;
    const counters = spec.counters.filter((x) => hasPoint(d.id, x.point)).map((x) => ({ ...x, scale: 1000 }));
    const integrate = c.integrate ?? opts.integrationFallback;
    let power: AcctDevice['power'];
    // Integrate only flows without a counter; a device with all its counters never integrates.
    if (counters.length < spec.counters.length && integrate && spec.power && hasPoint(d.id, 'active_power')) {
      const have = new Set(counters.map((x) => x.flow));
      const pos = have.has(spec.power.positive) ? undefined : spec.power.positive;
      const neg = spec.power.negative && !have.has(spec.power.negative) ? spec.power.negative : undefined;
      if (pos || neg) power = { point: 'active_power', positive: pos ?? '', ...(neg ? { negative: neg } : {}) };
    }
    if (!counters.length && !power) continue;
    out.push({ id: d.id, role: d.role, counters, ...(power ? { power } : {}), cfg: c, line, gapAfterMs });
  }
  return out;
}

