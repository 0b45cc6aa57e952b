/**
 * Device profile loader: YAML/JSON files -> validated Profile objects.
 *
 * Each file is checked against device-profiles/profile.schema.json (ajv, all errors) and then by
 * semantic checks the schema cannot express. Every issue of every file is reported at once, each
 * with file, JSON path, line and what was expected. Profiles with issues are left out of the map.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { validateWith } from '../../runtime/config/ajv-issues.js';
import { schemaValidator as precompiledValidator } from '../../runtime/config/precompiled.js';
import type { ConfigIssue } from '../../runtime/config/errors.js';
import { MAX_PROFILE_BYTES, readTextFile } from '../../runtime/config/read-file.js';
import { parseSource } from '../../runtime/config/yaml-source.js';
import { fromEngineering, registerCount } from '../modbus/codec.js';
import { CANONICAL, isCanonical } from './canonical.js';
import { applyDlt645Defaults, dlt645SemanticIssues } from './dlt645-checks.js';
import { packagePath } from '../../runtime/package-root.js';
import { composeProfile, isComposed, type Located, type ProfileLibrary, type SourceDoc } from './compose.js';
import { isDlt645Profile, type AnyProfile, type Dlt645Profile, type Profile, type ProfilePoint } from './types.js';

const PROFILE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const SCHEMA_FILE = 'profile.schema.json';

/** Absolute path of the built-in device-profiles/ directory (works from source and from dist/). */
export function builtinProfileDir(): string {
  return packagePath('device-profiles');
}

let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(path.join(builtinProfileDir(), SCHEMA_FILE), 'utf8')) as object;
    validator = precompiledValidator('profile', schema);
  }
  return validator;
}

const writeable = (p: ProfilePoint) => p.access === 'read-write' || p.access === 'write';
const isBitRegister = (p: ProfilePoint) => p.register === 'coil' || p.register === 'discrete';

