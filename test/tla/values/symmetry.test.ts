// The permuted fingerprints used by SYMMETRY (PermGroup, permutedFingerprints,
// leastPermutedFingerprintInto) must equal the fingerprints of the values actually permuted
// (permute), whatever the representation of the value, and must not confuse different values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FcnValue,
  IntervalSet,
  RecordValue,
  SetEnum,
  TupleValue,
  LazyFcn,
  PermGroup,
  SubsetSet,
  equals,
  fcnFromPairs,
  fingerprint,
  fingerprintStateInto,
  leastPermutedFingerprintInto,
  modelValue,
  permute,
  permutedFingerprints,
  record,
  setOf,
  setPermCacheLimit,
  tuple,
} from '../../../tla/values.ts';
import type { ModelValue, Value } from '../../../tla/values.ts';

const qs = ['q1', 'q2', 'q3', 'q4'].map(modelValue);
const ws = ['w1', 'w2'].map(modelValue);
const other = modelValue('q_outside');

/** All permutations of xs as maps (the identity included). */
function permutations(xs: readonly ModelValue[]): Map<ModelValue, ModelValue>[] {
  if (xs.length === 0) return [new Map()];
  const out: Map<ModelValue, ModelValue>[] = [];
  // xs[0] goes to xs[i]; the others are a permutation of the remaining images.
  for (let i = 0; i < xs.length; i++) {
    const images = [...xs.slice(0, i), ...xs.slice(i + 1)];
    for (const p of permutations(images)) {
      const m = new Map<ModelValue, ModelValue>([[xs[0]!, xs[i]!]]);
      xs.slice(1).forEach((x, j) => m.set(x, p.get(images[j]!)!));
      out.push(m);
    }
  }
  return out;
}

/** A copy of v made of new objects (lazy values are kept). */
function clone(v: Value): Value {
  if (v instanceof SetEnum) return new SetEnum(v.elems.map(clone));
  if (v instanceof TupleValue) return new TupleValue(v.elems.map(clone));
  if (v instanceof RecordValue) return new RecordValue(v.names, v.vals.map(clone));
  if (v instanceof FcnValue) return new FcnValue(v.dom.map(clone), v.vals.map(clone));
  return v;
}

/** Maps from -> to pairwise (a bijection when to is a rearrangement of from). */
const mapOf = (from: readonly ModelValue[], to: readonly ModelValue[]) =>
  new Map(from.map((x, i) => [x, to[i]!] as const));

const mv = fc.constantFrom(...qs, ...ws, other);
// Values of one kind per position so sets stay comparable (TLC cannot order mixed kinds).
const { tree } = fc.letrec<{ tree: Value }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    mv,
    fc.array(mv, { maxLength: 5 }).map((xs) => setOf(xs)),
    fc.array(tie('tree'), { maxLength: 3 }).map((xs) => tuple(xs)),
    fc.record({ src: mv, dst: tie('tree'), n: fc.integer({ min: 0, max: 2 }) }).map((r) => record(r)),
    // A function on model values (the usual symmetric variable), built from unsorted pairs.
    fc
      .uniqueArray(mv, { maxLength: 4 })
      .chain((ks) =>
        fc
          .array(tie('tree'), { minLength: ks.length, maxLength: ks.length })
          .map((vs) => fcnFromPairs(ks, vs)),
      ),
    // Sets of records and of tuples of model values (messages, edges).
    fc.array(fc.record({ src: mv, dst: mv }), { maxLength: 5 }).map((xs) => setOf(xs.map((r) => record(r)))),
    fc
      .array(fc.tuple(mv, fc.integer({ min: 0, max: 2 })), { maxLength: 4 })
      .map((xs) => setOf(xs.map(([a, b]) => tuple([a, b])))),
    // Sets of sets of model values (quorums) and lazy sets.
    fc
      .array(fc.array(mv, { maxLength: 3 }), { maxLength: 4 })
      .map((xss) => setOf(xss.map((xs) => setOf(xs)))),
    fc.array(mv, { maxLength: 3 }).map((xs) => new SubsetSet(setOf(xs))),
    fc.integer({ min: 0, max: 3 }).map((n) => new IntervalSet(1, n)),
    // A lazy function on model values.
    fc.array(mv, { maxLength: 3 }).map((xs) => new LazyFcn(setOf(xs), (x) => tuple([x, 1]), true)),
  ),
}));

