/**
 * Type-checks an expression AST against the site (every name must resolve to a known input)
 * and turns it into a tree of closures. Names are resolved once, at load, to keys of the
 * evaluation scope; at run time a value is only ever obtained through `EvalScope.value(key)`,
 * a Map lookup on an explicit scope, never a property access on a JavaScript object.
 */
import { ExpressionError } from './lexer.js';
import { parseExpression, type Node } from './parser.js';

export type ValueType = 'number' | 'boolean' | 'string';
export type Value = number | boolean | string;

/** What an expression may read at run time (built per control tick from one snapshot). */
export interface EvalScope {
  readonly now: number;
  /** Current value of a resolved input, or undefined when it is missing, stale or bad. */
  value(key: string): Value | undefined;
  /** Time-weighted mean of the good samples of `key` in the last `windowMs`; undefined if none. */
  avg(key: string, windowMs: number): number | undefined;
  /** Milliseconds since the input's latest reading; undefined if never read. */
  ageMs(key: string): number | undefined;
  /** Local wall time of the site: minutes since midnight and ISO weekday (1 = Monday). */
  localMinutes(): number;
  weekday(): number;
  /** Whether the named time-of-use window contains the current time. */
  inWindow(id: string): boolean;
}

/** Raised during evaluation when an input is missing, stale or bad: the rule falls to its safe state. */
export class BadInputError extends Error {
  override name = 'BadInputError';
  constructor(readonly input: string, reason = 'has no good value') {
    super(`input ${input} ${reason}`);
  }
}

export interface ResolvedRef {
  /** Scope key the value is looked up by. */
  key: string;
  type: ValueType;
  /** Whether the reference is a measured point (age() and avg() apply). */
  point?: boolean;
}

export interface Resolver {
  /** Resolve a name; a string result is the error message (e.g. "no device 'x'"). */
  ref(name: string): ResolvedRef | string;
  /** Whether a time-of-use window with this id exists. */
  hasWindow(id: string): boolean;
}

export interface CompiledExpression {
  readonly source: string;
  readonly type: ValueType;
  /** Scope keys the expression reads, by the name used in the source. */
  readonly inputs: Map<string, string>;
  /** Keys averaged over windows, with the longest window needed (ms). */
  readonly windows: Map<string, number>;
  evaluate(scope: EvalScope): Value;
}

type Fn = (s: EvalScope) => Value;
interface Typed {
  type: ValueType;
  fn: Fn;
}

const HHMM = /^([01]?\d|2[0-3]):([0-5]\d)$/;
function parseHHMM(s: string, pos: number): number {
  const m = HHMM.exec(s);
  if (!m) throw new ExpressionError(`time "${s}" must be HH:MM (00:00..23:59)`, pos);
  return Number(m[1]) * 60 + Number(m[2]);
}

const finite = (x: number, what: string): number => {
  if (!Number.isFinite(x)) throw new BadInputError(what, 'gave a non-finite result');
  return x;
};

