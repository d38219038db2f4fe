// The laws every CRDT of runtime/state must satisfy, as fast-check properties over a Model:
// merge is commutative, associative and idempotent; replicas converge under any delivery order
// (per-origin FIFO for FIFO types) with any duplication; op-based and state-based replication
// agree; safe compaction keeps the value; a duplicate is the identity; states survive the codec
// and the store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crdtCodec, decodeState, encodeState } from '../../../runtime/state/index.ts';
import { MemoryStore } from '../../../runtime/system.ts';
import type { Authored, Model } from './harness.ts';
import {
  author,
  deepFreeze,
  distinct,
  missing,
  run,
  safeFrontier,
  schedule,
  stepsArb,
  subset,
} from './harness.ts';

const seed = fc.integer({ min: 0, max: 0x7fffffff });

export function checkLaws<S, V, Op, Cmd>(m: Model<S, V, Op, Cmd>, numRuns = 150): void {
  const T = m.type;
  const history = stepsArb(m.cmd).map((steps) => author(m, steps));
  /** Structural equality when the model is exact, else equality of values. */
  const same = (a: S, b: S): void => {
    if (m.exact) expect(a).toEqual(b);
    else expect(T.value(a)).toEqual(T.value(b));
  };
  /** A partial replica: a subset of the ops, delivered with duplicates, maybe compacted. */
  const replica = (ops: readonly Authored<Op>[], s: number, compact: boolean): S => {
    const got = subset(ops, m.delivery, s);
    const st = run(T, schedule(got, m.delivery, s + 1));
    return compact ? deepFreeze(T.compact(st, safeFrontier(ops, got, s + 2)), T.name) : st;
  };

  describe(`${m.name}: laws`, () => {
    it('merge is commutative, associative and idempotent', () => {
      fc.assert(
        fc.property(history, seed, seed, seed, fc.boolean(), (ops, s1, s2, s3, compact) => {
          const a = replica(ops, s1, compact);
          const b = replica(ops, s2, compact);
          const c = replica(ops, s3, false);
          expect(T.merge(a, b)).toEqual(T.merge(b, a));
          expect(T.merge(T.merge(a, b), c)).toEqual(T.merge(a, T.merge(b, c)));
          expect(T.merge(a, a)).toEqual(a);
          expect(T.merge(a, T.empty())).toEqual(a);
        }),
        { numRuns },
      );
    });

    it('replicas converge under any order and duplication of the ops', () => {
      fc.assert(
        fc.property(history, seed, seed, (ops, s1, s2) => {
          const a = run(T, schedule(ops, m.delivery, s1));
          const b = run(T, schedule(ops, m.delivery, s2));
          const inOrder = run(T, ops);
          same(a, b);
          same(a, inOrder);
          if (m.reference) expect(T.value(a)).toEqual(m.reference(distinct(ops)));
        }),
        { numRuns },
      );
    });

    it('state-based replication (merging partial replicas) equals op-based (applying their ops)', () => {
      fc.assert(
        fc.property(history, seed, seed, seed, (ops, s1, s2, s3) => {
          const parts = [s1, s2, s3].map((s) => subset(ops, m.delivery, s));
          const merged = parts
            .map((p, i) => run(T, schedule(p, m.delivery, i + s1)))
            .reduce((x, y) => T.merge(x, y), T.empty());
          const union = new Set(parts.flat());
          const opBased = run(
            T,
            schedule(
              ops.filter((a) => union.has(a)),
              m.delivery,
              s2 + 7,
            ),
          );
          same(merged, opBased);
          // And once every replica has every op, merging converges on the op-based state.
          const completed = parts.map((p, i) => run(T, schedule(missing(ops, p), m.delivery, i), run(T, p)));
          same(
            completed.reduce((x, y) => T.merge(x, y)),
            run(T, ops),
          );
        }),
        { numRuns },
      );
    });

    it('safe compaction keeps the value, now and after the remaining ops and merges', () => {
      fc.assert(
        fc.property(history, seed, seed, (ops, s1, s2) => {
          const got = subset(ops, m.delivery, s1);
          const st = run(T, schedule(got, m.delivery, s1));
          const f = safeFrontier(ops, got, s2);
          const compacted = deepFreeze(T.compact(st, f), T.name);
          expect(T.value(compacted)).toEqual(T.value(st));
          const rest = schedule(missing(ops, got), m.delivery, s2);
          expect(T.value(run(T, rest, compacted))).toEqual(T.value(run(T, rest, st)));
          const other = replica(ops, s2 + 3, false);
          expect(T.value(T.merge(compacted, other))).toEqual(T.value(T.merge(st, other)));
        }),
        { numRuns },
      );
    });

    it('applying a message again returns the same object (the identity transition)', () => {
      fc.assert(
        fc.property(history, seed, (ops, s1) => {
          let st = T.empty();
          for (const a of schedule(ops, m.delivery, s1, 0)) {
            st = deepFreeze(T.apply(st, a.id, a.op), T.name);
            expect(T.apply(st, a.id, a.op)).toBe(st);
          }
        }),
        { numRuns },
      );
    });

    it('states survive the codec and the store', async () => {
      await fc.assert(
        fc.asyncProperty(history, seed, fc.boolean(), async (ops, s1, compact) => {
          const st = replica(ops, s1, compact);
          const codec = crdtCodec(T);
          expect(codec.decode(codec.encode(st))).toEqual(st);
          const store = new MemoryStore();
          await store.writeBatch([{ key: `state/${T.name}`, value: encodeState(T, st) }]);
          const back = decodeState(T, (await store.get(`state/${T.name}`))!);
          expect(back).toEqual(st);
          expect(T.value(back)).toEqual(T.value(st));
          // The decoded state goes on like the original.
          const more = schedule(ops, m.delivery, s1 + 5);
          expect(run(T, more, back)).toEqual(run(T, more, st));
        }),
        { numRuns: Math.ceil(numRuns / 3) },
      );
    });
  });
}