describe('permuted fingerprints', () => {
  const full = new PermGroup(permutations(qs));
  const product = new PermGroup(
    permutations(qs).flatMap((p) => permutations(ws).map((r) => new Map([...p, ...r]))),
  );
  const partial = new PermGroup([
    mapOf(qs.slice(0, 3), [qs[1]!, qs[2]!, qs[0]!]),
    mapOf(ws, [ws[1]!, ws[0]!]),
  ]);

  it('the permutations enumerated here are the 24 distinct bijections of 4 points', () => {
    const keys = new Set(full.perms.map((p) => qs.map((q) => p.get(q)!.name).join(',')));
    expect(keys.size).toBe(24);
    for (const k of keys) expect(new Set(k.split(',')).size).toBe(4);
  });

  it('equal fingerprint(permute(v, p)) for every value and permutation (three groups, caches shared)', () => {
    fc.assert(
      fc.property(tree, (v) => {
        for (const g of [full, product, partial, full]) {
          const fps = permutedFingerprints(v, g);
          expect(fps.length).toBe(g.size);
          g.perms.forEach((p, i) => expect(fps[i]).toBe(fingerprint(permute(v, p))));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the least permuted state fingerprint is the least over the permuted states', () => {
    const least = (state: readonly Value[], g: PermGroup): bigint => {
      let best: bigint | null = null;
      const tmp = new Uint32Array(2);
      for (const p of g.perms) {
        fingerprintStateInto(
          state.map((x) => permute(x, p)),
          tmp,
        );
        const f = (BigInt(tmp[0]!) << 32n) | BigInt(tmp[1]!);
        if (best === null || f < best) best = f;
      }
      return best!;
    };
    const check = () =>
      fc.assert(
        // States that share some of their values and not others (fresh copies), checked one
        // after the other with the same group, as the checker does.
        fc.property(fc.array(tree, { minLength: 1, maxLength: 4 }), (pool) => {
          const n = pool.length;
          const states = pool.flatMap((v, i) => [
            [v, clone(pool[(i + 1) % n]!)],
            [pool[(i + 1) % n]!, v, clone(v)],
            // v seen before as a whole state value, now as an element.
            [setOf([v]), v],
          ]);
          for (const g of [full, partial]) {
            for (const state of states) {
              const out = new Uint32Array(2);
              leastPermutedFingerprintInto(state, g, out);
              expect((BigInt(out[0]!) << 32n) | BigInt(out[1]!)).toBe(least(state, g));
            }
          }
        }),
        { numRuns: 150 },
      );
    check();
    // The same with a cache emptied between almost every two states.
    setPermCacheLimit(64);
    try {
      check();
    } finally {
      setPermCacheLimit(1 << 22);
    }
  });

  it('values in the same orbit have the same least fingerprint, values in different orbits not', () => {
    const [a, b, c] = qs;
    // {a -> b, b -> c} and {c -> a, a -> b} are the same shape (a path of two edges) ...
    const path1 = setOf([record({ src: a!, dst: b! }), record({ src: b!, dst: c! })]);
    const path2 = setOf([record({ src: c!, dst: a! }), record({ src: a!, dst: b! })]);
    // ... a fork {a -> b, a -> c} is not.
    const fork = setOf([record({ src: a!, dst: b! }), record({ src: a!, dst: c! })]);
    const least = (v: Value) => {
      const out = new Uint32Array(2);
      leastPermutedFingerprintInto([v], full, out);
      return `${out[0]}:${out[1]}`;
    };
    expect(least(path1)).toBe(least(path2));
    expect(least(path1)).not.toBe(least(fork));
    expect(equals(path1, path2)).toBe(false);
  });

  it('compositional hashes separate values that share their parts', () => {
    // Every subset of 12 integers, every function 1..3 -> 0..5 and every partition-like
    // regrouping of 1..4 into two sets get pairwise different fingerprints.
    const seen = new Set<bigint>();
    for (let m = 0; m < 1 << 12; m++)
      seen.add(fingerprint(setOf([...Array(12).keys()].filter((i) => (m >> i) & 1))));
    expect(seen.size).toBe(4096);
    const fns = new Set<bigint>();
    for (let x = 0; x < 216; x++)
      fns.add(fingerprint(tuple([x % 6, Math.floor(x / 6) % 6, Math.floor(x / 36)])));
    expect(fns.size).toBe(216);
    const groups = new Set<bigint>();
    for (let m = 0; m < 16; m++) {
      const inA = [1, 2, 3, 4].filter((i) => (m >> (i - 1)) & 1);
      const inB = [1, 2, 3, 4].filter((i) => !((m >> (i - 1)) & 1));
      groups.add(fingerprint(setOf([setOf(inA), setOf(inB)])));
    }
    // {A, B} = {B, A}: the 16 masks give 8 different sets of two sets.
    expect(groups.size).toBe(8);
    // A set is not the tuple or function of its elements, a key is not its value.
    expect(fingerprint(setOf([1, 2]))).not.toBe(fingerprint(tuple([1, 2])));
    expect(fingerprint(fcnFromPairs([1, 2], [2, 1]))).not.toBe(fingerprint(fcnFromPairs([1, 2], [1, 2])));
    expect(fingerprint(record({ a: 'b' }))).not.toBe(fingerprint(record({ b: 'a' })));
  });
});
