import { describe, expect, it } from 'vitest';
import { allocate, type Allocation, type BatteryPools, type WindowFlows } from '../../runtime/accounting/allocation.js';

const flows = (f: Partial<WindowFlows>): WindowFlows => ({ gridImport: 0, gridExport: 0, renewable: 0, generator: 0, batteryCharge: 0, batteryDischarge: 0, ...f });

// Worked by hand from the rules: exports from renewable, then generator, then battery; charging
// from the renewable surplus first; discharge carries the pools' mix (renewable side rounded down).
const TABLE: { name: string; f: Partial<WindowFlows>; pools: BatteryPools; want: Allocation }[] = [
  {
    name: 'PV, part exported',
    f: { renewable: 10_000, gridExport: 2_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 8_000, renewableConsumed: 8_000, onsiteConsumed: 8_000, clean: 10_000, dischargedRenewable: 0, pools: { ren: 0, other: 0 } },
  },
  {
    name: 'PV charges the battery',
    f: { renewable: 20_000, batteryCharge: 10_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 10_000, renewableConsumed: 10_000, onsiteConsumed: 10_000, clean: 10_000, dischargedRenewable: 0, pools: { ren: 10_000, other: 0 } },
  },
  {
    name: 'discharge of a renewable-charged battery at night',
    f: { gridImport: 4_000, batteryDischarge: 6_000 },
    pools: { ren: 10_000, other: 0 },
    want: { consumption: 10_000, renewableConsumed: 6_000, onsiteConsumed: 6_000, clean: 6_000, dischargedRenewable: 6_000, pools: { ren: 4_000, other: 0 } },
  },
  {
    name: 'discharge with empty pools is not renewable',
    f: { gridImport: 4_000, batteryDischarge: 6_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 10_000, renewableConsumed: 0, onsiteConsumed: 0, clean: 0, dischargedRenewable: 0, pools: { ren: 0, other: 0 } },
  },
  {
    name: 'grid charges the battery: pool other',
    f: { gridImport: 10_000, batteryCharge: 5_000 },
    pools: { ren: 4_000, other: 0 },
    want: { consumption: 5_000, renewableConsumed: 0, onsiteConsumed: 0, clean: 0, dischargedRenewable: 0, pools: { ren: 4_000, other: 5_000 } },
  },
  {
    name: 'mixed pools: 4/9 of the discharge is renewable, rounded down',
    f: { batteryDischarge: 6_000 },
    pools: { ren: 4_000, other: 5_000 },
    want: { consumption: 6_000, renewableConsumed: 2_666, onsiteConsumed: 2_666, clean: 2_666, dischargedRenewable: 2_666, pools: { ren: 1_334, other: 1_666 } },
  },
  {
    name: 'battery exports: the exported part carries the same mix',
    f: { gridExport: 3_000, batteryDischarge: 5_000 },
    pools: { ren: 5_000, other: 5_000 },
    want: { consumption: 2_000, renewableConsumed: 1_000, onsiteConsumed: 1_000, clean: 2_500, dischargedRenewable: 2_500, pools: { ren: 2_500, other: 2_500 } },
  },
  {
    name: 'generator: on-site, not renewable; exports from it first when there is no PV',
    f: { generator: 3_000, gridExport: 1_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 2_000, renewableConsumed: 0, onsiteConsumed: 2_000, clean: 0, dischargedRenewable: 0, pools: { ren: 0, other: 0 } },
  },
  {
    name: 'PV surplus: export first, then charging',
    f: { renewable: 10_000, gridExport: 3_000, batteryCharge: 5_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 2_000, renewableConsumed: 2_000, onsiteConsumed: 2_000, clean: 5_000, dischargedRenewable: 0, pools: { ren: 5_000, other: 0 } },
  },
  {
    name: 'exported PV cannot also charge the battery',
    f: { renewable: 6_000, gridExport: 3_000, batteryCharge: 5_000, gridImport: 2_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 0, renewableConsumed: 0, onsiteConsumed: 0, clean: 3_000, dischargedRenewable: 0, pools: { ren: 3_000, other: 2_000 } },
  },
  {
    name: 'charging beyond the PV surplus comes from the grid',
    f: { renewable: 4_000, gridImport: 3_000, batteryCharge: 6_000 },
    pools: { ren: 0, other: 0 },
    want: { consumption: 1_000, renewableConsumed: 0, onsiteConsumed: 0, clean: 0, dischargedRenewable: 0, pools: { ren: 4_000, other: 2_000 } },
  },
  {
    name: 'pools smaller than the discharge empty, never negative',
    f: { batteryDischarge: 1_000 },
    pools: { ren: 1, other: 2 },
    want: { consumption: 1_000, renewableConsumed: 333, onsiteConsumed: 333, clean: 333, dischargedRenewable: 333, pools: { ren: 0, other: 0 } },
  },
  {
    name: 'nothing flows',
    f: {},
    pools: { ren: 7, other: 3 },
    want: { consumption: 0, renewableConsumed: 0, onsiteConsumed: 0, clean: 0, dischargedRenewable: 0, pools: { ren: 7, other: 3 } },
  },
];

describe('battery pools and allocation (table)', () => {
  it.each(TABLE)('$name', ({ f, pools, want }) => {
    const before = { ...pools };
    expect(allocate(flows(f), pools)).toEqual(want);
    expect(pools, 'the pools passed in are not changed').toEqual(before);
  });

  it('a charge and a later discharge move renewable energy through the battery exactly (sequence of windows)', () => {
    let pools: BatteryPools = { ren: 0, other: 0 };
    const seq: Partial<WindowFlows>[] = [
      { renewable: 20_000, batteryCharge: 10_000 }, // 10 kWh renewable stored
      { gridImport: 4_000, batteryDischarge: 6_000 }, // 6 kWh renewable out
      { gridImport: 10_000, batteryCharge: 5_000 }, // 5 kWh grid stored
      { batteryDischarge: 6_000 }, // 4 renewable : 5 other
    ];
    const renewable = seq.map((f) => {
      const a = allocate(flows(f), pools);
      pools = a.pools;
      return a.renewableConsumed;
    });
    expect(renewable).toEqual([10_000, 6_000, 0, Math.floor((6_000 * 4_000) / 9_000)]);
    expect(pools).toEqual({ ren: 4_000 - 2_666, other: 5_000 - 3_334 });
  });
});
