import { describe, expect, it } from 'vitest';
import { BadInputError, compileExpression, type EvalScope, type Resolver, type Value } from '../../rules/expr/compile.js';
import { ExpressionError, MAX_EXPRESSION_LENGTH } from '../../rules/expr/lexer.js';
import { compile } from './helpers.js';

const resolver: Resolver = {
  ref(name) {
    const known: Record<string, 'number' | 'boolean' | 'string'> = { 'grid.active_power': 'number', 'load.relay': 'boolean', pv_surplus: 'number', tariff: 'string' };
    const t = known[name];
    return t ? { key: name, type: t, point: name.includes('.') } : `unknown input '${name}'`;
  },
  hasWindow: (id) => id === 'night',
};

function scope(values: Record<string, Value | undefined>, opts: { minutes?: number; avg?: number } = {}): EvalScope {
  const m = new Map(Object.entries(values));
  return {
    now: 0,
    value: (k) => m.get(k),
    avg: () => opts.avg,
    ageMs: () => 5000,
    localMinutes: () => opts.minutes ?? 12 * 60,
    weekday: () => 3,
    inWindow: (id) => id === 'night' && (opts.minutes ?? 720) < 360,
  };
}

const ev = (src: string, values: Record<string, Value | undefined> = {}, opts?: { minutes?: number; avg?: number }) =>
  compileExpression(src, resolver).evaluate(scope(values, opts));

describe('expression language: evaluation', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['-2 - -3', 1],
    ['10 % 4', 2],
    ['2 < 3 && 3 <= 3', true],
    ['1 > 2 || not false', true],
    ['1 > 2 or 2 > 1 and false', false],
    ['true ? 1 : 2', 1],
    ['false ? 1 : true ? 2 : 3', 2],
    ['min(3, 1, 2) + max(4, 5)', 6],
    ['abs(-4) + clamp(15, 0, 10)', 14],
    ['round(2.5) + floor(1.9) + ceil(1.1)', 6],
    ['"peak" == "peak"', true],
    ['1.5e3', 1500],
  ])('%s = %s', (src, want) => {
    expect(ev(src)).toBe(want);
  });

  it('reads inputs only through the scope', () => {
    expect(ev('pv_surplus > 3000 && !load.relay', { pv_surplus: 3500, 'load.relay': false })).toBe(true);
    expect(ev('grid.active_power / 1000', { 'grid.active_power': 2500 })).toBe(2.5);
    expect(ev('tariff == "offpeak"', { tariff: 'offpeak' })).toBe(true);
  });

  it('time-of-day helpers, windows and avg', () => {
    expect(ev('between("22:00", "06:00")', {}, { minutes: 23 * 60 })).toBe(true);
    expect(ev('between("22:00", "06:00")', {}, { minutes: 6 * 60 })).toBe(false);
    expect(ev('between("08:00", "17:30")', {}, { minutes: 17 * 60 + 29 })).toBe(true);
    expect(ev('hour() * 60 + minute()', {}, { minutes: 13 * 60 + 7 })).toBe(787);
    expect(ev('in_window("night")', {}, { minutes: 100 })).toBe(true);
    expect(ev('avg(grid.active_power, 300) > 100', {}, { avg: 150 })).toBe(true);
    expect(ev('weekday() <= 5')).toBe(true);
    expect(ev('good(pv_surplus)', {})).toBe(false);
  });

  it('a missing or bad input raises BadInputError (the rule goes to its safe state)', () => {
    expect(() => ev('pv_surplus > 1', {})).toThrow(BadInputError);
    expect(() => ev('avg(grid.active_power, 60) > 1', {}, { avg: undefined })).toThrow(BadInputError);
    expect(() => ev('1 / (pv_surplus - 5)', { pv_surplus: 5 })).toThrow(BadInputError);
  });
});

describe('expression language: rejected at load with a clear error', () => {
  it.each([
    ['constructor', /forbidden name/],
    ['__proto__', /forbidden name/],
    ['grid.constructor', /forbidden name/],
    ['grid.__proto__', /forbidden name/],
    ['pv_surplus.prototype', /forbidden name/],
    ['__defineGetter__("x", 1)', /forbidden name/],
    ["constructor.constructor('return process')()", /forbidden name/],
    ['grid.active_power.constructor', /forbidden name|only 'device.point'/],
    ['grid.active_power.toString()', /only 'device.point' references/],
    ['this', /unknown input 'this'/],
    ['process', /unknown input 'process'/],
    ['globalThis', /unknown input/],
    ['require("fs")', /unknown function 'require'/],
    ['eval("1")', /unknown function 'eval'/],
    ['Function("x")', /unknown function 'Function'/],
    ['grid["active_power"]', /indexing is not part of the language/],
    ['x = 1', /unknown input 'x'|use '=='/],
    ['pv_surplus = 1', /use '=='/],
    ['`${1}`', /unexpected character/],
    ['1 +', /unexpected end/],
    ['(1', /expected '\)'/],
    ['1 2', /after a complete expression/],
    ['"a\\"b"', /escape sequences/],
    ['1 + true', /must be number/],
    ['pv_surplus && true', /must be boolean/],
    ['tariff < 3', /must be number/],
    ['1 == "1"', /cannot compare number with string/],
    ['min()', /at least one argument/],
    ['avg(pv_surplus, 60)', /derived input/],
    ['avg(grid.active_power, x)', /seconds must be a number literal/],
    ['between("25:00", "06:00")', /HH:MM/],
    ['in_window("nope")', /no time-of-use window 'nope'/],
    ['1e999', /not a finite number/],
  ])('%s', (src, msg) => {
    let err: unknown;
    try {
      compileExpression(src, resolver);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpressionError);
    expect((err as Error).message).toMatch(msg);
  });

  it('caps length, nesting depth and token count (huge inputs)', () => {
    expect(() => compileExpression('1+'.repeat(MAX_EXPRESSION_LENGTH) + '1', resolver)).toThrow(/characters long; the limit is 1000/);
    expect(() => compileExpression('('.repeat(100) + '1' + ')'.repeat(100), resolver)).toThrow(/nests deeper than 32/);
    expect(() => compileExpression('-'.repeat(60) + '1', resolver)).toThrow(/nests deeper/);
    expect(() => compileExpression('!'.repeat(60) + 'true', resolver)).toThrow(/nests deeper/);
    expect(() => compileExpression(Array(250).fill('1').join('+'), resolver)).toThrow(/more than 400 tokens/);
    expect(() => compileExpression(`"${'a'.repeat(65)}"`, resolver)).toThrow(/string literal longer/);
    expect(() => compileExpression('9'.repeat(30), resolver)).toThrow(/too long/);
  });

  it('a hostile expression in a rule fails the config with file, path and position', () => {
    const { issues } = compile([{ id: 'evil', kind: 'switch', output: 'load.relay', when: "constructor.constructor('return process')().exit() > 0" }]);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('/rules/0/when');
    expect(issues[0]!.message).toMatch(/invalid expression: 'constructor' is a forbidden name .* \(at character 1\)/);
  });

  it('never reaches Object.prototype through a scope key', () => {
    // Even if a resolver accepted any name, the evaluator only asks the scope's Map.
    const open: Resolver = { ref: (name) => ({ key: name, type: 'number' }), hasWindow: () => false };
    const e = compileExpression('toString + valueOf', open);
    expect(() => e.evaluate(scope({}))).toThrow(BadInputError);
  });
});
