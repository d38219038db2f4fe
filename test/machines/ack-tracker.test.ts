// The Ack machine against specs/Ack.tla, mechanically: the spec is loaded with the project's
// parser and evaluator, and the machine must name the same actions (the disjuncts of Next),
// hold the same variables, and in every reachable state of each model enable exactly the
// (action, message) pairs the spec enables and step to the same successor. The broken
// variants' models are compared too: the machine must mirror those constants as well.
import { beforeAll, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exploreGraph, loadModel, loadSpec, type ExploredGraph } from '../../tla/index.ts';
import type { Expr } from '../../tla/ast.ts';
import { SetValue, equals, setOf, type Value } from '../../tla/values.ts';
import {
  ACK_ACTIONS,
  ACK_ACTION_ROLES,
  ACK_PARAMETERISED,
  ACK_VARIABLES,
  ackEventOf,
  ackTrackerMachine,
  ackVarsOf,
  initialAckVars,
  type AckConstants,
  type AckVars,
} from '../../machines/ack-tracker.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specFile = path.join(root, 'specs/Ack.tla');

/** The action names a disjunction lists (`A \/ \E m \in S : B(m) \/ ...`). */
function disjunctNames(e: Expr, where: string): string[] {
  if (e.kind === 'or') return e.args.flatMap((a) => disjunctNames(a, where));
  if (e.kind === 'quant' && e.quantifier === 'exists') return disjunctNames(e.body, where);
  if (e.kind === 'name') return [e.name];
  if (e.kind === 'apply') return [e.op];
  throw new Error(`${where}: a disjunct of kind ${e.kind} is not an action name`);
}

const SETS = ['kept', 'mem', 'dur', 'toAck', 'outbox', 'sunk', 'toW', 'acksW', 'toSink', 'acksS'] as const;

function specToVars(vars: readonly string[], s: readonly Value[]): AckVars {
  const at = (name: string): Value => {
    const i = vars.indexOf(name);
    if (i < 0) throw new Error(`the spec has no variable ${name}`);
    return s[i]!;
  };
  const nat = (name: string): number => {
    const v = at(name);
    if (typeof v !== 'number') throw new Error(`${name} is not a number`);
    return v;
  };
  const set = (name: string): number[] => {
    const v = at(name);
    if (!(v instanceof SetValue)) throw new Error(`${name} is not a set`);
    const elems = (v.normalized() as unknown as { elems: readonly Value[] }).elems;
    return elems.map((x) => x as number).sort((a, b) => a - b);
  };
  const out: Record<string, number | number[]> = {
    offset: nat('offset'),
    read: nat('read'),
    crashes: nat('crashes'),
  };
  for (const k of SETS) out[k] = set(k);
  return out as unknown as AckVars;
}

function varsToSpec(v: AckVars): Record<string, Value> {
  const out: Record<string, Value> = { offset: v.offset, read: v.read, crashes: v.crashes };
  for (const k of SETS) out[k] = setOf([...v[k]]);
  return out;
}

function sameAsSpec(vars: readonly string[], got: AckVars, want: readonly Value[]): boolean {
  const g = varsToSpec(got);
  return vars.every((name, i) => equals(g[name]!, want[i]!));
}

