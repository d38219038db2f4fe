// The built-in checker: adapts a CheckModel to the search engine, runs the breadth-first
// search, then checks liveness on the explored graph, and reports in TLC's terms.
import type { Expr } from '../ast.ts';
import { TlaError, formatLoc } from '../errors.ts';
import { coverageKey, coverageReport, INIT_KEY, type CoverageEntry } from './coverage.ts';
import { HeapBudgetExceeded } from '../memory.ts';
import type { ActionLabel, State } from '../eval/index.ts';
import {
  PermGroup,
  RecordValue,
  fingerprintStateInto,
  leastPermutedFingerprintInto,
  permute,
  toTla,
  toTlaShort,
  type Value,
} from '../values.ts';
import { FingerprintMap } from './fpset.ts';
import { search, type SearchResult, type SearchSystem, type StateGraph, type Trace } from './engine.ts';
import { traceToItf, type ItfTrace } from './itf.ts';
import { findFairLasso, type EdgePred, type Fairness, type Obligation, type StatePred } from './liveness.ts';
import type { CheckModel, Formula, Pred } from './model.ts';
import { findTemporalLasso, mapAtoms, type Atom } from './tableau.ts';

export type CheckVerdict = 'ok' | 'invariant' | 'property' | 'deadlock' | 'error';

export interface CheckViolation {
  /** Invariant or property name (null for deadlock). */
  readonly name: string | null;
  readonly kind: 'invariant' | 'deadlock' | 'action-property' | 'init-property' | 'liveness';
  readonly trace: Trace<State, ActionLabel>;
}

export interface CheckError {
  readonly message: string;
  readonly location: string | null;
  readonly kind: string;
  readonly trace?: Trace<State, ActionLabel>;
}

export interface CheckResult {
  readonly result: CheckVerdict;
  readonly distinctStates: number;
  readonly statesGenerated: number;
  readonly depth: number;
  readonly leftOnQueue: number;
  readonly durationMs: number;
  readonly violation?: CheckViolation;
  readonly error?: CheckError;
  readonly graph?: StateGraph<State, ActionLabel>;
  /** With the coverage option: per action, states generated and new distinct states. */
  readonly coverage?: readonly CoverageEntry[];
  /** Worker threads that searched (absent: the one-worker search in this thread). */
  readonly workers?: number;
  /** With workers: where each worker's time went (for benchmarks). */
  readonly workerTimings?: readonly {
    readonly bootMs: number;
    readonly loadMs: number;
    readonly startWaitMs: number;
    readonly searchMs: number;
    readonly idleMs: number;
    readonly moved: number;
  }[];
  /** With continueAfterViolation: the violations found (traces for the first ones), shortest first. */
  readonly violations?: readonly CheckViolation[];
  /** With continueAfterViolation: violating states per invariant or property name ('deadlock'). */
  readonly violationCounts?: ReadonlyMap<string, number>;
}

/** Things worth knowing about how a model is checked (printed on stderr by the CLI). */
export function modelWarnings(cm: CheckModel): string[] {
  const out: string[] = [...(cm.warnings ?? [])];
  if (cm.liveness.length > 0 && (cm.symmetry || cm.view)) {
    out.push(
      `Warning: liveness is checked on the graph of ${cm.symmetry ? 'symmetry classes' : 'VIEW values'}, ` +
        'not of states: a violation may be missed or its counterexample may not be a behaviour (TLC has the same limit).',
    );
  }
  if (cm.liveness.length > 0 && (cm.constraints.length > 0 || cm.actionConstraints.length > 0)) {
    out.push(
      'Warning: liveness is checked on the graph the CONSTRAINTs leave: states they exclude have no successors there.',
    );
  }
  return out;
}

