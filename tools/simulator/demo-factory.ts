/**
 * The demo factory: a small Chinese factory (Asia/Shanghai) running two shifts, with rooftop PV,
 * a battery, a heat pump for process heat, a flexible storage load and a production line. The
 * sizes `carbonedge demo`, `carbonedge simulate --site demo` and `carbonedge replay` of the demo
 * config use (DemoSite's own defaults stay the small site the physics tests were written for).
 */
import type { DemoSiteOptions } from './demo-site.js';

export const DEMO_FACTORY_TIMEZONE = 'Asia/Shanghai';

/** Battery reserve the demo's battery keeps and the shipped battery rule guards, %. */
export const DEMO_RESERVE_SOC = 20;

export const DEMO_FACTORY: DemoSiteOptions = {
  utcOffsetMinutes: 480,
  shifts: 'two-shift',
  // 400 kWp of rooftop modules behind 340 kW of inverters.
  pvPeakW: 340_000,
  // Production: ~320 kW in a shift, 60 kW standby at night and on Sundays.
  baseLoadDayW: 320_000,
  baseLoadNightW: 60_000,
  // Air-to-water heat pump for process hot water (cleaning, drying): 60 kW electrical in normal
  // operation, 90 kW in SG-Ready boost, 100 kW forced; 300 kWh (electrical equivalent) of hot water store.
  heatPumpNormalW: 60_000,
  heatPumpBoostW: 90_000,
  heatPumpForcedW: 100_000,
  heatPumpStoreKwh: 300,
  // Chilled-water store on a relay (a deferrable cooling load): 40 kW, 200 kWh store, 400 kWh a day.
  flexLoadW: 40_000,
  flexStoreKwh: 200,
  flexMinKwh: 40,
  flexDemandKwhPerDay: 400,
  // Two 215 kWh cabinets, 100 kW.
  battery: { capacityKwh: 430, maxPowerW: 100_000, reserveSoc: DEMO_RESERVE_SOC, initialSoc: 50 },
  // One production line: 600 pcs/h at full rate.
  productionPerHour: 600,
};

/** Ratings shown in the device names (kept next to the numbers they describe). */
export const DEMO_FACTORY_LABELS = {
  pv: 'Rooftop PV inverters (400 kWp)',
  battery: 'Battery (430 kWh, 100 kW)',
  heatpump: 'SG-Ready heat pump for process hot water (60-100 kW)',
  load: 'Chilled-water store on a relay (40 kW)',
  line: 'Production line 1 output counter',
  revenue: 'DL/T 645 revenue meter of the grid company',
} as const;
