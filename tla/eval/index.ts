// The evaluator's public API: buildModel(spec, constants, overrides) -> Model
// (see tla/README.md for the contract used by the checker).
import { fileURLToPath } from 'node:url';
import type { Expr, LoadedSpec, Loc, Module } from '../ast.ts';
import { STANDARD_MODULES } from '../ast.ts';
import { TlaError, formatLoc } from '../errors.ts';
import { describeValue, mkRecord, toTla } from '../values.ts';
import type { Value } from '../values.ts';
import { makeBuiltins } from './builtins.ts';
import { Compiler, Scope } from './compile.ts';
import type { Act, Binding, Fn } from './compile.ts';

export type State = readonly Value[];

export interface ActionLabel {
  name: string;
  args: Record<string, Value>;
}

export type ConstantAssignment = { kind: 'value'; value: Value } | { kind: 'operator'; name: string };

/** Opaque evaluation context: a compile-time scope plus values bound with Model.bind. */
export interface Ctx {
  readonly scope: Scope;
  readonly binds: readonly (readonly [number, Value])[];
}

export interface Model {
  variables: readonly string[];
  rootCtx: Ctx;
  lookup(name: string): Expr;
  unfold(expr: Expr, ctx: Ctx): { expr: Expr; ctx: Ctx } | null;
  bind(ctx: Ctx, name: string, value: Value): Ctx;
  checkAssumptions(): void;
  initStates(init: Expr, ctx: Ctx, emit: (s: State) => void): void;
  successors(next: Expr, ctx: Ctx, s: State, emit: (t: State, label: ActionLabel) => void): void;
  /**
   * The ways (s, t) is a step of `next`: its successor enumeration run from s with every
   * primed variable already holding its value in t, so that each assignment `x' = e` (and
   * `x' \in S`, UNCHANGED) tests instead of assigning; emit is called with the label of each
   * branch that holds, in the order `successors` would emit t. No successor is built, and a
   * branch stops at its first conjunct t contradicts. Unlike `successors`, it cannot notice a
   * branch that leaves a variable unassigned (every variable of t has a value), nor a primed
   * variable read before its assignment (step labellers check those with `successors`).
   */
  stepsTo(next: Expr, ctx: Ctx, s: State, t: State, emit: (label: ActionLabel) => void): void;
  evalState(expr: Expr, ctx: Ctx, s: State): Value;
  evalAction(expr: Expr, ctx: Ctx, s: State, t: State): Value;
  enabled(action: Expr, ctx: Ctx, s: State): boolean;
  evalConstant(expr: Expr, ctx: Ctx): Value;
  /** The value TLCGet("level") returns (the checker sets it to the current depth). */
  tlcLevel: number;
  /**
   * Intermediate states u of action compositions `A \cdot B` (s -A-> u) computed by
   * `successors` so far. TLC counts them as generated states besides the successors
   * emitted, so a checker matching TLC's statesGenerated adds this number.
   */
  readonly cdotGenerated: number;
}

/** The run settings `TLCGet("config")` reports (a breadth-first model-checking run). */
export interface RunConfig {
  /** Whether deadlock is checked (TLC: FALSE with -deadlock or CHECK_DEADLOCK FALSE). Default true. */
  deadlock?: boolean;
  /** Number of workers (default 1). */
  workers?: number;
}

export interface BuildOptions {
  /** Where Print and PrintT write (default: stderr). */
  print?: (line: string) => void;
  /** Seed of RandomElement's generator (default 1: runs are reproducible). */
  seed?: number;
  /** The run settings TLCGet("config") reports. */
  run?: RunConfig;
}

const STANDARD: ReadonlySet<string> = new Set(STANDARD_MODULES);

/** TLC's Java property switching action composition on (TLCGet returns "true": always supported here). */
const CDOT_PROPERTY = '-Dtlc2.tool.impl.Tool.cdot';

