// From a .tla file and its .cfg to a checker-ready model: constants and substitutions,
// the initial predicate and next-state relation (directly or from SPECIFICATION), fairness,
// invariants, properties split into what the search checks (initial-state predicates,
// invariants, action properties) and liveness obligations, constraints, VIEW and SYMMETRY.
import { readFileSync, existsSync } from 'node:fs';
import type { Bound, Definition, Expr, LoadedSpec, Loc, Module } from '../ast.ts';
import { TlaError, formatLoc } from '../errors.ts';
import { loadSpec } from '../parse/index.ts';
import { buildModel, type ConstantAssignment, type Ctx, type Model } from '../eval/index.ts';
import {
  ModelValue,
  SetValue,
  TupleValue,
  fcnKeys,
  fcnVals,
  isFcn,
  modelValue,
  setOf,
  toTla,
  type Value,
} from '../values.ts';
import { parseCfg, printCfgValue, type CfgValue, type ModelConfig } from './cfg.ts';
import { tf, type TForm } from './tableau.ts';

/** An expression with the context it is evaluated in, and a name for messages. */
export interface Formula {
  readonly name: string;
  readonly expr: Expr;
  readonly ctx: Ctx;
}

/** A state or step predicate used by liveness checking (possibly negated). */
export interface Pred {
  readonly level: 'state' | 'step' | 'enabled';
  readonly f: Formula;
  readonly negate: boolean;
}

export interface FairnessFormula {
  readonly kind: 'WF' | 'SF';
  readonly name: string;
  /** `<<A>>_v`: ENABLED of it, and it as a step predicate. */
  readonly angle: Formula;
}

/** The negation of a liveness conjunct (see liveness.ts Obligation), with formulas. */
export interface SymbolicObligation {
  readonly name: string;
  readonly always: Pred[];
  trigger?: { now: Pred[]; then: Pred[] };
  readonly eventuallyAlways: Pred[];
  readonly eventuallyAlwaysSteps: Pred[];
  readonly infinitelyOften: Pred[];
  readonly infinitelyOftenSteps: Pred[];
  /**
   * General properties (outside the forms above): a formula every violating behaviour
   * satisfies (the property's negation), checked with the tableau (tableau.ts); the lists
   * above are empty then.
   */
  temporal?: TForm<Pred>;
}

export interface CheckModel {
  readonly spec: LoadedSpec;
  readonly specFile: string;
  readonly cfgFile: string | null;
  readonly cfg: ModelConfig;
  readonly model: Model;
  readonly init: Formula;
  readonly next: Formula;
  readonly fairness: readonly FairnessFormula[];
  readonly invariants: readonly Formula[];
  readonly initProperties: readonly Formula[];
  readonly actionProperties: readonly Formula[];
  readonly liveness: readonly SymbolicObligation[];
  readonly constraints: readonly Formula[];
  readonly actionConstraints: readonly Formula[];
  readonly view: Formula | null;
  readonly symmetry: readonly ReadonlyMap<ModelValue, ModelValue>[] | null;
  /** ALIAS: printed in place of each state of a trace (text report only; ITF keeps the variables). */
  readonly alias?: Formula | null;
  /** POSTCONDITION formulas, evaluated once after a complete search. */
  readonly postconditions?: readonly Formula[];
  /** True when the .cfg names no behaviour (neither SPECIFICATION nor INIT/NEXT): only ASSUMEs are checked. */
  readonly constantOnly?: boolean;
  /** What loading noticed that TLC would do differently or that the user should know. */
  readonly warnings?: readonly string[];
  readonly checkDeadlock: boolean;
}

export interface LoadModelOptions {
  readonly libDirs?: readonly string[];
  /** Overrides the .cfg's CHECK_DEADLOCK. */
  readonly checkDeadlock?: boolean;
}

/** The .cfg beside the spec: SPEC.cfg for SPEC.tla. */
export function defaultCfgFile(specFile: string): string {
  return specFile.replace(/\.tla$/, '') + '.cfg';
}

/** Parses the spec and its configuration and prepares everything the checker needs. */
export async function loadModel(
  specFile: string,
  cfgFile?: string | null,
  opts: LoadModelOptions = {},
): Promise<CheckModel> {
  const spec = await loadSpec(specFile, { libDirs: [...(opts.libDirs ?? [])] });
  const cfgPath = cfgFile ?? defaultCfgFile(specFile);
  let cfg: ModelConfig;
  if (existsSync(cfgPath)) {
    cfg = parseCfg(readFileSync(cfgPath, 'utf8'), cfgPath);
  } else if (cfgFile) {
    throw new TlaError('io', `configuration file ${cfgFile} not found`);
  } else {
    throw new TlaError('io', `no configuration file given and ${cfgPath} does not exist; pass --config FILE`);
  }
  return modelFromConfig(spec, specFile, existsSync(cfgPath) ? cfgPath : null, cfg, opts);
}

