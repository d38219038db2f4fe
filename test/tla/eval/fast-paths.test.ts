// The evaluator's fast paths give the values and the errors of the general ones: EXCEPT by
// position, = against a literal, inline integer operators, membership in small sets by
// identity, [S -> T] membership by domain, the field cache of record access, and labels
// built from the label stacks (operator parameters and \E witnesses, nested and re-entered).
import { describe, expect, it } from 'vitest';
import {
  FcnValue,
  RecordValue,
  TupleValue,
  fcnExcept,
  fcnPos,
  fcnReplaceAt,
  fcnValAt,
  fingerprint,
  modelValue,
  toTla,
} from '../../../tla/values.ts';
import { evalError, evalTla, modelOf, successorsOf } from './helpers.ts';

const show = async (e: string, defs = ''): Promise<string> => toTla(await evalTla(e, defs));

describe('EXCEPT by position', () => {
  it('gives the values fcnExcept gives, on tuples, records and functions', async () => {
    const tup = new TupleValue([1, 2, 3]);
    expect(fcnPos(tup, 2)).toBe(1);
    expect(fcnPos(tup, 4)).toBe(-1);
    expect(fcnPos(tup, 1.5)).toBe(-1);
    expect(fcnPos(tup, 'x')).toBe(-1);
    expect(fcnValAt(tup, 1)).toBe(2);
    expect(toTla(fcnReplaceAt(tup, 1, 9))).toBe(toTla(fcnExcept(tup, 2, 9)));
    const rec = await evalTla('[a |-> 1, b |-> 2]');
    if (!(rec instanceof RecordValue)) throw new Error('expected a record');
    expect(fcnPos(rec, 'c')).toBe(-1);
    expect(fcnValAt(rec, fcnPos(rec, 'b'))).toBe(2);
    expect(toTla(fcnReplaceAt(rec, fcnPos(rec, 'b'), 5))).toBe(toTla(fcnExcept(rec, 'b', 5)));
    const fcn = await evalTla('3 :> "x" @@ 4 :> "y"');
    if (!(fcn instanceof FcnValue)) throw new Error('expected a function');
    expect(fcnPos(fcn, 5)).toBe(-1);
    expect(fcnValAt(fcn, fcnPos(fcn, 4))).toBe('y');
    expect(toTla(fcnReplaceAt(fcn, fcnPos(fcn, 4), 'z'))).toBe('(3 :> "x" @@ 4 :> "z")');
  });

  it('leaves a function unchanged outside its domain and when the value stays the same', async () => {
    expect(await show('[<<1, 2>> EXCEPT ![3] = 7]')).toBe('<<1, 2>>');
    expect(await show('[[a |-> 1] EXCEPT !.b = 7]')).toBe('[a |-> 1]');
    expect(await evalTla('LET f == [i \\in {"x", "y"} |-> i] IN [f EXCEPT !["x"] = @] = f')).toBe(true);
    expect(
      await evalTla('LET f == [i \\in 1..3 |-> i] IN [f EXCEPT ![2] = IF @ > 5 THEN 0 ELSE @] = f'),
    ).toBe(true);
    // The same fingerprint as the function built directly.
    const u = await evalTla('[[i \\in 1..3 |-> i] EXCEPT ![2] = 2]');
    const v = await evalTla('<<1, 2, 3>>');
    expect(fingerprint(u)).toBe(fingerprint(v));
    expect(await show('[[i \\in 1..3 |-> i] EXCEPT ![2] = 7, ![3] = @ + 1]')).toBe('<<1, 7, 4>>');
  });

  it('updates recursive functions (LazyFcn) as before', async () => {
    const defs = 'f[n \\in 0..3] == IF n = 0 THEN 1 ELSE n * f[n - 1]';
    expect(await show('[f EXCEPT ![2] = 0]', defs)).toBe('(0 :> 1 @@ 1 :> 1 @@ 2 :> 0 @@ 3 :> 6)');
    expect(await evalTla('[f EXCEPT ![7] = 0] = f', defs)).toBe(true);
  });
});

describe('= against a literal, and inline integer operators', () => {
  it('decide as equals does', async () => {
    expect(
      await evalTla('"a" = "a" /\\ ~("a" = "b") /\\ 3 = 3 /\\ ~(3 = 4) /\\ TRUE = TRUE /\\ ~(FALSE = TRUE)'),
    ).toBe(true);
    expect(await evalTla('LET x == "a" IN "a" = x /\\ x = "a"')).toBe(true);
  });

  it('keep TLC errors for values of different kinds', async () => {
    expect((await evalError('{1} = "a"')).message).toMatch(/not comparable/);
    expect((await evalError('<<1>> = 3')).message).toMatch(/not comparable/);
    expect((await evalError('"a" = 1')).message).toMatch(/not comparable/);
  });

  it('compute, compare and overflow as the operators do', async () => {
    expect(
      await evalTla(
        '2 + 3 = 5 /\\ 2 - 3 = -1 /\\ 1 < 2 /\\ ~(2 < 1) /\\ 2 > 1 /\\ 2 <= 2 /\\ (2 >= 3) = FALSE',
      ),
    ).toBe(true);
    expect(await evalTla('-2147483647 - 1 = -2147483648')).toBe(true);
    expect((await evalError('2147483647 + 1')).message).toMatch(/Overflow/);
    expect((await evalError('-2147483648 - 1')).message).toMatch(/Overflow/);
    expect((await evalError('"a" < 1')).message).toMatch(/expects integers/);
    expect((await evalError('{1} + 1')).message).toMatch(/expects integers/);
  });
});

