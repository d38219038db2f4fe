// Trace generation for conformance testing: a set of behaviours that together cover every
// edge of the reachable state graph, and seeded random walks. Both are deterministic: the
// same graph (or the same seed) gives the same traces.
import type { LabelledEdge, Trace, TraceStep } from './engine.ts';

export interface CoverGraph<S, L> {
  readonly states: readonly S[];
  readonly init: readonly number[];
  readonly labelled: readonly (readonly LabelledEdge<L>[])[];
}

export interface CoverResult<S, L> {
  readonly traces: Trace<S, L>[];
  readonly edgesTotal: number;
  readonly edgesCovered: number;
}

/**
 * Traces covering every labelled edge: for the first uncovered edge (sources in breadth-first
 * order), a shortest path from an initial state to its source, the edge, then greedily any
 * uncovered edge leaving the current state, until there is none (or maxSteps is reached).
 */
export function edgeCoverTraces<S, L>(
  g: CoverGraph<S, L>,
  opts: { maxSteps?: number } = {},
): CoverResult<S, L> {
  const n = g.states.length;
  const maxSteps = opts.maxSteps ?? 10_000;
  const base = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) base[i + 1] = base[i]! + g.labelled[i]!.length;
  const total = base[n]!;
  const covered = new Uint8Array(total);
  let coveredCount = 0;
  const cover = (i: number, k: number): void => {
    const e = base[i]! + k;
    if (!covered[e]) {
      covered[e] = 1;
      coveredCount++;
    }
  };

  // Breadth-first tree from the initial states.
  const parent = new Int32Array(n).fill(-2);
  const parentEdge = new Int32Array(n).fill(-1);
  const order: number[] = [];
  for (const i of g.init) {
    if (parent[i] === -2) {
      parent[i] = -1;
      order.push(i);
    }
  }
  for (let h = 0; h < order.length; h++) {
    const i = order[h]!;
    g.labelled[i]!.forEach((e, k) => {
      if (parent[e.to] === -2) {
        parent[e.to] = i;
        parentEdge[e.to] = k;
        order.push(e.to);
      }
    });
  }

  const traces: Trace<S, L>[] = [];
  const nextUncovered = new Int32Array(n); // per state: first edge index not yet known covered
  const firstUncovered = (i: number): number => {
    const edges = g.labelled[i]!;
    let k = nextUncovered[i]!;
    while (k < edges.length && covered[base[i]! + k]) k++;
    nextUncovered[i] = k;
    return k < edges.length ? k : -1;
  };
  for (const src of order) {
    for (;;) {
      const k0 = firstUncovered(src);
      if (k0 < 0) break;
      // shortest path to src
      const path: number[] = [];
      for (let i = src; i !== -1; i = parent[i]!) path.push(i);
      path.reverse();
      const steps: TraceStep<S, L>[] = [{ state: g.states[path[0]!]!, label: null }];
      for (let p = 1; p < path.length; p++) {
        const i = path[p]!;
        const from = path[p - 1]!;
        const e = g.labelled[from]![parentEdge[i]!]!;
        cover(from, parentEdge[i]!);
        steps.push({ state: g.states[i]!, label: e.label });
      }
      let cur = src;
      let k = k0;
      while (k >= 0 && steps.length <= maxSteps) {
        const e = g.labelled[cur]![k]!;
        cover(cur, k);
        steps.push({ state: g.states[e.to]!, label: e.label });
        cur = e.to;
        k = firstUncovered(cur);
      }
      traces.push({ steps });
    }
  }
  return { traces, edgesTotal: total, edgesCovered: coveredCount };
}

/** A small seeded PRNG (32-bit state, splitmix-style output): deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

export interface WalkSystem<S, L> {
  initStates(emit: (s: S) => void): void;
  successors(s: S, emit: (t: S, label: L) => void): void;
}

/** `count` random walks of at most `depth` steps each (fewer where a state has no successor). */
export function randomTraces<S, L>(
  sys: WalkSystem<S, L>,
  count: number,
  depth: number,
  seed: number,
): Trace<S, L>[] {
  const rnd = seededRandom(seed);
  const inits: S[] = [];
  sys.initStates((s) => inits.push(s));
  const out: Trace<S, L>[] = [];
  if (inits.length === 0) return out;
  for (let t = 0; t < count; t++) {
    let cur = inits[Math.floor(rnd() * inits.length)] as S;
    const steps: TraceStep<S, L>[] = [{ state: cur, label: null }];
    for (let d = 0; d < depth; d++) {
      const next: [S, L][] = [];
      sys.successors(cur, (s, l) => next.push([s, l]));
      if (next.length === 0) break;
      const [s, l] = next[Math.floor(rnd() * next.length)] as [S, L];
      steps.push({ state: s, label: l });
      cur = s;
    }
    out.push({ steps });
  }
  return out;
}
