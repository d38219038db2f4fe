import { describe, expect, it } from 'vitest';
import type { Expr } from '../../../tla/ast.ts';
import { parseExpressionText } from '../../../tla/parse/index.ts';
import { ap, defNamed, exprOf, exprWithLocs, n, num, parseBody, stripLocs } from './helpers.ts';

describe('literals and names', () => {
  it('reads numbers in decimal, \\b, \\o and \\h forms', async () => {
    expect(await exprOf('<<42, \\b101, \\B11, \\o17, \\O7, \\h1F, \\Hff>>')).toEqual({
      kind: 'tuple',
      elems: [num(42), num(5), num(3), num(15), num(7), num(31), num(255)],
    });
  });

  it('decodes string escapes', async () => {
    expect(await exprOf('"a\\"b\\\\c\\nd\\te"')).toEqual({ kind: 'str', value: 'a"b\\c\nd\te' });
  });

  it('keeps Nat and Int as names and BOOLEAN/STRING as built-in sets', async () => {
    expect(await exprOf('<<Nat, Int, BOOLEAN, STRING, TRUE, FALSE>>')).toEqual({
      kind: 'tuple',
      elems: [
        n('Nat'),
        n('Int'),
        { kind: 'builtinSet', name: 'BOOLEAN' },
        { kind: 'builtinSet', name: 'STRING' },
        { kind: 'bool', value: true },
        { kind: 'bool', value: false },
      ],
    });
  });
});

describe('operators', () => {
  it('gives binary operators two args in source order, with precedence', async () => {
    // `-` (11-11) binds tighter than `+` (10-10); both associate to the left.
    expect(await exprOf('a + b * c - d')).toEqual(ap('+', n('a'), ap('-', ap('*', n('b'), n('c')), n('d'))));
    expect(await exprOf('a - b - c')).toEqual(ap('-', ap('-', n('a'), n('b')), n('c')));
    expect(await exprOf('a .. b + 1')).toEqual(ap('..', n('a'), ap('+', n('b'), num(1))));
    expect(await exprOf('a \\in S \\cup T')).toEqual(ap('\\in', n('a'), ap('\\cup', n('S'), n('T'))));
    expect(await exprOf('x = 1 => y # 2')).toEqual(
      ap('=>', ap('=', n('x'), num(1)), ap('#', n('y'), num(2))),
    );
  });

  it('maps ASCII alternatives to canonical names', async () => {
    const pairs: [string, string][] = [
      ['a <= b', '\\leq'],
      ['a =< b', '\\leq'],
      ['a \\leq b', '\\leq'],
      ['a >= b', '\\geq'],
      ['a /= b', '#'],
      ['a # b', '#'],
      ['a \\union b', '\\cup'],
      ['a \\intersect b', '\\cap'],
      ['a \\subseteq b', '\\subseteq'],
      ['a \\equiv b', '<=>'],
      ['a <=> b', '<=>'],
      ['a \\circ b', '\\o'],
      ['a \\o b', '\\o'],
      ['a \\div b', '\\div'],
      ['a % b', '%'],
      ['a ^ b', '^'],
      ['a .. b', '..'],
      ['a :> b', ':>'],
      ['a @@ b', '@@'],
      ['a \\sqsubseteq b', '\\sqsubseteq'],
      ['a (+) b', '\\oplus'],
      ['a ++ b', '++'],
      ['a \\ b', '\\'],
      ['a \\notin b', '\\notin'],
    ];
    for (const [src, op] of pairs) expect(await exprOf(src), src).toEqual(ap(op, n('a'), n('b')));
  });

  it('maps prefix and postfix operators', async () => {
    expect(await exprOf('~a')).toEqual(ap('~', n('a')));
    expect(await exprOf('\\lnot a')).toEqual(ap('~', n('a')));
    expect(await exprOf('\\neg a')).toEqual(ap('~', n('a')));
    expect(await exprOf('-a')).toEqual(ap('-.', n('a')));
    expect(await exprOf('SUBSET S')).toEqual(ap('SUBSET', n('S')));
    expect(await exprOf('UNION S')).toEqual(ap('UNION', n('S')));
    expect(await exprOf('DOMAIN f')).toEqual(ap('DOMAIN', n('f')));
    expect(await exprOf('a^+')).toEqual(ap('^+', n('a')));
    expect(await exprOf("x'")).toEqual({ kind: 'prime', expr: n('x') });
    expect(await exprOf('a - -b')).toEqual(ap('-', n('a'), ap('-.', n('b'))));
  });

  it('flattens an unparenthesised \\X chain into one apply, but not a parenthesised one', async () => {
    expect(await exprOf('A \\X B \\X C')).toEqual(ap('\\X', n('A'), n('B'), n('C')));
    expect(await exprOf('A \\times B')).toEqual(ap('\\X', n('A'), n('B')));
    expect(await exprOf('(A \\X B) \\X C')).toEqual(ap('\\X', ap('\\X', n('A'), n('B')), n('C')));
  });

  it('reads operator application, higher-order arguments and LAMBDA', async () => {
    expect(await exprOf('F(x, G, LAMBDA a, b : a + b)')).toEqual(
      ap('F', n('x'), n('G'), {
        kind: 'lambda',
        params: ['a', 'b'],
        body: ap('+', n('a'), n('b')),
      } as unknown as Expr),
    );
    expect(await exprOf('F(+, \\cup)')).toEqual(ap('F', n('+'), n('\\cup')));
    expect(await exprOf('+(1, 2)')).toEqual(ap('+', num(1), num(2)));
  });
});

