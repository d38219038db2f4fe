// Subexpression references: `Inv!2` (the second conjunct of Inv's body), `Thm!:` (the
// statement of a theorem, or the body of a definition), `Op(a, b)!lab` (the expression
// labelled `lab::` in Op's body, with Op's parameters replaced by a and b), `Op!lab!1`,
// `Op!1!(e)` (the body of a quantifier with its bound variable replaced by e).
//
// The converter leaves an expression standing for each reference and notes what it found;
// once every module is loaded, `resolveSubexpressions` finds the definition the reference
// starts from (in the referring module, the modules it EXTENDS or INSTANCEs without
// substitutions, and the modules around it) and replaces the stand-in with an equivalent
// expression: the selected part of the definition's body, parameters and bound variables
// substituted, LET definitions that were passed through kept around it.
//
// Positional selectors follow SANY's numbering: the n-th bullet of a junction list, the two
// operands of an infix junction (`A /\ B /\ C` is `(A /\ B) /\ C`), the n-th argument of an
// operator application (`a + b`: !1 is a, !2 is b; `<<` and `>>` the first and the last),
// IF's condition, THEN and ELSE parts, the elements of a tuple or set, the operand of a
// prime, UNCHANGED, ENABLED, [] and <>, f and its arguments in f[x], the bound sets of a
// quantifier, CHOOSE, set or function constructor (the body is selected with !(e)), record
// fields, [S -> T]'s two sets. LET is passed through (its definitions kept).
// Anything else is TlaError('unsupported') naming the reference and its place.
import type { Bound, Definition, Expr, Loc, Module } from '../ast.ts';
import { TlaError } from '../errors.ts';

/** A label met in a definition's body: `lab(p, q):: e`. */
export interface LabelRecord {
  readonly name: string;
  readonly params: readonly string[];
  /** The labelled expression (set once converted). */
  expr: Expr | null;
  /** The label this one is nested in, if any. */
  readonly parent: LabelRecord | null;
}

export type SubexprSelector =
  | { readonly kind: 'index'; readonly n: number }
  | { readonly kind: 'colon' }
  | { readonly kind: 'left' }
  | { readonly kind: 'right' }
  | { readonly kind: 'args'; readonly args: readonly Expr[] }
  | { readonly kind: 'label'; readonly name: string; readonly args: readonly Expr[] };

/** One reference to resolve. */
export interface SubexprSite {
  /** The expression standing for the reference; its contents are replaced when resolved. */
  readonly expr: Expr;
  /** The module the reference is in, and the modules around it (outermost first, itself last). */
  readonly module: string;
  readonly enclosing: readonly string[];
  readonly base: { readonly name: string; readonly args: readonly Expr[] };
  readonly selectors: readonly SubexprSelector[];
  readonly text: string;
  readonly loc: Loc;
  /** An `A!B` module reference: left alone when A is an instance (or unknown). */
  readonly maybeInstance: boolean;
  /** In a theorem's statement: left alone when it cannot be resolved. */
  readonly optional: boolean;
}

/** What the converter of one file noted for subexpression references. */
export interface SubexprTables {
  readonly sites: SubexprSite[];
  /** Named theorem statements, by module name then theorem name. */
  readonly theorems: Map<string, Map<string, Expr>>;
  /** The labels of each module-level operator definition. */
  readonly labels: Map<Definition, LabelRecord[]>;
  /**
   * The parts SANY numbers in a junction whose flat operand list differs from them (an infix
   * chain `A /\ B /\ C` is `(A /\ B) /\ C`; a bullet may hold an infix chain), computed when asked.
   */
  readonly junctionParts: WeakMap<Expr, () => Expr[]>;
}

type Found =
  | { readonly kind: 'def'; readonly def: Definition; readonly module: Module }
  | { readonly kind: 'theorem'; readonly expr: Expr; readonly module: Module }
  | { readonly kind: 'other' };

