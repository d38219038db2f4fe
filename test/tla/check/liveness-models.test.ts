// General temporal properties (the tableau path) on a model small enough to reason about by
// hand: test/tla/check/models/Temporal.tla (the verdicts are explained beside each property).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { check } from '../../../tla/check/checker.ts';
import { parseCfg } from '../../../tla/check/cfg.ts';
import { loadModel, modelFromConfig } from '../../../tla/check/model.ts';
import { loadSpec } from '../../../tla/parse/index.ts';

const dir = path.join(import.meta.dirname, 'models');
const specFile = path.join(dir, 'Temporal.tla');

async function run(spec: 'FairSpec' | 'UnfairSpec', property: string) {
  const cfgText = `SPECIFICATION ${spec}\nPROPERTY ${property}\nCHECK_DEADLOCK FALSE\n`;
  const cm = modelFromConfig(await loadSpec(specFile), specFile, null, parseCfg(cfgText, 'inline.cfg'));
  return { cm, r: check(cm) };
}

const xs = (r: ReturnType<typeof check>): number[] =>
  r.violation!.trace.steps.map((s) => s.state[0] as number);

describe('general temporal properties on Temporal.tla', () => {
  // property -> verdict under FairSpec, under UnfairSpec, decided by the tableau (else the fast path)
  const table: [string, 'ok' | 'property', 'ok' | 'property', boolean][] = [
    ['StaysAbove', 'ok', 'ok', true],
    ['StaysAtTwo', 'property', 'property', true],
    ['Settles', 'ok', 'property', true],
    ['Recurrence', 'ok', 'ok', true],
    ['NotRecurrentZero', 'ok', 'property', true],
    ['Disjunction', 'ok', 'property', false],
    ['FairnessImplies', 'ok', 'ok', true],
    ['StrongImplies', 'ok', 'ok', true],
    ['StepComes', 'ok', 'property', true],
    ['EveryValueLeft', 'ok', 'property', false],
    ['SettlesSomewhere', 'ok', 'property', true],
    ['DisabledForever', 'ok', 'property', true],
  ];
  for (const [prop, fair, unfair, tableau] of table) {
    it(`${prop}: ${fair} under FairSpec, ${unfair} under UnfairSpec`, async () => {
      for (const [spec, want] of [['FairSpec', fair], ['UnfairSpec', unfair]] as const) {
        const { cm, r } = await run(spec, prop);
        expect(cm.liveness.every((o) => (o.temporal !== undefined) === tableau)).toBe(true);
        expect(r).toMatchObject({ result: want, distinctStates: 4, statesGenerated: 4, depth: 4 });
        if (want === 'property') expect(r.violation!.name).toBe(prop);
      }
    });
  }

  it('the counterexample of StaysAtTwo climbs to 3 and stutters there', async () => {
    const r = check(await loadModel(specFile, path.join(dir, 'TemporalStaysAtTwo.cfg')));
    expect(r.result).toBe('property');
    expect(xs(r)).toEqual([0, 1, 2, 3]);
    expect(r.violation!.trace.stuttering).toBe(true);
  });

  it('Disjunction under UnfairSpec: the behaviour stops short of 3, away from 0', async () => {
    const { r } = await run('UnfairSpec', 'Disjunction');
    const t = r.violation!.trace;
    const cycle = xs(r).slice(t.loopsTo);
    expect(cycle.every((v) => v !== 0 && v !== 3)).toBe(true);
  });

  it('NotRecurrentZero under UnfairSpec: stuttering in the initial state', async () => {
    const { r } = await run('UnfairSpec', 'NotRecurrentZero');
    expect(xs(r)).toEqual([0]);
    expect(r.violation!.trace.stuttering).toBe(true);
  });

  it('all the properties that hold under FairSpec, from one .cfg', async () => {
    const r = check(await loadModel(specFile, path.join(dir, 'TemporalFair.cfg')));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 4, statesGenerated: 4, depth: 4 });
  });

  // TLC evaluates ENABLED of an instantiated action with the instance's variables primed as
  // free variables (y' here), their unprimed values through the substitution (tla/eval does
  // the same: free slots under ENABLED).
  it('refinement: Abs!Spec (WF through a substitution), plain and nested under =>', async () => {
    for (const prop of ['AbsSpec', 'StartsThenRefines']) {
      expect((await run('FairSpec', prop)).r.result).toBe('ok');
      const { r } = await run('UnfairSpec', prop);
      expect(r.result).toBe('property');
      // The counterexample stutters at x = 0 forever while Raise stays enabled. (The tableau
      // path of StartsThenRefines shows x = 0 twice: the implication is discharged in the
      // first state of the lasso, the loop starts at the second.)
      expect(xs(r).every((v) => v === 0)).toBe(true);
      expect(r.violation!.trace.stuttering).toBe(true);
    }
    expect(xs((await run('UnfairSpec', 'AbsSpec')).r)).toEqual([0]);
  });
});
