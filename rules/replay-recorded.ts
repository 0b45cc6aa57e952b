/**
 * Replay on recorded data: the per-minute means a gateway's store kept (table readings_1m of
 * runtime/store) give PV generation and the site's uncontrolled load (grid + PV + battery -
 * heat pump - flexible loads); the controllable devices are modelled so rules can act on them:
 * battery (modes of the carbonedge battery map, capacity, power, reserve), SG-Ready heat pump
 * and relay loads.
 *
 * The heat pump and the relay load are modelled as storage loads, like the demo site's physics:
 * what they drew in the recording is their demand; running them harder (SG-Ready boost/forced,
 * relay on) banks the energy above that demand in a store (`heatPumpStoreKwh`, `flexStoreKwh`),
 * and while the bank lasts they draw nothing in their normal state. So a rule that moves their
 * consumption into PV hours is credited for the shift, not for extra consumption. Blocked (SG-Ready
 * state 1) uses the bank first, then leaves the demand unserved.
 */
import Database from 'better-sqlite3';
import type { AnyProfile } from '../drivers/profiles/types.js';
import type { SiteConfig } from '../runtime/config/types.js';
import type { ReplaySite } from './replay.js';

const MINUTE = 60_000;

interface Series {
  t: number[];
  v: number[];
}