describe('membership and record access', () => {
  it('finds model values by identity and primitives by kind, with TLC errors otherwise', async () => {
    const mv = (n: string) => ({ kind: 'value' as const, value: modelValue(n) });
    const m = await modelOf(
      'CONSTANTS A, B\nE == A \\in {A, B} /\\ ~(B \\in {A}) /\\ ~(A \\in {1, 2}) /\\ 1 \\in {A, 1}',
      new Map([
        ['A', mv('A')],
        ['B', mv('B')],
      ]),
    );
    expect(m.evalConstant(m.lookup('E'), m.rootCtx)).toBe(true);
    expect(await evalTla('"b" \\in {"a", "b", "c"} /\\ ~("d" \\in {"a", "b"}) /\\ 2 \\in {1, 2, 3}')).toBe(
      true,
    );
    expect((await evalError('1 \\in {"a", "b"}')).message).toMatch(/not comparable/);
    expect((await evalError('"a" \\in {1, 2}')).message).toMatch(/not comparable/);
  });

  it('decides [S -> T] membership by domain without building it', async () => {
    expect(
      await evalTla(
        '<<1, 2>> \\in [1..2 -> Nat] /\\ ~(<<1, 2>> \\in [1..3 -> Nat]) /\\ <<>> \\in [{} -> Nat]',
      ),
    ).toBe(true);
    expect(
      await evalTla(
        '[a |-> 1, b |-> 2] \\in [{"a", "b"} -> 1..2] /\\ ~([a |-> 1] \\in [{"a", "b"} -> 1..2])',
      ),
    ).toBe(true);
    expect(
      await evalTla('(3 :> 1 @@ 4 :> 2) \\in [{3, 4} -> 1..2] /\\ ~((3 :> 1) \\in [{3, 4} -> 1..2])'),
    ).toBe(true);
    expect(await evalTla('<<1, 2>> \\in [{1, 2} -> Nat]')).toBe(true);
  });

  it('reads fields of records of different shapes at one place', async () => {
    const defs =
      'Msgs == {[type |-> "a", x |-> 1], [type |-> "b", y |-> 2, x |-> 3], [x |-> 5, type |-> "c"]}';
    expect(await show('{m.x : m \\in Msgs}', defs)).toBe('{1, 3, 5}');
    expect(await show('{m.type : m \\in Msgs}', defs)).toBe('{"a", "b", "c"}');
    expect((await evalError('[a |-> 1].b')).message).toMatch(/not in its domain/);
  });
});

describe('labels from the label stacks', () => {
  it('name the innermost operator with its parameters and the \\E witnesses below it', async () => {
    const m = await modelOf(`
VARIABLES x, y
Inc(d) == \\E k \\in 1..2 : x' = x + d + k /\\ y' = y
Step(a, b) == x' = a /\\ y' = b
Both == \\E i \\in {10} : \\E j \\in {20} : Step(i, j)
Next == \\/ \\E d \\in {100} : Inc(d)
        \\/ Both
        \\/ \\E z \\in {7} : x' = z /\\ UNCHANGED y`);
    const out = successorsOf(m, 'Next', [0, 0]).map(
      ({ t, label }) => `${toTla(t[0]!)} ${label.name} ${JSON.stringify(label.args)}`,
    );
    expect(out).toEqual([
      '101 Inc {"d":100,"k":1}',
      '102 Inc {"d":100,"k":2}',
      '10 Step {"a":10,"b":20}',
      '7 Next {"z":7}',
    ]);
  });

  it('stay right when an invariant evaluates ENABLED from inside the enumeration', async () => {
    const m = await modelOf(`
VARIABLES x
A(n) == \\E k \\in 1..2 : x' = x + n * k
Next == \\E n \\in {1, 10} : A(n)
CanMove == ENABLED Next`);
    const seen: string[] = [];
    m.successors(m.lookup('Next'), m.rootCtx, [0], (t, label) => {
      // Re-entrance: the same compiled action runs again under ENABLED.
      expect(m.evalState(m.lookup('CanMove'), m.rootCtx, t)).toBe(true);
      seen.push(`${toTla(t[0]!)} ${label.name} ${JSON.stringify(label.args)}`);
    });
    expect(seen).toEqual([
      '1 A {"n":1,"k":1}',
      '2 A {"n":1,"k":2}',
      '10 A {"n":10,"k":1}',
      '20 A {"n":10,"k":2}',
    ]);
  });
});
