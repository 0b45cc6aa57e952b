import { describe, expect, it } from 'vitest';
import { decodeBlockResults, encodeRaw, fromEngineering, registerCount } from '../../drivers/modbus/codec.js';
import { minimumRequestCount, onePerPointRequestCount, planReads } from '../../drivers/modbus/planner.js';
import { CANONICAL } from '../../drivers/profiles/canonical.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import type { Profile, ProfilePoint } from '../../drivers/profiles/types.js';

const { profiles, issues } = loadBuiltinProfiles();
const get = (id: string): Profile => {
  const p = profiles.get(id);
  if (!p) throw new Error(`profile ${id} not loaded: ${JSON.stringify(issues)}`);
  return p;
};
const point = (profile: Profile, id: string): ProfilePoint => {
  const p = profile.points.find((q) => q.id === id);
  if (!p) throw new Error(`no point ${id} in ${profile.id}`);
  return p;
};

/** A register image of a device: encode engineering values where the profile says they live. */
function image(profile: Profile, values: Record<string, number | boolean | string>): Map<string, number> {
  const regs = new Map<string, number>();
  for (const [id, v] of Object.entries(values)) {
    const p = point(profile, id);
    const words = typeof v === 'string' ? encodeRaw(p, v) : fromEngineering(p, v, sfOf(profile, p, values));
    words.forEach((w, k) => regs.set(`${p.register}:${p.address + k}`, w));
  }
  return regs;
}
function sfOf(profile: Profile, p: ProfilePoint, values: Record<string, unknown>): number | undefined {
  return p.scaleFactorPoint ? (values[p.scaleFactorPoint] as number) : undefined;
}

/** Read a full plan from a register image (missing registers read as 0), decode to engineering values. */
function readAll(profile: Profile, regs: Map<string, number>): Record<string, unknown> {
  const results = planReads(profile).map((block) => {
    const vals = Array.from({ length: block.count }, (_, k) => regs.get(`${block.register}:${block.start + k}`) ?? 0);
    return block.register === 'coil' || block.register === 'discrete' ? { block, bits: vals.map(Boolean) } : { block, words: vals };
  });
  return Object.fromEntries(decodeBlockResults(profile, results, 0).map((r) => [r.point.id, r.quality === 'good' ? r.value : r.quality]));
}

