import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  findFairLasso,
  type Fairness,
  type LiveGraph,
  type Obligation,
} from '../../../tla/check/liveness.ts';

const none: Omit<Obligation, 'name'> = {
  always: [],
  eventuallyAlways: [],
  eventuallyAlwaysSteps: [],
  infinitelyOften: [],
  infinitelyOftenSteps: [],
};

/** Checks that a lasso is a behaviour of the graph satisfying the obligation under the fairness. */
function validLasso(
  g: LiveGraph,
  ob: Obligation,
  fair: readonly Fairness[],
  states: readonly number[],
  loopsTo: number,
  stuttering: boolean,
): void {
  expect(g.init).toContain(states[0]);
  for (let k = 1; k < states.length; k++) {
    const [i, j] = [states[k - 1]!, states[k]!];
    expect(i === j || g.succ[i]!.includes(j)).toBe(true);
  }
  const last = states[states.length - 1]!;
  const cycStates = states.slice(loopsTo);
  const cycSteps: [number, number][] = [];
  if (stuttering) {
    expect(loopsTo).toBe(states.length - 1);
    cycSteps.push([last, last]);
  } else {
    for (let k = loopsTo; k < states.length - 1; k++) cycSteps.push([states[k]!, states[k + 1]!]);
    cycSteps.push([last, states[loopsTo]!]);
    expect(last === states[loopsTo] || g.succ[last]!.includes(states[loopsTo]!)).toBe(true);
  }
  for (const p of ob.always) for (const s of states) expect(p(s)).toBe(true);
  if (ob.trigger) {
    const t = ob.trigger;
    const ok = states.some((s, k) => t.now(s) && states.slice(Math.min(k, loopsTo)).every((x) => t.then(x)));
    expect(ok).toBe(true);
  }
  for (const p of ob.eventuallyAlways) for (const s of cycStates) expect(p(s)).toBe(true);
  for (const p of ob.eventuallyAlwaysSteps) for (const [i, j] of cycSteps) expect(p(i, j)).toBe(true);
  for (const p of ob.infinitelyOften) expect(cycStates.some(p)).toBe(true);
  for (const p of ob.infinitelyOftenSteps) expect(cycSteps.some(([i, j]) => p(i, j))).toBe(true);
  for (const f of fair) {
    const taken = cycSteps.some(([i, j]) => f.taken(i, j));
    if (f.kind === 'WF') expect(taken || cycStates.some((s) => !f.enabled(s))).toBe(true);
    else expect(taken || cycStates.every((s) => !f.enabled(s))).toBe(true);
  }
}

/** Brute force: is there a closed walk (with stuttering) of length <= maxLen, reachable within `always` (and after a trigger), that is fair and accepting? */
function bruteForce(g: LiveGraph, ob: Obligation, fair: readonly Fairness[], maxLen: number): boolean {
  const ok = (s: number): boolean => ob.always.every((p) => p(s));
  const closure = (seeds: number[], inside: (s: number) => boolean): Set<number> => {
    const reach = new Set<number>(seeds);
    const q = [...seeds];
    for (let h = 0; h < q.length; h++) {
      for (const j of g.succ[q[h]!]!) {
        if (inside(j) && !reach.has(j)) {
          reach.add(j);
          q.push(j);
        }
      }
    }
    return reach;
  };
  let reach = closure(g.init.filter(ok), ok);
  if (ob.trigger) {
    const t = ob.trigger;
    reach = closure(
      [...reach].filter((s) => t.now(s) && t.then(s)),
      (s) => ok(s) && t.then(s),
    );
  }
  const accepting = (steps: [number, number][]): boolean => {
    const sts = steps.map(([i]) => i);
    if (!sts.every((s) => ob.eventuallyAlways.every((p) => p(s)))) return false;
    if (!steps.every(([i, j]) => ob.eventuallyAlwaysSteps.every((p) => p(i, j)))) return false;
    if (!ob.infinitelyOften.every((p) => sts.some(p))) return false;
    if (!ob.infinitelyOftenSteps.every((p) => steps.some(([i, j]) => p(i, j)))) return false;
    return fair.every((f) => {
      const taken = steps.some(([i, j]) => f.taken(i, j));
      return f.kind === 'WF'
        ? taken || sts.some((s) => !f.enabled(s))
        : taken || sts.every((s) => !f.enabled(s));
    });
  };
  const walk = (start: number, cur: number, steps: [number, number][]): boolean => {
    if (steps.length > 0 && cur === start && accepting(steps)) return true;
    if (steps.length >= maxLen) return false;
    for (const j of [cur, ...g.succ[cur]!]) {
      if (!reach.has(j)) continue;
      if (walk(start, j, [...steps, [cur, j]])) return true;
    }
    return false;
  };
  return [...reach].some((s) => walk(s, s, []));
}

