/**
 * Allocation of one window's electricity (integer Wh): where exports and battery charging come
 * from, what the site consumed, and which part of it was renewable. Pure: no state but the battery
 * pools passed in and returned.
 *
 * Rules: exports come from on-site supply first (renewable, then generator, then battery);
 * charging comes from the renewable surplus first, the rest counts as other (grid or generator);
 * the battery discharges the renewable/other mix it was charged with (pools), rounded down on the
 * renewable side so no renewable Wh is ever invented.
 */

/** Metered flows of a window, Wh. */
export interface WindowFlows {
  gridImport: number;
  gridExport: number;
  /** On-site renewable generation (PV + wind). */
  renewable: number;
  generator: number;
  batteryCharge: number;
  batteryDischarge: number;
}

/** The battery's origin pools, Wh: energy charged from renewable surplus and from anything else. */
export interface BatteryPools {
  ren: number;
  other: number;
}

export interface Allocation {
  /** Site consumption: import + generation + discharge - export - charge. */
  consumption: number;
  /** Renewable energy consumed on site, directly or through the battery. */
  renewableConsumed: number;
  /** On-site supply (renewable, generator, renewable battery share) consumed on site. */
  onsiteConsumed: number;
  /** Renewable supply not stored: generation minus what charged the battery, plus the renewable discharge. */
  clean: number;
  /** Renewable part of the discharge. */
  dischargedRenewable: number;
  /** The pools after this window. */
  pools: BatteryPools;
}

export function allocate(f: WindowFlows, pools: BatteryPools): Allocation {
  const { gridImport: I, gridExport: X, renewable: G, generator: F, batteryCharge: C, batteryDischarge: D } = f;
  const L = I + G + F + D - X - C;
  // exports: renewable first, then generator, then battery
  const xG = Math.min(X, G);
  const xF = Math.min(X - xG, F);
  const xD = Math.min(X - xG - xF, D);
  // charging: renewable surplus first, then generator
  const cG = Math.min(C, G - xG);
  const cF = Math.min(C - cG, F - xF);
  const cOther = C - cG;
  const poolTotal = pools.ren + pools.other;
  const dRen = poolTotal > 0 ? Math.min(D, Math.floor((D * pools.ren) / poolTotal)) : 0;
  const xDren = D > 0 ? Math.floor((xD * dRen) / D) : 0;
  const dRenLoad = dRen - xDren;
  const gLoad = G - xG - cG;
  const fLoad = F - xF - cF;
  return {
    consumption: L,
    renewableConsumed: Math.max(0, Math.min(L, gLoad + dRenLoad)),
    onsiteConsumed: Math.max(0, Math.min(L, gLoad + fLoad + dRenLoad)),
    clean: G - cG + dRen,
    dischargedRenewable: dRen,
    pools: {
      ren: Math.max(0, pools.ren - dRen) + cG,
      other: Math.max(0, pools.other - (D - dRen)) + cOther,
    },
  };
}