describe('built-in profiles', () => {
  it('all load without issues', () => {
    expect(issues).toEqual([]);
    expect([...profiles.keys()].sort()).toEqual(
      expect.arrayContaining(['carbonedge-battery', 'carbonedge-relay-load', 'carbonedge-sg-ready-heat-pump', 'chint-dtsu666', 'eastron-sdm630', 'sunspec-inverter-103']),
    );
  });

  it('every profile cites a source and uses canonical names with canonical units', () => {
    for (const p of profiles.values()) {
      expect(p.source.document.length).toBeGreaterThan(10);
      for (const pt of p.points) {
        if (pt.canonical) expect(pt.unit).toBe(CANONICAL[pt.canonical]!.unit);
      }
    }
  });

  it('demo profiles have exactly the point ids and modes of the team contract', () => {
    const ids = (id: string) => get(id).points.map((p) => p.id);
    expect(ids('eastron-sdm630')).toEqual(expect.arrayContaining([
      'active_power', 'energy_import', 'energy_export', 'voltage_l1', 'voltage_l2', 'voltage_l3',
      'current_l1', 'current_l2', 'current_l3', 'frequency', 'power_factor',
    ]));
    expect(ids('sunspec-inverter-103')).toEqual(expect.arrayContaining(['active_power', 'energy_export', 'voltage_l1', 'current_l1', 'frequency']));
    const battery = get('carbonedge-battery');
    expect(ids('carbonedge-battery')).toEqual(expect.arrayContaining(['active_power', 'soc', 'energy_import', 'energy_export', 'control_mode', 'power_setpoint', 'reserve_soc']));
    expect(point(battery, 'control_mode')).toMatchObject({ register: 'holding', type: 'u16', access: 'read-write' });
    expect(point(battery, 'power_setpoint')).toMatchObject({ register: 'holding', type: 'i32', access: 'read-write', min: 0 });
    expect(point(battery, 'reserve_soc')).toMatchObject({ register: 'holding', type: 'u16', access: 'read-write' });
    expect(Object.fromEntries(Object.entries(battery.modes!).map(([k, m]) => [k, m.writes]))).toEqual({
      'self-consumption': [{ point: 'control_mode', value: 0 }],
      hold: [{ point: 'control_mode', value: 1 }],
      'grid-charge': [{ point: 'control_mode', value: 2 }],
      discharge: [{ point: 'control_mode', value: 3 }],
      'charge-from-surplus': [{ point: 'control_mode', value: 4 }],
    });
    const hp = get('carbonedge-sg-ready-heat-pump');
    expect(point(hp, 'sg_relay_1')).toMatchObject({ register: 'coil', access: 'read-write' });
    expect(point(hp, 'sg_relay_2')).toMatchObject({ register: 'coil', access: 'read-write' });
    expect(ids('carbonedge-sg-ready-heat-pump')).toEqual(expect.arrayContaining(['active_power', 'energy_import']));
    const relays = (m: string) => hp.modes![m]!.writes.map((w) => `${w.point}=${w.value}`).sort();
    expect(relays('sg1-blocked')).toEqual(['sg_relay_1=true', 'sg_relay_2=false']);
    expect(relays('sg2-normal')).toEqual(['sg_relay_1=false', 'sg_relay_2=false']);
    expect(relays('sg3-boost')).toEqual(['sg_relay_1=false', 'sg_relay_2=true']);
    expect(relays('sg4-forced')).toEqual(['sg_relay_1=true', 'sg_relay_2=true']);
    const load = get('carbonedge-relay-load');
    expect(point(load, 'relay')).toMatchObject({ register: 'coil', access: 'read-write' });
    expect(ids('carbonedge-relay-load')).toEqual(expect.arrayContaining(['active_power', 'energy_import']));
    expect(load.modes!.on!.writes).toEqual([{ point: 'relay', value: true }]);
    expect(load.modes!.off!.writes).toEqual([{ point: 'relay', value: false }]);
  });
});

describe('eastron-sdm630', () => {
  const sdm = get('eastron-sdm630');
  it('has the documented register map (input registers, float32 ABCD)', () => {
    const at = (id: string) => point(sdm, id).address;
    expect(at('voltage_l1')).toBe(0x0000);
    expect(at('voltage_l2')).toBe(0x0002);
    expect(at('voltage_l3')).toBe(0x0004);
    expect(at('current_l1')).toBe(0x0006);
    expect(at('active_power_l1')).toBe(0x000c);
    expect(at('power_factor')).toBe(0x003e);
    expect(at('active_power')).toBe(0x0034);
    expect(at('frequency')).toBe(0x0046);
    expect(at('energy_import')).toBe(0x0048);
    expect(at('energy_export')).toBe(0x004a);
    expect(at('voltage_l1_l2')).toBe(0x00c8);
    expect(at('current_n')).toBe(0x00e0);
    expect(at('energy_total')).toBe(0x0156);
    for (const p of sdm.points) expect(p).toMatchObject({ register: 'input', type: 'f32', wordOrder: 'big', byteOrder: 'big' });
    expect(sdm.limits.maxRegistersPerRequest).toBe(80);
  });
  it('a full read is 4 requests instead of one per point, and that is the minimum', () => {
    const blocks = planReads(sdm);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0x00, 80], [0x54, 4], [0xc8, 26], [0x156, 2]]);
    expect(minimumRequestCount(sdm)).toBe(4);
    expect(onePerPointRequestCount(sdm)).toBe(sdm.points.length);
  });
  it('decodes a register image to engineering values (230.5 V = 0x4366 0x8000)', () => {
    const regs = image(sdm, { voltage_l1: 230.5, active_power: -1500.25, energy_import: 12345.5, frequency: 50, power_factor: -0.5 });
    expect(regs.get('input:0')).toBe(0x4366);
    expect(regs.get('input:1')).toBe(0x8000);
    const v = readAll(sdm, regs);
    expect(v).toMatchObject({ voltage_l1: 230.5, active_power: -1500.25, energy_import: 12345.5, frequency: 50, power_factor: -0.5, current_l1: 0 });
    // frequency 0 (no voltage) is outside 45..65 Hz: out-of-range, not a fake 0
    expect(readAll(sdm, image(sdm, { voltage_l1: 230 })).frequency).toBe('out-of-range');
  });
});