export function modelFromConfig(
  spec: LoadedSpec,
  specFile: string,
  cfgFile: string | null,
  cfg: ModelConfig,
  opts: LoadModelOptions = {},
): CheckModel {
  const root = spec.root;
  const declared = new Map(root.constants.map((c) => [c.name, c]));
  const defined = new Set(root.definitions.flatMap((d) => (d.name ? [d.name] : [])));
  // Definitions from extended modules can be overridden too.
  const allDefined = new Set<string>(defined);
  const visit = (name: string, seen: Set<string>): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const m = spec.modules.get(name);
    if (!m) return;
    for (const d of m.definitions) if (d.name) allDefined.add(d.name);
    for (const c of m.constants) if (!declared.has(c.name)) declared.set(c.name, c);
    for (const e of m.extends) visit(e, seen);
  };
  for (const e of root.extends) visit(e, new Set([root.name]));

  const constants = new Map<string, ConstantAssignment>();
  const overrides = new Map<string, string>();
  const warnings: string[] = [];
  const definitionOf = (name: string): Definition | undefined => {
    for (const m of [root, ...spec.modules.values()]) {
      const d = m.definitions.find((x) => x.kind !== 'instance' && x.name === name);
      if (d) return d;
    }
    return undefined;
  };
  const replaced = new Set(cfg.constants.map((x) => x.name));
  for (const c of cfg.constants) {
    if (c.module !== undefined) {
      const by = c.kind === 'value' ? printCfgValue(c.value) : c.target;
      const w = moduleOverrideWarning(
        spec,
        c.name,
        by,
        c.kind === 'value' ? null : c.target,
        c.module,
        c.loc,
        replaced,
      );
      if (w) warnings.push(w);
    }
    if (c.kind === 'value' && c.module !== undefined && !declared.has(c.name)) {
      // `N = [M]value`: the definition (or constant) N of module M, which may be an instance.
      constants.set(c.name, { kind: 'value', value: cfgToValue(c.value) });
      continue;
    }
    if (c.kind === 'value') {
      if (!declared.has(c.name)) {
        if (allDefined.has(c.name)) {
          // As TLC does: `Def = value` replaces the definition Def by that value
          // (`NoVal = NoVal`: a model value for a definition TLC cannot evaluate).
          const d = definitionOf(c.name);
          if (d && d.kind === 'opDef' && d.params.length > 0) {
            throw new TlaError(
              'config',
              `${c.name} is an operator with ${d.params.length} parameter(s) (defined at ${formatLoc(d.loc)}); ` +
                `a value cannot replace it: write ${c.name} <- OtherDefinition with the same parameters`,
              c.loc,
            );
          }
          constants.set(c.name, { kind: 'value', value: cfgToValue(c.value) });
          continue;
        }
        // TLC ignores an assignment to a name the module does not declare or define; `r1 = r1`
        // is the usual way of listing model values, and says nothing worth a warning.
        if (!(c.value.kind === 'modelValue' && c.value.name === c.name)) {
          warnings.push(
            `Warning: ${formatLoc(c.loc)}: ${c.name} is neither a CONSTANT nor a definition of module ${root.name} ` +
              '(nor of a module it extends); the assignment is ignored, as TLC does.',
          );
        }
        continue;
      }
      constants.set(c.name, { kind: 'value', value: cfgToValue(c.value) });
    } else {
      // The evaluator reports a target (or an overridden name) that is not defined.
      if (declared.has(c.name)) constants.set(c.name, { kind: 'operator', name: c.target });
      else overrides.set(c.name, c.target);
    }
  }
  for (const [name, decl] of declared) {
    if (!constants.has(name)) {
      throw new TlaError(
        'config',
        `constant ${name} has no value in ${cfgFile ?? 'the configuration'}; add "CONSTANT ${name} = ..." (or ${name} <- Def)`,
        decl.loc,
      );
    }
  }

  const checkDeadlock = opts.checkDeadlock ?? cfg.checkDeadlock ?? true;
  const model = buildModel(spec, constants, overrides, { run: { deadlock: checkDeadlock } });
  model.checkAssumptions();
  const formula = (n: { name: string; loc: Loc }, what: string): Formula => {
    let expr: Expr;
    try {
      expr = model.lookup(n.name);
    } catch (e) {
      if (e instanceof TlaError) {
        throw new TlaError('config', `${what} ${n.name} is not defined in module ${root.name}`, n.loc);
      }
      throw e;
    }
    return { name: n.name, expr, ctx: model.rootCtx };
  };

  const an = new Analyzer(model);
  let init: Formula;
  let next: Formula;
  let constantOnly = false;
  const fairness: FairnessFormula[] = [];
  if (cfg.specification) {
    const specF = formula(cfg.specification, 'SPECIFICATION');
    const parts = an.specParts(specF);
    init = parts.init;
    next = parts.next;
    fairness.push(...parts.fairness);
  } else if (cfg.init && cfg.next) {
    init = formula(cfg.init, 'INIT');
    next = formula(cfg.next, 'NEXT');
  } else if (model.variables.length > 0) {
    // TLC stops too ("did not specify the initial state predicate"): nothing would be checked.
    const vars = model.variables;
    throw new TlaError(
      'config',
      `the configuration names neither SPECIFICATION nor INIT and NEXT, so nothing would be checked, ` +
        `but the spec has ${vars.length === 1 ? 'a variable' : `${vars.length} variables`} (${vars.join(', ')}): ` +
        `add \`SPECIFICATION Spec\` (Spec == Init /\\ [][Next]_vars) or the two lines \`INIT Init\` and \`NEXT Next\` to ${cfg.file}`,
      { file: cfg.file, line: 1, col: 1 },
    );
  } else {
    // No behaviour: TLC checks the ASSUMEs (done above) and reports success with no states.
    const where: Loc = { file: cfg.file, line: 1, col: 1 };
    const what = [
      ...cfg.invariants.map((n) => ['INVARIANT', n] as const),
      ...cfg.properties.map((n) => ['PROPERTY', n] as const),
      ...cfg.constraints.map((n) => ['CONSTRAINT', n] as const),
      ...cfg.actionConstraints.map((n) => ['ACTION_CONSTRAINT', n] as const),
    ];
    if (what.length > 0) {
      const [kw, n] = what[0]!;
      throw new TlaError(
        'config',
        `${kw} ${n.name} needs a behaviour to check, but the configuration names neither SPECIFICATION nor INIT and NEXT`,
        n.loc,
      );
    }
    const none: Expr = { kind: 'bool', value: false, loc: where };
    init = { name: 'Init', expr: none, ctx: model.rootCtx };
    next = { name: 'Next', expr: none, ctx: model.rootCtx };
    constantOnly = true;
  }

  const invariants = cfg.invariants.map((n) => formula(n, 'INVARIANT'));
  for (const inv of invariants) {
    if (an.level(inv.expr, inv.ctx) > 0) {
      throw new TlaError(
        'semantic',
        `INVARIANT ${inv.name} is not a state predicate (it has primes or temporal operators)`,
        inv.expr.loc,
      );
    }
  }
  const initProperties: Formula[] = [];
  const actionProperties: Formula[] = [];
  const liveness: SymbolicObligation[] = [];
  for (const p of cfg.properties) {
    const f = formula(p, 'PROPERTY');
    an.property(f, { invariants, initProperties, actionProperties, liveness });
  }

  const constraints = cfg.constraints.map((n) => formula(n, 'CONSTRAINT'));
  const actionConstraints = cfg.actionConstraints.map((n) => formula(n, 'ACTION_CONSTRAINT'));
  const view = cfg.view ? formula(cfg.view, 'VIEW') : null;
  let symmetry: ReadonlyMap<ModelValue, ModelValue>[] | null = null;
  if (cfg.symmetry) {
    const f = formula(cfg.symmetry, 'SYMMETRY');
    symmetry = permutations(model.evalConstant(f.expr, f.ctx), cfg.symmetry.name, f.expr.loc);
  }
  const alias = cfg.alias ? formula(cfg.alias, 'ALIAS') : null;
  const postconditions = cfg.postconditions.map((n) => formula(n, 'POSTCONDITION'));
  return {
    spec,
    specFile,
    cfgFile,
    cfg,
    model,
    init,
    next,
    fairness,
    invariants,
    initProperties,
    actionProperties,
    liveness,
    constraints,
    actionConstraints,
    view,
    symmetry,
    alias,
    postconditions,
    constantOnly,
    warnings,
    checkDeadlock,
  };
}

