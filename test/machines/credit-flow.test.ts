// The CreditFlow machine against specs/CreditFlow.tla, mechanically: the spec is loaded with
// the project's parser and evaluator, and the machine must name the same actions (the
// disjuncts of Next), hold the same variables, enable exactly the actions the spec enables
// in every reachable state, step to the same successor, and replay every edge-cover trace.
import { describe, expect, it, beforeAll } from 'vitest';
import { createActor } from 'xstate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exploreGraph,
  generateTraces,
  loadModel,
  loadSpec,
  type CheckModel,
  type ExploredGraph,
} from '../../tla/index.ts';
import type { Expr } from '../../tla/ast.ts';
import { equals, record, tuple, type Value } from '../../tla/values.ts';
import {
  ACTION_OF_EVENT,
  CREDIT_FLOW_ACTIONS,
  CREDIT_FLOW_VARIABLES,
  EVENT_OF_ACTION,
  creditFlowMachine,
  fromSpecState,
  toSpecState,
  varsOf,
  type CreditFlowAction,
  type CreditFlowVars,
} from '../../machines/credit-flow.ts';
import { replayTrace, type ConformanceAdapter, type SpecState } from '../../conformance/harness.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specFile = path.join(root, 'specs/CreditFlow.tla');
const cfgFile = path.join(root, 'specs/CreditFlow.cfg');

/** The operator names a disjunction lists (`A \/ B \/ C(x)`), through nested disjunctions. */
function disjunctNames(e: Expr, where: string): string[] {
  if (e.kind === 'or') return e.args.flatMap((a) => disjunctNames(a, where));
  if (e.kind === 'name') return [e.name];
  if (e.kind === 'apply') return [e.op];
  throw new Error(`${where}: a disjunct of kind ${e.kind} is not an action name`);
}

const constants = { msgs: 4, capacity: 2 };

function keyedState(vars: readonly string[], s: readonly Value[]): SpecState {
  return Object.fromEntries(vars.map((v, i) => [v, s[i]!]));
}

function sameState(a: SpecState, b: SpecState): boolean {
  return CREDIT_FLOW_VARIABLES.every((v) => equals(a[v]!, b[v]!));
}

function actorAt(from: CreditFlowVars) {
  return createActor(creditFlowMachine, { input: { ...constants, from } }).start();
}

describe('CreditFlow machine vs specs/CreditFlow.tla', () => {
  let cm: CheckModel;
  let graph: ExploredGraph;
  beforeAll(async () => {
    cm = await loadModel(specFile, cfgFile);
    graph = exploreGraph(cm);
  });

  it('names the same actions as the disjuncts of Next, and maps them both ways', async () => {
    const spec = await loadSpec(specFile);
    const next = spec.root.definitions.find((d) => d.kind === 'opDef' && d.name === 'Next');
    if (!next || next.kind !== 'opDef') throw new Error(`${specFile} defines no Next`);
    const specActions = disjunctNames(next.body, `${specFile}: Next`);
    expect([...specActions].sort()).toEqual([...CREDIT_FLOW_ACTIONS].sort());
    expect([...creditFlowMachine.events].sort()).toEqual([...CREDIT_FLOW_ACTIONS].sort());
    for (const a of specActions) {
      const ev = EVENT_OF_ACTION[a as CreditFlowAction];
      expect(ev).toBeDefined();
      expect(ACTION_OF_EVENT[ev]).toBe(a);
    }
    expect(Object.keys(ACTION_OF_EVENT).sort()).toEqual([...creditFlowMachine.events].sort());
  });

  it('holds the spec variables', async () => {
    const spec = await loadSpec(specFile);
    expect(spec.root.variables.map((v) => v.name)).toEqual([...CREDIT_FLOW_VARIABLES]);
    expect(cm.model.variables).toEqual([...CREDIT_FLOW_VARIABLES]);
  });

  it("starts in the spec's initial state", () => {
    expect(graph.init).toHaveLength(1);
    const init = keyedState(graph.variables, graph.states[graph.init[0]!]!);
    const a = createActor(creditFlowMachine, { input: constants }).start();
    expect(sameState(toSpecState(varsOf(a.getSnapshot().context)), init)).toBe(true);
  });

  it('enables exactly the actions the spec enables, and steps to the same state, in every reachable state', () => {
    let checkedEdges = 0;
    graph.states.forEach((s, i) => {
      const here = keyedState(graph.variables, s);
      const from = fromSpecState(here);
      expect(sameState(toSpecState(from), here)).toBe(true);
      const out = graph.edges.filter((e) => e.from === i);
      for (const action of CREDIT_FLOW_ACTIONS) {
        const specEdges = out.filter((e) => e.label.name === action);
        const snapshot = actorAt(from).getSnapshot();
        expect(snapshot.can({ type: EVENT_OF_ACTION[action] }), `${action} in state ${i}`).toBe(
          specEdges.length > 0,
        );
        if (specEdges.length === 0) continue;
        expect(specEdges).toHaveLength(1);
        const actor = actorAt(from);
        actor.send({ type: EVENT_OF_ACTION[action] });
        const got = toSpecState(varsOf(actor.getSnapshot().context));
        const want = keyedState(graph.variables, graph.states[specEdges[0]!.to]!);
        expect(sameState(got, want), `${action} from state ${i}`).toBe(true);
        checkedEdges++;
      }
    });
    expect(checkedEdges).toBe(graph.edges.length);
  });

  it('replays every edge-cover trace through the shared harness', () => {
    const adapter: ConformanceAdapter<ReturnType<typeof actorAt>> = {
      create: (initial) => actorAt(fromSpecState(initial)),
      perform: (actor, action) => {
        const type = EVENT_OF_ACTION[action.name as CreditFlowAction];
        if (type === undefined) throw new Error(`no machine event for ${action.name}`);
        if (!actor.getSnapshot().can({ type })) throw new Error(`${type} is not enabled in the machine`);
        actor.send({ type });
      },
      abstract: (actor) => toSpecState(varsOf(actor.getSnapshot().context)),
    };
    const gen = generateTraces(cm, { mode: 'cover' });
    const covered = new Set<string>();
    for (const t of gen.traces) {
      const r = replayTrace(adapter, t);
      expect(r.divergence).toBeNull();
      r.matchedEdges.forEach((k) => covered.add(k));
    }
    expect(covered.size).toBe(graph.edges.length);
  });

  it('ignores a disabled event, as a disabled action has no step', () => {
    const a = createActor(creditFlowMachine, { input: constants }).start();
    const before = a.getSnapshot().context;
    a.send({ type: 'Send' }); // credit = 0
    a.send({ type: 'Consume' }); // buffer empty
    expect(a.getSnapshot().context).toEqual(before);
  });

  it('rejects a state of the wrong shape with the variable named', () => {
    const good = toSpecState({
      next: 1,
      credit: 0,
      wire: [{ type: 'credit', n: 2 }],
      buffer: [],
      consumed: 0,
      owed: 0,
    });
    expect(() => fromSpecState({ ...good, credit: -1 })).toThrow(/credit must be a natural number/);
    expect(() => fromSpecState({ ...good, wire: tuple([record({ type: 'ack', n: 1 })]) })).toThrow(
      /wire\[1\]\.type/,
    );
    const bad = createActor(creditFlowMachine, { input: { msgs: -1, capacity: 2 } });
    bad.subscribe({ error: () => undefined });
    bad.start();
    expect(bad.getSnapshot().status).toBe('error');
    expect(String(bad.getSnapshot().error)).toMatch(/constant Msgs must be a natural number, got -1/);
  });
});
