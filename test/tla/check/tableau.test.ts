import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findFairLasso, type Fairness, type Lasso, type LiveGraph, type Obligation } from '../../../tla/check/liveness.ts';
import { buildAutomaton, findTemporalLasso, tf, type Atom, type TForm } from '../../../tla/check/tableau.ts';

// ---------------------------------------------------------------------------------------------
// A direct evaluator of temporal formulas on a lasso (an ultimately periodic behaviour).

/** Positions 0..L-1; the last one steps back to loopsTo. */
function evalOnLasso(f: TForm<Atom>, xs: readonly number[], loopsTo: number, k = 0): boolean {
  const L = xs.length;
  const next = (i: number): number => (i === L - 1 ? loopsTo : i + 1);
  const future = (i: number): number[] => {
    const out: number[] = [];
    for (let j = Math.min(i, loopsTo); j < L; j++) if (j >= i || j >= loopsTo) out.push(j);
    return out;
  };
  switch (f.op) {
    case 'atom':
      return f.atom.kind === 'state' ? f.atom.holds(xs[k]!) : f.atom.holds(xs[k]!, xs[next(k)]!);
    case 'const':
      return f.value;
    case 'not':
      return !evalOnLasso(f.arg, xs, loopsTo, k);
    case 'and':
      return f.args.every((a) => evalOnLasso(a, xs, loopsTo, k));
    case 'or':
      return f.args.some((a) => evalOnLasso(a, xs, loopsTo, k));
    case 'always':
      return future(k).every((j) => evalOnLasso(f.arg, xs, loopsTo, j));
    case 'eventually':
      return future(k).some((j) => evalOnLasso(f.arg, xs, loopsTo, j));
  }
}

/** Weak/strong fairness on the cycle of a lasso. */
function fairOnLasso(fair: readonly Fairness[], xs: readonly number[], loopsTo: number): boolean {
  const cyc = xs.slice(loopsTo);
  const steps = cyc.map((s, i) => [s, i === cyc.length - 1 ? xs[loopsTo]! : cyc[i + 1]!] as const);
  return fair.every((f) => {
    const taken = steps.some(([i, j]) => f.taken(i, j));
    return f.kind === 'WF' ? taken || cyc.some((s) => !f.enabled(s)) : taken || cyc.every((s) => !f.enabled(s));
  });
}

/** The lasso is a behaviour of g (every state may stutter). */
function isBehaviour(g: LiveGraph, l: Lasso): boolean {
  const xs = l.states;
  if (!g.init.includes(xs[0]!)) return false;
  const step = (i: number, j: number): boolean => i === j || g.succ[i]!.includes(j);
  for (let k = 1; k < xs.length; k++) if (!step(xs[k - 1]!, xs[k]!)) return false;
  if (l.stuttering && l.loopsTo !== xs.length - 1) return false;
  return step(xs[xs.length - 1]!, xs[l.loopsTo]!);
}