/**
 * Replaces every subexpression reference of `tables` by the expression it stands for.
 * `modules` holds every loaded module by name (submodules included).
 */
export function resolveSubexpressions(
  modules: ReadonlyMap<string, Module>,
  tables: readonly SubexprTables[],
): void {
  const theorems = new Map<string, Map<string, Expr>>();
  const labels = new Map<Definition, LabelRecord[]>();
  for (const t of tables) {
    for (const [m, byName] of t.theorems) if (!theorems.has(m)) theorems.set(m, byName);
    for (const [d, l] of t.labels) labels.set(d, l);
  }
  const junctionParts = (e: Expr): Expr[] | null => {
    for (const t of tables) {
      const f = t.junctionParts.get(e);
      if (f) return f();
    }
    return null;
  };
  // A reference may select a part of a definition that holds other references: those are
  // resolved first (on demand), so that the copy taken holds their resolved form.
  const pending = new Map<unknown, SubexprSite>();
  for (const t of tables) for (const site of t.sites) pending.set(site.expr, site);
  const inProgress = new Set<SubexprSite>();
  const settle = (site: SubexprSite): void => {
    if (pending.get(site.expr) !== site) return;
    if (inProgress.has(site)) throw fail(site, 'it refers to itself through other subexpression references');
    inProgress.add(site);
    try {
      const found = findBase(site, modules, theorems);
      if (site.maybeInstance && (found === null || found.kind !== 'def' || found.def.kind !== 'opDef')) {
        if (found === null || found.kind !== 'theorem') return;
      }
      try {
        replaceContents(site.expr, resolveSite(site, found, labels, junctionParts, ensure));
      } catch (e) {
        if (site.optional && e instanceof TlaError) return;
        throw e;
      }
    } finally {
      inProgress.delete(site);
      pending.delete(site.expr);
    }
  };
  const ensure = (x: unknown): void => {
    const site = pending.get(x);
    if (site) settle(site);
  };
  for (const t of tables) for (const site of t.sites) settle(site);
}

/** The definition or theorem a reference starts from, or null when the name is unknown. */
function findBase(
  site: SubexprSite,
  modules: ReadonlyMap<string, Module>,
  theorems: ReadonlyMap<string, ReadonlyMap<string, Expr>>,
): Found | null {
  const name = site.base.name;
  const seen = new Set<string>();
  const search = (m: Module | undefined): Found | null => {
    if (!m || seen.has(m.name)) return null;
    seen.add(m.name);
    for (const d of m.definitions) {
      if (d.name !== name) continue;
      return d.kind === 'instance' ? { kind: 'other' } : { kind: 'def', def: d, module: m };
    }
    const thm = theorems.get(m.name)?.get(name);
    if (thm) return { kind: 'theorem', expr: thm, module: m };
    for (const e of m.extends) {
      const f = search(modules.get(e));
      if (f) return f;
    }
    for (const d of m.definitions) {
      if (d.kind !== 'instance' || d.name !== null) continue;
      const f = search(modules.get(d.module));
      if (!f) continue;
      if (d.substitutions.length > 0 && f.kind !== 'other') {
        throw new TlaError(
          'unsupported',
          `the subexpression reference ${site.text} names ${name} of module ${d.module}, instantiated WITH substitutions; ` +
            `references into instantiated modules are not supported (define the part you need as its own operator)`,
          site.loc,
        );
      }
      return f;
    }
    return null;
  };
  for (let i = site.enclosing.length - 1; i >= 0; i--) {
    const f = search(modules.get(site.enclosing[i]!));
    if (f) return f;
  }
  return null;
}

function fail(site: SubexprSite, why: string, kind: 'semantic' | 'unsupported' = 'semantic'): TlaError {
  return new TlaError(
    kind,
    `the subexpression reference ${site.text.replace(/\s+/g, ' ')}: ${why}`,
    site.loc,
  );
}

