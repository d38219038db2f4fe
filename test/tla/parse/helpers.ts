// Shared helpers for the parser tests.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Definition, Expr, Module } from '../../../tla/ast.ts';
import { parseModuleText } from '../../../tla/parse/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export { corpusDir } from '../shared.ts';

/** A deep copy without `loc` fields (and without module `file` names). */
export function stripLocs<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripLocs) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== 'loc' && k !== 'file') out[k] = stripLocs(x);
    return out as T;
  }
  return v;
}

/** Wraps definitions in a module header and footer. */
export function moduleText(body: string, name = 'T'): string {
  return `---- MODULE ${name} ----\n${body}\n====\n`;
}

/** Parses `body` as the definitions of a module named T. */
export function parseBody(body: string): Promise<Module> {
  return parseModuleText(moduleText(body), 'T.tla');
}

/** The definition named `name` of a parsed module. */
export function defNamed(m: Module, name: string): Definition {
  const d = m.definitions.find((x) => x.kind !== 'instance' && x.name === name);
  if (!d) throw new Error(`no definition ${name} in module ${m.name}`);
  return d;
}

/** The body of `E == <src>` without locations. */
export async function exprOf(src: string): Promise<Expr> {
  const m = await parseBody(`E == ${src}`);
  const d = defNamed(m, 'E');
  if (d.kind !== 'opDef') throw new Error('E is not an operator definition');
  return stripLocs(d.body);
}

/** The body of `E == <src>` with locations. */
export async function exprWithLocs(src: string): Promise<Expr> {
  const m = await parseBody(`E == ${src}`);
  const d = defNamed(m, 'E');
  if (d.kind !== 'opDef') throw new Error('E is not an operator definition');
  return d.body;
}

// Short AST builders (locations left out) for expected shapes.
export const n = (name: string): Expr => ({ kind: 'name', name }) as unknown as Expr;
export const num = (value: number): Expr => ({ kind: 'num', value }) as unknown as Expr;
export const ap = (op: string, ...args: Expr[]): Expr => ({ kind: 'apply', op, args }) as unknown as Expr;