describe('junctions', () => {
  it('flattens infix /\\ and \\/ chains left to right', async () => {
    expect(await exprOf('a /\\ b /\\ c')).toEqual({ kind: 'and', args: [n('a'), n('b'), n('c')] });
    expect(await exprOf('a \\/ (b /\\ c) \\/ d')).toEqual({
      kind: 'or',
      args: [n('a'), { kind: 'and', args: [n('b'), n('c')] }, n('d')],
    });
    expect(await exprOf('(a \\land b) \\lor c')).toEqual({
      kind: 'or',
      args: [{ kind: 'and', args: [n('a'), n('b')] }, n('c')],
    });
    expect(await exprOf('a /\\ (b /\\ c)')).toEqual({
      kind: 'and',
      args: [n('a'), { kind: 'and', args: [n('b'), n('c')] }],
    });
  });

  it('reads bulleted lists by indentation', async () => {
    const src = ['/\\ a', '     /\\ \\/ b', '        \\/ c', '     /\\ d'].join('\n');
    expect(await exprOf(src)).toEqual({
      kind: 'and',
      args: [n('a'), { kind: 'or', args: [n('b'), n('c')] }, n('d')],
    });
  });

  it('ends a list at a token left of its bullets', async () => {
    // The second \/ is left of the inner bullets: it belongs to the outer disjunction.
    const src = ['\\/ /\\ a', '        /\\ b', '     \\/ c'].join('\n');
    expect(await exprOf(src)).toEqual({
      kind: 'or',
      args: [{ kind: 'and', args: [n('a'), n('b')] }, n('c')],
    });
  });

  it('reads a one-item list as its item', async () => {
    expect(await exprOf('/\\ a = 1')).toEqual(ap('=', n('a'), num(1)));
  });
});

