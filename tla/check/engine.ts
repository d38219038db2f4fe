// The explicit-state search: breadth-first over distinct states (by fingerprint), checking
// invariants, action properties, constraints and deadlock the way TLC does, counting
// statesGenerated and depth as TLC does, and rebuilding shortest counterexamples by replaying
// successors along the parent chain. It works on an abstract SearchSystem, so the algorithms
// are independent of the TLA+ evaluator (the checker adapts a Model to this interface).
import { HeapBudgetExceeded, HeapWatch } from '../memory.ts';
import { FingerprintSet, splitFingerprint } from './fpset.ts';

export interface NamedStatePred<S> {
  readonly name: string;
  /** True when the predicate holds; throws (a TlaError) when it cannot be evaluated. */
  holds(s: S): boolean;
}

export interface NamedActionPred<S> {
  readonly name: string;
  holds(s: S, t: S): boolean;
}

export interface SearchSystem<S, L> {
  initStates(emit: (s: S) => void): void;
  /** Calls emit once per successor TLC would generate (duplicates included). */
  successors(s: S, emit: (t: S, label: L) => void): void;
  /** 64-bit fingerprint of the state (of its VIEW, of its symmetry class). */
  fingerprint(s: S): bigint;
  /** The same fingerprint written as [hi, lo] uint32 into out (faster: no bigint). */
  fingerprintInto?(s: S, out: Uint32Array): void;
  readonly invariants: readonly NamedStatePred<S>[];
  /** State predicates that must hold in every initial state (PROPERTY conjuncts without temporal operators). */
  readonly initProperties: readonly NamedStatePred<S>[];
  /** Action properties `[][A]_v`, checked on every generated transition. */
  readonly actionProperties: readonly NamedActionPred<S>[];
  readonly constraint?: (s: S) => boolean;
  readonly actionConstraint?: (s: S, t: S) => boolean;
  /** Identifies a label (action name and arguments), to tell labelled edges apart. */
  readonly labelKey?: (l: L) => string;
}

export interface LabelledEdge<L> {
  readonly to: number;
  readonly label: L;
}

export interface TraceStep<S, L> {
  readonly state: S;
  /** The action that led here; null for the initial state. */
  readonly label: L | null;
}

export interface Trace<S, L> {
  readonly steps: readonly TraceStep<S, L>[];
  /** 0-based index of the state the last state loops back to (a lasso), if any. */
  readonly loopsTo?: number;
  /** True when the lasso's cycle is the last state stuttering forever. */
  readonly stuttering?: boolean;
}

export type ViolationKind = 'invariant' | 'deadlock' | 'action-property' | 'init-property' | 'liveness';

export interface SearchViolation<S, L> {
  readonly kind: ViolationKind;
  /** The invariant or property name; null for deadlock. */
  readonly name: string | null;
  readonly trace: Trace<S, L>;
}

export interface SearchError<S, L> {
  readonly error: unknown;
  /** What was being done: 'initial states', 'successors', 'invariant X', ... */
  readonly during: string;
  /** The behaviour up to the state where the error arose (absent before any state exists). */
  readonly trace?: Trace<S, L>;
}

export interface StateGraph<S, L = unknown> {
  /** Distinct states by state number. */
  readonly states: readonly S[];
  /** Successor state numbers of each state (deduplicated, in generation order). */
  readonly succ: readonly (readonly number[])[];
  /** State numbers of the initial states (deduplicated). */
  readonly init: readonly number[];
  /** With recordLabels: the distinct (target, label) edges of each state, in generation order. */
  readonly labelled?: readonly (readonly LabelledEdge<L>[])[];
}

export interface SearchResult<S, L> {
  readonly result: 'ok' | 'invariant' | 'property' | 'deadlock' | 'error';
  readonly distinctStates: number;
  readonly statesGenerated: number;
  readonly depth: number;
  readonly leftOnQueue: number;
  readonly violation?: SearchViolation<S, L>;
  readonly error?: SearchError<S, L>;
  /** The explored graph, when recordGraph was asked for and the search completed or found a violation (then: the part explored). */
  readonly graph?: StateGraph<S, L>;
  /** Bytes held by the fingerprint set at the end. */
  readonly fingerprintBytes: number;
  /** With the coverage option: counts per action name, in the order first seen. */
  readonly coverage?: ReadonlyMap<string, ActionCount>;
  /**
   * With continueAfterViolation: every violation found, in the order found, with a trace for
   * the first maxViolationTraces of them (`violation` is the first).
   */
  readonly violations?: readonly SearchViolation<S, L>[];
  /** With continueAfterViolation: violating states (and transitions) per name ('deadlock' for deadlocks). */
  readonly violationCounts?: ReadonlyMap<string, number>;
}