function at(s: Series | undefined, t: number): number | undefined {
  if (!s || !s.t.length) return undefined;
  let lo = 0;
  let hi = s.t.length - 1;
  if (t < s.t[0]!) return s.v[0];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s.t[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return s.v[lo];
}

export interface RecordedOptions {
  startMs?: number;
  days: number;
  heatPumpBoostW?: number;
  heatPumpForcedW?: number;
  flexLoadW?: number;
  /** Stores of the storage-load model, kWh (defaults 12 and 12, as the demo site). */
  heatPumpStoreKwh?: number;
  flexStoreKwh?: number;
}

export class RecordedReplaySite implements ReplaySite {
  readonly label: string;
  readonly startMs: number;
  private t: number;
  private readonly roleDev = new Map<string, string>();
  private readonly series = new Map<string, Series>();
  // modelled state
  private socKwh: number;
  private readonly capKwh: number;
  private readonly maxW: number;
  private mode = 0;
  private setpoint = 0;
  private reserve = 10;
  private sg1 = false;
  private sg2 = false;
  private relay = false;
  private hpBank = 0;
  private loadBank = 0;
  private p = { grid: 0, pv: 0, battery: 0, hp: 0, load: 0 };
  private e = { gridImport: 0, gridExport: 0, pv: 0, batteryCharge: 0, batteryDischarge: 0, hp: 0, load: 0 };

  private constructor(
    private readonly config: SiteConfig,
    private readonly profiles: Map<string, AnyProfile>,
    file: string,
    rows: { device: string; point: string; canonical: string | null; bucket: number; mean: number | null }[],
    private readonly opts: RecordedOptions,
  ) {
    this.label = `recorded data in ${file}`;
    for (const d of config.devices) if (!this.roleDev.has(d.role)) this.roleDev.set(d.role, d.id);
    for (const r of rows) {
      if (r.mean === null) continue;
      for (const key of [`${r.device}/${r.point}`, ...(r.canonical ? [`${r.device}/~${r.canonical}`] : [])]) {
        let s = this.series.get(key);
        if (!s) this.series.set(key, (s = { t: [], v: [] }));
        s.t.push(r.bucket);
        s.v.push(r.mean);
      }
    }
    const grid = this.roleDev.get('grid_meter');
    const gs = grid ? this.series.get(`${grid}/~active_power`) : undefined;
    if (!gs?.t.length) throw new Error(`${file}: no recorded grid meter active_power in the requested period (readings_1m)`);
    this.startMs = opts.startMs ?? Math.floor(gs.t[0]! / MINUTE) * MINUTE;
    this.t = this.startMs;
    const bat = this.roleDev.get('battery') ?? '';
    const ld = this.roleDev.get('load') ?? '';
    const first = (key: string) => at(this.series.get(key), this.t);
    const capUnit = this.profiles.get(config.devices.find((d) => d.id === bat)?.profile ?? '')?.points.find((p) => p.id === 'capacity')?.unit;
    const cap = first(`${bat}/capacity`);
    this.capKwh = cap ? (capUnit === 'Wh' ? cap / 1000 : cap) : 50;
    this.maxW = first(`${bat}/max_power`) || 10_000;
    this.socKwh = ((first(`${bat}/~soc`) ?? 50) / 100) * this.capKwh;
    this.mode = first(`${bat}/control_mode`) ?? 0;
    this.reserve = first(`${bat}/reserve_soc`) ?? 10;
    this.relay = (first(`${ld}/relay`) ?? 0) >= 0.5;
    this.compute(this.t, 0);
  }

  /** Open a store database (read-only) and load the minute data of the period. */
  static open(file: string, config: SiteConfig, profiles: Map<string, AnyProfile>, opts: RecordedOptions): RecordedReplaySite {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const from = opts.startMs ?? 0;
      const to = opts.startMs !== undefined ? opts.startMs + opts.days * 86_400_000 : Number.MAX_SAFE_INTEGER;
      const rows = db
        .prepare('SELECT p.device, p.point, p.canonical, r.bucket, r.mean FROM readings_1m r JOIN points p ON p.id = r.point_id WHERE r.bucket >= ? AND r.bucket <= ? ORDER BY r.bucket')
        .all(from, to) as { device: string; point: string; canonical: string | null; bucket: number; mean: number | null }[];
      return new RecordedReplaySite(config, profiles, file, rows, opts);
    } finally {
      db.close();
    }
  }

  private rec(role: string, canonical: string, t: number): number | undefined {
    const d = this.roleDev.get(role);
    return d ? at(this.series.get(`${d}/~${canonical}`), t) : undefined;
  }

  private compute(t: number, dtMs: number): void {
    const pv = Math.max(0, this.rec('pv_inverter', 'active_power', t) ?? 0);
    const grid = this.rec('grid_meter', 'active_power', t) ?? 0;
    const recBat = this.rec('battery', 'active_power', t) ?? 0;
    const recHp = this.rec('heat_pump', 'active_power', t) ?? 0;
    const recLoad = this.rec('load', 'active_power', t) ?? 0;
    const base = Math.max(0, grid + pv + recBat - recHp - recLoad);
    const sg = this.sg1 && !this.sg2 ? 1 : !this.sg1 && !this.sg2 ? 2 : !this.sg1 && this.sg2 ? 3 : 4;
    const hpCap = this.opts.heatPumpStoreKwh ?? 12;
    const loadCap = this.opts.flexStoreKwh ?? 12;
    const hpHigh = sg === 3 ? (this.opts.heatPumpBoostW ?? 7000) : (this.opts.heatPumpForcedW ?? 8000);
    const hp = sg === 1 ? 0 : sg === 2 ? (this.hpBank > 0 ? 0 : recHp) : this.hpBank >= hpCap ? recHp : Math.max(recHp, hpHigh);
    const load = this.relay ? (this.loadBank >= loadCap ? recLoad : Math.max(recLoad, this.opts.flexLoadW ?? 5000)) : this.loadBank > 0 ? 0 : recLoad;
    const deficit = base + hp + load - pv;
    const sp = Math.min(this.setpoint, this.maxW);
    let want = [deficit, 0, -sp, sp, Math.min(0, deficit)][this.mode] ?? 0;
    want = Math.max(-this.maxW, Math.min(this.maxW, want));
    const soc = (this.socKwh / this.capKwh) * 100;
    if (want > 0 && soc <= this.reserve) want = 0;
    if (want < 0 && soc >= 100) want = 0;
    this.p = { grid: deficit - want, pv, battery: want, hp, load };
    if (dtMs > 0) {
      const kwh = (w: number) => (w * dtMs) / 3_600_000 / 1000;
      if (this.p.grid >= 0) this.e.gridImport += kwh(this.p.grid);
      else this.e.gridExport += kwh(-this.p.grid);
      this.e.pv += kwh(pv);
      this.e.hp += kwh(hp);
      this.e.load += kwh(load);
      this.hpBank = Math.max(0, Math.min(hpCap, this.hpBank + kwh(hp - recHp)));
      this.loadBank = Math.max(0, Math.min(loadCap, this.loadBank + kwh(load - recLoad)));
      if (want >= 0) {
        this.e.batteryDischarge += kwh(want);
        this.socKwh -= kwh(want) / 0.96;
      } else {
        this.e.batteryCharge += kwh(-want);
        this.socKwh += kwh(-want) * 0.96;
      }
      this.socKwh = Math.max(0, Math.min(this.capKwh, this.socKwh));
    }
  }

  step(t: number): void {
    while (this.t < t) {
      const t1 = Math.min(t, this.t + MINUTE);
      this.compute(t1, t1 - this.t);
      this.t = t1;
    }
  }

  /** Values keyed by the point ids of the configured device's profile (mapped by canonical name). */
  values(device: string): Record<string, number | boolean> | undefined {
    const d = this.config.devices.find((x) => x.id === device);
    if (!d) return undefined;
    const byCanonical: Record<string, number | boolean> = {};
    switch (d.role) {
      case 'grid_meter':
        Object.assign(byCanonical, { active_power: this.p.grid, energy_import: this.e.gridImport, energy_export: this.e.gridExport });
        break;
      case 'pv_inverter':
        Object.assign(byCanonical, { active_power: this.p.pv, energy_export: this.e.pv });
        break;
      case 'battery':
        Object.assign(byCanonical, {
          active_power: this.p.battery,
          soc: (this.socKwh / this.capKwh) * 100,
          energy_import: this.e.batteryCharge,
          energy_export: this.e.batteryDischarge,
          control_mode: this.mode,
          power_setpoint: this.setpoint,
          reserve_soc: this.reserve,
        });
        break;
      case 'heat_pump':
        Object.assign(byCanonical, { active_power: this.p.hp, energy_import: this.e.hp, sg_relay_1: this.sg1, sg_relay_2: this.sg2 });
        break;
      case 'load':
        Object.assign(byCanonical, { active_power: this.p.load, energy_import: this.e.load, relay: this.relay });
        break;
      default:
        return undefined;
    }
    const out: Record<string, number | boolean> = {};
    for (const pt of this.profiles.get(d.profile)?.points ?? []) {
      const v = byCanonical[pt.id] ?? (pt.canonical ? byCanonical[pt.canonical] : undefined);
      if (v !== undefined) out[pt.id] = v;
    }
    return out;
  }

  write(device: string, point: string, value: number | boolean): void {
    const d = this.config.devices.find((x) => x.id === device);
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    switch (`${d?.role}:${point}`) {
      case 'battery:control_mode': this.mode = n; break;
      case 'battery:power_setpoint': this.setpoint = n; break;
      case 'battery:reserve_soc': this.reserve = n; break;
      case 'heat_pump:sg_relay_1': this.sg1 = n === 1; break;
      case 'heat_pump:sg_relay_2': this.sg2 = n === 1; break;
      case 'load:relay': this.relay = n === 1; break;
      default:
        throw new Error(`${device}.${point} cannot be replayed on recorded data`);
    }
  }

  writable(): Set<string> {
    return new Set(this.config.devices.filter((d) => ['battery', 'heat_pump', 'load'].includes(d.role)).map((d) => d.id));
  }

  energy() {
    const { gridImport, gridExport, pv, batteryCharge, batteryDischarge } = this.e;
    return { gridImport, gridExport, pv, batteryCharge, batteryDischarge };
  }
}
