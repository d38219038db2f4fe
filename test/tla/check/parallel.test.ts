// The parallel search (--workers N) against the one-worker search and TLC's figures in the
// corpus: same verdict, distinct states, states generated and depth on complete searches, a
// counterexample of the same (shortest) length on violations, the same error on evaluation
// errors. Each parallel run starts worker threads that load the model (a second or two here).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, searchSystem, type CheckResult } from '../../../tla/check/checker.ts';
import { Decoder, encodeStates } from '../../../tla/check/codec.ts';
import { loadModel } from '../../../tla/check/model.ts';
import { checkParallel, rebalancePlan } from '../../../tla/check/parallel.ts';
import type { State } from '../../../tla/eval/index.ts';
import {
  IntervalSet,
  LazyFcn,
  equals,
  fingerprintState,
  mkFcn,
  mkRecord,
  modelValue,
  setOf,
  tuple,
  type Value,
} from '../../../tla/values.ts';
import { corpusDir, describeWithCorpus } from '../shared.ts';

async function both(spec: string, cfg: string, workers = 2): Promise<[CheckResult, CheckResult]> {
  const cm = await loadModel(spec, cfg);
  const one = check(cm);
  const par = await checkParallel(cm, { workers, load: { libDirs: [] } });
  return [one, par];
}

function sameOutcome(one: CheckResult, par: CheckResult): void {
  expect(par.result).toBe(one.result);
  expect(par.workers).toBeGreaterThan(1);
  if (one.result === 'ok') {
    expect(par.distinctStates).toBe(one.distinctStates);
    expect(par.statesGenerated).toBe(one.statesGenerated);
    expect(par.depth).toBe(one.depth);
  }
  if (one.violation) {
    expect(par.violation?.kind).toBe(one.violation.kind);
    expect(par.violation?.name).toBe(one.violation.name);
    expect(par.violation?.trace.steps.length).toBe(one.violation.trace.steps.length);
  }
  if (one.error) {
    expect(par.error?.message).toBe(one.error.message);
    expect(par.error?.trace?.steps.length).toBe(one.error.trace?.steps.length);
  }
}

describe('rebalancePlan', () => {
  it('moves only surplus, and leaves frontiers within one state of each other when it moves', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 2, maxLength: 32 }), (sizes) => {
        const plan = rebalancePlan(sizes);
        const after = [...sizes];
        for (const t of plan) {
          expect(t.count).toBeGreaterThan(0);
          expect(t.from).not.toBe(t.to);
          after[t.from]! -= t.count;
          after[t.to]! += t.count;
        }
        expect(after.reduce((a, b) => a + b, 0)).toBe(sizes.reduce((a, b) => a + b, 0));
        expect(Math.min(...after)).toBeGreaterThanOrEqual(0);
        if (plan.length > 0) expect(Math.max(...after) - Math.min(...after)).toBeLessThanOrEqual(1);
        // A sender only sends, a receiver only receives.
        for (const t of plan) expect(plan.some((u) => u.to === t.from)).toBe(false);
      }),
    );
  });
  it('leaves even frontiers alone', () => {
    expect(rebalancePlan([100, 101, 99, 100])).toEqual([]);
    expect(rebalancePlan([0, 0])).toEqual([]);
    expect(rebalancePlan([3, 0])).toEqual([{ from: 0, to: 1, count: 1 }]);
  });
});

describe('codec', () => {
  const mv = (n: string) => modelValue(n);
  const leaf: fc.Arbitrary<Value> = fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.boolean(),
    fc.constantFrom('a', 'b', ''),
    fc.constantFrom(mv('p1'), mv('p2')),
  );
  const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('v'), { maxLength: 3 }).map((xs) => tuple(xs)),
      fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 4 }).map((xs) => setOf(xs)),
      fc.record({ x: tie('v'), y: tie('v') }).map((r) =>
        mkRecord([
          ['x', r.x],
          ['y', r.y],
        ]),
      ),
      fc
        .array(tie('v'), { minLength: 1, maxLength: 3 })
        .map((vals) => mkFcn(['k1', 'k2', 'k3'].slice(0, vals.length), vals)),
      fc
        .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 }))
        .map(([a, b]) => new IntervalSet(a, b)),
    ),
  })).v;
  it('a state decodes to an equal state with the same fingerprint', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (s) => {
        const [back] = new Decoder().states(encodeStates([s]), 1, s.length);
        expect(back!.length).toBe(s.length);
        s.forEach((v, i) => expect(equals(back![i]!, v)).toBe(true));
        expect(fingerprintState(back!)).toBe(fingerprintState(s));
      }),
    );
  });
  it('sends a lazy function in its enumerated form', () => {
    const lazy = new LazyFcn(new IntervalSet(1, 3), (x) => (x as number) * 2, false);
    const s: State = [lazy];
    const [back] = new Decoder().states(encodeStates([s]), 1, 1);
    expect(fingerprintState(back!)).toBe(fingerprintState(s));
  });
});

