// The conformance harness shared by every protocol's suite (DESIGN.md, "One protocol, four
// forms", step 4). A suite names a spec and its model and supplies one adapter:
//
//   create(initial)          build fresh runtime objects in the trace's first state
//   perform(runtime, action) carry out one labelled action ({name, args}) on them
//   abstract(runtime)        the refinement mapping: runtime state -> the spec's variables
//
// Forward direction (`runSuite`): the checker's library API generates, at test time, traces
// covering every edge of the model's reachable state graph; each trace is replayed against
// fresh runtime objects and after every step `abstract(runtime)` must equal the trace's state
// (TLA+ equality, tla/values.ts). The first divergence stops the run and is reported with the
// trace (written out as an ITF file), the step, the action and each differing variable's
// expected and actual value in TLA+ syntax. The harness counts the graph edges it actually
// replayed, so "every edge covered" is measured, not assumed.
//
// Reverse direction (`validateRun`): a recorded sequence of abstract runtime states is checked
// state by state against the spec: the first must be an initial state, and every step must be
// a step of Next (the checker's step labeller names the action) or a stuttering step. A
// runtime whose one step does several of the spec's actions at once (a credit frame arrives
// and the queued batches go out) may allow `maxSpecSteps` > 1: a recorded step then matches a
// shortest path of up to that many spec steps.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  exploreGraph,
  generateTraces,
  itfToTrace,
  labelKey,
  labelStep,
  loadModel,
  parseExpression,
  type ActionLabel,
  type CheckModel,
  type ItfTrace,
  type State,
} from '../tla/index.ts';
import { equals, fingerprintState, toTla, type Value } from '../tla/values.ts';
import { TlaError } from '../tla/errors.ts';

/** A state of the spec: one value per variable, keyed by the variable's name. */
export type SpecState = Readonly<Record<string, Value>>;

/** One labelled step of a trace: the action's name and its parameters' values. */
export interface SpecAction {
  readonly name: string;
  readonly args: Readonly<Record<string, Value>>;
}

/** What a protocol's suite supplies: real runtime objects, driven action by action. */
export interface ConformanceAdapter<R> {
  /** Builds fresh runtime objects in the given (initial) state of the spec. */
  create(initial: SpecState): R;
  /** Carries out one action of the spec on the runtime; throws (or rejects) when the runtime
   * cannot. An adapter whose runtime awaits (a restart loading a store) returns a promise; such
   * an adapter is replayed by `runSuite` or `replayTraceAsync`. */
  perform(runtime: R, action: SpecAction): void | Promise<void>;
  /** The refinement mapping: the runtime's state as the spec's variables. */
  abstract(runtime: R): SpecState;
  /**
   * What to try at a state besides the trace's next action, each of which the runtime must
   * refuse (its abstract state unchanged) whenever the spec does not allow it there: an
   * attempt naming a spec action instance (`spec`) is made only where that instance has no
   * step in the spec; one without (a forged frame) is always made. Optional.
   */
  refusals?(runtime: R, state: SpecState): readonly Refusal[];
}

/** One thing the runtime must refuse (see ConformanceAdapter.refusals). */
export interface Refusal {
  /** For people: what is attempted, e.g. `ReceiveData(s = 1) (a duplicate)` or `a forged ACK`. */
  readonly what: string;
  /** The spec action instance this is, when it is one: tried only where the spec disables it. */
  readonly spec?: SpecAction;
  /** Makes the attempt on the runtime (throwing or rejecting counts as refusing; a promise it
   * returns is awaited, any other value ignored). */
  attempt(): unknown;
}

/** Which action instances have a (non-stuttering) step from a state: the spec's side of refusals. */
export type EnabledActions = (state: State) => ReadonlySet<string>;

/** `Name(arg = value, ...)` in the checker's label syntax, for an action instance. */
export function specActionKey(a: SpecAction): string {
  return labelKey({ name: a.name, args: a.args } as ActionLabel);
}

/** The enabled-actions function of a loaded model (memoised by state fingerprint). */
export function enabledActionsOf(cm: CheckModel): EnabledActions {
  const memo = new Map<bigint, Set<string>>();
  return (state) => {
    const fp = fingerprintState(state);
    let set = memo.get(fp);
    if (set) return set;
    set = new Set();
    const out = set;
    cm.model.successors(cm.next.expr, cm.next.ctx, state, (u, label) => {
      if (!u.every((v, i) => safeEquals(v, state[i]!))) out.add(labelKey(label));
    });
    memo.set(fp, set);
    return set;
  };
}

