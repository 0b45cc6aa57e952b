/**
 * The demo factory's DL/T 645-2007 revenue meter: the grid company's meter at the connection,
 * served on a loopback TCP port (like an RS-485-to-Ethernet converter) by the DL/T 645 simulator.
 * It is CT-connected (400/5 A, multiplier 80, "倍率" on the bill), so it shows secondary values:
 * the grid meter's energies, power and currents divided by 80; voltages and frequency as they are.
 */
import type { Dlt645Profile } from '../../drivers/profiles/types.js';
import { DEMO_REVENUE_METER } from './demo-config.js';
import { Dlt645Server } from './dlt645-server.js';
import type { SimulatedSite } from './site.js';

export const REVENUE_CT_RATIO = 80;

const SCALED = ['energy_import', 'energy_export', 'active_power', 'active_power_l1', 'active_power_l2', 'active_power_l3', 'reactive_power', 'current_l1', 'current_l2', 'current_l3'];
const AS_IS = ['voltage_l1', 'voltage_l2', 'voltage_l3', 'power_factor', 'power_factor_l1', 'power_factor_l2', 'power_factor_l3', 'frequency'];

/** The revenue meter's values now (secondary side), by DL/T 645 profile point id. */
export function revenueMeterValues(sim: SimulatedSite): Record<string, number> {
  const g = sim.site.values('grid');
  const out: Record<string, number> = {};
  for (const k of SCALED) if (typeof g[k] === 'number') out[k] = (g[k] as number) / REVENUE_CT_RATIO;
  for (const k of AS_IS) if (typeof g[k] === 'number') out[k] = g[k] as number;
  out.energy_combined = out.energy_import! + out.energy_export!;
  out.energy_import_t1 = out.energy_import!;
  out.energy_export_t1 = out.energy_export!;
  for (const t of ['t2', 't3', 't4']) {
    out[`energy_import_${t}`] = 0;
    out[`energy_export_${t}`] = 0;
  }
  return out;
}

/** Serve the revenue meter on 127.0.0.1 (any free port), refreshed every second; undefined without the profile. */
export async function startRevenueMeter(sim: SimulatedSite, profile: Dlt645Profile | undefined): Promise<{ port: number; close(): Promise<void> } | undefined> {
  if (!profile) return undefined;
  const address = DEMO_REVENUE_METER.address;
  const server = new Dlt645Server({ profile, meters: [{ address, values: revenueMeterValues(sim) }] });
  const port = await server.listenTcp(0, '127.0.0.1');
  const timer = setInterval(() => {
    for (const [k, v] of Object.entries(revenueMeterValues(sim))) server.set(address, k, v);
  }, 1000);
  timer.unref();
  return {
    port,
    async close() {
      clearInterval(timer);
      await server.close();
    },
  };
}
