// Liveness on the explored state graph. A violated liveness property is a fair behaviour that
// satisfies the property's negation; for the property forms the checker supports (<>P, []<>P,
// <>[]P, P ~> Q, WF/SF conjuncts of a refined spec, their conjunctions and quantifications)
// the negation has the shape of an Obligation below, and a behaviour satisfying it is a lasso
// whose cycle is a fair strongly connected subgraph of the behaviour graph (the state graph
// with a stuttering self-loop on every state). The search finds strongly connected components
// with an iterative Tarjan, and refines components against strong fairness (removing the
// states where an unserved strongly fair action is enabled, Emerson-Lei style), which is sound
// and complete for weak and strong fairness with generalized Buchi acceptance.

/** A predicate on state numbers of the graph. */
export type StatePred = (i: number) => boolean;
/** A predicate on steps (i -> j); i === j is a stuttering step. */
export type EdgePred = (i: number, j: number) => boolean;

export interface Fairness {
  readonly kind: 'WF' | 'SF';
  readonly name: string;
  /** ENABLED <<A>>_v */
  readonly enabled: StatePred;
  /** <<A>>_v as a step predicate */
  readonly taken: EdgePred;
}

/**
 * The negation of one liveness conjunct: a behaviour where
 *  - every state satisfies `always` (from the start),
 *  - if `trigger` is given: some state satisfies trigger.now and trigger.then, and every
 *    state from there on satisfies trigger.then,
 *  - eventually every state satisfies each of `eventuallyAlways` and every step each of
 *    `eventuallyAlwaysSteps`,
 *  - infinitely many states satisfy each of `infinitelyOften` and infinitely many steps each
 *    of `infinitelyOftenSteps`.
 */
export interface Obligation {
  readonly name: string;
  readonly always: readonly StatePred[];
  readonly trigger?: { readonly now: StatePred; readonly then: StatePred };
  readonly eventuallyAlways: readonly StatePred[];
  readonly eventuallyAlwaysSteps: readonly EdgePred[];
  readonly infinitelyOften: readonly StatePred[];
  readonly infinitelyOftenSteps: readonly EdgePred[];
  /** States that may stutter (all when absent): a product with an automaton restricts them. */
  readonly stutters?: StatePred;
}

export interface LiveGraph {
  readonly size: number;
  readonly init: readonly number[];
  readonly succ: readonly (readonly number[])[];
}

/** A lasso: `prefix` ends in the first state of the cycle; `cycle` continues from it and returns to it. */
export interface Lasso {
  /** State numbers from an initial state to the cycle's entry (inclusive). */
  readonly states: readonly number[];
  /** 0-based position in `states` the last state steps back to. */
  readonly loopsTo: number;
  /** The cycle is the last state stuttering. */
  readonly stuttering: boolean;
}

