/**
 * Profile composition: `extends: <profile id>` (inherit everything, override by key) and
 * `include: [<block id>]` (shared point blocks, `<profile dir>/blocks/<id>.yaml`), resolved at load
 * time into one plain profile value. Every part of the composed value remembers the file and path
 * it was written at, so an issue found in the composed profile names the file, line and path where
 * the offending point, mode or key was written (origin()).
 *
 * Merge rules: points by id (a point of the extending file with an inherited id replaces it in
 * place; an id from a block that is already inherited, or given by two blocks, is a duplicate),
 * modes by name, limits key by key with `limits.prohibited` appended, every other key replaced.
 * Each point gets the word/byte order defaults of the file that wrote it, so an extending file's
 * `defaults` never change inherited points.
 */
import type { ConfigIssue } from '../../runtime/config/errors.js';

export type Locate = (path: string) => { line?: number; column?: number };

/** A parsed profile or block file (schema-valid on its own). */
export interface SourceDoc {
  file: string;
  value: Record<string, unknown>;
  locate: Locate;
}

export interface ProfileLibrary {
  /** Profile files by id (first definition of an id). */
  profiles: Map<string, SourceDoc>;
  /** Point blocks by id. */
  blocks: Map<string, SourceDoc>;
  /** Profile and block files that have issues of their own (reported for their files). */
  invalid: Set<SourceDoc>;
}

export interface Located {
  file: string;
  path: string;
  line?: number;
  column?: number;
}

export interface Composed {
  /** The composed profile without `extends`/`include`. */
  value: Record<string, unknown>;
  /** Where a JSON path of the composed value was written. */
  origin: (path: string) => Located;
}

interface Origin {
  doc: SourceDoc;
  path: string;
}
interface Part<T> {
  v: T;
  o: Origin;
}
interface Draft {
  top: Map<string, Part<unknown>>;
  limits: Map<string, Part<unknown>>;
  prohibited: Part<unknown>[];
  points: Part<Record<string, unknown>>[];
  modes: Map<string, Part<unknown>>;
}

const COMPOSITION_KEYS = new Set(['extends', 'include']);
const MERGED_KEYS = new Set(['points', 'limits', 'modes']);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const at = (o: Origin) => {
  const pos = o.doc.locate(o.path);
  return `${o.doc.file}${pos.line ? `:${pos.line}` : ''} ${o.path}`;
};

/** True when the file uses extends or include (plain profiles are validated as they are). */
export function isComposed(value: unknown): boolean {
  return isRecord(value) && (value.extends !== undefined || value.include !== undefined);
}

/** A draft whose protocol (its own or inherited) is a DL/T 645 edition. */
const isDlt645 = (d: Draft): boolean => String(d.top.get('protocol')?.v ?? '').startsWith('dlt645');

/** The defaults of a point written in a file whose effective `defaults` are `d`. */
function withDefaults(point: Record<string, unknown>, d: unknown): Record<string, unknown> {
  const defaults = isRecord(d) ? d : {};
  return { ...point, wordOrder: point.wordOrder ?? defaults.wordOrder ?? 'big', byteOrder: point.byteOrder ?? defaults.byteOrder ?? 'big' };
}

/** The extends chain from `doc`: a cycle, or an unknown base, ends it. */
function chainCycle(doc: SourceDoc, lib: ProfileLibrary): string[] | undefined {
  const seen: SourceDoc[] = [doc];
  let cur = doc;
  for (;;) {
    const next = typeof cur.value.extends === 'string' ? lib.profiles.get(cur.value.extends) : undefined;
    if (!next) return undefined;
    const k = seen.indexOf(next);
    if (k >= 0) return [...seen.slice(k), next].map((d) => String(d.value.id));
    seen.push(next);
    cur = next;
  }
}

