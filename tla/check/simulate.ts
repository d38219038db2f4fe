// Simulation (TLC's -simulate): random behaviours from a random initial state, each at most
// `depth` states long, checked against the invariants, the PROPERTY state predicates on the
// initial state and the action properties on every step. Deterministic for a seed: the same
// seed, model and options give the same behaviours. A violation's trace is the behaviour
// that reached it (not a shortest one, as with breadth-first checking).
import type { ActionLabel, State } from '../eval/index.ts';
import { describeError, searchSystem, type CheckResult, type CheckViolation } from './checker.ts';
import type { Trace, TraceStep } from './engine.ts';
import { FingerprintSet } from './fpset.ts';
import type { CheckModel } from './model.ts';
import { seededRandom } from './traces.ts';

export interface SimulateOptions {
  /** Longest behaviour, in states (TLC's -depth; default 100). */
  readonly depth?: number;
  /** Seed of the random choices (default 0). */
  readonly seed?: number;
  /** Number of behaviours (default 1000). */
  readonly num?: number;
  readonly checkDeadlock?: boolean;
}

export interface SimulateResult extends CheckResult {
  /** Behaviours generated (the last one may have stopped at the violation). */
  readonly behaviours: number;
  /** States checked: every state of every behaviour, initial states included. */
  readonly statesChecked: number;
  readonly seed: number;
  readonly maxDepth: number;
}

class Found {
  constructor(readonly violation: CheckViolation) {}
}

export const SIMULATE_DEFAULTS = { depth: 100, seed: 0, num: 1000 } as const;

export function simulate(cm: CheckModel, opts: SimulateOptions = {}): SimulateResult {
  const started = Date.now();
  const depth = opts.depth ?? SIMULATE_DEFAULTS.depth;
  const seed = opts.seed ?? SIMULATE_DEFAULTS.seed;
  const num = opts.num ?? SIMULATE_DEFAULTS.num;
  const checkDeadlock = opts.checkDeadlock ?? cm.checkDeadlock;
  const sys = searchSystem(cm);
  const rnd = seededRandom(seed);
  const pick = (n: number): number => Math.min(n - 1, Math.floor(rnd() * n));
  const fps = new FingerprintSet();
  const fp = new Uint32Array(2);
  let statesChecked = 0;
  let behaviours = 0;
  let longest = 0;
  let during = 'computing the initial states';
  let steps: TraceStep<State, ActionLabel>[] = [];
  const result = (extra: Partial<CheckResult> & Pick<CheckResult, 'result'>): SimulateResult => ({
    distinctStates: fps.size,
    statesGenerated: statesChecked,
    depth: longest,
    leftOnQueue: 0,
    durationMs: Date.now() - started,
    behaviours,
    statesChecked,
    seed,
    maxDepth: depth,
    ...extra,
  });
  const note = (s: State): void => {
    statesChecked++;
    if (sys.fingerprintInto) {
      sys.fingerprintInto(s, fp);
      fps.add(fp[0]!, fp[1]!, -1);
    }
  };
  const checkState = (s: State, initial: boolean): void => {
    for (const inv of sys.invariants) {
      during = `evaluating invariant ${inv.name}`;
      if (!inv.holds(s)) throw new Found({ kind: 'invariant', name: inv.name, trace: { steps: [...steps] } });
    }
    if (initial) {
      for (const p of sys.initProperties) {
        during = `evaluating property ${p.name}`;
        if (!p.holds(s))
          throw new Found({ kind: 'init-property', name: p.name, trace: { steps: [...steps] } });
      }
    }
  };
  try {
    const inits: State[] = [];
    sys.initStates((s) => inits.push(s));
    const allowedInits = sys.constraint ? inits.filter((s) => sys.constraint!(s)) : inits;
    if (allowedInits.length === 0) return result({ result: 'ok' });
    const succ: State[] = [];
    const labels: ActionLabel[] = [];
    for (behaviours = 1; behaviours <= num; behaviours++) {
      const s0 = allowedInits[pick(allowedInits.length)]!;
      steps = [{ state: s0, label: null }];
      note(s0);
      checkState(s0, true);
      let s = s0;
      while (steps.length < depth) {
        during = 'computing successors';
        succ.length = 0;
        labels.length = 0;
        sys.successors(s, (t, l) => {
          succ.push(t);
          labels.push(l);
        });
        if (succ.length === 0) {
          if (checkDeadlock) throw new Found({ kind: 'deadlock', name: null, trace: { steps: [...steps] } });
          break;
        }
        // Successors outside the CONSTRAINT or ACTION_CONSTRAINT are not taken.
        const ok: number[] = [];
        for (let i = 0; i < succ.length; i++) {
          during = 'evaluating the CONSTRAINT';
          if (sys.constraint && !sys.constraint(succ[i]!)) continue;
          during = 'evaluating the ACTION_CONSTRAINT';
          if (sys.actionConstraint && !sys.actionConstraint(s, succ[i]!)) continue;
          ok.push(i);
        }
        if (ok.length === 0) break;
        const k = ok[pick(ok.length)]!;
        const t = succ[k]!;
        steps.push({ state: t, label: labels[k]! });
        note(t);
        checkState(t, false);
        for (const ap of sys.actionProperties) {
          during = `evaluating action property ${ap.name}`;
          if (!ap.holds(s, t))
            throw new Found({ kind: 'action-property', name: ap.name, trace: { steps: [...steps] } });
        }
        s = t;
      }
      if (steps.length > longest) longest = steps.length;
    }
    behaviours = num;
    return result({ result: 'ok' });
  } catch (e) {
    if (steps.length > longest) longest = steps.length;
    if (e instanceof Found) {
      const v = e.violation;
      return result({
        result: v.kind === 'invariant' ? 'invariant' : v.kind === 'deadlock' ? 'deadlock' : 'property',
        violation: v,
      });
    }
    const trace: Trace<State, ActionLabel> | undefined = steps.length > 0 ? { steps: [...steps] } : undefined;
    return result({ result: 'error', error: describeError(e, during, trace) });
  }
}

/** The summary line of a simulation run. */
export function simulationSummary(r: SimulateResult): string {
  return (
    `Simulation: ${r.behaviours} behaviour(s) of at most ${r.maxDepth} states, seed ${r.seed}: ` +
    `${r.statesChecked} states checked, ${r.distinctStates} distinct; the longest behaviour has ${r.depth} states.`
  );
}
