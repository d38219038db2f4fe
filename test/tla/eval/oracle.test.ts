// Random TLA+ expressions evaluated by the evaluator and by an independent JS oracle.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetValue, toTla } from '../../../tla/values.ts';
import { evalTla } from './helpers.ts';

type SetExpr = { text: string; value: number[] };

const norm = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b);
const small = fc.integer({ min: -3, max: 6 });

const setExpr: fc.Arbitrary<SetExpr> = fc.letrec<{ s: SetExpr }>((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.array(small, { maxLength: 4 }).map((xs) => ({ text: `{${xs.join(', ')}}`, value: norm(xs) })),
    fc.tuple(small, small).map(([a, b]) => ({ text: `(${a}..${b})`, value: norm(Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i)) })),
    fc.tuple(tie('s'), tie('s')).map(([a, b]) => ({ text: `(${a.text} \\cup ${b.text})`, value: norm([...a.value, ...b.value]) })),
    fc.tuple(tie('s'), tie('s')).map(([a, b]) => ({ text: `(${a.text} \\cap ${b.text})`, value: a.value.filter((x) => b.value.includes(x)) })),
    fc.tuple(tie('s'), tie('s')).map(([a, b]) => ({ text: `(${a.text} \\ ${b.text})`, value: a.value.filter((x) => !b.value.includes(x)) })),
    fc.tuple(tie('s'), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([a, k, r]) => ({
      text: `{x \\in ${a.text} : x % ${k} = ${r % k}}`,
      value: a.value.filter((x) => (((x % k) + k) % k) === r % k),
    })),
    fc.tuple(tie('s'), small).map(([a, c]) => ({ text: `{x * x + ${c} : x \\in ${a.text}}`, value: norm(a.value.map((x) => x * x + c)) })),
  ),
})).s;

const floorDiv = (a: number, b: number): number => Math.floor(a / b);
const mod = (a: number, b: number): number => ((a % b) + b) % b;

type IntExpr = { text: string; value: number };
const intExpr: fc.Arbitrary<IntExpr> = fc.letrec<{ e: IntExpr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -20, max: 20 }).map((n) => ({ text: n < 0 ? `(${n})` : `${n}`, value: n })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({ text: `(${a.text} + ${b.text})`, value: a.value + b.value })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({ text: `(${a.text} - ${b.text})`, value: a.value - b.value })),
    fc.tuple(tie('e'), fc.integer({ min: -9, max: 9 })).map(([a, b]) => ({ text: `(${a.text} * ${b < 0 ? `(${b})` : b})`, value: a.value * b })),
    fc.tuple(tie('e'), fc.integer({ min: 1, max: 7 })).map(([a, b]) => ({ text: `(${a.text} \\div ${b})`, value: floorDiv(a.value, b) })),
    fc.tuple(tie('e'), fc.integer({ min: 1, max: 7 })).map(([a, b]) => ({ text: `(${a.text} % ${b})`, value: mod(a.value, b) })),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => ({ text: `(IF ${c.text} > 0 THEN ${a.text} ELSE ${b.text})`, value: c.value > 0 ? a.value : b.value })),
  ),
})).e;

describe('evaluator against a JS oracle', () => {
  it('set expressions (union, intersection, difference, filters, maps, intervals)', async () => {
    await fc.assert(
      fc.asyncProperty(setExpr, async (e) => {
        const v = await evalTla(e.text);
        expect(v).toBeInstanceOf(SetValue);
        expect(toTla((v as SetValue).normalized())).toBe(`{${e.value.join(', ')}}`);
        expect(await evalTla(`Cardinality(${e.text})`)).toBe(e.value.length);
        if (e.value.length > 0) expect(await evalTla(`CHOOSE x \\in ${e.text} : TRUE`)).toBe(e.value[0]);
        expect(await evalTla(`\\A x \\in ${e.text} : x \\in ${e.text}`)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('integer expressions (+, -, *, \\div, %, IF)', async () => {
    await fc.assert(
      fc.asyncProperty(intExpr, async (e) => {
        // Small operands keep every intermediate result far inside TLC's 32-bit range.
        fc.pre(Math.abs(e.value) < 2 ** 20);
        expect(await evalTla(e.text)).toBe(e.value + 0);
      }),
      { numRuns: 80 },
    );
  });
});