/** The fixed function table: name -> arity check and builder. */
const FUNCTIONS = new Map<string, { doc: string; build(args: Node[], c: Compiler, pos: number): Typed }>([
  ['min', { doc: 'min(a, b, ...)', build: (args, c, pos) => variadic(args, c, pos, 'min', Math.min) }],
  ['max', { doc: 'max(a, b, ...)', build: (args, c, pos) => variadic(args, c, pos, 'max', Math.max) }],
  ['abs', { doc: 'abs(x)', build: (args, c, pos) => unary(args, c, pos, 'abs', Math.abs) }],
  ['round', { doc: 'round(x)', build: (args, c, pos) => unary(args, c, pos, 'round', Math.round) }],
  ['floor', { doc: 'floor(x)', build: (args, c, pos) => unary(args, c, pos, 'floor', Math.floor) }],
  ['ceil', { doc: 'ceil(x)', build: (args, c, pos) => unary(args, c, pos, 'ceil', Math.ceil) }],
  [
    'clamp',
    {
      doc: 'clamp(x, lo, hi)',
      build: (args, c, pos) => {
        arity(args, 3, 'clamp', pos);
        const [x, lo, hi] = args.map((a) => c.expect(a, 'number', 'clamp() argument'));
        return { type: 'number', fn: (s) => Math.min(hi!.fn(s) as number, Math.max(lo!.fn(s) as number, x!.fn(s) as number)) };
      },
    },
  ],
  [
    'avg',
    {
      doc: 'avg(point, seconds)',
      build: (args, c, pos) => {
        arity(args, 2, 'avg', pos);
        const ref = c.pointRef(args[0]!, 'avg');
        const secs = args[1]!;
        if (secs.k !== 'num' || secs.v < 1 || secs.v > 86400) throw new ExpressionError('avg(point, seconds): seconds must be a number literal from 1 to 86400', secs.pos);
        const ms = secs.v * 1000;
        c.windows.set(ref.key, Math.max(c.windows.get(ref.key) ?? 0, ms));
        const key = ref.key;
        return {
          type: 'number',
          fn: (s) => {
            const v = s.avg(key, ms);
            if (v === undefined) throw new BadInputError(key, `has no good value in the last ${secs.v} s`);
            return v;
          },
        };
      },
    },
  ],
  [
    'good',
    {
      doc: 'good(input)',
      build: (args, c, pos) => {
        arity(args, 1, 'good', pos);
        const a = args[0]!;
        if (a.k !== 'ref') throw new ExpressionError('good() takes an input name', a.pos);
        const ref = c.resolve(a);
        const key = ref.key;
        return { type: 'boolean', fn: (s) => s.value(key) !== undefined };
      },
    },
  ],
  [
    'age',
    {
      doc: 'age(point)',
      build: (args, c, pos) => {
        arity(args, 1, 'age', pos);
        const ref = c.pointRef(args[0]!, 'age');
        const key = ref.key;
        return {
          type: 'number',
          fn: (s) => {
            const a = s.ageMs(key);
            if (a === undefined) throw new BadInputError(key, 'was never read');
            return a / 1000;
          },
        };
      },
    },
  ],
  ['hour', { doc: 'hour()', build: (args, _c, pos) => (arity(args, 0, 'hour', pos), { type: 'number', fn: (s) => Math.floor(s.localMinutes() / 60) }) }],
  ['minute', { doc: 'minute()', build: (args, _c, pos) => (arity(args, 0, 'minute', pos), { type: 'number', fn: (s) => s.localMinutes() % 60 }) }],
  ['time_of_day', { doc: 'time_of_day()', build: (args, _c, pos) => (arity(args, 0, 'time_of_day', pos), { type: 'number', fn: (s) => s.localMinutes() / 60 }) }],
  ['weekday', { doc: 'weekday()', build: (args, _c, pos) => (arity(args, 0, 'weekday', pos), { type: 'number', fn: (s) => s.weekday() }) }],
  [
    'between',
    {
      doc: 'between("HH:MM", "HH:MM")',
      build: (args, _c, pos) => {
        arity(args, 2, 'between', pos);
        const [a, b] = args;
        if (a!.k !== 'str' || b!.k !== 'str') throw new ExpressionError('between() takes two "HH:MM" string literals', pos);
        const from = parseHHMM(a!.v, a!.pos);
        const to = parseHHMM(b!.v, b!.pos);
        return { type: 'boolean', fn: (s) => inRange(s.localMinutes(), from, to) };
      },
    },
  ],
  [
    'in_window',
    {
      doc: 'in_window("id")',
      build: (args, c, pos) => {
        arity(args, 1, 'in_window', pos);
        const a = args[0]!;
        if (a.k !== 'str') throw new ExpressionError('in_window() takes a window id string literal', a.pos);
        if (!c.resolver.hasWindow(a.v)) throw new ExpressionError(`no time-of-use window '${a.v}' in control.windows`, a.pos);
        const id = a.v;
        return { type: 'boolean', fn: (s) => s.inWindow(id) };
      },
    },
  ],
]);

