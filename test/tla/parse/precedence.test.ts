// Operator expressions printed with as few parentheses as TLA+'s precedence rules allow (SANY's
// ranges, tla/parse/operators.ts) must parse back to the same tree: this checks the grammar's
// reading, and the converter's corrections of it, against the precedence table.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Expr } from '../../../tla/ast.ts';
import {
  ASSOCIATIVE_INFIX,
  INFIX_OPS,
  INFIX_PREC_HIGH,
  INFIX_PREC_LOW,
  PREFIX_OPS,
  PREFIX_PREC,
} from '../../../tla/parse/operators.ts';
import { exprOf, stripLocs } from './helpers.ts';

/** A generated operator expression, with the grammar node types of its operators. */
type Gen =
  | { t: 'atom'; text: string; ast: Expr }
  | { t: 'infix'; sym: string; l: Gen; r: Gen }
  | { t: 'prefix'; sym: string; e: Gen }
  | { t: 'postfix'; sym: 'prime' | 'sup_plus' | 'asterisk' | 'sup_hash'; e: Gen }
  | { t: 'index'; e: Gen; arg: Gen }
  | { t: 'dot'; e: Gen; field: string };

const POSTFIX_TEXT = { prime: "'", sup_plus: '^+', asterisk: '^*', sup_hash: '^#' } as const;
// Junctions and \X print and parse n-ary; they are left out of the generated infix operators.
const infixSyms = Object.keys(INFIX_OPS).filter((s) => !['land', 'lor', 'leads_to', 'times'].includes(s));
const prefixSyms = Object.keys(PREFIX_PREC);
const L = undefined as never;

function atom(): fc.Arbitrary<Gen> {
  return fc.oneof(
    fc
      .constantFrom('a', 'b', 'x', 'S')
      .map((name): Gen => ({ t: 'atom', text: name, ast: { kind: 'name', name, loc: L } })),
    fc
      .nat({ max: 99 })
      .map((value): Gen => ({ t: 'atom', text: String(value), ast: { kind: 'num', value, loc: L } })),
  );
}

function gen(depth: number): fc.Arbitrary<Gen> {
  if (depth === 0) return atom();
  const sub = gen(depth - 1);
  return fc.oneof(
    { weight: 2, arbitrary: atom() },
    {
      weight: 4,
      arbitrary: fc
        .record({ sym: fc.constantFrom(...infixSyms), l: sub, r: sub })
        .map((g): Gen => ({ t: 'infix', ...g })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ sym: fc.constantFrom(...prefixSyms), e: sub })
        .map((g): Gen => ({ t: 'prefix', ...g })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({
          sym: fc.constantFrom(
            'prime' as const,
            'sup_plus' as const,
            'asterisk' as const,
            'sup_hash' as const,
          ),
          e: sub,
        })
        .map((g): Gen => ({ t: 'postfix', ...g })),
    },
    { weight: 1, arbitrary: fc.record({ e: sub, arg: atom() }).map((g): Gen => ({ t: 'index', ...g })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ e: sub, field: fc.constantFrom('f', 'g') })
        .map((g): Gen => ({ t: 'dot', ...g })),
    },
  );
}

/** The precedence range of the operator at the top of `g` (atoms bind tightest). */
function range(g: Gen): [number, number] {
  switch (g.t) {
    case 'atom':
      return [99, 99];
    case 'infix':
      return [INFIX_PREC_LOW[g.sym]!, INFIX_PREC_HIGH[g.sym]!];
    case 'prefix':
      return [...PREFIX_PREC[g.sym]!];
    case 'postfix':
      return [15, 15];
    case 'index':
      return [16, 16];
    case 'dot':
      return [17, 17];
  }
}

const paren = (s: string): string => `(${s})`;