describe('quantifiers and binders', () => {
  it('emits one bound per name, sharing the set, and keeps tuple bounds whole', async () => {
    const e = await exprOf('\\A a, b \\in S, <<c, d>> \\in T : TRUE');
    expect(e).toEqual({
      kind: 'quant',
      quantifier: 'forall',
      bounds: [
        { names: ['a'], tuple: false, set: n('S') },
        { names: ['b'], tuple: false, set: n('S') },
        { names: ['c', 'd'], tuple: true, set: n('T') },
      ],
      body: { kind: 'bool', value: true },
    });
  });

  it('reads unbounded and temporal quantifiers', async () => {
    expect(await exprOf('\\E x, y : P')).toEqual({
      kind: 'quant',
      quantifier: 'exists',
      bounds: [
        { names: ['x'], tuple: false, set: null },
        { names: ['y'], tuple: false, set: null },
      ],
      body: n('P'),
    });
    expect(await exprOf('\\EE x : P')).toEqual({
      kind: 'temporalQuant',
      quantifier: 'exists',
      names: ['x'],
      body: n('P'),
    });
    expect(await exprOf('\\AA x, y : P')).toEqual({
      kind: 'temporalQuant',
      quantifier: 'forall',
      names: ['x', 'y'],
      body: n('P'),
    });
  });

  it('reads CHOOSE with and without a set, and with a tuple', async () => {
    expect(await exprOf('CHOOSE x \\in S : x > 1')).toEqual({
      kind: 'choose',
      bound: { names: ['x'], tuple: false, set: n('S') },
      body: ap('>', n('x'), num(1)),
    });
    expect(await exprOf('CHOOSE x : P')).toEqual({
      kind: 'choose',
      bound: { names: ['x'], tuple: false, set: null },
      body: n('P'),
    });
    expect(await exprOf('CHOOSE <<x, y>> \\in S : P')).toEqual({
      kind: 'choose',
      bound: { names: ['x', 'y'], tuple: true, set: n('S') },
      body: n('P'),
    });
  });

  it('reads set enumeration, filter and map', async () => {
    expect(await exprOf('{1, 2}')).toEqual({ kind: 'setEnum', elems: [num(1), num(2)] });
    expect(await exprOf('{}')).toEqual({ kind: 'setEnum', elems: [] });
    expect(await exprOf('{<<x, y>> \\in S : x < y}')).toEqual({
      kind: 'setFilter',
      bound: { names: ['x', 'y'], tuple: true, set: n('S') },
      pred: ap('<', n('x'), n('y')),
    });
    expect(await exprOf('{x + y : x \\in S, y \\in T}')).toEqual({
      kind: 'setMap',
      body: ap('+', n('x'), n('y')),
      bounds: [
        { names: ['x'], tuple: false, set: n('S') },
        { names: ['y'], tuple: false, set: n('T') },
      ],
    });
  });
});

describe('functions, records, tuples', () => {
  it('reads function constructors, application and sets', async () => {
    expect(await exprOf('[i \\in S, j \\in T |-> i]')).toEqual({
      kind: 'fcn',
      bounds: [
        { names: ['i'], tuple: false, set: n('S') },
        { names: ['j'], tuple: false, set: n('T') },
      ],
      body: n('i'),
    });
    expect(await exprOf('f[1, 2][3]')).toEqual({
      kind: 'fcnApply',
      fn: { kind: 'fcnApply', fn: n('f'), args: [num(1), num(2)] },
      args: [num(3)],
    });
    expect(await exprOf('[S -> T]')).toEqual({ kind: 'fcnSet', domain: n('S'), range: n('T') });
  });

  it('reads records, record sets and field access', async () => {
    expect(await exprOf('[a |-> 1, b |-> 2]')).toEqual({
      kind: 'record',
      fields: [
        { name: 'a', value: num(1) },
        { name: 'b', value: num(2) },
      ],
    });
    expect(await exprOf('[a : S, b : T]')).toEqual({
      kind: 'recordSet',
      fields: [
        { name: 'a', set: n('S') },
        { name: 'b', set: n('T') },
      ],
    });
    expect(await exprOf('r.f.g')).toEqual({
      kind: 'dot',
      record: { kind: 'dot', record: n('r'), field: 'f' },
      field: 'g',
    });
  });

  it('reads tuples, empty tuples included', async () => {
    expect(await exprOf('<<1, x>>')).toEqual({ kind: 'tuple', elems: [num(1), n('x')] });
    expect(await exprOf('<< >>')).toEqual({ kind: 'tuple', elems: [] });
  });

  it('reads EXCEPT paths: ![a], ![a, b], !.f, nested, and @', async () => {
    expect(await exprOf('[f EXCEPT ![1] = @ + 1, ![2, 3] = 0, !.a = 1, !.b[4].c = @]')).toEqual({
      kind: 'except',
      fn: n('f'),
      updates: [
        {
          path: [{ kind: 'index', args: [num(1)] }],
          value: ap('+', { kind: 'at' } as unknown as Expr, num(1)),
        },
        { path: [{ kind: 'index', args: [num(2), num(3)] }], value: num(0) },
        { path: [{ kind: 'field', name: 'a' }], value: num(1) },
        {
          path: [
            { kind: 'field', name: 'b' },
            { kind: 'index', args: [num(4)] },
            { kind: 'field', name: 'c' },
          ],
          value: { kind: 'at' },
        },
      ],
    });
  });
});

