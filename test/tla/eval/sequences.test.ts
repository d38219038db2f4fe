import { describe, expect, it } from 'vitest';
import { toTla } from '../../../tla/values.ts';
import { evalError, evalTla } from './helpers.ts';

const show = async (e: string, defs = ''): Promise<string> => toTla(await evalTla(e, defs));

describe('Sequences', () => {
  it('implements Len, Append, Head, Tail, SubSeq, \\o', async () => {
    expect(await evalTla('Len(<<>>) = 0 /\\ Len(<<1, 2>>) = 2 /\\ Len([i \\in 1..3 |-> 0]) = 3')).toBe(true);
    expect(await show('Append(<<>>, 5)')).toBe('<<5>>');
    expect(await show('Append(1 :> 5, 6)')).toBe('<<5, 6>>');
    expect(await evalTla('Head(<<4, 5, 6>>)')).toBe(4);
    expect(await show('Tail(<<4, 5, 6>>)')).toBe('<<5, 6>>');
    expect(await show('Tail(<<4>>)')).toBe('<<>>');
    expect(await show('SubSeq(<<4, 5, 6>>, 2, 3)')).toBe('<<5, 6>>');
    expect(await show('SubSeq(<<4, 5, 6>>, 3, 2)')).toBe('<<>>');
    expect(await show('<<1>> \\o <<2>> \\o <<3>>')).toBe('<<1, 2, 3>>');
    expect(await show('<<>> \\o <<>>')).toBe('<<>>');
  });

  it('SelectSeq takes a named operator or a LAMBDA', async () => {
    expect(await show('SelectSeq(<<1, 2, 3, 2, 1>>, NotTwo)', 'NotTwo(x) == x # 2')).toBe('<<1, 3, 1>>');
    expect(await show('SelectSeq(<<1, 2, 3, 2, 1>>, LAMBDA x : x > 1)')).toBe('<<2, 3, 2>>');
  });

  it('treats strings as TLC does for Len, \\o and SubSeq', async () => {
    expect(await evalTla('Len("abc") = 3 /\\ "ab" \\o "c" = "abc" /\\ SubSeq("abcd", 2, 3) = "bc" /\\ SubSeq("ab", 2, 1) = ""')).toBe(true);
  });

  it('reports misuse', async () => {
    expect((await evalError('Head(<<>>)')).message).toMatch(/Head to the empty sequence/);
    expect((await evalError('Tail(<<>>)')).message).toMatch(/Tail to the empty sequence/);
    expect((await evalError('SubSeq(<<1>>, 1, 2)')).message).toMatch(/not within 1\.\.1/);
    expect((await evalError('Len({1})')).message).toMatch(/Len expects a sequence, got set \{1\}/);
  });
});