export interface SearchProgress {
  readonly distinctStates: number;
  readonly statesGenerated: number;
  readonly queue: number;
  readonly depth: number;
  readonly elapsedMs: number;
}

export interface SearchOptions<L = unknown> {
  readonly checkDeadlock?: boolean;
  /** Stop with an error after this many distinct states. */
  readonly maxStates?: number;
  /** Keep every distinct state and the successor lists (needed for liveness, traces). */
  readonly recordGraph?: boolean;
  /** With recordGraph: also keep each distinct labelled edge. */
  readonly recordLabels?: boolean;
  readonly onProgress?: (p: SearchProgress) => void;
  readonly progressIntervalMs?: number;
  /**
   * Samples heap use every HEAP_CHECK_EVERY generated states and stops the search with an
   * error before the heap runs out (default: a HeapWatch on the checker's heap budget; null: off).
   */
  readonly heapWatch?: Pick<HeapWatch, 'over' | 'describe'> | null;
  /**
   * Count per action (TLC's -coverage): `coverage(label)` names the action of a transition
   * (the initial states count under `coverageInit`); the result then has `coverage`.
   */
  readonly coverage?: (label: L) => string;
  readonly coverageInit?: string;
  /**
   * Go on after an invariant, action-property or deadlock violation (TLC's -continue): each
   * violating state is reported once, with the first invariant it violates, and is explored
   * further; the result is the first violation's, over the complete search.
   */
  readonly continueAfterViolation?: boolean;
  /** With continueAfterViolation: traces are rebuilt for this many violations (default 100); all are counted. */
  readonly maxViolationTraces?: number;
}

/** Default of SearchOptions.maxViolationTraces. */
export const MAX_VIOLATION_TRACES = 100;

/** Per action: states generated through it, and the new distinct states among them. */
export interface ActionCount {
  generated: number;
  distinct: number;
}

/** Generated states between two looks at the heap (a look costs about a microsecond). */
export const HEAP_CHECK_EVERY = 4096;

/** Raised inside the search to stop it with an error result. */
class StopSearch<S, L> {
  constructor(readonly error: SearchError<S, L>) {}
}

/** A FIFO of (state, state number, depth) that releases memory as it drains. */
class StateQueue<S> {
  private states: (S | undefined)[] = [];
  private ids: number[] = [];
  private depths: number[] = [];
  private head = 0;

  get length(): number {
    return this.states.length - this.head;
  }

  push(s: S, id: number, depth: number): void {
    this.states.push(s);
    this.ids.push(id);
    this.depths.push(depth);
  }

  /** The id and depth of the state the last shift() returned. */
  lastId = -1;
  lastDepth = 0;

  shift(): S {
    const h = this.head++;
    const s = this.states[h] as S;
    this.states[h] = undefined;
    this.lastId = this.ids[h]!;
    this.lastDepth = this.depths[h]!;
    if (this.head >= 65536 && this.head * 2 >= this.states.length) {
      this.states = this.states.slice(this.head);
      this.ids = this.ids.slice(this.head);
      this.depths = this.depths.slice(this.head);
      this.head = 0;
    }
    return s;
  }
}