describe('control forms', () => {
  it('reads IF and CASE with OTHER', async () => {
    expect(await exprOf('IF a THEN 1 ELSE 2')).toEqual({
      kind: 'if',
      cond: n('a'),
      then: num(1),
      else: num(2),
    });
    expect(await exprOf('CASE a -> 1 [] b -> 2 [] OTHER -> 3')).toEqual({
      kind: 'case',
      arms: [
        { cond: n('a'), body: num(1) },
        { cond: n('b'), body: num(2) },
      ],
      other: num(3),
    });
    expect(await exprOf('CASE a -> 1')).toEqual({
      kind: 'case',
      arms: [{ cond: n('a'), body: num(1) }],
      other: null,
    });
  });

  it('reads LET with several definitions, function definitions and RECURSIVE', async () => {
    const e = await exprOf(
      [
        'LET RECURSIVE g(_)',
        '      g(k) == IF k = 0 THEN 0 ELSE g(k - 1)',
        '      h[i \\in S] == i',
        '      c == 1',
        '  IN g(c) + h[c]',
      ].join('\n'),
    );
    expect(e.kind).toBe('let');
    if (e.kind !== 'let') return;
    expect(
      e.defs.map((d) => [
        d.kind,
        d.kind === 'instance' ? d.module : d.name,
        d.kind === 'opDef' ? d.recursive : null,
      ]),
    ).toEqual([
      ['opDef', 'g', true],
      ['fcnDef', 'h', null],
      ['opDef', 'c', false],
    ]);
    expect(e.body).toEqual(
      ap('+', ap('g', n('c')), { kind: 'fcnApply', fn: n('h'), args: [n('c')] } as unknown as Expr),
    );
  });

  it('keeps the expression of a label', async () => {
    expect(await exprOf('lab:: x + 1')).toEqual(ap('+', n('x'), num(1)));
  });
});

describe('actions and temporal operators', () => {
  it('reads UNCHANGED, ENABLED, [A]_v, <<A>>_v, WF, SF, [], <>, ~>', async () => {
    expect(await exprOf('UNCHANGED <<x, y>>')).toEqual({
      kind: 'unchanged',
      expr: { kind: 'tuple', elems: [n('x'), n('y')] },
    });
    expect(await exprOf('ENABLED A')).toEqual({ kind: 'enabled', expr: n('A') });
    expect(await exprOf('[][Next]_vars')).toEqual({
      kind: 'always',
      expr: { kind: 'boxAction', action: n('Next'), vars: n('vars') },
    });
    expect(await exprOf('<><<A>>_<<x>>')).toEqual({
      kind: 'eventually',
      expr: { kind: 'angleAction', action: n('A'), vars: { kind: 'tuple', elems: [n('x')] } },
    });
    expect(await exprOf('WF_vars(A) /\\ SF_<<x>>(B)')).toEqual({
      kind: 'and',
      args: [
        { kind: 'fairness', strong: false, vars: n('vars'), action: n('A') },
        { kind: 'fairness', strong: true, vars: { kind: 'tuple', elems: [n('x')] }, action: n('B') },
      ],
    });
    expect(await exprOf('P ~> Q')).toEqual({ kind: 'leadsTo', lhs: n('P'), rhs: n('Q') });
  });
});

describe('module references', () => {
  it('reads M!Op, M(a)!Op(b), A!B!Op and M!+(a, b)', async () => {
    expect(await exprOf('M!Op')).toEqual({
      kind: 'moduleRef',
      path: [{ name: 'M', args: [] }],
      op: 'Op',
      args: [],
    });
    expect(await exprOf('M(1)!Op(2)')).toEqual({
      kind: 'moduleRef',
      path: [{ name: 'M', args: [num(1)] }],
      op: 'Op',
      args: [num(2)],
    });
    expect(await exprOf('A!B!Op')).toEqual({
      kind: 'moduleRef',
      path: [
        { name: 'A', args: [] },
        { name: 'B', args: [] },
      ],
      op: 'Op',
      args: [],
    });
    expect(await exprOf('M!+(1, 2)')).toEqual({
      kind: 'moduleRef',
      path: [{ name: 'M', args: [] }],
      op: '+',
      args: [num(1), num(2)],
    });
  });
});

