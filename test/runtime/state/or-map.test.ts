// OR-Map with counters, sets and maps as values: laws, meaning against a reference computed
// from the operations, and the sharded form (one entry per key, as a state step holds it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  GCounter,
  ORMap,
  ORMapOp,
  ORSet,
  ORSetOp,
  EntryCounter,
  GSet,
} from '../../../runtime/state/index.ts';
import { GCounterType, GSetType, entryCounter, orMap, orSet } from '../../../runtime/state/index.ts';
import type { Authored } from './harness.ts';
import { deepFreeze } from './harness.ts';
import { checkLaws } from './laws.ts';

const key = fc.constantFrom('k', 'l', 'm');
type Cmd<C> = { t: 'up'; k: string; c: C } | { t: 'rm'; k: string };
function cmdArb<C>(c: fc.Arbitrary<C>): fc.Arbitrary<Cmd<C>> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('up' as const), k: key, c }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('rm' as const), k: key }) },
  );
}

/** Keys present: one of their presence-adding updates was observed by no remove. */
function presentKeys<Op>(ops: readonly Authored<ORMapOp<Op>>[]): Set<string> {
  const observed = new Set<string>();
  for (const a of ops) {
    const obs = a.op.t === 'rm' ? a.op.obs : a.op.add;
    if (obs)
      for (let i = 0; i < obs.length; i += 3) observed.add(`${a.op.k}/${obs.slice(i, i + 3).join(':')}`);
  }
  const present = new Set<string>();
  for (const a of ops) {
    if (
      a.op.t === 'up' &&
      a.op.add !== null &&
      !observed.has(`${a.op.k}/${a.id.source}:${a.id.offset}:${a.id.sub}`)
    ) {
      present.add(a.op.k);
    }
  }
  return present;
}

const Counters = orMap(GCounterType);
checkLaws<ORMap<GCounter>, { readonly [k: string]: number }, ORMapOp<number>, Cmd<number>>({
  name: 'OR-Map<G-Counter> (window 16, causal)',
  type: Counters,
  cmd: cmdArb(fc.integer({ min: 0, max: 9 })),
  prepare: (s, c) => Counters.prepare(s, c.k, c.t === 'rm' ? { t: 'rm' } : { t: 'up', op: c.c }),
  delivery: 'causal',
  exact: false,
  reference: (ops) => {
    const present = presentKeys(ops);
    const out: Record<string, number> = {};
    for (const k of [...present].sort()) out[k] = 0;
    for (const a of ops) if (a.op.t === 'up' && present.has(a.op.k)) out[a.op.k]! += a.op.op;
    return out;
  },
});

const EC = entryCounter({ window: Infinity });
const AnyOrderCounters = orMap(EC, { window: Infinity });
checkLaws<ORMap<EntryCounter>, { readonly [k: string]: number }, ORMapOp<number>, Cmd<number>>({
  name: 'OR-Map<EntryCounter> (window Infinity, any order)',
  type: AnyOrderCounters,
  cmd: cmdArb(fc.integer({ min: -9, max: 9 })),
  prepare: (s, c) => AnyOrderCounters.prepare(s, c.k, c.t === 'rm' ? { t: 'rm' } : { t: 'up', op: c.c }),
  delivery: 'any',
  exact: true,
  reference: (ops) => {
    const present = presentKeys(ops);
    const out: Record<string, number> = {};
    for (const k of [...present].sort()) out[k] = 0;
    for (const a of ops) if (a.op.t === 'up' && present.has(a.op.k)) out[a.op.k]! += a.op.op;
    return out;
  },
});

const Sets = orSet({ window: Infinity });
const MapOfSets = orMap(Sets, { window: Infinity });
type SetCmd = { t: 'add' | 'rm'; e: string };
checkLaws<ORMap<ORSet>, { readonly [k: string]: readonly string[] }, ORMapOp<ORSetOp>, Cmd<SetCmd>>({
  name: 'OR-Map<OR-Set> (window Infinity, any order)',
  type: MapOfSets,
  cmd: cmdArb(fc.record({ t: fc.constantFrom<'add' | 'rm'>('add', 'rm'), e: fc.constantFrom('a', 'b') })),
  prepare: (s, c) => {
    if (c.t === 'rm') return MapOfSets.prepare(s, c.k, { t: 'rm' });
    const inner = s[c.k]?.v ?? Sets.empty();
    return MapOfSets.prepare(s, c.k, { t: 'up', op: Sets.prepare(inner, c.c.t, c.c.e) });
  },
  delivery: 'any',
  exact: true,
});

