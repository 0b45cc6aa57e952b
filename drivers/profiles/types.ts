/**
 * Device profile model: a device's register map as versioned data (device-profiles/*.yaml,
 * validated by device-profiles/profile.schema.json). Profiles never contain code.
 */

export type RegisterType = 'coil' | 'discrete' | 'input' | 'holding';
export type DataType = 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'string' | 'bit';
/** Order of 16-bit words in a multi-register value: `big` = most significant word first. */
export type WordOrder = 'big' | 'little';
/** Order of the two bytes inside each 16-bit register: `big` = as on the Modbus wire. */
export type ByteOrder = 'big' | 'little';
export type Access = 'read' | 'read-write' | 'write';

export interface ProfilePoint {
  /** Unique within the profile. */
  id: string;
  description?: string;
  /** Canonical vocabulary name (device-profiles/README.md). */
  canonical?: string;
  register: RegisterType;
  /** Protocol address, zero-based (manual's "40001" = holding 0). */
  address: number;
  type: DataType;
  /** Registers for `string` (2 chars per register). */
  length?: number;
  /** Bit index 0..15 for `bit` on a 16-bit register. */
  bit?: number;
  wordOrder?: WordOrder;
  byteOrder?: ByteOrder;
  /** value = raw * scale + offset (applied after scaleFactor). */
  scale?: number;
  offset?: number;
  /** SunSpec-style: value = raw * 10^(value of this point). The referenced point is an i16. */
  scaleFactorPoint?: string;
  unit?: string;
  access?: Access;
  /** Valid engineering range; outside it the value's quality is `out-of-range`. */
  min?: number;
  max?: number;
  /** Raw values meaning "not implemented / not available" (e.g. 0x8000, 0xFFFF, NaN bit pattern). */
  sentinels?: number[];
  /** Do not poll (e.g. write-only setpoints, or scale-factor helpers read on demand). */
  poll?: boolean;
}

export interface ProhibitedRange {
  register: RegisterType;
  start: number;
  /** Inclusive. */
  end: number;
  reason?: string;
}

export interface ProfileLimits {
  /** Max registers (or bits, for coil/discrete) per read request; Modbus allows 125 / 2000. */
  maxRegistersPerRequest: number;
  /** Max bits per coil/discrete read (FC01/FC02); default and Modbus maximum 2000. */
  maxBitsPerRequest?: number;
  /** Max unused registers a read may span to join two points into one request. */
  maxFillRegisters: number;
  prohibited: ProhibitedRange[];
  /** Pause after each transaction with this device, ms. */
  interRequestDelayMs: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
}

export interface ModeWrite {
  point: string;
  value: number | boolean;
}

/**
 * A register the device must hold for the map to apply (e.g. the SunSpec model id a fixed-map
 * profile was written for). The poller checks it at start, after the device was unreachable, and
 * on every read that covers it; on a mismatch the device's values are bad (comm-error).
 */
export interface ExpectProbe {
  register: 'holding' | 'input';
  address: number;
  /** Expected word(s) from `address` on. */
  value: number | number[];
  /** What the value means, for the error message (e.g. "SunSpec inverter model 103"). */
  description?: string;
}

/** A scan fingerprint probe: a listed point's decoded value in range, or raw words at a register. */
export type IdentifyProbe =
  | { point: string; min?: number; max?: number; equals?: number | string; description?: string }
  | ExpectProbe;

/** What every profile says about itself, whatever its protocol. */
export interface ProfileIdentity {
  id: string;
  /** Profile data version, bumped on every change to the map. */
  version: number;
  manufacturer: string;
  model: string;
  /** What kind of device this is: meter, pv_inverter, battery, heat_pump, load, ... */
  kind: string;
  source: { document: string; url?: string; revision?: string; notes?: string };
  /** Rated (maximum) active power in W from the datasheet: the default counter-jump plausibility limit. */
  ratedPowerW?: number;
  /** File the profile was loaded from (set by the loader). */
  file?: string;
}