describe('module units', () => {
  it('reads declarations, definitions of every form, ASSUME, named assumptions and theorems as definitions, and drops proofs', async () => {
    const m = await parseBody(
      [
        'EXTENDS Naturals, Sequences',
        'CONSTANTS N, F(_), _ ** _',
        'CONSTANT K',
        'VARIABLES x, y',
        'VARIABLE z',
        'RECURSIVE R(_)',
        'R(k) == IF k = 0 THEN 0 ELSE R(k - 1)',
        'G(H(_, _), a) == H(a, a)',
        'a (+) b == a',
        'a ++ b == b',
        '-. a == a',
        'a ^+ == a',
        'f[i \\in Nat] == IF i = 0 THEN 1 ELSE i * f[i - 1]',
        'LOCAL L == 1',
        'I(p) == INSTANCE M WITH a <- p, b <- x',
        'LOCAL INSTANCE Q',
        'ASSUME N > 0',
        'ASSUMPTION Named == K \\in Nat',
        'THEOREM Thm == N > 0',
        '<1>1. TRUE OBVIOUS',
        '<1> QED BY <1>1',
        'LEMMA TRUE',
        '---- MODULE Inner ----',
        'Op == 1',
        '====',
        'After == 2',
      ].join('\n'),
    );
    expect(m.name).toBe('T');
    expect(m.extends).toEqual(['Naturals', 'Sequences']);
    expect(stripLocs(m.constants)).toEqual([
      { name: 'N', arity: 0 },
      { name: 'F', arity: 1 },
      { name: '**', arity: 2 },
      { name: 'K', arity: 0 },
    ]);
    expect(m.variables.map((v) => v.name)).toEqual(['x', 'y', 'z']);
    const summary = m.definitions.map((d) =>
      d.kind === 'instance'
        ? `instance ${d.name ?? '-'}(${d.params.map((p) => p.name).join(',')}) ${d.module} local=${d.local} subs=${d.substitutions.map((s) => s.name).join(',')}`
        : d.kind === 'opDef'
          ? `op ${d.name}(${d.params.map((p) => `${p.name}/${p.arity}`).join(',')}) local=${d.local} rec=${d.recursive}`
          : `fcn ${d.name}[${d.bounds.map((b) => b.names.join(',')).join(';')}] local=${d.local}`,
    );
    expect(summary).toEqual([
      'op R(k/0) local=false rec=true',
      'op G(H/2,a/0) local=false rec=false',
      'op \\oplus(a/0,b/0) local=false rec=false',
      'op ++(a/0,b/0) local=false rec=false',
      'op -.(a/0) local=false rec=false',
      'op ^+(a/0) local=false rec=false',
      'fcn f[i] local=false',
      'op L() local=true rec=false',
      'instance I(p) M local=false subs=a,b',
      'instance -() Q local=true subs=',
      'op Named() local=false rec=false',
      'op Thm() local=false rec=false',
      'op After() local=false rec=false',
    ]);
    const thm = m.definitions.find((d) => d.kind === 'opDef' && d.name === 'Thm');
    expect(thm && thm.kind === 'opDef' ? stripLocs(thm.body) : null).toEqual(ap('>', n('N'), num(0)));
    const named = m.definitions.find((d) => d.kind === 'opDef' && d.name === 'Named');
    expect(named && named.kind === 'opDef' ? stripLocs(named.body) : null).toEqual(ap('\\in', n('K'), n('Nat')));
    expect(stripLocs(m.assumptions.map((a) => a.expr))).toEqual([
      ap('>', n('N'), num(0)),
      ap('\\in', n('K'), n('Nat')),
    ]);
    expect(m.submodules.map((s) => [s.name, s.definitions.length])).toEqual([['Inner', 1]]);
    expect(m.standard).toBe(false);
  });

  it('reads a PlusCal module through its translation only', async () => {
    const m = await parseBody(
      [
        'VARIABLES pc',
        '(* --algorithm A',
        'variables x = 0;',
        'begin',
        '  L: x := x + 1;',
        'end algorithm; *)',
        '\\* BEGIN TRANSLATION',
        'Init == pc = "L"',
        '\\* END TRANSLATION',
      ].join('\n'),
    );
    expect(m.definitions.map((d) => (d.kind === 'instance' ? d.module : d.name))).toEqual(['Init']);
  });
});

