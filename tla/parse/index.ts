// The TLA+ parser front end: text -> ast.Module, and a root file -> LoadedSpec with every
// module it needs (EXTENDS and INSTANCE, transitively).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_MODULES } from '../ast.ts';
import type { Definition, Expr, LoadedSpec, Loc, Module } from '../ast.ts';
import { TlaError } from '../errors.ts';
import { Converter } from './convert.ts';
import { resolveSubexpressions } from './subexpr.ts';
import type { SubexprTables } from './subexpr.ts';
import { syntaxError } from './syntax.ts';
import type { ModuleRefSite } from './convert.ts';
import { parseCst } from './treesitter.ts';
import type { Node } from 'web-tree-sitter';

export { grammarWasmPath, getParser } from './treesitter.ts';

export interface LoadSpecOptions {
  /** Folders searched, in order, after the root file's folder. */
  readonly libDirs?: readonly string[];
  /**
   * The environment variables IOUtils' IOEnv holds (when IOUtils comes from Buffy's library);
   * by default those of this process.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A parsed module with the places it names other modules. */
export interface ParsedModule {
  readonly module: Module;
  readonly refs: readonly ModuleRefSite[];
  /** Subexpression references to resolve once the modules they name are loaded. */
  readonly subexprs: SubexprTables;
  /**
   * Further top-level modules of the same file, after the first one's closing line (a file
   * may hold several, e.g. a spec followed by the helper modules it EXTENDS). Each is parsed,
   * or holds the error that parsing it gave, raised only if some module names it.
   */
  readonly siblings?: readonly (ParsedModule | { readonly name: string; readonly error: TlaError })[];
}

/**
 * The project's own library folder (`tla/lib/`): TLA+ sources of the proof-system modules
 * (TLAPS, NaturalsInduction...) and of the community modules (Functions, SequencesExt...),
 * searched after the root file's folder and the `libDirs`.
 */
export const LIBRARY_DIR: string = fileURLToPath(new URL('../lib/', import.meta.url));

/**
 * Turns PlusCal algorithm openings (`--algorithm`, `--fair algorithm`) into plain comment
 * text of the same length. The algorithm lives in a comment and only its translation is
 * read; without this, an algorithm the grammar does not accept would break the parse of the
 * TLA+ around it. Occurrences inside string literals are left alone.
 */
export function neutralizePlusCal(text: string): string {
  return text.replace(/--(?:algorithm\b|fair(?=\s+algorithm\b))/g, (match, offset: number) => {
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    return insideString(text, lineStart, offset) ? match : `  ${match.slice(2)}`;
  });
}

/** Whether position `end` lies inside a string literal opened on its line (from `start`). */
function insideString(text: string, start: number, end: number): boolean {
  let inString = false;
  for (let i = start; i < end; i++) {
    const ch = text[i];
    if (inString && ch === '\\') i++;
    else if (ch === '"') inString = !inString;
  }
  return inString;
}

/** Parses the first top-level module of `text`, reporting the places it names other modules. */
export async function parseModuleWithRefs(text: string, file: string): Promise<ParsedModule> {
  if (!/-{4,}\s*MODULE\s/.test(text)) {
    throw new TlaError('parse', 'no module found: expected a header line such as "---- MODULE Name ----"', {
      file,
      line: 1,
      col: 1,
    });
  }
  const source = neutralizePlusCal(text);
  const tree = await parseCst(source);
  try {
    const root = tree.rootNode;
    const moduleNode = root.namedChildren.find((c) => c !== null && c.type === 'module');
    // Only the first module counts: text after its closing ==== line is ignored, as TLC does.
    const err = syntaxError(moduleNode ?? root, text, file);
    if (err) throw err;
    if (!moduleNode) {
      throw new TlaError('parse', 'no module found: expected a header line such as "---- MODULE Name ----"', {
        file,
        line: 1,
        col: 1,
      });
    }
    const first = convertModule(moduleNode, file, source);
    const siblings: (ParsedModule | { name: string; error: TlaError })[] = [];
    for (const other of root.namedChildren) {
      if (other === null || other.type !== 'module' || other.id === moduleNode.id) continue;
      if (other.startIndex < moduleNode.startIndex) continue;
      const name = other.childForFieldName('name')?.text ?? '';
      try {
        const otherErr = syntaxError(other, text, file);
        if (otherErr) throw otherErr;
        siblings.push(convertModule(other, file, source));
      } catch (e) {
        if (!(e instanceof TlaError)) throw e;
        siblings.push({ name, error: e });
      }
    }
    // A module header after the first module that did not give a module node: the text
    // around it does not parse; naming that module reports the syntax error.
    const header = /^-{4,}\s*MODULE\s+(\w+)/gm;
    header.lastIndex = moduleNode.endIndex;
    for (let h = header.exec(source); h !== null; h = header.exec(source)) {
      const name = h[1]!;
      if (siblings.some((x) => ('module' in x ? x.module.name : x.name) === name)) continue;
      const line = source.slice(0, h.index).split('\n').length;
      const error =
        syntaxError(root, text, file) ??
        new TlaError('parse', `module ${name} (after the first module of the file) could not be read`, {
          file,
          line,
          col: 1,
        });
      siblings.push({ name, error });
    }
    return siblings.length > 0 ? { ...first, siblings } : first;
  } finally {
    tree.delete();
  }
}

/** Converts one top-level module node of a parsed file. */
function convertModule(moduleNode: Node, file: string, source: string): ParsedModule {
  const converter = new Converter(file, source);
  let module: Module;
  try {
    module = converter.module(moduleNode);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new TlaError(
        'unsupported',
        `module ${moduleNode.childForFieldName('name')?.text ?? ''} nests expressions too deeply to convert (${e.message})`,
        { file, line: moduleNode.startPosition.row + 1, col: moduleNode.startPosition.column + 1 },
      );
    }
    throw e;
  }
  return { module, refs: converter.refs, subexprs: converter.subexprs };
}