export interface ConformanceSuite<R> {
  /** Short name, used on the command line: `buffy conformance credit-flow`. */
  readonly name: string;
  /** The spec and its model (absolute paths). */
  readonly specFile: string;
  readonly cfgFile: string;
  /** The model's constants the adapter needs, evaluated from the .cfg and passed to `adapter`. */
  readonly constants: readonly string[];
  adapter(constants: Readonly<Record<string, Value>>): ConformanceAdapter<R>;
}

export interface VariableDiff {
  readonly variable: string;
  /** TLA+ syntax; "(missing)" when the refinement mapping did not produce the variable. */
  readonly expected: string;
  readonly actual: string;
}

export interface Divergence {
  readonly suite: string;
  /** 1-based trace number, and how many traces the run generated. */
  readonly trace: number;
  readonly traces: number;
  /** Where the diverging trace was written (ITF JSON), to replay or inspect it. */
  readonly traceFile: string | null;
  /** Step number in the trace (0 = the initial state, before any action). */
  readonly step: number;
  readonly steps: number;
  /** The action of the step ("Init" for step 0). */
  readonly action: string;
  /** The spec state before the step (the runtime matched it), in TLA+ syntax; null at step 0. */
  readonly before: string | null;
  /** The variables whose abstract runtime value differs from the trace's. */
  readonly diffs: readonly VariableDiff[];
  /** Set when the runtime could not perform the action or the mapping failed. */
  readonly error: string | null;
}

export interface TraceReplay {
  /** Steps replayed and matched (not counting the initial state). */
  readonly steps: number;
  /** Refusal attempts made (and refused). */
  readonly refusals: number;
  /** Graph-independent keys of the matched steps: from-state fingerprint, label, to-state fingerprint. */
  readonly matchedEdges: readonly string[];
  readonly divergence: Omit<Divergence, 'suite' | 'trace' | 'traces' | 'traceFile'> | null;
}

export interface SuiteReport {
  readonly suite: string;
  readonly specFile: string;
  readonly cfgFile: string;
  readonly states: number;
  readonly edgesTotal: number;
  /** Distinct graph edges replayed with a matching runtime state. */
  readonly edgesCovered: number;
  /** Traces replayed (up to the divergence) and generated. */
  readonly tracesReplayed: number;
  readonly traces: number;
  readonly steps: number;
  readonly divergence: Divergence | null;
  /** Refusal attempts made at the distinct states visited (every one refused unless diverged). */
  readonly refusals: number;
  /** Of `traces`: edge-cover, random, and given (`tracesFrom`). */
  readonly coverTraces: number;
  readonly randomTraces: number;
  readonly givenTraces: number;
  readonly tracesFrom: string | null;
  readonly elapsedMs: number;
}

export interface RunSuiteOptions {
  /** Where to write the ITF file of a diverging trace (default: a fresh folder under the OS temp dir). */
  readonly traceDir?: string;
  /** Longest edge-cover trace, in steps (the library's default when absent). */
  readonly maxSteps?: number;
  /** Refuse graphs larger than this (default 100000 states). */
  readonly maxStates?: number;
  /** Seeded random walks replayed after the edge-cover traces. */
  readonly random?: { readonly count: number; readonly depth: number; readonly seed: number };
  /** More traces to replay (e.g. TLC's, labelled by the step labeller); `tracesFrom` names their source. */
  readonly moreTraces?: readonly ItfTrace[];
  readonly tracesFrom?: string;
  /** Skip the edge-cover traces (replay only `random` and `moreTraces`). */
  readonly noCover?: boolean;
  /** Try the adapter's refusals at every distinct state (default true when the adapter has them). */
  readonly refusals?: boolean;
}

/** `from|label|to` for a step of the model: the key the harness counts edges by. */
export function edgeKey(from: State, label: ActionLabel, to: State): string {
  return `${fingerprintState(from)}|${labelKey(label)}|${fingerprintState(to)}`;
}

function safeEquals(a: Value, b: Value): boolean {
  try {
    return equals(a, b);
  } catch {
    return false;
  }
}