/** Finds a fair behaviour satisfying the obligation, as a lasso, or null when there is none. */
export function findFairLasso(g: LiveGraph, ob: Obligation, fairness: readonly Fairness[]): Lasso | null {
  const n = g.size;
  const memo = <T extends StatePred>(p: T): StatePred => {
    const cache = new Int8Array(n);
    return (i) => {
      const c = cache[i]!;
      if (c !== 0) return c > 0;
      const v = p(i);
      cache[i] = v ? 1 : -1;
      return v;
    };
  };
  const memoEdge = (p: EdgePred): EdgePred => {
    const cache = new Map<number, boolean>();
    return (i, j) => {
      const k = i * n + j;
      let v = cache.get(k);
      if (v === undefined) {
        v = p(i, j);
        cache.set(k, v);
      }
      return v;
    };
  };
  const always = ob.always.map(memo);
  const inAlways = (i: number): boolean => always.every((p) => p(i));
  const fair = fairness.map((f) => ({ kind: f.kind, enabled: memo(f.enabled), taken: memoEdge(f.taken) }));
  const ea = ob.eventuallyAlways.map(memo);
  const eaSteps = ob.eventuallyAlwaysSteps.map(memoEdge);
  const io = ob.infinitelyOften.map(memo);
  const ioSteps = ob.infinitelyOftenSteps.map(memoEdge);

  // Phase 1: states reachable from the initial states through states satisfying `always`.
  const parent1 = new Int32Array(n).fill(-2);
  const reach1: number[] = [];
  for (const i of g.init) {
    if (parent1[i] === -2 && inAlways(i)) {
      parent1[i] = -1;
      reach1.push(i);
    }
  }
  for (let h = 0; h < reach1.length; h++) {
    const i = reach1[h]!;
    for (const j of g.succ[i]!) {
      if (parent1[j] === -2 && inAlways(j)) {
        parent1[j] = i;
        reach1.push(j);
      }
    }
  }

  // Phase 2 (leads-to negation): from a trigger state, states where `then` holds from there on.
  let region: number[] = reach1;
  let parent2: Int32Array | null = null;
  if (ob.trigger) {
    const now = memo(ob.trigger.now);
    const then = memo(ob.trigger.then);
    parent2 = new Int32Array(n).fill(-2);
    const reach2: number[] = [];
    for (const i of reach1) {
      if (now(i) && then(i)) {
        parent2[i] = -1;
        reach2.push(i);
      }
    }
    for (let h = 0; h < reach2.length; h++) {
      const i = reach2[h]!;
      for (const j of g.succ[i]!) {
        if (parent2[j] === -2 && then(j) && inAlways(j)) {
          parent2[j] = i;
          reach2.push(j);
        }
      }
    }
    region = reach2;
  }
  const order = new Int32Array(n).fill(-1); // discovery order within the region (for the shortest entry)
  region.forEach((i, k) => (order[i] = k));

  const inRegion = new Uint8Array(n);
  for (const i of region) if (ea.every((p) => p(i))) inRegion[i] = 1;
  const stutters = ob.stutters;
  const stepAllowed = (i: number, j: number): boolean =>
    (i !== j || stutters === undefined || stutters(i)) && eaSteps.every((p) => p(i, j));

  // Search for a fair component, refining against strong fairness.
  const work: number[][] = [region.filter((i) => inRegion[i] === 1)];
  let found: number[] | null = null;
  let foundOrder = Infinity;
  const entryOf = (comp: readonly number[]): number => comp.reduce((a, b) => (order[b]! < order[a]! ? b : a));
  // Membership marks by stamp: no per-component allocation of size n.
  const memberStamp = new Int32Array(n);
  const compStamp = new Int32Array(n);
  let stamp = 0;
  const scratch = new SccScratch(n);
  while (work.length > 0) {
    const nodes = work.pop()!;
    const ms = ++stamp;
    for (const i of nodes) memberStamp[i] = ms;
    for (const comp of sccs(nodes, (i) => memberStamp[i] === ms, g.succ, scratch)) {
      const cs = ++stamp;
      for (const i of comp) compStamp[i] = cs;
      const steps: [number, number][] = [];
      for (const i of comp) {
        if (stepAllowed(i, i)) steps.push([i, i]); // stuttering
        for (const j of g.succ[i]!)
          if (compStamp[j] === cs && j !== i && stepAllowed(i, j)) steps.push([i, j]);
      }
      if (steps.length === 0) continue;
      // The component must still be strongly connected under the allowed steps: recompute when a step was dropped.
      if (eaSteps.length > 0 && comp.length > 1) {
        const pieces = sccsOfSteps(comp, steps);
        if (pieces.length > 1) {
          for (const p of pieces) work.push(p);
          continue;
        }
      }
      if (!io.every((p) => comp.some((i) => p(i)))) continue;
      if (!ioSteps.every((p) => steps.some(([i, j]) => p(i, j)))) continue;
      let unfairWeak = false;
      const badStrong: number[] = [];
      fair.forEach((f, k) => {
        const served = steps.some(([i, j]) => f.taken(i, j));
        if (served) return;
        if (f.kind === 'WF') {
          if (comp.every((i) => f.enabled(i))) unfairWeak = true;
        } else if (comp.some((i) => f.enabled(i))) {
          badStrong.push(k);
        }
      });
      if (unfairWeak) continue;
      if (badStrong.length === 0) {
        // keep the component entered earliest: the shortest prefix
        const o = order[entryOf(comp)]!;
        if (o < foundOrder) {
          found = comp;
          foundOrder = o;
        }
        continue;
      }
      const rest = comp.filter((i) => !badStrong.some((k) => fair[k]!.enabled(i)));
      if (rest.length > 0) work.push(rest);
    }
  }
  if (!found) return null;

  // Build the lasso: prefix to the entry state, then a cycle meeting every requirement.
  const comp = found;
  const inComp = new Uint8Array(n);
  for (const i of comp) inComp[i] = 1;
  const entry = entryOf(comp);
  const prefix: number[] = [];
  for (let i = entry; i !== -1;) {
    prefix.push(i);
    if (parent2 && parent2[i] !== -2) {
      const p = parent2[i]!;
      if (p === -1) {
        // the trigger state: continue along the phase-1 parents
        for (let k = parent1[i]!; k !== -1; k = parent1[k]!) prefix.push(k);
        break;
      }
      i = p;
    } else {
      i = parent1[i]!;
    }
  }
  prefix.reverse();

  const allowed = (i: number, j: number): boolean => inComp[i] === 1 && inComp[j] === 1 && stepAllowed(i, j);
  type Req = { state?: StatePred; step?: EdgePred };
  const reqs: Req[] = [];
  for (const p of io) reqs.push({ state: p });
  for (const p of ioSteps) reqs.push({ step: p });
  for (const f of fair) {
    const disabledSomewhere = comp.some((i) => !f.enabled(i));
    if (f.kind === 'WF') {
      if (disabledSomewhere) reqs.push({ state: (i) => !f.enabled(i) });
      else reqs.push({ step: f.taken });
    } else if (comp.some((i) => f.enabled(i))) {
      reqs.push({ step: f.taken });
    }
  }

  // Stuttering at the entry forever, when that meets every requirement.
  const stutterOk =
    stepAllowed(entry, entry) && reqs.every((r) => (r.state ? r.state(entry) : r.step!(entry, entry)));
  if (stutterOk) return { states: prefix, loopsTo: prefix.length - 1, stuttering: true };

  const cycle: number[] = []; // states after the entry, in order
  let cur = entry;
  for (const r of reqs) {
    if (r.state && r.state(cur)) continue;
    const path = bfsInside(cur, g.succ, allowed, r, false);
    if (!path) throw new Error('internal error: a fair component lost a requirement');
    if (path.length === 0) {
      cycle.push(cur); // a stuttering step meets it
    } else {
      for (const x of path) cycle.push(x);
      cur = path[path.length - 1]!;
    }
  }
  if (cycle.length === 0 || cur !== entry) {
    const back = bfsInside(cur, g.succ, allowed, { state: (i) => i === entry }, true);
    if (!back) throw new Error('internal error: no way back to the entry of a fair component');
    for (const x of back) cycle.push(x);
  }
  // The cycle ends with the entry again; the lasso lists it once.
  cycle.pop();
  return { states: [...prefix, ...cycle], loopsTo: prefix.length - 1, stuttering: cycle.length === 0 };
}

