import { describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { toTla } from '../../../tla/values.ts';
import type { Value } from '../../../tla/values.ts';
import { initStatesOf, modelOf, successorsOf } from './helpers.ts';

const show = (s: readonly Value[]): string => s.map(toTla).join(' ');

describe('initial states', () => {
  it('enumerates x \\in S, x = e, disjunctions and \\E', async () => {
    const m = await modelOf('VARIABLES x, y\nInit == /\\ x \\in 1..3\n        /\\ \\/ y = x\n           \\/ \\E k \\in {10, 20} : y = k');
    expect(m.variables).toEqual(['x', 'y']);
    const states = initStatesOf(m, 'Init').map(show);
    expect(states).toEqual(['1 1', '1 10', '1 20', '2 2', '2 10', '2 20', '3 3', '3 10', '3 20']);
  });

  it('treats an assigned variable as a test and reports unassigned ones', async () => {
    const m = await modelOf('VARIABLES x, y\nInit == x = 1 /\\ x \\in {1, 2} /\\ x = 1 /\\ y = x + 1\nBad == x = 1');
    expect(initStatesOf(m, 'Init').map(show)).toEqual(['1 2']);
    expect(() => initStatesOf(m, 'Bad')).toThrow(/does not assign a value to the variable y/);
  });
});

describe('successors', () => {
  const spec = `VARIABLES x, y
vars == <<x, y>>
Inc(d) == x' = x + d /\\ UNCHANGED y
Both == \\E d \\in {1, 2} : x' = x + d /\\ y' = y
Dup == x' \\in {x, x} /\\ y' = y
Swap == x' = y /\\ y' = x
Guarded == x > 5 /\\ x' = 0 /\\ y' = y
Next == \\/ \\E d \\in {1, 2} : Inc(d)
        \\/ Both
        \\/ Swap
        \\/ Guarded
        \\/ Dup`;

  it('emits one successor per true disjunct and witness, duplicates included, with labels', async () => {
    const m = await modelOf(spec);
    const succ = successorsOf(m, 'Next', [1, 7]);
    expect(succ.map((s) => `${s.label.name}(${Object.entries(s.label.args).map(([k, v]) => `${k}=${toTla(v)}`).join(',')}) -> ${show(s.t)}`)).toEqual([
      'Inc(d=1) -> 2 7',
      'Inc(d=2) -> 3 7',
      'Both(d=1) -> 2 7',
      'Both(d=2) -> 3 7',
      'Swap() -> 7 1',
      'Dup() -> 1 7',
    ]);
    expect(successorsOf(m, 'Next', [6, 7]).filter((s) => s.label.name === 'Guarded').map((s) => show(s.t))).toEqual(['0 7']);
  });

  it('evaluates UNCHANGED of definitions, [A]_v, <<A>>_v, ENABLED and action predicates', async () => {
    const m = await modelOf(`${spec}\nStutter == UNCHANGED vars\nBox == [Guarded]_vars\nAngle == <<Dup>>_vars\nEn == ENABLED Guarded\nPrimeSum == (x + y)' = x + y + 1`);
    expect(successorsOf(m, 'Stutter', [1, 2]).map((s) => show(s.t))).toEqual(['1 2']);
    expect(successorsOf(m, 'Box', [1, 2]).map((s) => show(s.t))).toEqual(['1 2']);
    expect(successorsOf(m, 'Angle', [1, 2])).toEqual([]);
    expect(m.enabled(m.lookup('Guarded'), m.rootCtx, [1, 2])).toBe(false);
    expect(m.enabled(m.lookup('Guarded'), m.rootCtx, [9, 2])).toBe(true);
    expect(m.evalState(m.lookup('En'), m.rootCtx, [9, 2])).toBe(true);
    expect(m.evalAction(m.lookup('Swap'), m.rootCtx, [1, 2], [2, 1])).toBe(true);
    expect(m.evalAction(m.lookup('Swap'), m.rootCtx, [1, 2], [1, 2])).toBe(false);
    expect(m.evalAction(m.lookup('Box'), m.rootCtx, [1, 2], [1, 2])).toBe(true);
    expect(m.evalAction(m.lookup('PrimeSum'), m.rootCtx, [1, 2], [2, 2])).toBe(true);
    expect(() => m.evalState(m.lookup('PrimeSum'), m.rootCtx, [1, 2])).toThrow(/no next state/);
  });

  it('substitutes arguments for parameters that are primed in the body (call by name)', async () => {
    const m = await modelOf(`VARIABLES x, y
Bump(v) == v' = v + 1
Keep(v) == UNCHANGED v
Next == \\/ Bump(x) /\\ Keep(y)
        \\/ \\E d \\in {5} : y' = d /\\ Keep(x)
Same(v) == v' = v
Step == x' = 3 /\\ y' = 4
Stuck == Step /\\ Same(x)`);
    expect(successorsOf(m, 'Next', [1, 2]).map((s) => `${s.label.name} ${show(s.t)}`)).toEqual(['Next 2 2', 'Next 1 5']);
    expect(m.evalAction(m.lookup('Stuck'), m.rootCtx, [1, 2], [3, 4])).toBe(false);
    expect(m.evalAction(m.lookup('Stuck'), m.rootCtx, [3, 2], [3, 4])).toBe(true);
    const m2 = await modelOf(`VARIABLES x\nSet(v, n) == v' = n\nNext == \\E n \\in {1, 2} : Set(x, n)`);
    expect(successorsOf(m2, 'Next', [0]).map((s) => `${s.label.name}(${toTla(s.label.args.n!)}) ${show(s.t)}`)).toEqual(['Set(1) 1', 'Set(2) 2']);
  });

  it('re-evaluates ENABLED in every state, whatever was compiled first', async () => {
    const m = await modelOf('VARIABLE x\nInc == x < 2 /\\ x\' = x + 1\nNext == Inc\nCanInc == ENABLED Inc');
    expect(successorsOf(m, 'Next', [0]).length).toBe(1);
    expect(m.evalState(m.lookup('CanInc'), m.rootCtx, [0])).toBe(true);
    expect(m.evalState(m.lookup('CanInc'), m.rootCtx, [2])).toBe(false);
  });

  it('UNCHANGED of variables and expressions assigns the variables and tests the expressions', async () => {
    const m = await modelOf('VARIABLES x, y\nSum == x + y\nA == y\' = y /\\ UNCHANGED <<x, Sum>>\nB == y\' = y + 1 /\\ UNCHANGED <<Sum, x>>\nC == UNCHANGED <<Sum, x>> /\\ y\' = y');
    expect(successorsOf(m, 'A', [1, 2]).map((s) => show(s.t))).toEqual(['1 2']);
    expect(successorsOf(m, 'B', [1, 2])).toEqual([]);
    expect(() => m.enabled(m.lookup('C'), m.rootCtx, [1, 2])).toThrow(/y' is read before it is assigned while evaluating ENABLED/);
    expect(() => successorsOf(m, 'C', [1, 2])).toThrow(/y' is read before it is assigned/);
  });

  it('handles IF, CASE and LET inside actions and primes of operator calls', async () => {
    const m = await modelOf(`VARIABLES x
Double(v) == 2 * v
A == IF x > 2 THEN x' = 0 ELSE FALSE
B == LET n == x + 1 IN CASE n = 2 -> x' = 10 [] OTHER -> x' = n
C == x' = 3 /\\ Double(x)' = 6`);
    expect(successorsOf(m, 'A', [3]).map((s) => show(s.t))).toEqual(['0']);
    expect(successorsOf(m, 'A', [1])).toEqual([]);
    expect(successorsOf(m, 'B', [1]).map((s) => show(s.t))).toEqual(['10']);
    expect(successorsOf(m, 'B', [4]).map((s) => show(s.t))).toEqual(['5']);
    expect(successorsOf(m, 'C', [0]).map((s) => show(s.t))).toEqual(['3']);
  });

  it('names the variable and the action when a successor leaves a variable unassigned', async () => {
    const m = await modelOf('VARIABLES x, y\nHalf == x\' = 1\nNext == Half');
    let err: unknown;
    try {
      successorsOf(m, 'Next', [0, 0]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TlaError);
    expect((err as TlaError).message).toMatch(/Action Half produced a successor that does not assign a value to the variable y/);
  });

  it('expands named and parameterised instances with substitutions', async () => {
    const text = `---- MODULE Counter ----
EXTENDS Naturals
CONSTANTS Max, Step
VARIABLE c
Init == c = 0
Inc == c' = (c + Step) % (Max + 1)
Values == {(k * Step) % (Max + 1) : k \\in 0..Max}
====
---- MODULE Main ----
EXTENDS Naturals
VARIABLES x, z
A == INSTANCE Counter WITH Max <- 4, Step <- 3, c <- x
C(m, s) == INSTANCE Counter WITH Max <- m, Step <- s, c <- z
Init == A!Init /\\ C(6, 2)!Init
Next == \\/ A!Inc /\\ UNCHANGED z
        \\/ C(6, 2)!Inc /\\ UNCHANGED x
Facts == A!Values = 0..4 /\\ C(5, 2)!Values = {0, 2, 4}
====
`;
    const { parseModuleText } = await import('../../../tla/parse/index.ts');
    const { buildModel } = await import('../../../tla/eval/index.ts');
    const counter = await parseModuleText(text.split('====\n')[0] + '====\n', 'Counter.tla');
    const main = await parseModuleText(text.split('====\n')[1] + '====\n', 'Main.tla');
    const m = buildModel({ root: main, modules: new Map([['Main', main], ['Counter', counter]]) }, new Map());
    expect(initStatesOf(m, 'Init').map(show)).toEqual(['0 0']);
    expect(successorsOf(m, 'Next', [4, 6]).map((s) => `${s.label.name} ${show(s.t)}`)).toEqual(['Next 2 6', 'Next 4 1']); // a conjunction stops splitting, as in TLC
    expect(m.evalState(m.lookup('Facts'), m.rootCtx, [0, 0])).toBe(true);
    m.checkAssumptions();
    // As in TLC, an instantiated module's ASSUMEs are not checked: a false one, or one that
    // cannot be evaluated (a quantifier over Nat), does not stop the model.
    for (const assume of ['ASSUME Step > Max', 'ASSUME \\A n \\in Nat : n >= 0']) {
      const inst = await parseModuleText(text.split('====\n')[0]!.replace('VARIABLE c', `VARIABLE c\n${assume}`) + '====\n', 'Counter.tla');
      const mi = buildModel({ root: main, modules: new Map([['Main', main], ['Counter', inst]]) }, new Map());
      expect(() => mi.checkAssumptions(), assume).not.toThrow();
    }
  });
});