function show(v: Value): string {
  try {
    return toTla(v);
  } catch (e) {
    return `(unprintable: ${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The state as `/\ x = 1 /\ y = <<>>` on one line. */
export function showSpecState(vars: readonly string[], s: SpecState): string {
  return vars.map((v) => `/\\ ${v} = ${s[v] === undefined ? '(missing)' : show(s[v])}`).join(' ');
}

/** The variables on which `actual` differs from `expected`, plus any the mapping added. */
export function diffStates(vars: readonly string[], expected: SpecState, actual: SpecState): VariableDiff[] {
  const out: VariableDiff[] = [];
  for (const v of vars) {
    const e = expected[v];
    const a = actual[v];
    if (e === undefined) throw new Error(`the trace's state has no value for variable ${v}`);
    if (a === undefined) out.push({ variable: v, expected: show(e), actual: '(missing)' });
    else if (!safeEquals(e, a)) out.push({ variable: v, expected: show(e), actual: show(a) });
  }
  for (const k of Object.keys(actual)) {
    if (!vars.includes(k))
      out.push({ variable: k, expected: '(not a variable of the spec)', actual: show(actual[k]!) });
  }
  return out;
}

function keyed(vars: readonly string[], s: State): SpecState {
  const o: Record<string, Value> = {};
  vars.forEach((v, i) => (o[v] = s[i]!));
  return o;
}

function positional(vars: readonly string[], s: SpecState, where: string): State {
  return vars.map((v) => {
    const x = s[v];
    if (x === undefined) throw new Error(`${where} has no value for the spec's variable ${v}`);
    return x;
  });
}

/** `Send`, or `Deliver(m=1)` when the action has parameters. */
function actionText(l: ActionLabel): string {
  return Object.keys(l.args).length === 0 ? l.name : labelKey(l);
}

function message(e: unknown): string {
  if (e instanceof TlaError) return e.describe();
  return e instanceof Error ? e.message : String(e);
}

/** Replays one ITF trace (an ItfTrace, or parsed JSON of one) against fresh runtime objects; stops at the first divergence. */
export interface ReplayOptions {
  /** The spec's enabled actions per state; with it, the adapter's refusals are tried at every state. */
  readonly enabled?: EnabledActions;
  /** Try refusals only at states whose fingerprint is not in this set (and add them); default every state. */
  readonly probed?: Set<bigint>;
}

/**
 * Replays one ITF trace (an ItfTrace, or parsed JSON of one) against fresh runtime objects; stops
 * at the first divergence. With `opts.enabled`, at every state it also makes the adapter's
 * refusal attempts the spec does not allow there, and a runtime that changes its abstract state
 * on one diverges.
 */
export function replayTrace<R>(
  adapter: ConformanceAdapter<R>,
  itf: unknown,
  opts: ReplayOptions = {},
): TraceReplay {
  const g = replaySteps(adapter, itf, opts);
  let r = g.next();
  while (!r.done) {
    r.value.catch(() => undefined);
    r = g.throw(new Error('the adapter returned a promise: replay it with replayTraceAsync (runSuite does)'));
  }
  return r.value;
}

/** replayTrace for an adapter whose actions may return promises (awaited one at a time). */
export async function replayTraceAsync<R>(
  adapter: ConformanceAdapter<R>,
  itf: unknown,
  opts: ReplayOptions = {},
): Promise<TraceReplay> {
  const g = replaySteps(adapter, itf, opts);
  let r = g.next();
  while (!r.done) {
    try {
      await r.value;
      r = g.next();
    } catch (e) {
      r = g.throw(e);
    }
  }
  return r.value;
}

