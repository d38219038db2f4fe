// LET I == INSTANCE M WITH ... IN I!Op, and I!Op under a model override of Op.
import { describe, expect, it } from 'vitest';
import type { LoadedSpec } from '../../../tla/ast.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { ConstantAssignment, Model } from '../../../tla/eval/index.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import { toTla } from '../../../tla/values.ts';
import { successorsOf } from './helpers.ts';

const M = `---- MODULE M ----
EXTENDS Naturals
CONSTANT K
VARIABLE y
Double(a) == 2 * a + K
Step == y' = Double(y)
Shift(a) == a + K
UsesShift == Shift(0)
====
`;

async function load(root: string, constants: [string, number][] = [], overrides: [string, string][] = []): Promise<Model> {
  const r = await parseModuleText(root, 'T.tla');
  const m = await parseModuleText(M, 'M.tla');
  const spec: LoadedSpec = { root: r, modules: new Map([['T', r], ['M', m]]) };
  const cs = new Map<string, ConstantAssignment>(constants.map(([n, v]) => [n, { kind: 'value', value: v }]));
  return buildModel(spec, cs, new Map(overrides));
}

describe('INSTANCE inside LET', () => {
  const ROOT = `---- MODULE T ----
EXTENDS Naturals
VARIABLE x
Use(p) == LET I == INSTANCE M WITH K <- p, y <- x IN I!Double(x)
Act(p) == LET I == INSTANCE M WITH K <- p, y <- x IN I!Step
Next == \\E p \\in {1, 2} : Act(p)
U1 == Use(10)
U2 == Use(0)
====
`;
  it('substitutes the LET parameters and variables into the instance', async () => {
    const m = await load(ROOT);
    expect(m.evalState(m.lookup('U1'), m.rootCtx, [3])).toBe(2 * 3 + 10);
    expect(m.evalState(m.lookup('U2'), m.rootCtx, [4])).toBe(8);
    // x' = 2 * x + p for p in {1, 2}: from 3, 7 and 8.
    expect(successorsOf(m, 'Next', [3]).map((s) => toTla(s.t[0]!))).toEqual(['7', '8']);
  });
});

describe('I!Op under a model override of Op', () => {
  const ROOT = `---- MODULE T ----
EXTENDS M
MCShift(a) == LET I == INSTANCE M IN I!Shift(a) + 100
Top == Shift(5)
Indirect == UsesShift
N == INSTANCE M
ViaN == N!Shift(5)
====
`;
  it("calls a LET instance's own Op, while other references to Op are overridden", async () => {
    const m = await load(ROOT, [['K', 1]], [['Shift', 'MCShift']]);
    // Shift(5) -> MCShift(5) = I!Shift(5) + 100 = (5 + 1) + 100 (no endless recursion).
    expect(m.evalState(m.lookup('Top'), m.rootCtx, [0])).toBe(106);
    // UsesShift == Shift(0) reads the overridden Shift: 0 + 1 + 100.
    expect(m.evalState(m.lookup('Indirect'), m.rootCtx, [0])).toBe(101);
    // A module-level instance's N!Shift carries the override (TLC copies it there): 106.
    expect(m.evalState(m.lookup('ViaN'), m.rootCtx, [0])).toBe(106);
  });
});
