/** The demo factory's physics as a replay site (`carbonedge replay`, the rules bench, tests). */
import type { SiteConfig } from '../../runtime/config/types.js';
import type { DeviceRole } from '../../runtime/types.js';
import type { ReplaySite } from '../../rules/replay.js';
import { utcOffsetMinutes } from '../../rules/replay-sites.js';
import { DEMO_DEVICES, DemoSite, type DemoDevice, type DemoSiteOptions } from './demo-site.js';
import { DEMO_FACTORY } from './demo-factory.js';

const ROLE_TO_DEMO: Partial<Record<DeviceRole, DemoDevice>> = {
  grid_meter: 'grid',
  pv_inverter: 'pv',
  battery: 'battery',
  heat_pump: 'heatpump',
  load: 'load',
};

/** The demo site's physics behind the configured devices (matched by id, else by role). */
export class DemoReplaySite implements ReplaySite {
  readonly label = 'simulated demo site';
  readonly site: DemoSite;
  private readonly map = new Map<string, DemoDevice>();

  constructor(
    config: SiteConfig,
    readonly startMs: number,
    opts: DemoSiteOptions = {},
  ) {
    // The demo factory's sizes (tools/simulator/demo-factory.ts), in the configured site's time zone.
    this.site = new DemoSite({ seed: 1, ...DEMO_FACTORY, utcOffsetMinutes: utcOffsetMinutes(config.site.timezone, startMs), ...opts, startMs });
    const used = new Set<DemoDevice>();
    for (const d of config.devices) {
      const demo = (DEMO_DEVICES as readonly string[]).includes(d.id) ? (d.id as DemoDevice) : ROLE_TO_DEMO[d.role];
      if (demo && !used.has(demo)) {
        used.add(demo);
        this.map.set(d.id, demo);
      }
    }
    if (!this.map.size) throw new Error('none of the configured devices matches a demo site device (grid meter, PV, battery, heat pump, load)');
  }

  step(t: number): void {
    this.site.step(t);
  }

  values(device: string) {
    const d = this.map.get(device);
    return d ? this.site.values(d) : undefined;
  }

  write(device: string, point: string, value: number | boolean): void {
    this.site.write(this.map.get(device)!, point, value);
  }

  writable(): Set<string> {
    return new Set(this.map.keys());
  }

  energy() {
    const g = this.site.values('grid');
    const pv = this.site.values('pv');
    const b = this.site.values('battery');
    return {
      gridImport: g.energy_import as number,
      gridExport: g.energy_export as number,
      pv: pv.energy_export as number,
      batteryCharge: b.energy_import as number,
      batteryDischarge: b.energy_export as number,
    };
  }
}
