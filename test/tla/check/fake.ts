// Hand-written fake systems for testing the search and liveness algorithms without the evaluator.
import type { SearchSystem } from '../../../tla/check/engine.ts';

/** A graph on numbered states given by successor lists (duplicates and self-loops allowed). */
export interface FakeGraph {
  readonly init: readonly number[];
  readonly succ: Readonly<Record<number, readonly number[]>>;
}

export function fakeSystem(
  g: FakeGraph,
  extra: Partial<Omit<SearchSystem<number, string>, 'initStates' | 'successors' | 'fingerprint'>> = {},
): SearchSystem<number, string> {
  return {
    initStates: (emit) => g.init.forEach((s) => emit(s)),
    successors: (s, emit) => (g.succ[s] ?? []).forEach((t) => emit(t, `${s}->${t}`)),
    fingerprint: (s) => BigInt.asUintN(64, BigInt(s) * 0x9e3779b97f4a7c15n + 12345n),
    invariants: extra.invariants ?? [],
    initProperties: extra.initProperties ?? [],
    actionProperties: extra.actionProperties ?? [],
    ...(extra.constraint ? { constraint: extra.constraint } : {}),
    ...(extra.actionConstraint ? { actionConstraint: extra.actionConstraint } : {}),
  };
}

/** Random directed graph on 0..n-1 with the given seed-driven successor lists. */
export function graphFromLists(init: number[], lists: number[][]): FakeGraph {
  const succ: Record<number, number[]> = {};
  lists.forEach((l, i) => (succ[i] = l));
  return { init, succ };
}

/** Shortest distances (in states, initial = 1) by a plain BFS, for comparison. */
export function bfsDepths(g: FakeGraph): Map<number, number> {
  const d = new Map<number, number>();
  const q: number[] = [];
  for (const i of g.init) {
    if (!d.has(i)) {
      d.set(i, 1);
      q.push(i);
    }
  }
  for (let h = 0; h < q.length; h++) {
    const i = q[h]!;
    for (const j of g.succ[i] ?? []) {
      if (!d.has(j)) {
        d.set(j, d.get(i)! + 1);
        q.push(j);
      }
    }
  }
  return d;
}
