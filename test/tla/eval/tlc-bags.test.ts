import { describe, expect, it } from 'vitest';
import { toTla } from '../../../tla/values.ts';
import { evalError, evalTla, modelOf } from './helpers.ts';

describe('TLC module', () => {
  it(':> and @@ (left operand wins)', async () => {
    expect(await evalTla('((1 :> "x") @@ (1 :> "y"))[1]')).toBe('x');
    expect(await evalTla('(<<7, 8>> @@ (3 :> 9)) = <<7, 8, 9>> /\\ ("a" :> 1 @@ "b" :> 2) = [a |-> 1, b |-> 2]')).toBe(true);
  });

  it('Permutations, SortSeq, ToString, Assert, TLCEval, Any', async () => {
    expect(await evalTla('Cardinality(Permutations(1..4)) = 24 /\\ Permutations({}) = {<<>>}')).toBe(true);
    expect(toTla(await evalTla('SortSeq(<<2, 9, 4>>, LAMBDA a, b : a % 3 < b % 3)'))).toBe('<<9, 4, 2>>');
    expect(await evalTla('TLCEval(3) = 3 /\\ 5 \\in Any /\\ Assert(TRUE, "x")')).toBe(true);
    expect((await evalError('Assert(1 = 2, "boom")')).message).toMatch(/FALSE; the second argument was: boom/);
  });

  it('Print and PrintT write to the injected output and return their value', async () => {
    const lines: string[] = [];
    const m = await modelOf('E == Print(<<"a", 1>>, 5) + IF PrintT("t") THEN 1 ELSE 0', new Map(), (l) => lines.push(l));
    expect(m.evalConstant(m.lookup('E'), m.rootCtx)).toBe(6);
    expect(lines).toEqual(['<<"a", 1>>', '"t"']);
  });

  it('TLCSet/TLCGet registers', async () => {
    expect(await evalTla('TLCSet(1, 42) /\\ TLCGet(1) = 42')).toBe(true);
    expect((await evalError('TLCGet(7)')).message).toMatch(/never set/);
  });

  it('RandomElement is deterministic for a seed and stays in the set', async () => {
    const a = await evalTla('<<RandomElement(1..100), RandomElement(1..100)>>');
    const b = await evalTla('<<RandomElement(1..100), RandomElement(1..100)>>');
    expect(toTla(a)).toBe(toTla(b));
    expect(await evalTla('RandomElement({7}) = 7')).toBe(true);
  });
});

describe('Bags', () => {
  const defs = 'One(m) == SetToBag({m})';
  it('implements the Bags module', async () => {
    expect(await evalTla('EmptyBag = <<>> /\\ BagCardinality(EmptyBag) = 0', defs)).toBe(true);
    expect(await evalTla('SetToBag({1, 2}) (+) One(2) = (1 :> 1) @@ (2 :> 2)', defs)).toBe(true);
    expect(await evalTla('CopiesIn(2, SetToBag({1, 2}) (+) One(2)) = 2 /\\ CopiesIn(7, One(2)) = 0', defs)).toBe(true);
    expect(await evalTla('BagToSet(SetToBag({1, 2}) (-) One(2)) = {1} /\\ DOMAIN (One(1) (-) One(1)) = {}', defs)).toBe(true);
    expect(await evalTla('One(1) \\sqsubseteq One(1) (+) One(2) /\\ ~(One(1) (+) One(1) \\sqsubseteq One(1) (+) One(2))', defs)).toBe(true);
    expect(await evalTla('BagOfAll(LAMBDA x : x % 2, SetToBag({1, 2, 3})) = (0 :> 1) @@ (1 :> 2)', defs)).toBe(true);
    expect(await evalTla('BagCardinality(BagUnion({One(1), One(1) (+) One(3)})) = 3 /\\ IsABag(One(1)) /\\ ~IsABag(<<0>>)', defs)).toBe(true);
    expect(await evalTla('Cardinality(SubBag(One(1) (+) One(1) (+) One(2))) = 6 /\\ BagIn(1, One(1))', defs)).toBe(true);
  });
});