describe('findFairLasso', () => {
  // 0 -> 1 -> 2, 2 -> 2 (explicit self-loop); "move" is any step that changes the state.
  const chain: LiveGraph = { size: 3, init: [0], succ: [[1], [2], [2]] };
  const move: Fairness = { kind: 'WF', name: 'WF(move)', enabled: (i) => i < 2, taken: (i, j) => i !== j };

  it('<>P without fairness fails by stuttering in the initial state', () => {
    const ob: Obligation = { ...none, name: 'Reach2', always: [(i) => i !== 2] };
    const l = findFairLasso(chain, ob, [])!;
    expect(l).toEqual({ states: [0], loopsTo: 0, stuttering: true });
  });

  it('<>P holds under weak fairness of the move', () => {
    const ob: Obligation = { ...none, name: 'Reach2', always: [(i) => i !== 2] };
    expect(findFairLasso(chain, ob, [move])).toBeNull();
  });

  it('[]<>P needs strong fairness when the action is only intermittently enabled', () => {
    // 0 <-> 1, and 1 -> 2 -> 0; "toggle" (1 -> 2) is enabled only in 1.
    const g: LiveGraph = { size: 3, init: [0], succ: [[1], [0, 2], [0]] };
    const toggle = (kind: 'WF' | 'SF'): Fairness => ({
      kind,
      name: 'toggle',
      enabled: (i) => i === 1,
      taken: (i, j) => i === 1 && j === 2,
    });
    const progress: Fairness = {
      kind: 'WF',
      name: 'progress',
      enabled: () => true,
      taken: (i, j) => i !== j,
    };
    const ob: Obligation = { ...none, name: 'InfinitelyOften2', eventuallyAlways: [(i) => i !== 2] };
    const l = findFairLasso(g, ob, [progress, toggle('WF')])!;
    expect(l).not.toBeNull();
    validLasso(g, ob, [progress, toggle('WF')], l.states, l.loopsTo, l.stuttering);
    expect(l.states).toEqual([0, 1]);
    expect(findFairLasso(g, ob, [progress, toggle('SF')])).toBeNull();
  });

  it('[]<>A where only a stuttering step away from the entry satisfies A', () => {
    // 0 <-> 1; A holds only on the stuttering step 1 -> 1: the cycle goes 0, 1, 1, back to 0.
    const g: LiveGraph = { size: 2, init: [0], succ: [[1], [0]] };
    const ob: Obligation = { ...none, name: 'StutterAtOne', infinitelyOftenSteps: [(i, j) => i === 1 && j === 1] };
    const l = findFairLasso(g, ob, [])!;
    expect(l).toEqual({ states: [0, 1, 1], loopsTo: 0, stuttering: false });
    validLasso(g, ob, [], l.states, l.loopsTo, l.stuttering);
  });

  it('P ~> Q: the negation starts at a P state and never reaches Q', () => {
    // 0 -> 1 -> 2 -> 0 or 1; P = 1, Q = 0: the cycle 1 -> 2 -> 1 never reaches 0.
    const g: LiveGraph = { size: 3, init: [0], succ: [[1], [2], [0, 1]] };
    const ob: Obligation = {
      ...none,
      name: 'LeadsTo',
      trigger: { now: (i) => i === 1, then: (i) => i !== 0 },
    };
    const f: Fairness = { kind: 'WF', name: 'next', enabled: () => true, taken: (i, j) => i !== j };
    const l = findFairLasso(g, ob, [f])!;
    validLasso(g, ob, [f], l.states, l.loopsTo, l.stuttering);
    const g2: LiveGraph = { size: 3, init: [0], succ: [[1], [2], [0]] };
    expect(findFairLasso(g2, ob, [f])).toBeNull();
  });

  it('property: a returned lasso is a valid fair counterexample, and null agrees with brute force', () => {
    const arb = fc.integer({ min: 1, max: 4 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        succ: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: 3 }), {
          minLength: n,
          maxLength: n,
        }),
        alwaysMask: fc.integer({ min: 0, max: 15 }),
        eaMask: fc.integer({ min: 0, max: 15 }),
        ioMask: fc.integer({ min: 0, max: 15 }),
        useIo: fc.boolean(),
        trig: fc.option(
          fc.record({ now: fc.integer({ min: 0, max: 15 }), then: fc.integer({ min: 0, max: 15 }) }),
        ),
        eaStepMask: fc.option(fc.integer({ min: 0, max: 0xffff })),
        ioStepMask: fc.option(fc.integer({ min: 0, max: 0xffff })),
        fairKinds: fc.array(
          fc.record({
            kind: fc.constantFrom('WF' as const, 'SF' as const),
            en: fc.integer({ min: 0, max: 15 }),
            target: fc.integer({ min: 0, max: 3 }),
          }),
          { maxLength: 2 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, (c) => {
        const g: LiveGraph = { size: c.n, init: [0], succ: c.succ };
        const bit = (m: number) => (i: number) => ((m | 1) >> i) % 2 === 1; // state 0 always in `always`
        const ob: Obligation = {
          ...none,
          name: 'P',
          always: [bit(c.alwaysMask)],
          eventuallyAlways: [(i) => ((c.eaMask >> i) & 1) === 1 || i === 0],
          infinitelyOften: c.useIo ? [(i) => ((c.ioMask >> i) & 1) === 1] : [],
          eventuallyAlwaysSteps:
            c.eaStepMask === null ? [] : [(i, j) => i === j || ((c.eaStepMask! >> (i * 4 + j)) & 1) === 1],
          infinitelyOftenSteps:
            c.ioStepMask === null ? [] : [(i, j) => i !== j && ((c.ioStepMask! >> (i * 4 + j)) & 1) === 1],
          ...(c.trig
            ? {
                trigger: {
                  now: (i: number) => ((c.trig!.now >> i) & 1) === 1,
                  then: (i: number) => ((c.trig!.then >> i) & 1) === 1,
                },
              }
            : {}),
        };
        const fair: Fairness[] = c.fairKinds.map((f, k) => ({
          kind: f.kind,
          name: `f${k}`,
          enabled: (i) => ((f.en >> i) & 1) === 1,
          taken: (i, j) => i !== j && j === f.target,
        }));
        const l = findFairLasso(g, ob, fair);
        if (l) validLasso(g, ob, fair, l.states, l.loopsTo, l.stuttering);
        expect(l !== null).toBe(bruteForce(g, ob, fair, 2 * c.n + 2));
      }),
      { numRuns: 1500 },
    );
  });
});