export function search<S, L>(sys: SearchSystem<S, L>, opts: SearchOptions<L> = {}): SearchResult<S, L> {
  const checkDeadlock = opts.checkDeadlock ?? true;
  const maxStates = opts.maxStates ?? Infinity;
  const record = opts.recordGraph ?? false;
  const fps = new FingerprintSet();
  const queue = new StateQueue<S>();
  const states: S[] = [];
  const succ: number[][] = [];
  const initIds: number[] = [];
  const labelled: LabelledEdge<L>[][] | null = record && opts.recordLabels ? [] : null;
  const labelKey = sys.labelKey ?? ((l: L) => JSON.stringify(l));
  let generated = 0;
  let depth = 0;
  const started = Date.now();
  let lastProgress = started;
  const progressEvery = opts.progressIntervalMs ?? 1000;
  const heap = opts.heapWatch === undefined ? new HeapWatch() : opts.heapWatch;
  let heapTick = HEAP_CHECK_EVERY;
  /**
   * Throws a StopSearch when the heap is over budget (called every HEAP_CHECK_EVERY states;
   * `pending`: successors generated but not yet counted).
   */
  const lookAtHeap = (initial: boolean, pending = 0): void => {
    if (!heap || !heap.over()) return;
    const where = initial
      ? `after ${generated} initial states (the initial predicate has more states than fit)`
      : `after ${fps.size} distinct states (${generated + pending} generated, depth ${depth}, ${queue.length} on the queue)`;
    throw new StopSearch<S, L>({
      error: new HeapBudgetExceeded(
        `Out of memory: stopped ${where}; the search is incomplete: ${heap.describe()}`,
      ),
      during: initial ? 'computing the initial states' : 'exploring',
    });
  };

  const fpBuf = new Uint32Array(2);
  const fp2 = sys.fingerprintInto
    ? (s: S): [number, number] => {
        sys.fingerprintInto!(s, fpBuf);
        return [fpBuf[0]!, fpBuf[1]!];
      }
    : (s: S): [number, number] => splitFingerprint(sys.fingerprint(s));
  const fpOf = (s: S, during: string, trace: () => Trace<S, L> | undefined): [number, number] => {
    try {
      return fp2(s);
    } catch (error) {
      throw new StopSearch<S, L>({ error, during, trace: trace() });
    }
  };

  /** The fingerprints from an initial state to state `id`, along the parent chain. */
  const chainOf = (id: number): [number, number][] => {
    const chain: [number, number][] = [];
    for (let i = id; i !== -1; i = fps.parent(i)) chain.push([fps.hi(i), fps.lo(i)]);
    return chain.reverse();
  };
  const replay = (id: number, accept?: (s: S) => boolean): TraceStep<S, L>[] =>
    replayFingerprints(sys, chainOf(id), accept);

  const safeReplay = (id: number, accept?: (s: S) => boolean): Trace<S, L> | undefined => {
    try {
      return { steps: replay(id, accept) };
    } catch {
      return undefined;
    }
  };

  const coverageOf = opts.coverage ?? null;
  const cov = coverageOf ? new Map<string, ActionCount>() : null;
  const count = (name: string, isNew: boolean): void => {
    let c = cov!.get(name);
    if (!c) cov!.set(name, (c = { generated: 0, distinct: 0 }));
    c.generated++;
    if (isNew) c.distinct++;
  };
  const finish = (
    result: SearchResult<S, L>['result'],
    extra: { violation?: SearchViolation<S, L>; error?: SearchError<S, L>; complete?: boolean },
  ): SearchResult<S, L> => ({
    result,
    distinctStates: fps.size,
    statesGenerated: generated,
    depth,
    leftOnQueue: queue.length,
    ...(extra.violation ? { violation: extra.violation } : {}),
    ...(extra.error ? { error: extra.error } : {}),
    ...(record && (extra.complete || extra.violation)
      ? { graph: { states, succ, init: initIds, ...(labelled ? { labelled } : {}) } }
      : {}),
    fingerprintBytes: fps.bytes,
    ...(cov ? { coverage: cov } : {}),
    ...(found ? { violations: found, violationCounts: foundCounts } : {}),
  });

  // --continue: the violations found so far (traces for the first maxTraces), counts per name.
  const keepGoing = opts.continueAfterViolation ?? false;
  const maxTraces = Math.max(1, opts.maxViolationTraces ?? MAX_VIOLATION_TRACES);
  const found: SearchViolation<S, L>[] | null = keepGoing ? [] : null;
  const foundCounts = new Map<string, number>();
  /** Records a violation under --continue; false when the search must stop with it. */
  const note = (kind: ViolationKind, name: string | null, trace: () => Trace<S, L>): boolean => {
    if (!found) return false;
    const key = name ?? 'deadlock';
    foundCounts.set(key, (foundCounts.get(key) ?? 0) + 1);
    if (found.length < maxTraces) found.push({ kind, name, trace: trace() });
    return true;
  };
  /** The result of a search that went on after violations (the first one is the verdict). */
  const continued = (): SearchResult<S, L> => {
    const v = found![0]!;
    const verdict = v.kind === 'invariant' ? 'invariant' : v.kind === 'deadlock' ? 'deadlock' : 'property';
    return finish(verdict, { violation: v, complete: true });
  };

  const evalPred = <T>(f: () => T, during: string, trace: () => Trace<S, L> | undefined): T => {
    try {
      return f();
    } catch (error) {
      if (error instanceof StopSearch) throw error;
      throw new StopSearch<S, L>({ error, during, trace: trace() });
    }
  };

  try {
    // Initial states.
    const inits: S[] = [];
    try {
      sys.initStates((s) => {
        generated++;
        inits.push(s);
        if (--heapTick === 0) {
          heapTick = HEAP_CHECK_EVERY;
          lookAtHeap(true);
        }
      });
    } catch (error) {
      if (error instanceof StopSearch) throw error;
      throw new StopSearch<S, L>({ error, during: 'computing the initial states' });
    }
    for (let i = 0; i < inits.length; i++) {
      const s = inits[i]!;
      // Fingerprints and the queue take room too: the same look, per HEAP_CHECK_EVERY states.
      if (i % HEAP_CHECK_EVERY === HEAP_CHECK_EVERY - 1) lookAtHeap(true);
      const single = (): Trace<S, L> => ({ steps: [{ state: s, label: null }] });
      const inModel = sys.constraint
        ? evalPred(() => sys.constraint!(s), 'evaluating the CONSTRAINT', single)
        : true;
      // As TLC does: a state outside the CONSTRAINT is not kept, but its invariants are checked.
      let id = -1;
      if (inModel) {
        const [hi, lo] = fpOf(s, 'fingerprinting an initial state', single);
        id = fps.add(hi, lo, -1);
        if (cov) count(opts.coverageInit ?? 'Init', id >= 0);
        if (id < 0) continue;
        initIds.push(id);
        if (record) {
          states.push(s);
          succ.push([]);
          labelled?.push([]);
        }
        depth = 1;
      }
      for (const inv of sys.invariants) {
        if (!evalPred(() => inv.holds(s), `evaluating invariant ${inv.name}`, single)) {
          if (note('invariant', inv.name, single)) break;
          return finish('invariant', { violation: { kind: 'invariant', name: inv.name, trace: single() } });
        }
      }
      for (const p of sys.initProperties) {
        if (!evalPred(() => p.holds(s), `evaluating property ${p.name}`, single)) {
          if (note('init-property', p.name, single)) break;
          return finish('property', { violation: { kind: 'init-property', name: p.name, trace: single() } });
        }
      }
      if (id < 0) continue;
      queue.push(s, id, 1);
      if (fps.size >= maxStates) {
        throw new StopSearch<S, L>({
          error: new Error(
            `stopped after ${fps.size} distinct states (--max-states ${maxStates}); the search is incomplete`,
          ),
          during: 'exploring',
        });
      }
    }

    // Breadth-first exploration. The loop is the hot path: no closures or strings per state.
    const invariants = sys.invariants;
    const invDuring = invariants.map((inv) => `evaluating invariant ${inv.name}`);
    const actionProps = sys.actionProperties;
    const apDuring = actionProps.map((ap) => `evaluating action property ${ap.name}`);
    const constraint = sys.constraint;
    const actionConstraint = sys.actionConstraint;
    const fpInto = sys.fingerprintInto;
    const outs: S[] = [];
    const labels: L[] = [];
    while (queue.length > 0) {
      const s = queue.shift();
      const sid = queue.lastId;
      const sdepth = queue.lastDepth;
      const edges = record ? succ[sid]! : null;
      const ledges = labelled ? labelled[sid]! : null;
      const seenLabels = ledges ? new Set<string>() : null;
      // Collect first, check after: predicates (ENABLED in an invariant) may run the
      // evaluator's action enumeration again, which must not happen inside an enumeration.
      outs.length = 0;
      labels.length = 0;
      try {
        sys.successors(s, (t, label) => {
          outs.push(t);
          labels.push(label);
          if (--heapTick === 0) {
            heapTick = HEAP_CHECK_EVERY;
            lookAtHeap(false, outs.length);
          }
        });
      } catch (error) {
        generated += outs.length;
        if (error instanceof StopSearch) throw error;
        throw new StopSearch<S, L>({ error, during: 'computing successors', trace: safeReplay(sid) });
      }
      const nsucc = outs.length;
      let during = '';
      let k = 0;
      try {
        for (k = 0; k < nsucc; k++) {
          const t = outs[k]!;
          const label = labels[k]!;
          generated++;
          during = 'evaluating the CONSTRAINT';
          let inModel = constraint ? constraint(t) : true;
          if (inModel && actionConstraint) {
            during = 'evaluating the ACTION_CONSTRAINT';
            inModel = actionConstraint(s, t);
          }
          let seen = false;
          if (inModel) {
            during = 'fingerprinting a state';
            let r: number;
            if (fpInto) {
              fpInto(t, fpBuf);
              r = fps.add(fpBuf[0]!, fpBuf[1]!, sid);
            } else {
              const [hi, lo] = splitFingerprint(sys.fingerprint(t));
              r = fps.add(hi, lo, sid);
            }
            const to = r < 0 ? -r - 1 : r;
            if (cov) count(coverageOf!(label), r >= 0);
            if (ledges) {
              const key = `${to}|${labelKey(label)}`;
              if (!seenLabels!.has(key)) {
                seenLabels!.add(key);
                ledges.push({ to, label });
              }
            }
            if (r < 0) {
              seen = true;
              if (edges && !edges.includes(to)) edges.push(to);
            } else {
              if (record) {
                states.push(t);
                succ.push([]);
                labelled?.push([]);
                edges!.push(r);
              }
              queue.push(t, r, sdepth + 1);
              if (sdepth + 1 > depth) depth = sdepth + 1;
            }
          }
          if (!seen) {
            for (let i = 0; i < invariants.length; i++) {
              during = invDuring[i]!;
              const inv = invariants[i]!;
              if (!inv.holds(t)) {
                const trace = (): Trace<S, L> => violationTrace(sid, t, label, (x) => !inv.holds(x));
                if (note('invariant', inv.name, trace)) break;
                throw new Found({ kind: 'invariant', name: inv.name, trace: trace() });
              }
            }
          }
          for (let i = 0; i < actionProps.length; i++) {
            during = apDuring[i]!;
            const ap = actionProps[i]!;
            if (!ap.holds(s, t)) {
              const trace = (): Trace<S, L> => violationTrace(sid, t, label, null, ap);
              if (note('action-property', ap.name, trace)) break;
              throw new Found({ kind: 'action-property', name: ap.name, trace: trace() });
            }
          }
          if (inModel && !seen && fps.size >= maxStates) {
            throw new StopSearch<S, L>({
              error: new Error(
                `stopped after ${fps.size} distinct states (--max-states ${maxStates}); the search is incomplete`,
              ),
              during: 'exploring',
            });
          }
        }
      } catch (e) {
        if (e instanceof Found) {
          const v = e.violation as SearchViolation<S, L>;
          return finish(v.kind === 'invariant' ? 'invariant' : 'property', { violation: v });
        }
        if (e instanceof StopSearch) throw e;
        const base = safeReplay(sid);
        const trace = base ? { steps: [...base.steps, { state: outs[k]!, label: labels[k]! }] } : undefined;
        throw new StopSearch<S, L>({ error: e, during, trace });
      }
      if (nsucc === 0 && checkDeadlock) {
        const trace = (): Trace<S, L> =>
          safeReplay(sid, (x) => {
            let any = false;
            sys.successors(x, () => {
              any = true;
            });
            return !any;
          }) ?? { steps: [{ state: s, label: null }] };
        if (!note('deadlock', null, trace))
          return finish('deadlock', { violation: { kind: 'deadlock', name: null, trace: trace() } });
      }
      if (opts.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= progressEvery) {
          lastProgress = now;
          opts.onProgress({
            distinctStates: fps.size,
            statesGenerated: generated,
            queue: queue.length,
            depth,
            elapsedMs: now - started,
          });
        }
      }
    }
    if (found && found.length > 0) return continued();
    return finish('ok', { complete: true });
  } catch (e) {
    if (e instanceof StopSearch) return finish('error', { error: e.error as SearchError<S, L> });
    throw e;
  }

  /** The shortest trace to the parent, then the violating successor (re-found on the replayed parent). */
  function violationTrace(
    sid: number,
    t: S,
    label: L,
    bad: ((x: S) => boolean) | null,
    ap?: NamedActionPred<S>,
  ): Trace<S, L> {
    let base: TraceStep<S, L>[];
    try {
      base = replay(sid);
    } catch {
      // the evaluator did not give the same successors again (e.g. RandomElement): the state alone
      return { steps: [{ state: t, label: null }] };
    }
    const parent = base[base.length - 1]!.state;
    const [hi, lo] = fp2(t);
    const cands: TraceStep<S, L>[] = [];
    try {
      sys.successors(parent, (x, l) => cands.push({ state: x, label: l }));
    } catch {
      cands.length = 0;
    }
    const chosen = cands.find(({ state: x }) => {
      const [xh, xl] = fp2(x);
      if (xh !== hi || xl !== lo) return false;
      return bad ? safeBool(() => bad(x)) : ap ? safeBool(() => !ap.holds(parent, x)) : true;
    });
    return { steps: [...base, chosen ?? { state: t, label }] };
  }
}

