import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IntervalSet,
  LazyFcn,
  SetEnum,
  SubsetSet,
  compare,
  equals,
  fcnApply,
  fcnDomain,
  fcnExcept,
  fcnFromPairs,
  fcnKeys,
  fingerprint,
  fingerprintState,
  fingerprintStateInto,
  fromItf,
  mkFcn,
  modelValue,
  permute,
  record,
  setDiff,
  setIntersect,
  setOf,
  setUnion,
  toItf,
  toTla,
  tuple,
} from '../../../tla/values.ts';
import type { ModelValue, SetValue, Value } from '../../../tla/values.ts';
import { evalTla } from '../eval/helpers.ts';

const intV = fc.integer({ min: -4, max: 6 });
const strV = fc.constantFrom('a', 'b', 'c', '', 'a"b');
const setOfInts = fc.array(intV, { maxLength: 6 }).map((a) => setOf(a));
const setOfSets = fc.array(fc.array(intV, { maxLength: 3 }), { maxLength: 4 }).map((xs) => setOf(xs.map((x) => setOf(x))));
const tupleV = fc.array(intV, { maxLength: 4 }).map((a) => tuple(a));
const recV = fc.record({ a: intV, b: strV, c: tupleV }).map((r) => record(r));
const fcnV = fc.uniqueArray(intV, { maxLength: 4 }).chain((keys) =>
  fc.array(strV, { minLength: keys.length, maxLength: keys.length }).map((vals) => fcnFromPairs(keys, vals)),
);
const setOfTuples = fc.array(tupleV, { maxLength: 4 }).map((xs) => setOf(xs));
const setOfRecs = fc.array(recV, { maxLength: 3 }).map((xs) => setOf(xs));

