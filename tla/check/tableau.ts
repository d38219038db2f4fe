// General temporal properties. A behaviour violating a property satisfies the property's
// negation; the negation (a formula of []/<> over state and step predicates, /\, \/ and ~) is
// put in negation normal form and translated into a generalized Buchi automaton by the
// tableau construction of Gerth, Peled, Vardi and Wolper (1995): each automaton node holds the
// literals that must hold at the current position (state literals on the current state, step
// literals on the step leaving it) and the obligations passed on to the next position; every
// <>f gives an acceptance set (the nodes where <>f is not pending or f holds now).
// The automaton's product with the behaviour graph (every state stutters) is itself a graph,
// searched for a fair accepting lasso by findFairLasso: acceptance sets become
// "infinitely often" conditions, the specification's WF/SF are mapped onto the product, and a
// product stuttering step is allowed only where the automaton allows it.
import { TlaError } from '../errors.ts';
import { findFairLasso, type EdgePred, type Fairness, type Lasso, type LiveGraph, type StatePred } from './liveness.ts';

/** A temporal formula over atoms of type A. */
export type TForm<A> =
  | { readonly op: 'atom'; readonly atom: A }
  | { readonly op: 'const'; readonly value: boolean }
  | { readonly op: 'not'; readonly arg: TForm<A> }
  | { readonly op: 'and' | 'or'; readonly args: readonly TForm<A>[] }
  | { readonly op: 'always' | 'eventually'; readonly arg: TForm<A> };

/** A compiled atom: a predicate of the current state, or of the step leaving it. */
export type Atom =
  | { readonly kind: 'state'; readonly holds: StatePred }
  | { readonly kind: 'step'; readonly holds: EdgePred };

export const tf = {
  atom: <A>(atom: A): TForm<A> => ({ op: 'atom', atom }),
  not: <A>(arg: TForm<A>): TForm<A> => ({ op: 'not', arg }),
  and: <A>(...args: TForm<A>[]): TForm<A> => ({ op: 'and', args }),
  or: <A>(...args: TForm<A>[]): TForm<A> => ({ op: 'or', args }),
  always: <A>(arg: TForm<A>): TForm<A> => ({ op: 'always', arg }),
  eventually: <A>(arg: TForm<A>): TForm<A> => ({ op: 'eventually', arg }),
  implies: <A>(a: TForm<A>, b: TForm<A>): TForm<A> => ({ op: 'or', args: [{ op: 'not', arg: a }, b] }),
};

/** Maps the atoms (the same atom object maps to the same result once). */
export function mapAtoms<A, B>(f: TForm<A>, fn: (a: A) => B): TForm<B> {
  const memo = new Map<A, B>();
  const go = (x: TForm<A>): TForm<B> => {
    switch (x.op) {
      case 'atom': {
        let b = memo.get(x.atom);
        if (b === undefined) {
          b = fn(x.atom);
          memo.set(x.atom, b);
        }
        return { op: 'atom', atom: b };
      }
      case 'const':
        return x;
      case 'not':
      case 'always':
      case 'eventually':
        return { op: x.op, arg: go(x.arg) };
      case 'and':
      case 'or':
        return { op: x.op, args: x.args.map(go) };
    }
  };
  return go(f);
}

// ---------------------------------------------------------------------------------------------
// Negation normal form, interned: every distinct subformula gets a number.

type NNode =
  | { readonly op: 'true' | 'false' }
  | { readonly op: 'lit'; readonly atom: number; readonly pos: boolean }
  | { readonly op: 'and' | 'or'; readonly args: readonly number[] }
  | { readonly op: 'always' | 'eventually'; readonly arg: number };

class Interner {
  readonly nodes: NNode[] = [];
  private readonly keys = new Map<string, number>();
  readonly atoms: Atom[] = [];
  private readonly atomIds = new Map<Atom, number>();

  atomId(a: Atom): number {
    let id = this.atomIds.get(a);
    if (id === undefined) {
      id = this.atoms.length;
      this.atoms.push(a);
      this.atomIds.set(a, id);
    }
    return id;
  }

  private intern(n: NNode): number {
    let key: string;
    switch (n.op) {
      case 'true':
      case 'false':
        key = n.op;
        break;
      case 'lit':
        key = `${n.pos ? '' : '!'}${n.atom}`;
        break;
      case 'and':
      case 'or':
        key = `${n.op}(${n.args.join(',')})`;
        break;
      default:
        key = `${n.op}(${n.arg})`;
    }
    let id = this.keys.get(key);
    if (id === undefined) {
      id = this.nodes.length;
      this.nodes.push(n);
      this.keys.set(key, id);
    }
    return id;
  }