const grid = path.join(import.meta.dirname, 'parallel');
const gridSpec = path.join(grid, 'Grid.tla');

describe('parallel search on the test models', () => {
  it('50,701 states (the shared table grows while three workers insert): the same figures as one worker', async () => {
    const [one, par] = await both(gridSpec, path.join(grid, 'GridBig.cfg'), 3);
    expect(one.distinctStates).toBe(50701);
    sameOutcome(one, par);
  });
  it('a violation 25 states deep: a counterexample as short as one worker finds', async () => {
    const [one, par] = await both(gridSpec, path.join(grid, 'GridDeep.cfg'));
    expect(one.result).toBe('invariant');
    sameOutcome(one, par);
  });
  it('--continue: the same violations counted, traces shortest first', async () => {
    const cm = await loadModel(gridSpec, path.join(grid, 'Grid.cfg'));
    const one = check(cm, { continueAfterViolation: true });
    const par = await checkParallel(cm, { workers: 2, load: { libDirs: [] }, continueAfterViolation: true });
    expect(one.violationCounts).toEqual(
      new Map([
        ['NoneArrived', 90],
        ['deadlock', 3],
      ]),
    );
    expect(par.result).toBe(one.result);
    expect(par.distinctStates).toBe(one.distinctStates);
    expect(par.statesGenerated).toBe(one.statesGenerated);
    expect(par.depth).toBe(one.depth);
    expect(new Map([...par.violationCounts!].sort())).toEqual(new Map([...one.violationCounts!].sort()));
    expect(par.violations!.length).toBe(one.violations!.length);
    const lengths = (r: CheckResult) => r.violations!.map((v) => v.trace.steps.length).sort((a, b) => a - b);
    expect(lengths(par)).toEqual(lengths(one));
    // Each trace is a behaviour ending in a state that violates what it names.
    const sys = searchSystem(cm);
    for (const v of par.violations!) {
      const last = v.trace.steps[v.trace.steps.length - 1]!.state;
      if (v.kind === 'deadlock') {
        let any = false;
        sys.successors(last, () => (any = true));
        expect(any).toBe(false);
      } else expect(sys.invariants.find((i) => i.name === v.name)!.holds(last)).toBe(false);
    }
  });
});

interface Expected {
  model: string;
  config: string;
  tlc: {
    result: string;
    distinctStates?: number;
    statesGenerated?: number;
    depth?: number;
    countsInformative?: boolean;
    violation?: { name: string | null; traceLength: number };
    errorTraceLength?: number;
  };
}

/** Corpus models with safety checks only (liveness runs on one worker). */
const CORPUS = [
  'check-01-init-next',
  'check-03-deadlock',
  'check-04-invariant-bfs',
  'check-05-second-invariant',
  'check-06-constraint',
  'check-07-action-constraint',
  'check-08-view',
  'check-09-symmetry',
  'check-18-action-property',
  'check-24-error-nonbool-invariant',
  'check-25-error-infinite-set',
  'check-26-error-eval-next',
];

describeWithCorpus('parallel search on the corpus: one worker and TLC agree', () => {
  for (const folder of CORPUS) {
    const dir = path.join(corpusDir, folder);
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as
      Expected | Expected[];
    for (const e of [expected].flat()) {
      it(`${folder}/${e.config}: ${e.tlc.result}`, async () => {
        const [one, par] = await both(path.join(dir, e.model), path.join(dir, e.config));
        sameOutcome(one, par);
        expect(par.result).toBe(e.tlc.result);
        if (e.tlc.result === 'ok' && !e.tlc.countsInformative) {
          expect(par.distinctStates).toBe(e.tlc.distinctStates);
          expect(par.depth).toBe(e.tlc.depth);
        }
        if (e.tlc.violation) expect(par.violation?.trace.steps.length).toBe(e.tlc.violation.traceLength);
        if (e.tlc.errorTraceLength !== undefined)
          expect(par.error?.trace?.steps.length).toBe(e.tlc.errorTraceLength);
      });
    }
  }
});
