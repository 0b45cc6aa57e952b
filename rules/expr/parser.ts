/**
 * Pratt parser of the rule expression language. Produces a small AST with no way to reach a
 * JavaScript object: references are plain names (`pv_surplus`, `grid.active_power`) and calls
 * are by name into a fixed function table; there is no indexing, no member access on values,
 * no assignment and no loops, so every expression terminates.
 */
import { ExpressionError, tokenize, type Token } from './lexer.js';

export const MAX_DEPTH = 32;

export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%';

export type Node =
  | { k: 'num'; v: number; pos: number }
  | { k: 'str'; v: string; pos: number }
  | { k: 'bool'; v: boolean; pos: number }
  /** A name: `pv_surplus` or `device.point`. */
  | { k: 'ref'; name: string; pos: number }
  | { k: 'call'; fn: string; args: Node[]; pos: number }
  | { k: 'not'; a: Node; pos: number }
  | { k: 'neg'; a: Node; pos: number }
  | { k: 'bin'; op: BinaryOp; a: Node; b: Node; pos: number }
  | { k: 'cond'; c: Node; a: Node; b: Node; pos: number };

/** Names that reach JavaScript internals in other expression engines: never valid here. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

function checkName(t: Token): void {
  if (FORBIDDEN.has(t.text) || t.text.startsWith('__')) {
    throw new ExpressionError(`'${t.text}' is a forbidden name (no access to object internals)`, t.pos);
  }
}

const BINARY_PRECEDENCE: Record<string, number> = {
  '||': 2, or: 2,
  '&&': 3, and: 3,
  '==': 4, '!=': 4,
  '<': 5, '<=': 5, '>': 5, '>=': 5,
  '+': 6, '-': 6,
  '*': 7, '/': 7, '%': 7,
};
const UNARY_PRECEDENCE = 8;

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private expectOp(op: string): Token {
    const t = this.next();
    if (t.type !== 'op' || t.text !== op) throw new ExpressionError(`expected '${op}' but found ${describe(t)}`, t.pos);
    return t;
  }

  parseAll(): Node {
    const n = this.expr(0, 0);
    const t = this.peek();
    if (t.type !== 'eof') throw new ExpressionError(`unexpected ${describe(t)} after a complete expression`, t.pos);
    return n;
  }

  /** Pratt loop: `minPrec` binds tighter operators only; `depth` caps nesting. */
  private expr(minPrec: number, depth: number): Node {
    if (depth > MAX_DEPTH) throw new ExpressionError(`expression nests deeper than ${MAX_DEPTH} levels`, this.peek().pos);
    let left = this.prefix(depth);
    for (;;) {
      const t = this.peek();
      if (t.type === 'op' && t.text === '?' && minPrec <= 1) {
        this.next();
        const a = this.expr(0, depth + 1);
        this.expectOp(':');
        const b = this.expr(1, depth + 1);
        left = { k: 'cond', c: left, a, b, pos: t.pos };
        continue;
      }
      const opText = t.type === 'op' || (t.type === 'ident' && (t.text === 'and' || t.text === 'or')) ? t.text : undefined;
      const prec = opText !== undefined ? BINARY_PRECEDENCE[opText] : undefined;
      if (prec === undefined || prec < minPrec || prec <= 1) break;
      this.next();
      const right = this.expr(prec + 1, depth + 1);
      const op = (opText === 'and' ? '&&' : opText === 'or' ? '||' : opText) as BinaryOp;
      left = { k: 'bin', op, a: left, b: right, pos: t.pos };
    }
    return left;
  }

  private prefix(depth: number): Node {
    const t = this.next();
    switch (t.type) {
      case 'num':
        return { k: 'num', v: t.value!, pos: t.pos };
      case 'str':
        return { k: 'str', v: t.text, pos: t.pos };
      case 'op':
        if (t.text === '(') {
          const n = this.expr(0, depth + 1);
          this.expectOp(')');
          return n;
        }
        if (t.text === '!') return { k: 'not', a: this.expr(UNARY_PRECEDENCE, depth + 1), pos: t.pos };
        if (t.text === '-') return { k: 'neg', a: this.expr(UNARY_PRECEDENCE, depth + 1), pos: t.pos };
        if (t.text === '+') return this.expr(UNARY_PRECEDENCE, depth + 1);
        throw new ExpressionError(`unexpected ${describe(t)}`, t.pos);
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') return { k: 'bool', v: t.text === 'true', pos: t.pos };
        if (t.text === 'not') return { k: 'not', a: this.expr(UNARY_PRECEDENCE, depth + 1), pos: t.pos };
        if (t.text === 'and' || t.text === 'or') throw new ExpressionError(`unexpected '${t.text}'`, t.pos);
        checkName(t);
        const after = this.peek();
        if (after.type === 'op' && after.text === '(') {
          this.next();
          const args: Node[] = [];
          if (!(this.peek().type === 'op' && this.peek().text === ')')) {
            for (;;) {
              args.push(this.expr(0, depth + 1));
              if (args.length > 8) throw new ExpressionError(`too many arguments to ${t.text}()`, t.pos);
              const sep = this.peek();
              if (sep.type === 'op' && sep.text === ',') {
                this.next();
                continue;
              }
              break;
            }
          }
          this.expectOp(')');
          return { k: 'call', fn: t.text, args, pos: t.pos };
        }
        let name = t.text;
        const dot = this.peek();
        if (dot.type === 'op' && dot.text === '.') {
          this.next();
          const member = this.next();
          if (member.type !== 'ident') throw new ExpressionError(`expected a point name after '${name}.' but found ${describe(member)}`, member.pos);
          checkName(member);
          name = `${name}.${member.text}`;
          const more = this.peek();
          if (more.type === 'op' && more.text === '.') {
            const after = this.tokens[this.i + 1];
            if (after?.type === 'ident') checkName(after);
          }
          if (more.type === 'op' && (more.text === '.' || more.text === '(')) {
            throw new ExpressionError(`'${name}${more.text}': only 'device.point' references exist; no member access or method calls`, more.pos);
          }
        }
        return { k: 'ref', name, pos: t.pos };
      }
      case 'eof':
        throw new ExpressionError('unexpected end of expression', t.pos);
    }
  }
}

function describe(t: Token): string {
  if (t.type === 'eof') return 'end of expression';
  if (t.type === 'str') return `string "${t.text}"`;
  return `'${t.text}'`;
}

export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  return new Parser(tokens).parseAll();
}
