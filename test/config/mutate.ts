/**
 * Random mutations of a site config for property tests (seeded by test/helpers/prng.ts): mutators that delete
 * keys, change types, put numbers out of range, add unknown keys, set bad time zones and
 * duplicate ids.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Container = Json[] | { [k: string]: Json };
const isContainer = (v: Json | undefined): v is Container => typeof v === 'object' && v !== null;

/** Every container in `root` with the keys it holds, paths as JSON pointers. */
function slots(root: Container, at = ''): { parent: Container; key: string | number; path: string }[] {
  const out: { parent: Container; key: string | number; path: string }[] = [];
  const keys: (string | number)[] = Array.isArray(root) ? root.map((_, i) => i) : Object.keys(root);
  for (const k of keys) {
    const v = Array.isArray(root) ? root[Number(k)]! : root[String(k)]!;
    const p = `${at}/${k}`;
    out.push({ parent: root, key: k, path: p });
    if (isContainer(v)) out.push(...slots(v, p));
  }
  return out;
}

function get(parent: Container, key: string | number): Json {
  return Array.isArray(parent) ? (parent[Number(key)] ?? null) : (parent[String(key)] ?? null);
}
function set(parent: Container, key: string | number, v: Json): void {
  if (Array.isArray(parent)) parent[Number(key)] = v;
  else parent[String(key)] = v;
}

const BAD_NUMBERS = [-1, 0, 1.5, 1e12, -1e308, 1e308, 65536, 256, Number.POSITIVE_INFINITY, Number.NaN, 2 ** 53];
const BAD_ZONES = ['Asia/Shanghi', 'Mars/Olympus', '', 'UTC+8', 'Europe/berlin', 'GMT', 'EST5EDT', '../../etc/passwd', 'Etc/GMT+14'];
const VALUES: Json[] = [null, true, false, 0, -5, 'x', '', [], {}, [1, 2], { a: 1 }, 'tcp', 'grid', 'battery'];

export interface Mutation {
  op: string;
  path: string;
}

/** Apply one random mutation to `root` (in place); returns what was done. */
export function mutate(root: { [k: string]: Json }, rnd: () => number): Mutation {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const all = slots(root);
  const ops = ['delete', 'type', 'number', 'unknown-key', 'timezone', 'duplicate-id', 'swap'] as const;
  const op = pick(ops);
  switch (op) {
    case 'delete': {
      const s = pick(all);
      if (Array.isArray(s.parent)) s.parent.splice(Number(s.key), 1);
      else delete s.parent[String(s.key)];
      return { op, path: s.path };
    }
    case 'type': {
      const s = pick(all);
      set(s.parent, s.key, pick(VALUES));
      return { op, path: s.path };
    }
    case 'number': {
      const nums = all.filter((s) => typeof get(s.parent, s.key) === 'number');
      const s = pick(nums.length ? nums : all);
      set(s.parent, s.key, pick(BAD_NUMBERS));
      return { op, path: s.path };
    }
    case 'unknown-key': {
      const objects = [root, ...all.map((s) => get(s.parent, s.key)).filter((v): v is { [k: string]: Json } => isContainer(v) && !Array.isArray(v))];
      const o = pick(objects);
      const keys = Object.keys(o);
      // A typo of an existing key, or a new one.
      const k = keys.length && rnd() < 0.5 ? pick(keys).toLowerCase() + (rnd() < 0.5 ? 's' : '') : pick(['bogus', 'colour', 'baudrate', 'timezone', 'enabled']);
      o[k] = pick(VALUES);
      return { op, path: `?/${k}` };
    }
    case 'timezone': {
      const site = root.site;
      const acct = root.accounting;
      const target = rnd() < 0.5 && isContainer(acct) && !Array.isArray(acct) ? acct : isContainer(site) && !Array.isArray(site) ? site : undefined;
      if (target) target.timezone = pick(BAD_ZONES);
      return { op, path: target === acct ? '/accounting/timezone' : '/site/timezone' };
    }
    case 'duplicate-id': {
      const lists = ['devices', 'buses', 'rules'].map((k) => root[k]).filter((v): v is Json[] => Array.isArray(v) && v.length > 1);
      if (!lists.length) return { op, path: '-' };
      const list = pick(lists);
      const a = list[Math.floor(rnd() * list.length)]!;
      const b = list[Math.floor(rnd() * list.length)]!;
      if (isContainer(a) && !Array.isArray(a) && isContainer(b) && !Array.isArray(b)) b.id = a.id ?? null;
      return { op, path: 'ids' };
    }
    case 'swap': {
      // A value from elsewhere in the config (a string where a number belongs, an id into a reference...).
      const s = pick(all);
      const t = pick(all);
      set(s.parent, s.key, structuredClone(get(t.parent, t.key)));
      return { op, path: `${s.path}<-${t.path}` };
    }
  }
}
