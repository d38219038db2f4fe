// Action composition A \cdot B, TLCGet("config") and TLCGet("-D<property>").
import { describe, expect, it } from 'vitest';
import type { LoadedSpec } from '../../../tla/ast.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { Model } from '../../../tla/eval/index.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import { toTla } from '../../../tla/values.ts';
import type { Value } from '../../../tla/values.ts';
import { initStatesOf, modelOf, successorsOf } from './helpers.ts';

const show = (s: readonly Value[]): string => s.map(toTla).join(' ');

// From x = 0: A({1,2}) gives the intermediate states x = 1 and x = 2; A({3,4}) then gives
// 1+3, 1+4, 2+3, 2+4 = 4, 5, 5, 6 (duplicates kept, as TLC generates them).
const SPEC = `VARIABLE x
A(S) == \\E n \\in S : x' = x + n
Comp == x = 0 /\\ (A({1, 2}) \\cdot A({3, 4}))
Chain == x = 0 /\\ ((A({1, 2}) \\cdot A({3, 4})) \\cdot A({5}))
Half == (x' = x + 1 /\\ x < 2) \\cdot (x > 1 /\\ x' = x * 2)
EnHalf == ENABLED Half
Next == Comp \\/ (x > 0 /\\ x' = x - 1)`;

describe('action composition A \\cdot B', () => {
  it('enumerates the B-successors of every A-successor and counts the intermediate states', async () => {
    const m = await modelOf(SPEC);
    expect(m.cdotGenerated).toBe(0);
    const succ = successorsOf(m, 'Comp', [0]);
    expect(succ.map((x) => show(x.t))).toEqual(['4', '5', '5', '6']);
    // Not split below \cdot: the label is the operator around the composition.
    expect(succ.every((x) => x.label.name === 'Comp')).toBe(true);
    expect(m.cdotGenerated).toBe(2);
    expect(successorsOf(m, 'Comp', [3])).toEqual([]);
    expect(m.cdotGenerated).toBe(2);
  });

  it('composes a composition: (A \\cdot B) \\cdot C', async () => {
    const m = await modelOf(SPEC);
    // Inner: 2 intermediates, 4 states (4,5,5,6), which are the outer intermediates; + 5 each.
    expect(successorsOf(m, 'Chain', [0]).map((x) => show(x.t))).toEqual(['9', '10', '10', '11']);
    expect(m.cdotGenerated).toBe(2 + 4);
  });

  it('makes B read the intermediate state as its current state', async () => {
    const m = await modelOf(SPEC);
    // From 0: u = 1, B's guard 1 > 1 fails. From 1: u = 2, B gives 4.
    expect(successorsOf(m, 'Half', [0])).toEqual([]);
    expect(successorsOf(m, 'Half', [1]).map((x) => show(x.t))).toEqual(['4']);
    expect(successorsOf(m, 'Half', [2])).toEqual([]);
    // Next mixes a composition with an ordinary disjunct.
    expect(successorsOf(m, 'Next', [1]).map((x) => show(x.t))).toEqual(['0']);
  });

  it('is an action predicate on a pair of states and works under ENABLED, without counting', async () => {
    const m = await modelOf(SPEC);
    const comp = m.lookup('Comp');
    const pairs: [number, number, boolean][] = [
      [0, 4, true],
      [0, 5, true],
      [0, 6, true],
      [0, 3, false],
      [0, 7, false],
      [1, 5, false],
    ];
    for (const [s, t, want] of pairs) expect(m.evalAction(comp, m.rootCtx, [s], [t])).toBe(want);
    expect(m.evalState(m.lookup('EnHalf'), m.rootCtx, [0])).toBe(false);
    expect(m.evalState(m.lookup('EnHalf'), m.rootCtx, [1])).toBe(true);
    expect(m.enabled(m.lookup('Half'), m.rootCtx, [1])).toBe(true);
    expect(m.enabled(m.lookup('Half'), m.rootCtx, [2])).toBe(false);
    expect(m.cdotGenerated).toBe(0);
  });

  it('needs A to assign every variable, and is not an initial predicate', async () => {
    const m = await modelOf(`VARIABLES x, y
Init == x = 0 /\\ y = 0
Partial == (x' = 1) \\cdot (x' = x + 1 /\\ y' = 0)
Whole == (x' = 1 /\\ y' = y + 1) \\cdot (x' = x + 1 /\\ y' = y)
BadInit == (x = 0) \\cdot (y = 0)`);
    expect(() => successorsOf(m, 'Partial', [0, 0])).toThrow(/left action .* does not assign a value to the variable y/);
    expect(successorsOf(m, 'Whole', [0, 5]).map((x) => show(x.t))).toEqual(['2 6']);
    expect(initStatesOf(m, 'Init').map(show)).toEqual(['0 0']);
    expect(() => initStatesOf(m, 'BadInit')).toThrow(/cannot appear in an initial predicate/);
  });
});

async function model(body: string, run?: { deadlock?: boolean; workers?: number }, seed?: number): Promise<Model> {
  const text = `---- MODULE R ----\nEXTENDS Naturals, TLC\n${body}\n====\n`;
  const root = await parseModuleText(text, 'R.tla');
  const spec: LoadedSpec = { root, modules: new Map([['R', root]]) };
  return buildModel(spec, new Map(), new Map(), { ...(run ? { run } : {}), ...(seed !== undefined ? { seed } : {}) });
}

describe('TLCGet of run settings', () => {
  it('returns the "config" record of a breadth-first run', async () => {
    const m = await model('C == TLCGet("config")\nOk == C.mode = "bfs" /\\ C.worker = 1 /\\ C.deadlock');
    const c = m.evalConstant(m.lookup('C'), m.rootCtx);
    expect(toTla(c)).toMatch(/^\[deadlock \|-> TRUE, fingerprint \|-> "murmur3-64", install \|-> ".+", mode \|-> "bfs", seed \|-> "1", worker \|-> 1\]$/);
    expect(m.evalConstant(m.lookup('Ok'), m.rootCtx)).toBe(true);
    const n = await model('C == TLCGet("config")\nD == C.deadlock\nW == C.worker\nS == C.seed', { deadlock: false, workers: 2 }, 7);
    expect(n.evalConstant(n.lookup('D'), n.rootCtx)).toBe(false);
    expect(n.evalConstant(n.lookup('W'), n.rootCtx)).toBe(2);
    expect(n.evalConstant(n.lookup('S'), n.rootCtx)).toBe('7');
  });

  it('reads -D properties: the \\cdot switch is on, others default to their key (as in TLC)', async () => {
    const m = await model('On == TLCGet("-Dtlc2.tool.impl.Tool.cdot")\nOther == TLCGet("-Dsome.flag")\nASSUME On = "true"');
    m.checkAssumptions();
    expect(m.evalConstant(m.lookup('On'), m.rootCtx)).toBe('true');
    expect(m.evalConstant(m.lookup('Other'), m.rootCtx)).toBe('-Dsome.flag');
  });

  it('rejects other string keys with a clear error', async () => {
    const m = await model('X == TLCGet("nonsense")');
    expect(() => m.evalConstant(m.lookup('X'), m.rootCtx)).toThrow(/TLCGet\(.*nonsense.*\) is not supported/);
  });
});
