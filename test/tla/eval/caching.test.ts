// Constant definitions are evaluated once (tla/eval/README.md, "Caching"): a recursive LET
// function that reads only the parameters of its operator does not make the definitions
// using that operator state-dependent. RandomElement (seeded, evaluated once in a constant
// expression, as in TLC) shows whether a definition was evaluated again.
import { describe, expect, it } from 'vitest';
import { TupleValue } from '../../../tla/values.ts';
import { modelOf } from './helpers.ts';

const WRAP = `
Wrap(n) == LET F[i \\in 0..2] == IF i = 0 THEN n ELSE F[i - 1]
               prev == F[1]
           IN prev + 0
Noisy(n) == Wrap(n) + RandomElement(0..100000 * n) - RandomElement(0..100000 * n)`;

describe('caching of constant definitions around recursive LET functions', () => {
  it('a constant definition using such an operator is evaluated once', async () => {
    // Noisy(1) draws two numbers each time it is evaluated: the same C means one evaluation.
    const m = await modelOf(`${WRAP}\nC == Noisy(1)\nE == <<Noisy(1), Noisy(1), Noisy(1)>>`);
    const c1 = m.evalConstant(m.lookup('C'), m.rootCtx);
    expect([1, 2, 3].map(() => m.evalConstant(m.lookup('C'), m.rootCtx))).toEqual([c1, c1, c1]);
    // The operator itself is evaluated at each call (the draws differ).
    const e = m.evalConstant(m.lookup('E'), m.rootCtx);
    expect(e).toBeInstanceOf(TupleValue);
    expect(new Set((e as TupleValue).elems).size).toBeGreaterThan(1);
  });

  it('the same operator applied to a variable follows the state', async () => {
    const m = await modelOf(`VARIABLE x\n${WRAP}\nV == Wrap(x)`);
    expect([1, 5, 1].map((x) => m.evalState(m.lookup('V'), m.rootCtx, [x]))).toEqual([1, 5, 1]);
  });

  it('mutually recursive definitions reading a variable are never cached', async () => {
    const m = await modelOf('VARIABLE x\nH[i \\in 1..2] == IF i = 1 THEN 0 ELSE G\nG == x + H[1]\nV == H[2]');
    expect([1, 5, 2].map((x) => m.evalState(m.lookup('V'), m.rootCtx, [x]))).toEqual([1, 5, 2]);
    const m2 = await modelOf('VARIABLE x\nG == x + H[1]\nH[i \\in 1..2] == IF i = 1 THEN 0 ELSE G\nV == H[2]');
    expect([1, 5, 2].map((x) => m2.evalState(m2.lookup('V'), m2.rootCtx, [x]))).toEqual([1, 5, 2]);
  });
});