/** Every module by name: `m` and its submodules (nested ones included). */
function withSubmodules(m: Module, into = new Map<string, Module>()): Map<string, Module> {
  if (!into.has(m.name)) into.set(m.name, m);
  for (const s of m.submodules) withSubmodules(s, into);
  return into;
}

/** Parses one top-level module (the first in the text); `file` names it in locations. */
export async function parseModuleText(text: string, file: string): Promise<Module> {
  const parsed = await parseModuleWithRefs(text, file);
  // Only this module's own definitions are known here; loadSpec resolves references to
  // definitions of other modules.
  resolveSubexpressions(withSubmodules(parsed.module), [parsed.subexprs]);
  return parsed.module;
}

/**
 * Parses a lone expression (e.g. from a command line or a test), as if it were the body of a
 * definition. Locations refer to `text` itself: line 1, column 1 is its first character.
 */
export async function parseExpressionText(text: string, file: string): Promise<Expr> {
  if (/^\s*$/.test(text)) throw new TlaError('parse', 'empty expression', { file, line: 1, col: 1 });
  const endLine = text.split('\n').findIndex((line) => /^\s*={4,}/.test(line));
  if (endLine >= 0) {
    throw new TlaError('parse', 'a module end line (====) cannot appear in an expression', {
      file,
      line: endLine + 1,
      col: 1,
    });
  }
  // Each line is indented by two columns so that junction lists keep their alignment.
  const indented = text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  const wrapped = `---- MODULE Expression ----\nE ==\n${indented}\n====\n`;
  const shift = (loc: Loc): Loc => ({ file, line: loc.line - 2, col: Math.max(1, loc.col - 2) });
  let module: Module;
  try {
    module = await parseModuleText(wrapped, file);
  } catch (e) {
    if (e instanceof TlaError && e.loc) {
      const loc =
        e.loc.line > text.split('\n').length + 2
          ? { file, line: text.split('\n').length, col: 1 }
          : shift(e.loc);
      throw new TlaError(e.kind, e.message, loc.line < 1 ? { file, line: 1, col: 1 } : loc);
    }
    throw e;
  }
  const def = module.definitions[0];
  if (module.definitions.length !== 1 || !def || def.kind !== 'opDef') {
    throw new TlaError('parse', 'expected a single expression', { file, line: 1, col: 1 });
  }
  return relocate(def.body, shift);
}

/** A deep copy of an AST value with every `loc` mapped. */
function relocate<T>(v: T, shift: (loc: Loc) => Loc): T {
  if (Array.isArray(v)) return v.map((x) => relocate(x, shift)) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === 'loc' ? shift(x as Loc) : relocate(x, shift);
    return out as T;
  }
  return v;
}

