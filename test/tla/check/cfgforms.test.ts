// .cfg forms TLC accepts (tlaplus/Examples uses them all): values for definitions, assignments
// to undeclared names, module-scoped overrides, empty sections, ALIAS, POSTCONDITION, and
// models with no behaviour. The figures are worked out in the comments of cfgforms/*.cfg.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadModel, permutationGroup } from '../../../tla/check/model.ts';
import { modelValue, type ModelValue } from '../../../tla/values.ts';
import { aliasPrinter, check, formatReport, modelWarnings } from '../../../tla/check/checker.ts';
import { TlaError } from '../../../tla/errors.ts';

const dir = path.join(import.meta.dirname, 'cfgforms');
const load = (spec: string, cfg: string) => loadModel(path.join(dir, spec), path.join(dir, cfg));
async function loadError(spec: string, cfg: string): Promise<TlaError> {
  try {
    await load(spec, cfg);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('definitions replaced in the .cfg', () => {
  it('Def = value replaces a definition; Nat <- [Lib]Few replaces Nat where Lib uses it', async () => {
    const cm = await load('Overrides.tla', 'Overrides.cfg');
    const r = check(cm);
    expect(r).toMatchObject({ result: 'ok', distinctStates: 5, statesGenerated: 5, depth: 5 });
  });

  it('an assignment to an undeclared name is ignored; only a non-idiomatic one is warned about', async () => {
    const w = modelWarnings(await load('Overrides.tla', 'Overrides.cfg'));
    expect(w.length).toBe(1);
    expect(w[0]).toMatch(/Overrides\.cfg:9:3: Ghost is neither a CONSTANT nor a definition/);
  });

  it('a module-scoped override that other modules would see is applied, with a warning', async () => {
    const cm = await load('Overrides.tla', 'OverridesWarn.cfg');
    expect(modelWarnings(cm).some((w) => /Nat <- \[Overrides\]Few .*OverridesLib also uses Nat/.test(w))).toBe(true);
    expect(check(cm)).toMatchObject({ result: 'ok', distinctStates: 5 });
  });

  it('N = [M]value replaces a definition of an instanced module', async () => {
    const cm = await load('ScopedValue.tla', 'ScopedValue.cfg');
    expect(cm.cfg.constants[0]).toMatchObject({ kind: 'value', name: 'None', module: 'ScopedValueLib' });
    expect(check(cm)).toMatchObject({ result: 'ok', distinctStates: 2, statesGenerated: 2, depth: 2 });
  });

  it('a value cannot replace an operator with parameters; an unknown module is named', async () => {
    const e = await loadError('ConstOnly.tla', 'DoubleValue.cfg');
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/Double is an operator with 1 parameter/);
    expect(e.loc).toMatchObject({ line: 2, col: 3 });
    const m = await loadError('Overrides.tla', 'OverridesNoModule.cfg');
    expect(m.message).toMatch(/module Nowhere is not part of this spec/);
  });
});

describe('SPECIFICATION', () => {
  it('an initial conjunct next to a Spec defined in an extended module joins its Init', async () => {
    const r = check(await load('Wrapped.tla', 'Wrapped.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 3, statesGenerated: 4, depth: 2 });
  });
});

describe('operators that assign a primed argument', () => {
  it('Set(x, x\') and an operator constant replaced by such a definition both assign x', async () => {
    const r = check(await load('PrimedArgs.tla', 'PrimedArgs.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 7, statesGenerated: 9, depth: 4 });
  });

  it('calls by name: SetTo(x, 1) assigns x initially, Guarded(Inc) enumerates the action Inc', async () => {
    const r = check(await load('PrimedArgs.tla', 'PrimedArgsByName.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 7, statesGenerated: 9, depth: 4 });
  });

  it('the operator constant of an instanced module, replaced through the instance, assigns too', async () => {
    const r = check(await load('PrimedArgs.tla', 'PrimedArgsInstance.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 7, statesGenerated: 9, depth: 4 });
  });
});

describe('SYMMETRY', () => {
  it('uses the group the permutations generate, as TLC does', async () => {
    const r = check(await load('TwoSymmetries.tla', 'TwoSymmetries.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 1, statesGenerated: 5, depth: 1 });
  });

  it('permutationGroup: two transpositions of {x, y, z} generate the 5 non-identity permutations of S3', () => {
    const [x, y, z] = ['gx', 'gy', 'gz'].map(modelValue) as [ModelValue, ModelValue, ModelValue];
    const loc = { file: 'T.cfg', line: 1, col: 1 };
    const s3 = permutationGroup([new Map([[x, y], [y, x]]), new Map([[y, z], [z, y]])], 'P', loc);
    expect(s3.length).toBe(5);
    // Disjoint transpositions: the two and their product.
    const w = modelValue('gw');
    const v4 = permutationGroup([new Map([[x, y], [y, x]]), new Map([[z, w], [w, z]]), new Map()], 'P', loc);
    expect(v4.length).toBe(3);
    expect(v4.some((p) => p.size === 4 && p.get(x) === y && p.get(z) === w)).toBe(true);
  });
});

describe('ALIAS and POSTCONDITION', () => {
  it('ALIAS prints each trace state through the alias (with its successor for primes)', async () => {
    const cm = await load('Overrides.tla', 'OverridesDeadlock.cfg');
    const r = check(cm);
    expect(r.result).toBe('deadlock');
    expect(r.violation!.trace.steps.length).toBe(5);
    const text = formatReport(cm.model.variables, r, aliasPrinter(cm));
    expect(text).toContain('State 1: <Initial predicate>\n/\\ now = NoVal\n/\\ then = 0\n');
    expect(text).toContain('State 4: <Next>\n/\\ now = 2\n/\\ then = 3\n');
    // The last state has no successor in the trace: x' cannot be evaluated, the variables are printed.
    expect(text).toContain('State 5: <Next>\nx = 3\n');
    expect(formatReport(cm.model.variables, r)).toContain('State 1: <Initial predicate>\nx = NoVal\n');
  });

  it('a false POSTCONDITION after a complete search is an error naming it', async () => {
    const r = check(await load('Overrides.tla', 'OverridesPostBad.cfg'));
    expect(r.result).toBe('error');
    expect(r.error!.message).toMatch(/POSTCONDITION PostBad is FALSE/);
    expect(r.distinctStates).toBe(5);
  });
});

describe('models with no behaviour', () => {
  it('only the ASSUMEs are checked: success with 0 states and depth 0', async () => {
    const r = check(await load('ConstOnly.tla', 'ConstOnly.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 0, statesGenerated: 0, depth: 0, leftOnQueue: 0 });
  });

  it('a false ASSUME is reported at its place', async () => {
    const e = await loadError('ConstOnly.tla', 'ConstOnlyFalse.cfg');
    expect(e.message).toMatch(/Assumption .* is false/);
    expect(e.loc).toMatchObject({ line: 7, col: 8 });
  });

  it('an INVARIANT without a behaviour is refused, at the INVARIANT', async () => {
    const e = await loadError('ConstOnly.tla', 'ConstOnlyInvariant.cfg');
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/INVARIANT TypeOK needs a behaviour/);
    expect(e.loc).toMatchObject({ line: 2, col: 11 });
  });
});
