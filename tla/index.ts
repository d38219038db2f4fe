// The TLA+ toolchain's library API, for the conformance harness and other tools: load a spec
// and its model, check it, explore its state graph, evaluate expressions in a state, label
// steps, and generate traces.
import type { Expr } from './ast.ts';
import { TlaError } from './errors.ts';
import { loadSpec, parseExpressionText } from './parse/index.ts';
import type { ActionLabel, State } from './eval/index.ts';
import type { Value } from './values.ts';
import { search } from './check/engine.ts';
import { check, searchSystem, toJson, type CheckOptions, type CheckResult } from './check/checker.ts';
import { loadModel, type CheckModel, type LoadModelOptions } from './check/model.ts';
import { labelStep as labelStepWith } from './check/label.ts';
import { edgeCoverTraces, randomTraces } from './check/traces.ts';
import { traceToItf, type ItfTrace } from './check/itf.ts';

export { loadSpec, loadModel, check, toJson, traceToItf };
export { formatReport, modelWarnings, labelKey } from './check/checker.ts';
export type { CheckModel, CheckOptions, CheckResult, LoadModelOptions, ItfTrace, ActionLabel, State, Value };
export { parseCfg } from './check/cfg.ts';
export { itfToTrace } from './check/itf.ts';
export { runTlc, parseTlcOutput } from './check/tlc.ts';
export { setHeapBudget, heapBudget } from './memory.ts';

export interface GraphEdge {
  readonly from: number;
  readonly to: number;
  readonly label: ActionLabel;
}

export interface ExploredGraph {
  readonly variables: readonly string[];
  readonly states: readonly State[];
  readonly init: readonly number[];
  readonly edges: readonly GraphEdge[];
}

/** The reachable states (under the model's constraints) and every distinct labelled edge. */
export function exploreGraph(cm: CheckModel, opts: { maxStates?: number } = {}): ExploredGraph {
  const sys = { ...searchSystem(cm), invariants: [], initProperties: [], actionProperties: [] };
  const r = search(sys, {
    checkDeadlock: false,
    recordGraph: true,
    recordLabels: true,
    ...(opts.maxStates !== undefined ? { maxStates: opts.maxStates } : {}),
  });
  if (r.result === 'error' || !r.graph) {
    const e = r.error?.error;
    throw e instanceof Error ? e : new TlaError('eval', 'exploring the state graph failed');
  }
  const g = r.graph;
  const edges: GraphEdge[] = [];
  g.labelled!.forEach((es, from) => es.forEach((e) => edges.push({ from, to: e.to, label: e.label })));
  return { variables: cm.model.variables, states: g.states, init: g.init, edges };
}

/** Evaluates TLA+ expression text in a state of the model (primes not allowed). */
export async function evaluate(cm: CheckModel, text: string, state: State): Promise<Value> {
  const expr = await parseExpression(text);
  return cm.model.evalState(expr, cm.model.rootCtx, state);
}

/** Parses one TLA+ expression (names resolve when it is evaluated against a model). */
export function parseExpression(text: string): Promise<Expr> {
  return parseExpressionText(text, '<expression>');
}

/** All action instances under which (s, t) is a step of the model's next-state relation. */
export function labelStep(cm: CheckModel, s: State, t: State): ActionLabel[] {
  return labelStepWith(cm.model, cm.next, s, t);
}

export type TraceRequest =
  | { readonly mode: 'cover'; readonly maxSteps?: number; readonly maxStates?: number }
  | { readonly mode: 'random'; readonly count: number; readonly depth: number; readonly seed: number };

export interface GeneratedTraces {
  readonly traces: ItfTrace[];
  /** Edge cover only. */
  readonly edgesTotal?: number;
  readonly edgesCovered?: number;
}

/** Edge-cover traces of the reachable graph, or seeded random walks; deterministic. */
export function generateTraces(cm: CheckModel, req: TraceRequest): GeneratedTraces {
  const meta = (i: number) => ({
    source: cm.specFile,
    initName: cm.init.name,
    description: `trace ${i + 1}`,
  });
  if (req.mode === 'cover') {
    const g = exploreGraph(cm, req.maxStates !== undefined ? { maxStates: req.maxStates } : {});
    const labelled: { to: number; label: ActionLabel }[][] = g.states.map(() => []);
    for (const e of g.edges) labelled[e.from]!.push({ to: e.to, label: e.label });
    const cover = edgeCoverTraces(
      { states: g.states, init: g.init, labelled },
      req.maxSteps !== undefined ? { maxSteps: req.maxSteps } : {},
    );
    return {
      traces: cover.traces.map((t, i) => traceToItf(cm.model.variables, t, meta(i))),
      edgesTotal: cover.edgesTotal,
      edgesCovered: cover.edgesCovered,
    };
  }
  const sys = searchSystem(cm);
  const walks = randomTraces(sys, req.count, req.depth, req.seed);
  return { traces: walks.map((t, i) => traceToItf(cm.model.variables, t, meta(i))) };
}