function resolveSite(
  site: SubexprSite,
  found: Found | null,
  labels: ReadonlyMap<Definition, LabelRecord[]>,
  junctionParts: (e: Expr) => Expr[] | null,
  ensure: (x: unknown) => void,
): Expr {
  const name = site.base.name;
  if (found === null)
    throw fail(site, `${name} is not defined in module ${site.module} or the modules it extends`);
  if (found.kind === 'other')
    throw fail(
      site,
      `${name} is an instance; subexpressions of instantiated definitions are not supported`,
      'unsupported',
    );
  const values = new Map<string, Expr>();
  const operators = new Map<string, Expr>();
  let cur: Expr;
  let defLabels: readonly LabelRecord[] = [];
  if (found.kind === 'theorem') {
    if (site.base.args.length > 0) throw fail(site, `theorem ${name} takes no arguments`);
    cur = found.expr;
  } else {
    const def = found.def;
    if (def.kind !== 'opDef')
      throw fail(
        site,
        `${name} is a function definition; only operator definitions and theorems have subexpressions`,
        'unsupported',
      );
    if (def.params.length !== site.base.args.length) {
      throw fail(
        site,
        def.params.length === 0
          ? `${name} takes no arguments`
          : `${name} takes ${def.params.length} argument(s): write ${name}(${def.params.map((p) => p.name).join(', ')})!...`,
      );
    }
    def.params.forEach((p, i) => (p.arity === 0 ? values : operators).set(p.name, site.base.args[i]!));
    cur = def.body;
    defLabels = labels.get(def) ?? [];
  }

  const lets: Extract<Expr, { kind: 'let' }>[] = [];
  for (const sel of site.selectors) {
    ensure(cur);
    if (sel.kind === 'colon') continue;
    if (sel.kind === 'label') {
      const within = cur;
      const candidates = defLabels.filter(
        (r) => r.name === sel.name && r.expr !== null && contains(within, r.expr),
      );
      // The outermost label of that name inside the current expression.
      const rec = candidates.find((r) => !candidates.some((o) => o !== r && isAncestor(o, r)));
      if (!rec || !rec.expr) throw fail(site, `no label ${sel.name} in the selected part of ${name}`);
      if (rec.params.length !== sel.args.length) {
        throw fail(
          site,
          `label ${sel.name} has ${rec.params.length} parameter(s), the reference gives ${sel.args.length}`,
        );
      }
      rec.params.forEach((p, i) => values.set(p, sel.args[i]!));
      cur = rec.expr;
      continue;
    }
    while (cur.kind === 'let') {
      lets.push(cur);
      cur = cur.body;
      ensure(cur);
    }
    if (sel.kind === 'args') {
      const { names, body } = binderOf(site, cur);
      if (names.length !== sel.args.length) {
        throw fail(
          site,
          `!(...) gives ${sel.args.length} value(s) for the ${names.length} bound variable(s) ${names.join(', ')}`,
        );
      }
      names.forEach((n, i) => values.set(n, sel.args[i]!));
      cur = body;
      continue;
    }
    const kids = (cur.kind === 'and' || cur.kind === 'or' ? junctionParts(cur) : null) ?? childrenOf(cur);
    if (kids === null || kids.length === 0) {
      throw fail(
        site,
        `positional selectors are not supported on ${describe(cur)} (at ${cur.loc.line}:${cur.loc.col})`,
        'unsupported',
      );
    }
    const index = sel.kind === 'left' ? 1 : sel.kind === 'right' ? kids.length : sel.n;
    if (index < 1 || index > kids.length) {
      throw fail(site, `selector !${index} but the selected ${describe(cur)} has ${kids.length} part(s)`);
    }
    cur = kids[index - 1]!;
  }
  let result = cur;
  for (let i = lets.length - 1; i >= 0; i--) result = { ...lets[i]!, body: result };
  return substitute(site, result, values, operators, ensure);
}

