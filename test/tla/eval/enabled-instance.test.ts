// ENABLED through INSTANCE substitutions, as TLC evaluates it: under an ENABLED written inside
// the instantiated module (or the fairness condition of I!Spec), the instance's variables are
// free next-state variables; an unprimed one still means its substitution. Models in
// test/tla/eval/models (expected values worked out in their comments).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { check } from '../../../tla/check/checker.ts';
import { parseCfg } from '../../../tla/check/cfg.ts';
import { modelFromConfig } from '../../../tla/check/model.ts';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { Model } from '../../../tla/eval/index.ts';
import { loadSpec } from '../../../tla/parse/index.ts';
import { TupleValue } from '../../../tla/values.ts';

const dir = path.join(import.meta.dirname, 'models');

async function outer(): Promise<Model> {
  return buildModel(await loadSpec(path.join(dir, 'EnabledOuter.tla')), new Map());
}

/** The value of the root definition `name` in each state <<x, 0>>. */
function over(m: Model, name: string, xs: readonly number[]): unknown[] {
  return xs.map((x) => m.evalState(m.lookup(name), m.rootCtx, [x, 0]));
}

function errorOf(m: Model, name: string): TlaError {
  try {
    m.evalState(m.lookup(name), m.rootCtx, [0, 0]);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error(`${name}: expected an error`);
}

describe('ENABLED inside an instance: substituted variables are free (y <- x % 3)', () => {
  const xs = [0, 1, 2, 3, 4, 5];
  it('y\' = y + 1 assigns a slot of its own; the guard y < 2 reads x % 3', async () => {
    expect(over(await outer(), 'EnBump', xs)).toEqual([true, true, false, true, true, false]);
  });
  it('a primed definition (Succ\') reads the free slot: enabled iff y = 0', async () => {
    expect(over(await outer(), 'EnBumpSucc', xs)).toEqual([true, false, false, true, false, false]);
  });
  it('y\' read after it is assigned: Bump /\\ y\' > 1 iff y = 1', async () => {
    expect(over(await outer(), 'EnTwice', xs)).toEqual([false, true, false, false, true, false]);
  });
  it('UNCHANGED gives a free variable its current value (the substitution): <<Same>>_<<y, w>> never', async () => {
    expect(over(await outer(), 'EnAngleSame', xs)).toEqual(xs.map(() => false));
  });
  it('y\' \\in S enumerates S into the free slot', async () => {
    const m = await outer();
    expect(over(m, 'EnAnglePick', xs)).toEqual(xs.map(() => true));
    expect(over(m, 'EnPickStay', xs)).toEqual(xs.map(() => true));
  });
  it('nested instances: u <- y + 10 is free under an ENABLED in the inner module; u <- y is y\'s slot', async () => {
    const m = await outer();
    expect(over(m, 'EnUpNested', xs)).toEqual(xs.map(() => true));
    expect(over(m, 'EnUpVia', xs)).toEqual(xs.map(() => true));
  });
});

describe('ENABLED around I!A (substitution made inside the ENABLED): primes go through it, as in TLC', () => {
  it('a variable substituted by a variable is that variable: w\' is z\'', async () => {
    const m = await outer();
    expect(over(m, 'OutsideMoveW', [0, 1])).toEqual([true, true]);
    // UNCHANGED w fixes z', which then cannot be z + 1.
    expect(over(m, 'OutsideKeepW', [0, 1])).toEqual([false, false]);
  });
  it('a variable substituted by an expression cannot be assigned: a clear error', async () => {
    const m = await outer();
    for (const name of ['OutsideBump', 'EnUpCut']) {
      const e = errorOf(m, name);
      expect(e.kind).toBe('eval');
      expect(e.message).toMatch(/' is read before it is assigned while evaluating ENABLED/);
      expect(e.message).toMatch(/ENABLED I!A/);
    }
  });
  it('the ordinary evaluation of the instance\'s actions is unchanged (y\' means (x % 3)\')', async () => {
    const m = await outer();
    const bump = m.lookup('EnBump'); // compiled under ENABLED first
    expect(m.evalState(bump, m.rootCtx, [1, 0])).toBe(true);
    const spec = await loadSpec(path.join(dir, 'EnabledOuter.tla'));
    const m2 = buildModel(spec, new Map());
    const step = { kind: 'moduleRef', path: [{ name: 'I', args: [] }], op: 'Bump', args: [], loc: bump.loc } as const;
    // x: 1 -> 2 is a Bump step of y (1 -> 2) with z unchanged; 2 -> 3 is not (y: 2 -> 0).
    expect(m2.evalAction(step, m2.rootCtx, [1, 0], [2, 0])).toBe(true);
    expect(m2.evalAction(step, m2.rootCtx, [2, 0], [3, 0])).toBe(false);
    expect(m.evalAction(step, m.rootCtx, [1, 0], [2, 0])).toBe(true);
  });
});

describe('refinement: the fairness of an instance whose variable is substituted by an expression', () => {
  const file = path.join(dir, 'EnabledRefine.tla');
  async function run(spec: string) {
    const cfg = parseCfg(`SPECIFICATION ${spec}\nPROPERTY AbsSpec\nCHECK_DEADLOCK FALSE\n`, 'inline.cfg');
    return check(modelFromConfig(await loadSpec(file), file, null, cfg));
  }
  it('FairSpec refines Abs!ASpec (3 states, 4 generated)', async () => {
    expect(await run('FairSpec')).toMatchObject({ result: 'ok', distinctStates: 3, statesGenerated: 4 });
  });
  it('UnfairSpec violates WF_vars(ADetect): it may stop at a = FALSE, d = 0', async () => {
    const r = await run('UnfairSpec');
    expect(r.result).toBe('property');
    const t = r.violation!.trace;
    const loop = t.steps.slice(t.loopsTo).map((s) => s.state);
    expect(loop.length).toBeGreaterThan(0);
    expect(loop.every((s) => s[0] === false && s[1] === 0)).toBe(true);
  });
});

describe('refinement through a parameterised instance: A(p) == INSTANCE EnabledFlag WITH flag <- f[p]', () => {
  const file = path.join(dir, 'EnabledParam.tla');
  async function run(spec: string, prop: string) {
    const cfg = parseCfg(`SPECIFICATION ${spec}\nPROPERTY ${prop}\nCHECK_DEADLOCK FALSE\n`, 'inline.cfg');
    return check(modelFromConfig(await loadSpec(file), file, null, cfg));
  }
  it('FairSpec refines every A(p)!FSpec (4 states, 5 generated)', async () => {
    for (const prop of ['Refines', 'Refines2']) {
      expect(await run('FairSpec', prop)).toMatchObject({ result: 'ok', distinctStates: 4, statesGenerated: 5 });
    }
  });
  it('UnfairSpec may stop with f[1] raised and f[2] not: WF of A(2)!FRaise fails', async () => {
    for (const prop of ['Refines', 'Refines2']) {
      const r = await run('UnfairSpec', prop);
      expect(r.result).toBe('property');
      const t = r.violation!.trace;
      const loop = t.steps.slice(t.loopsTo).map((s) => (s.state[0] as TupleValue).elems);
      expect(loop.length).toBeGreaterThan(0);
      expect(loop.every(([f1, f2]) => f1 === true && f2 === false)).toBe(true);
    }
  });
});