  /** NNF of f (negated when neg), with constants folded and nested []/<> of the same kind merged. */
  nnf(f: TForm<Atom>, neg: boolean): number {
    switch (f.op) {
      case 'atom':
        return this.intern({ op: 'lit', atom: this.atomId(f.atom), pos: !neg });
      case 'const':
        return this.intern({ op: f.value !== neg ? 'true' : 'false' });
      case 'not':
        return this.nnf(f.arg, !neg);
      case 'and':
      case 'or': {
        const op = (f.op === 'and') !== neg ? 'and' : 'or';
        const unit = op === 'and' ? 'true' : 'false';
        const zero = op === 'and' ? 'false' : 'true';
        const args: number[] = [];
        for (const a of f.args) {
          const id = this.nnf(a, neg);
          const n = this.nodes[id]!;
          if (n.op === unit) continue;
          if (n.op === zero) return id;
          if (n.op === op) {
            for (const x of n.args) if (!args.includes(x)) args.push(x);
          } else if (!args.includes(id)) args.push(id);
        }
        if (args.length === 0) return this.intern({ op: unit });
        if (args.length === 1) return args[0]!;
        args.sort((a, b) => a - b);
        return this.intern({ op, args });
      }
      case 'always':
      case 'eventually': {
        const op = (f.op === 'always') !== neg ? 'always' : 'eventually';
        const arg = this.nnf(f.arg, neg);
        const n = this.nodes[arg]!;
        if (n.op === 'true' || n.op === 'false') return arg;
        if (n.op === op) return arg; // [][]f = []f, <><>f = <>f
        return this.intern({ op, arg });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The tableau (GPVW).

export interface Automaton {
  /** Literals each node requires: state literals at the current state... */
  readonly stateLits: readonly (readonly Lit[])[];
  /** ...and step literals on the step leaving it. */
  readonly stepLits: readonly (readonly Lit[])[];
  readonly initial: readonly number[];
  readonly succ: readonly (readonly number[])[];
  /** One node set per <>f: accepting runs visit each infinitely often. */
  readonly accepting: readonly Uint8Array[];
  readonly atoms: readonly Atom[];
}

export interface Lit {
  readonly atom: number;
  readonly pos: boolean;
}

/** Guards against formulas whose automaton would not fit in memory or time. */
const MAX_NODES = 200_000;
const MAX_EXPANSIONS = 5_000_000;

/** Builds a generalized Buchi automaton accepting exactly the behaviours satisfying f. */
export function buildAutomaton(
  f: TForm<Atom>,
  limits: { readonly nodes: number; readonly expansions: number } = { nodes: MAX_NODES, expansions: MAX_EXPANSIONS },
): Automaton {
  const it = new Interner();
  const root = it.nnf(f, false);
  const N = it.nodes;

  interface TNode {
    incoming: Set<number>; // -1: initial
    fresh: number[];
    old: Set<number>;
    next: Set<number>;
  }
  const done: { old: Set<number>; next: Set<number>; incoming: Set<number> }[] = [];
  const byKey = new Map<string, number>();
  const keyOf = (n: TNode): string =>
    `${[...n.old].sort((a, b) => a - b).join(',')}|${[...n.next].sort((a, b) => a - b).join(',')}`;

  const contradicts = (old: Set<number>, id: number): boolean => {
    const n = N[id]!;
    if (n.op !== 'lit') return false;
    for (const o of old) {
      const m = N[o]!;
      if (m.op === 'lit' && m.atom === n.atom && m.pos !== n.pos) return true;
    }
    return false;
  };

  const tooBig = (what: string): never => {
    throw new TlaError(
      'unsupported',
      `the tableau of the temporal property exceeds ${what} (nested temporal operators under large \\A/\\E or many disjunctions); split it into conjuncts, or quantify outside the temporal operators`,
    );
  };
  const work: TNode[] = [{ incoming: new Set([-1]), fresh: [root], old: new Set(), next: new Set() }];
  let expansions = 0;
  while (work.length > 0) {
    if (++expansions > limits.expansions) tooBig(`${limits.expansions} expansion steps`);
    const node = work.pop()!;
    if (node.fresh.length === 0) {
      const key = keyOf(node);
      const seen = byKey.get(key);
      if (seen !== undefined) {
        for (const i of node.incoming) done[seen]!.incoming.add(i);
        continue;
      }
      const id = done.length;
      if (id >= limits.nodes) tooBig(`${limits.nodes} nodes`);
      done.push({ old: node.old, next: node.next, incoming: new Set(node.incoming) }); // branches share their incoming set
      byKey.set(key, id);
      work.push({ incoming: new Set([id]), fresh: [...node.next], old: new Set(), next: new Set() });
      continue;
    }
    const eta = node.fresh.pop()!;
    if (node.old.has(eta)) {
      work.push(node);
      continue;
    }
    const n = N[eta]!;
    const withOld = (x: TNode, extraFresh: number[], extraNext: number[]): TNode => {
      const old = new Set(x.old);
      old.add(eta);
      const next = new Set(x.next);
      for (const y of extraNext) next.add(y);
      return { incoming: x.incoming, fresh: [...x.fresh, ...extraFresh.filter((y) => !old.has(y))], old, next };
    };
    switch (n.op) {
      case 'false':
        break; // contradiction: the node is dropped
      case 'true':
        work.push(withOld(node, [], []));
        break;
      case 'lit':
        if (!contradicts(node.old, eta)) work.push(withOld(node, [], []));
        break;
      case 'and':
        work.push(withOld(node, [...n.args], []));
        break;
      case 'or':
        for (const a of n.args) work.push(withOld(node, [a], []));
        break;
      case 'always': // f R-false: f now and []f next
        work.push(withOld(node, [n.arg], [eta]));
        break;
      case 'eventually': // true U f: f now, or <>f next
        work.push(withOld(node, [n.arg], []));
        work.push(withOld(node, [], [eta]));
        break;
    }
  }

  const size = done.length;
  const succ: number[][] = Array.from({ length: size }, () => []);
  const initial: number[] = [];
  done.forEach((d, j) => {
    for (const i of d.incoming) {
      if (i === -1) initial.push(j);
      else succ[i]!.push(j);
    }
  });
  const stateLits: Lit[][] = [];
  const stepLits: Lit[][] = [];
  for (const d of done) {
    const sl: Lit[] = [];
    const tl: Lit[] = [];
    for (const o of d.old) {
      const n = N[o]!;
      if (n.op !== 'lit') continue;
      (it.atoms[n.atom]!.kind === 'state' ? sl : tl).push({ atom: n.atom, pos: n.pos });
    }
    stateLits.push(sl);
    stepLits.push(tl);
  }
  const accepting: Uint8Array[] = [];
  N.forEach((n, id) => {
    if (n.op !== 'eventually') return;
    const acc = new Uint8Array(size);
    done.forEach((d, j) => {
      if (!d.old.has(id) || d.old.has(n.arg)) acc[j] = 1;
    });
    accepting.push(acc);
  });
  return { stateLits, stepLits, initial, succ, accepting, atoms: it.atoms };
}

// ---------------------------------------------------------------------------------------------
// Product with the behaviour graph and the search.

export interface TemporalSearchStats {
  automatonNodes: number;
  productStates: number;
}

/**
 * Finds a fair behaviour of the graph (every state may stutter) satisfying f, as a lasso over
 * the graph's state numbers, or null when there is none.
 */
export function findTemporalLasso(
  g: LiveGraph,
  f: TForm<Atom>,
  fairness: readonly Fairness[],
  stats?: TemporalSearchStats,
): Lasso | null {
  const aut = buildAutomaton(f);
  const n = g.size;
  // Atom values, memoized on graph states and steps.
  const stateVal = aut.atoms.map((a) => (a.kind === 'state' ? new Int8Array(n) : null));
  const stepVal = aut.atoms.map((a) => (a.kind === 'step' ? new Map<number, boolean>() : null));
  const litState = (l: Lit, s: number): boolean => {
    const cache = stateVal[l.atom]!;
    let c = cache[s]!;
    if (c === 0) {
      c = (aut.atoms[l.atom] as { holds: StatePred }).holds(s) ? 1 : -1;
      cache[s] = c;
    }
    return c > 0 === l.pos;
  };
  const litStep = (l: Lit, s: number, t: number): boolean => {
    const cache = stepVal[l.atom]!;
    const k = s * n + t;
    let v = cache.get(k);
    if (v === undefined) {
      v = (aut.atoms[l.atom] as { holds: EdgePred }).holds(s, t);
      cache.set(k, v);
    }
    return v === l.pos;
  };
  const stateOk = (q: number, s: number): boolean => aut.stateLits[q]!.every((l) => litState(l, s));
  const stepOk = (q: number, s: number, t: number): boolean => aut.stepLits[q]!.every((l) => litStep(l, s, t));

  // Product states (s, q), numbered in breadth-first order.
  const Q = aut.stateLits.length;
  // (s, q) -> product number: one Int32Array per automaton node (allocated on first use)
  // while that stays moderate, else a Map.
  const dense = n * Q <= 1 << 26;
  const byNode: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(Q);
  const index = new Map<number, number>();
  const ps: number[] = [];
  const pq: number[] = [];
  const psucc: number[][] = [];
  let selfLoop = new Uint8Array(1024);
  const init: number[] = [];
  const add = (s: number, q: number): number => {
    let id: number | undefined;
    let row: Int32Array | undefined;
    if (dense) {
      row = byNode[q];
      if (!row) row = byNode[q] = new Int32Array(n).fill(-1);
      id = row[s]! >= 0 ? row[s] : undefined;
    } else id = index.get(s * Q + q);
    if (id === undefined) {
      id = ps.length;
      if (row) row[s] = id;
      else index.set(s * Q + q, id);
      ps.push(s);
      pq.push(q);
      psucc.push([]);
      if (id >= selfLoop.length) {
        const grown = new Uint8Array(selfLoop.length * 2);
        grown.set(selfLoop);
        selfLoop = grown;
      }
    }
    return id;
  };
  for (const s of g.init) {
    for (const q of aut.initial) if (stateOk(q, s)) init.push(add(s, q));
  }
  for (let p = 0; p < ps.length; p++) {
    const s = ps[p]!;
    const q = pq[p]!;
    const out = psucc[p]!;
    // No duplicate check: the engine's successor lists have none (a duplicate would only
    // repeat an edge); the stuttering step is added unless the graph has the self-loop.
    const succ = g.succ[s]!;
    const explicitLoop = succ.includes(s);
    for (let k = explicitLoop ? 0 : -1; k < succ.length; k++) {
      const t = k < 0 ? s : succ[k]!;
      if (!stepOk(q, s, t)) continue;
      for (const q2 of aut.succ[q]!) {
        if (!stateOk(q2, t)) continue;
        const p2 = add(t, q2);
        if (p2 === p) selfLoop[p] = 1;
        else out.push(p2);
      }
    }
  }
  if (stats) {
    stats.automatonNodes = Q;
    stats.productStates = ps.length;
  }

  // Fairness of the specification on the product, memoized on graph states.
  const pfair: Fairness[] = fairness.map((fa) => {
    const en = new Int8Array(n);
    const enabled = (s: number): boolean => {
      let c = en[s]!;
      if (c === 0) {
        c = fa.enabled(s) ? 1 : -1;
        en[s] = c;
      }
      return c > 0;
    };
    return { kind: fa.kind, name: fa.name, enabled: (p) => enabled(ps[p]!), taken: (p, p2) => fa.taken(ps[p]!, ps[p2]!) };
  });
  const product: LiveGraph = { size: ps.length, init, succ: psucc };
  const lasso = findFairLasso(
    product,
    {
      name: 'tableau',
      always: [],
      eventuallyAlways: [],
      eventuallyAlwaysSteps: [],
      stutters: (p) => selfLoop[p] === 1,
      infinitelyOften: aut.accepting.map((acc) => (p: number) => acc[pq[p]!] === 1),
      infinitelyOftenSteps: [],
    },
    pfair,
  );
  if (!lasso) return null;
  // Without step atoms the formula cannot tell stuttering steps apart (no next-state operator):
  // they are dropped from the counterexample. With step atoms they stay (an action at the first
  // step may well be false on a stuttering step).
  return projectLasso(lasso, ps, aut.atoms.every((a) => a.kind === 'state'));
}

/** The lasso over graph states; with `merge`, product steps that stutter on the graph state are merged. */
function projectLasso(l: Lasso, ps: readonly number[], merge: boolean): Lasso {
  const xs = l.states.map((p) => ps[p]!);
  if (!merge) return { states: xs, loopsTo: l.loopsTo, stuttering: l.loopsTo === xs.length - 1 };
  const out: number[] = [];
  let loopsTo = -1;
  xs.forEach((s, k) => {
    if (out.length === 0 || out[out.length - 1] !== s) out.push(s);
    if (k === l.loopsTo) loopsTo = out.length - 1;
  });
  // The last state stepping back to an equal state: that step is the one into it.
  if (out.length - 1 > loopsTo && out[out.length - 1] === out[loopsTo]) out.pop();
  return { states: out, loopsTo, stuttering: loopsTo === out.length - 1 };
}