/** The parts positional selectors number, or null where they are not supported. */
function childrenOf(e: Expr): readonly Expr[] | null {
  switch (e.kind) {
    case 'and':
    case 'or':
    case 'apply':
      return e.args;
    case 'moduleRef':
      return e.args;
    case 'if':
      return [e.cond, e.then, e.else];
    case 'tuple':
    case 'setEnum':
      return e.elems;
    case 'prime':
    case 'unchanged':
    case 'enabled':
    case 'always':
    case 'eventually':
      return [e.expr];
    case 'leadsTo':
      return [e.lhs, e.rhs];
    case 'boxAction':
    case 'angleAction':
      return [e.action, e.vars];
    case 'fcnApply':
      return [e.fn, ...e.args];
    case 'fcnSet':
      return [e.domain, e.range];
    case 'dot':
      return [e.record];
    case 'record':
      return e.fields.map((f) => f.value);
    case 'recordSet':
      return e.fields.map((f) => f.set);
    // Binders: the bound sets (the body is selected with !(e1, ..., en)).
    case 'quant':
    case 'setMap':
    case 'fcn':
      return boundSets(e.bounds);
    case 'choose':
    case 'setFilter':
      return boundSets([e.bound]);
    default:
      return null;
  }
}

/** The sets of bounds (`x, y \in S` counts once); null sets (unbounded forms) have none. */
function boundSets(bounds: readonly Bound[]): Expr[] {
  const out: Expr[] = [];
  for (const b of bounds) if (b.set !== null && !out.includes(b.set)) out.push(b.set);
  return out;
}

/** The bound variables and body of a binder, for `!(e1, ..., en)`. */
function binderOf(site: SubexprSite, e: Expr): { names: string[]; body: Expr } {
  switch (e.kind) {
    case 'quant':
      return { names: e.bounds.flatMap((b) => b.names), body: e.body };
    case 'choose':
      return { names: [...e.bound.names], body: e.body };
    case 'setFilter':
      return { names: [...e.bound.names], body: e.pred };
    case 'setMap':
    case 'fcn':
      return { names: e.bounds.flatMap((b) => b.names), body: e.body };
    case 'lambda':
      return { names: [...e.params], body: e.body };
    default:
      throw fail(
        site,
        `!(...) needs a quantifier, CHOOSE, set or function constructor, or LAMBDA; found ${describe(e)}`,
      );
  }
}

function describe(e: Expr): string {
  switch (e.kind) {
    case 'and':
      return 'conjunction';
    case 'or':
      return 'disjunction';
    case 'apply':
      return `application of ${e.op}`;
    case 'name':
      return `name ${e.name}`;
    default:
      return `${e.kind} expression`;
  }
}

/** Whether `target` (by identity) occurs in the AST below `root` (root included). */
function contains(root: unknown, target: unknown): boolean {
  if (root === target) return true;
  if (Array.isArray(root)) return root.some((x) => contains(x, target));
  if (root !== null && typeof root === 'object') {
    for (const [k, v] of Object.entries(root)) if (k !== 'loc' && contains(v, target)) return true;
  }
  return false;
}

function isAncestor(a: LabelRecord, b: LabelRecord): boolean {
  for (let p = b.parent; p !== null; p = p.parent) if (p === a) return true;
  return false;
}

/** Replaces the contents of `target` (the stand-in) with those of `source`. */
function replaceContents(target: Expr, source: Expr): void {
  const t = target as unknown as Record<string, unknown>;
  for (const k of Object.keys(t)) delete t[k];
  Object.assign(t, source);
}

/** Every name an expression mentions (names and applied operators): used to detect capture. */
function mentioned(e: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(e)) for (const x of e) mentioned(x, out);
  else if (e !== null && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    if (o.kind === 'name' && typeof o.name === 'string') out.add(o.name);
    if (o.kind === 'apply' && typeof o.op === 'string') out.add(o.op);
    for (const [k, v] of Object.entries(o)) if (k !== 'loc') mentioned(v, out);
  }
  return out;
}