/** Arrays of values of one kind (values of different kinds are not comparable in TLC). */
const sameKind = fc.oneof(
  fc.array(intV, { minLength: 1, maxLength: 5 }),
  fc.array(strV, { minLength: 1, maxLength: 5 }),
  fc.array(setOfInts, { minLength: 1, maxLength: 5 }),
  fc.array(setOfSets, { minLength: 1, maxLength: 4 }),
  fc.array(tupleV, { minLength: 1, maxLength: 5 }),
  fc.array(recV, { minLength: 1, maxLength: 4 }),
  fc.array(fcnV, { minLength: 1, maxLength: 4 }),
  fc.array(setOfTuples, { minLength: 1, maxLength: 4 }),
);
const anyValue = fc.oneof(intV, strV, fc.boolean(), setOfInts, setOfSets, tupleV, recV, fcnV, setOfTuples, setOfRecs);

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe('equality, TLC order and fingerprints', () => {
  it('compare is a total order consistent with equals and fingerprints', () => {
    fc.assert(
      fc.property(sameKind, (vs) => {
        for (const a of vs) {
          for (const b of vs) {
            const c = compare(a, b);
            expect(sign(c) + sign(compare(b, a))).toBe(0);
            expect(c === 0).toBe(equals(a, b));
            if (equals(a, b)) expect(fingerprint(a)).toBe(fingerprint(b));
            for (const d of vs) if (c <= 0 && compare(b, d) <= 0) expect(compare(a, d)).toBeLessThanOrEqual(0);
          }
        }
      }),
    );
  });

  it('equal values built in different representations are equal, ordered equal and fingerprint equal', () => {
    fc.assert(
      fc.property(fc.array(intV, { maxLength: 8 }), fc.array(strV, { maxLength: 6 }), (ints, strs) => {
        // Sets: from unsorted input with duplicates, from sorted unique input, from an interval.
        const a = setOf([...ints, ...ints].reverse());
        const b = setOf([...new Set(ints)].sort((x, y) => x - y));
        expect(equals(a, b)).toBe(true);
        expect(fingerprint(a)).toBe(fingerprint(b));
        if (ints.length > 0) {
          const lo = Math.min(...ints);
          const hi = Math.max(...ints);
          const range = new IntervalSet(lo, hi);
          const full = setOf(Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));
          expect(equals(range, full)).toBe(true);
          expect(compare(range, full)).toBe(0);
          expect(fingerprint(range)).toBe(fingerprint(full));
        }
        // Sequences: a tuple, a function on 1..n built from pairs in reverse, a lazy function.
        const t = tuple(strs);
        const keys = strs.map((_, i) => strs.length - i);
        const f = fcnFromPairs(keys, [...strs].reverse());
        const lazy = new LazyFcn(new IntervalSet(1, strs.length), (i) => strs[(i as number) - 1]!, true);
        expect(equals(t, f)).toBe(true);
        expect(equals(lazy, t)).toBe(true);
        expect(fingerprint(f)).toBe(fingerprint(t));
        expect(fingerprint(lazy)).toBe(fingerprint(t));
        // Records: field order is irrelevant; a record is a function with a string domain.
        const uniq = [...new Set(strs.filter((s) => /^[a-c]$/.test(s)))];
        if (uniq.length > 0) {
          const r1 = record(Object.fromEntries(uniq.map((s, i) => [s, i])));
          const r2 = fcnFromPairs([...uniq].reverse(), uniq.map((_, i) => uniq.length - 1 - i));
          expect(equals(r1, r2)).toBe(true);
          expect(fingerprint(r1)).toBe(fingerprint(r2));
        }
      }),
    );
  });

  it('the empty set, tuple and function are canonical', () => {
    expect(equals(setOf([]), new IntervalSet(1, 0))).toBe(true);
    expect(equals(tuple([]), fcnFromPairs([], []))).toBe(true);
    expect(equals(mkFcn([], []), record({}))).toBe(true);
    expect(fingerprint(new IntervalSet(3, 1))).toBe(fingerprint(setOf([])));
  });

  it('state fingerprints agree between the bigint and the two-word forms, and differ with order', () => {
    fc.assert(
      fc.property(fc.array(anyValue, { minLength: 1, maxLength: 4 }), (s) => {
        const out = new Uint32Array(2);
        fingerprintStateInto(s, out);
        expect((BigInt(out[0]!) << 32n) | BigInt(out[1]!)).toBe(fingerprintState(s));
      }),
    );
    expect(fingerprintState([1, 2])).not.toBe(fingerprintState([2, 1]));
    expect(fingerprintState([setOf([1])])).not.toBe(fingerprintState([tuple([1])]));
  });

  it('fingerprints are stable across processes (computed there from another representation)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'buffy-fp-'));
    try {
      const script = path.join(dir, 'fp.mts');
      const valuesPath = path.resolve('tla/values.ts');
      writeFileSync(
        script,
        `import * as V from ${JSON.stringify(valuesPath)};
const vals = [
  V.setOf([3, 2, 1, 2]),
  V.fcnFromPairs([2, 1], ['y', 'x']),
  V.fcnFromPairs(['b', 'a'], [V.tuple([V.modelValue('p1')]), V.setOf([])]),
  V.setOf([V.setOf([2]), V.setOf([1, 2]), V.setOf([])]),
];
console.log(JSON.stringify(vals.map((v) => V.fingerprint(v).toString())));
`,
      );
      const tsx = path.resolve('node_modules/tsx/dist/esm/index.mjs');
      const out = execFileSync(process.execPath, ['--import', tsx, script], { encoding: 'utf8' });
      const theirs = JSON.parse(out.trim()) as string[];
      const ours = [
        new IntervalSet(1, 3),
        tuple(['x', 'y']),
        record({ a: setOf([]), b: fcnFromPairs([1], [modelValue('p1')]) }),
        new SubsetSet(setOf([1, 2])),
      ].map((v) => fingerprint(v).toString());
      // SUBSET {1, 2} = {{}, {1}, {2}, {1, 2}} differs from the fourth value: {{}, {2}, {1, 2}}.
      expect(theirs.slice(0, 3)).toEqual(ours.slice(0, 3));
      expect(theirs[3]).not.toBe(ours[3]);
      expect(theirs[3]).toBe(fingerprint(setDiff(new SubsetSet(setOf([1, 2])), setOf([setOf([1])]))).toString());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('set algebra laws', () => {
  // Sets of integers, some as intervals (lazy) and some enumerated.
  const anySet: fc.Arbitrary<SetValue> = fc.oneof(
    setOfInts,
    fc.tuple(intV, intV).map(([a, b]) => new IntervalSet(a, b) as SetValue),
  );
  const eq = (a: Value, b: Value): void => {
    expect(equals(a, b)).toBe(true);
    expect(fingerprint(a)).toBe(fingerprint(b));
  };
  it('commutativity, associativity, distributivity and De Morgan with \\', () => {
    fc.assert(
      fc.property(anySet, anySet, anySet, (a, b, c) => {
        eq(setUnion(a, b), setUnion(b, a));
        eq(setIntersect(a, b), setIntersect(b, a));
        eq(setUnion(setUnion(a, b), c), setUnion(a, setUnion(b, c)));
        eq(setIntersect(setIntersect(a, b), c), setIntersect(a, setIntersect(b, c)));
        eq(setIntersect(a, setUnion(b, c)), setUnion(setIntersect(a, b), setIntersect(a, c)));
        eq(setUnion(a, setIntersect(b, c)), setIntersect(setUnion(a, b), setUnion(a, c)));
        eq(setDiff(a, setUnion(b, c)), setIntersect(setDiff(a, b), setDiff(a, c)));
        eq(setDiff(a, setIntersect(b, c)), setUnion(setDiff(a, b), setDiff(a, c)));
        for (const x of setUnion(a, b).normalized().elems) expect(a.has(x) || b.has(x)).toBe(true);
        for (const x of setDiff(a, b).normalized().elems) expect(a.has(x) && !b.has(x)).toBe(true);
      }),
    );
  });

  it('SUBSET membership agrees with its enumeration, which is in TLC order', () => {
    fc.assert(
      fc.property(fc.array(intV, { maxLength: 5 }), setOfInts, (base, probe) => {
        const s = new SubsetSet(setOf(base));
        const all = s.normalized().elems;
        expect(all.length).toBe(2 ** setOf(base).elems.length);
        for (let i = 1; i < all.length; i++) expect(compare(all[i - 1]!, all[i]!)).toBeLessThan(0);
        expect(s.has(probe)).toBe(all.some((x) => equals(x, probe)));
      }),
    );
  });
});

describe('EXCEPT and DOMAIN laws', () => {
  it('EXCEPT keeps the domain, sets the updated point and nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fcnV, tupleV.map((t) => t as Value)), intV, strV, (f, k, v) => {
        const g = fcnExcept(f, k, v);
        eq(fcnDomain(g), fcnDomain(f));
        for (const key of fcnKeys(f)) {
          if (equals(key, k)) expect(fcnApply(g, key)).toBe(v);
          else expect(equals(fcnApply(g, key), fcnApply(f, key))).toBe(true);
        }
        if (!fcnDomain(f).has(k)) expect(equals(g, f)).toBe(true);
      }),
    );
    function eq(a: Value, b: Value): void {
      expect(equals(a, b)).toBe(true);
    }
  });
});