class Found<S, L> {
  constructor(readonly violation: SearchViolation<S, L>) {}
}

function safeBool(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

/** The system's fingerprint of a state as [hi, lo] uint32 halves. */
export function fingerprintPairOf<S, L>(sys: SearchSystem<S, L>): (s: S) => [number, number] {
  if (sys.fingerprintInto) {
    const buf = new Uint32Array(2);
    return (s) => {
      sys.fingerprintInto!(s, buf);
      return [buf[0]!, buf[1]!];
    };
  }
  return (s) => splitFingerprint(sys.fingerprint(s));
}

/**
 * Rebuilds a behaviour from the fingerprints of its states: an initial state with the first
 * fingerprint, then at each step a successor of the previous state with the next one (as TLC
 * does, states are not stored, only fingerprints). Among several states with the last
 * fingerprint (a VIEW, SYMMETRY), `accept` picks the one that shows the violation (`prev` is
 * the state before it, null for an initial state). Candidates are collected before any is
 * tested (`accept` may run the evaluator again). Throws when a fingerprint is not found (an
 * evaluator that does not give the same successors again, e.g. RandomElement).
 */
export function replayFingerprints<S, L>(
  sys: SearchSystem<S, L>,
  chain: readonly (readonly [number, number])[],
  accept?: (s: S, prev: S | null) => boolean,
): TraceStep<S, L>[] {
  const fp2 = fingerprintPairOf(sys);
  const last = chain.length - 1;
  const pick = (cands: [S, L | null][], k: number, prev: S | null): [S, L | null] | undefined => {
    const [hi, lo] = chain[k]!;
    const same = cands.filter(([s]) => {
      const [h, l] = fp2(s);
      return h === hi >>> 0 && l === lo >>> 0;
    });
    if (k === last && accept) return same.find(([s]) => safeBool(() => accept(s, prev))) ?? same[0];
    return same[0];
  };
  if (chain.length === 0) throw new Error('internal error: replay of an empty behaviour');
  const inits: [S, L | null][] = [];
  sys.initStates((s) => inits.push([s, null]));
  const first = pick(inits, 0, null);
  if (!first) throw new Error('internal error: replay found no initial state with the recorded fingerprint');
  const steps: TraceStep<S, L>[] = [{ state: first[0], label: null }];
  let cur = first[0];
  for (let k = 1; k < chain.length; k++) {
    const cands: [S, L | null][] = [];
    sys.successors(cur, (t, l) => cands.push([t, l]));
    const next = pick(cands, k, cur);
    if (!next) throw new Error(`internal error: replay lost the trace at step ${k + 1}`);
    steps.push({ state: next[0], label: next[1] });
    cur = next[0];
  }
  return steps;
}