/** Every lasso with at most maxLen states: is one of them fair and satisfying f? */
function bruteForce(g: LiveGraph, f: TForm<Atom>, fair: readonly Fairness[], maxLen: number): boolean {
  const xs: number[] = [];
  const walk = (): boolean => {
    const last = xs[xs.length - 1]!;
    for (let j = 0; j < xs.length; j++) {
      const t = xs[j]!;
      if ((t === last || g.succ[last]!.includes(t)) && fairOnLasso(fair, xs, j) && evalOnLasso(f, xs, j)) return true;
    }
    if (xs.length >= maxLen) return false;
    for (const t of new Set([last, ...g.succ[last]!])) {
      xs.push(t);
      if (walk()) return true;
      xs.pop();
    }
    return false;
  };
  for (const s of g.init) {
    xs.length = 0;
    xs.push(s);
    if (walk()) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

const stateAtom = (mask: number, name = 'p'): Atom & { name: string } => ({
  kind: 'state',
  holds: (i) => ((mask >> i) & 1) === 1,
  name,
});
const at = (...states: number[]): TForm<Atom> => tf.atom(stateAtom(states.reduce((m, s) => m | (1 << s), 0)));

describe('buildAutomaton', () => {
  it('<>p has one acceptance set; []p none; a contradiction has no initial node', () => {
    const p = at(0);
    expect(buildAutomaton(tf.eventually(p)).accepting.length).toBe(1);
    expect(buildAutomaton(tf.always(p)).accepting.length).toBe(0);
    expect(buildAutomaton(tf.and(p, tf.not(p))).initial.length).toBe(0);
  });

  it('a formula whose tableau is too large stops with an error saying what to do', () => {
    // /\ of n disjunctions <>p_i \/ []q_i: 2^n branches at the first position
    const big = tf.and(
      ...Array.from({ length: 12 }, (_, i) => tf.or(tf.eventually(at(i % 3)), tf.always(at((i + 1) % 3, i % 2)))),
    );
    expect(() => buildAutomaton(big, { nodes: 1_000_000, expansions: 1000 })).toThrow(/exceeds 1000 expansion steps.*split it/);
    expect(() => buildAutomaton(big, { nodes: 10, expansions: 1e9 })).toThrow(/exceeds 10 nodes/);
  });
});

describe('findTemporalLasso on small graphs', () => {
  // 0 -> 1 -> 2 -> 2
  const chain: LiveGraph = { size: 3, init: [0], succ: [[1], [2], [2]] };
  const move: Fairness = { kind: 'WF', name: 'move', enabled: (i) => i < 2, taken: (i, j) => i !== j };

  it('~<>p: without fairness, stuttering in the initial state avoids state 2', () => {
    const l = findTemporalLasso(chain, tf.not(tf.eventually(at(2))), []);
    expect(l).toEqual({ states: [0], loopsTo: 0, stuttering: true });
    expect(findTemporalLasso(chain, tf.not(tf.eventually(at(2))), [move])).toBeNull();
  });

  it('negation of [](p => [](q)): p reached, then q fails later', () => {
    // property: once in state 1, always in {1, 2}: holds on the chain.
    const prop = tf.always(tf.implies(at(1), tf.always(at(1, 2))));
    expect(findTemporalLasso(chain, tf.not(prop), [])).toBeNull();
    // property: once in 1, stay in 1 forever: the move to 2 violates it (under WF only: without
    // fairness too, since the behaviour 0,1,2 exists).
    const prop2 = tf.always(tf.implies(at(1), tf.always(at(1))));
    const l = findTemporalLasso(chain, tf.not(prop2), [])!;
    expect(l.states).toEqual([0, 1, 2]);
    expect(l.stuttering).toBe(true);
  });

  it('[]<>p => []<>q where q is reachable only through a fair choice', () => {
    // 0 <-> 1, 1 -> 2 -> 0. p = state 0, q = state 2.
    const g: LiveGraph = { size: 3, init: [0], succ: [[1], [0, 2], [0]] };
    const prop = tf.implies(tf.always(tf.eventually(at(0))), tf.always(tf.eventually(at(2))));
    const l = findTemporalLasso(g, tf.not(prop), [])!;
    expect(isBehaviour(g, l)).toBe(true);
    expect(l.states.slice(l.loopsTo)).not.toContain(2);
    // Weak fairness of every move keeps the behaviour going (no stuttering forever in 0).
    const progress: Fairness = { kind: 'WF', name: 'progress', enabled: () => true, taken: (i, j) => i !== j };
    const sf: Fairness = { kind: 'SF', name: 'toTwo', enabled: (i) => i === 1, taken: (i, j) => i === 1 && j === 2 };
    const wf: Fairness = { ...sf, kind: 'WF' };
    expect(findTemporalLasso(g, tf.not(prop), [progress, sf])).toBeNull();
    const l2 = findTemporalLasso(g, tf.not(prop), [progress, wf])!;
    expect(l2).toEqual({ states: [0, 1], loopsTo: 0, stuttering: false });
    // Strong fairness alone does not prevent stuttering in 0 forever.
    expect(findTemporalLasso(g, tf.not(prop), [sf])).toEqual({ states: [0], loopsTo: 0, stuttering: true });
  });

  it('step atoms: []<><<A>> with A the step 1 -> 2', () => {
    const g: LiveGraph = { size: 3, init: [0], succ: [[1], [0, 2], [0]] };
    const a: TForm<Atom> = tf.atom({ kind: 'step', holds: (i, j) => i === 1 && j === 2 });
    const l = findTemporalLasso(g, tf.not(tf.always(tf.eventually(a))), [])!;
    expect(isBehaviour(g, l)).toBe(true);
    expect(evalOnLasso(tf.always(tf.eventually(a)), l.states, l.loopsTo)).toBe(false);
    // every behaviour that takes the step once: <>A holds on 0,1,2,... ; ~<>A has a behaviour.
    expect(findTemporalLasso(g, tf.and(tf.eventually(a), tf.always(tf.eventually(at(0)))), [])).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Random graphs, random formulas: the tableau against the direct evaluator.

type Shape =
  | { t: 'atom'; k: number }
  | { t: 'not' | 'always' | 'eventually'; a: Shape }
  | { t: 'and' | 'or' | 'implies'; a: Shape; b: Shape };

const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ f: Shape }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('atom' as const), k: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ t: fc.constantFrom('not' as const, 'always' as const, 'eventually' as const), a: tie('f') }),
    fc.record({ t: fc.constantFrom('and' as const, 'or' as const, 'implies' as const), a: tie('f'), b: tie('f') }),
  ),
})).f;