describe('locations', () => {
  it('gives every node its 1-based line and column', async () => {
    const e = await exprWithLocs('x +\n  y');
    expect(e.loc).toEqual({ file: 'T.tla', line: 2, col: 6 });
    if (e.kind !== 'apply') throw new Error('expected apply');
    expect(e.args[0]!.loc).toEqual({ file: 'T.tla', line: 2, col: 6 });
    expect(e.args[1]!.loc).toEqual({ file: 'T.tla', line: 3, col: 3 });
  });

  it('counts columns in characters after Unicode symbols', async () => {
    const e = await exprWithLocs('∀ y ∈ S : y ≤ 1');
    if (e.kind !== 'quant') throw new Error('expected quant');
    expect(e.bounds[0]!.loc.col).toBe(8);
    expect(e.body.loc.col).toBe(16);
  });

  it('locates definitions, constants and variables', async () => {
    const m = await parseBody('CONSTANT C\nVARIABLE v\n  Op == 1');
    expect(m.constants[0]!.loc).toEqual({ file: 'T.tla', line: 2, col: 10 });
    expect(m.variables[0]!.loc).toEqual({ file: 'T.tla', line: 3, col: 10 });
    expect(defNamed(m, 'Op').loc).toEqual({ file: 'T.tla', line: 4, col: 3 });
  });
});

describe('Unicode notation', () => {
  it('gives the same AST as ASCII notation', async () => {
    const pairs: [string, string][] = [
      ['∀ x ∈ S : x ≤ 1 ∧ x ≥ 0', '\\A x \\in S : x <= 1 /\\ x >= 0'],
      ['∃ x ∈ S : x ≠ 1 ∨ ¬P', '\\E x \\in S : x /= 1 \\/ ~P'],
      ['A ∪ (B ∩ C) ⊆ D', 'A \\cup (B \\cap C) \\subseteq D'],
      ['x ∉ S ⇒ P ≡ Q', 'x \\notin S => P \\equiv Q'],
      ['[x ∈ S ↦ ⟨x, 1⟩]', '[x \\in S |-> <<x, 1>>]'],
      ['[S → T]', '[S -> T]'],
      ['A × B × C', 'A \\X B \\X C'],
      ['f ∘ g', 'f \\o g'],
      ['□P ∧ ◇Q', '[]P /\\ <>Q'],
      ['P ⇝ Q', 'P ~> Q'],
      ['ℕ', 'Nat'],
    ];
    for (const [u, a] of pairs) expect(await exprOf(u), u).toEqual(await exprOf(a));
    const defU = await parseBody('Op(a) ≜ a');
    const defA = await parseBody('Op(a) == a');
    expect(stripLocs(defU.definitions)).toEqual(stripLocs(defA.definitions));
  });
});

describe('prefix operators before a parenthesised, indexed operand', () => {
  it('apply the prefix operator to the whole indexed expression, as TLA+ does', async () => {
    const idx = (fn: Expr, ...args: Expr[]): Expr => ({ kind: 'fcnApply', fn, args }) as unknown as Expr;
    expect(await exprOf('~(a)[b]')).toEqual(ap('~', idx(n('a'), n('b'))));
    expect(await exprOf('SUBSET (a)[b][c]')).toEqual(ap('SUBSET', idx(idx(n('a'), n('b')), n('c'))));
    expect(await exprOf('DOMAIN (r).f')).toEqual(
      ap('DOMAIN', { kind: 'dot', record: n('r'), field: 'f' } as unknown as Expr),
    );
    expect(await exprOf('ENABLED (a)[b]')).toEqual({ kind: 'enabled', expr: idx(n('a'), n('b')) });
    expect(await exprOf('(~a)[b]')).toEqual(idx(ap('~', n('a')), n('b')));
    expect(await exprOf('-(a)[b]')).toEqual(ap('-.', idx(n('a'), n('b'))));
  });

  it('keep a parenthesised junction or product operand whole (found by the round-trip property)', async () => {
    const idx = (fn: Expr, ...args: Expr[]): Expr => ({ kind: 'fcnApply', fn, args }) as unknown as Expr;
    const or = { kind: 'or', args: [n('a'), n('b')] } as unknown as Expr;
    expect(await exprOf('ENABLED (a \\/ b)[c]')).toEqual({ kind: 'enabled', expr: idx(or, n('c')) });
    expect(await exprOf('~(a \\/ b)[c]')).toEqual(ap('~', idx(or, n('c'))));
    expect(await exprOf('SUBSET (a \\X b)[c]')).toEqual(ap('SUBSET', idx(ap('\\X', n('a'), n('b')), n('c'))));
  });
});