export interface CheckOptions {
  readonly checkDeadlock?: boolean;
  readonly maxStates?: number;
  readonly onProgress?: (p: {
    distinctStates: number;
    statesGenerated: number;
    queue: number;
    depth: number;
    elapsedMs: number;
  }) => void;
  /** Keep the explored graph with labelled edges in the result. */
  readonly keepGraph?: boolean;
  /** Count states generated and new distinct states per action (TLC's -coverage). */
  readonly coverage?: boolean;
  /** Go on after invariant, action-property and deadlock violations (TLC's -continue). */
  readonly continueAfterViolation?: boolean;
  /** With continueAfterViolation: traces are rebuilt for this many violations (the rest are counted). */
  readonly maxViolationTraces?: number;
  readonly progressIntervalMs?: number;
}

function asBool(v: Value, what: string, e: Expr): boolean {
  if (typeof v === 'boolean') return v;
  throw new TlaError('eval', `${what} should be a boolean, but evaluated to ${toTlaShort(v)}`, e.loc);
}

/** The action name and arguments as a stable string. */
export function labelKey(l: ActionLabel): string {
  const args = Object.keys(l.args)
    .sort()
    .map((k) => `${k}=${toTla(l.args[k]!)}`);
  return `${l.name}(${args.join(',')})`;
}

/** The search system for a model: successors, fingerprints (VIEW, SYMMETRY), checks. */
export function searchSystem(cm: CheckModel): SearchSystem<State, ActionLabel> {
  const m = cm.model;
  const stateHolds = (f: Formula, what: string) => (s: State) =>
    asBool(m.evalState(f.expr, f.ctx, s), what, f.expr);
  const actionHolds = (f: Formula, what: string) => (s: State, t: State) =>
    asBool(m.evalAction(f.expr, f.ctx, s, t), what, f.expr);
  const view = cm.view;
  const viewed = view ? (s: State): State => [m.evalState(view.expr, view.ctx, s)] : (s: State): State => s;
  const perms = cm.symmetry?.filter((p) => p.size > 0) ?? [];
  // Without a VIEW the permuted fingerprints are computed from the state's values directly
  // (hash of the permuted value without building it); a VIEW is evaluated on each permuted state.
  const group = view ? null : new PermGroup(perms);
  const tmp = new Uint32Array(2);
  /** The fingerprint of the view, minimised over the symmetry permutations. */
  // Raw fingerprint -> canonical fingerprint (of the view, least over the permutations): a
  // state generated again skips the view and the permutations.
  const canon = perms.length > 0 || view ? new FingerprintMap() : null;
  const fingerprintInto = (s: State, out: Uint32Array): void => {
    fingerprintStateInto(s, out);
    if (!canon) return;
    const rawHi = out[0]!;
    const rawLo = out[1]!;
    if (canon.get(rawHi, rawLo, tmp)) {
      out[0] = tmp[0]!;
      out[1] = tmp[1]!;
      return;
    }
    if (view) {
      fingerprintStateInto(viewed(s), out);
      for (const p of perms) {
        fingerprintStateInto(viewed(s.map((v) => permute(v, p))), tmp);
        if (tmp[0]! < out[0]! || (tmp[0] === out[0] && tmp[1]! < out[1]!)) {
          out[0] = tmp[0]!;
          out[1] = tmp[1]!;
        }
      }
    } else if (group) {
      leastPermutedFingerprintInto(s, group, tmp);
      if (tmp[0]! < out[0]! || (tmp[0] === out[0] && tmp[1]! < out[1]!)) {
        out[0] = tmp[0]!;
        out[1] = tmp[1]!;
      }
    }
    canon.set(rawHi, rawLo, out[0]!, out[1]!);
  };
  const fpOut = new Uint32Array(2);
  const fingerprint = (s: State): bigint => {
    fingerprintInto(s, fpOut);
    return (BigInt(fpOut[0]!) << 32n) | BigInt(fpOut[1]!);
  };
  const constraints = cm.constraints.map((f) => stateHolds(f, `CONSTRAINT ${f.name}`));
  const actionConstraints = cm.actionConstraints.map((f) => actionHolds(f, `ACTION_CONSTRAINT ${f.name}`));
  return {
    initStates: (emit) => m.initStates(cm.init.expr, cm.init.ctx, emit),
    successors: (s, emit) => m.successors(cm.next.expr, cm.next.ctx, s, emit),
    fingerprint,
    fingerprintInto,
    invariants: cm.invariants.map((f) => ({ name: f.name, holds: stateHolds(f, `invariant ${f.name}`) })),
    initProperties: cm.initProperties.map((f) => ({
      name: f.name,
      holds: stateHolds(f, `property ${f.name}`),
    })),
    actionProperties: cm.actionProperties.map((f) => ({
      name: f.name,
      holds: actionHolds(f, `action property ${f.name}`),
    })),
    ...(constraints.length > 0 ? { constraint: (s: State) => constraints.every((c) => c(s)) } : {}),
    ...(actionConstraints.length > 0
      ? { actionConstraint: (s: State, t: State) => actionConstraints.every((c) => c(s, t)) }
      : {}),
    labelKey,
  };
}