describe('chint-dtsu666', () => {
  const dtsu = get('chint-dtsu666');
  it('has the Table 11 addresses (holding, float32 ABCD) with the documented scalings', () => {
    const at = (id: string) => point(dtsu, id);
    expect(at('voltage_l1')).toMatchObject({ address: 0x2006, register: 'holding', type: 'f32', scale: 0.1 });
    expect(at('current_l1')).toMatchObject({ address: 0x200c, scale: 0.001 });
    expect(at('active_power')).toMatchObject({ address: 0x2012, scale: 0.1, unit: 'W' });
    expect(at('power_factor')).toMatchObject({ address: 0x202a, scale: 0.001 });
    expect(at('frequency')).toMatchObject({ address: 0x2044, scale: 0.01 });
    expect(at('energy_import')).toMatchObject({ address: 0x401e, unit: 'kWh' });
    expect(at('energy_import').scale).toBeUndefined();
    expect(at('energy_export')).toMatchObject({ address: 0x4028 });
    expect(at('ct_ratio')).toMatchObject({ address: 0x0006, type: 'i16' });
    expect(at('pt_ratio')).toMatchObject({ address: 0x0007, type: 'i16', scale: 0.1 });
  });
  it('plans around the undocumented holes: 5 reads, none touching a prohibited register', () => {
    const blocks = planReads(dtsu);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[0x0006, 2], [0x2000, 34], [0x202a, 8], [0x2044, 2], [0x401e, 12]]);
    for (const b of blocks) {
      for (const r of dtsu.limits.prohibited) expect(r.start > b.start + b.count - 1 || r.end < b.start).toBe(true);
    }
    expect(minimumRequestCount(dtsu)).toBe(5);
  });
  it('decodes scaled floats: 2305.0 -> 230.5 V, 12345.0 -> 12.345 A, -15000.0 -> -1500 W, 4998.0 -> 49.98 Hz', () => {
    const regs = image(dtsu, { voltage_l1: 230.5, current_l1: 12.345, active_power: -1500, frequency: 49.98, power_factor: 0.95, energy_import: 1234.5, ct_ratio: 40, pt_ratio: 1 });
    // the meter sends the float 2305.0 = 0x45101000 for 230.5 V
    expect([regs.get('holding:8198'), regs.get('holding:8199')]).toEqual([0x4510, 0x1000]);
    expect(readAll(dtsu, regs)).toMatchObject({ voltage_l1: 230.5, current_l1: 12.345, active_power: -1500, frequency: 49.98, power_factor: 0.95, energy_import: 1234.5, ct_ratio: 40, pt_ratio: 1 });
  });
});

