/**
 * SunSpec register images for the tests, built by hand from the SunSpec model definitions'
 * offsets (github.com/sunspec/models json/model_<id>.json) with plain integer arithmetic, not
 * with carbonedge's codec: every register of every model is present (0 unless set), as a real
 * device serves it, and registers outside the chain do not exist (exception 02).
 */
import { f32Words, u32Words } from '../helpers/pymodbus.js';

export const i16 = (v: number) => (v < 0 ? 0x10000 + v : v);
export const text = (s: string, registers: number): number[] => {
  const b = Buffer.alloc(registers * 2);
  b.write(s, 'ascii');
  return Array.from({ length: registers }, (_, i) => b.readUInt16BE(i * 2));
};

/** A model: id, length L, and the words to set at offsets from its ID register. */
export interface ModelSpec {
  id: number;
  length: number;
  set: Record<number, number[]>;
}

/** Holding image of "SunS" + the models + end marker at `base`. */
export function chainImage(base: number, models: ModelSpec[]): Record<number, number> {
  const img: Record<number, number> = { [base]: 0x5375, [base + 1]: 0x6e53 };
  let at = base + 2;
  for (const m of models) {
    img[at] = m.id;
    img[at + 1] = m.length;
    for (let k = 2; k < m.length + 2; k++) img[at + k] = 0;
    for (const [off, words] of Object.entries(m.set)) words.forEach((w, k) => (img[at + Number(off) + k] = w));
    at += m.length + 2;
  }
  img[at] = 0xffff;
  img[at + 1] = 0;
  return img;
}

/** Common model 1 (L 66): Mn +2, Md +18, Vr +42, SN +50, DA +66. */
export const common = (mn: string, md: string, vr: string, sn: string): ModelSpec => ({
  id: 1,
  length: 66,
  set: { 2: text(mn, 16), 18: text(md, 16), 42: text(vr, 8), 50: text(sn, 16), 66: [1], 67: [0x8000] },
});

/**
 * Inverter model 103 (L 50), integers + scale factors: AphA +3, A_SF +6, PhVphA +10, V_SF +13,
 * W +14, W_SF +15, Hz +16, Hz_SF +17, VA +18, VA_SF +19, VAr +20, VAr_SF +21, PF +22, PF_SF +23,
 * WH +24 (acc32), WH_SF +26, DCW +31, DCW_SF +32, TmpCab +33, Tmp_SF +37.
 */
export const inverter103: ModelSpec = {
  id: 103,
  length: 50,
  set: {
    3: [1450], 6: [i16(-2)], // AphA 14.50 A
    10: [2305], 13: [i16(-1)], // PhVphA 230.5 V
    14: [987], 15: [1], // W 987 x 10^1 = 9870 W (positive scale factor)
    16: [5001], 17: [i16(-2)], // Hz 50.01
    18: [0x8000], 19: [0x8000], // VA not implemented, VA_SF not implemented
    20: [i16(-100)], 21: [0], // VAr -100 var
    22: [9850], 23: [i16(-2)], // PF 98.50 % -> 0.985
    24: u32Words(12345678), 26: [0], // WH 12345678 Wh -> 12345.678 kWh
    31: [0x8000], 32: [0], // DCW not implemented
    33: [452], 37: [i16(-1)], // TmpCab 45.2 C
  },
};

/** Meter model 203 (L 105): PhVphA +8, V_SF +15, W +18, W_SF +22, TotWhExp +38, TotWhImp +46, TotWh_SF +54. */
export const meter203: ModelSpec = {
  id: 203,
  length: 105,
  set: {
    8: [0x8000], 15: [i16(-1)], // PhVphA not implemented
    18: [i16(-1500)], 22: [0], // W -1500 W (export)
    38: [0, 0], // TotWhExp accumulator 0: not implemented
    46: u32Words(5_000_000), 54: [i16(-1)], // TotWhImp 5000000 x 10^-1 Wh = 500 kWh
  },
};

/** Battery model 802 (L 62): SoC +11, SoH +13, W +47, SoC_SF +56, SoH_SF +58, W_SF +63. */
export const battery802: ModelSpec = {
  id: 802,
  length: 62,
  set: { 11: [8150], 56: [i16(-2)], 13: [0xffff], 58: [0], 47: [i16(-2500)], 63: [0] },
};

/** Float inverter model 113 (L 60): W +22 (float32), Hz +24, WH +32. */
export const inverter113: ModelSpec = {
  id: 113,
  length: 60,
  set: { 22: f32Words(9870.5), 24: f32Words(50.0), 32: f32Words(1234567), 16: [0x7fc0, 0] },
};