/** Runs the built-in checker on a loaded model. */
export function check(cm: CheckModel, opts: CheckOptions = {}): CheckResult {
  const started = Date.now();
  if (cm.constantOnly) {
    // No behaviour to explore (TLC: the ASSUMEs were checked, 0 states, depth 0).
    const zero = { distinctStates: 0, statesGenerated: 0, depth: 0, leftOnQueue: 0 };
    const post = checkPostconditions(cm);
    if (post) return { result: 'error', ...zero, durationMs: Date.now() - started, error: post };
    return { result: 'ok', ...zero, durationMs: Date.now() - started };
  }
  const sys = searchSystem(cm);
  const needGraph = cm.liveness.length > 0 || (opts.keepGraph ?? false);
  const r: SearchResult<State, ActionLabel> = search(sys, {
    checkDeadlock: opts.checkDeadlock ?? cm.checkDeadlock,
    ...(opts.maxStates !== undefined ? { maxStates: opts.maxStates } : {}),
    recordGraph: needGraph,
    recordLabels: opts.keepGraph ?? false,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.coverage ? { coverage: coverageKey, coverageInit: INIT_KEY } : {}),
    ...(opts.continueAfterViolation ? { continueAfterViolation: true } : {}),
    ...(opts.maxViolationTraces !== undefined ? { maxViolationTraces: opts.maxViolationTraces } : {}),
    ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}),
  });
  const base = {
    ...(r.coverage ? { coverage: coverageReport(cm, r.coverage) } : {}),
    distinctStates: r.distinctStates,
    // As TLC counts: the intermediate states of `A \cdot B` steps are generated states too.
    statesGenerated: r.statesGenerated + cm.model.cdotGenerated,
    depth: r.depth,
    leftOnQueue: r.leftOnQueue,
  };
  if (r.result === 'error') {
    return {
      result: 'error',
      ...base,
      durationMs: Date.now() - started,
      error: describeError(r.error!.error, r.error!.during, r.error!.trace),
    };
  }
  if (r.violation) {
    return {
      result: r.result,
      ...base,
      durationMs: Date.now() - started,
      violation: { name: r.violation.name, kind: r.violation.kind, trace: r.violation.trace },
      ...(r.violations ? { violations: r.violations, violationCounts: r.violationCounts! } : {}),
      ...(opts.keepGraph && r.graph ? { graph: r.graph } : {}),
    };
  }
  const graph = r.graph!;
  if (cm.liveness.length > 0) {
    try {
      const v = checkLiveness(cm, graph);
      if (v) return { result: 'property', ...base, durationMs: Date.now() - started, violation: v };
    } catch (e) {
      return {
        result: 'error',
        ...base,
        durationMs: Date.now() - started,
        error: describeError(e, 'checking liveness'),
      };
    }
  }
  const post = checkPostconditions(cm);
  if (post) return { result: 'error', ...base, durationMs: Date.now() - started, error: post };
  return { result: 'ok', ...base, durationMs: Date.now() - started, ...(opts.keepGraph ? { graph } : {}) };
}