describe('printing, ITF and symmetry', () => {
  it('toTla round-trips through the parser and the evaluator', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (v) => {
        const text = toTla(v);
        const back = await evalTla(text);
        expect(equals(back, v)).toBe(true);
        expect(toTla(back)).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  it('prints TLC syntax', () => {
    expect(toTla(tuple([1, 2]))).toBe('<<1, 2>>');
    expect(toTla(record({ b: 2, a: 1 }))).toBe('[a |-> 1, b |-> 2]');
    expect(toTla(setOf([2, 1]))).toBe('{1, 2}');
    expect(toTla(fcnFromPairs([3, 1], [4, 2]))).toBe('(1 :> 2 @@ 3 :> 4)');
    expect(toTla(modelValue('p1'))).toBe('p1');
    expect(toTla('say "hi"')).toBe('"say \\"hi\\""');
  });

  it('ITF encoding round-trips and is plain JSON', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const j = JSON.parse(JSON.stringify(toItf(v)));
        expect(equals(fromItf(j), v)).toBe(true);
      }),
    );
    expect(toItf(setOf([1]))).toEqual({ '#set': [{ '#bigint': '1' }] });
    expect(toItf(tuple(['a']))).toEqual({ '#tup': ['a'] });
    expect(toItf(record({ a: true }))).toEqual({ a: true });
    expect(toItf(fcnFromPairs([0], [1]))).toEqual({ '#map': [[{ '#bigint': '0' }, { '#bigint': '1' }]] });
    expect(toItf(modelValue('p1'))).toEqual({ '#unserializable': 'p1' });
  });

  it('permute applies a permutation of model values everywhere, and its inverse undoes it', () => {
    const ps = ['p1', 'p2', 'p3'].map(modelValue);
    const perm = new Map<ModelValue, ModelValue>([
      [ps[0]!, ps[1]!],
      [ps[1]!, ps[2]!],
      [ps[2]!, ps[0]!],
    ]);
    const inv = new Map([...perm].map(([a, b]) => [b, a] as const));
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ps), { maxLength: 4 }), fc.array(intV, { maxLength: 3 }), (mvs, ints) => {
        const v = tuple([setOf([...mvs]), fcnFromPairs([...new Set(mvs)], [...new Set(mvs)].map((_, i) => ints[i] ?? 0)), record({ who: tuple(mvs) })]);
        const p = permute(v, perm);
        expect(equals(permute(p, inv), v)).toBe(true);
        // The full set of model values is invariant under any permutation.
        expect(fingerprint(permute(setOf([...ps]), perm))).toBe(fingerprint(setOf([...ps])));
      }),
    );
    expect(ps[0]).toBe(modelValue('p1'));
    expect(equals(ps[0]!, 1)).toBe(false);
    expect(equals('p1', ps[0]!)).toBe(false);
    expect(new SetEnum([]).isFinite()).toBe(true);
  });
});
