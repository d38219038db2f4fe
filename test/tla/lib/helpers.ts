// Helpers for the library-module tests: a module extending library modules is written to a
// temporary folder, loaded with loadSpec (so tla/lib is searched as it is for real specs), and
// expressions are evaluated in it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TlaError } from '../../../tla/errors.ts';
import { buildModel } from '../../../tla/eval/index.ts';
import type { Model } from '../../../tla/eval/index.ts';
import { loadSpec } from '../../../tla/parse/index.ts';
import { toTla } from '../../../tla/values.ts';
import type { Value } from '../../../tla/values.ts';

let counter = 0;

/** A model of a root module `EXTENDS <ext>` with the given extra definitions. */
export async function libModel(ext: string, defs = ''): Promise<Model> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-lib-'));
  try {
    const name = `LibTest${++counter}`;
    const file = path.join(dir, `${name}.tla`);
    fs.writeFileSync(file, `---- MODULE ${name} ----\nEXTENDS ${ext}\n${defs}\n====\n`);
    const spec = await loadSpec(file);
    return buildModel(spec, new Map(), new Map(), { print: () => {} });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Evaluates each expression (constant-level) in a module extending `ext`; returns the values
 * printed in TLA+ syntax, in order.
 */
export async function evalAll(ext: string, exprs: readonly string[], defs = ''): Promise<string[]> {
  const body = exprs.map((e, i) => `E__${i} == ${e}`).join('\n');
  const m = await libModel(ext, `${defs}\n${body}`);
  return exprs.map((_, i) => toTla(m.evalConstant(m.lookup(`E__${i}`), m.rootCtx)));
}

/** The value of one constant expression. */
export async function evalOne(ext: string, expr: string, defs = ''): Promise<Value> {
  const m = await libModel(ext, `${defs}\nE__ == ${expr}`);
  return m.evalConstant(m.lookup('E__'), m.rootCtx);
}

/** The TlaError that evaluating `expr` raises. */
export async function evalFails(ext: string, expr: string, defs = ''): Promise<TlaError> {
  try {
    const v = await evalOne(ext, expr, defs);
    throw new Error(`expected an error, got ${toTla(v)}`);
  } catch (e) {
    if (e instanceof TlaError) return e;
    throw e;
  }
}