function standardModule(name: string): Module {
  return {
    name,
    file: `<standard module ${name}>`,
    extends: [],
    constants: [],
    variables: [],
    definitions: [],
    assumptions: [],
    submodules: [],
    standard: true,
  };
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new TlaError('io', `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Loads the root module and, transitively, every module it EXTENDS or INSTANCEs. Modules
 * are looked up among the submodules already loaded (and the further top-level modules of
 * the files read so far), then as built-in standard modules, then as `<Name>.tla` in the
 * root file's folder, each of `libDirs` in order, and last the project's library folder
 * (`LIBRARY_DIR`, tla/lib): a module of the same name found earlier wins.
 */
export async function loadSpec(rootFile: string, opts: LoadSpecOptions = {}): Promise<LoadedSpec> {
  const rootText = await readIfExists(rootFile);
  if (rootText === null) throw new TlaError('io', `root module file ${rootFile} not found`);
  const searchDirs = [path.dirname(rootFile), ...(opts.libDirs ?? []), LIBRARY_DIR];
  const modules = new Map<string, Module>();
  /** Further top-level modules of the files read, by name: used when some module names them. */
  const siblings = new Map<string, ParsedModule | { name: string; error: TlaError }>();
  const noteSiblings = (p: ParsedModule): void => {
    for (const s of p.siblings ?? []) {
      const name = 'module' in s ? s.module.name : s.name;
      if (!siblings.has(name)) siblings.set(name, s);
    }
  };
  const edges = new Map<string, ModuleRefSite[]>();

  const register = (m: Module): void => {
    if (!modules.has(m.name)) modules.set(m.name, m);
    for (const sub of m.submodules) register(sub);
  };
  const noteRefs = (refs: readonly ModuleRefSite[]): ModuleRefSite[] => {
    for (const r of refs) {
      const list = edges.get(r.from) ?? [];
      list.push(r);
      edges.set(r.from, list);
    }
    return [...refs];
  };

  const checkName = (m: Module, file: string): void => {
    const expected = path.basename(file, '.tla');
    if (m.name !== expected) {
      throw new TlaError(
        'parse',
        `file ${path.basename(file)} holds module ${m.name}; a module must be in a file named ${m.name}.tla`,
        {
          file,
          line: 1,
          col: 1,
        },
      );
    }
  };

  const root = await parseModuleWithRefs(rootText, rootFile);
  checkName(root.module, rootFile);
  register(root.module);
  const subexprTables: SubexprTables[] = [root.subexprs];
  noteSiblings(root);
  const pending = noteRefs(root.refs);
  while (pending.length > 0) {
    const ref = pending.shift()!;
    if (modules.has(ref.name)) continue;
    if ((STANDARD_MODULES as readonly string[]).includes(ref.name)) {
      modules.set(ref.name, standardModule(ref.name));
      continue;
    }
    if (ref.name === 'Reals') {
      throw new TlaError(
        'unsupported',
        `the standard module Reals (named by ${ref.via} in ${ref.from}) is not supported: Buffy's values are TLC's integers`,
        ref.loc,
      );
    }
    const sibling = siblings.get(ref.name);
    if (sibling) {
      if (!('module' in sibling)) throw sibling.error;
      register(sibling.module);
      subexprTables.push(sibling.subexprs);
      pending.push(...noteRefs(sibling.refs));
      continue;
    }
    let found: ParsedModule | null = null;
    for (const dir of searchDirs) {
      const file = path.join(dir, `${ref.name}.tla`);
      const text = await readIfExists(file);
      if (text === null) continue;
      found = await parseModuleWithRefs(text, file);
      checkName(found.module, file);
      noteSiblings(found);
      break;
    }
    if (!found) {
      const looked = [
        ...searchDirs.map((d) =>
          d === LIBRARY_DIR ? `Buffy's library ${path.resolve(d)}` : path.resolve(d),
        ),
        `built-in standard modules (${STANDARD_MODULES.join(', ')})`,
      ];
      throw new TlaError(
        'io',
        `module ${ref.name} not found (named by ${ref.via} in ${ref.from}); looked in: ${looked.join('; ')}`,
        ref.loc,
      );
    }
    const loaded =
      ref.name === 'IOUtils' && found.module.file === path.join(LIBRARY_DIR, 'IOUtils.tla')
        ? withIOEnv(found.module, opts.env ?? process.env)
        : found.module;
    register(loaded);
    subexprTables.push(found.subexprs);
    pending.push(...noteRefs(found.refs));
  }
  detectCycles(root.module.name, edges);
  resolveSubexpressions(modules, subexprTables);
  return { root: root.module, modules };
}

/**
 * Buffy's IOUtils with `IOEnv` defined: the record of the environment variables (name ->
 * value), which TLA+ text cannot express.
 */
function withIOEnv(m: Module, env: Readonly<Record<string, string | undefined>>): Module {
  const loc: Loc = { file: m.file, line: 1, col: 1 };
  const fields = Object.keys(env)
    .sort()
    .flatMap((name) => {
      const value = env[name];
      return value === undefined ? [] : [{ name, value: { kind: 'str', value, loc } as Expr }];
    });
  const body: Expr = { kind: 'record', fields, loc };
  const def: Definition = {
    kind: 'opDef',
    name: 'IOEnv',
    params: [],
    body,
    local: false,
    recursive: false,
    loc,
  };
  return { ...m, definitions: [...m.definitions, def] };
}

/** Rejects a module that EXTENDS or INSTANCEs itself, directly or through others. */
function detectCycles(rootName: string, edges: ReadonlyMap<string, readonly ModuleRefSite[]>): void {
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    onPath.push(name);
    for (const ref of edges.get(name) ?? []) {
      const at = onPath.indexOf(ref.name);
      if (at >= 0) {
        const cycle = [...onPath.slice(at), ref.name].join(' -> ');
        throw new TlaError(
          'semantic',
          `circular module dependency ${cycle} (${ref.via} ${ref.name} in module ${ref.from})`,
          ref.loc,
        );
      }
      visit(ref.name);
    }
    onPath.pop();
    done.add(name);
  };
  visit(rootName);
  for (const name of edges.keys()) visit(name);
}
