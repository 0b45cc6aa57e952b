/**
 * Tokenizer of the rule expression language (rules/README.md). Hand-written, no regex
 * backtracking on user input, hard caps on length and token count.
 */

export const MAX_EXPRESSION_LENGTH = 1000;
export const MAX_TOKENS = 400;
export const MAX_STRING_LITERAL = 64;

export type TokenType = 'num' | 'str' | 'ident' | 'op' | 'eof';

export interface Token {
  type: TokenType;
  /** Operator / identifier text; string literal content; number source text. */
  text: string;
  value?: number;
  /** 0-based character offset in the expression. */
  pos: number;
}

/** A problem in an expression, with the character position it was found at. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

// Longest first so `<=` wins over `<`.
const OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '!', '(', ')', ',', '.', '?', ':'];

const isDigit = (c: string) => c >= '0' && c <= '9';
const isIdentStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isIdentPart = (c: string) => isIdentStart(c) || isDigit(c);

export function tokenize(src: string): Token[] {
  if (typeof src !== 'string') throw new ExpressionError('expression must be a string', 0);
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(`expression is ${src.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`, MAX_EXPRESSION_LENGTH);
  }
  const tokens: Token[] = [];
  let i = 0;
  const push = (t: Token) => {
    tokens.push(t);
    if (tokens.length > MAX_TOKENS) throw new ExpressionError(`expression has more than ${MAX_TOKENS} tokens`, t.pos);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      while (i < src.length && isDigit(src[i]!)) i++;
      if (src[i] === '.') {
        i++;
        while (i < src.length && isDigit(src[i]!)) i++;
      }
      if (src[i] === 'e' || src[i] === 'E') {
        let j = i + 1;
        if (src[j] === '+' || src[j] === '-') j++;
        if (isDigit(src[j] ?? '')) {
          i = j;
          while (i < src.length && isDigit(src[i]!)) i++;
        }
      }
      const text = src.slice(start, i);
      if (text.length > 24) throw new ExpressionError(`number literal '${text.slice(0, 24)}...' is too long`, start);
      const value = Number(text);
      if (!Number.isFinite(value)) throw new ExpressionError(`number literal '${text}' is not a finite number`, start);
      if (isIdentStart(src[i] ?? '')) throw new ExpressionError(`unexpected '${src[i]}' after number ${text}`, i);
      push({ type: 'num', text, value, pos: start });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < src.length && isIdentPart(src[i]!)) i++;
      const text = src.slice(start, i);
      if (text.length > 64) throw new ExpressionError(`identifier '${text.slice(0, 32)}...' is longer than 64 characters`, start);
      push({ type: 'ident', text, pos: start });
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      let out = '';
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\') throw new ExpressionError('escape sequences are not supported in string literals', i);
        out += src[i];
        i++;
      }
      if (i >= src.length) throw new ExpressionError('unterminated string literal', start);
      i++;
      if (out.length > MAX_STRING_LITERAL) {
        throw new ExpressionError(`string literal longer than ${MAX_STRING_LITERAL} characters`, start);
      }
      push({ type: 'str', text: out, pos: start });
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) {
      const hint = c === '[' || c === ']' ? ' (indexing is not part of the language)' : c === '=' ? " (use '==' to compare)" : '';
      throw new ExpressionError(`unexpected character '${c}'${hint}`, i);
    }
    i += op.length;
    push({ type: 'op', text: op, pos: start });
  }
  tokens.push({ type: 'eof', text: '', pos: src.length });
  return tokens;
}
