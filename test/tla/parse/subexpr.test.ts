// Subexpression references (Inv!2, Thm!:, Op(a)!lab, Op!1!(e)) and named theorems: the
// reference is replaced by the expression it names; the values below follow from the
// definitions by hand.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import { loadSpec, parseModuleText } from '../../../tla/parse/index.ts';
import { printExpr } from '../../../tla/parse/print.ts';
import { toTla } from '../../../tla/values.ts';
import { defNamed, moduleText } from './helpers.ts';

let tmp = '';
let n = 0;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-subexpr-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Loads a root module (body `body`) with other modules beside it; returns a value reader. */
async function load(body: string, others: Record<string, string> = {}): Promise<(name: string) => string> {
  const dir = path.join(tmp, `case${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(others))
    fs.writeFileSync(path.join(dir, `${name}.tla`), moduleText(text, name));
  fs.writeFileSync(path.join(dir, 'Main.tla'), moduleText(body, 'Main'));
  const spec = await loadSpec(path.join(dir, 'Main.tla'));
  const m = buildModel(spec, new Map());
  m.checkAssumptions();
  return (name) => toTla(m.evalConstant(m.lookup(name), m.rootCtx));
}

async function loadError(body: string, others: Record<string, string> = {}): Promise<TlaError> {
  try {
    await load(body, others);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

const DEFS = `EXTENDS Naturals
Inv == /\\ 1 + 1 = 2
       /\\ 2 > 3
       /\\ \\A x \\in 1..3 : x > 1
Op(a, b) == /\\ a < b
            /\\ lab:: a + b
            /\\ \\E y \\in 1..a : inner(y):: y * b
THEOREM Thm == \\A q \\in 1..2 : q # 0
L == LET z == 5 IN /\\ z > 1
                   /\\ z - 9
F(G(_), v) == G(v) + 1
`;

describe('positional selectors', () => {
  it('select the n-th item of a junction list, and the parts of what they select', async () => {
    const v = await load(`${DEFS}
A1 == Inv!1
A2 == Inv!2
A3 == Inv!1!1
A4 == Inv!1!<<
A5 == Inv!1!>>
A6 == Inv!1!1!2
`);
    expect(v('A1')).toBe('TRUE');
    expect(v('A2')).toBe('FALSE');
    expect(v('A3')).toBe('2'); // 1 + 1
    expect(v('A4')).toBe('2');
    expect(v('A5')).toBe('2');
    expect(v('A6')).toBe('1');
  });

  it('number the parts as SANY does: an infix chain is nested binary junctions, a bullet one part', async () => {
    const v = await load(`${DEFS}
Inf == 1 = 1 /\\ 2 = 2 /\\ 3 = 4
Bul == /\\ 1 = 1 /\\ 2 = 3
       /\\ 4 = 4
Mix == \\/ 1 = 2
       \\/ 3 = 3 \\/ 4 = 5 \\/ 6 = 7
J1 == Inf!1
J2 == Inf!2
J3 == Inf!1!2
J4 == Inf!1!2!1
J5 == Bul!1
J6 == Bul!2
J7 == Bul!1!2
J8 == Mix!2
J9 == Mix!2!1!1
`);
    expect(v('J1')).toBe('TRUE'); // 1 = 1 /\ 2 = 2
    expect(v('J2')).toBe('FALSE'); // 3 = 4
    expect(v('J3')).toBe('TRUE'); // 2 = 2
    expect(v('J4')).toBe('2');
    expect(v('J5')).toBe('FALSE'); // 1 = 1 /\ 2 = 3
    expect(v('J6')).toBe('TRUE'); // 4 = 4
    expect(v('J7')).toBe('FALSE'); // 2 = 3
    expect(v('J8')).toBe('TRUE'); // (3 = 3 \/ 4 = 5) \/ 6 = 7
    expect(v('J9')).toBe('TRUE'); // 3 = 3
  });

  it('!(e) instantiates a bound variable; LET definitions passed through are kept', async () => {
    const v = await load(`${DEFS}
B1 == Inv!3!(1)
B2 == Inv!3!(2)
B3 == L!2
B4 == L!1
B5 == Inv!3!1
`);
    expect(v('B1')).toBe('FALSE');
    expect(v('B2')).toBe('TRUE');
    expect(v('B3')).toBe('-4');
    expect(v('B4')).toBe('TRUE');
    expect(v('B5')).toBe('1..3'); // the bound set of \A x \in 1..3
  });
});

describe('arguments, labels, !:', () => {
  it('Op(args)!sel substitutes the arguments for the parameters', async () => {
    const v = await load(`${DEFS}
C1 == Op(1, 2)!1
C2 == Op(3, 2)!1
C3 == Op(3, 4)!lab
C4 == Op(3, 4)!2
C5 == Op(3, 4)!inner(2)
C6 == Op(3, 4)!lab!>>
C8 == Inv!:
C9 == F(Double, 4)!:
Double(x) == 2 * x
`);
    expect(v('C1')).toBe('TRUE');
    expect(v('C2')).toBe('FALSE');
    expect(v('C3')).toBe('7');
    expect(v('C4')).toBe('7');
    expect(v('C5')).toBe('8');
    expect(v('C6')).toBe('4');
    expect(v('C8')).toBe('FALSE');
    expect(v('C9')).toBe('9'); // Double(4) + 1
  });

  it('the arguments are expressions of the referring context', async () => {
    const v = await load(`${DEFS}
D1 == \\A k \\in 1..2 : Op(k, 5)!lab = k + 5
D2 == {Op(k, 10)!inner(k) : k \\in 1..3}
`);
    expect(v('D1')).toBe('TRUE');
    expect(v('D2')).toBe('{10, 20, 30}');
  });
});

describe('references to definitions that hold references', () => {
  it('are resolved whatever the order the references were met in', async () => {
    // Early selects a part of Late, whose body itself holds a reference to Inv.
    const v = await load(`${DEFS}
Early == Late!2
Late == /\\ TRUE
        /\\ Inv!2
Deep == Late!2!1
`);
    expect(v('Early')).toBe('FALSE');
    expect(v('Deep')).toBe('2');
  });

  it('a reference that leads back to itself is an error', async () => {
    const e = await loadError(`${DEFS}A == /\\ TRUE\n     /\\ B!1\nB == /\\ A!2\n     /\\ TRUE`);
    expect(e.message).toMatch(/refers to itself/);
  });

  it('an operator parameter passed on as an argument is replaced too', async () => {
    const v = await load(`${DEFS}
Ap(G(_), x) == G(x)
Twice(H(_), y) == /\\ Ap(H, y) > 0
                  /\\ TRUE
Sq(k) == k * k
T1 == Twice(Sq, 3)!1
`);
    expect(v('T1')).toBe('TRUE');
  });
});

describe('named theorems', () => {
  it('a theorem name stands for its statement, in expressions and ASSUMEs, and Thm!: too', async () => {
    const v = await load(`${DEFS}
ASSUME Thm
E1 == Thm
E2 == Thm!:
E3 == Thm!(0)
`);
    expect(v('E1')).toBe('TRUE');
    expect(v('E2')).toBe('TRUE');
    expect(v('E3')).toBe('FALSE');
  });

  it('a false theorem used as an ASSUME fails the assumption check', async () => {
    const e = await loadError('EXTENDS Naturals\nTHEOREM Bad == 1 > 2\nASSUME Bad');
    expect(e.message).toMatch(/Assumption .* is false|false/i);
  });
});

describe('references across modules', () => {
  it('reach definitions and theorems of extended modules, and of modules instantiated without substitutions', async () => {
    const v = await load('EXTENDS Base\nINSTANCE Plain\nG1 == Inv!2\nG2 == Thm!:\nG3 == P!2', {
      Base: DEFS,
      Plain: 'P == /\\ TRUE\n     /\\ 42 = 42',
    });
    expect(v('G1')).toBe('FALSE');
    expect(v('G2')).toBe('TRUE');
    expect(v('G3')).toBe('TRUE');
  });

  it('I!Op keeps meaning the operator Op of instance I', async () => {
    const v = await load('I == INSTANCE Base\nH1 == I!Inv\nH2 == I!Thm\nH3 == I!Op(4)', {
      Base: DEFS.replace('Op(a, b) ==', 'Op(a) == a + 1\nOp2(a, b) =='),
    });
    expect(v('H1')).toBe('FALSE');
    expect(v('H2')).toBe('TRUE');
    expect(v('H3')).toBe('5');
  });
});

describe('errors name the reference and its place', () => {
  const cases: [string, RegExp][] = [
    ['X == Inv!4', /Inv!4: selector !4 but the selected conjunction has 3 part\(s\)/],
    ['X == Op!1', /Op!1: Op takes 2 argument\(s\): write Op\(a, b\)!\.\.\./],
    ['X == Inv(1)!1', /Inv takes no arguments/],
    ['X == Nope!1', /Nope!1: Nope is not defined in module Main/],
    ['X == Op(1, 2)!nolabel!1', /no label nolabel in the selected part of Op/],
    ['X == Inv!3!(1, 2)', /gives 2 value\(s\) for the 1 bound variable\(s\) x/],
    [
      'X == L!1!1!(3)',
      /positional selectors are not supported on name expression|!\(\.\.\.\) needs a quantifier/,
    ],
    ['X == Inv!3!2', /selector !2 but the selected quant expression has 1 part\(s\)/],
    [
      'X == F(LAMBDA x : x * 10, 4)!:',
      /operator parameter G is given lambda expression; only an operator name can be substituted here/,
    ],
  ];
  for (const [src, msg] of cases) {
    it(src, async () => {
      const e = await loadError(`${DEFS}${src}`);
      expect(e.message).toMatch(msg);
      expect(e.loc?.line).toBe(DEFS.split('\n').length + 1);
      expect(e.loc?.col).toBe(6);
    });
  }
});

describe('parseModuleText', () => {
  it('resolves references to the module own definitions; the result prints and parses back', async () => {
    const m = await parseModuleText(moduleText(`${DEFS}X == Op(1, 2)!lab`), 'T.tla');
    const x = defNamed(m, 'X');
    if (x.kind !== 'opDef') throw new Error('X is not an operator');
    expect(printExpr(x.body)).toBe('1 + 2');
  });
});
