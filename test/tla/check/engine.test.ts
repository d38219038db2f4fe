import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { search } from '../../../tla/check/engine.ts';
import { FingerprintMap, FingerprintSet } from '../../../tla/check/fpset.ts';
import { bfsDepths, fakeSystem, graphFromLists } from './fake.ts';

const arbGraph = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    init: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 3 }),
    lists: fc.array(fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 4 }), {
      minLength: n,
      maxLength: n,
    }),
  }),
);

describe('FingerprintSet', () => {
  it('numbers new fingerprints and finds them again across rehashes', () => {
    const set = new FingerprintSet(4);
    const ids: number[] = [];
    for (let i = 0; i < 5000; i++) ids.push(set.add(i * 7919, (i * 104729) ^ 0x5555, i - 1));
    expect(ids).toEqual([...Array(5000).keys()]);
    for (let i = 0; i < 5000; i++) {
      expect(set.find(i * 7919, (i * 104729) ^ 0x5555)).toBe(i);
      expect(set.add(i * 7919, (i * 104729) ^ 0x5555, 0)).toBe(-(i + 1));
      expect(set.parent(i)).toBe(i - 1);
    }
    expect(set.find(1, 1)).toBe(-1);
    expect(set.size).toBe(5000);
  });
});

describe('FingerprintMap', () => {
  it('maps fingerprints, and starts again empty when full (a cache)', () => {
    const m = new FingerprintMap(4); // 16 slots, cleared past 8 entries
    const out = new Uint32Array(2);
    for (let i = 0; i < 8; i++) m.set(i, i * 3, i + 100, i + 200);
    for (let i = 0; i < 8; i++) {
      expect(m.get(i, i * 3, out)).toBe(true);
      expect([...out]).toEqual([i + 100, i + 200]);
    }
    expect(m.get(1, 4, out)).toBe(false);
    m.set(8, 24, 1, 2); // full: cleared first
    expect(m.get(0, 0, out)).toBe(false);
    expect(m.get(8, 24, out)).toBe(true);
  });
});

