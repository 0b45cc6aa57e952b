/**
 * The register image of one simulated device, built from its profile: every point is encoded with
 * the project's codec (drivers/modbus/codec.ts) at its address, in the profile's word and byte
 * order, from engineering values. Reads of addresses the device does not implement answer Modbus
 * exception 02; writes decode the written registers back into engineering values.
 *
 * Implemented addresses: the registers of every point and, unless `strict`, the gaps between two
 * points of the same register type that a poller may read as filler (at most the profile's
 * `maxFillRegisters`, never inside a prohibited range). Real devices documented by such a profile
 * answer those fillers; a `strict` image answers 02 for every register that is not a point's.
 */
import { decodeRaw, encodeRaw, fromEngineering, registerCount, toEngineering, type RawValue } from '../../drivers/modbus/codec.js';
import { CANONICAL } from '../../drivers/profiles/canonical.js';
import type { Profile, ProfilePoint, RegisterType } from '../../drivers/profiles/types.js';
import type { PointValue } from '../../runtime/types.js';

/** Modbus exception codes the simulator answers with. */
export const MODBUS_EXCEPTION = {
  illegalFunction: 0x01,
  illegalDataAddress: 0x02,
  illegalDataValue: 0x03,
  deviceFailure: 0x04,
  gatewayTargetFailed: 0x0b,
} as const;