/**
 * `Name <- [M]Target` replaces Name as module M uses it. Buffy's evaluator replaces a name in
 * every module, so this says when that differs: when another module of the spec uses Name too.
 */
function moduleOverrideWarning(
  spec: LoadedSpec,
  name: string,
  by: string,
  target: string | null,
  module: string,
  loc: Loc,
  replaced: ReadonlySet<string>,
): string | null {
  const all = new Map<string, Module>();
  const add = (m: Module): void => {
    if (!all.has(m.name)) all.set(m.name, m);
    for (const sm of m.submodules) add(sm);
  };
  add(spec.root);
  for (const m of spec.modules.values()) add(m);
  if (!all.has(module)) {
    throw new TlaError(
      'config',
      `${name} ${target === null ? '=' : '<-'} [${module}]${by}: module ${module} is not part of this spec (its modules: ${[...all.keys()].join(', ')})`,
      loc,
    );
  }
  const others: string[] = [];
  for (const m of all.values()) {
    if (m.name === module || m.standard) continue;
    const uses = (e: Expr): boolean =>
      (e.kind === 'name' && e.name === name) ||
      (e.kind === 'apply' && e.op === name) ||
      children(e).some(uses);
    const used =
      m.definitions.some(
        (d) =>
          // The target itself, and definitions the model replaces anyway, do not count.
          d.name !== target &&
          !(d.name !== null && replaced.has(d.name)) &&
          (d.kind === 'opDef' || d.kind === 'fcnDef') &&
          uses(d.body),
      ) || m.assumptions.some((a) => uses(a.expr));
    if (used) others.push(m.name);
  }
  if (others.length === 0) return null;
  return (
    `Warning: ${formatLoc(loc)}: ${name} ${target === null ? '=' : '<-'} [${module}]${by} is applied in every module, not only in ${module}: ` +
    `${others.join(', ')} also use${others.length === 1 ? 's' : ''} ${name}, which Buffy replaces there too (TLC would not).`
  );
}