/** POSTCONDITION formulas, evaluated once after a complete search: the first false one, as an error. */
export function checkPostconditions(cm: CheckModel): CheckError | null {
  for (const f of cm.postconditions ?? []) {
    try {
      const v = cm.model.evalConstant(f.expr, f.ctx);
      if (!asBool(v, `POSTCONDITION ${f.name}`, f.expr)) {
        return {
          message: `POSTCONDITION ${f.name} is FALSE after the search`,
          location: formatLoc(f.expr.loc),
          kind: 'eval',
        };
      }
    } catch (e) {
      return describeError(e, `evaluating POSTCONDITION ${f.name}`);
    }
  }
  return null;
}

export function describeError(e: unknown, during: string, trace?: Trace<State, ActionLabel>): CheckError {
  if (e instanceof TlaError) {
    return {
      message: /\bwhile\b/.test(e.message) ? e.message : `${e.message} (while ${during})`,
      location: e.loc ? formatLoc(e.loc) : null,
      kind: e.kind,
      ...(trace ? { trace } : {}),
    };
  }
  if (e instanceof HeapBudgetExceeded)
    return { message: e.message, location: null, kind: 'memory', ...(trace ? { trace } : {}) };
  const msg = e instanceof Error ? e.message : String(e);
  return {
    message: `${msg} (while ${during})`,
    location: null,
    kind: 'internal',
    ...(trace ? { trace } : {}),
  };
}

function checkLiveness(cm: CheckModel, g: StateGraph<State, ActionLabel>): CheckViolation | null {
  const m = cm.model;
  const st = g.states;
  const statePred = (p: Pred): StatePred => {
    const f = p.f;
    if (p.level === 'enabled') return (i) => m.enabled(f.expr, f.ctx, st[i]!) !== p.negate;
    if (p.level !== 'state') throw new Error('internal error: a step predicate used as a state predicate');
    return (i) => asBool(m.evalState(f.expr, f.ctx, st[i]!), `property ${f.name}`, f.expr) !== p.negate;
  };
  const stepPred = (p: Pred): EdgePred => {
    const f = p.f;
    if (p.level === 'state')
      return (_i, j) => asBool(m.evalState(f.expr, f.ctx, st[j]!), `property ${f.name}`, f.expr) !== p.negate;
    return (i, j) =>
      asBool(m.evalAction(f.expr, f.ctx, st[i]!, st[j]!), `property ${f.name}`, f.expr) !== p.negate;
  };
  const and =
    (ps: StatePred[]): StatePred =>
    (i) =>
      ps.every((p) => p(i));
  const fairness: Fairness[] = cm.fairness.map((f) => ({
    kind: f.kind,
    name: f.name,
    enabled: (i) => m.enabled(f.angle.expr, f.angle.ctx, st[i]!),
    taken: (i, j) => asBool(m.evalAction(f.angle.expr, f.angle.ctx, st[i]!, st[j]!), f.name, f.angle.expr),
  }));
  const lg = { size: st.length, init: g.init, succ: g.succ };
  for (const ob of cm.liveness) {
    const o: Obligation = {
      name: ob.name,
      always: ob.always.map(statePred),
      ...(ob.trigger
        ? { trigger: { now: and(ob.trigger.now.map(statePred)), then: and(ob.trigger.then.map(statePred)) } }
        : {}),
      eventuallyAlways: ob.eventuallyAlways.map(statePred),
      eventuallyAlwaysSteps: ob.eventuallyAlwaysSteps.map(stepPred),
      infinitelyOften: ob.infinitelyOften.map(statePred),
      infinitelyOftenSteps: ob.infinitelyOftenSteps.map(stepPred),
    };
    const atom = (p: Pred): Atom =>
      p.level === 'step' ? { kind: 'step', holds: stepPred(p) } : { kind: 'state', holds: statePred(p) };
    const lasso = ob.temporal
      ? findTemporalLasso(lg, mapAtoms(ob.temporal, atom), fairness)
      : findFairLasso(lg, o, fairness);
    if (lasso) {
      const steps = lassoSteps(cm, g, lasso.states);
      return {
        name: ob.name,
        kind: 'liveness',
        trace: { steps, loopsTo: lasso.loopsTo, ...(lasso.stuttering ? { stuttering: true } : {}) },
      };
    }
  }
  return null;
}