/** The replay, yielding each promise an adapter returns (the driver awaits it, or refuses it). */
function* replaySteps<R>(
  adapter: ConformanceAdapter<R>,
  itf: unknown,
  opts: ReplayOptions,
): Generator<Promise<void>, TraceReplay, unknown> {
  const { vars, trace } = itfToTrace(itf);
  const steps = trace.steps;
  const matchedEdges: string[] = [];
  let refusals = 0;
  if (steps.length === 0) return { steps: 0, refusals, matchedEdges, divergence: null };
  const total = steps.length - 1;
  const diverge = (
    step: number,
    action: string,
    diffs: VariableDiff[],
    error: string | null,
  ): TraceReplay => ({
    steps: Math.max(0, step - 1),
    refusals,
    matchedEdges,
    divergence: {
      step,
      steps: total,
      action,
      before: step === 0 ? null : showSpecState(vars, keyed(vars, steps[step - 1]!.state)),
      diffs,
      error,
    },
  });

  const first = keyed(vars, steps[0]!.state);
  let runtime: R;
  let actual: SpecState;
  try {
    runtime = adapter.create(first);
    actual = adapter.abstract(runtime);
  } catch (e) {
    return diverge(0, 'Init', [], `creating the runtime objects failed: ${message(e)}`);
  }
  const d0 = diffStates(vars, first, actual);
  if (d0.length > 0) return diverge(0, 'Init', d0, null);

  /** Tries what the spec disables at trace state i; a divergence if the runtime takes it. */
  const probe = function* (i: number): Generator<Promise<void>, TraceReplay | null, unknown> {
    if (!opts.enabled || !adapter.refusals) return null;
    const state = steps[i]!.state;
    if (opts.probed) {
      const fp = fingerprintState(state);
      if (opts.probed.has(fp)) return null;
      opts.probed.add(fp);
    }
    const here = keyed(vars, state);
    const enabled = opts.enabled(state);
    for (const r of adapter.refusals(runtime, here)) {
      if (r.spec && enabled.has(specActionKey(r.spec))) continue;
      refusals++;
      try {
        const p = r.attempt();
        if (p instanceof Promise) yield p as Promise<void>;
      } catch {
        // Throwing is refusing; the state must still be as it was.
      }
      let after: SpecState;
      try {
        after = adapter.abstract(runtime);
      } catch (e) {
        return diverge(
          i + 1,
          `(refused) ${r.what}`,
          [],
          `after trying ${r.what}, which the spec does not allow here, the refinement mapping failed: ${message(e)}`,
        );
      }
      const d = diffStates(vars, here, after);
      if (d.length > 0)
        return {
          ...diverge(
            i + 1,
            `(refused) ${r.what}`,
            d,
            `the runtime took ${r.what}, which the spec does not allow here`,
          ),
          steps: i,
        };
    }
    return null;
  };
  const p0 = yield* probe(0);
  if (p0) return p0;

  for (let i = 1; i < steps.length; i++) {
    const label = steps[i]!.label;
    if (label === null) {
      return diverge(
        i,
        '(unlabelled)',
        [],
        `step ${i} of the trace has no action label; traces must be labelled`,
      );
    }
    const action: SpecAction = { name: label.name, args: label.args };
    const expected = keyed(vars, steps[i]!.state);
    try {
      const p = adapter.perform(runtime, action);
      if (p instanceof Promise) yield p;
    } catch (e) {
      return diverge(
        i,
        actionText(label),
        [],
        `the runtime could not perform ${actionText(label)}: ${message(e)}`,
      );
    }
    try {
      actual = adapter.abstract(runtime);
    } catch (e) {
      return diverge(
        i,
        actionText(label),
        [],
        `the refinement mapping failed after ${actionText(label)}: ${message(e)}`,
      );
    }
    const d = diffStates(vars, expected, actual);
    if (d.length > 0) return diverge(i, actionText(label), d, null);
    matchedEdges.push(edgeKey(steps[i - 1]!.state, label, steps[i]!.state));
    const p = yield* probe(i);
    if (p) return p;
  }
  return { steps: total, refusals, matchedEdges, divergence: null };
}

/** Evaluates the named constants of a loaded model (as the .cfg sets them). */
export async function evaluateConstants(
  cm: CheckModel,
  names: readonly string[],
): Promise<Record<string, Value>> {
  const out: Record<string, Value> = {};
  for (const n of names) {
    const expr = await parseExpression(n);
    out[n] = cm.model.evalConstant(expr, cm.model.rootCtx);
  }
  return out;
}

/**
 * Runs a suite: loads its spec and model, generates edge-cover traces, replays each against
 * fresh runtime objects, and reports what was covered and the first divergence.
 */