/** TLA+ text for `g`, parenthesising a subexpression only where TLA+'s rules require it. */
function print(g: Gen): string {
  switch (g.t) {
    case 'atom':
      return g.text;
    case 'infix': {
      const hi = range(g)[1];
      const op = INFIX_OPS[g.sym]!;
      const left = (() => {
        const s = print(g.l);
        if (g.l.t === 'atom' || g.l.t === 'postfix' || g.l.t === 'index' || g.l.t === 'dot') return s;
        if (g.l.t === 'infix') {
          const [clo] = range(g.l);
          if (clo > hi || (g.l.sym === g.sym && ASSOCIATIVE_INFIX.has(g.sym))) return s;
          return paren(s);
        }
        // A prefix operator on the left stops before this operator only if this one binds looser.
        return hi < range(g.l)[0] ? s : paren(s);
      })();
      const right = (() => {
        const s = print(g.r);
        if (g.r.t === 'atom' || g.r.t === 'postfix' || g.r.t === 'index' || g.r.t === 'dot') return s;
        if (g.r.t === 'infix' && range(g.r)[0] > hi) return s;
        return paren(s);
      })();
      return `${left} ${op} ${right}`;
    }
    case 'prefix': {
      const [, hi] = range(g);
      const s = print(g.e);
      const bare =
        g.e.t === 'atom' ||
        g.e.t === 'index' ||
        g.e.t === 'dot' ||
        (g.e.t === 'postfix' && 15 > hi) ||
        (g.e.t === 'infix' && range(g.e)[0] > hi);
      const op = g.sym === 'negative' ? '-' : (PREFIX_OPS[g.sym] ?? g.sym);
      return `${op} ${bare ? s : paren(s)}`;
    }
    case 'postfix': {
      const s = print(g.e);
      const bare = g.e.t === 'atom' || g.e.t === 'index' || g.e.t === 'dot';
      return `${bare ? s : paren(s)}${POSTFIX_TEXT[g.sym]}`;
    }
    case 'index': {
      const s = print(g.e);
      return `${g.e.t === 'atom' || g.e.t === 'index' || g.e.t === 'dot' ? s : paren(s)}[${print(g.arg)}]`;
    }
    case 'dot': {
      const s = print(g.e);
      return `${g.e.t === 'atom' || g.e.t === 'index' || g.e.t === 'dot' ? s : paren(s)}.${g.field}`;
    }
  }
}

/** The AST `g` stands for. */
function ast(g: Gen): Expr {
  switch (g.t) {
    case 'atom':
      return g.ast;
    case 'infix':
      return { kind: 'apply', op: INFIX_OPS[g.sym]!, args: [ast(g.l), ast(g.r)], loc: L };
    case 'prefix': {
      const e = ast(g.e);
      if (g.sym === 'enabled') return { kind: 'enabled', expr: e, loc: L };
      if (g.sym === 'unchanged') return { kind: 'unchanged', expr: e, loc: L };
      if (g.sym === 'always') return { kind: 'always', expr: e, loc: L };
      if (g.sym === 'eventually') return { kind: 'eventually', expr: e, loc: L };
      return { kind: 'apply', op: PREFIX_OPS[g.sym]!, args: [e], loc: L };
    }
    case 'postfix':
      return g.sym === 'prime'
        ? { kind: 'prime', expr: ast(g.e), loc: L }
        : { kind: 'apply', op: POSTFIX_TEXT[g.sym], args: [ast(g.e)], loc: L };
    case 'index':
      return { kind: 'fcnApply', fn: ast(g.e), args: [ast(g.arg)], loc: L };
    case 'dot':
      return { kind: 'dot', record: ast(g.e), field: g.field, loc: L };
  }
}

describe('precedence', () => {
  it('reads minimally parenthesised operator expressions as TLA+ does', async () => {
    await fc.assert(
      fc.asyncProperty(gen(4), async (g) => {
        const text = print(g);
        expect(await exprOf(text), text).toEqual(stripLocs(ast(g)));
      }),
      { numRuns: 400 },
    );
  });
});