const Inner = orMap(GSetType, { window: Infinity });
const Nested = orMap(Inner, { window: Infinity });
type NestedOp = ORMapOp<ORMapOp<string>>;
checkLaws<ORMap<ORMap<GSet>>, unknown, NestedOp, Cmd<{ k: string; e: string }>>(
  {
    name: 'OR-Map<OR-Map<G-Set>> (window Infinity, any order)',
    type: Nested as never,
    cmd: cmdArb(fc.record({ k: key, e: fc.constantFrom('a', 'b') })),
    prepare: (s, c) => {
      if (c.t === 'rm') return Nested.prepare(s, c.k, { t: 'rm' });
      const inner = s[c.k]?.v ?? Inner.empty();
      return Nested.prepare(s, c.k, {
        t: 'up',
        op: Inner.prepare(inner, c.c.k, { t: 'up', op: c.c.e }),
      });
    },
    delivery: 'any',
    exact: true,
  },
  60,
);

const id = (source: number, offset: number, sub = 0) => ({ source, offset, sub });

describe('OR-Map: meaning', () => {
  it('remove hides a key; an update after it shows it again, with the value kept', () => {
    const T = Counters;
    let m = T.update(T.empty(), id(0, 1), 'w', 2);
    m = T.update(m, id(0, 2), 'w', 3);
    expect(T.value(m)).toEqual({ w: 5 });
    m = T.remove(m, id(0, 3), 'w');
    expect(T.value(m)).toEqual({});
    expect(T.get(m, 'w')).toBeUndefined();
    m = T.update(m, id(0, 4), 'w', 1);
    expect(T.value(m)).toEqual({ w: 6 });
  });

  it('an update that makes a key present wins over a concurrent remove', () => {
    const T = Counters;
    const base = T.update(T.empty(), id(0, 1), 'w', 1);
    const removed = T.remove(base, id(1, 1), 'w');
    const readded = T.update(T.remove(base, id(2, 1), 'w'), id(2, 2), 'w', 1);
    expect(T.value(T.merge(removed, readded))).toEqual({ w: 2 });
  });

  it('sharded: entries kept one per key (a state step) assemble into the same map', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.integer({ min: 0, max: 5 })), { maxLength: 40 }), (updates) => {
        let whole = Counters.empty();
        let prepared = Counters.empty();
        const shards = new Map<string, ReturnType<typeof Counters.entry.empty>>();
        updates.forEach(([k, n], offset) => {
          whole = Counters.update(whole, id(0, offset), k, n);
          // The fast path (update, one freeze around an unfrozen counter) = the prepared op.
          prepared = deepFreeze(
            Counters.apply(prepared, id(0, offset), Counters.prepare(prepared, k, { t: 'up', op: n })),
          );
          shards.set(k, Counters.entry.update(shards.get(k) ?? Counters.entry.empty(), id(0, offset), n));
        });
        expect(whole).toEqual(prepared);
        expect(Counters.fromEntries(shards)).toEqual(whole);
        expect(Counters.value(Counters.fromEntries(shards))).toEqual(Counters.value(whole));
      }),
    );
  });

  it('a duplicate update of a present key is the identity (no new object)', () => {
    const e1 = Counters.entry.update(Counters.entry.empty(), id(0, 1), 1);
    const e2 = Counters.entry.update(e1, id(0, 2), 1);
    expect(Object.isFrozen(e2)).toBe(true); // so the engine commits it with one isFrozen test
    expect(Counters.entry.update(e2, id(0, 2), 1)).toBe(e2);
    expect(Counters.entry.update(e2, id(0, 1), 1)).toBe(e2);
    expect(Counters.entry.value(e2)).toBe(2);
  });

  it('a torn entry is refused, naming the path', () => {
    expect(() => Counters.check({ w: { d: [], c: [], v: { o: 0, n: 1, w: 2, s: 0 } } })).toThrow(
      /or-map<g-counter>\.w\.v: missing field "r"/,
    );
    expect(() => Counters.check({ w: { d: [], c: [], v: { o: 0, n: -1, w: 2, s: 0, r: null } } })).toThrow(
      /or-map<g-counter>\.w\.v\.n: -1 is not a non-negative total/,
    );
    expect(() => Counters.check({ w: { d: [], c: [] } })).toThrow(/missing field "v"/);
  });
});