export async function runSuite<R>(
  suite: ConformanceSuite<R>,
  opts: RunSuiteOptions = {},
): Promise<SuiteReport> {
  const t0 = performance.now();
  const cm = await loadModel(suite.specFile, suite.cfgFile);
  const maxStates = opts.maxStates ?? 100_000;
  const graph = exploreGraph(cm, { maxStates });
  const edgeIndex = new Set(
    graph.edges.map((e) => edgeKey(graph.states[e.from]!, e.label, graph.states[e.to]!)),
  );
  const cover = opts.noCover
    ? []
    : generateTraces(cm, {
        mode: 'cover',
        maxStates,
        ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
      }).traces;
  const random = opts.random ? generateTraces(cm, { mode: 'random', ...opts.random }).traces : [];
  const given = opts.moreTraces ?? [];
  const all = [...cover, ...random, ...given];
  const adapter = suite.adapter(await evaluateConstants(cm, suite.constants));
  const probing = (opts.refusals ?? true) && adapter.refusals !== undefined;
  const replayOpts: ReplayOptions = probing ? { enabled: enabledActionsOf(cm), probed: new Set() } : {};
  const covered = new Set<string>();
  let steps = 0;
  let replayed = 0;
  let refusals = 0;
  let divergence: Divergence | null = null;
  for (let i = 0; i < all.length; i++) {
    const itf = all[i]!;
    const r = await replayTraceAsync(adapter, itf, replayOpts);
    replayed++;
    steps += r.steps;
    refusals += r.refusals;
    for (const k of r.matchedEdges) {
      if (!edgeIndex.has(k)) {
        throw new Error(
          `conformance ${suite.name}: trace ${i + 1} has a step that is not an edge of the model's graph (${k}); ` +
            'the trace generator and the graph disagree',
        );
      }
      covered.add(k);
    }
    if (r.divergence) {
      divergence = {
        suite: suite.name,
        trace: i + 1,
        traces: all.length,
        traceFile: writeTrace(suite.name, i + 1, itf, opts.traceDir),
        ...r.divergence,
      };
      break;
    }
  }
  return {
    suite: suite.name,
    specFile: suite.specFile,
    cfgFile: suite.cfgFile,
    states: graph.states.length,
    edgesTotal: graph.edges.length,
    edgesCovered: covered.size,
    tracesReplayed: replayed,
    traces: all.length,
    steps,
    divergence,
    refusals,
    coverTraces: cover.length,
    randomTraces: random.length,
    givenTraces: given.length,
    tracesFrom: given.length > 0 ? (opts.tracesFrom ?? 'given') : null,
    elapsedMs: performance.now() - t0,
  };
}

function writeTrace(suite: string, n: number, itf: ItfTrace, dir: string | undefined): string | null {
  try {
    const folder = dir ?? path.join(os.tmpdir(), `buffy-conformance-${process.pid}`);
    mkdirSync(folder, { recursive: true });
    const file = path.join(
      folder,
      `${suite.replace(/[^A-Za-z0-9_.-]+/g, '_')}-trace-${String(n).padStart(4, '0')}.itf.json`,
    );
    writeFileSync(file, JSON.stringify(itf, null, 2) + '\n');
    return file;
  } catch {
    return null;
  }
}

/** The divergence for people: where it happened, and each differing variable. */
export function formatDivergence(d: Divergence): string {
  const lines: string[] = [];
  lines.push(`conformance ${d.suite}: the runtime diverged from the spec`);
  lines.push(
    `  trace ${d.trace} of ${d.traces}${d.traceFile ? ` (${d.traceFile})` : ''}, step ${d.step} of ${d.steps}: ${d.action}`,
  );
  if (d.before !== null) lines.push(`  state before the step (matched): ${d.before}`);
  if (d.error !== null) lines.push(`  ${d.error}`);
  if (d.diffs.length > 0) {
    lines.push(
      `  ${d.diffs.length === 1 ? '1 variable differs' : `${d.diffs.length} variables differ`} (expected = the spec's trace, actual = the runtime through the refinement mapping):`,
    );
    for (const v of d.diffs) {
      lines.push(`    ${v.variable}`);
      lines.push(`      expected: ${v.expected}`);
      lines.push(`      actual:   ${v.actual}`);
    }
  }
  return lines.join('\n');
}

/** One line per suite: traces, steps, edges covered, verdict. */
export function formatSuiteReport(r: SuiteReport): string {
  const verdict = r.divergence
    ? 'DIVERGED'
    : r.edgesCovered === r.edgesTotal
      ? 'CONFORMS'
      : `INCOMPLETE (${r.edgesTotal - r.edgesCovered} edges not replayed)`;
  const kinds = [
    r.randomTraces > 0 ? `${r.randomTraces} random` : '',
    r.givenTraces > 0 ? `${r.givenTraces} from ${r.tracesFrom}` : '',
  ].filter((x) => x !== '');
  const extra = kinds.length > 0 ? ` (${kinds.join(', ')})` : '';
  const refused = r.refusals > 0 ? `, ${r.refusals} refusals` : '';
  return (
    `${r.suite}: ${r.tracesReplayed}/${r.traces} traces${extra}, ${r.steps} steps, ` +
    `${r.edgesCovered}/${r.edgesTotal} edges covered (${r.states} states)${refused}, ${Math.round(r.elapsedMs)} ms: ${verdict}`
  );
}

// ---------------------------------------------------------------------------------------
// Trace validation: a recorded run of the runtime, abstracted, checked as a behaviour of the spec.

