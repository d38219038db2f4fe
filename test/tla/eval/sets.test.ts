import { describe, expect, it } from 'vitest';
import { toTla } from '../../../tla/values.ts';
import { evalError, evalTla } from './helpers.ts';

const show = async (e: string, defs = ''): Promise<string> => toTla(await evalTla(e, defs));

describe('sets', () => {
  it('enumerates, filters and maps', async () => {
    expect(await show('{3, 1, 2, 2, 3}')).toBe('{1, 2, 3}');
    expect(await show('{x \\in 0..10 : x % 2 = 0}')).toBe('{0, 2, 4, 6, 8, 10}');
    expect(await show('{x * x : x \\in -2..2}')).toBe('{0, 1, 4}');
    expect(await show('{x + y : x \\in 1..3, y \\in 1..3}')).toBe('{2, 3, 4, 5, 6}');
    expect(await show('{{x, y} : x \\in 1..2, y \\in 1..2}')).toBe('{{1}, {2}, {1, 2}}');
    expect(await show('{<<c, n>> \\in {"a", "b"} \\X {1, 2} : n = 2}')).toBe('{<<"a", 2>>, <<"b", 2>>}');
    expect(await show('{x + y : <<x, y>> \\in (0..1) \\X (0..2)}')).toBe('{0, 1, 2, 3}');
  });

  it('orders elements as TLC does (numbers, strings, sets by size then elements)', async () => {
    expect(await show('{"b", "a", "B"}')).toBe('{"B", "a", "b"}');
    expect(await show('SUBSET {1, 2, 3}')).toBe('SUBSET {1, 2, 3}');
    expect(await show('{s : s \\in SUBSET {1, 2, 3}}')).toBe('{{}, {1}, {2}, {3}, {1, 2}, {1, 3}, {2, 3}, {1, 2, 3}}');
    expect(await show('{<<2, 1>>, <<1>>, <<1, 2>>}')).toBe('{<<1>>, <<1, 2>>, <<2, 1>>}');
  });

  it('implements the set operators', async () => {
    expect(await evalTla('({1, 2} \\cup {2, 3}) = 1..3 /\\ ({1, 2} \\cap {2, 3}) = {2} /\\ ({1, 2} \\ {2, 3}) = {1}')).toBe(true);
    expect(await evalTla('{1} \\subseteq {1, 2} /\\ ~({3} \\subseteq {1, 2}) /\\ {} \\subseteq {}')).toBe(true);
    expect(await evalTla('UNION {{1}, {1, 2}, {3}} = 1..3 /\\ UNION {} = {} /\\ SUBSET {} = {{}}')).toBe(true);
    expect(await evalTla('Cardinality(SUBSET SUBSET {1, 2}) = 16 /\\ Cardinality([1..3 -> 1..2]) = 8')).toBe(true);
    expect(await evalTla('Cardinality((1..2) \\X (1..3) \\X {TRUE}) = 6 /\\ {1} \\X {} = {}')).toBe(true);
    expect(await evalTla('<<1, 2, 3>> \\in (1..3) \\X (1..3) \\X (1..3) /\\ <<<<1, 2>>, 3>> \\notin (1..3) \\X (1..3) \\X (1..3)')).toBe(true);
    expect(await evalTla('[1..2 -> {}] = {} /\\ [{} -> {1, 2}] = {<<>>}')).toBe(true);
  });

  it('decides membership of lazy and infinite sets without enumerating them', async () => {
    expect(await evalTla('<<1, 2>> \\in Seq(Nat) /\\ <<>> \\in Seq({}) /\\ ~(<<1, 3>> \\in Seq(1..2))')).toBe(true);
    expect(await evalTla('[a |-> 1, b |-> "x"] \\in [a : Nat, b : STRING] /\\ [a |-> 1] \\notin [a : Nat, b : STRING]')).toBe(true);
    expect(await evalTla('{1, 2} \\in SUBSET Nat /\\ (1 :> 5) \\in [{1} -> Nat] /\\ <<1, 2>> \\notin [1..3 -> Nat]')).toBe(true);
    expect(await evalTla('3 \\in {x \\in Nat : x % 3 = 0} /\\ 4 \\notin {x \\in Nat : x % 3 = 0}')).toBe(true);
    expect(await evalTla('-1 \\in Int \\cup {} /\\ 5 \\in Nat \\ {4} /\\ IsFiniteSet(1..3) /\\ ~IsFiniteSet(Nat)')).toBe(true);
    expect(await evalTla('"abc" \\in STRING /\\ Nat = Nat')).toBe(true);
  });

  it('CHOOSE takes the first element in TLC order and fails without a witness', async () => {
    expect(await evalTla('CHOOSE x \\in {3, 1, 2} : TRUE')).toBe(1);
    expect(await evalTla('CHOOSE x \\in {"b", "a"} : TRUE')).toBe('a');
    expect(await show('CHOOSE s \\in SUBSET {1, 2, 3} : Cardinality(s) = 2')).toBe('{1, 2}');
    expect(await evalTla('CHOOSE x \\in 1..10 : x * x > 20')).toBe(5);
    const e = await evalError('CHOOSE x \\in 0..5 : x > 7');
    expect(e.message).toMatch(/CHOOSE found no element of 0\.\.5/);
    expect(e.loc?.line).toBeGreaterThan(0);
  });

  it('refuses to enumerate infinite sets and to compare values of different kinds', async () => {
    expect((await evalError('Cardinality(Nat)')).message).toMatch(/infinite set Nat/);
    expect((await evalError('\\E x \\in Nat : x = 3')).message).toMatch(/Nat is not enumerable/);
    expect((await evalError('{x : x \\in Seq({1})}')).message).toMatch(/not enumerable/);
    expect((await evalError('1 = "a"')).message).toMatch(/integer 1 with string "a"/);
    expect((await evalError('{} = <<>>')).message).toMatch(/different kinds/);
    expect((await evalError('{1, "a"}')).message).toMatch(/compare/);
    expect((await evalError('1 \\in 2')).message).toMatch(/expects a set/);
  });
});
