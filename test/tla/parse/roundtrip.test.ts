import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Bound, Definition, ExceptPathStep, Expr } from '../../../tla/ast.ts';
import { neutralizePlusCal } from '../../../tla/parse/index.ts';
import { INFIX_OPS, INFIX_PREC_LOW, UNSUPPORTED_INFIX } from '../../../tla/parse/operators.ts';
import { printDefinition, printExpr } from '../../../tla/parse/print.ts';
import { exprOf, parseBody, stripLocs } from './helpers.ts';

// Generated ASTs carry no locations; the comparison strips the parser's.
const L = undefined as never;

const ident = fc.constantFrom('a', 'b', 'x', 'y', 'S', 'T', 'Op1', 'count_2');
const field = fc.constantFrom('f', 'g', 'val', 'next1');
const binder = fc.constantFrom('i', 'j', 'k', 'm');
/** Infix operators with apply semantics; /\, \/, ~> have their own node kinds. */
const infixOps = Object.values(INFIX_OPS).filter((op) => !['/\\', '\\/', '~>', '\\X'].includes(op));
const prefixOps = ['~', '-.', 'SUBSET', 'UNION', 'DOMAIN'];
const postfixOps = ['^+', '^*', '^#'];

const strValue = fc.string({
  unit: fc.constantFrom('a', 'Z', ' ', '"', '\\', '\n', '\t', '*', '(', ')', 'é', '∀'),
  maxLength: 8,
});

function leaf(): fc.Arbitrary<Expr> {
  return fc.oneof(
    fc.nat({ max: 100_000 }).map((value): Expr => ({ kind: 'num', value, loc: L })),
    strValue.map((value): Expr => ({ kind: 'str', value, loc: L })),
    fc.boolean().map((value): Expr => ({ kind: 'bool', value, loc: L })),
    fc
      .constantFrom('BOOLEAN' as const, 'STRING' as const)
      .map((name): Expr => ({ kind: 'builtinSet', name, loc: L })),
    ident.map((name): Expr => ({ kind: 'name', name, loc: L })),
  );
}

function bound(sub: fc.Arbitrary<Expr>, setRequired: boolean): fc.Arbitrary<Bound> {
  return fc.oneof(
    fc.record({
      names: binder.map((b) => [b]),
      tuple: fc.constant(false),
      set: setRequired ? sub : fc.option(sub, { nil: null }),
      loc: fc.constant(L),
    }),
    fc.record({
      names: fc.uniqueArray(binder, { minLength: 2, maxLength: 3 }),
      tuple: fc.constant(true),
      set: sub,
      loc: fc.constant(L),
    }),
  );
}