export type RunValidation =
  | { readonly ok: true; readonly labels: readonly string[] }
  | {
      readonly ok: false;
      /** Index of the offending state (0: not an initial state; k: the step from state k-1 to k). */
      readonly step: number;
      readonly message: string;
    };

/**
 * Checks that `states` (abstract runtime states, in order) is a behaviour of the spec: the
 * first satisfies Init and each step is a Next step (labelled by its action) or stutters.
 */
export interface ValidateRunOptions {
  /** Longest path of spec steps one recorded step may stand for (default 1: one action or stuttering). */
  readonly maxSpecSteps?: number;
}

export function validateRun(
  cm: CheckModel,
  states: readonly SpecState[],
  opts: ValidateRunOptions = {},
): RunValidation {
  const vars = cm.model.variables;
  const maxSpecSteps = opts.maxSpecSteps ?? 1;
  if (!Number.isSafeInteger(maxSpecSteps) || maxSpecSteps < 1)
    throw new RangeError(`validateRun: maxSpecSteps must be a positive integer, got ${maxSpecSteps}`);
  if (states.length === 0) return { ok: true, labels: [] };
  let seq: State[];
  try {
    seq = states.map((s, i) => positional(vars, s, `recorded state ${i}`));
  } catch (e) {
    return { ok: false, step: 0, message: message(e) };
  }
  const inits: State[] = [];
  cm.model.initStates(cm.init.expr, cm.init.ctx, (s) => inits.push(s));
  const first = seq[0]!;
  if (!inits.some((s) => s.every((v, i) => safeEquals(v, first[i]!)))) {
    return {
      ok: false,
      step: 0,
      message:
        `recorded state 0 does not satisfy the initial predicate ${cm.init.name}:\n  ${showSpecState(vars, states[0]!)}\n` +
        `  initial states: ${inits.map((s) => showSpecState(vars, keyed(vars, s))).join('\n                  ')}`,
    };
  }
  const labels: string[] = [];
  for (let i = 1; i < seq.length; i++) {
    const s = seq[i - 1]!;
    const t = seq[i]!;
    const found = labelStep(cm, s, t);
    if (found.length > 0) {
      labels.push(found.map(labelKey).join(' or '));
      continue;
    }
    if (s.every((v, k) => safeEquals(v, t[k]!))) {
      labels.push('(stutter)');
      continue;
    }
    const path = maxSpecSteps > 1 ? specPath(cm, s, t, maxSpecSteps) : null;
    if (path !== null) {
      labels.push(path.map(labelKey).join(' ; '));
      continue;
    }
    const changed = diffStates(vars, keyed(vars, s), keyed(vars, t));
    const enabled = new Set<string>();
    cm.model.successors(cm.next.expr, cm.next.ctx, s, (_u, l) => enabled.add(labelKey(l)));
    return {
      ok: false,
      step: i,
      message:
        `recorded step ${i} (state ${i - 1} -> state ${i}) is not a step of the next-state relation of ${cm.next.name}` +
        (maxSpecSteps > 1 ? ` (nor a path of up to ${maxSpecSteps} steps)\n` : '\n') +
        `  from: ${showSpecState(vars, states[i - 1]!)}\n` +
        changed.map((c) => `  ${c.variable}: ${c.expected} -> ${c.actual}\n`).join('') +
        `  actions enabled in the from-state: ${[...enabled].join(', ') || '(none)'}`,
    };
  }
  return { ok: true, labels };
}

/** A shortest path of 2..maxSteps spec steps from s to t (breadth-first), or null. */
function specPath(cm: CheckModel, s: State, t: State, maxSteps: number): ActionLabel[] | null {
  const target = fingerprintState(t);
  const seen = new Set<bigint>([fingerprintState(s)]);
  let frontier: { state: State; path: ActionLabel[] }[] = [{ state: s, path: [] }];
  for (let depth = 1; depth <= maxSteps && frontier.length > 0; depth++) {
    const next: { state: State; path: ActionLabel[] }[] = [];
    for (const f of frontier) {
      let found: ActionLabel[] | null = null;
      cm.model.successors(cm.next.expr, cm.next.ctx, f.state, (u, label) => {
        if (found !== null) return;
        const fp = fingerprintState(u);
        const path = [...f.path, label];
        if (fp === target && u.every((v, i) => safeEquals(v, t[i]!))) {
          found = path;
          return;
        }
        if (!seen.has(fp)) {
          seen.add(fp);
          next.push({ state: u, path });
        }
      });
      if (found !== null) return found;
    }
    frontier = next;
  }
  return null;
}