export function cfgToValue(v: CfgValue): Value {
  switch (v.kind) {
    case 'int':
    case 'str':
    case 'bool':
      return v.value;
    case 'modelValue':
      return modelValue(v.name);
    case 'set':
      return setOf(v.elems.map(cfgToValue));
  }
}

function permutations(v: Value, name: string, loc: Loc): ReadonlyMap<ModelValue, ModelValue>[] {
  if (!(v instanceof SetValue))
    throw new TlaError('semantic', `SYMMETRY ${name} must be a set of permutations, got ${toTla(v)}`, loc);
  const out: Map<ModelValue, ModelValue>[] = [];
  for (const p of v.normalized().elems) {
    if (!isFcn(p))
      throw new TlaError(
        'semantic',
        `SYMMETRY ${name} contains ${toTla(p)}, which is not a permutation`,
        loc,
      );
    const ks = fcnKeys(p);
    const vs = fcnVals(p);
    const m = new Map<ModelValue, ModelValue>();
    ks.forEach((k, i) => {
      const w = vs[i]!;
      if (!(k instanceof ModelValue) || !(w instanceof ModelValue)) {
        throw new TlaError(
          'semantic',
          `SYMMETRY ${name}: permutations must map model values to model values, got ${toTla(p)}`,
          loc,
        );
      }
      if (k !== w) m.set(k, w);
    });
    out.push(m);
  }
  return permutationGroup(out, name, loc);
}

/** The most permutations a SYMMETRY may generate (each state is fingerprinted once per permutation). */
const MAX_SYMMETRY_GROUP = 50_000;

/**
 * The group the permutations generate (identity left out), as TLC computes it: SYMMETRY
 * Permutations(A) \cup Permutations(B) also relates states that differ by a permutation of A
 * and one of B at once.
 */
export function permutationGroup(
  gens: readonly ReadonlyMap<ModelValue, ModelValue>[],
  name: string,
  loc: Loc,
): ReadonlyMap<ModelValue, ModelValue>[] {
  const key = (p: ReadonlyMap<ModelValue, ModelValue>): string =>
    [...p]
      .map(([a, b]) => `${a.index}>${b.index}`)
      .sort()
      .join(',');
  const generators = gens.filter((g) => g.size > 0);
  const seen = new Set<string>();
  const group: ReadonlyMap<ModelValue, ModelValue>[] = [];
  const add = (p: ReadonlyMap<ModelValue, ModelValue>): void => {
    if (p.size === 0) return;
    const k = key(p);
    if (seen.has(k)) return;
    seen.add(k);
    group.push(p);
    if (group.length > MAX_SYMMETRY_GROUP) {
      throw new TlaError(
        'unsupported',
        `SYMMETRY ${name} generates more than ${MAX_SYMMETRY_GROUP} permutations; use fewer symmetric model values`,
        loc,
      );
    }
  };
  for (const g of generators) add(g);
  // Close under composition: every element times every generator, until nothing new appears.
  for (let i = 0; i < group.length; i++) {
    const p = group[i]!;
    for (const g of generators) {
      const c = new Map<ModelValue, ModelValue>();
      for (const x of new Set([...p.keys(), ...g.keys()])) {
        const gx = g.get(x) ?? x;
        const y = p.get(gx) ?? gx;
        if (y !== x) c.set(x, y);
      }
      add(c);
    }
  }
  return group;
}

/** Level analysis and decomposition of temporal formulas, expanding definitions through Model.unfold. */
class Analyzer {
  /** Levels by scope, then expression: a parameter's name means a different argument in each call's scope. */
  private readonly memo = new WeakMap<object, Map<Expr, number>>();
  private readonly active = new Set<Expr>();

  constructor(private readonly model: Model) {}

  /**
   * Temporal conjuncts of the SPECIFICATION other than [][Next]_v and WF/SF (e.g.
   * `<>[][A]_v`): as in TLC they are assumptions of the liveness check, which then looks for
   * a behaviour satisfying them and violating the property.
   */
  private readonly specAssumptions: TForm<Pred>[] = [];

