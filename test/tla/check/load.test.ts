// Loading a model: what the .cfg says must fit the module, and errors say where.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel } from '../../../tla/check/model.ts';
import { check } from '../../../tla/check/checker.ts';
import { TlaError } from '../../../tla/errors.ts';

const SPEC = `---- MODULE Tiny ----
EXTENDS Naturals
CONSTANTS N, Who
VARIABLE x
Init == x = 0
Next == x < N /\\ x' = x + 1
Spec == Init /\\ [][Next]_x /\\ WF_x(Next)
Small == x <= N
Step == x' = x + 1
Weird == [](x = 0 => [](x = 0))
Grows == <>(x = N)
Both == <>(x = N) /\\ [](x >= 0)
Id(X) == X
Pairs == \\A a, b \\in 0..2 : <>(x = a + b)
Mixed == Id(x = 0) /\\ [][Id(x' > x)]_x /\\ [](Id(x >= 0))
Hidden == \\EE y : [](x >= y)
====
`;

let dir = '';
const spec = (): string => path.join(dir, 'Tiny.tla');
async function loadWith(cfg: string) {
  const f = path.join(dir, `m${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(f, cfg);
  return loadModel(spec(), f);
}
async function loadError(cfg: string): Promise<TlaError> {
  try {
    await loadWith(cfg);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-load-'));
  writeFileSync(spec(), SPEC);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadModel', () => {
  it('checks a model given by SPECIFICATION with a liveness and a mixed property', async () => {
    const cm = await loadWith(
      'CONSTANTS N = 3 Who = [model value]\nSPECIFICATION Spec\nINVARIANT Small\nPROPERTIES Grows Both\nCHECK_DEADLOCK FALSE\n',
    );
    expect(cm.init.name).toBe('Init');
    expect(cm.fairness.map((f) => f.kind)).toEqual(['WF']);
    expect(cm.liveness.map((o) => o.name)).toEqual(['Grows', 'Both']);
    expect(cm.invariants.map((f) => f.name)).toEqual(['Small', 'Both']);
    expect(check(cm)).toMatchObject({ result: 'ok', distinctStates: 4, statesGenerated: 4, depth: 4 });
  });

  it('levels through parameters: the same operator carries a state predicate and an action', async () => {
    const cm = await loadWith(
      'CONSTANTS N = 3 Who = w\nSPECIFICATION Spec\nPROPERTY Mixed\nCHECK_DEADLOCK FALSE\n',
    );
    expect(cm.initProperties.map((f) => f.name)).toEqual(['Mixed']);
    expect(cm.actionProperties.map((f) => f.name)).toEqual(['Mixed']);
    expect(cm.invariants.map((f) => f.name)).toEqual(['Mixed']);
    expect(check(cm)).toMatchObject({ result: 'ok', distinctStates: 4, statesGenerated: 4, depth: 4 });
  });

  it('a property quantified over two variables becomes one obligation per pair', async () => {
    const cm = await loadWith(
      'CONSTANTS N = 3 Who = w\nSPECIFICATION Spec\nPROPERTY Pairs\nCHECK_DEADLOCK FALSE\n',
    );
    expect(cm.liveness.length).toBe(9);
    const r = check(cm);
    expect(r.result).toBe('property');
    expect(r.violation!.name).toBe('Pairs');
  });

  it('names a constant without a value, where it is declared', async () => {
    const e = await loadError('CONSTANT N = 3\nINIT Init\nNEXT Next\n');
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/constant Who has no value/);
    expect(e.loc?.line).toBe(3);
  });

  it('a value for a definition replaces it (as TLC does); names not defined are refused at the .cfg place', async () => {
    // Small == x <= N holds in every state; replaced by FALSE it fails in the initial state.
    const r1 = check(await loadWith('CONSTANTS N = 3 Who = w Small = FALSE\nINIT Init\nNEXT Next\nINVARIANT Small\n'));
    expect(r1.result).toBe('invariant');
    expect(r1.violation!.trace.steps.length).toBe(1);
    const e2 = await loadError('CONSTANTS N = 3 Who = w\nINIT Init\nNEXT Next\nINVARIANT Missing\n');
    expect(e2.message).toMatch(/INVARIANT Missing is not defined/);
    expect(e2.loc).toMatchObject({ line: 4, col: 11 });
  });

  it('rejects an action as an invariant and unsupported temporal forms, naming the place', async () => {
    const e1 = await loadError('CONSTANTS N = 3 Who = w\nINIT Init\nNEXT Next\nINVARIANT Step\n');
    expect(e1.message).toMatch(/INVARIANT Step is not a state predicate/);
    const e2 = await loadError('CONSTANTS N = 3 Who = w\nSPECIFICATION Spec\nPROPERTY Hidden\n');
    expect(e2.kind).toBe('unsupported');
    expect(e2.message).toMatch(/PROPERTY Hidden/);
    expect(e2.loc?.line).toBe(16);
  });

  it('the --no-deadlock override wins over the .cfg', async () => {
    const f = path.join(dir, 'dl.cfg');
    writeFileSync(f, 'CONSTANTS N = 2 Who = w\nINIT Init\nNEXT Next\nCHECK_DEADLOCK TRUE\n');
    expect(check(await loadModel(spec(), f)).result).toBe('deadlock');
    expect(check(await loadModel(spec(), f, { checkDeadlock: false })).result).toBe('ok');
  });
});
