import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RemoteBatchError, decodeRemoteBatch, encodeRemoteBatch } from '../../runtime/engine/remote-batch.ts';
import { offsetsPredicate, parseSampling, sampler, SamplingError } from '../../runtime/tracing/sampling.ts';
import { traceHash } from '../../runtime/tracing/hash.ts';
import type { RemoteBatch } from '../../runtime/types.ts';

const batch = (n: number, trace?: number[]): RemoteBatch => ({
  step: 'counts',
  fromWorker: 'w1',
  source: Array.from({ length: n }, () => 0),
  offset: Array.from({ length: n }, (_, i) => i),
  sub: Array.from({ length: n }, () => 1),
  bornMs: Array.from({ length: n }, () => 1000),
  partition: Array.from({ length: n }, (_, i) => i % 4),
  payloads: Array.from({ length: n }, (_, i) => `w${i}`),
  ...(trace ? { trace } : {}),
});

describe('trace hashes on the wire and sampling', () => {
  it('a trace column survives encoding; a batch without one has none after decoding', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), {
          maxLength: 40,
        }),
        (trace) => {
          expect(decodeRemoteBatch(encodeRemoteBatch(batch(trace.length, trace))).trace).toEqual(trace);
          expect('trace' in decodeRemoteBatch(encodeRemoteBatch(batch(trace.length)))).toBe(false);
        },
      ),
    );
    expect(() => encodeRemoteBatch(batch(3, [1, 2]))).toThrow(RemoteBatchError);
  });

  it('1 in N is deterministic by message root and close to 1/N; parse errors name the forms', () => {
    const s = sampler({ mode: 'oneIn', n: 100 })!;
    let hits = 0;
    for (let o = 0; o < 100_000; o++) if (s(0, o)) hits++;
    expect(hits).toBeGreaterThan(900);
    expect(hits).toBeLessThan(1100);
    expect([0, 1, 2, 3].map((o) => s(1, o))).toEqual(
      [0, 1, 2, 3].map((o) => sampler({ mode: 'oneIn', n: 100 })!(1, o)),
    );
    expect(sampler(parseSampling('off'))).toBeNull();
    expect(parseSampling('1/1000')).toEqual({ mode: 'oneIn', n: 1000 });
    expect(() => parseSampling('10%')).toThrow(SamplingError);
    expect(() => parseSampling('10%')).toThrow(/expected off, all, 1\/N .* or offsets:RANGES/);
  });

  it('offsets:RANGES samples exactly the root offsets in the ranges, from every source', () => {
    const range = fc
      .tuple(fc.nat({ max: 200 }), fc.option(fc.nat({ max: 50 }), { nil: undefined }), fc.boolean())
      .map(([lo, len, open]) => (open ? { lo } : { lo, hi: lo + (len ?? 0) }));
    fc.assert(
      fc.property(
        fc.array(range, { minLength: 1, maxLength: 6 }),
        fc.nat({ max: 300 }),
        fc.nat(3),
        (rs, o, src) => {
          const text = `offsets:${rs.map((r) => (r.hi === undefined ? `${r.lo}-` : r.hi === r.lo ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(',')}`;
          const inside = rs.some((r) => o >= r.lo && (r.hi === undefined || o <= r.hi));
          expect(sampler(parseSampling(text))!(src, o)).toBe(inside);
          expect(offsetsPredicate(rs)(src, o)).toBe(inside);
        },
      ),
    );
    expect(() => parseSampling('offsets:')).toThrow(/no offsets after "offsets:"/);
    expect(() => parseSampling('offsets:9-3')).toThrow(/range "9-3" is empty \(3 < 9\)/);
    expect(() => parseSampling('offsets:1,x')).toThrow(/"x" is not an offset or a range/);
  });

  it('hashes cover id, type, instance, state index and predecessors (in any order), never 0', () => {
    const h = traceHash('0:1/2', 'counts', 'w1', 3, [5, 9]);
    expect(traceHash('0:1/2', 'counts', 'w1', 3, [9, 5])).toBe(h);
    for (const other of [
      traceHash('0:1/3', 'counts', 'w1', 3, [5, 9]),
      traceHash('0:1/2', 'count', 'w1', 3, [5, 9]),
      traceHash('0:1/2', 'counts', 'w2', 3, [5, 9]),
      traceHash('0:1/2', 'counts', 'w1', 4, [5, 9]),
      traceHash('0:1/2', 'counts', 'w1', 3, [5]),
    ])
      expect(other).not.toBe(h);
    expect(Number.isSafeInteger(h) && h > 0).toBe(true);
  });
});
