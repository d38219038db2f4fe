import { describe, expect, it } from 'vitest';
import { evalError, evalTla, modelOf } from './helpers.ts';

describe('LET, IF, CASE, quantifiers, operators', () => {
  it('evaluates LET with operators and nested LET', async () => {
    expect(await evalTla('LET a == 2\n    b == a + 3\n    F(u, v) == u * 10 + v\nIN F(a, b)')).toBe(25);
    expect(await evalTla('LET G(n) == LET h == n * n IN h + 1 IN G(G(1))')).toBe(5);
  });

  it('IF and CASE (first true arm, OTHER, no arm is an error)', async () => {
    expect(await evalTla('IF 1 > 2 THEN "no" ELSE IF 2 > 1 THEN "yes" ELSE "no"')).toBe('yes');
    expect(await evalTla('CASE 1 = 2 -> 0 [] 2 = 2 -> 1 [] OTHER -> 2')).toBe(1);
    expect(await evalTla('CASE TRUE -> 1 [] TRUE -> 2')).toBe(1);
    expect(await evalTla('CASE FALSE -> 0 [] OTHER -> 9')).toBe(9);
    expect((await evalError('CASE 1 = 2 -> 0')).message).toMatch(/CASE with no arm enabled/);
    expect((await evalError('IF 1 THEN 2 ELSE 3')).message).toMatch(/condition of IF should be a boolean, but it evaluated to integer 1/);
  });

  it('short-circuits junctions left to right and quantifies over bounds and tuples', async () => {
    expect(await evalTla('FALSE /\\ (1 \\div 0 = 1)')).toBe(false);
    expect(await evalTla('TRUE \\/ (1 \\div 0 = 1)')).toBe(true);
    expect(await evalTla('FALSE => (1 \\div 0 = 1)')).toBe(true);
    expect(await evalTla('(TRUE <=> TRUE) /\\ ~(TRUE <=> FALSE)')).toBe(true);
    expect(await evalTla('\\A x \\in {} : FALSE')).toBe(true);
    expect(await evalTla('\\E x \\in 1..4, y \\in {10} : x + y = 14')).toBe(true);
    expect(await evalTla('\\A <<x, y>> \\in {1, 2} \\X {3} : x < y')).toBe(true);
    expect(await evalTla('\\A x, y \\in {1, 2} : x + y <= 4')).toBe(true);
    expect(await evalTla('\\A S \\in SUBSET {1, 2} : \\E T \\in SUBSET {1, 2} : S \\cup T = {1, 2}')).toBe(true);
    expect((await evalError('1 /\\ TRUE')).message).toMatch(/should be a boolean/);
  });

  it('supports higher-order operators, LAMBDA and recursion', async () => {
    const defs = `
Twice(F(_), x) == F(F(x))
Succ(x) == (x + 1) % 10
RECURSIVE FoldSet(_, _, _)
FoldSet(Op(_, _), acc, S) == IF S = {} THEN acc ELSE LET x == CHOOSE x \\in S : TRUE IN FoldSet(Op, Op(acc, x), S \\ {x})
RECURSIVE IsEven(_), IsOdd(_)
IsEven(k) == IF k = 0 THEN TRUE ELSE IsOdd(k - 1)
IsOdd(k) == IF k = 0 THEN FALSE ELSE IsEven(k - 1)
fib[i \\in Nat] == IF i < 2 THEN i ELSE fib[i - 1] + fib[i - 2]
card[T \\in SUBSET (1..4)] == IF T = {} THEN 0 ELSE 1 + card[T \\ {CHOOSE x \\in T : TRUE}]
Outer(n, F(_)) == F(n)
RECURSIVE Nest(_, _)
Nest(n, F(_)) == IF n = 0 THEN F(0) ELSE Nest(n - 1, LAMBDA z : F(z) + n)`;
    expect(await evalTla('Twice(Succ, 8)', defs)).toBe(0);
    expect(await evalTla('Twice(LAMBDA x : x * x, 3)', defs)).toBe(81);
    expect(await evalTla('Twice(LAMBDA y : Twice(Succ, y), 3)', defs)).toBe(7);
    expect(await evalTla('FoldSet(LAMBDA a, b : a + b, 0, 1..10)', defs)).toBe(55);
    expect(await evalTla('LET Add(a, b) == a + b IN FoldSet(Add, 100, {1, 2})', defs)).toBe(103);
    expect(await evalTla('IsOdd(7) /\\ IsEven(10)', defs)).toBe(true);
    expect(await evalTla('fib[20]', defs)).toBe(6765);
    expect(await evalTla('card[1..4]', defs)).toBe(4);
    expect(await evalTla('\\E k \\in 1..3 : Outer(k, LAMBDA z : z + k) = 6', defs)).toBe(true);
    expect(await evalTla('SortSeq(<<3, 1, 2>>, <)', defs)).toMatchObject({ elems: [1, 2, 3] });
    expect(await evalTla('Nest(2, LAMBDA z : z)', defs)).toBe(3);
  });

  it('resolves EXTENDS-free definitions, constants and ASSUMEs', async () => {
    const m = await modelOf('CONSTANT N\nASSUME N > 2\nASSUME N < 2\nSq == N * N');
    expect(() => m.evalConstant(m.lookup('Sq'), m.rootCtx)).toThrow(/constant N has no value/);
    const m2 = await modelOf('CONSTANT N\nASSUME N > 2\nASSUME N < 2\nSq == N * N', new Map([['N', { kind: 'value', value: 3 }]]));
    expect(m2.evalConstant(m2.lookup('Sq'), m2.rootCtx)).toBe(9);
    expect(() => m2.checkAssumptions()).toThrow(/Assumption at T\.tla:5:8 is false/);
  });

  it('raises an error in an operator argument only when the body reads it (TLC evaluates arguments lazily)', async () => {
    const defs = 'Pick(c, a, b) == IF c THEN a ELSE b';
    expect(await evalTla('Pick(TRUE, 1, <<1>>[5])', defs)).toBe(1);
    expect((await evalError('Pick(FALSE, 1, <<1>>[5])', defs)).message).toMatch(/<<1>> to 5/);
  });

  it('caches constant subexpressions but never ones that depend on bound variables, parameters or state', async () => {
    expect(await evalTla('\\A k \\in 1..3 : Cardinality({x \\in 1..k : TRUE}) = k')).toBe(true);
    expect(await evalTla('\\A k \\in 1..3 : LET F(y) == y + k IN F(1) = k + 1')).toBe(true);
    expect(await evalTla('<<G(1), G(2), G(1)>> = <<2, 4, 2>>', 'G(n) == Cardinality({n, n + 10}) * n')).toBe(true);
    expect(await evalTla('[k \\in 1..3 |-> {j \\in 1..5 : j <= k}][2] = {1, 2}')).toBe(true);
    const m = await modelOf('VARIABLE x\nNext == \\E k \\in 1..2 : x\' = Cardinality(1..k) + x\nInv == x \\in {y \\in 0..10 : y >= x}');
    const next: number[] = [];
    m.successors(m.lookup('Next'), m.rootCtx, [5], (t) => next.push(t[0] as number));
    expect(next).toEqual([6, 7]);
    expect(m.evalState(m.lookup('Inv'), m.rootCtx, [3])).toBe(true);
    expect(m.evalState(m.lookup('Inv'), m.rootCtx, [11])).toBe(false);
    const lines: string[] = [];
    const p = await modelOf('P == \\A i \\in 1..2 : PrintT(i)\nQ == PrintT("q")', new Map(), (l) => lines.push(l));
    p.evalConstant(p.lookup('P'), p.rootCtx);
    p.evalConstant(p.lookup('P'), p.rootCtx);
    p.evalConstant(p.lookup('Q'), p.rootCtx);
    p.evalConstant(p.lookup('Q'), p.rootCtx);
    expect(lines).toEqual(['1', '2', '1', '2', '"q"', '"q"']);
  });

  it('reports runaway recursion and oversized enumerations as evaluation errors', async () => {
    expect((await evalError('F(1)', 'RECURSIVE F(_)\nF(n) == F(n + 1) + 1')).message).toMatch(/recursed too deeply/);
    expect((await evalError('Cardinality({f \\in [1..30 -> 1..30] : TRUE})')).message).toMatch(/exceeds TLC's integers|Refusing to enumerate/);
    expect((await evalError('Cardinality({f \\in [1..8 -> 1..10] : TRUE})')).message).toMatch(/Refusing to enumerate/);
  });

  it('rejects temporal operators as values and unknown names', async () => {
    const e = await evalError('[](1 = 1)');
    expect(e.kind).toBe('unsupported');
    expect((await evalError('Foo + 1')).message).toMatch(/Unknown name Foo/);
  });
});