/** Whether local minute-of-day `m` lies in [from, to), wrapping past midnight when to < from; from == to is the whole day. */
export function inRange(m: number, from: number, to: number): boolean {
  if (from === to) return true;
  return from < to ? m >= from && m < to : m >= from || m < to;
}

function arity(args: Node[], n: number, name: string, pos: number): void {
  if (args.length !== n) throw new ExpressionError(`${name}() takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`, pos);
}
function unary(args: Node[], c: Compiler, pos: number, name: string, f: (x: number) => number): Typed {
  arity(args, 1, name, pos);
  const x = c.expect(args[0]!, 'number', `${name}() argument`);
  return { type: 'number', fn: (s) => f(x.fn(s) as number) };
}
function variadic(args: Node[], c: Compiler, pos: number, name: string, f: (...x: number[]) => number): Typed {
  if (args.length < 1) throw new ExpressionError(`${name}() takes at least one argument`, pos);
  const xs = args.map((a) => c.expect(a, 'number', `${name}() argument`));
  if (xs.length === 2) {
    const [a, b] = xs;
    return { type: 'number', fn: (s) => f(a!.fn(s) as number, b!.fn(s) as number) };
  }
  return { type: 'number', fn: (s) => f(...xs.map((x) => x.fn(s) as number)) };
}

class Compiler {
  readonly inputs = new Map<string, string>();
  readonly windows = new Map<string, number>();
  constructor(readonly resolver: Resolver) {}

  resolve(n: Extract<Node, { k: 'ref' }>): ResolvedRef {
    const r = this.resolver.ref(n.name);
    if (typeof r === 'string') throw new ExpressionError(r, n.pos);
    this.inputs.set(n.name, r.key);
    return r;
  }

  pointRef(n: Node, fn: string): ResolvedRef {
    if (n.k !== 'ref') throw new ExpressionError(`${fn}() takes a point reference such as grid.active_power as its first argument`, n.pos);
    const r = this.resolve(n);
    if (!r.point) throw new ExpressionError(`${fn}() needs a measured point, and '${n.name}' is a derived input`, n.pos);
    if (r.type !== 'number') throw new ExpressionError(`${fn}() needs a numeric point, and '${n.name}' is ${r.type}`, n.pos);
    return r;
  }

  expect(n: Node, type: ValueType, what: string): Typed {
    const t = this.node(n);
    if (t.type !== type) throw new ExpressionError(`${what} must be ${type}, but is ${t.type}`, n.pos);
    return t;
  }

  node(n: Node): Typed {
    switch (n.k) {
      case 'num': {
        const v = n.v;
        return { type: 'number', fn: () => v };
      }
      case 'str': {
        const v = n.v;
        return { type: 'string', fn: () => v };
      }
      case 'bool': {
        const v = n.v;
        return { type: 'boolean', fn: () => v };
      }
      case 'ref': {
        const r = this.resolve(n);
        const key = r.key;
        return {
          type: r.type,
          fn: (s) => {
            const v = s.value(key);
            if (v === undefined) throw new BadInputError(n.name);
            return v;
          },
        };
      }
      case 'call': {
        const f = FUNCTIONS.get(n.fn);
        if (!f) {
          throw new ExpressionError(`unknown function '${n.fn}' (available: ${[...FUNCTIONS.values()].map((x) => x.doc).join(', ')})`, n.pos);
        }
        return f.build(n.args, this, n.pos);
      }
      case 'not': {
        const a = this.expect(n.a, 'boolean', "operand of '!'");
        return { type: 'boolean', fn: (s) => !a.fn(s) };
      }
      case 'neg': {
        const a = this.expect(n.a, 'number', "operand of unary '-'");
        return { type: 'number', fn: (s) => -(a.fn(s) as number) };
      }
      case 'cond': {
        const c = this.expect(n.c, 'boolean', "condition of '?:'");
        const a = this.node(n.a);
        const b = this.node(n.b);
        if (a.type !== b.type) throw new ExpressionError(`both branches of '?:' must have one type (${a.type} vs ${b.type})`, n.pos);
        return { type: a.type, fn: (s) => (c.fn(s) ? a.fn(s) : b.fn(s)) };
      }
      case 'bin':
        return this.binary(n);
    }
  }

