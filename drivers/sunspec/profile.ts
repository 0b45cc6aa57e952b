/**
 * A Profile generated from a discovered SunSpec model chain, so the ordinary planner, codec and
 * poller read the device: every point of every supported model (offsets from the SunSpec model
 * definitions), scale factors as `scaleFactorPoint`, the SunSpec not-implemented patterns as
 * `sentinels`, canonical names where a point is a canonical quantity (the first model of the
 * chain that provides a name gets it, and its point id is that name; other points are
 * `m<model>[_<n>]_<name>`, e.g. `m203_w`), and the model headers as `expect` probes.
 */
import { CANONICAL } from '../profiles/canonical.js';
import { validateProfile } from '../profiles/load.js';
import { isDlt645Profile, type DataType, type ExpectProbe, type Profile, type ProfilePoint } from '../profiles/types.js';
import { canonicalOf, COMMON_IDS, kindOf, unitFactor } from './canonical-map.js';
import { SUNSPEC_MARKER, type SunSpecChain } from './discover.js';
import { layOut, modelDef, type LaidOutPoint } from './models.js';

interface TypeMap {
  type: DataType;
  /** SunSpec "not implemented" raw patterns. */
  sentinels: number[];
  /** Largest plausible value (uint64 has no exactly representable sentinel). */
  max?: number;
}

const TYPES: Record<string, TypeMap> = {
  int16: { type: 'i16', sentinels: [0x8000] },
  uint16: { type: 'u16', sentinels: [0xffff] },
  enum16: { type: 'u16', sentinels: [0xffff] },
  bitfield16: { type: 'u16', sentinels: [0xffff] },
  count: { type: 'u16', sentinels: [0xffff] },
  acc16: { type: 'u16', sentinels: [0] },
  sunssf: { type: 'i16', sentinels: [0x8000] },
  int32: { type: 'i32', sentinels: [0x80000000] },
  uint32: { type: 'u32', sentinels: [0xffffffff] },
  enum32: { type: 'u32', sentinels: [0xffffffff] },
  bitfield32: { type: 'u32', sentinels: [0xffffffff] },
  acc32: { type: 'u32', sentinels: [0] },
  float32: { type: 'f32', sentinels: [0x7fc00000] },
  int64: { type: 'i64', sentinels: [-(2 ** 63)] },
  uint64: { type: 'u64', sentinels: [], max: 2 ** 63 },
  acc64: { type: 'u64', sentinels: [0] },
  float64: { type: 'f64', sentinels: [] },
};

const VENDOR = 'SunSpec-compliant';
const nameOf = (p: LaidOutPoint) => `${p.path ? `${p.path}_` : ''}${p.def.name.toLowerCase()}`;

/**
 * Build the device's profile from its chain. `stub` (the shipped `sunspec` profile) gives id,
 * version and limits. Models without a definition are listed in the source notes and skipped.
 */
export function sunspecProfile(stub: Profile, chain: SunSpecChain): Profile {
  const points: ProfilePoint[] = [
    { id: 'sunspec_id', description: 'SunSpec marker "SunS" (0x5375 0x6E53)', register: 'holding', address: chain.base, type: 'string', length: 2 },
  ];
  const claimed = new Set<string>();
  const seen = new Map<number, number>();
  const expect: ExpectProbe[] = [{ register: 'holding', address: chain.base, value: [...SUNSPEC_MARKER], description: 'SunSpec marker "SunS"' }];
  const skipped: number[] = [];
  let kind: string | undefined;
  for (const m of chain.models) {
    const def = modelDef(m.id);
    expect.push({ register: 'holding', address: m.address, value: m.id, description: `SunSpec model ${m.id}${def ? ` (${def.label})` : ''}` });
    if (!def) {
      skipped.push(m.id);
      continue;
    }
    kind ??= kindOf(m.id);
    const n = (seen.get(m.id) ?? 0) + 1;
    seen.set(m.id, n);
    const prefix = `m${m.id}${n > 1 ? `_${n}` : ''}_`;
    // ID and L are the chain's (checked as `expect`); pad and unknown types are not points.
    const laid = layOut(def, m.length).filter((p) => p.offset >= 2 && (p.def.type === 'string' || TYPES[p.def.type] !== undefined));
    const idOf = new Map<string, string>();
    for (const p of laid) {
      const fixed = m.id === 1 && n === 1 && !p.path ? COMMON_IDS[p.def.name] : undefined;
      idOf.set(`${p.path}/${p.def.name}`, fixed ?? prefix + nameOf(p));
    }
    for (const p of laid) {
      const point: ProfilePoint = {
        id: idOf.get(`${p.path}/${p.def.name}`)!,
        description: `model ${m.id} ${p.def.name}${p.def.label ? `: ${p.def.label}` : ''}`,
        register: 'holding',
        address: m.address + p.offset,
        type: 'string',
      };
      if (p.def.type === 'string') {
        point.length = p.def.size;
        points.push(point);
        continue;
      }
      const t = TYPES[p.def.type]!;
      point.type = t.type;
      if (t.sentinels.length) point.sentinels = t.sentinels;
      if (t.max !== undefined) point.max = t.max;
      if (p.def.type === 'sunssf') point.poll = false;
      if (typeof p.def.sf === 'string') {
        const sf = p.scope.map((s) => idOf.get(`${s}/${p.def.sf}`)).find((id) => id !== undefined);
        if (sf) point.scaleFactorPoint = sf;
      } else if (typeof p.def.sf === 'number' && p.def.sf !== 0) {
        point.scale = 10 ** p.def.sf;
      }
      const canonical = p.path ? undefined : canonicalOf(m.id, p.def.name);
      if (canonical && !claimed.has(canonical)) {
        claimed.add(canonical);
        point.canonical = canonical;
        point.id = canonical;
        const factor = unitFactor(CANONICAL[canonical]!.unit, p.def.units);
        if (factor !== 1) point.scale = (point.scale ?? 1) * factor;
      } else if (p.def.units) {
        point.unit = p.def.units;
      }
      points.push(point);
    }
  }
  const ids = chain.models.map((m) => m.id).join(', ');
  const generated = {
    id: stub.id,
    version: stub.version,
    manufacturer: chain.common?.manufacturer || VENDOR,
    model: chain.common?.model || `SunSpec models ${ids}`,
    kind: kind ?? stub.kind,
    description: `Generated from the SunSpec model chain at holding ${chain.base}: models ${ids}`,
    source: {
      document: 'SunSpec information models (github.com/sunspec/models json/model_<id>.json), discovered model chain',
      url: 'https://github.com/sunspec/models',
      revision: modelDef(1)!.source.version,
      notes: `base ${chain.base}; models ${ids}${skipped.length ? `; not decoded (no definition): ${skipped.join(', ')}` : ''}`,
    },
    limits: stub.limits,
    points,
    expect,
  };
  const { profile, issues } = validateProfile(generated, `<sunspec discovery at ${chain.base}>`);
  if (!profile) throw new Error(`generated SunSpec profile is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  if (isDlt645Profile(profile)) throw new Error('generated SunSpec profile is not a Modbus profile');
  return profile;
}