function expr(depth: number): fc.Arbitrary<Expr> {
  if (depth <= 0) return leaf();
  const sub = expr(depth - 1);
  const subs = (min: number, max: number) => fc.array(sub, { minLength: min, maxLength: max });
  const lambda: fc.Arbitrary<Expr> = fc
    .record({ params: fc.uniqueArray(binder, { minLength: 1, maxLength: 2 }), body: sub })
    .map(({ params, body }): Expr => ({ kind: 'lambda', params, body, loc: L }));
  const arg = fc.oneof({ weight: 4, arbitrary: sub }, { weight: 1, arbitrary: lambda });
  const pathStep: fc.Arbitrary<ExceptPathStep> = fc.oneof(
    subs(1, 2).map((args): ExceptPathStep => ({ kind: 'index', args })),
    field.map((name): ExceptPathStep => ({ kind: 'field', name })),
  );
  const exceptValue = fc.oneof(sub, fc.constant<Expr>({ kind: 'at', loc: L }));
  const letDef: fc.Arbitrary<Definition> = fc.oneof(
    fc
      .record({
        name: fc.constantFrom('D1', 'D2'),
        params: fc.uniqueArray(binder, { maxLength: 2 }),
        body: sub,
        recursive: fc.boolean(),
      })
      .map(({ name, params, body, recursive }): Definition => ({
        kind: 'opDef',
        name,
        params: params.map((p) => ({ name: p, arity: 0 })),
        body,
        local: false,
        recursive,
        loc: L,
      })),
    fc
      .record({
        name: fc.constantFrom('fa', 'fb'),
        bounds: fc.array(bound(sub, true), { minLength: 1, maxLength: 2 }),
        body: sub,
      })
      .map(({ name, bounds, body }): Definition => ({
        kind: 'fcnDef',
        name,
        bounds,
        body,
        local: false,
        loc: L,
      })),
  );
  return fc.oneof(
    { weight: 3, arbitrary: leaf() },
    fc
      .record({ op: fc.constantFrom(...infixOps), l: sub, r: sub })
      .map(({ op, l, r }): Expr => ({ kind: 'apply', op, args: [l, r], loc: L })),
    fc
      .record({ op: fc.constantFrom(...prefixOps), e: sub })
      .map(({ op, e }): Expr => ({ kind: 'apply', op, args: [e], loc: L })),
    fc
      .record({ op: fc.constantFrom(...postfixOps), e: sub })
      .map(({ op, e }): Expr => ({ kind: 'apply', op, args: [e], loc: L })),
    subs(2, 4).map((args): Expr => ({ kind: 'apply', op: '\\X', args, loc: L })),
    fc
      .record({ op: ident, args: fc.array(arg, { minLength: 1, maxLength: 3 }) })
      .map(({ op, args }): Expr => ({ kind: 'apply', op, args, loc: L })),
    fc
      .record({
        path: fc.array(fc.record({ name: fc.constantFrom('M', 'N'), args: subs(0, 2) }), {
          minLength: 1,
          maxLength: 2,
        }),
        op: ident,
        args: subs(0, 2),
      })
      .map(({ path, op, args }): Expr => ({ kind: 'moduleRef', path, op, args, loc: L })),
    subs(2, 4).map((args): Expr => ({ kind: 'and', args, loc: L })),
    subs(2, 4).map((args): Expr => ({ kind: 'or', args, loc: L })),
    fc
      .record({
        quantifier: fc.constantFrom('forall' as const, 'exists' as const),
        bounded: fc.boolean(),
        bounds: fc.array(bound(sub, true), { minLength: 1, maxLength: 3 }),
        names: fc.uniqueArray(binder, { minLength: 1, maxLength: 3 }),
        body: sub,
      })
      .map(({ quantifier, bounded, bounds, names, body }): Expr => ({
        kind: 'quant',
        quantifier,
        bounds: bounded ? bounds : names.map((nm) => ({ names: [nm], tuple: false, set: null, loc: L })),
        body,
        loc: L,
      })),
    fc
      .record({
        quantifier: fc.constantFrom('forall' as const, 'exists' as const),
        names: fc.uniqueArray(binder, { minLength: 1, maxLength: 2 }),
        body: sub,
      })
      .map(({ quantifier, names, body }): Expr => ({
        kind: 'temporalQuant',
        quantifier,
        names,
        body,
        loc: L,
      })),
    fc
      .record({ bound: bound(sub, false), body: sub })
      .map(({ bound: b, body }): Expr => ({ kind: 'choose', bound: b, body, loc: L })),
    subs(0, 3).map((elems): Expr => ({ kind: 'setEnum', elems, loc: L })),
    fc
      .record({ bound: bound(sub, true), pred: sub })
      .map(({ bound: b, pred }): Expr => ({ kind: 'setFilter', bound: b, pred, loc: L })),
    fc
      .record({ body: sub, bounds: fc.array(bound(sub, true), { minLength: 1, maxLength: 2 }) })
      .map(({ body, bounds }): Expr => ({ kind: 'setMap', body, bounds, loc: L })),
    fc
      .record({ bounds: fc.array(bound(sub, true), { minLength: 1, maxLength: 2 }), body: sub })
      .map(({ bounds, body }): Expr => ({ kind: 'fcn', bounds, body, loc: L })),
    fc
      .record({ fn: sub, args: subs(1, 2) })
      .map(({ fn, args }): Expr => ({ kind: 'fcnApply', fn, args, loc: L })),
    fc
      .record({ domain: sub, range: sub })
      .map(({ domain, range }): Expr => ({ kind: 'fcnSet', domain, range, loc: L })),
    fc
      .uniqueArray(fc.record({ name: field, value: sub }), {
        minLength: 1,
        maxLength: 3,
        selector: (f) => f.name,
      })
      .map((fields): Expr => ({ kind: 'record', fields, loc: L })),
    fc
      .uniqueArray(fc.record({ name: field, set: sub }), {
        minLength: 1,
        maxLength: 3,
        selector: (f) => f.name,
      })
      .map((fields): Expr => ({ kind: 'recordSet', fields, loc: L })),
    fc
      .record({ record: sub, field })
      .map(({ record, field: f }): Expr => ({ kind: 'dot', record, field: f, loc: L })),
    subs(0, 3).map((elems): Expr => ({ kind: 'tuple', elems, loc: L })),
    fc
      .record({
        fn: sub,
        updates: fc.array(
          fc.record({ path: fc.array(pathStep, { minLength: 1, maxLength: 3 }), value: exceptValue }),
          { minLength: 1, maxLength: 2 },
        ),
      })
      .map(({ fn, updates }): Expr => ({ kind: 'except', fn, updates, loc: L })),
    fc.record({ cond: sub, then: sub, else: sub }).map((r): Expr => ({ kind: 'if', ...r, loc: L })),
    fc
      .record({
        arms: fc.array(fc.record({ cond: sub, body: sub }), { minLength: 1, maxLength: 3 }),
        other: fc.option(sub, { nil: null }),
      })
      .map(({ arms, other }): Expr => ({ kind: 'case', arms, other, loc: L })),
    fc
      .record({
        defs: fc.uniqueArray(letDef, {
          minLength: 1,
          maxLength: 2,
          selector: (d) => (d.kind === 'instance' ? '' : d.name),
        }),
        body: sub,
      })
      .map(({ defs, body }): Expr => ({ kind: 'let', defs, body, loc: L })),
    sub.map((e): Expr => ({ kind: 'prime', expr: e, loc: L })),
    sub.map((e): Expr => ({ kind: 'unchanged', expr: e, loc: L })),
    sub.map((e): Expr => ({ kind: 'enabled', expr: e, loc: L })),
    fc
      .record({ action: sub, vars: sub })
      .map(({ action, vars }): Expr => ({ kind: 'boxAction', action, vars, loc: L })),
    fc
      .record({ action: sub, vars: sub })
      .map(({ action, vars }): Expr => ({ kind: 'angleAction', action, vars, loc: L })),
    fc
      .record({ strong: fc.boolean(), vars: sub, action: sub })
      .map((r): Expr => ({ kind: 'fairness', ...r, loc: L })),
    sub.map((e): Expr => ({ kind: 'always', expr: e, loc: L })),
    sub.map((e): Expr => ({ kind: 'eventually', expr: e, loc: L })),
    fc.record({ lhs: sub, rhs: sub }).map(({ lhs, rhs }): Expr => ({ kind: 'leadsTo', lhs, rhs, loc: L })),
  );
}

