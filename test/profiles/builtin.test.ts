import { describe, expect, it } from 'vitest';
import { registerCount } from '../../drivers/modbus/codec.js';
import { minimumRequestCount, onePerPointRequestCount } from '../../drivers/modbus/planner.js';
import { CANONICAL } from '../../drivers/profiles/canonical.js';
import { loadBuiltinProfiles } from '../../drivers/profiles/load.js';
import { modbusProfiles, type Profile, type ProfilePoint } from '../../drivers/profiles/types.js';
import { builtinFixture, decodeImage, rawImage } from './fixture.js';

const { profiles: all, issues } = loadBuiltinProfiles();
const profiles = modbusProfiles(all);
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
    const ids = (id: string) => get(id).points.map((p) => p.id).sort();
    // Canonical points, as `id` when the point id is the canonical name (what accounting and rules read).
    const canonicals = (id: string) => get(id).points.filter((p) => p.canonical).map((p) => (p.id === p.canonical ? p.id : `${p.id}=${p.canonical}`)).sort();
    const phases = (...names: string[]) => names.flatMap((n) => [`${n}_l1`, `${n}_l2`, `${n}_l3`]);
    const lineToLine = ['voltage_l1_l2', 'voltage_l2_l3', 'voltage_l3_l1'];
    expect(canonicals('eastron-sdm630')).toEqual([
      'active_power', 'apparent_power', 'current_n', 'energy_export', 'energy_import', 'frequency', 'power_factor',
      'reactive_energy_export', 'reactive_energy_import', 'reactive_power', ...lineToLine,
      ...phases('voltage', 'current', 'active_power', 'power_factor'),
    ].sort());
    expect(canonicals('chint-dtsu666')).toEqual([
      'active_power', 'energy_export', 'energy_import', 'frequency', 'power_factor', 'reactive_power', ...lineToLine,
      ...phases('voltage', 'current', 'active_power', 'power_factor'),
    ].sort());
    expect(canonicals('sunspec-inverter-103')).toEqual([
      'active_power', 'apparent_power', 'dc_power', 'energy_export', 'frequency', 'power_factor', 'reactive_power', 'temperature',
      ...lineToLine, ...phases('voltage', 'current'),
    ].sort());
    expect(ids('carbonedge-battery')).toEqual(
      ['active_power', 'capacity', 'control_mode', 'energy_export', 'energy_import', 'power_setpoint', 'reserve_soc', 'soc', 'soh', 'state', 'temperature'],
    );
    expect(canonicals('carbonedge-battery')).toEqual(['active_power', 'energy_export', 'energy_import', 'power_setpoint', 'reserve_soc', 'soc', 'soh', 'temperature']);
    expect(ids('carbonedge-sg-ready-heat-pump')).toEqual(['active_power', 'energy_import', 'sg_relay_1', 'sg_relay_2', 'sg_state', 'temperature']);
    expect(ids('carbonedge-relay-load')).toEqual(['active_power', 'energy_import', 'relay']);
    const battery = get('carbonedge-battery');
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
    const relays = (m: string) => hp.modes![m]!.writes.map((w) => `${w.point}=${w.value}`).sort();
    expect(relays('sg1-blocked')).toEqual(['sg_relay_1=true', 'sg_relay_2=false']);
    expect(relays('sg2-normal')).toEqual(['sg_relay_1=false', 'sg_relay_2=false']);
    expect(relays('sg3-boost')).toEqual(['sg_relay_1=false', 'sg_relay_2=true']);
    expect(relays('sg4-forced')).toEqual(['sg_relay_1=true', 'sg_relay_2=true']);
    const load = get('carbonedge-relay-load');
    expect(point(load, 'relay')).toMatchObject({ register: 'coil', access: 'read-write' });
    expect(load.modes!.on!.writes).toEqual([{ point: 'relay', value: true }]);
    expect(load.modes!.off!.writes).toEqual([{ point: 'relay', value: false }]);
  });
});

// Addresses, word orders, scalings and read plans of every shipped profile are checked by its
// fixture (device-profiles/fixtures/<id>.yaml, test/profiles/fixtures.test.ts). What follows is
// specific to one profile.
describe('eastron-sdm630', () => {
  const sdm = get('eastron-sdm630');
  it('asks for at most 40 parameters per request and reads 4 requests instead of one per point', () => {
    expect(sdm.limits.maxRegistersPerRequest).toBe(80);
    expect(minimumRequestCount(sdm)).toBe(4);
    expect(onePerPointRequestCount(sdm)).toBe(sdm.points.length);
  });
  it('frequency 0 (no voltage) is outside 45..65 Hz: out-of-range, not a fake 0', () => {
    const { image } = rawImage(builtinFixture('eastron-sdm630'));
    const f = point(sdm, 'frequency');
    image.words.set(`input:${f.address}`, 0);
    image.words.set(`input:${f.address + 1}`, 0);
    expect(decodeImage(sdm, image).find((r) => r.point.id === 'frequency')).toMatchObject({ value: 0, quality: 'out-of-range' });
  });
});

describe('sunspec-inverter-103', () => {
  const inv = get('sunspec-inverter-103');
  it('stays inside the model chain (end marker at 40122) and reads 33 points + 12 scale factors in 1 request', () => {
    for (const p of inv.points) expect(p.address + registerCount(p) - 1).toBeLessThanOrEqual(40122);
    expect(point(inv, 'end_model_id').address).toBe(40122);
    expect(minimumRequestCount(inv)).toBe(1);
    expect(onePerPointRequestCount(inv)).toBe(45);
  });
});
