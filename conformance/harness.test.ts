// The shared harness on its own: how it reports an adapter that throws, a mapping that
// produces the wrong variables, an unlabelled trace, and how it counts covered edges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateTraces, loadModel, type CheckModel, type ItfTrace } from '../tla/index.ts';
import { record, tuple, type Value } from '../tla/values.ts';
import {
  diffStates,
  formatDivergence,
  formatSuiteReport,
  replayTrace,
  runSuite,
  type ConformanceAdapter,
  type SpecState,
} from './harness.ts';
import { SPECS_DIR, creditFlowAdapter, type CreditFlowRuntime } from './credit-flow.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-harness-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

const specFile = `${SPECS_DIR}CreditFlow.tla`;
const cfgFile = `${SPECS_DIR}CreditFlow.cfg`;

/** The real CreditFlow adapter (the runtime's channel cores), optionally broken in one place. */
function brokenAdapter(broken?: {
  action: string;
  how: 'throw' | 'extra-variable';
}): ConformanceAdapter<CreditFlowRuntime> {
  const real = creditFlowAdapter({ msgs: 4, capacity: 2 });
  return {
    create: (initial) => real.create(initial),
    perform: (rt, action) => {
      if (broken?.how === 'throw' && action.name === broken.action) throw new Error('the disk is full');
      return real.perform(rt, action);
    },
    abstract: (rt) => {
      const s = real.abstract(rt);
      return broken?.how === 'extra-variable' && s.consumed === 1 ? { ...s, ghost: tuple([1]) } : s;
    },
  };
}

describe('conformance harness', () => {
  let cm: CheckModel;
  let traces: ItfTrace[];
  beforeAll(async () => {
    cm = await loadModel(specFile, cfgFile);
    traces = generateTraces(cm, { mode: 'cover' }).traces;
  });

  it('reports an action the runtime could not perform, with the step and the error', () => {
    const r = replayTrace(brokenAdapter({ action: 'Consume', how: 'throw' }), traces[0]);
    expect(r.divergence).not.toBeNull();
    const d = r.divergence!;
    expect(d.action).toBe('Consume');
    expect(d.error).toBe('the runtime could not perform Consume: the disk is full');
    expect(r.steps).toBe(d.step - 1);
    expect(r.matchedEdges).toHaveLength(d.step - 1);
  });

  it('reports a variable the spec does not have', () => {
    const r = replayTrace(brokenAdapter({ action: '', how: 'extra-variable' }), traces[0]);
    expect(r.divergence?.diffs).toEqual([
      { variable: 'ghost', expected: '(not a variable of the spec)', actual: '<<1>>' },
    ]);
  });

  it('refuses an unlabelled trace', () => {
    const t = traces[0]!;
    const unlabelled = {
      ...t,
      states: t.states.map((s) => ({ ...s, '#meta': { index: s['#meta'].index } })),
    };
    const r = replayTrace(brokenAdapter(), unlabelled);
    expect(r.divergence?.error).toMatch(/step 1 of the trace has no action label/);
  });

  it('diffs states variable by variable, in TLA+ syntax', () => {
    const state = (wire: readonly Value[], buffer: readonly number[]): SpecState => ({
      next: 1,
      credit: 0,
      wire: tuple([...wire]),
      buffer: tuple([...buffer]),
      consumed: 0,
      owed: 0,
    });
    const a = state([], [1, 2]);
    const b = state([record({ type: 'data', msg: 3 })], [1]);
    expect(diffStates(cm.model.variables, a, b)).toEqual([
      { variable: 'wire', expected: '<<>>', actual: '<<[msg |-> 3, type |-> "data"]>>' },
      { variable: 'buffer', expected: '<<1, 2>>', actual: '<<1>>' },
    ]);
  });

  it('counts the edges it replayed: a suite whose runtime fails late covers some but not all', async () => {
    const r = await runSuite(
      {
        name: 'channel-broken-grant',
        specFile,
        cfgFile,
        constants: [],
        adapter: () => brokenAdapter({ action: 'GrantCredit', how: 'throw' }),
      },
      { traceDir },
    );
    expect(r.divergence?.traceFile?.startsWith(traceDir)).toBe(true);
    expect(r.edgesCovered).toBeGreaterThan(0);
    expect(r.edgesCovered).toBeLessThan(r.edgesTotal);
    expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
    expect(formatDivergence(r.divergence!)).toMatch(/could not perform GrantCredit: the disk is full/);
  });
});