describe('printing and parsing back', () => {
  it('gives the same AST for any expression (modulo locations)', async () => {
    await fc.assert(
      fc.asyncProperty(expr(3), async (e) => {
        const text = printExpr(e);
        expect(await exprOf(text), text).toEqual(stripLocs(e));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same AST for definitions of every form', async () => {
    const m = await parseBody(
      [
        'RECURSIVE F(_, _)',
        'F(a, G(_)) == G(a)',
        'H(a, _ ** _, -. _) == a ** a',
        'x (+) y == x',
        'f[i \\in S, <<j, k>> \\in T] == i',
        'LOCAL I(p) == INSTANCE M WITH a <- p',
        'INSTANCE N',
      ].join('\n'),
    );
    const again = await parseBody(m.definitions.map(printDefinition).join('\n'));
    expect(stripLocs(again.definitions)).toEqual(stripLocs(m.definitions));
  });
});

describe('number literals', () => {
  it('read the same value in every base', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 2 ** 31 - 1 }),
        fc.constantFrom(['\\b', 2], ['\\o', 8], ['\\h', 16], ['\\B', 2], ['\\O', 8], ['\\H', 16]),
        async (v, [prefix, base]) => {
          const digits = v.toString(base as number);
          expect(await exprOf(`${prefix}${digits}`)).toEqual({ kind: 'num', value: v });
          expect(await exprOf(String(v))).toEqual({ kind: 'num', value: v });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('PlusCal neutralisation', () => {
  it('keeps length and lines, and leaves strings alone', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('-', 'a', 'l', 'g', 'o', 'r', 'i', 't', 'h', 'm', '"', '\n', ' ', 'f'),
        }),
        (s) => {
          const out = neutralizePlusCal(s);
          expect(out.length).toBe(s.length);
          expect(out.split('\n').length).toBe(s.split('\n').length);
        },
      ),
    );
    expect(neutralizePlusCal('(* --algorithm A *) X == "--algorithm"')).toBe(
      '(*   algorithm A *) X == "--algorithm"',
    );
    expect(neutralizePlusCal('(* --fair algorithm A *)')).toBe('(*   fair algorithm A *)');
  });
});

