/**
 * What the rules can see and touch on a site: points of configured devices (by point id or
 * canonical name), derived inputs (pv_surplus, grid_co2_g_per_kwh...), schedule variables,
 * GPIO outputs, and device modes from profiles. Built once at load; resolves names to keys.
 */
import type { SiteConfig, SiteDeviceConfig } from '../runtime/config/types.js';
import { isDlt645Point, type AnyPoint, type AnyProfile } from '../drivers/profiles/types.js';
import type { DeviceRole } from '../runtime/types.js';
import type { ResolvedRef, Resolver, ValueType } from './expr/compile.js';
import type { ControlConfig, OutputLiteral } from './config-types.js';

/** An output a rule drives: a point, or a device's abstract mode (profile `modes`). */
export interface OutputRef {
  device: string;
  /** Point id; undefined for a mode output. */
  point?: string;
  /** `device/point` or `device#mode`. */
  key: string;
  /** The value type written: boolean/number for points, string (mode names) for modes. */
  type: ValueType;
  /** Mode names, for mode outputs. */
  modes?: string[];
  gpio?: boolean;
}

export interface PointWrite {
  device: string;
  point: string;
  value: number | boolean;
}

/** Derived inputs: name -> [description, roles it needs]. */
export const DERIVED_INPUTS: Record<string, { description: string; needs: DeviceRole[] }> = {
  grid_power: { description: 'net grid power, W (+ import, - export), sum of grid meters', needs: ['grid_meter'] },
  import_power: { description: 'max(0, grid_power), W', needs: ['grid_meter'] },
  export_power: { description: 'max(0, -grid_power), W', needs: ['grid_meter'] },
  pv_power: { description: 'on-site generation, W, sum of PV inverters and wind turbines', needs: ['pv_inverter'] },
  battery_power: { description: 'battery power, W (+ discharge, - charge), sum of batteries', needs: ['battery'] },
  battery_soc: { description: 'battery state of charge, % (mean over batteries)', needs: ['battery'] },
  site_load: { description: 'site consumption, W = grid_power + pv_power + battery_power (missing parts count 0)', needs: ['grid_meter'] },
  pv_surplus: { description: 'generation minus consumption, W = pv_power - site_load (negative = deficit)', needs: ['grid_meter'] },
  grid_co2_g_per_kwh: { description: 'grid carbon intensity, g CO2/kWh (control.carbonIntensity: static hourly profile or pushed)', needs: [] },
  price: { description: 'energy price per kWh (control.price: static hourly profile or pushed)', needs: [] },
};

export function pointValueType(p: AnyPoint): ValueType {
  if (isDlt645Point(p)) return 'number';
  if (p.type === 'bit' || p.register === 'coil' || p.register === 'discrete') return 'boolean';
  if (p.type === 'string') return 'string';
  return 'number';
}

export function isWritable(p: AnyPoint): boolean {
  if (isDlt645Point(p)) return false; // DL/T 645 meters are only read
  if (p.access === 'read-write' || p.access === 'write') return true;
  if (p.access === 'read') return false;
  return p.register === 'coil' || p.register === 'holding';
}

export class SiteModel implements Resolver {
  readonly devices = new Map<string, SiteDeviceConfig>();
  readonly control: ControlConfig;
  readonly gpioDevice: string;
  readonly gpioOutputs: Set<string>;
  private readonly windows: Set<string>;
  private readonly schedules: Map<string, ValueType>;

  constructor(
    readonly config: SiteConfig,
    readonly profiles: Map<string, AnyProfile>,
  ) {
    // A duplicate id is reported by the config check; the first definition is the one referred to.
    for (const d of config.devices) if (!this.devices.has(d.id)) this.devices.set(d.id, d);
    this.control = (config.control ?? {}) as ControlConfig;
    this.gpioDevice = this.control.gpio?.device ?? 'gpio';
    this.gpioOutputs = new Set((this.control.gpio?.outputs ?? []).map((o) => o.id));
    this.windows = new Set((this.control.windows ?? []).map((w) => w.id));
    this.schedules = new Map((this.control.schedules ?? []).map((s) => [s.id, typeof s.initial as ValueType]));
  }

  private unloaded(device: string, profile: string): string {
    return `device '${device}' uses profile '${profile}', which is not loaded`;
  }

  /**
   * True for a message that only repeats a problem the config check reports at the device (its
   * profile does not exist): rules do not add a follow-on error for it.
   */
  isFollowOn(message: string): boolean {
    return [...this.devices.values()].some((d) => !this.profiles.has(d.profile) && message.includes(this.unloaded(d.id, d.profile)));
  }

  profileOf(device: string): AnyProfile | undefined {
    const d = this.devices.get(device);
    return d ? this.profiles.get(d.profile) : undefined;
  }

  devicesWithRole(role: DeviceRole): SiteDeviceConfig[] {
    // Every configured device, also one whose id is a duplicate: a role never disappears behind an id error.
    return this.config.devices.filter((d) => d.role === role);
  }

  /** A point of a device by point id, else by canonical name. */
  findPoint(device: string, name: string): AnyPoint | undefined {
    const p = this.profileOf(device);
    if (!p) return undefined;
    return p.points.find((x) => x.id === name) ?? p.points.find((x) => x.canonical === name);
  }