describe('search', () => {
  it('counts like TLC on a small graph: generated includes duplicates, depth counts states', () => {
    // 0 -> 1, 2; 1 -> 2, 1(self); 2 -> 0
    const sys = fakeSystem({ init: [0, 0], succ: { 0: [1, 2], 1: [2, 1], 2: [0] } });
    const r = search(sys);
    expect(r.result).toBe('ok');
    expect(r.distinctStates).toBe(3);
    expect(r.statesGenerated).toBe(2 + 2 + 2 + 1);
    expect(r.depth).toBe(2);
  });

  it('reports a deadlock with the shortest trace, and not when deadlock checking is off', () => {
    const g = { init: [0], succ: { 0: [1, 2], 1: [3], 2: [0], 3: [4], 4: [] } };
    const r = search(fakeSystem(g));
    expect(r.result).toBe('deadlock');
    expect(r.violation!.trace.steps.map((s) => s.state)).toEqual([0, 1, 3, 4]);
    expect(r.violation!.trace.steps.map((s) => s.label)).toEqual([null, '0->1', '1->3', '3->4']);
    expect(search(fakeSystem(g), { checkDeadlock: false }).result).toBe('ok');
  });

  it('checks invariants on states outside the CONSTRAINT and on targets an ACTION_CONSTRAINT excludes', () => {
    const g = { init: [0], succ: { 0: [1], 1: [2], 2: [3], 3: [3] } };
    const below3 = (s: number): boolean => s < 3;
    const r = search(
      fakeSystem(g, { constraint: (s) => s < 2, invariants: [{ name: 'Small', holds: below3 }] }),
    );
    expect(r.result).toBe('ok');
    expect(r.distinctStates).toBe(2);
    const r2 = search(
      fakeSystem(g, { constraint: (s) => s < 3, invariants: [{ name: 'Small', holds: below3 }] }),
    );
    expect(r2.result).toBe('invariant');
    expect(r2.violation!.name).toBe('Small');
    expect(r2.violation!.trace.steps.map((s) => s.state)).toEqual([0, 1, 2, 3]);
    const r3 = search(
      fakeSystem(g, {
        actionConstraint: (_s, t) => t !== 2,
        invariants: [{ name: 'Not2', holds: (s) => s !== 2 }],
      }),
    );
    expect(r3.result).toBe('invariant');
    expect(r3.violation!.trace.steps.map((s) => s.state)).toEqual([0, 1, 2]);
  });

  it('checks invariants on initial states outside the CONSTRAINT without keeping them', () => {
    const g = { init: [0, 5], succ: { 0: [1], 1: [], 5: [6] } };
    const r = search(fakeSystem(g, { constraint: (s) => s < 5 }), { checkDeadlock: false });
    expect(r.distinctStates).toBe(2);
    const r2 = search(
      fakeSystem(g, { constraint: (s) => s < 5, invariants: [{ name: 'Small', holds: (s) => s < 5 }] }),
    );
    expect(r2.result).toBe('invariant');
    expect(r2.violation!.trace.steps.map((s) => s.state)).toEqual([5]);
  });

  it('reports action property violations on transitions to seen states', () => {
    const g = { init: [0], succ: { 0: [1], 1: [2], 2: [0] } };
    const r = search(fakeSystem(g, { actionProperties: [{ name: 'Up', holds: (s, t) => t > s }] }));
    expect(r.result).toBe('property');
    expect(r.violation!.kind).toBe('action-property');
    expect(r.violation!.trace.steps.map((s) => s.state)).toEqual([0, 1, 2, 0]);
  });

  it('turns evaluation errors into an error result with the trace to the state being expanded', () => {
    const sys = fakeSystem({ init: [0], succ: { 0: [1], 1: [2], 2: [2] } });
    const broken = {
      ...sys,
      successors: (s: number, emit: (t: number, l: string) => void) => {
        if (s === 2) throw new Error('boom');
        sys.successors(s, emit);
      },
    };
    const r = search(broken);
    expect(r.result).toBe('error');
    expect((r.error!.error as Error).message).toBe('boom');
    expect(r.error!.trace!.steps.map((s) => s.state)).toEqual([0, 1, 2]);
  });

  it('stops at maxStates with an error', () => {
    const succ: Record<number, number[]> = {};
    for (let i = 0; i < 100; i++) succ[i] = [i + 1];
    const r = search(fakeSystem({ init: [0], succ }), { maxStates: 10 });
    expect(r.result).toBe('error');
    expect(r.distinctStates).toBe(10);
  });

  it('property: finds exactly the reachable states, the BFS depth, and shortest invariant counterexamples', () => {
    fc.assert(
      fc.property(arbGraph, fc.integer({ min: 0, max: 39 }), ({ init, lists }, bad) => {
        const g = graphFromLists(init, lists);
        const depths = bfsDepths(g);
        const r = search(fakeSystem(g), { checkDeadlock: false, recordGraph: true });
        expect(r.result).toBe('ok');
        expect(r.distinctStates).toBe(depths.size);
        expect(r.depth).toBe(Math.max(...depths.values()));
        expect(r.statesGenerated).toBe(
          init.length + [...depths.keys()].reduce((a, s) => a + (lists[s]?.length ?? 0), 0),
        );
        expect(new Set(r.graph!.states)).toEqual(new Set(depths.keys()));
        const r2 = search(fakeSystem(g, { invariants: [{ name: 'NotBad', holds: (s) => s !== bad }] }), {
          checkDeadlock: false,
        });
        if (depths.has(bad)) {
          expect(r2.result).toBe('invariant');
          const states = r2.violation!.trace.steps.map((s) => s.state);
          expect(states.length).toBe(depths.get(bad));
          expect(states[states.length - 1]).toBe(bad);
          expect(init).toContain(states[0]);
          for (let k = 1; k < states.length; k++) expect(lists[states[k - 1]!]).toContain(states[k]);
        } else {
          expect(r2.result).toBe('ok');
        }
      }),
      { numRuns: 200 },
    );
  });
});
