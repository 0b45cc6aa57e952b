/**
 * SunSpec information model definitions (drivers/sunspec/models/model_<id>.json: trimmed from the
 * public SunSpec models repository, each file citing its source path, commit and version) and
 * their layout: every point's offset from the model's ID register.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../../runtime/package-root.js';

export interface SunSpecPointDef {
  name: string;
  /** SunSpec type: int16, uint16, acc32, float32, sunssf, string, pad, ... */
  type: string;
  /** Registers. */
  size: number;
  /** Scale-factor point name (or a fixed exponent). */
  sf?: string | number;
  units?: string;
  label?: string;
}

export interface SunSpecGroupDef {
  name: string;
  /** Repetitions: a number (0 = as many as the model length holds) or the name of a count point. */
  count?: number | string;
  points: SunSpecPointDef[];
  groups?: SunSpecGroupDef[];
}

export interface SunSpecModelDef {
  source: { repository: string; path: string; commit: string; version: string };
  id: number;
  label: string;
  group: SunSpecGroupDef;
}

/** The models carbonedge decodes generically (the files in drivers/sunspec/models/). */
export const SUPPORTED_MODELS: readonly number[] = [
  1, 101, 102, 103, 111, 112, 113, 120, 124, 160, 201, 202, 203, 204, 211, 212, 213, 214, 701, 802,
];

const cache = new Map<number, SunSpecModelDef>();

/** The definition of a supported model, or undefined for any other model id. */
export function modelDef(id: number): SunSpecModelDef | undefined {
  if (!SUPPORTED_MODELS.includes(id)) return undefined;
  let def = cache.get(id);
  if (!def) {
    def = JSON.parse(readFileSync(packagePath('drivers', 'sunspec', 'models', `model_${id}.json`), 'utf8')) as SunSpecModelDef;
    cache.set(id, def);
  }
  return def;
}

/** One point of a model instance laid out at its offset from the model's ID register. */
export interface LaidOutPoint {
  def: SunSpecPointDef;
  /** Registers from the model's ID register (ID = 0, L = 1, first data point = 2). */
  offset: number;
  /** Repeating-group path, e.g. `module1` for the first MPPT module of model 160; '' at the top. */
  path: string;
  /** Paths a scale-factor name is looked up in: this group instance first, then its parents. */
  scope: string[];
}

const groupSize = (g: SunSpecGroupDef): number =>
  g.points.reduce((n, p) => n + p.size, 0) + (g.groups ?? []).reduce((n, s) => n + (typeof s.count === 'number' && s.count > 0 ? s.count * groupSize(s) : 0), 0);

/**
 * Lay out a model instance whose length register says `length`: the fixed points, then repeating
 * groups as many times as the length holds. Points past the declared length (a device
 * implementing an older, shorter revision) are left out.
 */
export function layOut(def: SunSpecModelDef, length: number): LaidOutPoint[] {
  const total = length + 2;
  const out: LaidOutPoint[] = [];
  const walk = (g: SunSpecGroupDef, start: number, path: string, scope: string[]): number => {
    let offset = start;
    for (const p of g.points) {
      if (offset + p.size <= total) out.push({ def: p, offset, path, scope });
      offset += p.size;
    }
    for (const sub of g.groups ?? []) {
      const size = groupSize(sub);
      const fixed = typeof sub.count === 'number' && sub.count > 0 ? sub.count : undefined;
      const repeats = fixed ?? (size > 0 ? Math.max(0, Math.floor((total - offset) / size)) : 0);
      for (let i = 0; i < repeats; i++) {
        const at = `${path ? `${path}_` : ''}${sub.name.toLowerCase()}${i + 1}`;
        offset = walk(sub, offset, at, [at, ...scope]);
      }
    }
    return offset;
  };
  walk(def.group, 0, '', ['']);
  return out;
}