  /** 0: constant or state, 1: action, 2: temporal. */
  level(e: Expr, ctx: Ctx): number {
    let memo = this.memo.get(ctx.scope);
    if (!memo) {
      memo = new Map();
      this.memo.set(ctx.scope, memo);
    }
    const cached = memo.get(e);
    if (cached !== undefined) return cached;
    let lv = 0;
    switch (e.kind) {
      case 'prime':
      case 'unchanged':
      case 'boxAction':
      case 'angleAction':
        lv = 1;
        break;
      case 'enabled':
        lv = 0;
        break;
      case 'always':
      case 'eventually':
      case 'leadsTo':
      case 'fairness':
      case 'temporalQuant':
        lv = 2;
        break;
      case 'name':
      case 'apply':
      case 'moduleRef': {
        const args = e.kind === 'name' ? [] : e.args;
        for (const a of args) lv = Math.max(lv, this.level(a, ctx));
        const u = this.safeUnfold(e, ctx);
        if (u && !this.active.has(u.expr)) {
          this.active.add(u.expr);
          try {
            lv = Math.max(lv, this.level(u.expr, u.ctx));
          } finally {
            this.active.delete(u.expr);
          }
        }
        break;
      }
      default:
        for (const c of children(e)) lv = Math.max(lv, this.level(c, ctx));
    }
    memo.set(e, lv);
    return lv;
  }

  private safeUnfold(e: Expr, ctx: Ctx): { expr: Expr; ctx: Ctx } | null {
    try {
      return this.model.unfold(e, ctx);
    } catch {
      return null;
    }
  }

  /** Expands definitions until the top of the expression is not a defined name. */
  private head(e: Expr, ctx: Ctx): { expr: Expr; ctx: Ctx } {
    let cur = { expr: e, ctx };
    for (let k = 0; k < 1000; k++) {
      if (cur.expr.kind !== 'name' && cur.expr.kind !== 'apply' && cur.expr.kind !== 'moduleRef') return cur;
      const u = this.safeUnfold(cur.expr, cur.ctx);
      if (!u) return cur;
      cur = u;
    }
    return cur;
  }

  /** Top-level conjuncts, through definitions and bounded \A (each instance bound in the context). */
  conjuncts(e: Expr, ctx: Ctx, out: { expr: Expr; ctx: Ctx }[] = []): { expr: Expr; ctx: Ctx }[] {
    if (this.level(e, ctx) < 2) {
      out.push({ expr: e, ctx });
      return out;
    }
    const h = this.head(e, ctx);
    const x = h.expr;
    if (x.kind === 'and') {
      for (const a of x.args) this.conjuncts(a, h.ctx, out);
      return out;
    }
    if (x.kind === 'quant' && x.quantifier === 'forall' && x.bounds.every((b) => b.set !== null)) {
      for (const c of this.instances(x.bounds, h.ctx)) this.conjuncts(x.body, c, out);
      return out;
    }
    out.push(h);
    return out;
  }

  /** Every binding of the bounded variables (sets evaluated as constants). */
  private instances(bounds: readonly Bound[], ctx: Ctx): Ctx[] {
    // One step per bound variable: `x, y \in S` ranges over S x S (tuple bounds bind together).
    const steps = bounds.flatMap((b) =>
      b.tuple ? [{ b, names: b.names }] : b.names.map((n) => ({ b, names: [n] })),
    );
    let ctxs = [ctx];
    for (const { b, names } of steps) {
      const next: Ctx[] = [];
      for (const c of ctxs) {
        const set = this.model.evalConstant(b.set!, c);
        if (!(set instanceof SetValue)) {
          throw new TlaError('semantic', `the bound of ${b.names.join(', ')} is not a set`, b.loc);
        }
        for (const v of set.normalized().elems) {
          if (b.tuple) {
            if (!(v instanceof TupleValue) || v.elems.length !== names.length) {
              throw new TlaError('eval', `cannot bind <<${names.join(', ')}>> to ${toTla(v)}`, b.loc);
            }
            let cc = c;
            names.forEach((n, i) => (cc = this.model.bind(cc, n, v.elems[i]!)));
            next.push(cc);
          } else {
            next.push(this.model.bind(c, names[0]!, v));
          }
        }
      }
      ctxs = next;
    }
    return ctxs;
  }