/**
 * TLCGet("config"): the record TLC returns for a breadth-first model-checking run, with the
 * same fields: mode ("bfs"), deadlock (whether deadlock is checked), worker (number of
 * workers), seed (the RandomElement seed, as a string), fingerprint (TLC gives its
 * fingerprint polynomial as a string; here the name of this checker's fingerprint function)
 * and install (where this checker is installed).
 */
function runConfigValue(options: BuildOptions): Value {
  const run = options.run ?? {};
  return mkRecord([
    ['mode', 'bfs'],
    ['deadlock', run.deadlock ?? true],
    ['worker', run.workers ?? 1],
    ['seed', String(options.seed ?? 1)],
    ['fingerprint', 'murmur3-64'],
    ['install', fileURLToPath(new URL('../..', import.meta.url))],
  ]);
}

interface CacheEntry {
  fn?: Fn;
  init?: Act;
  next?: Act;
  enabled?: Act;
}

export function buildModel(
  spec: LoadedSpec,
  constants: ReadonlyMap<string, ConstantAssignment>,
  overrides: ReadonlyMap<string, string> = new Map(),
  options: BuildOptions = {},
): Model {
  // Every module by name, nested ones included.
  const modules = new Map<string, Module>();
  const addModule = (m: Module): void => {
    if (!modules.has(m.name)) modules.set(m.name, m);
    for (const s of m.submodules) addModule(s);
  };
  addModule(spec.root);
  for (const m of spec.modules.values()) addModule(m);
  const findModule = (name: string, loc: Loc): Module => {
    if (name === 'Reals')
      throw new TlaError(
        'unsupported',
        "The standard module Reals is not supported by Buffy's evaluator (TLC integers only)",
        loc,
      );
    const m = modules.get(name);
    if (!m) throw new TlaError('semantic', `Module ${name} is not loaded`, loc);
    return m;
  };

  // Variables: the root module's and those of the modules it extends.
  const variables: string[] = [];
  const seenVars = new Set<string>();
  const collectVars = (m: Module, seen: Set<string>): void => {
    if (seen.has(m.name)) return;
    seen.add(m.name);
    for (const e of m.extends)
      if (!STANDARD.has(e)) collectVars(findModule(e, { file: m.file, line: 1, col: 1 }), seen);
    for (const v of m.variables) {
      if (!seenVars.has(v.name)) {
        seenVars.add(v.name);
        variables.push(v.name);
      }
    }
  };
  collectVars(spec.root, new Set());

  let rngState = (options.seed ?? 1) >>> 0 || 1;
  const registers = new Map<number, Value>();
  const modelRef: { m: Model | null } = { m: null };
  const builtins = makeBuiltins({
    print: options.print ?? ((line) => process.stderr.write(`${line}\n`)),
    random: () => {
      // xorshift32: deterministic, seedable.
      rngState ^= rngState << 13;
      rngState ^= rngState >>> 17;
      rngState ^= rngState << 5;
      return (rngState >>> 0) / 4294967296;
    },
    tlcGet: (k) => {
      if (typeof k === 'number') {
        const v = registers.get(k);
        if (v === undefined)
          throw new TlaError('eval', `TLCGet(${k}): register ${k} was never set with TLCSet`);
        return v;
      }
      if (k === 'level') return modelRef.m!.tlcLevel;
      if (k === 'config') return runConfigValue(options);
      // TLC reads a Java system property; its default is the key itself. The one property
      // specs test is the switch of action composition, which is always on here.
      if (typeof k === 'string' && k.startsWith('-D')) return k === CDOT_PROPERTY ? 'true' : k;
      throw new TlaError(
        'unsupported',
        `TLCGet(${describeValue(k)}) is not supported (only integer registers, "level", "config" and "-D<property>")`,
      );
    },
    tlcSet: (k, v) => {
      if (typeof k !== 'number')
        throw new TlaError(
          'unsupported',
          `TLCSet(${describeValue(k)}, ...) is not supported (only integer registers)`,
        );
      registers.set(k, v);
    },
  });
  const compiler = new Compiler(builtins, variables);
  compiler.findModule = findModule;

  const assumptions: { expr: Expr; scope: Scope; loc: Loc }[] = [];
  /** Definitions (and standard operators) replaced by the model, in every module. */
  const modelOverrides = new Map<string, Binding>();

  /** The scope of module `mod` where its constants/variables are bound by subst. */
  const buildScope = (
    mod: Module,
    subst: (name: string) => Binding | undefined,
    root: boolean,
    withAssumptions: boolean,
    into: Scope = new Scope(null, { overrides: modelOverrides }),
  ): Scope => {
    const scope = into;
    const seen = new Set<string>();
    const visit = (m: Module): void => {
      if (seen.has(m.name)) return;
      seen.add(m.name);
      for (const e of m.extends)
        if (!STANDARD.has(e)) visit(findModule(e, { file: m.file, line: 1, col: 1 }));
      for (const c of m.constants)
        scope.map.set(c.name, subst(c.name) ?? { k: 'unassigned', name: c.name, loc: c.loc });
      for (const v of m.variables) {
        if (root) scope.map.set(v.name, { k: 'var', index: variables.indexOf(v.name), name: v.name });
        else {
          const b = subst(v.name);
          if (!b)
            throw new TlaError(
              'semantic',
              `INSTANCE of ${mod.name}: its variable ${v.name} has no substitution and no same-named variable or definition to stand for it`,
              v.loc,
            );
          // Marked as a variable's substitution: free under an ENABLED inside the instance (TLC).
          scope.map.set(v.name, b.k === 'alias' ? { ...b, variable: v.name } : b);
        }
      }
      compiler.addDefinitions(scope, m.definitions, (inst) => {
        const im = findModule(inst.module, inst.loc);
        const subs = new Map(inst.substitutions.map((s) => [s.name, s.expr] as const));
        const instScope = buildScope(
          im,
          (name) => {
            const ex = subs.get(name);
            if (ex) return { k: 'alias', expr: ex, scope };
            if (
              !scope.lookup(name) &&
              !m.constants.some((c) => c.name === name) &&
              !m.variables.some((v) => v.name === name)
            ) {
              return undefined;
            }
            return { k: 'alias', expr: { kind: 'name', name, loc: inst.loc }, scope };
          },
          false,
          false, // TLC checks the ASSUMEs of the root and what it EXTENDS, not of instantiated modules
        );
        for (const [name, b] of instScope.map) {
          if (b.k === 'def' || b.k === 'fcndef' || b.k === 'instance') {
            const local = im.definitions.some((d) => d.kind !== 'instance' && d.name === name && d.local);
            if (!local) scope.map.set(name, b);
          }
        }
      });
      if (withAssumptions)
        for (const a of m.assumptions) assumptions.push({ expr: a.expr, scope, loc: a.expr.loc });
    };
    visit(mod);
    return scope;
  };

  // Named instances bring no ASSUMEs either: TLC leaves an instantiated module's assumptions
  // unchecked (they may range over sets it cannot enumerate, as in tlaplus/Examples' TestGraphs).
  compiler.buildInstanceScope = (mod, subst) => buildScope(mod, subst, false, false);

  const declared = new Set<string>();
  const collectConsts = (m: Module, seen: Set<string>): void => {
    if (seen.has(m.name)) return;
    seen.add(m.name);
    for (const e of m.extends)
      if (!STANDARD.has(e)) collectConsts(findModule(e, { file: m.file, line: 1, col: 1 }), seen);
    for (const c of m.constants) declared.add(c.name);
  };
  collectConsts(spec.root, new Set());

  const rootScope = new Scope(null, { overrides: modelOverrides });
  const constantBinding = (name: string): Binding | undefined => {
    const a = constants.get(name);
    if (!a) return undefined;
    if (a.kind === 'value') return { k: 'value', value: a.value };
    return {
      k: 'alias',
      expr: { kind: 'name', name: a.name, loc: { file: spec.root.file, line: 0, col: 0 } },
      scope: rootScope,
    };
  };
  buildScope(spec.root, constantBinding, true, true, rootScope);
  // Definitions replaced by values or other operators in the model.
  // They apply in every module (named and unnamed instances included) and to standard
  // operators, as TLC's model overrides do.
  for (const name of constants.keys()) {
    if (declared.has(name)) continue;
    const b = constantBinding(name);
    if (b) modelOverrides.set(name, b);
  }
  for (const [name, repl] of overrides) {
    if (!rootScope.lookup(repl) && !builtins.has(repl)) {
      throw new TlaError('config', `Cannot replace ${name} by ${repl}: ${repl} is not defined`);
    }
    modelOverrides.set(name, {
      k: 'alias',
      expr: { kind: 'name', name: repl, loc: { file: spec.root.file, line: 0, col: 0 } },
      scope: rootScope,
    });
  }

  const rt = compiler.rt;
  const nVars = variables.length;

  const entry = (expr: Expr, scope: Scope): CacheEntry => {
    let c = scope.cache.get(expr) as CacheEntry | undefined;
    if (!c) {
      c = {};
      scope.cache.set(expr, c);
    }
    return c;
  };
  const exprFn = (expr: Expr, ctx: Ctx): Fn => {
    const c = entry(expr, ctx.scope);
    if (!c.fn) c.fn = compiler.expr(expr, ctx.scope);
    return c.fn;
  };
  const applyBinds = (ctx: Ctx): void => {
    for (const [slot, v] of ctx.binds) rt.slots[slot] = v;
  };
  /** Runs f with rt.s/rt.t set, restoring the previous evaluation context afterwards (re-entrance from emit callbacks). */
  const withStates = <T>(
    s: (Value | undefined)[] | null,
    t: (Value | undefined)[] | null,
    f: () => T,
    stable = true,
  ): T => {
    const saveS = rt.s;
    const saveT = rt.t;
    const saveName = rt.lblName;
    const saveBase = rt.lblBase;
    const saveLen = rt.lblLen;
    const saveAction = rt.actionName;
    const saveStable = rt.stable;
    const saveEpoch = rt.epoch;
    const saveCount = rt.countCdot;
    rt.countCdot = false;
    rt.s = s;
    rt.t = t;
    // s is complete and unchanged during f (except while initial states are enumerated): a new
    // epoch, in which values computed from s may be remembered.
    rt.stable = stable && s !== null;
    rt.epoch = ++rt.epochs;
    try {
      return f();
    } catch (x) {
      if (x instanceof RangeError && /call stack/i.test(x.message)) {
        throw new TlaError(
          'eval',
          'Evaluation recursed too deeply (JavaScript stack overflow): check RECURSIVE operators and recursive function definitions for a missing base case',
        );
      }
      throw x;
    } finally {
      rt.s = saveS;
      rt.t = saveT;
      rt.lblName = saveName;
      rt.lblBase = saveBase;
      rt.lblLen = saveLen;
      rt.actionName = saveAction;
      rt.stable = saveStable;
      rt.epoch = saveEpoch;
      rt.countCdot = saveCount;
    }
  };

  const names = new Map<string, Expr>();
  const rootCtx: Ctx = { scope: rootScope, binds: [] };

  const describeExpr = (e: Expr): string =>
    e.kind === 'name' ? e.name : e.kind === 'apply' ? e.op : `the action at ${formatLoc(e.loc)}`;

  const model: Model = {
    variables,
    rootCtx,
    tlcLevel: 0,
    get cdotGenerated() {
      return rt.cdotGenerated;
    },
    lookup(name) {
      let e = names.get(name);
      if (!e) {
        const b = rootScope.lookup(name);
        if (!b) throw new TlaError('config', `${name} is not defined in module ${spec.root.name}`);
        const loc =
          b.k === 'def' || b.k === 'fcndef' ? b.info.loc : { file: spec.root.file, line: 1, col: 1 };
        e = { kind: 'name', name, loc };
        names.set(name, e);
      }
      return e;
    },
    unfold(expr, ctx) {
      let b: Binding | undefined;
      let args: readonly Expr[] = [];
      if (expr.kind === 'name') b = ctx.scope.lookup(expr.name);
      else if (expr.kind === 'apply') {
        b = ctx.scope.lookup(expr.op);
        args = expr.args;
      } else if (expr.kind === 'moduleRef') {
        // Resolve through the instance path by compiling a reference (builds the instance scope).
        const probe = ctx.scope;
        const ms = compiler.resolveInstancePath(expr, probe);
        b = ms.lookup(expr.op);
        args = expr.args;
      } else return null;
      if (!b) return null;
      if (b.k === 'alias' && args.length === 0)
        return { expr: b.expr, ctx: { scope: b.scope, binds: ctx.binds } };
      if (b.k !== 'def') return null;
      const info = b.info;
      if (info.params.length !== args.length) return null;
      if (args.length === 0) return { expr: info.body, ctx: { scope: info.scope, binds: ctx.binds } };
      const s = new Scope(info.scope);
      info.params.forEach((p, i) => s.map.set(p.name, { k: 'alias', expr: args[i]!, scope: ctx.scope }));
      return { expr: info.body, ctx: { scope: s, binds: ctx.binds } };
    },
    bind(ctx, name, value) {
      let child = ctx.scope.bindChildren.get(name);
      if (!child) {
        const scope = new Scope(ctx.scope);
        const slot = compiler.allocSlot();
        scope.map.set(name, { k: 'slot', slot, name });
        child = { scope, slot };
        ctx.scope.bindChildren.set(name, child);
      }
      return { scope: child.scope, binds: [...ctx.binds, [child.slot, value] as const] };
    },
    checkAssumptions() {
      // Build the root module's instances without parameters, so that their ASSUMEs are known.
      for (const [name, b] of rootScope.map) {
        if (b.k === 'instance' && b.info.def.params.length === 0 && !b.info.built) {
          compiler.resolveInstancePath(
            { kind: 'moduleRef', path: [{ name, args: [] }], op: name, args: [], loc: b.info.def.loc },
            rootScope,
          );
        }
      }
      for (const a of assumptions) {
        const c = entry(a.expr, a.scope);
        if (!c.fn) c.fn = compiler.expr(a.expr, a.scope);
        const f = c.fn;
        const v = withStates(null, null, f);
        if (v === true) continue;
        if (v === false) throw new TlaError('eval', `Assumption at ${formatLoc(a.loc)} is false`, a.loc);
        throw new TlaError(
          'eval',
          `Assumption at ${formatLoc(a.loc)} is not a boolean: it evaluated to ${describeValue(v)}`,
          a.loc,
        );
      }
    },
    initStates(init, ctx, emit) {
      const c = entry(init, ctx.scope);
      if (!c.init) c.init = compiler.action(init, ctx.scope, 'init', false);
      const act = c.init;
      applyBinds(ctx);
      const s: (Value | undefined)[] = new Array(nVars).fill(undefined);
      // s is assigned step by step: not a stable state.
      const run = (): void => {
        rt.actionName = describeExpr(init);
        act(() => {
          for (let i = 0; i < nVars; i++) {
            if (s[i] === undefined) {
              throw new TlaError(
                'eval',
                `The initial predicate ${describeExpr(init)} does not assign a value to the variable ${variables[i]}`,
                init.loc,
              );
            }
          }
          const copy = s.slice() as Value[];
          emit(copy);
        });
      };
      withStates(s, null, run, false);
    },
    successors(next, ctx, s, emit) {
      const c = entry(next, ctx.scope);
      if (!c.next) c.next = compiler.action(next, ctx.scope, 'next', true);
      const act = c.next;
      applyBinds(ctx);
      const t: (Value | undefined)[] = new Array(nVars).fill(undefined);
      const top = describeExpr(next);
      withStates(s as Value[], t, () => {
        rt.countCdot = true;
        rt.lblName = top;
        // Labels of this enumeration stack above those of an enumeration it runs inside.
        rt.lblBase = rt.lblLen;
        rt.actionName = top;
        try {
          act(() => {
            for (let i = 0; i < nVars; i++) {
              if (t[i] === undefined) {
                throw new TlaError(
                  'eval',
                  `Action ${rt.lblName} produced a successor that does not assign a value to the variable ${variables[i]} (from state ${showState(variables, s)})`,
                  next.loc,
                );
              }
            }
            const args: Record<string, Value> = {};
            const ns = rt.lblNames;
            const vs = rt.lblVals;
            for (let i = rt.lblBase; i < rt.lblLen; i++) args[ns[i]!] = vs[i]!;
            const copy = t.slice() as Value[];
            const label = { name: rt.lblName, args };
            // emit may evaluate other expressions (invariants): every Model entry point
            // saves and restores the evaluation context, so ours stays intact.
            try {
              emit(copy, label);
            } catch (x) {
              throw new FromEmit(x);
            }
          });
        } catch (x) {
          if (x instanceof FromEmit) throw x.error;
          if (
            x instanceof TlaError &&
            x.kind === 'eval' &&
            !x.message.includes('while computing successors')
          ) {
            throw new TlaError(
              x.kind,
              `${x.message}\n  while computing successors with action ${rt.lblName} of state ${showState(variables, s)}`,
              x.loc,
            );
          }
          throw x;
        }
      });
    },
    stepsTo(next, ctx, s, t, emit) {
      const c = entry(next, ctx.scope);
      if (!c.next) c.next = compiler.action(next, ctx.scope, 'next', true);
      const act = c.next;
      applyBinds(ctx);
      // A copy: the compiled action writes into its next state only where it is unassigned.
      const u = t.slice() as (Value | undefined)[];
      const top = describeExpr(next);
      withStates(s as Value[], u, () => {
        rt.lblName = top;
        rt.lblBase = rt.lblLen;
        rt.actionName = top;
        try {
          act(() => {
            const args: Record<string, Value> = {};
            const ns = rt.lblNames;
            const vs = rt.lblVals;
            for (let i = rt.lblBase; i < rt.lblLen; i++) args[ns[i]!] = vs[i]!;
            const label = { name: rt.lblName, args };
            try {
              emit(label);
            } catch (x) {
              throw new FromEmit(x);
            }
          });
        } catch (x) {
          if (x instanceof FromEmit) throw x.error;
          if (x instanceof TlaError && x.kind === 'eval' && !x.message.includes('while checking the step'))
            throw new TlaError(
              x.kind,
              `${x.message}\n  while checking the step with action ${rt.lblName} from state ${showState(variables, s)} to ${showState(variables, t)}`,
              x.loc,
            );
          throw x;
        }
      });
    },
    evalState(expr, ctx, s) {
      const f = exprFn(expr, ctx);
      applyBinds(ctx);
      return withStates(s as Value[], null, f);
    },
    evalAction(expr, ctx, s, t) {
      const f = exprFn(expr, ctx);
      applyBinds(ctx);
      return withStates(s as Value[], t as Value[], f);
    },
    enabled(action, ctx, s) {
      const c = entry(action, ctx.scope);
      if (!c.enabled) c.enabled = compiler.enabledAction(action, ctx.scope);
      const act = c.enabled;
      applyBinds(ctx);
      return withStates(s as Value[], null, () => compiler.runEnabled(act));
    },
    evalConstant(expr, ctx) {
      const f = exprFn(expr, ctx);
      applyBinds(ctx);
      return withStates(null, null, f);
    },
  };
  modelRef.m = model;
  return model;
}

/** An exception thrown by the checker's emit callback, passed through untouched. */
class FromEmit {
  constructor(readonly error: unknown) {}
}

/** `x = 1, y = {}`: a state for messages. */
export function showState(variables: readonly string[], s: State): string {
  const parts = variables.map((v, i) => {
    const x = s[i];
    let text: string;
    try {
      text = x === undefined ? '(unassigned)' : toTla(x);
    } catch {
      text = '(unprintable)';
    }
    return `${v} = ${text.length > 120 ? `${text.slice(0, 120)}...` : text}`;
  });
  return `[${parts.join(', ')}]`;
}
