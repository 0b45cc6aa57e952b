/**
 * SunSpec discovery: find the "SunS" marker (0x5375 0x6E53) at holding base 40000, 0 or 50000
 * and walk the model chain (model id, length L; the next model starts L + 2 registers further)
 * to the end marker 0xFFFF. Reads go through a caller-given reader (the device's bus queue).
 */
import { decodeRaw } from '../modbus/codec.js';
import { ModbusError } from '../modbus/errors.js';
import { layOut, modelDef } from './models.js';

/** Reads `count` holding registers at `address`; throws a ModbusError on failure. */
export type HoldingReader = (address: number, count: number) => Promise<number[]>;

export const SUNSPEC_MARKER = [0x5375, 0x6e53] as const;
export const SUNSPEC_BASES = [40000, 0, 50000] as const;
export const END_MODEL_ID = 0xffff;
/** A chain longer than this is garbage, not a device. */
const MAX_MODELS = 64;

export interface SunSpecModelInstance {
  id: number;
  /** Address of the model's ID register. */
  address: number;
  /** The model's length register: data registers after ID and L. */
  length: number;
}

export interface SunSpecCommon {
  manufacturer: string;
  model: string;
  version: string;
  serial: string;
}

export interface SunSpecChain {
  base: number;
  models: SunSpecModelInstance[];
  /** Decoded from model 1 when the chain starts with it. */
  common?: SunSpecCommon;
}

/** No SunSpec device answered at any base, or its chain is not walkable. */
export class SunSpecDiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SunSpecDiscoveryError';
  }
}

/** Whether an error means the device answered (exception): it is alive, this address is not. */
const answered = (err: unknown) => err instanceof ModbusError && err.deviceAnswered;

/** Decode model 1's identification strings from its registers (ID register first). */
function decodeCommon(words: number[], length: number): SunSpecCommon {
  const at = new Map(layOut(modelDef(1)!, length).map((p) => [p.def.name, p]));
  const text = (name: string): string => {
    const p = at.get(name);
    if (!p) return '';
    const w = words.slice(p.offset, p.offset + p.def.size);
    return String(decodeRaw({ id: 's', register: 'holding', address: 0, type: 'string', length: p.def.size, byteOrder: 'big' }, w));
  };
  return { manufacturer: text('Mn'), model: text('Md'), version: text('Vr'), serial: text('SN') };
}

/** Find the marker and walk the chain. Errors other than device exceptions propagate (device unreachable). */
export async function discoverSunSpec(read: HoldingReader, bases: readonly number[] = SUNSPEC_BASES): Promise<SunSpecChain> {
  const seen: string[] = [];
  for (const base of bases) {
    let words: number[];
    try {
      words = await read(base, 2);
    } catch (err) {
      if (!answered(err)) throw err;
      seen.push(`${base}: ${(err as Error).message.replace(/^.*: /, '')}`);
      continue;
    }
    if (words[0] === SUNSPEC_MARKER[0] && words[1] === SUNSPEC_MARKER[1]) return walk(read, base);
    seen.push(`${base}: 0x${hex(words[0])} 0x${hex(words[1])}`);
  }
  throw new SunSpecDiscoveryError(
    `no SunSpec marker "SunS" (0x5375 0x6E53) at holding ${bases.join(', ')} (found ${seen.join('; ')})`,
  );
}

const hex = (w: number | undefined) => (w ?? 0).toString(16).toUpperCase().padStart(4, '0');

async function walk(read: HoldingReader, base: number): Promise<SunSpecChain> {
  const models: SunSpecModelInstance[] = [];
  let address = base + 2;
  for (;;) {
    if (address + 1 > 65535) break;
    let header: number[];
    try {
      header = await read(address, 2);
    } catch (err) {
      // A device that stops the chain without an end marker answers exception 02 here.
      if (answered(err) && models.length) break;
      throw err;
    }
    const [id, length] = [header[0]!, header[1]!];
    if (id === END_MODEL_ID) break;
    if (models.length >= MAX_MODELS) throw new SunSpecDiscoveryError(`SunSpec model chain at ${base} has more than ${MAX_MODELS} models: not a SunSpec device`);
    models.push({ id, address, length });
    address += 2 + length;
  }
  if (!models.length) throw new SunSpecDiscoveryError(`SunSpec marker at holding ${base} but no model follows it`);
  const chain: SunSpecChain = { base, models };
  const first = models[0]!;
  if (first.id === 1 && first.length > 0) {
    const words = await read(first.address, Math.min(first.length + 2, 125));
    chain.common = decodeCommon(words, first.length);
  }
  return chain;
}