describe('sunspec-inverter-103', () => {
  const inv = get('sunspec-inverter-103');
  it('follows SunSpec: SunS at 40000, model 103 at 40070, W +14, W_SF +15, WH +24, WH_SF +26', () => {
    const at = (id: string) => point(inv, id).address;
    expect(at('sunspec_id')).toBe(40000);
    expect(at('model_id')).toBe(40070);
    expect(at('active_power')).toBe(40084);
    expect(at('w_sf')).toBe(40085);
    expect(at('energy_export')).toBe(40094);
    expect(point(inv, 'energy_export')).toMatchObject({ type: 'u32', scaleFactorPoint: 'wh_sf', scale: 0.001, unit: 'kWh' });
    expect(at('wh_sf')).toBe(40096);
    expect(at('end_model_id')).toBe(40122);
    for (const p of inv.points) expect(p.address + registerCount(p) - 1).toBeLessThanOrEqual(40122);
  });
  it('reads the whole map in 1 request and decodes scale factors and sentinels', () => {
    const blocks = planReads(inv);
    expect(blocks.map((b) => [b.start, b.count])).toEqual([[40000, 112]]);
    expect(minimumRequestCount(inv)).toBe(1);
    expect(onePerPointRequestCount(inv)).toBe(45); // 33 polled points + 12 scale factors
    const regs = image(inv, {
      sunspec_id: 'SunS', common_model_id: 1, common_model_length: 66, model_id: 103, model_length: 50,
      manufacturer: 'Demo Solar', w_sf: 1, active_power: 4560, wh_sf: 0, energy_export: 12345.678,
      v_sf: -1, voltage_l1: 231.4, hz_sf: -2, frequency: 49.98, pf_sf: 0, power_factor: 0.99,
      a_sf: -2, current_l1: 6.57,
    });
    expect(regs.get('holding:40000')).toBe(0x5375);
    expect(regs.get('holding:40001')).toBe(0x6e53);
    regs.set('holding:40088', 0x8000); // VA not implemented
    regs.set('holding:40089', 0x8000);
    const v = readAll(inv, regs);
    expect(v).toMatchObject({
      sunspec_id: 'SunS', model_id: 103, manufacturer: 'Demo Solar', active_power: 4560, energy_export: 12345.678,
      voltage_l1: 231.4, frequency: 49.98, power_factor: 0.99, current_l1: 6.57, apparent_power: 'out-of-range',
    });
    expect(v).not.toHaveProperty('w_sf'); // scale factors are helpers (poll: false)
  });
});

describe('carbonedge demo maps', () => {
  it('battery: CDAB i32 power (+ = discharge), 0.1 % SoC, 0.01 kWh counters, control registers', () => {
    const bat = get('carbonedge-battery');
    const regs = image(bat, { active_power: -2500, soc: 55.5, energy_import: 1234.56, energy_export: 987.65, control_mode: 2, power_setpoint: 3000, reserve_soc: 20 });
    expect([regs.get('input:0'), regs.get('input:1')]).toEqual([0xf63c, 0xffff]); // -2500 low word first
    expect(regs.get('input:2')).toBe(555);
    expect([regs.get('holding:101'), regs.get('holding:102')]).toEqual([3000, 0]);
    expect(readAll(bat, regs)).toMatchObject({ active_power: -2500, soc: 55.5, energy_import: 1234.56, energy_export: 987.65, control_mode: 2, power_setpoint: 3000, reserve_soc: 20 });
    expect(planReads(bat).map((b) => `${b.register}@${b.start}+${b.count}`)).toEqual(['input@0+12', 'holding@100+4']);
  });
  it('heat pump and load: coils and metering', () => {
    const hp = get('carbonedge-sg-ready-heat-pump');
    expect(readAll(hp, image(hp, { sg_relay_1: false, sg_relay_2: true, active_power: 2100, energy_import: 4321.09, sg_state: 3 })))
      .toMatchObject({ sg_relay_1: false, sg_relay_2: true, active_power: 2100, energy_import: 4321.09, sg_state: 3 });
    const load = get('carbonedge-relay-load');
    expect(readAll(load, image(load, { relay: true, active_power: 1500, energy_import: 12.34 }))).toEqual({ relay: true, active_power: 1500, energy_import: 12.34 });
    expect(planReads(load).map((b) => `${b.register}@${b.start}+${b.count}`)).toEqual(['coil@0+1', 'input@0+4']);
  });
});
