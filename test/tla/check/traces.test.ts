import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { search } from '../../../tla/check/engine.ts';
import { edgeCoverTraces, randomTraces } from '../../../tla/check/traces.ts';
import { fakeSystem, graphFromLists } from './fake.ts';

const arbGraph = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.record({
    init: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 3 }),
    lists: fc.array(fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 4 }), {
      minLength: n,
      maxLength: n,
    }),
  }),
);

describe('edgeCoverTraces', () => {
  it('property: the traces are behaviours of the graph and together cover every reachable labelled edge', () => {
    fc.assert(
      fc.property(arbGraph, ({ init, lists }) => {
        const g = graphFromLists(init, lists);
        const r = search(fakeSystem(g), { checkDeadlock: false, recordGraph: true, recordLabels: true });
        const graph = r.graph!;
        const cover = edgeCoverTraces({ states: graph.states, init: graph.init, labelled: graph.labelled! });
        const all = new Set<string>();
        graph.labelled!.forEach((es, i) => es.forEach((e) => all.add(`${graph.states[i]}|${e.label}`)));
        expect(cover.edgesTotal).toBe(all.size);
        expect(cover.edgesCovered).toBe(cover.edgesTotal);
        const seen = new Set<string>();
        for (const t of cover.traces) {
          expect(init).toContain(t.steps[0]!.state);
          expect(t.steps.length).toBeGreaterThan(1);
          for (let k = 1; k < t.steps.length; k++) {
            const [s, u] = [t.steps[k - 1]!.state, t.steps[k]!.state];
            expect(t.steps[k]!.label).toBe(`${s}->${u}`);
            expect(lists[s]).toContain(u);
            seen.add(`${s}|${t.steps[k]!.label}`);
          }
        }
        expect(seen).toEqual(all);
        // deterministic
        expect(
          edgeCoverTraces({ states: graph.states, init: graph.init, labelled: graph.labelled! }),
        ).toEqual(cover);
      }),
      { numRuns: 150 },
    );
  });
});

describe('randomTraces', () => {
  it('property: deterministic for a seed, walks follow the graph and respect the depth', () => {
    fc.assert(
      fc.property(arbGraph, fc.integer(), fc.integer({ min: 0, max: 12 }), ({ init, lists }, seed, depth) => {
        const sys = fakeSystem(graphFromLists(init, lists));
        const a = randomTraces(sys, 5, depth, seed);
        expect(randomTraces(sys, 5, depth, seed)).toEqual(a);
        expect(a.length).toBe(5);
        for (const t of a) {
          expect(t.steps.length).toBeLessThanOrEqual(depth + 1);
          expect(init).toContain(t.steps[0]!.state);
          for (let k = 1; k < t.steps.length; k++)
            expect(lists[t.steps[k - 1]!.state]).toContain(t.steps[k]!.state);
          const last = t.steps[t.steps.length - 1]!.state;
          if (t.steps.length < depth + 1) expect(lists[last]!.length).toBe(0);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('different seeds give different walks on a branching graph', () => {
    const succ: number[][] = [...Array(10).keys()].map((i) => [...Array(10).keys()].filter((j) => j !== i));
    const sys = fakeSystem(graphFromLists([0], succ));
    expect(randomTraces(sys, 3, 20, 1)).not.toEqual(randomTraces(sys, 3, 20, 2));
  });
});
