import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RemoteBatchError,
  decodeRemoteBatch,
  encodeRemoteBatch,
} from '../../../runtime/engine/remote-batch.ts';
import type { RawPayload, RemoteBatch } from '../../../runtime/types.ts';

const payload: fc.Arbitrary<RawPayload> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 200 }),
);
const message = fc.record({
  source: fc.integer({ min: 0, max: 65535 }),
  offset: fc.maxSafeNat(),
  sub: fc.maxSafeNat(),
  partition: fc.integer({ min: 0, max: 65535 }),
  bornMs: fc.double({ min: 1.6e12, max: 1.9e12, noNaN: true }),
  payload,
});
const batchArb: fc.Arbitrary<RemoteBatch> = fc
  .record({
    step: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
    fromWorker: fc.string({ minLength: 1, maxLength: 20 }),
    messages: fc.array(message, { maxLength: 40 }),
  })
  .filter((r) => {
    // Birth times of one batch lie within a day of each other (one batch is recent traffic).
    const t = r.messages.map((m) => m.bornMs);
    return t.length === 0 || Math.max(...t) - Math.min(...t) < 86_400_000;
  })
  .map((r) => ({
    step: r.step,
    fromWorker: r.fromWorker,
    source: r.messages.map((m) => m.source),
    offset: r.messages.map((m) => m.offset),
    sub: r.messages.map((m) => m.sub),
    partition: r.messages.map((m) => m.partition),
    bornMs: r.messages.map((m) => m.bornMs),
    payloads: r.messages.map((m) => m.payload),
  }));

function expectSame(a: RemoteBatch, b: RemoteBatch): void {
  expect(b.step).toBe(a.step);
  expect(b.fromWorker).toBe(a.fromWorker);
  expect(b.source).toEqual(a.source);
  expect(b.offset).toEqual(a.offset);
  expect(b.sub).toEqual(a.sub);
  expect(b.partition).toEqual(a.partition);
  expect(b.payloads.length).toBe(a.payloads.length);
  a.payloads.forEach((p, i) => {
    const q = b.payloads[i]!;
    if (typeof p === 'string') expect(q).toBe(p);
    else expect(Buffer.from(q as Uint8Array).equals(Buffer.from(p))).toBe(true);
  });
  // Birth times are kept to the microsecond.
  a.bornMs.forEach((t, i) => expect(Math.abs(b.bornMs[i]! - t)).toBeLessThanOrEqual(0.0006));
}

describe('remote batch codec', () => {
  it('round-trips arbitrary batches', () => {
    fc.assert(
      fc.property(batchArb, (batch) => expectSame(batch, decodeRemoteBatch(encodeRemoteBatch(batch)))),
      {
        numRuns: 300,
      },
    );
  });

  it('rejects every truncation with an error naming the byte offset', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), (batch, cut) => {
        const bytes = encodeRemoteBatch(batch);
        const at = cut % bytes.length;
        expect(() => decodeRemoteBatch(bytes.subarray(0, at))).toThrow(RemoteBatchError);
        expect(() => decodeRemoteBatch(bytes.subarray(0, at))).toThrow(/at byte \d+ of \d+/);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects trailing bytes, a bad magic byte and an unknown version', () => {
    const b: RemoteBatch = {
      step: 's',
      fromWorker: 'w',
      source: [0],
      offset: [1],
      sub: [2],
      partition: [3],
      bornMs: [1.7e12],
      payloads: ['x'],
    };
    const bytes = encodeRemoteBatch(b);
    expect(() => decodeRemoteBatch(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/1 trailing bytes/);
    const bad = Buffer.from(bytes);
    bad[0] = 0;
    expect(() => decodeRemoteBatch(bad)).toThrow(/bad magic/);
    const v2 = Buffer.from(bytes);
    v2[1] = 9;
    expect(() => decodeRemoteBatch(v2)).toThrow(/unsupported version 9/);
  });

  it('refuses to encode inconsistent batches, naming the problem', () => {
    const base = {
      step: 's',
      fromWorker: 'w',
      source: [0],
      offset: [1],
      sub: [2],
      partition: [3],
      bornMs: [1],
      payloads: ['x'],
    };
    expect(() => encodeRemoteBatch({ ...base, sub: [] })).toThrow(/columns differ in length/);
    expect(() => encodeRemoteBatch({ ...base, offset: [-1] })).toThrow(/message 0: offset -1/);
    expect(() => encodeRemoteBatch({ ...base, bornMs: [NaN] })).toThrow(/bornMs/);
  });

  it('is compact: a batch of short words costs a few bytes per message beyond the words', () => {
    const words = Array.from({ length: 1000 }, (_, i) => `w${i % 50}`);
    const bytes = encodeRemoteBatch({
      step: 'counts',
      fromWorker: 'w1',
      source: words.map(() => 0),
      offset: words.map((_, i) => 1000 + (i >> 3)),
      sub: words.map((_, i) => (i % 8) + 1),
      partition: words.map((_, i) => i % 128),
      bornMs: words.map(() => 1.7e12),
      payloads: words,
    });
    const wordBytes = words.reduce((a, w) => a + w.length, 0);
    expect((bytes.length - wordBytes) / words.length).toBeLessThan(10);
  });
});

describe('exactly-once source ranges (version 2)', () => {
  const base: RemoteBatch = {
    step: 'count',
    fromWorker: 'w1',
    source: [0],
    offset: [7],
    sub: [0],
    bornMs: [1.7e12],
    partition: [3],
    payloads: ['x'],
  };
  it('round-trips ranges (from -1 included), empty batches that only carry a range, and none', () => {
    const range = fc.tuple(
      fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: -1, max: 2 ** 40 }),
      fc.nat(1000),
    );
    fc.assert(
      fc.property(fc.array(range, { maxLength: 4 }), fc.boolean(), (rs, empty) => {
        const ranges = rs.map(([source, from, len]) => ({ source, from, through: from + len }));
        const b: RemoteBatch = {
          ...(empty
            ? { ...base, source: [], offset: [], sub: [], bornMs: [], partition: [], payloads: [] }
            : base),
          ...(ranges.length > 0 ? { ranges } : {}),
        };
        expect(decodeRemoteBatch(encodeRemoteBatch(b))).toEqual(b);
      }),
    );
  });

  it('refuses a range that runs backwards, and a batch of version 1', () => {
    expect(() => encodeRemoteBatch({ ...base, ranges: [{ source: 0, from: 9, through: 3 }] })).toThrow(
      /range 0 of source 0 runs from 9 back to 3/,
    );
    const bytes = encodeRemoteBatch(base);
    bytes[1] = 1;
    expect(() => decodeRemoteBatch(bytes)).toThrow(/unsupported version 1 \(expected 2\)/);
  });
});