export interface Profile extends ProfileIdentity {
  /** Absent in Modbus profiles (the default protocol). */
  protocol?: 'modbus';
  defaults?: { wordOrder?: WordOrder; byteOrder?: ByteOrder };
  limits: ProfileLimits;
  points: ProfilePoint[];
  /** Abstract modes (battery modes, SG-Ready states, relay on/off) mapped onto device writes. */
  modes?: Record<string, { description?: string; writes: ModeWrite[] }>;
  /** Registers checked before the map is trusted (model check). */
  expect?: ExpectProbe[];
  /** Fingerprint probes for `carbonedge scan` (all must hold); only read, never written. */
  identify?: IdentifyProbe[];
  /**
   * Devices whose profiles name the same group may share one unit id: several logical devices
   * behind one Modbus server (a Huawei SUN2000 answers for itself, its power meter and its battery).
   */
  sharesUnit?: string;
  /** `sunspec`: the points are discovered from the device's SunSpec model chain at start (drivers/sunspec/). */
  discover?: 'sunspec';
}

/**
 * Composition keys of a profile file, resolved by the loader (drivers/profiles/compose.ts) and
 * never present on a loaded profile: `extends` a profile id, `include` point block ids.
 */
export interface ProfileComposition {
  extends?: string;
  include?: string[];
}

/** A shared point block file, `<profile dir>/blocks/<id>.yaml`, added to profiles with `include`. */
export interface ProfileBlock {
  /** Block id, equal to the file name. */
  block: string;
  description?: string;
  source: ProfileIdentity['source'];
  /** Word/byte order of the block's points that do not set their own. */
  defaults?: Profile['defaults'];
  points: ProfilePoint[];
}

/** A DL/T 645 point: one data identifier read (11h; 1997: 01h), its value in a BCD format. */
export interface Dlt645Point {
  id: string;
  description?: string;
  canonical?: string;
  /** Data identifier: DI3 DI2 DI1 DI0 as 8 hex digits (2007, e.g. `00010000`), DI1 DI0 as 4 (1997, e.g. `9010`). */
  di: string;
  /** Value format of the standard's appendix A, e.g. `XXXXXX.XX`. */
  format: string;
  /** The top bit of the most significant byte is the sign. */
  signed?: boolean;
  /** value = decoded * scale (e.g. 1000 for kW -> W). */
  scale?: number;
  unit?: string;
  access?: 'read';
  min?: number;
  max?: number;
  poll?: boolean;
}

/** The DL/T 645 editions a profile may name (their wire differences: drivers/dlt645/variant.ts). */
export const DLT645_PROTOCOLS = ['dlt645-2007', 'dlt645-1997'] as const;
export type Dlt645Protocol = (typeof DLT645_PROTOCOLS)[number];

export function isDlt645Protocol(p: unknown): p is Dlt645Protocol {
  return DLT645_PROTOCOLS.some((x) => x === p);
}

export interface Dlt645Profile extends ProfileIdentity {
  /** The edition the meter speaks (drivers/dlt645/variant.ts). */
  protocol: Dlt645Protocol;
  limits: { interRequestDelayMs: number; timeoutMs: number; retries?: number };
  points: Dlt645Point[];
  modes?: undefined;
}

/** A device profile of any protocol (`Profile` is a Modbus one). */
export type AnyProfile = Profile | Dlt645Profile;

export function isDlt645Profile(p: AnyProfile): p is Dlt645Profile {
  return isDlt645Protocol(p.protocol);
}


/** A point of a profile of any protocol. */
export type AnyPoint = ProfilePoint | Dlt645Point;

/** A DL/T 645 point (read by data identifier) rather than a Modbus register. */
export function isDlt645Point(p: AnyPoint): p is Dlt645Point {
  return 'di' in p;
}

/** The Modbus profiles of a map of profiles of any protocol. */
export function modbusProfiles(all: ReadonlyMap<string, AnyProfile>): Map<string, Profile> {
  return new Map([...all].filter((e): e is [string, Profile] => !isDlt645Profile(e[1])));
}