/** Semantic checks on a schema-valid profile (defaults not yet applied). */
function semanticIssues(profile: Profile, file: string, expectedId?: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (p: string, message: string) => issues.push({ file, path: p, message });
  if (expectedId !== undefined && profile.id !== expectedId) {
    add('/id', `expected the profile id to equal the file name '${expectedId}', got '${profile.id}'`);
  }
  const prohibited = profile.limits.prohibited ?? [];
  prohibited.forEach((r, i) => {
    if (r.end < r.start) add(`/limits/prohibited/${i}/end`, `expected end >= start (${r.start}), got ${r.end}`);
  });
  const ids = new Map<string, number>();
  profile.points.forEach((p, i) => {
    const first = ids.get(p.id);
    if (first !== undefined) add(`/points/${i}/id`, `duplicate point id '${p.id}' (also /points/${first})`);
    else ids.set(p.id, i);
  });
  const byId = new Map(profile.points.map((p) => [p.id, p]));
  const spans: { start: number; end: number; i: number }[] = [];
  profile.points.forEach((p, i) => {
    const at = `/points/${i}`;
    if (isBitRegister(p) && p.type !== 'bit') {
      add(`${at}/type`, `a ${p.register} is a single bit: expected type 'bit', got '${p.type}'`);
    }
    if (p.type === 'bit' && !isBitRegister(p) && p.bit === undefined) {
      add(`${at}/bit`, `a 'bit' point on a ${p.register} register needs 'bit' (0..15)`);
    }
    if (p.bit !== undefined && p.type !== 'bit') add(`${at}/bit`, `'bit' only applies to type 'bit', not '${p.type}'`);
    if (p.bit !== undefined && isBitRegister(p)) add(`${at}/bit`, `'bit' does not apply to a ${p.register} (it is one bit already)`);
    if (p.type === 'string' && p.length === undefined) add(`${at}/length`, `a 'string' point needs 'length' (registers, 2 characters each)`);
    if (p.length !== undefined && p.type !== 'string') add(`${at}/length`, `'length' only applies to type 'string', not '${p.type}'`);
    if (p.scale === 0) add(`${at}/scale`, `expected a non-zero scale, got 0`);
    if (p.min !== undefined && p.max !== undefined && p.min > p.max) add(`${at}/max`, `expected max >= min (${p.min}), got ${p.max}`);
    if ((p.register === 'input' || p.register === 'discrete') && p.access !== undefined && p.access !== 'read') {
      add(`${at}/access`, `${p.register} ${p.register === 'input' ? 'registers' : 'inputs'} are read-only: expected 'read', got '${p.access}'`);
    }
    if (p.type === 'bit' && !isBitRegister(p) && writeable(p)) {
      add(`${at}/access`, `a bit inside a ${p.register} register cannot be written without read-modify-write: expose the register as a u16 point to write it`);
    }
    if ((p.scaleFactorPoint !== undefined || p.scale !== undefined || p.offset !== undefined) && (p.type === 'string' || p.type === 'bit')) {
      add(`${at}/type`, `scale, offset and scaleFactorPoint do not apply to type '${p.type}'`);
    }
    if (p.scaleFactorPoint !== undefined) {
      const sf = byId.get(p.scaleFactorPoint);
      if (!sf) add(`${at}/scaleFactorPoint`, `unknown point '${p.scaleFactorPoint}' (expected the id of an i16 scale-factor point)`);
      else if (sf.type !== 'i16') add(`${at}/scaleFactorPoint`, `scale-factor point '${sf.id}' must be an i16, it is ${sf.type}`);
      else if (sf.register !== p.register) add(`${at}/scaleFactorPoint`, `scale-factor point '${sf.id}' is a ${sf.register} register, expected ${p.register} like this point`);
      else if (sf.scaleFactorPoint !== undefined) add(`${at}/scaleFactorPoint`, `scale-factor point '${sf.id}' cannot itself have a scale factor`);
    }
    if (p.canonical !== undefined) {
      if (!isCanonical(p.canonical)) {
        add(`${at}/canonical`, `'${p.canonical}' is not in the canonical vocabulary (device-profiles/README.md): expected one of ${Object.keys(CANONICAL).join(', ')}`);
      } else if (p.unit !== undefined && p.unit !== CANONICAL[p.canonical]!.unit) {
        add(`${at}/unit`, `canonical '${p.canonical}' is in '${CANONICAL[p.canonical]!.unit}', got '${p.unit}' (scale the point to the canonical unit)`);
      }
    }
    const count = registerCount(p);
    const end = p.address + count - 1;
    if (end > 65535) add(`${at}/address`, `point spans ${p.address}..${end}, past the last address 65535`);
    const max = isBitRegister(p) ? (profile.limits.maxBitsPerRequest ?? 2000) : profile.limits.maxRegistersPerRequest;
    if (count > max) add(`${at}/length`, `point needs ${count} registers, more than limits.maxRegistersPerRequest (${max})`);
    prohibited.forEach((r, k) => {
      if (r.register === p.register && r.start <= end && r.end >= p.address) {
        add(`${at}/address`, `point ${p.register} ${p.address}..${end} lies inside prohibited range /limits/prohibited/${k} (${r.start}..${r.end})`);
      }
    });
    spans.push({ start: p.address, end, i });
  });
  // Points may share the same registers (bits of one register, a u16 view of it) but must not
  // partially overlap: that is always a typo in an address.
  for (const reg of ['coil', 'discrete', 'input', 'holding'] as const) {
    const list = spans.filter((s) => profile.points[s.i]!.register === reg).sort((a, b) => a.start - b.start || a.end - b.end);
    for (let k = 1; k < list.length; k++) {
      const a = list[k - 1]!;
      const b = list[k]!;
      if (b.start <= a.end && !(a.start === b.start && a.end === b.end)) {
        add(`/points/${b.i}/address`, `point '${profile.points[b.i]!.id}' (${reg} ${b.start}..${b.end}) overlaps '${profile.points[a.i]!.id}' (${a.start}..${a.end})`);
      }
    }
  }
  for (const [name, mode] of Object.entries(profile.modes ?? {})) {
    mode.writes.forEach((w, k) => {
      const at = `/modes/${name}/writes/${k}`;
      const p = byId.get(w.point);
      if (!p) {
        add(`${at}/point`, `unknown point '${w.point}' (expected one of the writeable points: ${profile.points.filter(writeable).map((q) => q.id).join(', ') || 'none'})`);
        return;
      }
      if (!writeable(p)) {
        add(`${at}/point`, `point '${p.id}' is not writeable: expected access 'read-write' or 'write' on it`);
        return;
      }
      const bitLike = p.type === 'bit' || isBitRegister(p);
      if (bitLike && typeof w.value !== 'boolean' && w.value !== 0 && w.value !== 1) {
        add(`${at}/value`, `point '${p.id}' is a bit: expected true/false, got ${JSON.stringify(w.value)}`);
        return;
      }
      if (!bitLike && typeof w.value === 'boolean') {
        add(`${at}/value`, `point '${p.id}' is a ${p.type}: expected a number, got ${w.value}`);
        return;
      }
      if (!bitLike && p.scaleFactorPoint === undefined) {
        try {
          fromEngineering(p, w.value);
        } catch (err) {
          add(`${at}/value`, `cannot write ${JSON.stringify(w.value)} to '${p.id}': ${(err as Error).message}`);
        }
      }
    });
  }
  (profile.identify ?? []).forEach((probe, k) => {
    if ('point' in probe && !byId.has(probe.point)) {
      add(`/identify/${k}/point`, `unknown point '${probe.point}' (expected the id of a point of this profile)`);
    }
  });
  return issues;
}

