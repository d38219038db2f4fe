// Membership, subset and cardinality tests on set filters, powersets and function sets are
// decided without enumerating the sets (TLC's semantics: x \in {p \in S : P} is x \in S /\ P(x),
// with P evaluated only when x \in S).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { check, loadModel } from '../../../tla/index.ts';
import { evalError, evalTla } from './helpers.ts';

describe('membership without enumeration', () => {
  it('decides x \\in {p \\in S : P(p)} as x \\in S /\\ P(x) on sets too large to build', async () => {
    // SUBSET SUBSET (1..5) has 2^32 elements: enumerating it is refused with an error.
    expect((await evalError('Cardinality({p \\in SUBSET SUBSET (1..5) : TRUE})')).message).toMatch(
      /too large/,
    );
    expect(
      await evalTla('{{1, 2}, {2}} \\in {p \\in SUBSET SUBSET (1..5) : \\A a, b \\in p : a \\cap b /= {}}'),
    ).toBe(true);
    expect(
      await evalTla('{{1}, {2}} \\in {p \\in SUBSET SUBSET (1..5) : \\A a, b \\in p : a \\cap b /= {}}'),
    ).toBe(false);
    expect(
      await evalTla('{{1}, {2}} \\notin {p \\in SUBSET SUBSET (1..5) : \\A a, b \\in p : a \\cap b /= {}}'),
    ).toBe(true);
    expect(await evalTla('{{7}} \\in {p \\in SUBSET SUBSET (1..5) : TRUE}')).toBe(false);
    // Through a definition without parameters, and a filter of a filter.
    const defs =
      'Big == {p \\in SUBSET SUBSET (1..5) : Cardinality(p) <= 2}\nBig2 == {q \\in Big : {1} \\in q}';
    expect(await evalTla('{{1}, {2, 3}} \\in Big /\\ {{1}, {2}, {3}} \\notin Big', defs)).toBe(true);
    expect(
      await evalTla(
        '{{1}, {2, 3}} \\in Big2 /\\ {{2}, {3}} \\notin Big2 /\\ {{1}, {2}, {3}} \\notin Big2',
        defs,
      ),
    ).toBe(true);
  });

  it('evaluates the predicate only for elements of the base set', async () => {
    // P(5) divides by zero: it must not be evaluated, 5 is not in 1..3.
    expect(await evalTla('5 \\in {p \\in 1..3 : 10 \\div (p - 5) < 0}')).toBe(false);
    expect(await evalTla('2 \\in {p \\in 1..3 : 10 \\div (p - 5) < 0}')).toBe(true);
    expect((await evalError('5 \\in {p \\in 1..6 : 10 \\div (p - 5) < 0}')).message).toMatch(/by 0/);
    // The bound name shadows and is restored.
    expect(await evalTla('\\A p \\in {9} : (2 \\in {p \\in 1..3 : p > 1}) /\\ p = 9')).toBe(true);
  });

  it('agrees with the enumerated set on small sets (constant definitions kept as sets)', async () => {
    const defs = 'Small == {p \\in SUBSET (1..3) : 2 \\in p}';
    for (const x of ['{}', '{2}', '{1, 3}', '{1, 2, 3}', '{4}', '{2, 4}']) {
      const direct = await evalTla(`${x} \\in {p \\in SUBSET (1..3) : 2 \\in p}`);
      const viaDef = await evalTla(`${x} \\in Small`, defs);
      const enumerated = await evalTla(`\\E y \\in {p \\in SUBSET (1..3) : 2 \\in p} : y = ${x}`);
      expect(direct).toBe(enumerated);
      expect(viaDef).toBe(enumerated);
    }
  });

  it('decides \\subseteq and = on powersets and function sets by their bases', async () => {
    // Enumerating SUBSET (1..40) or [1..20 -> 1..20] is refused: these must not enumerate.
    expect(
      await evalTla(
        'SUBSET (1..30) \\subseteq SUBSET (1..40) /\\ ~(SUBSET (1..40) \\subseteq SUBSET (1..30))',
      ),
    ).toBe(true);
    expect(
      await evalTla(
        '[1..20 -> 1..10] \\subseteq [1..20 -> 1..20] /\\ ~([1..20 -> 1..20] \\subseteq [1..20 -> 1..10])',
      ),
    ).toBe(true);
    expect(
      await evalTla(
        '~([1..20 -> 1..10] \\subseteq [1..19 -> 1..10]) /\\ [1..20 -> {}] \\subseteq [1..3 -> 1..2]',
      ),
    ).toBe(true);
    expect(
      await evalTla('[{} -> 1..3] \\subseteq [{} -> {}] /\\ ~([{} -> 1..3] \\subseteq [1..2 -> 1..3])'),
    ).toBe(true);
    expect(await evalTla('SUBSET (1..40) = SUBSET (1..40) /\\ SUBSET (1..40) /= SUBSET (1..39)')).toBe(true);
    expect(
      await evalTla('[1..20 -> 1..20] = [1..20 -> 1..20] /\\ [1..20 -> 1..20] /= [1..20 -> 1..19]'),
    ).toBe(true);
    // Small cases agree with enumeration.
    expect(
      await evalTla(
        '([1..2 -> 1..2] \\subseteq [1..2 -> 1..3]) = ({f : f \\in [1..2 -> 1..2]} \\subseteq {f : f \\in [1..2 -> 1..3]})',
      ),
    ).toBe(true);
  });

  it('counts powersets and function sets without enumerating them', async () => {
    expect(await evalTla('Cardinality(SUBSET (1..30))')).toBe(2 ** 30);
    expect(await evalTla('Cardinality([1..9 -> 1..9])')).toBe(9 ** 9);
    expect(await evalTla('Cardinality(SUBSET SUBSET (1..4))')).toBe(65536);
  });

  it('checks a model whose invariants test membership in filters over SUBSET SUBSET (1..4) (TLC: 3145 generated, 849 distinct, depth 4)', async () => {
    const dir = path.join(import.meta.dirname, '..', 'check', 'models');
    const r = check(await loadModel(path.join(dir, 'Quorums.tla'), path.join(dir, 'Quorums.cfg')));
    expect(r.result).toBe('ok');
    expect([r.statesGenerated, r.distinctStates, r.depth]).toEqual([3145, 849, 4]);
  }, 30_000);
});
