/**
 * Which SunSpec points are which canonical quantities (device-profiles/README.md, canonical
 * vocabulary), per model family. Sign conventions: SunSpec inverter and DER models report W
 * + = produced (the PV inverter view), meter models + = imported (the meter view), battery model
 * 802 + = discharge (the battery view): each is the canonical convention of its device kind.
 */
const phases = (names: [string, string, string], base: string): Record<string, string> =>
  Object.fromEntries(names.map((n, i) => [n, `${base}_l${i + 1}`]));

const INVERTER: Record<string, string> = {
  ...phases(['AphA', 'AphB', 'AphC'], 'current'),
  ...phases(['PhVphA', 'PhVphB', 'PhVphC'], 'voltage'),
  PPVphAB: 'voltage_l1_l2', PPVphBC: 'voltage_l2_l3', PPVphCA: 'voltage_l3_l1',
  W: 'active_power', Hz: 'frequency', VA: 'apparent_power', VAr: 'reactive_power', PF: 'power_factor',
  WH: 'energy_export', DCW: 'dc_power', TmpCab: 'temperature',
};

const METER: Record<string, string> = {
  ...phases(['AphA', 'AphB', 'AphC'], 'current'),
  ...phases(['PhVphA', 'PhVphB', 'PhVphC'], 'voltage'),
  // Integer meters (201-204) name line voltages PhVphAB..., float meters (211-214) PPVphAB...
  PhVphAB: 'voltage_l1_l2', PhVphBC: 'voltage_l2_l3', PhVphCA: 'voltage_l3_l1',
  PPVphAB: 'voltage_l1_l2', PPVphBC: 'voltage_l2_l3', PPVphCA: 'voltage_l3_l1',
  ...phases(['WphA', 'WphB', 'WphC'], 'active_power'),
  ...phases(['PFphA', 'PFphB', 'PFphC'], 'power_factor'),
  W: 'active_power', Hz: 'frequency', VA: 'apparent_power', VAR: 'reactive_power', PF: 'power_factor',
  TotWhImp: 'energy_import', TotWhExp: 'energy_export',
};

const DER_AC: Record<string, string> = {
  ...phases(['AL1', 'AL2', 'AL3'], 'current'),
  ...phases(['VL1', 'VL2', 'VL3'], 'voltage'),
  ...phases(['WL1', 'WL2', 'WL3'], 'active_power'),
  VL1L2: 'voltage_l1_l2', VL2L3: 'voltage_l2_l3', VL3L1: 'voltage_l3_l1',
  W: 'active_power', Hz: 'frequency', VA: 'apparent_power', Var: 'reactive_power', PF: 'power_factor',
  TotWhInj: 'energy_export', TotWhAbs: 'energy_import', TmpCab: 'temperature',
};

/** Model 1's points get fixed ids (those of the hand-written SunSpec profiles). */
export const COMMON_IDS: Record<string, string> = {
  Mn: 'manufacturer', Md: 'model_name', Opt: 'options', Vr: 'version', SN: 'serial_number', DA: 'device_address',
};

const BY_MODEL: Record<number, Record<string, string>> = {
  124: { ChaState: 'soc' },
  701: DER_AC,
  802: { SoC: 'soc', SoH: 'soh', W: 'active_power' },
};
for (const id of [101, 102, 103, 111, 112, 113]) BY_MODEL[id] = INVERTER;
for (const id of [201, 202, 203, 204, 211, 212, 213, 214]) BY_MODEL[id] = METER;

/** The canonical name of a model's top-level point, if it has one. */
export function canonicalOf(model: number, point: string): string | undefined {
  return BY_MODEL[model]?.[point];
}

/** The device kind a model describes (the first kind-giving model of a chain names the device). */
export function kindOf(model: number): 'pv_inverter' | 'meter' | 'battery' | undefined {
  if ((model >= 101 && model <= 113) || model === 160 || model === 701) return 'pv_inverter';
  if (model >= 201 && model <= 214) return 'meter';
  if (model === 124 || model === 802) return 'battery';
  return undefined;
}

/**
 * Factor from a SunSpec point's unit to its canonical unit: Wh -> kWh, percent power factor ->
 * -1..1; other units are the canonical ones already (W, V, A, Hz, VA, var, %, degrees C).
 */
export function unitFactor(canonicalUnit: string, units: string | undefined): number {
  if (canonicalUnit === 'kWh' && units === 'Wh') return 0.001;
  if (canonicalUnit === '' && units === 'Pct') return 0.01;
  return 1;
}