/** Fill in defaults so drivers see explicit values: word/byte order, access, canonical unit. */
function applyDefaults(profile: Profile, file: string): Profile {
  const wordOrder = profile.defaults?.wordOrder ?? 'big';
  const byteOrder = profile.defaults?.byteOrder ?? 'big';
  return {
    ...profile,
    file,
    limits: { ...profile.limits, prohibited: profile.limits.prohibited ?? [] },
    points: profile.points.map((p) => ({
      ...p,
      wordOrder: p.wordOrder ?? wordOrder,
      byteOrder: p.byteOrder ?? byteOrder,
      access: p.access ?? 'read',
      ...(p.unit === undefined && p.canonical !== undefined && isCanonical(p.canonical) ? { unit: CANONICAL[p.canonical]!.unit } : {}),
    })),
  };
}

/**
 * Validate one parsed profile (Modbus, or DL/T 645 with `protocol: dlt645-2007`). `locate` maps
 * a JSON path to a line (from parseSource); `origin`, for a composed profile, maps a path to the
 * file, path and line it was written at (compose.ts); `schemaChecked`: the value already passed
 * the schema. Returns the profile with defaults applied when there are no issues.
 */
export function validateProfile(
  value: unknown,
  file: string,
  opts: { locate?: (p: string) => { line?: number; column?: number }; origin?: (p: string) => Located; expectedId?: string; schemaChecked?: boolean } = {},
): { profile?: AnyProfile; issues: ConfigIssue[] } {
  let issues = opts.schemaChecked ? [] : validateWith(schemaValidator(), value, file);
  const valid = value as AnyProfile;
  if (issues.length === 0) issues = isDlt645Profile(valid) ? dlt645SemanticIssues(valid, file, opts.expectedId) : semanticIssues(valid, file, opts.expectedId);
  if (opts.origin) issues = issues.map((i) => ({ ...i, ...opts.origin!(i.path) }));
  else if (opts.locate) issues = issues.map((i) => (i.line ? i : { ...i, ...opts.locate!(i.path) }));
  if (issues.length) return { issues };
  return { profile: isDlt645Profile(valid) ? applyDlt645Defaults(valid, file) : applyDefaults(valid, file), issues };
}

const idOf = (file: string) => path.basename(file).replace(/\.(ya?ml|json)$/i, '');
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read and parse one file; a file that is not a mapping is left to the schema check. */
function readDoc(file: string): { doc?: SourceDoc; value?: unknown; locate?: SourceDoc['locate']; issues: ConfigIssue[] } {
  // Only a regular file under the size limit: a FIFO would hang, a link to /dev/zero fill memory.
  const read = readTextFile(file, 'the profile', MAX_PROFILE_BYTES);
  if ('issue' in read) return { issues: [read.issue] };
  const source = parseSource(read.text, file);
  if (source.syntaxIssues.length) return { issues: source.syntaxIssues };
  const locate = (p: string) => source.locate(p);
  return { value: source.value, locate, issues: [], ...(isRecord(source.value) ? { doc: { file, value: source.value, locate } } : {}) };
}

function profileFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .filter((name) => name !== SCHEMA_FILE && PROFILE_EXTENSIONS.has(path.extname(name).toLowerCase()))
    .map((name) => path.join(dir, name));
}

/** A profile or block file checked on its own against the schema (before composition). */
interface LibraryEntry {
  file: string;
  doc?: SourceDoc;
  issues: ConfigIssue[];
  /** A point block (or an unreadable directory): only its issues are reported. */
  block?: boolean;
}

function readEntry(file: string): LibraryEntry {
  const r = readDoc(file);
  if (!r.locate) return { file, issues: r.issues };
  const issues = validateWith(schemaValidator(), r.value, file).map((i) => (i.line ? i : { ...i, ...r.locate!(i.path) }));
  return { file, doc: r.doc, issues };
}