describe('parseExpressionText', () => {
  it('parses a lone expression with places relative to its own text', async () => {
    const e = await parseExpressionText('/\\ x = 1\n/\\ y \\in S', 'cli');
    expect(stripLocs(e)).toEqual({
      kind: 'and',
      args: [ap('=', n('x'), num(1)), ap('\\in', n('y'), n('S'))],
    });
    expect(e.loc).toEqual({ file: 'cli', line: 1, col: 1 });
    if (e.kind !== 'and') throw new Error('expected and');
    expect(e.args[1]!.loc).toEqual({ file: 'cli', line: 2, col: 4 });
  });

  it('places syntax errors in the expression text', async () => {
    await expect(parseExpressionText('x +\n  (1 ]', 'cli')).rejects.toMatchObject({
      kind: 'parse',
      loc: { file: 'cli', line: 2 },
    });
    await expect(parseExpressionText('  ', 'cli')).rejects.toMatchObject({ kind: 'parse' });
    await expect(parseExpressionText('1\n====\n2', 'cli')).rejects.toMatchObject({
      kind: 'parse',
      loc: { line: 2, col: 1 },
    });
  });
});

describe('reach of prefix operators (SANY precedence)', () => {
  it('lets SUBSET, UNION and DOMAIN (10-13) bind tighter than looser infix operators', async () => {
    expect(await exprOf('SUBSET 1..3')).toEqual(ap('..', ap('SUBSET', num(1)), num(3)));
    expect(await exprOf('SUBSET Key \\ {{}}')).toEqual(
      ap('\\', ap('SUBSET', n('Key')), {
        kind: 'setEnum',
        elems: [{ kind: 'setEnum', elems: [] }],
      } as unknown as Expr),
    );
    expect(await exprOf('UNION a \\cup UNION b')).toEqual(
      ap('\\cup', ap('UNION', n('a')), ap('UNION', n('b'))),
    );
    expect(await exprOf('SUBSET S = T')).toEqual(ap('=', ap('SUBSET', n('S')), n('T')));
    expect(await exprOf('SUBSET a ^ 2')).toEqual(ap('SUBSET', ap('^', n('a'), num(2))));
  });

  it('reads a prefix operator before parentheses as applying to what follows within its reach', async () => {
    expect(await exprOf('~(a) = b')).toEqual(ap('~', ap('=', n('a'), n('b'))));
    expect(await exprOf('~(a = b) = c')).toEqual(ap('~', ap('=', ap('=', n('a'), n('b')), n('c'))));
    expect(await exprOf('~(a) /\\ b')).toEqual({ kind: 'and', args: [ap('~', n('a')), n('b')] });
    expect(await exprOf("~(x)'")).toEqual(ap('~', { kind: 'prime', expr: n('x') } as unknown as Expr));
    expect(await exprOf('ENABLED (A) /\\ B')).toEqual({
      kind: 'and',
      args: [{ kind: 'enabled', expr: n('A') }, n('B')],
    });
    expect(await exprOf('SUBSET (a)[1] .. 2')).toEqual(
      ap('..', ap('SUBSET', { kind: 'fcnApply', fn: n('a'), args: [num(1)] } as unknown as Expr), num(2)),
    );
    expect(await exprOf('~(a)')).toEqual(ap('~', n('a')));
  });
});
