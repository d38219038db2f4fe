import { describe, expect, it } from 'vitest';
import { evalError, evalTla } from './helpers.ts';

describe('Naturals and Integers', () => {
  it('computes TLC integer arithmetic', async () => {
    expect(await evalTla('2 + 3 * 4 - 1')).toBe(13);
    expect(await evalTla('2^10')).toBe(1024);
    expect(await evalTla('(-2)^3')).toBe(-8);
    expect(await evalTla('-2^2')).toBe(-4);
    expect(await evalTla('5^0')).toBe(1);
    expect(await evalTla('-(-3)')).toBe(3);
  });

  it('rounds \\div toward minus infinity and keeps % in 0..b-1', async () => {
    expect(await evalTla('(-7) \\div 2')).toBe(-4);
    expect(await evalTla('7 \\div (-2)')).toBe(-4);
    expect(await evalTla('(-7) \\div (-2)')).toBe(3);
    expect(await evalTla('(-7) % 2')).toBe(1);
    expect(await evalTla('(-10) % 5')).toBe(0);
    expect(await evalTla('\\A a \\in -9..9 : \\A b \\in 1..4 : a = b * (a \\div b) + (a % b) /\\ (a % b) \\in 0..(b-1)')).toBe(true);
  });

  it('compares integers and builds intervals', async () => {
    expect(await evalTla('3 > -3 /\\ -3 < 3 /\\ -3 <= -3 /\\ -3 >= -4 /\\ -3 =< -2 /\\ 3 # -3')).toBe(true);
    expect(await evalTla('Cardinality(-3..3) = 7 /\\ 3..1 = {} /\\ 2..2 = {2}')).toBe(true);
    expect(await evalTla('-1 \\notin Nat /\\ -1 \\in Int /\\ 0 \\in Nat /\\ (1..3) \\subseteq Nat /\\ ~((-1..1) \\subseteq Nat)')).toBe(true);
  });

  it('reports overflow, division by zero and bad operands like TLC', async () => {
    const e = await evalError('1000000000 * 10');
    expect(e.kind).toBe('eval');
    expect(e.message).toMatch(/Overflow when computing 1000000000 \* 10/);
    expect(e.loc).not.toBeNull();
    expect((await evalError('2147483647 + 1')).message).toMatch(/Overflow/);
    expect((await evalError('2^31')).message).toMatch(/Overflow/);
    expect((await evalError('1 \\div 0')).message).toMatch(/\\div by 0/);
    expect((await evalError('1 % 0')).message).toMatch(/second argument of %/);
    expect((await evalError('0^0')).message).toMatch(/0\^0/);
    expect((await evalError('"a" + 1')).message).toBe('+ expects integers, got string "a"');
    expect((await evalError('1 < TRUE')).message).toMatch(/< expects integers, got boolean TRUE/);
  });
});