/** Every profile file and point block (`<dir>/blocks/`) of the directories, each schema-checked alone. */
function readLibrary(dirs: string[]): { entries: LibraryEntry[]; library: ProfileLibrary } {
  const entries: LibraryEntry[] = [];
  const library: ProfileLibrary = { profiles: new Map(), blocks: new Map(), invalid: new Set() };
  for (const dir of dirs) {
    let files: string[];
    try {
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      files = profileFiles(dir);
    } catch (err) {
      const issue: ConfigIssue = { file: dir, path: '', code: 'CE_CONFIG_READ', message: `cannot read the profile directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      entries.push({ file: dir, issues: [issue], block: true });
      continue;
    }
    for (const file of files) {
      const e = readEntry(file);
      entries.push(e);
      if (!e.doc) continue;
      if (e.issues.length) library.invalid.add(e.doc);
      const id = typeof e.doc.value.id === 'string' ? e.doc.value.id : idOf(file);
      if (!library.profiles.has(id)) library.profiles.set(id, e.doc);
    }
    const blockDir = path.join(dir, 'blocks');
    if (!statSync(blockDir, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const file of profileFiles(blockDir)) {
      const e: LibraryEntry = { ...readEntry(file), block: true };
      entries.push(e);
      const id = idOf(file);
      if (e.doc && !e.issues.length && e.doc.value.block !== id) {
        e.issues.push({ file, path: '/block', message: `expected the block id to equal the file name '${id}', got '${String(e.doc.value.block ?? '')}'`, ...e.doc.locate('/block') });
      }
      if (e.doc && e.issues.length) library.invalid.add(e.doc);
      if (!e.doc) continue;
      const other = library.blocks.get(id);
      if (other) e.issues.push({ file, path: '/block', code: 'CE_CONFIG_DUPLICATE_ID', message: `duplicate block id '${id}' (already defined in ${other.file})`, line: 1 });
      else library.blocks.set(id, e.doc);
    }
  }
  return { entries, library };
}

/** Validate one library entry: composed first when it uses extends/include. */
function resolveEntry(e: LibraryEntry, library: ProfileLibrary): { profile?: AnyProfile; issues: ConfigIssue[] } {
  if (e.issues.length || !e.doc || e.block) return { issues: e.issues };
  const expectedId = idOf(e.file);
  // A plain profile passed the schema in readEntry; a composed one is checked again as a whole.
  if (!isComposed(e.doc.value)) return validateProfile(e.doc.value, e.file, { locate: e.doc.locate, expectedId, schemaChecked: true });
  const { composed, issues } = composeProfile(e.doc, library);
  if (!composed) return { issues };
  return validateProfile(composed.value, e.file, { origin: composed.origin, expectedId });
}

/**
 * Read and validate one profile file (YAML or JSON). A profile that extends another or includes
 * blocks resolves them in `dirs` (default: the built-in profiles and the file's own directory).
 */
export function loadProfileFile(file: string, dirs?: string[]): { profile?: AnyProfile; issues: ConfigIssue[] } {
  const own = readEntry(file);
  if (own.issues.length || !own.doc || !isComposed(own.doc.value)) return resolveEntry(own, { profiles: new Map(), blocks: new Map(), invalid: new Set() });
  const { library } = readLibrary([...new Set(dirs ?? [builtinProfileDir(), path.dirname(path.resolve(file))])]);
  library.profiles.set(idOf(file), own.doc);
  return resolveEntry(own, library);
}

export interface LoadedProfiles {
  /** Profiles of every protocol by id (`isDlt645Profile` tells a DL/T 645 one). */
  profiles: Map<string, AnyProfile>;
  issues: ConfigIssue[];
}

/**
 * Load every profile in the given directories (*.yaml, *.yml, *.json except the schema), with the
 * point blocks of their `blocks/` subdirectories. A profile may extend a profile of any of the
 * directories. A profile id defined twice is an issue (the first definition is kept).
 */
export function loadProfiles(dirs: string[]): LoadedProfiles {
  const profiles = new Map<string, AnyProfile>();
  const { entries, library } = readLibrary(dirs);
  const issues: ConfigIssue[] = [];
  // A problem in a base profile or block is found again in each profile composed from it: report it once.
  const seen = new Set<string>();
  for (const entry of entries) {
    const res = resolveEntry(entry, library);
    for (const i of res.issues) {
      const key = `${i.file}\u0000${i.path}\u0000${i.message}`;
      if (!seen.has(key)) issues.push(i);
      seen.add(key);
    }
    if (!res.profile) continue;
    const file = entry.file;
    const other = profiles.get(res.profile.id);
    if (other) {
      issues.push({ file, path: '/id', code: 'CE_CONFIG_DUPLICATE_ID', message: `duplicate profile id '${res.profile.id}' (already defined in ${other.file})`, line: 1 });
      continue;
    }
    profiles.set(res.profile.id, res.profile);
  }
  return { profiles, issues };
}

/** The built-in profiles (device-profiles/). */
export function loadBuiltinProfiles(): LoadedProfiles {
  return loadProfiles([builtinProfileDir()]);
}