/** The states of a path in the graph, with the label of a step producing each. */
function lassoSteps(
  cm: CheckModel,
  g: StateGraph<State, ActionLabel>,
  path: readonly number[],
): { state: State; label: ActionLabel | null }[] {
  const m = cm.model;
  const fp = searchSystem(cm).fingerprint;
  return path.map((i, k) => {
    const s = g.states[i]!;
    if (k === 0) return { state: s, label: null };
    const prev = g.states[path[k - 1]!]!;
    let label: ActionLabel | null = null;
    const want = fp(s);
    m.successors(cm.next.expr, cm.next.ctx, prev, (t, l) => {
      if (label === null && fp(t) === want) label = l;
    });
    return { state: s, label };
  });
}

/** The JSON summary (`--json`). */
export interface CheckJson {
  readonly engine: 'builtin' | 'tlc';
  readonly spec: string;
  readonly config: string | null;
  readonly result: CheckVerdict;
  readonly distinctStates: number | null;
  readonly statesGenerated: number | null;
  readonly depth: number | null;
  readonly durationMs: number;
  readonly violation?: { name: string | null; kind: string; trace: ItfTrace; loopsTo?: number };
  readonly error?: { message: string; location: string | null; trace?: ItfTrace };
  readonly coverage?: readonly CoverageEntry[];
  /** Worker threads of the search (1 for the one-worker search). */
  readonly workers?: number;
  /** With --continue: the violations with traces (the shortest first) and counts per name. */
  readonly violations?: readonly { name: string | null; kind: string; trace: ItfTrace; loopsTo?: number }[];
  readonly violationCounts?: Record<string, number>;
}

export function toJson(
  cm: {
    specFile: string;
    cfgFile: string | null;
    model: { variables: readonly string[] };
    init: { name: string };
  },
  r: CheckResult,
  engine: 'builtin' | 'tlc' = 'builtin',
): CheckJson {
  const vars = cm.model.variables;
  const meta = { source: cm.specFile, initName: cm.init.name };
  return {
    engine,
    spec: cm.specFile,
    config: cm.cfgFile,
    result: r.result,
    distinctStates: r.distinctStates,
    statesGenerated: r.statesGenerated,
    depth: r.depth,
    durationMs: r.durationMs,
    ...(r.violation
      ? {
          violation: {
            name: r.violation.name,
            kind: r.violation.kind,
            trace: traceToItf(vars, r.violation.trace, {
              ...meta,
              description: describeViolation(r.violation),
            }),
            ...(r.violation.trace.loopsTo !== undefined ? { loopsTo: r.violation.trace.loopsTo } : {}),
          },
        }
      : {}),
    ...(r.error
      ? {
          error: {
            message: r.error.message,
            location: r.error.location,
            ...(r.error.trace ? { trace: traceToItf(vars, r.error.trace, meta) } : {}),
          },
        }
      : {}),
    ...(r.coverage ? { coverage: r.coverage } : {}),
    workers: r.workers ?? 1,
    ...(r.violations && r.violationCounts
      ? {
          violations: r.violations.map((v) => ({
            name: v.name,
            kind: v.kind,
            trace: traceToItf(vars, v.trace, { ...meta, description: describeViolation(v) }),
            ...(v.trace.loopsTo !== undefined ? { loopsTo: v.trace.loopsTo } : {}),
          })),
          violationCounts: Object.fromEntries(r.violationCounts),
        }
      : {}),
  };
}

/** `3 violations: 2 of invariant Inv, 1 deadlock`. */
export function violationSummary(counts: ReadonlyMap<string, number>): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const parts = [...counts].map(([name, c]) => (name === 'deadlock' ? `${c} deadlock` : `${c} of ${name}`));
  return `${total} violation${total === 1 ? '' : 's'} found: ${parts.join(', ')}.`;
}

export function describeViolation(v: CheckViolation): string {
  switch (v.kind) {
    case 'invariant':
      return `Invariant ${v.name} is violated.`;
    case 'deadlock':
      return 'Deadlock reached.';
    case 'action-property':
      return `Action property ${v.name} is violated.`;
    case 'init-property':
      return `Property ${v.name} is violated by the initial state.`;
    case 'liveness':
      return `Temporal property ${v.name} is violated.`;
  }
}

