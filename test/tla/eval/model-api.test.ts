import { describe, expect, it } from 'vitest';
import { modelValue, setOfValues, toTla } from '../../../tla/values.ts';
import { modelOf, successorsOf } from './helpers.ts';

describe('Model API', () => {
  it('unfold expands one definition step, substituting arguments', async () => {
    const m = await modelOf(`VARIABLE x
vars == <<x>>
Init == x = 0
Next == x' = x + 1
Spec == Init /\\ [][Next]_vars /\\ WF_vars(Next)
Shift(d) == x' = x + d`);
    const u = m.unfold(m.lookup('Spec'), m.rootCtx);
    expect(u?.expr.kind).toBe('and');
    if (u?.expr.kind !== 'and') throw new Error('unreachable');
    const [init, box, fair] = u.expr.args;
    expect(init?.kind).toBe('name');
    expect(box?.kind).toBe('always');
    expect(fair?.kind).toBe('fairness');
    const initBody = m.unfold(init!, u.ctx);
    expect(initBody?.expr.kind).toBe('apply');
    expect(m.unfold({ kind: 'num', value: 1, loc: init!.loc }, m.rootCtx)).toBeNull();
    // Shift(2) unfolds to its body with d standing for 2.
    const call = { kind: 'apply', op: 'Shift', args: [{ kind: 'num', value: 2, loc: init!.loc }], loc: init!.loc } as const;
    const body = m.unfold(call, m.rootCtx)!;
    expect(m.evalAction(body.expr, body.ctx, [1], [3])).toBe(true);
    expect(m.evalAction(body.expr, body.ctx, [1], [2])).toBe(false);
  });

  it('bind adds a named value to a context', async () => {
    const m = await modelOf('VARIABLE x\nP == TRUE');
    const e = { kind: 'apply', op: '+', args: [{ kind: 'name', name: 'k', loc: { file: 't', line: 1, col: 1 } }, { kind: 'name', name: 'x', loc: { file: 't', line: 1, col: 1 } }], loc: { file: 't', line: 1, col: 1 } } as const;
    const c1 = m.bind(m.rootCtx, 'k', 10);
    const c2 = m.bind(m.rootCtx, 'k', 20);
    expect(m.evalState(e, c1, [1])).toBe(11);
    expect(m.evalState(e, c2, [1])).toBe(21);
    expect(m.evalState(e, c1, [2])).toBe(12);
  });

  it('constants from the model: values, operator replacements and overridden definitions', async () => {
    const procs = setOfValues([modelValue('p1'), modelValue('p2')]);
    const m = await modelOf(
      'CONSTANTS Procs, F(_)\nVARIABLE x\nLimit == 100\nDouble(n) == 2 * n\nInit == x \\in Procs\nUse == F(3) + Limit',
      new Map([
        ['Procs', { kind: 'value', value: procs }],
        ['F', { kind: 'operator', name: 'Double' }],
        ['Limit', { kind: 'value', value: 1 }],
      ]),
    );
    expect(m.evalConstant(m.lookup('Use'), m.rootCtx)).toBe(7);
    const inits: string[] = [];
    m.initStates(m.lookup('Init'), m.rootCtx, (s) => inits.push(toTla(s[0]!)));
    expect(inits).toEqual(['p1', 'p2']);
  });

  it('model overrides apply in every module and to standard operators', async () => {
    const { parseModuleText } = await import('../../../tla/parse/index.ts');
    const { buildModel } = await import('../../../tla/eval/index.ts');
    const inner = await parseModuleText(
      '---- MODULE Inner ----\nEXTENDS Sequences\nCONSTANT S\nNoVal == CHOOSE v : v \\notin S\nSeqs == {s \\in Seq(S) : Len(s) = 1}\nNone == NoVal\n====\n',
      'Inner.tla',
    );
    const main = await parseModuleText(
      '---- MODULE Main ----\nEXTENDS Naturals\nS == {1, 2}\nBounded(T) == UNION {[1..n -> T] : n \\in 0..2}\nINSTANCE Inner\nI == INSTANCE Inner\n====\n',
      'Main.tla',
    );
    const spec = { root: main, modules: new Map([['Main', main], ['Inner', inner]]) };
    const m = buildModel(spec, new Map([['NoVal', { kind: 'value', value: modelValue('NoVal') }]]), new Map([['Seq', 'Bounded']]));
    expect(toTla(m.evalConstant(m.lookup('Seqs'), m.rootCtx))).toBe('{<<1>>, <<2>>}');
    expect(toTla(m.evalConstant(m.lookup('None'), m.rootCtx))).toBe('NoVal');
    const ref = { kind: 'moduleRef', path: [{ name: 'I', args: [] }], op: 'None', args: [], loc: main.definitions[0]!.loc } as const;
    expect(toTla(m.evalConstant(ref, m.rootCtx))).toBe('NoVal');
  });

  it('re-entrant evaluation from inside the emit callback keeps the enumeration intact', async () => {
    const m = await modelOf('VARIABLES x, y\nNext == \\E d \\in 1..3 : x\' = x + d /\\ y\' = y\nInv == x < 10 /\\ \\A z \\in 1..2 : z > 0');
    const seen: string[] = [];
    for (const { t } of successorsOf(m, 'Next', [0, 0])) seen.push(toTla(t[0]!));
    const nested: string[] = [];
    m.successors(m.lookup('Next'), m.rootCtx, [0, 0], (t) => {
      expect(m.evalState(m.lookup('Inv'), m.rootCtx, t)).toBe(true);
      expect(successorsOf(m, 'Next', t).length).toBe(3);
      nested.push(toTla(t[0]!));
    });
    expect(nested).toEqual(seen);
  });
});