/** An error modbus-serial's servers turn into an exception reply with this code. */
export class ModbusException extends Error {
  override name = 'ModbusException';
  constructor(
    readonly modbusErrorCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RegisterImageOptions {
  /** Only the points' own registers are implemented (fillers answer exception 02). */
  strict?: boolean;
}

/** Engineering values keyed by point id; strings for string points. */
export type ImageValues = Record<string, PointValue | undefined>;

export interface PointWrite {
  point: ProfilePoint;
  value: PointValue;
}

const isBitRegister = (r: RegisterType) => r === 'coil' || r === 'discrete';
const writeable = (p: ProfilePoint) => p.access === 'read-write' || p.access === 'write';

/** Default SunSpec-style scale-factor exponent for points of a unit (precision that fits i16/u16). */
function defaultSfExp(unit: string | undefined): number {
  switch ((unit ?? '').toLowerCase()) {
    case 'v':
      return -1;
    case 'a':
    case 'hz':
    case '':
    case 'pf':
      return -2;
    case '%':
    case '°c':
    case 'c':
      return -1;
    default:
      return 0; // W, VA, var, Wh, kWh, ...
  }
}

/** The raw value whose bit pattern is the sentinel `s` (e.g. 0x8000 on an i16 is -32768). */
function sentinelRaw(p: ProfilePoint, s: number): RawValue {
  const bits = p.type.endsWith('16') ? 16 : p.type.endsWith('32') ? 32 : 64;
  if (p.type === 'f32' || p.type === 'f64') {
    if (!Number.isInteger(s) || s < 0) return s;
    const dv = new DataView(new ArrayBuffer(8));
    if (p.type === 'f32') {
      dv.setUint32(0, s >>> 0);
      return dv.getFloat32(0);
    }
    dv.setBigUint64(0, BigInt(s));
    return dv.getFloat64(0);
  }
  if (p.type.startsWith('i') && Number.isInteger(s) && s >= 0) {
    const v = BigInt.asIntN(bits, BigInt(s));
    return bits === 64 ? v : Number(v);
  }
  return p.type === 'u64' || p.type === 'i64' ? BigInt(s) : s;
}

export class RegisterImage {
  readonly profile: Profile;
  /** Word registers (input/holding) and bits (coil/discrete) by address; keys = implemented. */
  private readonly words: Record<'input' | 'holding', Map<number, number>> = { input: new Map(), holding: new Map() };
  private readonly bits: Record<'coil' | 'discrete', Map<number, boolean>> = { coil: new Map(), discrete: new Map() };
  /** Points covering each address, per register type. */
  private readonly owners: Record<RegisterType, Map<number, ProfilePoint[]>> = {
    coil: new Map(),
    discrete: new Map(),
    input: new Map(),
    holding: new Map(),
  };
  private readonly byId = new Map<string, ProfilePoint>();
  /** Scale-factor exponent by scale-factor point id; `fixed` when set from values. */
  private readonly sf = new Map<string, { exp: number; fixed: boolean }>();
  /** Encoding problems, once per point (a value the profile cannot represent). */
  readonly problems = new Map<string, string>();
  private initialised = false;

  constructor(profile: Profile, opts: RegisterImageOptions = {}) {
    this.profile = profile;
    for (const p of profile.points) {
      this.byId.set(p.id, p);
      const n = registerCount(p);
      for (let a = p.address; a < p.address + n; a++) {
        const list = this.owners[p.register].get(a);
        if (list) list.push(p);
        else this.owners[p.register].set(a, [p]);
      }
      if (p.scaleFactorPoint !== undefined && !this.sf.has(p.scaleFactorPoint)) {
        const unit = p.unit ?? (p.canonical !== undefined ? CANONICAL[p.canonical]?.unit : undefined);
        this.sf.set(p.scaleFactorPoint, { exp: defaultSfExp(unit), fixed: false });
      }
    }
    for (const reg of ['coil', 'discrete', 'input', 'holding'] as const) {
      const addrs = [...this.owners[reg].keys()].sort((a, b) => a - b);
      const implemented = new Set(addrs);
      if (!opts.strict) {
        const prohibited = (profile.limits.prohibited ?? []).filter((r) => r.register === reg);
        const maxFill = profile.limits.maxFillRegisters ?? 0;
        for (let i = 1; i < addrs.length; i++) {
          const from = addrs[i - 1]! + 1;
          const to = addrs[i]! - 1;
          if (to < from || to - from + 1 > maxFill) continue;
          for (let a = from; a <= to; a++) {
            if (!prohibited.some((r) => a >= r.start && a <= r.end)) implemented.add(a);
          }
        }
      }
      for (const a of implemented) {
        if (isBitRegister(reg)) this.bits[reg as 'coil' | 'discrete'].set(a, false);
        else this.words[reg as 'input' | 'holding'].set(a, 0);
      }
    }
    this.update({});
  }

  point(id: string): ProfilePoint | undefined {
    return this.byId.get(id);
  }

  /** Current scale-factor exponent of a scale-factor point. */
  scaleFactor(id: string): number | undefined {
    return this.sf.get(id)?.exp;
  }

  /**
   * Encode engineering values into the image. Points without a value keep their current value
   * (initially: min when min === max, the first sentinel, or 0 - or the bound nearest to 0
   * when 0 is out of range). A value given for a
   * scale-factor point fixes that exponent; otherwise the exponent is chosen from the unit and
   * raised when a value would not fit. Values the profile cannot represent are clamped to
   * min/max, or left unchanged and reported in `problems`.
   */
  update(values: ImageValues): void {
    for (const id of this.sf.keys()) {
      const v = values[id];
      if (typeof v === 'number' && Number.isInteger(v)) this.sf.set(id, { exp: v, fixed: true });
    }
    const first = !this.initialised;
    for (const p of this.profile.points) {
      if (this.sf.has(p.id)) {
        this.store(p, encodeRaw(p, this.sf.get(p.id)!.exp));
        continue;
      }
      let v = values[p.id];
      if (v === undefined && p.canonical !== undefined) v = values[p.canonical];
      if (v === undefined || v === null) {
        if (!first) continue;
        this.store(p, this.initialWords(p));
        continue;
      }
      this.encodeInto(p, v);
    }
    this.initialised = true;
  }

  private initialWords(p: ProfilePoint): number[] {
    if (p.min !== undefined && p.min === p.max) return this.tryEncode(p, p.min) ?? encodeRaw(p, 0);
    if (p.sentinels?.length) {
      try {
        return encodeRaw(p, sentinelRaw(p, p.sentinels[0]!));
      } catch {
        /* fall through */
      }
    }
    if (p.type === 'string') return encodeRaw(p, '');
    // Zero, or the nearest bound when zero is outside the point's range (e.g. a CT ratio >= 1).
    const v = p.min !== undefined && p.min > 0 ? p.min : p.max !== undefined && p.max < 0 ? p.max : 0;
    if (v !== 0) {
      const w = this.tryEncode(p, v);
      if (w) return w;
    }
    return encodeRaw(p, p.type === 'u64' || p.type === 'i64' ? 0n : 0);
  }

  private tryEncode(p: ProfilePoint, v: number | boolean): number[] | undefined {
    try {
      const sfId = p.scaleFactorPoint;
      return fromEngineering(p, v, sfId !== undefined ? this.sf.get(sfId)?.exp : undefined);
    } catch {
      return undefined;
    }
  }

  private encodeInto(p: ProfilePoint, v: PointValue): void {
    if (typeof v === 'string') {
      try {
        this.store(p, encodeRaw(p, p.type === 'string' ? v : Number(v)));
      } catch (err) {
        this.problems.set(p.id, (err as Error).message);
      }
      return;
    }
    if (v === null) return;
    let words = this.tryEncode(p, v);
    const sfId = p.scaleFactorPoint;
    if (!words && sfId !== undefined && typeof v === 'number' && !this.sf.get(sfId)!.fixed) {
      // Raise the exponent until the value fits (e.g. W with W_SF 0 past 32767 W).
      const s = this.sf.get(sfId)!;
      for (let exp = s.exp + 1; exp <= s.exp + 6 && !words; exp++) {
        try {
          words = fromEngineering({ ...p, min: undefined, max: undefined }, v, exp);
          this.sf.set(sfId, { exp, fixed: false });
          // Re-encode the points sharing this scale factor with the new exponent.
          const sfPoint = this.byId.get(sfId);
          if (sfPoint) this.store(sfPoint, encodeRaw(sfPoint, exp));
          for (const q of this.profile.points) {
            if (q !== p && q.scaleFactorPoint === sfId) {
              const cur = this.decodePoint(q);
              if (typeof cur === 'number') {
                const w = fromEngineering({ ...q, min: undefined, max: undefined }, cur, exp);
                this.store(q, w);
              }
            }
          }
        } catch {
          words = undefined;
        }
      }
    }
    if (!words && typeof v === 'number') {
      const clamped = Math.min(p.max ?? Infinity, Math.max(p.min ?? -Infinity, v));
      if (clamped !== v) words = this.tryEncode(p, clamped);
    }
    if (!words) {
      if (!this.problems.has(p.id)) this.problems.set(p.id, `cannot encode ${String(v)} as ${p.type}`);
      return;
    }
    this.store(p, words);
  }

  private store(p: ProfilePoint, words: number[]): void {
    if (isBitRegister(p.register)) {
      this.bits[p.register as 'coil' | 'discrete'].set(p.address, words[0] !== 0);
      return;
    }
    const map = this.words[p.register as 'input' | 'holding'];
    if (p.type === 'bit') {
      const b = p.bit ?? 0;
      const cur = map.get(p.address) ?? 0;
      map.set(p.address, words[0] ? cur | (1 << b) : cur & ~(1 << b) & 0xffff);
      return;
    }
    words.forEach((w, i) => map.set(p.address + i, w & 0xffff));
  }

  /** Engineering value of a point as currently in the image. */
  decodePoint(p: ProfilePoint): PointValue {
    const raw = this.rawOf(p);
    const sfId = p.scaleFactorPoint;
    return toEngineering(p, raw, sfId !== undefined ? this.scaleOf(sfId) : undefined).value;
  }

  /** Engineering values of all points (for displays and tests). */
  snapshot(): Record<string, PointValue> {
    const out: Record<string, PointValue> = {};
    for (const p of this.profile.points) out[p.id] = this.decodePoint(p);
    return out;
  }

  private scaleOf(sfId: string): number | undefined {
    const p = this.byId.get(sfId);
    if (!p) return this.sf.get(sfId)?.exp;
    const raw = this.rawOf(p);
    return typeof raw === 'number' ? raw : Number(raw);
  }

  private rawOf(p: ProfilePoint): RawValue {
    if (isBitRegister(p.register)) return this.bits[p.register as 'coil' | 'discrete'].get(p.address) ? 1 : 0;
    const map = this.words[p.register as 'input' | 'holding'];
    const n = registerCount(p);
    const w: number[] = [];
    for (let i = 0; i < n; i++) w.push(map.get(p.address + i) ?? 0);
    return decodeRaw(p, w);
  }

  /**
   * Put registers into the image exactly as they are sent on the wire (e.g. a profile fixture's
   * register image), bypassing the codec. Throws a RangeError, changing nothing, when an address
   * is not implemented by this image.
   */
  setWords(register: 'input' | 'holding', start: number, words: readonly number[]): void {
    const map = this.words[register];
    this.checkImplemented(register, map, start, words.length);
    words.forEach((w, i) => map.set(start + i, w & 0xffff));
  }

  /** Coils or discrete inputs as sent on the wire; like `setWords`. */
  setBits(register: 'coil' | 'discrete', start: number, bits: readonly boolean[]): void {
    const map = this.bits[register];
    this.checkImplemented(register, map, start, bits.length);
    bits.forEach((b, i) => map.set(start + i, b));
  }

  private checkImplemented(register: RegisterType, map: Map<number, unknown>, start: number, count: number): void {
    for (let a = start; a < start + count; a++) {
      if (!map.has(a)) throw new RangeError(`${this.profile.id}: ${register} ${a} is not implemented by this image`);
    }
  }

  /** Words of a register read (FC03/FC04); exception 02 when any address is not implemented. */
  readWords(register: 'input' | 'holding', start: number, count: number): number[] {
    if (count < 1 || count > 125) throw new ModbusException(MODBUS_EXCEPTION.illegalDataValue, `quantity ${count} is not 1..125`);
    const map = this.words[register];
    const out: number[] = [];
    for (let a = start; a < start + count; a++) {
      const w = map.get(a);
      if (w === undefined) throw new ModbusException(MODBUS_EXCEPTION.illegalDataAddress, `${register} register ${a} is not implemented`);
      out.push(w);
    }
    return out;
  }

  /** One bit of a coil/discrete read (FC01/FC02); exception 02 when not implemented. */
  readBit(register: 'coil' | 'discrete', address: number): boolean {
    const b = this.bits[register].get(address);
    if (b === undefined) throw new ModbusException(MODBUS_EXCEPTION.illegalDataAddress, `${register} ${address} is not implemented`);
    return b;
  }

  /**
   * Check a write of holding registers (FC06/FC16) or coils (FC05/FC15) and decode the points it
   * touches with the written data in place. Exception 02 for an address that no writable point
   * covers, 03 for a value outside the point's range. Nothing changes until `commit()`.
   */
  prepareWrite(register: 'holding' | 'coil', start: number, data: number[] | boolean[]): { writes: PointWrite[]; commit(): void } {
    const touched: ProfilePoint[] = [];
    for (let i = 0; i < data.length; i++) {
      const a = start + i;
      const owners = this.owners[register].get(a)?.filter(writeable) ?? [];
      if (!owners.length) throw new ModbusException(MODBUS_EXCEPTION.illegalDataAddress, `${register} ${a} is not writable`);
      for (const p of owners) if (!touched.includes(p)) touched.push(p);
    }
    const apply = () => {
      for (let i = 0; i < data.length; i++) {
        if (register === 'coil') this.bits.coil.set(start + i, Boolean(data[i]));
        else this.words.holding.set(start + i, Number(data[i]) & 0xffff);
      }
    };
    // Decode on a scratch copy so a refused write leaves the image unchanged.
    const savedWords = new Map(this.words.holding);
    const savedBits = new Map(this.bits.coil);
    apply();
    const writes: PointWrite[] = [];
    let problem: ModbusException | undefined;
    for (const p of touched) {
      const raw = this.rawOf(p);
      const sfId = p.scaleFactorPoint;
      const e = toEngineering(p, raw, sfId !== undefined ? this.scaleOf(sfId) : undefined);
      if (e.quality !== 'good') {
        problem ??= new ModbusException(MODBUS_EXCEPTION.illegalDataValue, `${p.id}: ${e.error ?? 'invalid value'}`);
      }
      writes.push({ point: p, value: e.value });
    }
    this.words.holding.clear();
    for (const [k, v] of savedWords) this.words.holding.set(k, v);
    this.bits.coil.clear();
    for (const [k, v] of savedBits) this.bits.coil.set(k, v);
    if (problem) throw problem;
    return { writes, commit: apply };
  }
}