/**
 * A copy of `e` with the free occurrences of the names in `values` replaced by their
 * expressions and applications of the operator parameters in `operators` renamed.
 */
function substitute(
  site: SubexprSite,
  e: Expr,
  values: ReadonlyMap<string, Expr>,
  operators: ReadonlyMap<string, Expr>,
  ensure: (x: unknown) => void,
): Expr {
  const free = new Set<string>();
  for (const v of values.values()) mentioned(v, free);
  for (const v of operators.values()) mentioned(v, free);

  const copy = (x: unknown, vals: ReadonlyMap<string, Expr>, ops: ReadonlyMap<string, Expr>): unknown => {
    if (Array.isArray(x)) return x.map((y) => copy(y, vals, ops));
    if (x === null || typeof x !== 'object') return x;
    ensure(x);
    const o = x as Record<string, unknown>;
    if (o.kind === 'name' && typeof o.name === 'string' && vals.has(o.name))
      return copy(vals.get(o.name), new Map(), new Map());
    if (o.kind === 'name' && typeof o.name === 'string' && ops.has(o.name))
      return copy(ops.get(o.name), new Map(), new Map());
    if (o.kind === 'apply' && typeof o.op === 'string' && ops.has(o.op)) {
      const repl = ops.get(o.op)!;
      if (repl.kind !== 'name') {
        throw fail(
          site,
          `operator parameter ${o.op} is given ${describe(repl)}; only an operator name can be substituted here`,
          'unsupported',
        );
      }
      return { ...o, op: repl.name, args: copy(o.args, vals, ops) };
    }
    const bound = boundNames(o);
    if (bound.length > 0) {
      const inner = (m: ReadonlyMap<string, Expr>): Map<string, Expr> => {
        const r = new Map(m);
        for (const b of bound) r.delete(b);
        return r;
      };
      const active = bound.filter((b) => free.has(b));
      if (active.length > 0 && (vals.size > 0 || ops.size > 0)) {
        throw fail(
          site,
          `substituting the arguments would capture ${active.join(', ')} (bound at ${String((o.loc as Loc | undefined)?.line)}); rename the bound variable`,
          'unsupported',
        );
      }
      const innerVals = inner(vals);
      const innerOps = inner(ops);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) {
        // Bound sets are outside the binder's scope; bodies, predicates and definitions inside.
        out[k] = k === 'bounds' || k === 'bound' ? copyBounds(v, vals, ops) : copy(v, innerVals, innerOps);
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = k === 'loc' ? v : copy(v, vals, ops);
    return out;
  };
  const copyBounds = (
    b: unknown,
    vals: ReadonlyMap<string, Expr>,
    ops: ReadonlyMap<string, Expr>,
  ): unknown => {
    if (Array.isArray(b)) return b.map((x) => copyBounds(x, vals, ops));
    const o = b as Record<string, unknown>;
    return { ...o, set: copy(o.set, vals, ops) };
  };
  return copy(e, values, operators) as Expr;
}

/** The names an AST node binds for its sub-parts (quantifiers, CHOOSE, LET, LAMBDA...). */
function boundNames(o: Record<string, unknown>): string[] {
  switch (o.kind) {
    case 'quant':
    case 'setMap':
    case 'fcn':
      return (o.bounds as { names: string[] }[]).flatMap((b) => b.names);
    case 'choose':
    case 'setFilter':
      return [...(o.bound as { names: string[] }).names];
    case 'lambda':
      return [...(o.params as string[])];
    case 'temporalQuant':
      return [...(o.names as string[])];
    case 'let':
      return (o.defs as Definition[]).flatMap((d) => (d.name === null ? [] : [d.name]));
    case 'opDef':
      return (o.params as { name: string }[]).map((p) => p.name);
    case 'fcnDef':
      return [o.name as string, ...(o.bounds as { names: string[] }[]).flatMap((b) => b.names)];
    default:
      return [];
  }
}