describe('Ack machine vs specs/Ack.tla', () => {
  it('names the same actions as the disjuncts of Next, each with a role, and holds the spec variables', async () => {
    const spec = await loadSpec(specFile);
    const next = spec.root.definitions.find((d) => d.kind === 'opDef' && d.name === 'Next');
    if (!next || next.kind !== 'opDef') throw new Error(`${specFile} defines no Next`);
    const specActions = disjunctNames(next.body, `${specFile}: Next`);
    expect(specActions).toEqual([...ACK_ACTIONS]);
    expect([...ackTrackerMachine.events].sort()).toEqual([...ACK_ACTIONS].sort());
    expect(Object.keys(ACK_ACTION_ROLES).sort()).toEqual([...ACK_ACTIONS].sort());
    expect(spec.root.variables.map((v) => v.name)).toEqual([...ACK_VARIABLES]);
  });

  // [model, its constants, compare every k-th state (1: all)]. Ack-msgs2 has 16226 states:
  // a fixed sample of about 2000 of them keeps the test fast.
  const models: ReadonlyArray<[string, AckConstants, number]> = [
    ['Ack.cfg', { msgs: 1, maxCrashes: 2, ackEarly: false, commitEarly: false }, 1],
    ['Ack-ack-early.cfg', { msgs: 1, maxCrashes: 1, ackEarly: true, commitEarly: false }, 1],
    ['Ack-commit-early.cfg', { msgs: 1, maxCrashes: 1, ackEarly: false, commitEarly: true }, 1],
    ['Ack-msgs2.cfg', { msgs: 2, maxCrashes: 0, ackEarly: false, commitEarly: false }, 8],
  ];
  for (const [cfg, constants, every] of models) {
    describe(cfg, () => {
      let graph: ExploredGraph;
      beforeAll(async () => {
        graph = exploreGraph(await loadModel(specFile, path.join(root, 'specs', cfg)));
      }, 60_000);

      it("starts in the spec's initial state", () => {
        expect(graph.init).toHaveLength(1);
        const a = createActor(ackTrackerMachine, { input: constants }).start();
        expect(
          sameAsSpec(graph.variables, ackVarsOf(a.getSnapshot().context), graph.states[graph.init[0]!]!),
        ).toBe(true);
        expect(initialAckVars()).toEqual(ackVarsOf(a.getSnapshot().context));
      });

      it(`enables exactly the (action, message) pairs the spec enables, and steps to the same state, in ${every === 1 ? 'every reachable state' : `every ${every}th reachable state`}`, () => {
        const byFrom = new Map<number, Array<(typeof graph.edges)[number]>>();
        for (const e of graph.edges) {
          const es = byFrom.get(e.from);
          if (es) es.push(e);
          else byFrom.set(e.from, [e]);
        }
        let checked = 0;
        let expected = 0;
        graph.states.forEach((s, i) => {
          if (i % every !== 0) return;
          expected += byFrom.get(i)?.length ?? 0;
          const from = specToVars(graph.variables, s);
          expect(sameAsSpec(graph.variables, from, s)).toBe(true);
          const out = byFrom.get(i) ?? [];
          const here = createActor(ackTrackerMachine, { input: { ...constants, from } })
            .start()
            .getSnapshot();
          for (const action of ACK_ACTIONS) {
            const params = ACK_PARAMETERISED.has(action)
              ? Array.from({ length: constants.msgs }, (_, k) => k + 1)
              : [undefined];
            for (const m of params) {
              const specEdges = out.filter(
                (e) => e.label.name === action && (m === undefined || equals(e.label.args.m!, m)),
              );
              const ev = ackEventOf(action, m);
              expect(here.can(ev), `${action}(${m ?? ''}) in state ${i}`).toBe(specEdges.length > 0);
              if (specEdges.length === 0) continue;
              expect(specEdges).toHaveLength(1);
              const actor = createActor(ackTrackerMachine, { input: { ...constants, from } }).start();
              actor.send(ev);
              const got = ackVarsOf(actor.getSnapshot().context);
              expect(
                sameAsSpec(graph.variables, got, graph.states[specEdges[0]!.to]!),
                `${action}(${m ?? ''}) from state ${i}`,
              ).toBe(true);
              checked++;
            }
          }
        });
        expect(checked).toBe(expected);
        if (every === 1) expect(expected).toBe(graph.edges.length);
      }, 120_000);
    });
  }

  it('ignores a disabled event and a message outside the model, as a disabled action has no step', () => {
    const c: AckConstants = { msgs: 2, maxCrashes: 0, ackEarly: false, commitEarly: false };
    const a = createActor(ackTrackerMachine, { input: c }).start();
    const before = a.getSnapshot().context;
    a.send({ type: 'SourceSend', m: 1 }); // nothing read yet
    a.send({ type: 'CrashWorker' }); // MaxCrashes = 0
    a.send({ type: 'SourceRead' });
    const read = a.getSnapshot().context;
    a.send({ type: 'SourceSend', m: 3 }); // not an offset of the model
    expect(a.getSnapshot().context).toBe(read);
    expect(ackVarsOf(read)).toEqual({ ...ackVarsOf(before), read: 1, kept: [1] });
    const bad = createActor(ackTrackerMachine, { input: { ...c, maxCrashes: -1 } });
    bad.subscribe({ error: () => undefined });
    bad.start();
    expect(String(bad.getSnapshot().error)).toMatch(/constant MaxCrashes must be a natural number, got -1/);
  });
});