/**
 * Shortest path inside the component from `from` to a state satisfying r.state (a state other
 * than `from`, or `from` again after at least one step when `again`), or through a step
 * satisfying r.step. Returns the states after `from`; [] when stuttering at `from` meets r.step.
 */
function bfsInside(
  from: number,
  succ: readonly (readonly number[])[],
  allowed: (i: number, j: number) => boolean,
  r: { state?: StatePred; step?: EdgePred },
  again: boolean,
): number[] | null {
  if (r.step && allowed(from, from) && r.step(from, from)) return [];
  const prev = new Map<number, number>();
  prev.set(from, -1);
  const q = [from];
  const pathTo = (k: number): number[] => {
    const out: number[] = [];
    while (k !== from) {
      out.push(k);
      k = prev.get(k)!;
    }
    return out.reverse();
  };
  for (let h = 0; h < q.length; h++) {
    const i = q[h]!;
    // a stuttering step at a state on the way (at `from` it was tried above)
    if (r.step && i !== from && allowed(i, i) && r.step(i, i)) return [...pathTo(i), i];
    for (const j of succ[i]!) {
      if (!allowed(i, j)) continue;
      if (r.step && r.step(i, j)) return [...pathTo(i), j];
      if (r.state && r.state(j) && (j !== from || again)) return [...pathTo(i), j];
      if (!prev.has(j)) {
        prev.set(j, i);
        q.push(j);
      }
    }
  }
  return null;
}

/** Reusable Tarjan arrays over state numbers 0..n-1 (entries are reset after each use). */
export class SccScratch {
  readonly index: Int32Array;
  readonly low: Int32Array;
  readonly onStack: Uint8Array;
  constructor(n: number) {
    this.index = new Int32Array(n).fill(-1);
    this.low = new Int32Array(n);
    this.onStack = new Uint8Array(n);
  }
}

/**
 * Strongly connected components of the subgraph on `nodes` (iterative Tarjan, no recursion).
 * Every state has a stuttering self-loop in the behaviour graph, so singletons count too.
 */
export function sccs(
  nodes: readonly number[],
  isMember: (i: number) => boolean,
  succ: readonly (readonly number[])[],
  scratch: SccScratch,
): number[][] {
  const { index, low, onStack } = scratch;
  const stack: number[] = [];
  const out: number[][] = [];
  let counter = 0;
  const callV: number[] = [];
  const callE: number[] = [];
  for (const root of nodes) {
    if (index[root] !== -1) continue;
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    callV.push(root);
    callE.push(0);
    while (callV.length > 0) {
      const top = callV.length - 1;
      const v = callV[top]!;
      const edges = succ[v]!;
      if (callE[top]! < edges.length) {
        const w = edges[callE[top]!++]!;
        if (!isMember(w)) continue;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          callV.push(w);
          callE.push(0);
        } else if (onStack[w]) {
          if (index[w]! < low[v]!) low[v] = index[w]!;
        }
      } else {
        callV.pop();
        callE.pop();
        if (callV.length > 0) {
          const u = callV[callV.length - 1]!;
          if (low[v]! < low[u]!) low[u] = low[v]!;
        }
        if (low[v] === index[v]) {
          const comp: number[] = [];
          for (;;) {
            const w = stack.pop()!;
            onStack[w] = 0;
            comp.push(w);
            if (w === v) break;
          }
          out.push(comp);
        }
      }
    }
  }
  for (const v of nodes) index[v] = -1;
  return out;
}

/** Components of `comp` under the allowed steps only (self-loops do not connect anything). */
function sccsOfSteps(comp: readonly number[], steps: readonly [number, number][]): number[][] {
  const idx = new Map<number, number>();
  comp.forEach((v, k) => idx.set(v, k));
  const succLocal: number[][] = comp.map(() => []);
  for (const [i, j] of steps) if (i !== j) succLocal[idx.get(i)!]!.push(idx.get(j)!);
  const local = comp.map((_, k) => k);
  return sccs(local, () => true, succLocal, new SccScratch(comp.length)).map((c) => c.map((k) => comp[k]!));
}