  specParts(spec: Formula): { init: Formula; next: Formula; fairness: FairnessFormula[] } {
    const inits: { expr: Expr; ctx: Ctx }[] = [];
    let next: Formula | null = null;
    const fairness: FairnessFormula[] = [];
    for (const c of this.conjuncts(spec.expr, spec.ctx)) {
      const lv = this.level(c.expr, c.ctx);
      if (lv === 0) {
        inits.push(c);
        continue;
      }
      const h = this.head(c.expr, c.ctx);
      const x = h.expr;
      if (x.kind === 'always') {
        const inner = this.head(x.expr, h.ctx);
        if (this.level(inner.expr, inner.ctx) <= 1) {
          if (next) {
            throw new TlaError(
              'unsupported',
              `SPECIFICATION ${spec.name} has more than one [][Next]_vars conjunct`,
              x.loc,
            );
          }
          const act = inner.expr.kind === 'boxAction' ? inner.expr.action : inner.expr;
          next = { name: spec.name, expr: act, ctx: inner.ctx };
          continue;
        }
      }
      if (x.kind === 'fairness') {
        fairness.push(this.fairnessOf(x, h.ctx));
        continue;
      }
      this.specAssumptions.push(this.temporal(x, h.ctx, spec.name));
    }
    if (inits.length === 0)
      throw new TlaError(
        'semantic',
        `SPECIFICATION ${spec.name} has no initial predicate conjunct`,
        spec.expr.loc,
      );
    if (!next)
      throw new TlaError(
        'semantic',
        `SPECIFICATION ${spec.name} has no [][Next]_vars conjunct`,
        spec.expr.loc,
      );
    let init: Formula;
    if (inits.length === 1) {
      const e = inits[0]!.expr;
      init = { name: e.kind === 'name' ? e.name : 'Init', expr: e, ctx: inits[0]!.ctx };
    } else if (inits.every((i) => sameCtx(i.ctx, inits[0]!.ctx))) {
      init = {
        name: spec.name,
        expr: { kind: 'and', args: inits.map((i) => i.expr), loc: inits[0]!.expr.loc },
        ctx: inits[0]!.ctx,
      };
    } else {
      throw new TlaError(
        'unsupported',
        `SPECIFICATION ${spec.name}: initial predicates from different contexts cannot be combined`,
        spec.expr.loc,
      );
    }
    return { init, next, fairness };
  }

  private fairnessOf(x: Extract<Expr, { kind: 'fairness' }>, ctx: Ctx): FairnessFormula {
    const angle: Expr = { kind: 'angleAction', action: x.action, vars: x.vars, loc: x.loc };
    return {
      kind: x.strong ? 'SF' : 'WF',
      name: `${x.strong ? 'SF' : 'WF'} at ${x.loc.line}:${x.loc.col}`,
      angle: { name: 'fairness', expr: angle, ctx },
    };
  }

  property(
    p: Formula,
    into: {
      invariants: Formula[];
      initProperties: Formula[];
      actionProperties: Formula[];
      liveness: SymbolicObligation[];
    },
  ): void {
    for (const c of this.conjuncts(p.expr, p.ctx)) {
      const lv = this.level(c.expr, c.ctx);
      if (lv === 0) {
        into.initProperties.push({ name: p.name, expr: c.expr, ctx: c.ctx });
        continue;
      }
      if (lv === 1) {
        throw new TlaError(
          'semantic',
          `PROPERTY ${p.name}: an action formula is not a temporal property (did you mean [][A]_vars?)`,
          c.expr.loc,
        );
      }
      const h = this.head(c.expr, c.ctx);
      if (h.expr.kind === 'always') {
        const inner = this.head(h.expr.expr, h.ctx);
        const ilv = this.level(inner.expr, inner.ctx);
        if (ilv === 0) {
          into.invariants.push({ name: p.name, expr: inner.expr, ctx: inner.ctx });
          continue;
        }
        if (ilv === 1) {
          into.actionProperties.push({ name: p.name, expr: inner.expr, ctx: inner.ctx });
          continue;
        }
      }
      const empty = (): SymbolicObligation => ({
        name: p.name,
        always: [],
        eventuallyAlways: [],
        eventuallyAlwaysSteps: [],
        infinitelyOften: [],
        infinitelyOftenSteps: [],
      });
      let ob = empty();
      if (this.specAssumptions.length > 0) {
        // The SPECIFICATION's own temporal assumptions join the negated property.
        ob.temporal = tf.and(...this.specAssumptions, tf.not(this.temporal(h.expr, h.ctx, p.name)));
        into.liveness.push(ob);
        continue;
      }
      try {
        // The fast path: the negation fits an Obligation (one pass over the graph).
        this.negate(h.expr, h.ctx, ob, p.name);
      } catch (e) {
        if (!(e instanceof TlaError && e.kind === 'unsupported')) throw e;
        // Any other formula: the tableau of its negation.
        ob = empty();
        ob.temporal = tf.not(this.temporal(h.expr, h.ctx, p.name));
      }
      into.liveness.push(ob);
    }
  }