describe('operator tables', () => {
  it('give every infix symbol a precedence', () => {
    for (const sym of [...Object.keys(INFIX_OPS), ...Object.keys(UNSUPPORTED_INFIX)]) {
      expect(INFIX_PREC_LOW[sym], sym).toBeGreaterThan(0);
    }
  });
});

// ASCII token -> a Unicode spelling the grammar accepts for it.
const UNICODE: Record<string, string> = {
  '\\A': '∀',
  '\\E': '∃',
  '\\in': '∈',
  '\\notin': '∉',
  '|->': '↦',
  '->': '→',
  '<<': '⟨',
  '>>': '⟩',
  '/\\': '∧',
  '\\/': '∨',
  '~>': '⇝',
  '~': '¬',
  '[]': '□',
  '<>': '◇',
  '=>': '⇒',
  '<=>': '⇔',
  '==': '≜',
  '\\leq': '≤',
  '\\geq': '≥',
  '#': '≠',
  '\\cup': '∪',
  '\\cap': '∩',
  '\\subseteq': '⊆',
  '\\subset': '⊂',
  '\\supseteq': '⊇',
  '\\supset': '⊃',
  '\\X': '×',
  '\\o': '∘',
  '..': '‥',
  '...': '…',
  '\\oplus': '⊕',
  '\\ominus': '⊖',
  '\\odot': '⊙',
  '\\oslash': '⊘',
  '\\otimes': '⊗',
  '\\sqsubseteq': '⊑',
  '\\sqsupseteq': '⊒',
  '\\sqsubset': '⊏',
  '\\sqsupset': '⊐',
  '\\sqcap': '⊓',
  '\\sqcup': '⊔',
  '\\uplus': '⊎',
  '\\div': '÷',
  '\\approx': '≈',
  '\\asymp': '≍',
  '\\cong': '≅',
  '\\doteq': '≐',
  '\\gg': '≫',
  '\\ll': '≪',
  '\\prec': '≺',
  '\\succ': '≻',
  '\\preceq': '⪯',
  '\\succeq': '⪰',
  '\\propto': '∝',
  '\\sim': '∼',
  '\\simeq': '≃',
  '\\star': '⋆',
  '\\bullet': '●',
  '\\bigcirc': '◯',
  '\\wr': '≀',
  '||': '‖',
  ':=': '≔',
  '::=': '⩴',
  '??': '⁇',
  '!!': '‼',
  '|-': '⊢',
  '|=': '⊨',
  '-|': '⊣',
  '=|': '⫤',
  '^+': '⁺',
  // Tokens that contain a shorter one above but have no Unicode spelling of their own.
  '^#': '^#',
  '^*': '^*',
  '##': '##',
  '<:': '<:',
  ':>': ':>',
  '@@': '@@',
};
const UNICODE_TOKENS = Object.keys(UNICODE).sort((a, b) => b.length - a.length);

/** The ASCII text with every operator token in a Unicode spelling (string literals untouched). */
function toUnicode(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const word = /^\\[A-Za-z]+/.exec(text.slice(i));
    const token = word
      ? UNICODE[word[0]] !== undefined
        ? word[0]
        : null
      : UNICODE_TOKENS.find((t) => !t.startsWith('\\') && text.startsWith(t, i));
    if (token) {
      out += UNICODE[token];
      i += token.length;
    } else if (word) {
      out += word[0];
      i += word[0].length;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

describe('Unicode spellings', () => {
  it('give the same AST as ASCII for any expression', async () => {
    await fc.assert(
      fc.asyncProperty(expr(3), async (e) => {
        const ascii = printExpr(e);
        const unicode = toUnicode(ascii);
        expect(await exprOf(unicode), `${ascii}\n${unicode}`).toEqual(await exprOf(ascii));
      }),
      { numRuns: 200 },
    );
  });
});
