// Helpers for evaluator tests: build a model from TLA+ text and evaluate expressions in it.
import type { LoadedSpec } from '../../../tla/ast.ts';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { ActionLabel, ConstantAssignment, Model, State } from '../../../tla/eval/index.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';
import type { Value } from '../../../tla/values.ts';

const HEADER = 'EXTENDS Naturals, Integers, Sequences, FiniteSets, Bags, TLC';

/** A model of a module whose body is `body` (definitions, VARIABLES, ASSUMEs); all standard modules extended. */
export async function modelOf(
  body: string,
  constants: ReadonlyMap<string, ConstantAssignment> = new Map(),
  print?: (line: string) => void,
): Promise<Model> {
  const text = `---- MODULE T ----\n${HEADER}\n${body}\n====\n`;
  const root = await parseModuleText(text, 'T.tla');
  const spec: LoadedSpec = { root, modules: new Map([['T', root]]) };
  return buildModel(spec, constants, new Map(), print ? { print } : {});
}

/** The value of the constant expression `expr` (with extra definitions `defs`). */
export async function evalTla(expr: string, defs = ''): Promise<Value> {
  const m = await modelOf(`${defs}\nE__ ==\n  ${expr.split('\n').join('\n  ')}`);
  return m.evalConstant(m.lookup('E__'), m.rootCtx);
}

/** The TlaError that evaluating `expr` raises (fails the test when none is raised). */
export async function evalError(expr: string, defs = ''): Promise<TlaError> {
  try {
    const v = await evalTla(expr, defs);
    throw new Error(`expected an error, got a value: ${String(v)}`);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
}

/** Every successor of s with its label. */
export function successorsOf(m: Model, next: string, s: State): { t: State; label: ActionLabel }[] {
  const out: { t: State; label: ActionLabel }[] = [];
  m.successors(m.lookup(next), m.rootCtx, s, (t, label) => out.push({ t, label }));
  return out;
}

export function initStatesOf(m: Model, init: string): State[] {
  const out: State[] = [];
  m.initStates(m.lookup(init), m.rootCtx, (s) => out.push(s));
  return out;
}