/**
 * Prints a trace state through the model's ALIAS, as TLC does: the alias is evaluated with the
 * state and its successor in the trace (primes refer to the successor); a record prints one
 * line per field. Null when there is no ALIAS, or when it cannot be evaluated on this state
 * (then the variables are printed).
 */
export type AliasPrinter = (s: State, next: State | null) => string[] | null;

export function aliasPrinter(cm: CheckModel): AliasPrinter | undefined {
  const a = cm.alias;
  if (!a) return undefined;
  const m = cm.model;
  return (s, next) => {
    let v: Value;
    try {
      v = next ? m.evalAction(a.expr, a.ctx, s, next) : m.evalState(a.expr, a.ctx, s);
    } catch {
      return null;
    }
    if (v instanceof RecordValue) return v.names.map((n, i) => `/\\ ${n} = ${toTla(v.vals[i]!)}`);
    return [toTla(v)];
  };
}

/** TLC-style text: the error line, the behaviour, and the summary lines. */
export function formatReport(vars: readonly string[], r: CheckResult, alias?: AliasPrinter): string {
  const out: string[] = [];
  const varLines = (s: State): string[] =>
    vars.length === 1 ? [`${vars[0]} = ${toTla(s[0]!)}`] : vars.map((v, i) => `/\\ ${v} = ${toTla(s[i]!)}`);
  const stateLines = (s: State, next: State | null): string[] =>
    (alias ? alias(s, next) : null) ?? varLines(s);
  const labelText = (l: ActionLabel | null): string => {
    if (!l) return '<Initial predicate>';
    const args = Object.entries(l.args).map(([k, v]) => `${k} = ${toTla(v)}`);
    return `<${l.name}${args.length ? `(${args.join(', ')})` : ''}>`;
  };
  const traceLines = (t: Trace<State, ActionLabel>): void => {
    t.steps.forEach((st, i) => {
      out.push(`State ${i + 1}: ${labelText(st.label)}`);
      out.push(...stateLines(st.state, t.steps[i + 1]?.state ?? null), '');
    });
    if (t.stuttering) out.push(`State ${t.steps.length + 1}: Stuttering`, '');
    else if (t.loopsTo !== undefined) out.push(`Back to state ${t.loopsTo + 1}`, '');
  };
  const violationBlock = (v: CheckViolation): void => {
    out.push(`Error: ${describeViolation(v)}`);
    out.push(
      v.kind === 'liveness'
        ? 'Error: The following behavior constitutes a counter-example:'
        : 'Error: The behavior up to this point is:',
    );
    traceLines(v.trace);
  };
  if (r.violations && r.violationCounts) {
    // --continue: every violation TLC would print, then how many of each.
    for (const v of r.violations) violationBlock(v);
    const total = [...r.violationCounts.values()].reduce((a, b) => a + b, 0);
    if (r.error) out.push(`Error: ${r.error.location ? `${r.error.location}: ` : ''}${r.error.message}`);
    else out.push('Model checking completed (--continue): the search went on after each violation.');
    out.push(`${violationSummary(r.violationCounts)}`);
    if (total > r.violations.length)
      out.push(`(traces shown for the ${r.violations.length} shortest of ${total} violations)`);
  } else if (r.violation) {
    violationBlock(r.violation);
  } else if (r.error) {
    out.push(`Error: ${r.error.location ? `${r.error.location}: ` : ''}${r.error.message}`);
    if (r.error.trace) {
      out.push('Error: The behavior up to this point is:');
      traceLines(r.error.trace);
    }
  } else {
    out.push('Model checking completed. No error has been found.');
  }
  out.push(
    `${r.statesGenerated} states generated, ${r.distinctStates} distinct states found, ${r.leftOnQueue} states left on queue.`,
  );
  if (r.result === 'ok' || (r.violationCounts && !r.error))
    out.push(`The depth of the complete state graph search is ${r.depth}.`);
  out.push(`Finished in ${r.durationMs} ms.`);
  return out.join('\n');
}