  /** Scope key of a device's point mapped to `canonical` (or with that id). */
  canonicalKey(device: string, canonical: string): string | undefined {
    const p = this.findPoint(device, canonical);
    return p ? `${device}/${p.id}` : undefined;
  }

  hasWindow(id: string): boolean {
    return this.windows.has(id);
  }

  ref(name: string): ResolvedRef | string {
    const dot = name.indexOf('.');
    if (dot >= 0) {
      const dev = name.slice(0, dot);
      const pt = name.slice(dot + 1);
      if (dev === this.gpioDevice && this.gpioOutputs.size) return `GPIO outputs cannot be read by rules ('${name}')`;
      const d = this.devices.get(dev);
      if (!d) return `no device '${dev}' in the site (devices: ${[...this.devices.keys()].join(', ') || 'none'})`;
      const profile = this.profiles.get(d.profile);
      if (!profile) return this.unloaded(dev, d.profile);
      const p = this.findPoint(dev, pt);
      if (!p) return `device '${dev}' (profile ${profile.id}) has no point or canonical '${pt}'`;
      return { key: `${dev}/${p.id}`, type: pointValueType(p), point: true };
    }
    if (DERIVED_INPUTS[name]) {
      const missing = DERIVED_INPUTS[name]!.needs.filter((r) => this.devicesWithRole(r).length === 0);
      if (missing.length) return `derived input '${name}' needs a device with role ${missing.join(', ')}, and the site has none`;
      return { key: `$${name}`, type: 'number' };
    }
    const sched = this.schedules.get(name);
    if (sched) return { key: `@${name}`, type: sched };
    return `unknown input '${name}' (use device.point, a derived input: ${Object.keys(DERIVED_INPUTS).join(', ')}${
      this.schedules.size ? `, or a schedule: ${[...this.schedules.keys()].join(', ')}` : ''
    })`;
  }

  /** Resolve an output string (`device.point`, `device` with modes, or `gpio.<id>`). */
  output(spec: string): OutputRef | string {
    const dot = spec.indexOf('.');
    if (dot < 0) {
      const d = this.devices.get(spec);
      if (!d) return `no device '${spec}' in the site`;
      const profile = this.profiles.get(d.profile);
      if (!profile) return this.unloaded(spec, d.profile);
      const modes = Object.keys(profile.modes ?? {});
      if (!modes.length) return `device '${spec}' (profile ${d.profile}) has no modes; write a point as '${spec}.<point>'`;
      return { device: spec, key: `${spec}#mode`, type: 'string', modes };
    }
    const dev = spec.slice(0, dot);
    const pt = spec.slice(dot + 1);
    if (dev === this.gpioDevice && this.gpioOutputs.size) {
      if (!this.gpioOutputs.has(pt)) return `no GPIO output '${pt}' in control.gpio.outputs`;
      return { device: dev, point: pt, key: `${dev}/${pt}`, type: 'boolean', gpio: true };
    }
    const r = this.ref(spec);
    if (typeof r === 'string') return r;
    const p = this.findPoint(dev, pt)!;
    if (!isWritable(p)) return `point '${spec}' is read-only (access ${p.access ?? 'read'}, ${isDlt645Point(p) ? `DL/T 645 DI ${p.di}` : `${p.register} register`})`;
    return { device: dev, point: p.id, key: `${dev}/${p.id}`, type: pointValueType(p) };
  }

  /** Check a literal against an output; returns an error message or undefined. */
  checkLiteral(out: OutputRef, v: OutputLiteral): string | undefined {
    if (out.type === 'string') {
      if (typeof v !== 'string' || !out.modes!.includes(v)) return `'${String(v)}' is not a mode of ${out.device} (modes: ${out.modes!.join(', ')})`;
      return undefined;
    }
    if (out.type === 'boolean') {
      if (typeof v === 'boolean' || v === 0 || v === 1) return undefined;
      return `output ${out.key.replace('/', '.')} is on/off: use true/false, not ${JSON.stringify(v)}`;
    }
    if (typeof v !== 'number') return `output ${out.key.replace('/', '.')} is numeric: use a number, not ${JSON.stringify(v)}`;
    return undefined;
  }

  /** The point writes that set `out` to `value`. */
  expand(out: OutputRef, value: OutputLiteral): PointWrite[] {
    if (out.point !== undefined) {
      const v = out.type === 'boolean' ? value === true || value === 1 : (value as number);
      return [{ device: out.device, point: out.point, value: v }];
    }
    const mode = this.profileOf(out.device)?.modes?.[String(value)];
    if (!mode) return [];
    return mode.writes.map((w) => ({ device: out.device, point: this.findPoint(out.device, w.point)?.id ?? w.point, value: w.value }));
  }

  /** Every point key an output may write (for conflict detection). */
  pointsOf(out: OutputRef): string[] {
    if (out.point !== undefined) return [out.key];
    const modes = this.profileOf(out.device)?.modes ?? {};
    const set = new Set<string>();
    for (const m of Object.values(modes)) for (const w of m.writes) set.add(`${out.device}/${this.findPoint(out.device, w.point)?.id ?? w.point}`);
    return [...set];
  }
}