  /**
   * A temporal formula as a tree over state and step predicates: definitions and instances
   * unfolded, bounded quantifiers over constant sets expanded, ~> and WF/SF rewritten into
   * []/<> (WF_v(A) = []<>~ENABLED <<A>>_v \/ []<><<A>>_v, SF_v(A) = <>[]~ENABLED <<A>>_v \/ []<><<A>>_v).
   */
  temporal(e0: Expr, ctx0: Ctx, name: string): TForm<Pred> {
    if (this.level(e0, ctx0) < 2) return tf.atom(this.pred(e0, ctx0, false, name));
    const { expr: e, ctx } = this.head(e0, ctx0);
    const go = (x: Expr, c: Ctx = ctx): TForm<Pred> => this.temporal(x, c, name);
    const unsupported = (what: string): never => {
      throw new TlaError(
        'unsupported',
        `PROPERTY ${name}: ${what} at ${e.loc.file}:${e.loc.line}:${e.loc.col} is not supported in temporal properties ` +
          '(supported: [] <> ~> ~ /\\ \\/ => <=> over state and action predicates, ENABLED, WF/SF, IF with a state condition, \\A and \\E over constant sets)',
        e.loc,
      );
    };
    switch (e.kind) {
      case 'and':
        return tf.and(...e.args.map((a) => go(a)));
      case 'or':
        return tf.or(...e.args.map((a) => go(a)));
      case 'always':
        return tf.always(go(e.expr));
      case 'eventually':
        return tf.eventually(go(e.expr));
      case 'leadsTo':
        return tf.always(tf.implies(go(e.lhs), tf.eventually(go(e.rhs))));
      case 'fairness': {
        const f = this.fairnessOf(e, ctx);
        const enabled = tf.atom<Pred>({ level: 'enabled', f: f.angle, negate: false });
        const taken = tf.atom<Pred>({ level: 'step', f: f.angle, negate: false });
        const disabled = e.strong
          ? tf.eventually(tf.always(tf.not(enabled)))
          : tf.always(tf.eventually(tf.not(enabled)));
        return tf.or(disabled, tf.always(tf.eventually(taken)));
      }
      case 'quant': {
        if (!e.bounds.every((b) => b.set !== null)) return unsupported('an unbounded quantifier');
        const parts = this.instances(e.bounds, ctx).map((c) => go(e.body, c));
        return e.quantifier === 'forall' ? tf.and(...parts) : tf.or(...parts);
      }
      case 'if': {
        if (this.level(e.cond, ctx) >= 2) return unsupported('an IF with a temporal condition');
        const c = go(e.cond);
        return tf.or(tf.and(c, go(e.then)), tf.and(tf.not(c), go(e.else)));
      }
      case 'apply': {
        const [a, b] = e.args;
        if ((e.op === '~' || e.op === '\\lnot' || e.op === '\\neg') && a && !b) return tf.not(go(a));
        if (e.op === '=>' && a && b) return tf.implies(go(a), go(b));
        if ((e.op === '<=>' || e.op === '\\equiv') && a && b) {
          const x = go(a);
          const y = go(b);
          return tf.or(tf.and(x, y), tf.and(tf.not(x), tf.not(y)));
        }
        if (e.op === '/\\' && a && b) return tf.and(go(a), go(b));
        if (e.op === '\\/' && a && b) return tf.or(go(a), go(b));
        return unsupported(`the operator ${e.op} applied to temporal formulas`);
      }
      case 'temporalQuant':
        return unsupported('a temporal quantifier (\\EE / \\AA)');
      case 'let':
        return unsupported('a LET whose body is a temporal formula');
      default:
        return unsupported(`a temporal ${e.kind} expression`);
    }
  }

  private pred(e: Expr, ctx: Ctx, negate: boolean, name: string): Pred {
    const lv = this.level(e, ctx);
    if (lv >= 2)
      throw new TlaError(
        'unsupported',
        `PROPERTY ${name}: nested temporal formula at ${e.loc.line}:${e.loc.col} is not supported here`,
        e.loc,
      );
    return { level: lv === 0 ? 'state' : 'step', f: { name, expr: e, ctx }, negate };
  }