function build(s: Shape, atoms: readonly Atom[]): TForm<Atom> {
  switch (s.t) {
    case 'atom':
      return tf.atom(atoms[s.k]!);
    case 'not':
      return tf.not(build(s.a, atoms));
    case 'always':
      return tf.always(build(s.a, atoms));
    case 'eventually':
      return tf.eventually(build(s.a, atoms));
    case 'and':
      return tf.and(build(s.a, atoms), build(s.b, atoms));
    case 'or':
      return tf.or(build(s.a, atoms), build(s.b, atoms));
    case 'implies':
      return tf.implies(build(s.a, atoms), build(s.b, atoms));
  }
}

describe('findTemporalLasso against brute force', () => {
  it('a returned lasso is a fair behaviour satisfying the formula; null means none within the bound', () => {
    const arb = fc.integer({ min: 1, max: 3 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        succ: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 }), {
          minLength: n,
          maxLength: n,
        }),
        masks: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 3, maxLength: 3 }),
        stepMask: fc.integer({ min: 0, max: 511 }),
        shape: shapeArb,
        fair: fc.array(
          fc.record({
            kind: fc.constantFrom('WF' as const, 'SF' as const),
            en: fc.integer({ min: 0, max: 7 }),
            takenMask: fc.integer({ min: 0, max: 511 }),
          }),
          { maxLength: 2 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, (c) => {
        const g: LiveGraph = { size: c.n, init: [0], succ: c.succ };
        const atoms: Atom[] = [
          ...c.masks.map((m) => stateAtom(m)),
          { kind: 'step', holds: (i, j) => ((c.stepMask >> (i * 3 + j)) & 1) === 1 },
        ];
        const f = build(c.shape, atoms);
        // fairness of actions that are real moves of the graph (never a stuttering step)
        const fair: Fairness[] = c.fair.map((x, k) => {
          const taken = (i: number, j: number): boolean =>
            i !== j && g.succ[i]!.includes(j) && ((x.takenMask >> (i * 3 + j)) & 1) === 1;
          return {
            kind: x.kind,
            name: `f${k}`,
            enabled: (i) => ((x.en >> i) & 1) === 1 && g.succ[i]!.some((j) => taken(i, j)),
            taken,
          };
        });
        const l = findTemporalLasso(g, f, fair);
        if (l) {
          expect(isBehaviour(g, l)).toBe(true);
          expect(fairOnLasso(fair, l.states, l.loopsTo)).toBe(true);
          expect(evalOnLasso(f, l.states, l.loopsTo)).toBe(true);
        } else {
          expect(bruteForce(g, f, fair, 6)).toBe(false);
        }
      }),
      { numRuns: Number(process.env.TABLEAU_RUNS ?? 400) },
    );
  });
});

