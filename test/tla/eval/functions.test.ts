import { describe, expect, it } from 'vitest';
import { toTla } from '../../../tla/values.ts';
import { evalError, evalTla } from './helpers.ts';

const show = async (e: string, defs = ''): Promise<string> => toTla(await evalTla(e, defs));

describe('functions, records and tuples', () => {
  it('builds and applies functions', async () => {
    expect(await show('[i \\in 1..3 |-> i * 2]')).toBe('<<2, 4, 6>>');
    expect(await show('[i \\in {0, 1} |-> i]')).toBe('(0 :> 0 @@ 1 :> 1)');
    expect(await show('[s \\in {"b", "a"} |-> 1]')).toBe('[a |-> 1, b |-> 1]');
    expect(await evalTla('[i \\in 1..4, v \\in 0..3 |-> i * v][2, 3] = 6')).toBe(true);
    expect(await evalTla('[<<x, y>> \\in (1..2) \\X (1..2) |-> x - y][<<2, 1>>] = 1')).toBe(true);
    expect(await evalTla('DOMAIN [i \\in 1..4, v \\in 0..1 |-> 0] = (1..4) \\X (0..1)')).toBe(true);
    expect(await evalTla('DOMAIN <<"a", "b">> = {1, 2} /\\ DOMAIN <<>> = {} /\\ DOMAIN [a |-> 1] = {"a"}')).toBe(true);
  });

  it('treats tuples, records and functions as one kind of value', async () => {
    expect(await evalTla('[i \\in 1..2 |-> i] = <<1, 2>> /\\ (1 :> "a" @@ 2 :> "b") = <<"a", "b">>')).toBe(true);
    expect(await evalTla('[f \\in {"a", "b"} |-> IF f = "a" THEN 1 ELSE 2] = [b |-> 2, a |-> 1]')).toBe(true);
    expect(await evalTla('[x \\in {} |-> 1] = <<>> /\\ <<>> = [y \\in {} |-> 2]')).toBe(true);
    expect(await evalTla('{<<1, 2>>, [i \\in 1..2 |-> i], (1 :> 1) @@ (2 :> 2)} = {<<1, 2>>}')).toBe(true);
    expect(await evalTla('<<1, 2>> # <<2, 1>> /\\ <<1, 1>> # <<1>>')).toBe(true);
  });

  it('updates with EXCEPT, nested paths and @', async () => {
    expect(await show('[<<1, 4, 9>> EXCEPT ![2] = @ + 1, ![2] = @ * 10]')).toBe('<<1, 50, 9>>');
    expect(await show('LET h == <<1, 4, 9>> IN [h EXCEPT ![1] = h[3], ![3] = h[1]]')).toBe('<<9, 4, 1>>');
    expect(await show('[[a |-> [b |-> 1], c |-> 2] EXCEPT !.a.b = 7]')).toBe('[a |-> [b |-> 7], c |-> 2]');
    expect(await show('[[a |-> 1, b |-> 2] EXCEPT !["a"] = @ + 1]')).toBe('[a |-> 2, b |-> 2]');
    expect(await show('[<<<<1, 2>>, <<3>>>> EXCEPT ![1][2] = 0]')).toBe('<<<<1, 0>>, <<3>>>>');
    expect(await show('[[h |-> [n |-> 1]] EXCEPT !.h = [@ EXCEPT !.n = @ + 1]]')).toBe('[h |-> [n |-> 2]]');
    expect(await show('[[i \\in 1..2, j \\in 1..2 |-> 0] EXCEPT ![1, 2] = 5][1, 2]')).toBe('5');
  });

  it('accesses record fields and builds record sets', async () => {
    expect(await evalTla('[a |-> [b |-> [c |-> 3]]].a.b.c')).toBe(3);
    expect(await evalTla('Cardinality([from : {"p", "q"}, v : 1..2]) = 4')).toBe(true);
    expect(await evalTla('{r.v : r \\in [from : {"p"}, v : 1..2]} = 1..2')).toBe(true);
    expect(await show('[f : {1}, g : {TRUE}]')).toBe('[f : {1}, g : {TRUE}]');
  });

  it('builds function sets', async () => {
    expect(await show('{f \\in [1..2 -> {0, 1}] : TRUE}')).toBe('{<<0, 0>>, <<0, 1>>, <<1, 0>>, <<1, 1>>}');
    expect(await evalTla('Cardinality({k \\in [1..4 -> 0..2] : \\A i \\in 1..3 : k[i] <= k[i + 1]}) = 15')).toBe(true);
  });

  it('reports applications outside the domain with both values', async () => {
    const e = await evalError('<<10, 20, 30>>[4]');
    expect(e.message).toBe('Attempted to apply function <<10, 20, 30>> to 4, which is not in its domain');
    expect(e.loc).toEqual({ file: 'T.tla', line: 5, col: 3 });
    expect((await evalError('[a |-> 1].b')).message).toMatch(/\[a \|-> 1\] to "b"/);
    expect((await evalError('3[1]')).message).toMatch(/not a function/);
    expect((await evalError('[3 EXCEPT ![1] = 2]')).message).toMatch(/EXCEPT applied to integer 3/);
    expect(toTla(await evalTla('[<<1, 2>> EXCEPT ![3] = 0]'))).toBe('<<1, 2>>');
  });

  it('prints values as TLC does', async () => {
    expect(await show('<<1, "a\\"b", TRUE, {}, <<>>>>')).toBe('<<1, "a\\"b", TRUE, {}, <<>>>>');
    expect(await show('(1 :> 2 @@ 3 :> 4)')).toBe('(1 :> 2 @@ 3 :> 4)');
    expect(await show('1..3')).toBe('1..3');
    expect(await evalTla('ToString(<<1, 2>>) = "<<1, 2>>" /\\ ToString(-3) = "-3" /\\ ToString("x") = "\\"x\\""')).toBe(true);
  });
});