  /** Adds to `ob` the conditions of a behaviour satisfying NOT e. */
  private negate(e0: Expr, ctx0: Ctx, ob: SymbolicObligation, name: string): void {
    const { expr: e, ctx } = this.head(e0, ctx0);
    const unsupported = (): never => {
      throw new TlaError(
        'unsupported',
        `PROPERTY ${name}: the temporal formula at ${e.loc.file}:${e.loc.line}:${e.loc.col} is not one of the supported forms ` +
          '([]P, <>P, []<>P, <>[]P, P ~> Q, [][A]_v, WF/SF, and their conjunctions, disjunctions and \\A)',
        e.loc,
      );
    };
    switch (e.kind) {
      case 'and': {
        // NOT (A /\ B) = NOT A \/ NOT B: only when all but one conjunct is a state predicate at the start.
        return unsupported();
      }
      case 'or':
        for (const a of e.args) this.negate(a, ctx, ob, name);
        return;
      case 'eventually': {
        const x = this.head(e.expr, ctx);
        const lv = this.level(x.expr, x.ctx);
        if (lv === 0) {
          ob.always.push(this.pred(x.expr, x.ctx, true, name));
          return;
        }
        if (x.expr.kind === 'always') {
          const y = this.head(x.expr.expr, x.ctx);
          const p = this.pred(y.expr, y.ctx, true, name);
          (p.level === 'state' ? ob.infinitelyOften : ob.infinitelyOftenSteps).push(p);
          return;
        }
        return unsupported();
      }
      case 'always': {
        const x = this.head(e.expr, ctx);
        if (x.expr.kind === 'eventually') {
          const y = this.head(x.expr.expr, x.ctx);
          const p = this.pred(y.expr, y.ctx, true, name);
          (p.level === 'state' ? ob.eventuallyAlways : ob.eventuallyAlwaysSteps).push(p);
          return;
        }
        if (x.expr.kind === 'apply' && x.expr.op === '=>' && x.expr.args.length === 2) {
          const [pe, qe] = x.expr.args as [Expr, Expr];
          const q = this.head(qe, x.ctx);
          if (
            this.level(pe, x.ctx) === 0 &&
            q.expr.kind === 'eventually' &&
            this.level(q.expr.expr, q.ctx) === 0
          ) {
            this.addTrigger(
              ob,
              this.pred(pe, x.ctx, false, name),
              this.pred(q.expr.expr, q.ctx, true, name),
              e,
            );
            return;
          }
        }
        if (x.expr.kind === 'always') return this.negate(x.expr, x.ctx, ob, name);
        if (this.level(x.expr, x.ctx) === 0) {
          // NOT []P with P a state predicate: eventually NOT P, i.e. a trigger with no obligation after it.
          this.addTrigger(ob, this.pred(x.expr, x.ctx, true, name), null, e);
          return;
        }
        return unsupported();
      }
      case 'leadsTo': {
        if (this.level(e.lhs, ctx) === 0 && this.level(e.rhs, ctx) === 0) {
          this.addTrigger(ob, this.pred(e.lhs, ctx, false, name), this.pred(e.rhs, ctx, true, name), e);
          return;
        }
        return unsupported();
      }
      case 'fairness': {
        const f = this.fairnessOf(e, ctx);
        const enabled: Pred = { level: 'enabled', f: f.angle, negate: false };
        const notTaken: Pred = { level: 'step', f: f.angle, negate: true };
        if (e.strong) ob.infinitelyOften.push(enabled);
        else ob.eventuallyAlways.push(enabled);
        ob.eventuallyAlwaysSteps.push(notTaken);
        return;
      }
      default:
        return unsupported();
    }
  }

  private addTrigger(ob: SymbolicObligation, now: Pred, then: Pred | null, at: Expr): void {
    if (ob.trigger) {
      throw new TlaError(
        'unsupported',
        `PROPERTY ${ob.name}: more than one leads-to/[] obligation in one disjunction is not supported`,
        at.loc,
      );
    }
    ob.trigger = { now: [now], then: then ? [then] : [] };
  }
}

/** Contexts that evaluate every expression alike: one scope, the same bound values. */
function sameCtx(a: Ctx, b: Ctx): boolean {
  if (a === b) return true;
  if (a.scope !== b.scope || a.binds.length !== b.binds.length) return false;
  return a.binds.every(([slot, v], i) => slot === b.binds[i]![0] && v === b.binds[i]![1]);
}

/** The direct subexpressions of an expression. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'num':
    case 'str':
    case 'bool':
    case 'builtinSet':
    case 'name':
    case 'at':
      return [];
    case 'apply':
    case 'moduleRef':
      return [...e.args];
    case 'lambda':
      return [e.body];
    case 'and':
    case 'or':
      return [...e.args];
    case 'quant':
      return [...e.bounds.flatMap((b) => (b.set ? [b.set] : [])), e.body];
    case 'temporalQuant':
      return [e.body];
    case 'choose':
      return [...(e.bound.set ? [e.bound.set] : []), e.body];
    case 'setEnum':
      return [...e.elems];
    case 'setFilter':
      return [...(e.bound.set ? [e.bound.set] : []), e.pred];
    case 'setMap':
      return [e.body, ...e.bounds.flatMap((b) => (b.set ? [b.set] : []))];
    case 'fcn':
      return [...e.bounds.flatMap((b) => (b.set ? [b.set] : [])), e.body];
    case 'fcnApply':
      return [e.fn, ...e.args];
    case 'fcnSet':
      return [e.domain, e.range];
    case 'record':
      return e.fields.map((f) => f.value);
    case 'recordSet':
      return e.fields.map((f) => f.set);
    case 'dot':
      return [e.record];
    case 'tuple':
      return [...e.elems];
    case 'except':
      return [
        e.fn,
        ...e.updates.flatMap((u) => [...u.path.flatMap((s) => (s.kind === 'index' ? s.args : [])), u.value]),
      ];
    case 'if':
      return [e.cond, e.then, e.else];
    case 'case':
      return [...e.arms.flatMap((a) => [a.cond, a.body]), ...(e.other ? [e.other] : [])];
    case 'let':
      return [...e.defs.flatMap((d) => (d.kind === 'opDef' || d.kind === 'fcnDef' ? [d.body] : [])), e.body];
    case 'prime':
    case 'unchanged':
    case 'enabled':
    case 'always':
    case 'eventually':
      return [e.expr];
    case 'boxAction':
    case 'angleAction':
      return [e.action, e.vars];
    case 'fairness':
      return [e.vars, e.action];
    case 'leadsTo':
      return [e.lhs, e.rhs];
  }
}
