// Sampling decided per run of offsets (a source batch) agrees with the decision per message,
// and 1 in N traces exactly one message in each block of N consecutive offsets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSampling, samplerOf } from '../../runtime/tracing/sampling.ts';
import type { Sampling } from '../../runtime/tracing/sampling.ts';

const sampling: fc.Arbitrary<Sampling> = fc.oneof(
  fc.constant<Sampling>({ mode: 'all' }),
  fc.integer({ min: 1, max: 50 }).map((n): Sampling => ({ mode: 'oneIn', n })),
  fc.constantFrom('1/1000', '1/7', 'offsets:3-9,40,100-').map(parseSampling),
);

describe('sampling', () => {
  it('the traced messages of a run of offsets are the ones the per-message decision traces', () => {
    fc.assert(
      fc.property(
        sampling,
        fc.nat(5),
        fc.oneof(fc.nat(300), fc.constant(2 ** 40 - 7)),
        fc.integer({ min: 1, max: 300 }),
        (s, source, first, count) => {
          const sm = samplerOf(s)!;
          const expected: number[] = [];
          for (let i = 0; i < count; i++) if (sm.one(source, first + i)) expected.push(i);
          expect(sm.run(source, first, count)).toEqual(expected.length === 0 ? null : expected);
        },
      ),
    );
  });

  it('1 in N: exactly one message in each block of N offsets, not at the same place in each', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(3), fc.nat(20), (n, source, b) => {
        const one = samplerOf({ mode: 'oneIn', n })!.one;
        let hits = 0;
        for (let o = b * n; o < (b + 1) * n; o++) if (one(source, o)) hits++;
        expect(hits).toBe(1);
      }),
    );
    const run = samplerOf({ mode: 'oneIn', n: 1000 })!.run;
    const places = new Set<number>();
    for (let b = 0; b < 50; b++) places.add(run(0, b * 1000, 1000)![0]!);
    expect(places.size).toBeGreaterThan(40);
    // Another source traces other messages.
    expect(run(1, 0, 50_000)).not.toEqual(run(0, 0, 50_000));
  });

  it('off decides nothing (the engine then holds no tracer)', () => {
    expect(samplerOf({ mode: 'off' })).toBeNull();
  });
});