  private binary(n: Extract<Node, { k: 'bin' }>): Typed {
    const { op } = n;
    if (op === '&&' || op === '||') {
      const a = this.expect(n.a, 'boolean', `left operand of '${op}'`);
      const b = this.expect(n.b, 'boolean', `right operand of '${op}'`);
      return op === '&&' ? { type: 'boolean', fn: (s) => (a.fn(s) as boolean) && (b.fn(s) as boolean) } : { type: 'boolean', fn: (s) => (a.fn(s) as boolean) || (b.fn(s) as boolean) };
    }
    if (op === '==' || op === '!=') {
      const a = this.node(n.a);
      const b = this.node(n.b);
      if (a.type !== b.type) throw new ExpressionError(`cannot compare ${a.type} with ${b.type} using '${op}'`, n.pos);
      return op === '==' ? { type: 'boolean', fn: (s) => a.fn(s) === b.fn(s) } : { type: 'boolean', fn: (s) => a.fn(s) !== b.fn(s) };
    }
    const a = this.expect(n.a, 'number', `left operand of '${op}'`);
    const b = this.expect(n.b, 'number', `right operand of '${op}'`);
    const A = a.fn;
    const B = b.fn;
    switch (op) {
      case '<': return { type: 'boolean', fn: (s) => (A(s) as number) < (B(s) as number) };
      case '<=': return { type: 'boolean', fn: (s) => (A(s) as number) <= (B(s) as number) };
      case '>': return { type: 'boolean', fn: (s) => (A(s) as number) > (B(s) as number) };
      case '>=': return { type: 'boolean', fn: (s) => (A(s) as number) >= (B(s) as number) };
      case '+': return { type: 'number', fn: (s) => (A(s) as number) + (B(s) as number) };
      case '-': return { type: 'number', fn: (s) => (A(s) as number) - (B(s) as number) };
      case '*': return { type: 'number', fn: (s) => (A(s) as number) * (B(s) as number) };
      case '/': return { type: 'number', fn: (s) => finite((A(s) as number) / (B(s) as number), 'division') };
      case '%': return { type: 'number', fn: (s) => finite((A(s) as number) % (B(s) as number), 'modulo') };
    }
    throw new ExpressionError(`unknown operator '${op}'`, n.pos);
  }
}

/**
 * Parse, resolve and type-check `source`. Throws ExpressionError (with position) on any
 * problem, so hostile or broken expressions are rejected at load, before anything runs.
 */
export function compileExpression(source: string, resolver: Resolver, expectType?: ValueType): CompiledExpression {
  const ast = parseExpression(source);
  const c = new Compiler(resolver);
  const t = c.node(ast);
  if (expectType && t.type !== expectType) {
    throw new ExpressionError(`expression must give a ${expectType}, but gives a ${t.type}`, 0);
  }
  const fn = t.fn;
  return {
    source,
    type: t.type,
    inputs: c.inputs,
    windows: c.windows,
    evaluate: (scope) => {
      const v = fn(scope);
      if (typeof v === 'number' && !Number.isFinite(v)) throw new BadInputError(source, 'gave a non-finite result');
      return v;
    },
  };
}

/** A message for an ExpressionError with a caret under the position. */
export function explainExpressionError(source: string, err: ExpressionError): string {
  const clipped = source.length > 120 ? `${source.slice(0, 117)}...` : source;
  const caret = err.pos <= 117 ? `\n    ${clipped}\n    ${' '.repeat(err.pos)}^` : '';
  return `${err.message} (at character ${err.pos + 1})${caret}`;
}

export { ExpressionError };