function draftOf(doc: SourceDoc, lib: ProfileLibrary, memo: Map<SourceDoc, Draft | undefined>, issues: ConfigIssue[]): Draft | undefined {
  if (memo.has(doc)) return memo.get(doc);
  const own = (path: string): Origin => ({ doc, path });
  const add = (path: string, message: string, code?: ConfigIssue['code']) => issues.push({ file: doc.file, path, message, ...(code ? { code } : {}), ...doc.locate(path) });
  const draft: Draft = { top: new Map(), limits: new Map(), prohibited: [], points: [], modes: new Map() };
  let ok = true;
  const base = doc.value.extends;
  if (typeof base === 'string') {
    const baseDoc = lib.profiles.get(base);
    const cycle = chainCycle(doc, lib);
    if (!baseDoc) {
      add('/extends', `unknown profile '${base}' to extend (expected the id of a profile in the profile directories: ${[...lib.profiles.keys()].sort().join(', ')})`, 'CE_CONFIG_UNKNOWN_REF');
      ok = false;
    } else if (cycle) {
      const mine = cycle[0] === doc.value.id;
      add('/extends', mine ? `extends cycle: ${cycle.join(' -> ')} (a profile cannot inherit from itself)` : `cannot extend '${base}': its extends chain has a cycle (${cycle.join(' -> ')})`);
      ok = false;
    } else if (lib.invalid.has(baseDoc)) {
      add('/extends', `cannot extend '${base}': that profile has errors (reported for ${baseDoc.file})`);
      ok = false;
    } else {
      const b = draftOf(baseDoc, lib, memo, []);
      if (!b) {
        add('/extends', `cannot extend '${base}': its own composition has errors (reported for ${baseDoc.file})`);
        ok = false;
      } else {
        for (const [k, v] of b.top) draft.top.set(k, v);
        for (const [k, v] of b.limits) draft.limits.set(k, v);
        for (const [k, v] of b.modes) draft.modes.set(k, v);
        draft.prohibited.push(...b.prohibited);
        draft.points.push(...b.points);
      }
    }
  }
  const index = new Map(draft.points.map((p, i) => [String(p.v.id), i]));
  list(doc.value.include).forEach((blockId, k) => {
    const block = typeof blockId === 'string' ? lib.blocks.get(blockId) : undefined;
    if (!block) {
      add(`/include/${k}`, `unknown point block '${String(blockId)}' (expected the id of a file in a profile directory's blocks/: ${[...lib.blocks.keys()].sort().join(', ') || 'none'})`, 'CE_CONFIG_UNKNOWN_REF');
      ok = false;
      return;
    }
    if (lib.invalid.has(block)) {
      add(`/include/${k}`, `cannot include '${blockId}': that block has errors (reported for ${block.file})`);
      ok = false;
      return;
    }
    list(block.value.points).forEach((p, j) => {
      if (!isRecord(p)) return;
      const part = { v: withDefaults(p, block.value.defaults), o: { doc: block, path: `/points/${j}` } };
      const id = String(p.id);
      const first = index.get(id);
      if (first !== undefined) {
        add(`/include/${k}`, `duplicate point id '${id}' after composition: block '${blockId}' defines it at ${at(part.o)}, already defined at ${at(draft.points[first]!.o)}`, 'CE_CONFIG_DUPLICATE_ID');
        ok = false;
        return;
      }
      index.set(id, draft.points.length);
      draft.points.push(part);
    });
  });
  for (const [key, v] of Object.entries(doc.value)) {
    if (!COMPOSITION_KEYS.has(key) && !MERGED_KEYS.has(key)) draft.top.set(key, { v, o: own(`/${key}`) });
  }
  const inherited = new Set(index.keys());
  const defaults = draft.top.get('defaults')?.v;
  // DL/T 645 points (own or inherited protocol) have no word or byte order.
  const modbus = !isDlt645(draft);
  list(doc.value.points).forEach((p, j) => {
    if (!isRecord(p)) return;
    const part = { v: modbus ? withDefaults(p, defaults) : p, o: own(`/points/${j}`) };
    const id = String(p.id);
    // A point of this file replaces an inherited one with its id (once); anything else is appended
    // and a repeated id is reported by the semantic checks.
    if (inherited.delete(id)) draft.points[index.get(id)!] = part;
    else draft.points.push(part);
  });
  if (isRecord(doc.value.limits)) {
    for (const [key, v] of Object.entries(doc.value.limits)) {
      if (key === 'prohibited') list(v).forEach((r, j) => draft.prohibited.push({ v: r, o: own(`/limits/prohibited/${j}`) }));
      else draft.limits.set(key, { v, o: own(`/limits/${key}`) });
    }
  }
  if (isRecord(doc.value.modes)) {
    for (const [name, v] of Object.entries(doc.value.modes)) draft.modes.set(name, { v, o: own(`/modes/${name}`) });
  }
  const result = ok ? draft : undefined;
  memo.set(doc, result);
  return result;
}

/** Map a JSON path of the composed value to the file and path it was written at. */
function originOf(doc: SourceDoc, d: Draft, limitsDoc: Origin | undefined, modesDoc: Origin | undefined): (path: string) => Located {
  const loc = (o: Origin | undefined, rest: string[]): Located => {
    const o2 = o ?? { doc, path: '' };
    const p = [o2.path, ...rest].join('/');
    return { file: o2.doc.file, path: p, ...o2.doc.locate(p) };
  };
  return (path: string) => {
    const [, head = '', ...rest] = path.split('/');
    if (head === 'points' && rest.length) return loc(d.points[Number(rest[0])]?.o, rest.slice(1));
    if (head === 'modes' && rest.length) return loc(d.modes.get(rest[0]!)?.o, rest.slice(1));
    if (head === 'modes') return loc(modesDoc, rest);
    if (head === 'limits' && rest[0] === 'prohibited' && rest.length > 1) return loc(d.prohibited[Number(rest[1])]?.o, rest.slice(2));
    if (head === 'limits' && rest.length) return loc(d.limits.get(rest[0]!)?.o, rest.slice(1));
    if (head === 'limits') return loc(limitsDoc, rest);
    if (head === '') return loc(undefined, []);
    return loc(d.top.get(head)?.o, rest);
  };
}

/**
 * Compose a profile file that uses extends/include. Issues (unknown base or block, cycle,
 * duplicate point id from blocks, an invalid base) are reported for this file; the composed value
 * still has to pass the schema and the semantic checks (mapped back with origin()).
 */
export function composeProfile(doc: SourceDoc, lib: ProfileLibrary): { composed?: Composed; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const d = draftOf(doc, lib, new Map(), issues);
  if (!d) return { issues };
  const value: Record<string, unknown> = {};
  for (const [k, p] of d.top) value[k] = p.v;
  const limits: Record<string, unknown> = {};
  for (const [k, p] of d.limits) limits[k] = p.v;
  if (!isDlt645(d) && (d.prohibited.length || d.limits.size)) limits.prohibited = d.prohibited.map((p) => p.v);
  value.limits = limits;
  value.points = d.points.map((p) => p.v);
  if (d.modes.size) value.modes = Object.fromEntries([...d.modes].map(([k, p]) => [k, p.v]));
  const ownOr = (key: string): Origin | undefined => (doc.value[key] !== undefined ? { doc, path: `/${key}` } : undefined);
  return { composed: { value, origin: originOf(doc, d, ownOr('limits'), ownOr('modes')) }, issues };
}