describe('the fast path and the tableau agree', () => {
  it('on obligations (always, trigger, <>[] and []<> of states and steps) and their formulas', () => {
    const arb = fc.integer({ min: 1, max: 4 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        succ: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: 3 }), {
          minLength: n,
          maxLength: n,
        }),
        always: fc.option(fc.integer({ min: 0, max: 15 })),
        trig: fc.option(fc.record({ now: fc.integer({ min: 0, max: 15 }), then: fc.integer({ min: 0, max: 15 }) })),
        ea: fc.option(fc.integer({ min: 0, max: 15 })),
        io: fc.option(fc.integer({ min: 0, max: 15 })),
        eaStep: fc.option(fc.integer({ min: 0, max: 0xffff })),
        ioStep: fc.option(fc.integer({ min: 0, max: 0xffff })),
        fair: fc.array(
          fc.record({ kind: fc.constantFrom('WF' as const, 'SF' as const), en: fc.integer({ min: 0, max: 15 }) }),
          { maxLength: 2 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, (c) => {
        const g: LiveGraph = { size: c.n, init: [0], succ: c.succ };
        const st = (m: number) => (i: number) => ((m >> i) & 1) === 1;
        const ed = (m: number) => (i: number, j: number) => ((m >> (i * 4 + j)) & 1) === 1;
        const A = (p: (i: number) => boolean): TForm<Atom> => tf.atom({ kind: 'state', holds: p });
        const E = (p: (i: number, j: number) => boolean): TForm<Atom> => tf.atom({ kind: 'step', holds: p });
        const ob: Obligation = {
          name: 'P',
          always: c.always === null ? [] : [st(c.always)],
          ...(c.trig ? { trigger: { now: st(c.trig.now), then: st(c.trig.then) } } : {}),
          eventuallyAlways: c.ea === null ? [] : [st(c.ea)],
          eventuallyAlwaysSteps: c.eaStep === null ? [] : [ed(c.eaStep)],
          infinitelyOften: c.io === null ? [] : [st(c.io)],
          infinitelyOftenSteps: c.ioStep === null ? [] : [ed(c.ioStep)],
        };
        // The same conditions as a formula (see Obligation in liveness.ts).
        const parts: TForm<Atom>[] = [];
        for (const p of ob.always) parts.push(tf.always(A(p)));
        if (ob.trigger) {
          const t = ob.trigger;
          parts.push(tf.eventually(tf.and(A(t.now), tf.always(A(t.then)))));
        }
        for (const p of ob.eventuallyAlways) parts.push(tf.eventually(tf.always(A(p))));
        for (const p of ob.eventuallyAlwaysSteps) parts.push(tf.eventually(tf.always(E(p))));
        for (const p of ob.infinitelyOften) parts.push(tf.always(tf.eventually(A(p))));
        for (const p of ob.infinitelyOftenSteps) parts.push(tf.always(tf.eventually(E(p))));
        const f: TForm<Atom> = parts.length === 0 ? { op: 'const', value: true } : tf.and(...parts);
        // fairness of real moves out of the enabled states
        const fair: Fairness[] = c.fair.map((x, k) => ({
          kind: x.kind,
          name: `f${k}`,
          enabled: (i) => st(x.en)(i) && g.succ[i]!.some((j) => j !== i),
          taken: (i, j) => st(x.en)(i) && i !== j && g.succ[i]!.includes(j),
        }));
        expect(findTemporalLasso(g, f, fair) === null).toBe(findFairLasso(g, ob, fair) === null);
      }),
      { numRuns: Number(process.env.TABLEAU_RUNS ?? 400) },
    );
  });
});
