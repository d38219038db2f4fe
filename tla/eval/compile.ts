// Compilation of TLA+ expressions to JS closures.
//
// Names are resolved once, at compile time, against a chain of scopes. Bound variables,
// operator parameters and LET values live in numbered slots of one runtime array
// (`rt.slots`): every binder owns its slots, sets them on entry and restores the previous
// values on exit, so recursion and re-entrance see the right values. Zero-arity definitions
// that depend on no variable and no outer slot are evaluated once and cached.
//
// Actions are compiled in continuation-passing style (`Act = (k) => void`): a conjunct
// `x' = e` assigns x' when it is unassigned and tests it otherwise, `x' \in S` enumerates S,
// disjunctions and \E call k once per branch/witness (so duplicates are counted like TLC).
import type { Bound, Definition, Expr, Loc, Module, Param } from '../ast.ts';
import { TlaError } from '../errors.ts';
import {
  BOOLEAN_SET,
  EMPTY_SET,
  EMPTY_TUPLE,
  FilteredSet,
  LazyFcn,
  RecordSet,
  RecordValue,
  STRING_SET,
  SetEnum,
  SetValue,
  TupleValue,
  describeValue,
  equals,
  fcnApply,
  fcnExcept,
  fcnHas,
  fcnPos,
  fcnReplaceAt,
  fcnValAt,
  internName,
  isFcn,
  mkFcn,
  setOf,
  toTlaShort,
} from '../values.ts';
import type { Value } from '../values.ts';
import { asSet, fcnSet, product } from './builtins.ts';
import type { Builtin, OpClosure } from './builtins.ts';

export type Fn = () => Value;
export type Act = (k: () => void) => void;

/** What a compiled closure reads at run time. */
export class Runtime {
  /** Current state (partially assigned while enumerating initial states); null for constant evaluation. */
  s: (Value | undefined)[] | null = null;
  /** Next state (partially assigned while enumerating successors); null outside actions. */
  t: (Value | undefined)[] | null = null;
  slots: unknown[] = [];
  /** The label of the action being enumerated: its name, ... */
  lblName = '';
  /**
   * ... and its arguments: entries lblBase..lblLen-1 of two parallel stacks (names, values),
   * pushed by the operator call that set the name and by the \E witnesses below it, popped on
   * the way out (no allocation per witness; the label object is built only for a successor).
   */
  lblNames: string[] = [];
  lblVals: Value[] = [];
  lblBase = 0;
  lblLen = 0;
  /** The action being evaluated, for error messages. */
  actionName = '';
  /** > 0 while a primed expression is evaluated in the next state (for error messages). */
  primed = 0;
  /**
   * rt.s is a complete state that does not change during this evaluation (false while initial
   * states are enumerated): values computed from it may be remembered for this epoch.
   */
  stable = false;
  /** Identifies one evaluation (one Model entry point call); see `Compiler.substRead`. */
  epoch = 0;
  /** The last epoch number handed out. */
  epochs = 0;
  /**
   * Intermediate states u of action compositions `A \cdot B` computed so far (s -A-> u):
   * TLC counts them as generated states, besides the successors themselves.
   */
  cdotGenerated = 0;
  /** Whether cdotGenerated counts now (set by Model.successors, cleared by other entry points). */
  countCdot = false;
}

const UNEVAL = Symbol('unevaluated');

/**
 * An operator argument whose evaluation failed. TLC evaluates arguments lazily, so the
 * error is raised only if the body reads the parameter.
 */
class Deferred {
  constructor(readonly error: TlaError) {}
}

function deferring(f: Fn): Fn {
  return () => {
    try {
      return f();
    } catch (e) {
      if (e instanceof TlaError && e.kind === 'eval') return new Deferred(e) as unknown as Value;
      throw e;
    }
  };
}
const FOUND = Symbol('found');

// ---------------------------------------------------------------------------------------
// Scopes and bindings

interface OpInfo {
  readonly name: string;
  readonly params: readonly Param[];
  readonly body: Expr;
  readonly scope: Scope;
  readonly loc: Loc;
  readonly moduleLevel: boolean;
  readonly recursive: boolean;
  /** Some parameter is primed (or under UNCHANGED/ENABLED) in the body: calls substitute arguments. */
  byName: boolean | null;
  state: 0 | 1 | 2;
  slots: number[];
  bodyScope: Scope | null;
  fn: Fn | null;
  usesState: boolean;
  free: number[];
  cache: unknown;
  acts: Map<string, Act>;
}

interface FcnInfo {
  readonly name: string;
  readonly bounds: readonly Bound[];
  readonly body: Expr;
  readonly scope: Scope;
  readonly loc: Loc;
  readonly moduleLevel: boolean;
  state: 0 | 1 | 2;
  selfSlot: number;
  make: (() => LazyFcn) | null;
  /** Reads a variable (directly or through definitions); outer bound variables read are in `free`. */
  usesState: boolean;
  free: number[];
  cache: LazyFcn | null;
}

export interface InstanceInfo {
  readonly def: Extract<Definition, { kind: 'instance' }>;
  readonly scope: Scope;
  /** For an instance without parameters: its module scope, built on first use. */
  built: Scope | null;
  /** Defined by `LET I == INSTANCE M ...` (see `Scope.lookupInstanceOp`). */
  readonly inLet?: boolean;
}

export type Binding =
  | { readonly k: 'var'; readonly index: number; readonly name: string }
  | { readonly k: 'value'; readonly value: Value }
  | { readonly k: 'unassigned'; readonly name: string; readonly loc: Loc }
  /** param: an operator parameter, the one kind of slot that may hold a Deferred argument. */
  | { readonly k: 'slot'; readonly slot: number; readonly name: string; readonly param?: boolean }
  | { readonly k: 'opslot'; readonly slot: number; readonly arity: number; readonly name: string }
  | { readonly k: 'letval'; readonly slot: number; readonly info: OpInfo }
  | { readonly k: 'def'; readonly info: OpInfo }
  | { readonly k: 'fcndef'; readonly info: FcnInfo }
  | {
      readonly k: 'alias';
      readonly expr: Expr;
      readonly scope: Scope;
      /** Set when the alias substitutes a VARIABLE of an instantiated module (its name). */
      readonly variable?: string;
    }
  | { readonly k: 'instance'; readonly info: InstanceInfo };

/**
 * Inside ENABLED, the variables of an instantiated module whose substitution was made outside
 * the ENABLED (the instance's own definitions, a fairness condition of `I!Spec`) are free, as
 * in TLC: `y' = e` assigns a next-state slot of its own (after the real variables), `y'` reads
 * it, and an unprimed `y` still means its substitution. `bindings` are those substitutions;
 * operator bodies and actions compiled under them are cached here, apart from the ordinary ones.
 */
interface FreeCtx {
  readonly bindings: ReadonlySet<Binding>;
  readonly ops: Map<OpInfo, { fn: Fn | null }>;
  readonly acts: Map<OpInfo, Map<string, Act>>;
}

export class Scope {
  readonly map = new Map<string, Binding>();
  /** Compiled closures of expressions evaluated in this scope (by the Model API). */
  readonly cache = new Map<Expr, unknown>();
  /** Child scopes created by Model.bind, by name. */
  readonly bindChildren = new Map<string, { scope: Scope; slot: number }>();
  /**
   * Model overrides (`Op <- Other` and definitions given values in the .cfg), shared by every
   * module scope: they replace the definition of that name in any module, and standard
   * operators (`Seq <- BoundedSeq`).
   */
  readonly overrides: ReadonlyMap<string, Binding> | null;
  /** A module's scope (its definitions can be overridden), as opposed to LET and binder scopes. */
  readonly isModule: boolean;
  constructor(
    readonly parent: Scope | null,
    module?: { overrides: ReadonlyMap<string, Binding> },
  ) {
    this.overrides = module ? module.overrides : (parent?.overrides ?? null);
    this.isModule = module !== undefined;
  }
  lookup(name: string): Binding | undefined {
    const own = this.map.get(name);
    if (own) return this.overridden(name, own);
    let s = this.parent;
    while (s) {
      const b = s.map.get(name);
      if (b) return s.overridden(name, b);
      s = s.parent;
    }
    return this.overrides?.get(name);
  }
  /**
   * `I!Op` in an instance's module scope. For an instance defined inside LET, the instance's
   * own definition of Op, not a model override of Op: TLC overrides the definitions of the
   * modules and copies the override to the `I!Op` of the module-level instances, but the
   * `I!Op` of a LET instance is none of them, so `Op <- MCOp` with
   * `MCOp == LET I == INSTANCE M IN ... I!Op ...` calls the original Op
   * (MCCheckpointCoordination), while `[M]Op = v` makes a module-level `N!Op` equal v
   * (MCNano's `N!NoBlock`).
   */
  lookupInstanceOp(name: string): Binding | undefined {
    if (this.letInstance) return this.map.get(name) ?? this.lookup(name);
    return this.lookup(name);
  }
  /** The module scope of an instance defined inside LET. */
  letInstance = false;
  private overridden(name: string, b: Binding): Binding {
    if (this.isModule && (b.k === 'def' || b.k === 'fcndef')) return this.overrides?.get(name) ?? b;
    return b;
  }
}

/** Tracks, while compiling a definition, whether it reads variables or outer slots. */
interface Tracker {
  readonly slotStart: number;
  /** Reads a variable or an outer slot: not a constant here. */
  usesState: boolean;
  /** Reads a variable (or something impure). */
  readsState?: boolean;
  readonly self: OpInfo | FcnInfo | null;
  /** Outer slots read (collected for LAMBDA capture and operator definitions). */
  readonly free: Set<number>;
}

export type Mode = 'init' | 'next';

/** What UNCHANGED covers: a state slot (cur: the current value of a free slot), or an expression. */
type UnchangedTarget = { v: number; cur?: Fn } | { f: Fn; p: Fn };

function isTrue(v: Value, what: string, loc: Loc): boolean {
  if (typeof v === 'boolean') return v;
  throw new TlaError('eval', `${what} should be a boolean, but it evaluated to ${describeValue(v)}`, loc);
}

function attachLoc(e: unknown, loc: Loc): unknown {
  if (e instanceof TlaError && e.loc === null) return new TlaError(e.kind, e.message, loc);
  return e;
}

function unsupported(what: string, loc: Loc): TlaError {
  return new TlaError('unsupported', `${what} is not supported by Buffy's evaluator`, loc);
}

function semantic(msg: string, loc: Loc): TlaError {
  return new TlaError('semantic', msg, loc);
}

function exprText(e: Expr): string {
  switch (e.kind) {
    case 'name':
      return e.name;
    case 'apply':
      return e.args.length === 0 ? e.op : `${e.op}(...)`;
    case 'moduleRef':
      return `${e.path.map((p) => p.name).join('!')}!${e.op}`;
    default:
      return e.kind;
  }
}

/** Names of the Reals module, which Buffy's evaluator does not implement. */
const REALS: ReadonlySet<string> = new Set(['Real', 'Infinity', '/']);

/** A constant set filter whose base has at most this many elements is built once and remembered. */
const SMALL_FILTER_BASE = 10_000;

/** Expression kinds worth caching when constant (names, literals and junctions are not). */
const FOLDABLE: ReadonlySet<string> = new Set([
  'apply',
  'moduleRef',
  'setEnum',
  'setFilter',
  'setMap',
  'fcn',
  'fcnSet',
  'record',
  'recordSet',
  'tuple',
  'choose',
  'quant',
  'except',
  'fcnApply',
  'dot',
  'case',
  'if',
  'let',
]);

const TEMPORAL: ReadonlySet<string> = new Set([
  'fairness',
  'always',
  'eventually',
  'leadsTo',
  'temporalQuant',
]);

export class Compiler {
  readonly rt = new Runtime();
  private trackers: Tracker[] = [];
  private nextSlot = 0;
  /** The free substituted variables of the ENABLED being compiled (null elsewhere). */
  private free: FreeCtx | null = null;
  /** FreeCtx by module scope (variable substitutions are bound in module scopes, the roots of scope chains). */
  private readonly freeCtxs = new WeakMap<Scope, FreeCtx | null>();
  /** Free next-state slots: substitution -> index (>= variables.length) in rt.t under ENABLED. */
  private readonly freeIndex = new Map<Binding, number>();
  /** The substitution of each free slot, by index - variables.length. */
  private readonly freeSubst: Extract<Binding, { k: 'alias' }>[] = [];
  /** Variable substitutions that read no bound variable: compiled once, last value remembered. */
  private readonly substMemo = new Map<Binding, { fn: Fn; epoch: number; s: unknown; v: Value } | null>();

  constructor(
    readonly builtins: ReadonlyMap<string, Builtin>,
    readonly variables: readonly string[],
  ) {}

  // -------------------------------------------------------------------------------------
  // Slots and dependency tracking

  allocSlot(): number {
    this.rt.slots.push(undefined);
    return this.nextSlot++;
  }

  private noteState(): void {
    for (const t of this.trackers) {
      t.usesState = true;
      t.readsState = true;
    }
  }

  private noteSlot(slot: number): void {
    for (const t of this.trackers) {
      if (slot < t.slotStart) {
        t.usesState = true;
        t.free.add(slot);
      }
    }
  }

  private noteDef(info: OpInfo | FcnInfo): void {
    if (info.state === 2) {
      if (info.usesState) this.noteState();
      if ('free' in info) for (const f of info.free) this.noteSlot(f);
      return;
    }
    // In progress. A recursive function definition read from inside itself reads its own slot
    // (noted by the caller): the enclosing definitions learn its dependencies when it is done.
    if (!('params' in info)) return;
    // Other cycles are treated as state-dependent.
    for (const t of this.trackers) {
      if (t.self === info) continue;
      t.usesState = true;
      t.readsState = true;
    }
  }

  // -------------------------------------------------------------------------------------
  // Module scopes

  newOpInfo(d: Extract<Definition, { kind: 'opDef' }>, scope: Scope, moduleLevel: boolean): OpInfo {
    return {
      name: d.name,
      params: d.params,
      body: d.body,
      scope,
      loc: d.loc,
      moduleLevel,
      recursive: d.recursive,
      byName: null,
      state: 0,
      slots: [],
      bodyScope: null,
      fn: null,
      usesState: false,
      free: [],
      cache: UNEVAL,
      acts: new Map(),
    };
  }

  newFcnInfo(d: Extract<Definition, { kind: 'fcnDef' }>, scope: Scope, moduleLevel: boolean): FcnInfo {
    return {
      name: d.name,
      bounds: d.bounds,
      body: d.body,
      scope,
      loc: d.loc,
      moduleLevel,
      state: 0,
      selfSlot: -1,
      make: null,
      usesState: false,
      free: [],
      cache: null,
    };
  }

  /** Adds a module's definitions to a scope (EXTENDS and unnamed INSTANCE are handled by the caller via `instantiate`). */
  addDefinitions(
    scope: Scope,
    defs: readonly Definition[],
    instantiate: (d: Extract<Definition, { kind: 'instance' }>) => void,
  ): void {
    for (const d of defs) {
      if (d.kind === 'opDef') scope.map.set(d.name, { k: 'def', info: this.newOpInfo(d, scope, true) });
      else if (d.kind === 'fcnDef')
        scope.map.set(d.name, { k: 'fcndef', info: this.newFcnInfo(d, scope, true) });
      else if (d.name === null) instantiate(d);
      else scope.map.set(d.name, { k: 'instance', info: { def: d, scope, built: null } });
    }
  }

  /** Hook set by the model: builds the scope of module `mod` with the given substitutions. */
  buildInstanceScope: (mod: Module, subst: (name: string) => Binding | undefined, loc: Loc) => Scope = () => {
    throw new Error('buildInstanceScope not set');
  };
  findModule: (name: string, loc: Loc) => Module = () => {
    throw new Error('findModule not set');
  };

  /** The module scope that a moduleRef path leads to. */
  resolveInstancePath(e: Extract<Expr, { kind: 'moduleRef' }>, scope: Scope): Scope {
    let cur = scope;
    for (const step of e.path) {
      const b = cur.lookup(step.name);
      if (!b || b.k !== 'instance')
        throw semantic(`${step.name} is not an instance (in ${exprText(e)})`, e.loc);
      const info = b.info;
      const d = info.def;
      if (d.params.length !== step.args.length) {
        throw semantic(
          `Instance ${step.name} takes ${d.params.length} argument(s), got ${step.args.length}`,
          e.loc,
        );
      }
      if (d.params.length === 0 && info.built) {
        cur = info.built;
        continue;
      }
      // Parameters are substituted by the argument expressions (in the caller's scope).
      let substScope = info.scope;
      if (d.params.length > 0) {
        substScope = new Scope(info.scope);
        d.params.forEach((p, i) => substScope.map.set(p.name, { k: 'alias', expr: step.args[i]!, scope }));
      }
      const mod = this.findModule(d.module, d.loc);
      const subs = new Map(d.substitutions.map((s) => [s.name, s.expr] as const));
      const built = this.buildInstanceScope(
        mod,
        (name) => {
          const ex = subs.get(name);
          if (ex) return { k: 'alias', expr: ex, scope: substScope };
          const implicit = substScope.lookup(name);
          if (!implicit) return undefined;
          return { k: 'alias', expr: { kind: 'name', name, loc: d.loc }, scope: substScope };
        },
        d.loc,
      );
      if (info.inLet) built.letInstance = true;
      if (d.params.length === 0) info.built = built;
      cur = built;
    }
    return cur;
  }

  // -------------------------------------------------------------------------------------
  // Definitions

  private ensureOp(info: OpInfo): void {
    if (info.state !== 0) return;
    info.state = 1;
    const tracker: Tracker = { slotStart: this.nextSlot, usesState: false, self: info, free: new Set() };
    const bodyScope = new Scope(info.scope);
    for (const p of info.params) {
      const slot = this.allocSlot();
      info.slots.push(slot);
      bodyScope.map.set(
        p.name,
        p.arity > 0
          ? { k: 'opslot', slot, arity: p.arity, name: p.name }
          : { k: 'slot', slot, name: p.name, param: true },
      );
    }
    info.bodyScope = bodyScope;
    this.compileTracked(info, tracker, () => {
      info.fn = this.expr(info.body, bodyScope);
    });
  }

  private ensureFcn(info: FcnInfo): void {
    if (info.state !== 0) return;
    info.state = 1;
    const tracker: Tracker = { slotStart: this.nextSlot, usesState: false, self: info, free: new Set() };
    info.selfSlot = this.allocSlot();
    this.compileTracked(info, tracker, () => {
      info.make = this.fcnMaker(info.bounds, info.body, info.scope, info.loc, info.selfSlot).make;
    });
  }

  /**
   * Compiles a definition's body with `tracker` collecting what it reads, then records
   * whether the definition depends on the state. Outer slots it reads (the parameters of the
   * operator around a LET) are passed on as `free`, not as state, so that a constant
   * definition using it (or a recursive LET function inside one) stays constant.
   */
  private compileTracked(info: OpInfo | FcnInfo, tracker: Tracker, compile: () => void): void {
    this.trackers.push(tracker);
    const savedFree = this.free;
    this.free = null;
    try {
      compile();
    } finally {
      this.free = savedFree;
      this.trackers.pop();
    }
    info.free = [...tracker.free];
    info.usesState = tracker.readsState === true || (info.moduleLevel && info.free.length > 0);
    info.state = 2;
    if (info.usesState) this.noteState();
    for (const f of info.free) this.noteSlot(f);
  }

  /** A closure calling a user operator with argument closures (strict, call by value). */
  private callOp(info: OpInfo, args: readonly Expr[], scope: Scope, loc: Loc): Fn {
    if (args.length > 0 && this.isByName(info)) {
      this.checkArity(info, args, loc);
      return this.expr(info.body, this.substScope(info, args, scope));
    }
    this.ensureOp(info);
    this.noteDef(info);
    const argFns = this.opArgs(info.params, args, scope, loc, info.name);
    const sl = this.rt.slots;
    const slots = info.slots;
    const h = this.opBody(info);
    switch (argFns.length) {
      case 0: {
        if (h === info && info.moduleLevel && info.state === 2 && !info.usesState) {
          return () => {
            if (info.cache === UNEVAL) info.cache = info.fn!();
            return info.cache as Value;
          };
        }
        return () => h.fn!();
      }
      case 1: {
        const [a0] = argFns as [Fn];
        const [p0] = slots as [number];
        return () => {
          const v0 = a0();
          const o0 = sl[p0];
          sl[p0] = v0;
          const r = h.fn!();
          sl[p0] = o0;
          return r;
        };
      }
      case 2: {
        const [a0, a1] = argFns as [Fn, Fn];
        const [p0, p1] = slots as [number, number];
        return () => {
          const v0 = a0();
          const v1 = a1();
          const o0 = sl[p0];
          const o1 = sl[p1];
          sl[p0] = v0;
          sl[p1] = v1;
          const r = h.fn!();
          sl[p0] = o0;
          sl[p1] = o1;
          return r;
        };
      }
      case 3: {
        const [a0, a1, a2] = argFns as [Fn, Fn, Fn];
        const [p0, p1, p2] = slots as [number, number, number];
        return () => {
          const v0 = a0();
          const v1 = a1();
          const v2 = a2();
          const o0 = sl[p0];
          const o1 = sl[p1];
          const o2 = sl[p2];
          sl[p0] = v0;
          sl[p1] = v1;
          sl[p2] = v2;
          const r = h.fn!();
          sl[p0] = o0;
          sl[p1] = o1;
          sl[p2] = o2;
          return r;
        };
      }
      default: {
        const n = argFns.length;
        return () => {
          const vs: unknown[] = new Array(n);
          for (let i = 0; i < n; i++) vs[i] = argFns[i]!();
          const old: unknown[] = new Array(n);
          for (let i = 0; i < n; i++) {
            old[i] = sl[slots[i]!];
            sl[slots[i]!] = vs[i];
          }
          const r = h.fn!();
          for (let i = 0; i < n; i++) sl[slots[i]!] = old[i];
          return r;
        };
      }
    }
  }

  /**
   * The compiled body of info to call here: the ordinary one, or under ENABLED with free
   * substituted variables (and a body that reads state) one compiled under that context.
   */
  private opBody(info: OpInfo): { fn: Fn | null } {
    const f = this.free;
    if (f === null || (info.state === 2 && !info.usesState)) return info;
    let v = f.ops.get(info);
    if (!v) {
      const nv: { fn: Fn | null } = { fn: null };
      f.ops.set(info, nv);
      // The ordinary compilation (ensureOp) already told the enclosing trackers what it reads.
      const saved = this.trackers;
      this.trackers = [];
      try {
        nv.fn = this.expr(info.body, info.bodyScope!);
      } finally {
        this.trackers = saved;
      }
      v = nv;
    }
    return v;
  }

  // -------------------------------------------------------------------------------------
  // ENABLED through INSTANCE substitutions (TLC's cut-off at ENABLED)

  /** The FreeCtx of an ENABLED compiled in scope: the variable substitutions bound around it. */
  private freeCtxFor(scope: Scope): FreeCtx | null {
    let top = scope;
    while (top.parent) top = top.parent;
    const known = this.freeCtxs.get(top);
    if (known !== undefined) return known;
    const bindings = new Set<Binding>();
    for (const b of top.map.values()) {
      if (b.k !== 'alias' || b.variable === undefined) continue;
      bindings.add(b);
      if (!this.freeIndex.has(b)) {
        this.freeIndex.set(b, this.variables.length + this.freeSubst.length);
        this.freeSubst.push(b);
      }
    }
    const ctx: FreeCtx | null = bindings.size === 0 ? null : { bindings, ops: new Map(), acts: new Map() };
    this.freeCtxs.set(top, ctx);
    return ctx;
  }

  /** e compiled as the action of an ENABLED in scope (substituted variables free, as in TLC). */
  enabledAction(e: Expr, scope: Scope): Act {
    const saved = this.free;
    this.free = this.freeCtxFor(scope);
    try {
      return this.action(e, scope, 'next', false);
    } finally {
      this.free = saved;
    }
  }

  /** The free slot that b stands for in the ENABLED being compiled, or null. */
  private freeSlotOf(b: Binding): number | null {
    if (this.free === null || b.k !== 'alias' || b.variable === undefined || !this.free.bindings.has(b))
      return null;
    return this.freeIndex.get(b)!;
  }

  /** The name of state slot v (a variable, or a free substituted variable). */
  private slotName(v: number): string {
    const n = this.variables.length;
    return v < n ? this.variables[v]! : this.freeSubst[v - n]!.variable!;
  }

  /** The current-state value of free slot v: its substitution. */
  private freeCurrent(v: number): Fn {
    return this.substRead(this.freeSubst[v - this.variables.length]!);
  }

  /**
   * The value of a variable's substitution (outside any free context). One that reads no bound
   * variable (no parameter of a parameterised INSTANCE) is compiled once and its value kept for
   * the current state of the current evaluation, as TLC keeps a substitution's value: a spec
   * like `INSTANCE M WITH inbox <- F(...)` reads inbox many times per state.
   */
  private substRead(b: Extract<Binding, { k: 'alias' }>): Fn {
    let m = this.substMemo.get(b);
    const savedFree = this.free;
    if (m === undefined) {
      const tracker: Tracker = { slotStart: this.nextSlot, usesState: false, self: null, free: new Set() };
      const savedTrackers = this.trackers;
      this.trackers = [tracker];
      this.free = null;
      let fn: Fn;
      try {
        fn = this.expr(b.expr, b.scope);
      } finally {
        this.trackers = savedTrackers;
        this.free = savedFree;
      }
      m = tracker.free.size === 0 ? { fn, epoch: -1, s: null, v: false } : null;
      this.substMemo.set(b, m);
    }
    if (m === null) {
      this.free = null;
      try {
        return this.expr(b.expr, b.scope);
      } finally {
        this.free = savedFree;
      }
    }
    const memo = m;
    const rt = this.rt;
    const fn = memo.fn;
    return () => {
      if (rt.primed !== 0 || !rt.stable) return fn();
      const s = rt.s;
      if (memo.epoch === rt.epoch && memo.s === s) return memo.v;
      const v = fn();
      memo.epoch = rt.epoch;
      memo.s = s;
      memo.v = v;
      return v;
    };
  }

  /** A free substituted variable read in an expression: its slot when primed, else its substitution. */
  private freeRead(v: number, name: string, loc: Loc): Fn {
    const rt = this.rt;
    const cur = this.freeCurrent(v);
    return () => {
      if (rt.primed === 0) return cur();
      const x = rt.s![v];
      if (x === undefined) throw new TlaError('eval', `${name}' is read before it is assigned`, loc);
      return x;
    };
  }

  private checkArity(info: OpInfo, args: readonly Expr[], loc: Loc): void {
    if (info.params.length !== args.length) {
      throw semantic(
        `${info.name} takes ${info.params.length} argument(s) but is applied to ${args.length}`,
        loc,
      );
    }
  }

  /** The body scope of a call by name: parameters stand for the argument expressions. */
  private substScope(info: OpInfo, args: readonly Expr[], scope: Scope): Scope {
    const s = new Scope(info.scope);
    info.params.forEach((p, i) => s.map.set(p.name, { k: 'alias', expr: args[i]!, scope }));
    return s;
  }

  private readonly actionDefs = new WeakMap<OpInfo, boolean>();

  /**
   * Whether e is an action: it has a prime (or UNCHANGED, [A]_v, <<A>>_v), directly or in a
   * definition it uses (`NoStutter(NoHistoryChange(l0(self)))`: the argument is an action).
   */
  private isActionExpr(e: Expr, scope: Scope, depth = 0): boolean {
    if (hasPrime(e)) return true;
    if (depth > 50) return false;
    const viaBinding = (b: Binding | undefined): boolean => {
      if (!b) return false;
      if (b.k === 'alias') return this.isActionExpr(b.expr, b.scope, depth + 1);
      if (b.k !== 'def') return false;
      const info = b.info;
      const known = this.actionDefs.get(info);
      if (known !== undefined) return known;
      this.actionDefs.set(info, false); // recursion guard
      const r = this.isActionExpr(info.body, info.scope, depth + 1);
      this.actionDefs.set(info, r);
      return r;
    };
    let found = false;
    const visit = (x: Expr): void => {
      if (found) return;
      if (x.kind === 'name' && viaBinding(scope.lookup(x.name))) found = true;
      else if (x.kind === 'apply' && viaBinding(scope.lookup(x.op))) found = true;
      else if (x.kind === 'moduleRef') {
        try {
          if (viaBinding(this.resolveInstancePath(x, scope).lookup(x.op))) found = true;
        } catch {
          // not resolvable here: the call is compiled as before and reports the problem
        }
      }
      if (!found) forEachChild(x, visit);
    };
    visit(e);
    return found;
  }

  /** Whether calls of info must substitute their arguments (a parameter is primed in the body). */
  private isByName(info: OpInfo): boolean {
    if (info.byName === null) {
      const params = new Set(info.params.filter((p) => p.arity === 0).map((p) => p.name));
      info.byName = !info.recursive && params.size > 0 && primesSome(info.body, params);
    }
    return info.byName;
  }

  /** Argument closures; operator parameters take operator values. */
  private opArgs(
    params: readonly Param[],
    args: readonly Expr[],
    scope: Scope,
    loc: Loc,
    name: string,
  ): Fn[] {
    if (params.length !== args.length) {
      throw semantic(`${name} takes ${params.length} argument(s) but is applied to ${args.length}`, loc);
    }
    return args.map((a, i) =>
      params[i]!.arity > 0
        ? (this.opValue(a, scope, params[i]!.arity) as unknown as Fn)
        : deferring(this.expr(a, scope)),
    );
  }

  /** An operator argument: a LAMBDA, or the name of an operator (user, parameter, builtin). */
  opValue(e: Expr, scope: Scope, arity: number): () => OpClosure {
    if (e.kind === 'lambda') {
      if (e.params.length !== arity)
        throw semantic(`LAMBDA takes ${e.params.length} argument(s), but ${arity} are expected here`, e.loc);
      const s = new Scope(scope);
      const tracker: Tracker = { slotStart: this.nextSlot, usesState: false, self: null, free: new Set() };
      const slots = e.params.map((p) => {
        const slot = this.allocSlot();
        s.map.set(p, { k: 'slot', slot, name: p });
        return slot;
      });
      this.trackers.push(tracker);
      let body: Fn;
      try {
        body = this.expr(e.body, s);
      } finally {
        this.trackers.pop();
      }
      for (const f of tracker.free) this.noteSlot(f);
      if (tracker.usesState) this.noteState();
      const sl = this.rt.slots;
      // The LAMBDA captures the values of the outer bound variables it reads when it is
      // created (lexical scope), so recursion that rebinds them does not change its meaning.
      const free = [...tracker.free];
      const all = [...free, ...slots];
      const nf = free.length;
      if (nf === 0) {
        const clo: OpClosure = {
          kind: 'op',
          name: 'LAMBDA',
          arity,
          call: (args) => {
            const old = slots.map((p) => sl[p]);
            for (let i = 0; i < slots.length; i++) sl[slots[i]!] = args[i];
            const r = body();
            for (let i = 0; i < slots.length; i++) sl[slots[i]!] = old[i];
            return r;
          },
        };
        return () => clo;
      }
      return () => {
        const captured = free.map((p) => sl[p]);
        return {
          kind: 'op',
          name: 'LAMBDA',
          arity,
          call: (args) => {
            const old = all.map((p) => sl[p]);
            for (let i = 0; i < nf; i++) sl[free[i]!] = captured[i];
            for (let i = 0; i < slots.length; i++) sl[slots[i]!] = args[i];
            const r = body();
            for (let i = 0; i < all.length; i++) sl[all[i]!] = old[i];
            return r;
          },
        };
      };
    }
    if (e.kind === 'name') {
      const b = this.resolve(e.name, scope);
      if (b) {
        if (b.k === 'opslot') {
          this.noteSlot(b.slot);
          const sl = this.rt.slots;
          return () => sl[b.slot] as OpClosure;
        }
        if (b.k === 'def') {
          const info = b.info;
          if (info.params.length !== arity) {
            throw semantic(
              `${info.name} takes ${info.params.length} argument(s), but an operator of ${arity} is expected here`,
              e.loc,
            );
          }
          if (info.params.some((p) => p.arity > 0))
            throw unsupported(`Passing the higher-order operator ${info.name} as an argument`, e.loc);
          const params: Expr[] = info.params.map((_, i) => ({
            kind: 'name',
            name: `\u0000arg${i}`,
            loc: e.loc,
          }));
          // Compile a call with slot-bound arguments.
          const s = new Scope(scope);
          const slots = params.map((p) => {
            const slot = this.allocSlot();
            s.map.set((p as { name: string }).name, { k: 'slot', slot, name: info.name });
            return slot;
          });
          const call = this.callOp(info, params, s, e.loc);
          const sl = this.rt.slots;
          const clo: OpClosure = {
            kind: 'op',
            name: info.name,
            arity,
            call: (args) => {
              const old = slots.map((p) => sl[p]);
              for (let i = 0; i < slots.length; i++) sl[slots[i]!] = args[i];
              const r = call();
              for (let i = 0; i < slots.length; i++) sl[slots[i]!] = old[i];
              return r;
            },
          };
          return () => clo;
        }
        if (b.k === 'alias') return this.opValue(b.expr, b.scope, arity);
        throw semantic(`${e.name} is not an operator of ${arity} argument(s)`, e.loc);
      }
      const bi = this.builtins.get(e.name);
      if (bi && bi.arity === arity) {
        const f = bi.fn as (...a: Value[]) => Value;
        const clo: OpClosure = { kind: 'op', name: e.name, arity, call: (args) => f(...args) };
        return () => clo;
      }
      throw semantic(`Unknown operator ${e.name}`, e.loc);
    }
    throw semantic(`An operator of ${arity} argument(s) is expected here, got ${exprText(e)}`, e.loc);
  }

  /** Name lookup, following aliases that are plain names. */
  private resolve(name: string, scope: Scope): Binding | undefined {
    return scope.lookup(name);
  }

  // -------------------------------------------------------------------------------------
  // Expressions

  /**
   * Compiles e; a composite expression that reads no variable, no outer bound variable and
   * nothing impure is constant: it is evaluated once, on first use (as TLC evaluates
   * constant-level expressions once), e.g. `[Procs -> 0..N]` or `[type : {"a"}, v : 1..3]`.
   */
  expr(e: Expr, scope: Scope): Fn {
    if (!FOLDABLE.has(e.kind)) return this.exprInner(e, scope);
    const tracker: Tracker = { slotStart: this.nextSlot, usesState: false, self: null, free: new Set() };
    this.trackers.push(tracker);
    let f: Fn;
    try {
      f = this.exprInner(e, scope);
    } finally {
      this.trackers.pop();
    }
    if (tracker.usesState) return f;
    let cache: Value | typeof UNEVAL = UNEVAL;
    return () => {
      if (cache === UNEVAL) cache = f();
      return cache;
    };
  }

  private exprInner(e: Expr, scope: Scope): Fn {
    const rt = this.rt;
    switch (e.kind) {
      case 'num': {
        const v = e.value;
        return () => v;
      }
      case 'str': {
        const v = internName(e.value);
        return () => v;
      }
      case 'bool': {
        const v = e.value;
        return () => v;
      }
      case 'builtinSet': {
        const v = e.name === 'BOOLEAN' ? BOOLEAN_SET : STRING_SET;
        return () => v;
      }
      case 'name':
        return this.nameRef(e.name, scope, e.loc, e);
      case 'apply':
        return this.apply(e, scope);
      case 'moduleRef': {
        const ms = this.resolveInstancePath(e, scope);
        const b = ms.lookupInstanceOp(e.op);
        if (!b) throw semantic(`${exprText(e)}: the module has no definition ${e.op}`, e.loc);
        return this.applyBinding(b, e.op, e.args, scope, e.loc);
      }
      case 'lambda':
        throw semantic('A LAMBDA can only be an argument of an operator', e.loc);
      case 'and': {
        const fs = e.args.map((a) => this.expr(a, scope));
        const locs = e.args.map((a) => a.loc);
        if (fs.length === 2) {
          const [a, b] = fs as [Fn, Fn];
          return () => isTrue(a(), 'A conjunct', locs[0]!) && isTrue(b(), 'A conjunct', locs[1]!);
        }
        return () => {
          for (let i = 0; i < fs.length; i++) if (!isTrue(fs[i]!(), 'A conjunct', locs[i]!)) return false;
          return true;
        };
      }
      case 'or': {
        const fs = e.args.map((a) => this.expr(a, scope));
        const locs = e.args.map((a) => a.loc);
        return () => {
          for (let i = 0; i < fs.length; i++) if (isTrue(fs[i]!(), 'A disjunct', locs[i]!)) return true;
          return false;
        };
      }
      case 'quant': {
        const bind = this.binder(e.bounds, scope, e.loc, e.quantifier === 'forall' ? '\\A' : '\\E');
        const body = this.expr(e.body, bind.scope);
        const loc = e.body.loc;
        // One callback per quantifier, made once (not one per evaluation).
        if (e.quantifier === 'exists') {
          const holds = (): boolean => isTrue(body(), 'The body of \\E', loc);
          return () => bind.iterate(holds);
        }
        const fails = (): boolean => !isTrue(body(), 'The body of \\A', loc);
        return () => !bind.iterate(fails);
      }
      case 'temporalQuant':
        throw unsupported('Temporal quantification (\\AA, \\EE)', e.loc);
      case 'choose': {
        if (!e.bound.set) throw unsupported('Unbounded CHOOSE', e.loc);
        const bind = this.binder([e.bound], scope, e.loc, 'CHOOSE');
        const body = this.expr(e.body, bind.scope);
        const setFn = this.expr(e.bound.set, scope);
        const loc = e.loc;
        return () => {
          let found: Value | undefined;
          bind.iterate(() => {
            if (isTrue(body(), 'The body of CHOOSE', loc)) {
              found = bind.current();
              return true;
            }
            return false;
          });
          if (found === undefined) {
            throw new TlaError(
              'eval',
              `CHOOSE found no element of ${toTlaShort(setFn())} satisfying the predicate`,
              loc,
            );
          }
          return found;
        };
      }
      case 'setEnum': {
        const fs = e.elems.map((a) => this.expr(a, scope));
        if (fs.length === 0) return () => EMPTY_SET;
        const loc = e.loc;
        return () => {
          const arr: Value[] = new Array(fs.length);
          for (let i = 0; i < fs.length; i++) arr[i] = fs[i]!();
          try {
            return setOf(arr);
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'setFilter': {
        const bind = this.binder([e.bound], scope, e.loc, 'set filter');
        const pred = this.expr(e.pred, bind.scope);
        const setFn = this.expr(e.bound.set!, scope);
        const loc = e.loc;
        // The elements kept by the evaluation in progress (one callback, made once; a nested
        // evaluation of the same filter saves and restores it).
        let filterOut: Value[] = [];
        const keep = (): boolean => {
          if (isTrue(pred(), 'The predicate of a set filter', loc)) filterOut.push(bind.current());
          return false;
        };
        return () => {
          const base = setFn();
          if (base instanceof SetValue && !base.isFinite()) {
            return new FilteredSet(
              base,
              (v) => bind.withValue(v, () => isTrue(pred(), 'The predicate of a set filter', loc)),
              '{x \\in S : P}',
            );
          }
          const saved = filterOut;
          const out: Value[] = [];
          filterOut = out;
          try {
            bind.iterate(keep);
          } finally {
            filterOut = saved;
          }
          return out.length === 0 ? EMPTY_SET : new SetEnum(out);
        };
      }
      case 'setMap': {
        const bind = this.binder(e.bounds, scope, e.loc, 'set map');
        const body = this.expr(e.body, bind.scope);
        const loc = e.loc;
        let mapOut: Value[] = [];
        const add = (): boolean => {
          mapOut.push(body());
          return false;
        };
        return () => {
          const saved = mapOut;
          const out: Value[] = [];
          mapOut = out;
          try {
            bind.iterate(add);
          } finally {
            mapOut = saved;
          }
          try {
            return setOf(out);
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'fcn': {
        const { make, eager } = this.fcnMaker(e.bounds, e.body, scope, e.loc, -1);
        return () => eager() ?? make();
      }
      case 'fcnApply': {
        const f = this.expr(e.fn, scope);
        const loc = e.loc;
        if (e.args.length === 1) {
          const a = this.expr(e.args[0]!, scope);
          return () => {
            const fv = f();
            const av = a();
            if (fv instanceof TupleValue && typeof av === 'number' && av >= 1 && av <= fv.elems.length)
              return fv.elems[av - 1]!;
            try {
              return fcnApply(fv, av);
            } catch (x) {
              throw attachLoc(x, loc);
            }
          };
        }
        const as = e.args.map((a) => this.expr(a, scope));
        return () => {
          const fv = f();
          const av = new TupleValue(as.map((a) => a()));
          try {
            return fcnApply(fv, av);
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'fcnSet': {
        const d = this.expr(e.domain, scope);
        const r = this.expr(e.range, scope);
        const loc = e.loc;
        return () => {
          try {
            return fcnSet(d(), r());
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'record': {
        const order = e.fields
          .map((f, i) => [f.name, i] as const)
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        for (let i = 1; i < order.length; i++) {
          if (order[i]![0] === order[i - 1]![0])
            throw semantic(`Field ${order[i]![0]} appears twice in a record`, e.loc);
        }
        const names = order.map((o) => internName(o[0]));
        const fs = order.map((o) => this.expr(e.fields[o[1]]!.value, scope));
        if (fs.length === 0) return () => EMPTY_TUPLE;
        return () => {
          const vals: Value[] = new Array(fs.length);
          for (let i = 0; i < fs.length; i++) vals[i] = fs[i]!();
          return new RecordValue(names, vals);
        };
      }
      case 'recordSet': {
        const names = e.fields.map((f) => internName(f.name));
        const fs = e.fields.map((f) => this.expr(f.set, scope));
        const loc = e.loc;
        return () => {
          try {
            return new RecordSet(names.map((n, i) => [n, asSet('[f : S]', fs[i]!())] as const));
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'dot': {
        const r = this.expr(e.record, scope);
        const field = internName(e.field);
        const loc = e.loc;
        // Records built by one constructor share their array of names: remember where the
        // field was in the last one seen.
        let lastNames: readonly string[] | null = null;
        let lastIndex = 0;
        return () => {
          const rv = r();
          if (rv instanceof RecordValue) {
            const ns = rv.names;
            if (ns === lastNames) return rv.vals[lastIndex]!;
            for (let i = 0; i < ns.length; i++) {
              if (ns[i] === field) {
                lastNames = ns;
                lastIndex = i;
                return rv.vals[i]!;
              }
            }
          }
          try {
            return fcnApply(rv, field);
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'tuple': {
        const fs = e.elems.map((a) => this.expr(a, scope));
        if (fs.length === 0) return () => EMPTY_TUPLE;
        return () => {
          const arr: Value[] = new Array(fs.length);
          for (let i = 0; i < fs.length; i++) arr[i] = fs[i]!();
          return new TupleValue(arr);
        };
      }
      case 'except':
        return this.except(e, scope);
      case 'at': {
        const b = scope.lookup('@');
        if (!b || b.k !== 'slot') throw semantic('@ used outside the value of an EXCEPT update', e.loc);
        const sl = rt.slots;
        this.noteSlot(b.slot);
        return () => sl[b.slot] as Value;
      }
      case 'if': {
        const c = this.expr(e.cond, scope);
        const t = this.expr(e.then, scope);
        const f = this.expr(e.else, scope);
        const loc = e.cond.loc;
        return () => (isTrue(c(), 'The condition of IF', loc) ? t() : f());
      }
      case 'case': {
        const conds = e.arms.map((a) => this.expr(a.cond, scope));
        const bodies = e.arms.map((a) => this.expr(a.body, scope));
        const other = e.other ? this.expr(e.other, scope) : null;
        const loc = e.loc;
        return () => {
          for (let i = 0; i < conds.length; i++)
            if (isTrue(conds[i]!(), 'A CASE guard', loc)) return bodies[i]!();
          if (other) return other();
          throw new TlaError(
            'eval',
            'Attempted to evaluate a CASE with no arm enabled (no guard is true and there is no OTHER)',
            loc,
          );
        };
      }
      case 'let': {
        const { scope: s, enter } = this.letScope(e.defs, scope);
        const body = this.expr(e.body, s);
        if (!enter) return body;
        return () => {
          const restore = enter();
          const r = body();
          restore();
          return r;
        };
      }
      case 'prime':
        return this.prime(e.expr, scope, e.loc);
      case 'unchanged': {
        const targets = this.unchangedTargets(e.expr, scope);
        const loc = e.loc;
        return () => {
          for (const t of targets) if (!this.unchangedHolds(t, loc)) return false;
          return true;
        };
      }
      case 'enabled': {
        this.noteState();
        const act = this.enabledAction(e.expr, scope);
        return () => this.runEnabled(act);
      }
      case 'boxAction': {
        const a = this.expr(e.action, scope);
        const u = this.unchangedTargets(e.vars, scope);
        const loc = e.loc;
        return () => {
          let same = true;
          for (const t of u) if (!this.unchangedHolds(t, loc)) same = false;
          return same || isTrue(a(), 'The action of [A]_v', loc);
        };
      }
      case 'angleAction': {
        const a = this.expr(e.action, scope);
        const u = this.unchangedTargets(e.vars, scope);
        const loc = e.loc;
        return () => {
          if (!isTrue(a(), 'The action of <<A>>_v', loc)) return false;
          for (const t of u) if (!this.unchangedHolds(t, loc)) return true;
          return false;
        };
      }
      case 'fairness':
      case 'always':
      case 'eventually':
      case 'leadsTo':
        throw unsupported(
          `The temporal operator ${e.kind === 'fairness' ? (e.strong ? 'SF' : 'WF') : e.kind} evaluated as a value`,
          e.loc,
        );
    }
  }

  /** Whether act (compiled by enabledAction) has a successor of the current state rt.s. */
  runEnabled(act: Act): boolean {
    const rt = this.rt;
    const saveT = rt.t;
    const saveName = rt.lblName;
    const saveBase = rt.lblBase;
    const saveLen = rt.lblLen;
    const savePrimed = rt.primed;
    const saveCount = rt.countCdot;
    rt.countCdot = false;
    // The real variables, then one slot per free substituted variable.
    rt.t = new Array(this.variables.length + this.freeSubst.length);
    rt.primed = 0;
    // FOUND unwinds the binders and operator calls of act without their restores: the slots
    // are put back, for an enumeration this ENABLED runs inside (an invariant evaluated from
    // a successor callback may run the same compiled action).
    const sl = rt.slots;
    const kept = sl.slice();
    try {
      act(() => {
        throw FOUND;
      });
      return false;
    } catch (x) {
      if (x === FOUND) {
        for (let i = 0; i < kept.length; i++) sl[i] = kept[i];
        return true;
      }
      if (x instanceof TlaError && /' is read before it is assigned/.test(x.message)) {
        throw new TlaError(
          x.kind,
          `${x.message} while evaluating ENABLED: the action reads a primed variable before it assigns it (TLC stops here too). When that variable is substituted by an expression (INSTANCE I WITH y <- e) and the ENABLED is written outside the instance (ENABLED I!A), y' means e', which ENABLED cannot assign: as in TLC, only an ENABLED inside the instantiated module (or a fairness condition of I!Spec) treats y' as free; define EnabledA == ENABLED A there and use I!EnabledA`,
          x.loc,
        );
      }
      throw x;
    } finally {
      rt.t = saveT;
      rt.lblName = saveName;
      rt.lblBase = saveBase;
      rt.lblLen = saveLen;
      rt.primed = savePrimed;
      rt.countCdot = saveCount;
    }
  }

  private prime(inner: Expr, scope: Scope, loc: Loc): Fn {
    const rt = this.rt;
    this.noteState();
    const v = this.varTarget(inner, scope);
    if (v !== null) {
      const name = this.slotName(v);
      return () => {
        const t = rt.t;
        if (t === null)
          throw new TlaError(
            'eval',
            `${name}' (a primed variable) cannot be evaluated here: there is no next state`,
            loc,
          );
        const x = t[v];
        if (x === undefined) {
          throw new TlaError(
            'eval',
            `${name}' is read before it is assigned${rt.actionName ? ` in action ${rt.actionName}` : ''}`,
            loc,
          );
        }
        return x;
      };
    }
    const f = this.expr(inner, scope);
    return () => {
      const s = rt.s;
      const t = rt.t;
      if (t === null)
        throw new TlaError(
          'eval',
          'A primed expression cannot be evaluated here: there is no next state',
          loc,
        );
      rt.s = t;
      rt.t = null;
      rt.primed++;
      try {
        return f();
      } finally {
        rt.s = s;
        rt.t = t;
        rt.primed--;
      }
    };
  }

  /** If e names a state variable (through aliases), its index. */
  varTarget(e: Expr, scope: Scope): number | null {
    let ex = e;
    let sc = scope;
    for (let depth = 0; depth < 100; depth++) {
      if (ex.kind !== 'name') return null;
      const b = sc.lookup(ex.name);
      if (!b) return null;
      if (b.k === 'var') return b.index;
      if (b.k === 'alias') {
        const free = this.freeSlotOf(b);
        if (free !== null) return free;
        ex = b.expr;
        sc = b.scope;
        continue;
      }
      return null;
    }
    return null;
  }

  /** UNCHANGED e: the variables (or, for other expressions, closures) it covers. */
  private unchangedTargets(e: Expr, scope: Scope): UnchangedTarget[] {
    const v = this.varTarget(e, scope);
    if (v !== null) {
      this.noteState();
      return [v < this.variables.length ? { v } : { v, cur: this.freeCurrent(v) }];
    }
    if (e.kind === 'tuple') return e.elems.flatMap((x) => this.unchangedTargets(x, scope));
    if (e.kind === 'name') {
      const b = scope.lookup(e.name);
      if (b && b.k === 'def' && b.info.params.length === 0)
        return this.unchangedTargets(b.info.body, b.info.scope);
      if (b && b.k === 'alias') return this.unchangedTargets(b.expr, b.scope);
    }
    if (e.kind === 'moduleRef' && e.args.length === 0) {
      const ms = this.resolveInstancePath(e, scope);
      const b = ms.lookupInstanceOp(e.op);
      if (b && b.k === 'def' && b.info.params.length === 0)
        return this.unchangedTargets(b.info.body, b.info.scope);
    }
    return [{ f: this.expr(e, scope), p: this.prime(e, scope, e.loc) }];
  }

  private unchangedHolds(t: UnchangedTarget, loc: Loc): boolean {
    const rt = this.rt;
    if ('v' in t) {
      const nt = rt.t;
      const s = rt.s;
      if (nt === null || s === null)
        throw new TlaError('eval', 'UNCHANGED cannot be evaluated here: there is no next state', loc);
      const x = nt[t.v];
      if (x === undefined)
        throw new TlaError('eval', `${this.slotName(t.v)}' is read before it is assigned`, loc);
      return equals(x, t.cur ? t.cur() : s[t.v]!);
    }
    return equals(t.p(), t.f());
  }

  private nameRef(name: string, scope: Scope, loc: Loc, e: Expr): Fn {
    const b = scope.lookup(name);
    if (!b) {
      const bi = this.builtins.get(name);
      if (bi && bi.arity === 0) {
        if (bi.impure) this.noteState();
        const f = bi.fn as () => Value;
        return () => f();
      }
      if (bi)
        throw semantic(
          `The operator ${name} takes ${bi.arity} argument(s) but is used without arguments`,
          loc,
        );
      if (REALS.has(name)) throw unsupported(`${name} (module Reals)`, loc);
      throw semantic(`Unknown name ${name}`, loc);
    }
    return this.applyBinding(b, name, [], scope, loc, e);
  }

  private applyBinding(
    b: Binding,
    name: string,
    args: readonly Expr[],
    scope: Scope,
    loc: Loc,
    self?: Expr,
  ): Fn {
    const rt = this.rt;
    const sl = rt.slots;
    const noArgs = (): void => {
      if (args.length > 0)
        throw semantic(`${name} is not an operator and cannot be applied to arguments`, loc);
    };
    switch (b.k) {
      case 'var': {
        noArgs();
        this.noteState();
        const i = b.index;
        return () => {
          const s = rt.s;
          if (s === null)
            throw new TlaError(
              'eval',
              `The variable ${name} cannot be evaluated in a constant expression`,
              loc,
            );
          const v = s[i];
          if (v === undefined) {
            throw new TlaError(
              'eval',
              rt.primed > 0
                ? `${name}' is read before it is assigned`
                : `The variable ${name} is read before it is assigned a value`,
              loc,
            );
          }
          return v;
        };
      }
      case 'value': {
        noArgs();
        const v = b.value;
        return () => v;
      }
      case 'unassigned':
        throw new TlaError(
          'eval',
          `The constant ${name} has no value: give it one in the model (.cfg CONSTANT ${name} = ...)`,
          loc,
        );
      case 'slot': {
        noArgs();
        this.noteSlot(b.slot);
        const s = b.slot;
        // Only an operator parameter may hold an argument whose evaluation failed.
        if (!b.param) return () => sl[s] as Value;
        return () => {
          const v = sl[s];
          if (v instanceof Deferred) throw v.error;
          return v as Value;
        };
      }
      case 'letval': {
        noArgs();
        this.noteSlot(b.slot);
        const s = b.slot;
        const info = b.info;
        this.ensureOp(info);
        this.noteDef(info);
        const h = this.opBody(info);
        return () => {
          let v = sl[s];
          if (v === UNEVAL) {
            v = h.fn!();
            sl[s] = v;
          }
          return v as Value;
        };
      }
      case 'opslot': {
        this.noteSlot(b.slot);
        const s = b.slot;
        if (args.length === 0 && b.arity > 0) return () => sl[s] as unknown as Value;
        if (args.length !== b.arity)
          throw semantic(
            `The operator parameter ${name} takes ${b.arity} argument(s), got ${args.length}`,
            loc,
          );
        const fs = args.map((a) => this.expr(a, scope));
        return () => {
          const vs = fs.map((f) => f());
          try {
            return (sl[s] as OpClosure).call(vs);
          } catch (x) {
            throw attachLoc(x, loc);
          }
        };
      }
      case 'def': {
        if (args.length === 0 && b.info.params.length > 0) {
          // An operator used as a value (e.g. passed on to another operator).
          const f = this.opValue(self ?? { kind: 'name', name, loc }, scope, b.info.params.length);
          return f as unknown as Fn;
        }
        return this.callOp(b.info, args, scope, loc);
      }
      case 'fcndef': {
        noArgs();
        const info = b.info;
        this.ensureFcn(info);
        this.noteDef(info);
        const self2 = info.selfSlot;
        this.noteSlot(self2);
        if (info.moduleLevel && !info.usesState) {
          return () => {
            const cur = sl[self2] as LazyFcn | undefined;
            if (cur) return cur;
            if (!info.cache) info.cache = info.make!();
            return info.cache;
          };
        }
        return () => (sl[self2] as LazyFcn | undefined) ?? info.make!();
      }
      case 'alias': {
        if (args.length === 0) {
          if (b.variable !== undefined) {
            // A substituted variable is a variable (free under ENABLED), even when its substitution is constant.
            this.noteState();
            const free = this.freeSlotOf(b);
            if (free !== null) return this.freeRead(free, name, loc);
            return this.substRead(b);
          }
          return this.expr(b.expr, b.scope);
        }
        if (b.expr.kind === 'name') {
          const target = b.scope.lookup(b.expr.name);
          if (target) return this.applyBinding(target, b.expr.name, args, scope, loc);
          return this.apply({ kind: 'apply', op: b.expr.name, args, loc }, scope);
        }
        if (b.expr.kind === 'lambda') {
          const op = this.opValue(b.expr, b.scope, args.length);
          const fs = args.map((a) => this.expr(a, scope));
          return () => op().call(fs.map((f) => f()));
        }
        throw semantic(`${name} is substituted by an expression and cannot be applied to arguments`, loc);
      }
      case 'instance':
        throw semantic(`${name} is a module instance; refer to its definitions as ${name}!Op`, loc);
    }
  }

  private apply(e: Extract<Expr, { kind: 'apply' }>, scope: Scope): Fn {
    const b = scope.lookup(e.op);
    if (b) return this.applyBinding(b, e.op, e.args, scope, e.loc);
    const loc = e.loc;
    const op = e.op;
    // Short-circuiting and special forms.
    switch (op) {
      case '\\cdot': {
        // A \cdot B on a pair of states (s, t): some A-successor u of s has B(u, t).
        const act = this.cdotAction(e, scope);
        const rt = this.rt;
        return () => {
          if (rt.s === null || rt.t === null) {
            throw new TlaError(
              'eval',
              `The action composition ${exprText(e)} was evaluated outside an action (it needs a current and a next state)`,
              loc,
            );
          }
          // As in runEnabled: the slots are put back after FOUND.
          const sl = rt.slots;
          const kept = sl.slice();
          try {
            act(() => {
              throw FOUND;
            });
          } catch (x) {
            if (x === FOUND) {
              for (let i = 0; i < kept.length; i++) sl[i] = kept[i];
              return true;
            }
            throw x;
          }
          return false;
        };
      }
      case '=>': {
        const [a, c] = this.args2(e, scope);
        return () => !isTrue(a(), 'The left side of =>', loc) || isTrue(c(), 'The right side of =>', loc);
      }
      case '/\\': {
        const [a, c] = this.args2(e, scope);
        return () => isTrue(a(), 'A conjunct', loc) && isTrue(c(), 'A conjunct', loc);
      }
      case '\\/': {
        const [a, c] = this.args2(e, scope);
        return () => isTrue(a(), 'A disjunct', loc) || isTrue(c(), 'A disjunct', loc);
      }
      case '=': {
        const lit = e.args.length === 2 ? (literalOf(e.args[1]!) ?? literalOf(e.args[0]!)) : undefined;
        if (lit !== undefined) {
          // x = "label", x = 3, x = TRUE: a primitive equals only a primitive of its kind (===);
          // other kinds still go through equals (its error for incomparable values).
          const x = this.expr(literalOf(e.args[1]!) !== undefined ? e.args[0]! : e.args[1]!, scope);
          const kind = typeof lit;
          return () => {
            const v = x();
            if (v === lit) return true;
            if (typeof v === kind) return false;
            try {
              return equals(v, lit);
            } catch (err) {
              throw attachLoc(err, loc);
            }
          };
        }
        const [a, c] = this.args2(e, scope);
        return () => {
          const x = a();
          const y = c();
          if (x === y) return true;
          try {
            return equals(x, y);
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
      case '\\in':
      case '\\notin': {
        const neg = op === '\\notin';
        const filter = this.filterOf(e.args[1]!, scope);
        if (filter) {
          // x \in {p \in S : P(p)} is x \in S /\ P(x), as TLC evaluates it: the set is never built.
          const xFn = this.expr(e.args[0]!, scope);
          const member = this.filterMember(filter.e, filter.scope);
          if (!filter.constant || this.filterOf(filter.e.bound.set!, filter.scope))
            return () => member(xFn()) !== neg;
          // A constant definition is evaluated once and remembered: when its base is small,
          // membership in the remembered set is cheaper than the predicate in every state.
          const setFn = this.expr(e.args[1]!, scope);
          const baseFn = this.expr(filter.e.bound.set!, filter.scope);
          let cached: SetValue | null | undefined;
          return () => {
            const x = xFn();
            if (cached === undefined) {
              const base = baseFn();
              cached = null;
              if (base instanceof SetValue && base.isFinite() && !(base instanceof FilteredSet)) {
                let n = Infinity;
                try {
                  n = base.size();
                } catch {
                  // too large to count: stays lazy
                }
                if (n <= SMALL_FILTER_BASE) cached = setFn() as SetValue;
              }
            }
            if (cached) {
              try {
                return cached.has(x) !== neg;
              } catch (err) {
                throw attachLoc(err, loc);
              }
            }
            return member(x) !== neg;
          };
        }
        const [a, c] = this.args2(e, scope);
        return () => {
          const x = a();
          const s = c();
          if (!(s instanceof SetValue))
            throw new TlaError('eval', `${op} expects a set on its right, got ${describeValue(s)}`, loc);
          try {
            return s.has(x) !== neg;
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
      case '\\X': {
        const fs = e.args.map((a) => this.expr(a, scope));
        return () => {
          try {
            return product(fs.map((f) => f()));
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
      case "'":
        return this.prime(e.args[0]!, scope, loc);
    }
    const bi = this.builtins.get(op);
    if (!bi) {
      if (REALS.has(op)) throw unsupported(`The operator ${op} (module Reals)`, loc);
      throw semantic(`Unknown operator ${op}`, loc);
    }
    if (bi.arity !== e.args.length)
      throw semantic(`The operator ${op} takes ${bi.arity} argument(s), got ${e.args.length}`, loc);
    if (bi.impure) this.noteState();
    const fs = e.args.map((a, i) =>
      bi.opArgs?.includes(i)
        ? (this.opValue(a, scope, op === 'SortSeq' ? 2 : 1) as unknown as Fn)
        : this.expr(a, scope),
    );
    switch (fs.length) {
      case 0: {
        const f = bi.fn as () => Value;
        return () => f();
      }
      case 1: {
        const f = bi.fn as (a: Value) => Value;
        const [a] = fs as [Fn];
        return () => {
          const x = a();
          try {
            return f(x);
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
      case 2: {
        const f = bi.fn as (a: Value, b: Value) => Value;
        const [a, c] = fs as [Fn, Fn];
        const fast = intOp(op, a, c, f, loc);
        if (fast) return fast;
        return () => {
          const x = a();
          const y = c();
          try {
            return f(x, y);
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
      default: {
        const f = bi.fn as (...a: Value[]) => Value;
        return () => {
          const xs = fs.map((g) => g());
          try {
            return f(...xs);
          } catch (err) {
            throw attachLoc(err, loc);
          }
        };
      }
    }
  }

  private args2(e: Extract<Expr, { kind: 'apply' }>, scope: Scope): [Fn, Fn] {
    if (e.args.length !== 2) throw semantic(`${e.op} takes 2 arguments, got ${e.args.length}`, e.loc);
    return [this.expr(e.args[0]!, scope), this.expr(e.args[1]!, scope)];
  }

  private except(e: Extract<Expr, { kind: 'except' }>, scope: Scope): Fn {
    const f = this.expr(e.fn, scope);
    const loc = e.loc;
    const sl = this.rt.slots;
    const updates = e.updates.map((u) => {
      const keys = u.path.map((step): Fn => {
        if (step.kind === 'field') {
          const name = internName(step.name);
          return () => name;
        }
        if (step.args.length === 1) return this.expr(step.args[0]!, scope);
        const as = step.args.map((a) => this.expr(a, scope));
        return () => new TupleValue(as.map((a) => a()));
      });
      const atSlot = this.allocSlot();
      const s = new Scope(scope);
      s.map.set('@', { k: 'slot', slot: atSlot, name: '@' });
      const val = this.expr(u.value, s);
      return { keys, atSlot, val };
    });
    const upd = (
      fv: Value,
      keys: readonly Fn[],
      i: number,
      kv: Value[],
      u: { atSlot: number; val: Fn },
    ): Value => {
      const key = kv[i]!;
      if (!isFcn(fv))
        throw new TlaError('eval', `EXCEPT applied to ${describeValue(fv)}, which is not a function`, loc);
      if (fv instanceof LazyFcn) {
        // TLC leaves a function unchanged when the EXCEPT path is not in its domain.
        if (!fcnHas(fv, key)) return fv;
        return fcnExcept(fv, key, updValue(fcnApply(fv, key), keys, i, kv, u));
      }
      const pos = fcnPos(fv, key);
      if (pos < 0) return fv;
      const old = fcnValAt(fv, pos);
      const nv = updValue(old, keys, i, kv, u);
      // The same value again (`![k] = @`, or an IF that keeps it): the function is unchanged.
      return nv === old ? fv : fcnReplaceAt(fv, pos, nv);
    };
    const updValue = (
      old: Value,
      keys: readonly Fn[],
      i: number,
      kv: Value[],
      u: { atSlot: number; val: Fn },
    ): Value => {
      if (i < keys.length - 1) return upd(old, keys, i + 1, kv, u);
      const o = sl[u.atSlot];
      sl[u.atSlot] = old;
      const nv = u.val();
      sl[u.atSlot] = o;
      return nv;
    };
    if (updates.length === 1 && updates[0]!.keys.length === 1) {
      // [f EXCEPT ![k] = e], the common form: no array of keys.
      const u = updates[0]!;
      const k0 = u.keys[0]!;
      return () => {
        const fv = f();
        const kv = [k0()];
        try {
          return upd(fv, u.keys, 0, kv, u);
        } catch (x) {
          throw attachLoc(x, loc);
        }
      };
    }
    return () => {
      let fv = f();
      for (const u of updates) {
        const kv: Value[] = new Array(u.keys.length);
        for (let i = 0; i < kv.length; i++) kv[i] = u.keys[i]!();
        try {
          fv = upd(fv, u.keys, 0, kv, u);
        } catch (x) {
          throw attachLoc(x, loc);
        }
      }
      return fv;
    };
  }

  /** LET: a scope with the definitions, and (when some are zero-arity values) an entry hook. */
  letScope(defs: readonly Definition[], scope: Scope): { scope: Scope; enter: (() => () => void) | null } {
    const s = new Scope(scope);
    const valSlots: number[] = [];
    for (const d of defs) {
      if (d.kind === 'opDef') {
        const info = this.newOpInfo(d, s, false);
        if (d.params.length === 0) {
          const slot = this.allocSlot();
          valSlots.push(slot);
          s.map.set(d.name, { k: 'letval', slot, info });
        } else s.map.set(d.name, { k: 'def', info });
      } else if (d.kind === 'fcnDef') {
        s.map.set(d.name, { k: 'fcndef', info: this.newFcnInfo(d, s, false) });
      } else if (d.name !== null) {
        // LET I == INSTANCE M WITH ... IN I!Op: substitutions (explicit and implicit) are
        // read in the LET's scope, so they may use the parameters around it.
        s.map.set(d.name, { k: 'instance', info: { def: d, scope: s, built: null, inLet: true } });
      } else {
        throw semantic(
          'An unnamed INSTANCE cannot appear inside LET (write LET I == INSTANCE M ... IN I!Op)',
          d.loc,
        );
      }
    }
    if (valSlots.length === 0) return { scope: s, enter: null };
    const sl = this.rt.slots;
    if (valSlots.length === 1) {
      const p = valSlots[0]!;
      return {
        scope: s,
        enter: () => {
          const o = sl[p];
          sl[p] = UNEVAL;
          return () => {
            sl[p] = o;
          };
        },
      };
    }
    return {
      scope: s,
      enter: () => {
        const old = valSlots.map((p) => sl[p]);
        for (const p of valSlots) sl[p] = UNEVAL;
        return () => {
          for (let i = 0; i < valSlots.length; i++) sl[valSlots[i]!] = old[i];
        };
      },
    };
  }

  /** A function constructor [x \in S, ... |-> e] (or a recursive definition when selfSlot >= 0). */
  private fcnMaker(
    bounds: readonly Bound[],
    body: Expr,
    scope: Scope,
    loc: Loc,
    selfSlot: number,
  ): { make: () => LazyFcn; eager: () => Value | null } {
    const bind = this.binder(bounds, scope, loc, 'function constructor');
    const bodyFn = this.expr(body, bind.scope);
    const domFn = bind.domain;
    const sl = this.rt.slots;
    // A finite domain: build the function directly (domain order = iteration order).
    const eager = (): Value | null => {
      const dom = domFn();
      if (!dom.isFinite()) return null;
      const keys = dom.normalized().elems;
      const vals: Value[] = new Array(keys.length);
      let i = 0;
      bind.iterate(() => {
        vals[i++] = bodyFn();
        return false;
      });
      return mkFcn(keys, vals);
    };
    const make = (): LazyFcn => {
      const dom = domFn();
      const lf: LazyFcn = new LazyFcn(
        dom,
        (arg) => {
          const saveSelf = selfSlot >= 0 ? sl[selfSlot] : undefined;
          if (selfSlot >= 0) sl[selfSlot] = lf;
          const r = bind.withValue(arg, bodyFn);
          if (selfSlot >= 0) sl[selfSlot] = saveSelf;
          return r;
        },
        true,
      );
      return lf;
    };
    return { make, eager };
  }

  // -------------------------------------------------------------------------------------
  // Binders: \A, \E, CHOOSE, set builders, function constructors

  /**
   * The set filter `{p \in S : P}` that `e` is, directly or as a reference to a definition
   * without parameters whose body is one (with the scope to compile it in); null otherwise.
   */
  private filterOf(
    e: Expr,
    scope: Scope,
  ): { e: Extract<Expr, { kind: 'setFilter' }>; scope: Scope; constant: boolean } | null {
    if (e.kind === 'setFilter')
      return e.bound.set && e.bound.names.length === 1 && !e.bound.tuple
        ? { e, scope, constant: false }
        : null;
    if (e.kind === 'name' || (e.kind === 'apply' && e.args.length === 0)) {
      const b = scope.lookup(e.kind === 'name' ? e.name : e.op);
      if (
        b &&
        b.k === 'def' &&
        b.info.params.length === 0 &&
        !b.info.recursive &&
        b.info.body.kind === 'setFilter'
      ) {
        const f = this.filterOf(b.info.body, b.info.scope);
        if (!f) return null;
        this.ensureOp(b.info);
        const constant = b.info.moduleLevel && b.info.state === 2 && !b.info.usesState;
        return { ...f, constant };
      }
    }
    return null;
  }

  /** Membership in a set filter without building it: x \in S, then P with p bound to x (only then). */
  private filterMember(e: Extract<Expr, { kind: 'setFilter' }>, scope: Scope): (x: Value) => boolean {
    const loc = e.loc;
    const inner = this.filterOf(e.bound.set!, scope);
    const baseMember = inner ? this.filterMember(inner.e, inner.scope) : null;
    const setFn = baseMember ? null : this.expr(e.bound.set!, scope);
    const bind = this.binder([e.bound], scope, loc, 'set filter');
    const pred = this.expr(e.pred, bind.scope);
    const predOf = (): boolean => isTrue(pred(), 'The predicate of a set filter', loc);
    return (x) => {
      if (baseMember) {
        if (!baseMember(x)) return false;
      } else {
        const s = setFn!();
        if (!(s instanceof SetValue))
          throw new TlaError(
            'eval',
            `A set filter ranges over ${describeValue(s)}, which is not a set`,
            e.bound.loc,
          );
        try {
          if (!s.has(x)) return false;
        } catch (err) {
          throw attachLoc(err, loc);
        }
      }
      return bind.withValue(x, predOf);
    };
  }

  binder(
    bounds: readonly Bound[],
    scope: Scope,
    loc: Loc,
    what: string,
  ): {
    scope: Scope;
    iterate: (cb: () => boolean) => boolean;
    current: () => Value;
    withValue: <T>(v: Value, f: () => T) => T;
    domain: () => SetValue;
  } {
    const s = new Scope(scope);
    const sl = this.rt.slots;
    const parts = bounds.map((b) => {
      if (!b.set) throw unsupported(`Unbounded ${what} (${b.names.join(', ')})`, b.loc);
      const setFn = this.expr(b.set, scope);
      const slots = b.names.map((n) => {
        const slot = this.allocSlot();
        s.map.set(n, { k: 'slot', slot, name: n });
        return slot;
      });
      return { setFn, slots, tuple: b.tuple, loc: b.loc, names: b.names };
    });
    const assign = (p: (typeof parts)[number], v: Value): void => {
      if (!p.tuple) {
        sl[p.slots[0]!] = v;
        return;
      }
      if (!(v instanceof TupleValue) || v.elems.length !== p.slots.length) {
        throw new TlaError(
          'eval',
          `Cannot bind <<${p.names.join(', ')}>> to ${describeValue(v)}: it is not a tuple of ${p.slots.length} elements`,
          p.loc,
        );
      }
      for (let i = 0; i < p.slots.length; i++) sl[p.slots[i]!] = v.elems[i]!;
    };
    const elems = (p: (typeof parts)[number]): readonly Value[] => {
      const sv = p.setFn();
      if (!(sv instanceof SetValue))
        throw new TlaError('eval', `${what} ranges over ${describeValue(sv)}, which is not a set`, p.loc);
      try {
        return sv.normalized().elems;
      } catch (x) {
        throw attachLoc(x, p.loc);
      }
    };
    const allSlots = parts.flatMap((p) => p.slots);
    const save = (): unknown[] => allSlots.map((x) => sl[x]);
    const restore = (old: unknown[]): void => {
      for (let i = 0; i < allSlots.length; i++) sl[allSlots[i]!] = old[i];
    };
    let iterate: (cb: () => boolean) => boolean;
    if (parts.length === 1 && !parts[0]!.tuple) {
      const p = parts[0]!;
      const slot = p.slots[0]!;
      iterate = (cb) => {
        const es = elems(p);
        const o = sl[slot];
        for (let i = 0; i < es.length; i++) {
          sl[slot] = es[i]!;
          if (cb()) {
            sl[slot] = o;
            return true;
          }
        }
        sl[slot] = o;
        return false;
      };
    } else if (parts.length === 2 && !parts[0]!.tuple && !parts[1]!.tuple) {
      // \E x \in S, y \in T: two nested loops (T is evaluated again for each x, as it may use x).
      const p0 = parts[0]!;
      const p1 = parts[1]!;
      const s0 = p0.slots[0]!;
      const s1 = p1.slots[0]!;
      iterate = (cb) => {
        const o0 = sl[s0];
        const o1 = sl[s1];
        const es0 = elems(p0);
        for (let i = 0; i < es0.length; i++) {
          sl[s0] = es0[i]!;
          const es1 = elems(p1);
          for (let j = 0; j < es1.length; j++) {
            sl[s1] = es1[j]!;
            if (cb()) {
              sl[s0] = o0;
              sl[s1] = o1;
              return true;
            }
          }
        }
        sl[s0] = o0;
        sl[s1] = o1;
        return false;
      };
    } else {
      iterate = (cb) => {
        const old = save();
        const rec = (i: number): boolean => {
          if (i === parts.length) return cb();
          const p = parts[i]!;
          for (const v of elems(p)) {
            assign(p, v);
            if (rec(i + 1)) return true;
          }
          return false;
        };
        const r = rec(0);
        restore(old);
        return r;
      };
    }
    // The bound value(s) as one value: the element, or a tuple for several bounds.
    const current = (): Value => {
      if (parts.length === 1) {
        const p = parts[0]!;
        return p.tuple ? new TupleValue(p.slots.map((x) => sl[x] as Value)) : (sl[p.slots[0]!] as Value);
      }
      return new TupleValue(
        parts.map((p) =>
          p.tuple ? new TupleValue(p.slots.map((x) => sl[x] as Value)) : (sl[p.slots[0]!] as Value),
        ),
      );
    };
    const withValue = <T>(v: Value, f: () => T): T => {
      const old = save();
      if (parts.length === 1) assign(parts[0]!, v);
      else {
        if (!(v instanceof TupleValue) || v.elems.length !== parts.length) {
          throw new TlaError(
            'eval',
            `Expected a tuple of ${parts.length} elements, got ${describeValue(v)}`,
            loc,
          );
        }
        parts.forEach((p, i) => assign(p, v.elems[i]!));
      }
      const r = f();
      restore(old);
      return r;
    };
    const domain = (): SetValue => {
      const sets = parts.map((p) => {
        const sv = p.setFn();
        if (!(sv instanceof SetValue))
          throw new TlaError('eval', `${what} ranges over ${describeValue(sv)}, which is not a set`, p.loc);
        return sv;
      });
      if (sets.length === 1) return sets[0]!;
      return product(sets) as SetValue;
    };
    return { scope: s, iterate, current, withValue, domain };
  }

  // -------------------------------------------------------------------------------------
  // Actions

  /**
   * Compiles e as an action. mode 'next': primed variables are assigned; 'init': unprimed
   * ones. split: e is reached from the top through \/, \E and operator definitions only, so
   * operators set the action label and \E variables become label arguments.
   */
  action(e: Expr, scope: Scope, mode: Mode, split: boolean): Act {
    const rt = this.rt;
    switch (e.kind) {
      case 'and':
        return this.andAction(e.args, scope, mode);
      case 'or': {
        const acts = e.args.map((a) => this.action(a, scope, mode, split));
        return (k) => {
          for (let i = 0; i < acts.length; i++) acts[i]!(k);
        };
      }
      case 'bool':
        return e.value ? (k) => k() : () => {};
      case 'quant': {
        if (e.quantifier === 'forall') break;
        const bind = this.binder(e.bounds, scope, e.loc, '\\E');
        const body = this.action(e.body, bind.scope, mode, split);
        // One callback per \E, made once: the continuation of the enumeration in progress is
        // in curK (saved and restored around it, so re-entrance is safe).
        let curK: () => void = () => {};
        if (!split) {
          const each = (): boolean => {
            body(curK);
            return false;
          };
          return (k) => {
            const saved = curK;
            curK = k;
            try {
              bind.iterate(each);
            } finally {
              curK = saved;
            }
          };
        }
        const names = e.bounds.flatMap((b) => b.names);
        const slots = names.map((n) => (bind.scope.map.get(n) as { slot: number }).slot);
        const sl = rt.slots;
        const nn = names.length;
        const each = (): boolean => {
          const saved = rt.lblLen;
          const ns = rt.lblNames;
          const vs = rt.lblVals;
          for (let i = 0; i < nn; i++) {
            ns[saved + i] = names[i]!;
            vs[saved + i] = sl[slots[i]!] as Value;
          }
          rt.lblLen = saved + nn;
          body(curK);
          rt.lblLen = saved;
          return false;
        };
        return (k) => {
          const saved = curK;
          curK = k;
          try {
            bind.iterate(each);
          } finally {
            curK = saved;
          }
        };
      }
      case 'if': {
        const c = this.expr(e.cond, scope);
        const t = this.action(e.then, scope, mode, false);
        const f = this.action(e.else, scope, mode, false);
        const loc = e.cond.loc;
        return (k) => (isTrue(c(), 'The condition of IF', loc) ? t(k) : f(k));
      }
      case 'case': {
        const conds = e.arms.map((a) => this.expr(a.cond, scope));
        const bodies = e.arms.map((a) => this.action(a.body, scope, mode, false));
        const other = e.other ? this.action(e.other, scope, mode, false) : null;
        const loc = e.loc;
        return (k) => {
          for (let i = 0; i < conds.length; i++)
            if (isTrue(conds[i]!(), 'A CASE guard', loc)) return bodies[i]!(k);
          if (other) return other(k);
          throw new TlaError(
            'eval',
            'Attempted to evaluate a CASE with no arm enabled (no guard is true and there is no OTHER)',
            loc,
          );
        };
      }
      case 'let': {
        const { scope: s, enter } = this.letScope(e.defs, scope);
        const body = this.action(e.body, s, mode, split);
        if (!enter) return body;
        return (k) => {
          const restore = enter();
          body(k);
          restore();
        };
      }
      case 'unchanged': {
        if (mode === 'init') throw semantic('UNCHANGED cannot appear in an initial predicate', e.loc);
        const targets = this.unchangedTargets(e.expr, scope);
        return this.unchangedAction(targets, e.loc);
      }
      case 'boxAction': {
        const a = this.action(e.action, scope, mode, split);
        const u = this.unchangedAction(this.unchangedTargets(e.vars, scope), e.loc);
        return (k) => {
          a(k);
          u(k);
        };
      }
      case 'angleAction': {
        const a = this.action(e.action, scope, mode, split);
        const u = this.unchangedTargets(e.vars, scope);
        const loc = e.loc;
        return (k) =>
          a(() => {
            for (const t of u) if (!this.unchangedHolds(t, loc)) return k();
          });
      }
      case 'name': {
        const b = scope.lookup(e.name);
        if (b && b.k === 'def' && b.info.params.length === 0)
          return this.callAction(b.info, [], scope, mode, split, e.name, e.loc);
        if (b && b.k === 'letval') {
          const info = b.info;
          return this.callAction(info, [], scope, mode, split, e.name, e.loc);
        }
        if (b && b.k === 'alias' && this.freeSlotOf(b) === null)
          return this.action(b.expr, b.scope, mode, split);
        break;
      }
      case 'apply': {
        const b = scope.lookup(e.op);
        if (b && b.k === 'def') return this.callAction(b.info, e.args, scope, mode, split, e.op, e.loc);
        if (b && b.k === 'alias' && b.expr.kind === 'name') {
          // An operator constant replaced by a definition (`Send <- MCSend` in the .cfg), possibly
          // through instance substitutions (a chain of names).
          let d: Binding | undefined = b;
          for (let i = 0; i < 100 && d && d.k === 'alias' && d.expr.kind === 'name'; i++)
            d = d.scope.lookup(d.expr.name);
          if (d && d.k === 'def') return this.callAction(d.info, e.args, scope, mode, split, e.op, e.loc);
        }
        if (b) break;
        if (e.op === '\\cdot' && e.args.length === 2) {
          if (mode === 'init')
            throw semantic(
              `The action composition ${exprText(e)} cannot appear in an initial predicate`,
              e.loc,
            );
          return this.cdotAction(e, scope);
        }
        if (e.op === '=' && e.args.length === 2) {
          const target = this.assignTarget(e.args[0]!, scope, mode);
          if (target !== null) return this.assign(target, this.expr(e.args[1]!, scope), false, e.loc);
        }
        if (e.op === '\\in' && e.args.length === 2) {
          const target = this.assignTarget(e.args[0]!, scope, mode);
          if (target !== null) return this.assign(target, this.expr(e.args[1]!, scope), true, e.loc);
        }
        if (e.op === '/\\' && e.args.length === 2) return this.andAction(e.args, scope, mode);
        if (e.op === '\\/' && e.args.length === 2) {
          const [a, c] = e.args.map((x) => this.action(x, scope, mode, split)) as [Act, Act];
          return (k) => {
            a(k);
            c(k);
          };
        }
        if (e.op === '=>' && e.args.length === 2) {
          const c = this.expr(e.args[0]!, scope);
          const a = this.action(e.args[1]!, scope, mode, false);
          const loc = e.loc;
          return (k) => (isTrue(c(), 'The left side of =>', loc) ? a(k) : k());
        }
        break;
      }
      case 'moduleRef': {
        const ms = this.resolveInstancePath(e, scope);
        const b = ms.lookupInstanceOp(e.op);
        if (b && b.k === 'def') return this.callAction(b.info, e.args, scope, mode, split, e.op, e.loc);
        break;
      }
    }
    if (TEMPORAL.has(e.kind))
      throw unsupported(`The temporal formula ${exprText(e)} used as an action`, e.loc);
    const p = this.expr(e, scope);
    const loc = e.loc;
    const act: Act = (k) => {
      if (isTrue(p(), 'An action conjunct', loc)) k();
    };
    this.fusable.set(act, (rest) => (k) => {
      if (isTrue(p(), 'An action conjunct', loc)) rest(k);
    });
    return act;
  }

  /**
   * Action composition `A \cdot B`: s -> t is a step iff s -A-> u -B-> t for some state u.
   * As TLC (tlc2.tool.impl.Tool.cdot): the A-successors u of the current state are computed
   * first (from an empty next state: A must assign every variable), counted in
   * `rt.cdotGenerated` (TLC counts them as generated states), then B runs with u as the
   * current state, assigning (or testing) the real next state; each B-successor is a
   * successor of the original state. Labels are not split below \cdot.
   */
  private cdotAction(e: Extract<Expr, { kind: 'apply' }>, scope: Scope): Act {
    const rt = this.rt;
    const [ea, eb] = e.args as [Expr, Expr];
    const a = this.action(ea, scope, 'next', false);
    const b = this.action(eb, scope, 'next', false);
    const nVars = this.variables.length;
    const loc = e.loc;
    this.noteState();
    return (k) => {
      const s0 = rt.s!;
      const t0 = rt.t!;
      const mids: (Value | undefined)[][] = [];
      const u: (Value | undefined)[] = new Array(t0.length);
      rt.t = u;
      try {
        a(() => {
          for (let i = 0; i < nVars; i++) {
            if (u[i] === undefined) {
              throw new TlaError(
                'eval',
                `In the action composition ${exprText(e)}, the left action ${exprText(ea)} does not assign a value to the variable ${this.variables[i]}: A \\cdot B needs A to determine the whole intermediate state (add UNCHANGED ${this.variables[i]} to A)`,
                loc,
              );
            }
          }
          mids.push(u.slice());
        });
      } finally {
        rt.t = t0;
      }
      if (rt.countCdot) rt.cdotGenerated += mids.length;
      for (let i = 0; i < mids.length; i++) {
        const m = mids[i]!;
        rt.s = m;
        try {
          b(() => {
            rt.s = s0;
            try {
              k();
            } finally {
              rt.s = m;
            }
          });
        } finally {
          rt.s = s0;
        }
      }
    };
  }

  /** Acts that can be fused with the act that follows them in a conjunction. */
  private readonly fusable = new WeakMap<Act, (rest: Act) => Act>();

  private andAction(args: readonly Expr[], scope: Scope, mode: Mode): Act {
    const acts = args.map((a) => this.action(a, scope, mode, false));
    // Right fold: a1(() => a2(() => ... k)). Guards, assignments and UNCHANGED are fused
    // with the rest of the chain, so they allocate no continuation at run time.
    let chain: Act = acts[acts.length - 1]!;
    for (let i = acts.length - 2; i >= 0; i--) {
      const a = acts[i]!;
      const rest = chain;
      const fuse = this.fusable.get(a);
      chain = fuse ? fuse(rest) : (k) => a(() => rest(k));
    }
    return chain;
  }

  /** The variable that `lhs` assigns in this mode (x' in next, x in init), or null. */
  private assignTarget(lhs: Expr, scope: Scope, mode: Mode): number | null {
    if (mode === 'next') {
      if (lhs.kind === 'prime') return this.varTarget(lhs.expr, scope);
      if (lhs.kind === 'apply' && lhs.op === "'" && lhs.args.length === 1)
        return this.varTarget(lhs.args[0]!, scope);
      if (lhs.kind === 'name') {
        // A parameter substituted by a primed argument (call by name): x' = e assigns x.
        const b = scope.lookup(lhs.name);
        if (b && b.k === 'alias') return this.assignTarget(b.expr, b.scope, mode);
      }
      return null;
    }
    return this.varTarget(lhs, scope);
  }

  private assign(v: number, rhs: Fn, member: boolean, loc: Loc): Act {
    const rt = this.rt;
    this.noteState();
    const name = this.slotName(v);
    if (!member) {
      const fused =
        (rest: Act): Act =>
        (k) => {
          const target = rt.t ?? rt.s!;
          const cur = target[v];
          if (cur === undefined) {
            target[v] = rhs();
            rest(k);
            target[v] = undefined;
          } else {
            let eq: boolean;
            try {
              eq = equals(cur, rhs());
            } catch (x) {
              throw attachLoc(x, loc);
            }
            if (eq) rest(k);
          }
        };
      const act = fused((k) => k());
      this.fusable.set(act, fused);
      return act;
    }
    return (k) => {
      const target = rt.t ?? rt.s!;
      const cur = target[v];
      const s = rhs();
      if (!(s instanceof SetValue))
        throw new TlaError('eval', `${name} \\in S: S is ${describeValue(s)}, which is not a set`, loc);
      if (cur !== undefined) {
        let m: boolean;
        try {
          m = s.has(cur);
        } catch (x) {
          throw attachLoc(x, loc);
        }
        if (m) k();
        return;
      }
      let es: readonly Value[];
      try {
        es = s.normalized().elems;
      } catch (x) {
        throw attachLoc(x, loc);
      }
      for (let i = 0; i < es.length; i++) {
        target[v] = es[i]!;
        k();
      }
      target[v] = undefined;
    };
  }

  private unchangedAction(targets: UnchangedTarget[], loc: Loc): Act {
    const rt = this.rt;
    if (targets.some((t) => 'cur' in t)) {
      // Free substituted variables (under ENABLED): their current value is their substitution.
      const ts = targets.map((t) => ('v' in t ? { v: t.v, cur: t.cur ?? null } : t));
      return (k) => {
        const t = rt.t!;
        const s = rt.s!;
        const assigned: number[] = [];
        let ok = true;
        for (const x of ts) {
          if (!('v' in x)) {
            if (!this.unchangedHolds(x, loc)) {
              ok = false;
              break;
            }
            continue;
          }
          const now = x.cur ? x.cur() : s[x.v]!;
          const cur = t[x.v];
          if (cur === undefined) {
            t[x.v] = now;
            assigned.push(x.v);
          } else if (!equals(cur, now)) {
            ok = false;
            break;
          }
        }
        if (ok) k();
        for (let i = 0; i < assigned.length; i++) t[assigned[i]!] = undefined;
      };
    }
    if (targets.every((t) => 'v' in t)) {
      const vs = targets.map((t) => (t as { v: number }).v);
      const n = vs.length;
      const fused =
        n <= 30
          ? (rest: Act): Act =>
              (k) => {
                const t = rt.t!;
                const s = rt.s!;
                // The variables this conjunct assigned (bit i: vs[i]), to unassign afterwards.
                let assigned = 0;
                let ok = true;
                for (let i = 0; i < n; i++) {
                  const v = vs[i]!;
                  const cur = t[v];
                  if (cur === undefined) {
                    t[v] = s[v];
                    assigned |= 1 << i;
                  } else if (cur !== s[v] && !equals(cur, s[v]!)) {
                    ok = false;
                    break;
                  }
                }
                if (ok) rest(k);
                for (let i = 0; assigned !== 0; i++, assigned >>>= 1) if (assigned & 1) t[vs[i]!] = undefined;
              }
          : (rest: Act): Act =>
              (k) => {
                const t = rt.t!;
                const s = rt.s!;
                // The variables this conjunct assigned (and must unassign afterwards).
                const assigned: number[] = [];
                let ok = true;
                for (let i = 0; i < n; i++) {
                  const v = vs[i]!;
                  const cur = t[v];
                  if (cur === undefined) {
                    t[v] = s[v];
                    assigned.push(v);
                  } else if (!equals(cur, s[v]!)) {
                    ok = false;
                    break;
                  }
                }
                if (ok) rest(k);
                for (let i = 0; i < assigned.length; i++) t[assigned[i]!] = undefined;
              };
      const act = fused((k) => k());
      this.fusable.set(act, fused);
      return act;
    }
    // Variables are assigned (or tested), then the other expressions are tested.
    const vars = targets.filter((t): t is { v: number } => 'v' in t);
    const others = targets.filter((t) => !('v' in t));
    const assignVars = vars.length > 0 ? this.unchangedAction(vars, loc) : null;
    const test: Act = (k) => {
      for (const t of others) if (!this.unchangedHolds(t, loc)) return;
      k();
    };
    return assignVars ? (k) => assignVars(() => test(k)) : test;
  }

  /** An operator applied in an action: its body is enumerated as an action. */
  private callAction(
    info: OpInfo,
    args: readonly Expr[],
    scope: Scope,
    mode: Mode,
    split: boolean,
    name: string,
    loc: Loc,
  ): Act {
    const rt = this.rt;
    const sl = rt.slots;
    let body: Act;
    // By name too when an argument is primed (`Send(p, d, mem, mem')` with Send's body
    // `newMem = ...`): the parameter then stands for x', which the body may assign.
    // In an initial predicate, the same for a variable argument (`XInit(x)` with XInit(v) == v = 0).
    const primedArg =
      !info.recursive &&
      args.some(
        (a, i) =>
          info.params[i]?.arity === 0 &&
          (mode === 'init' ? this.varTarget(a, scope) !== null : this.isActionExpr(a, scope)),
      );
    if (args.length > 0 && (this.isByName(info) || primedArg)) {
      // Arguments substituted into the body (TLA+'s call by name), so that a primed
      // parameter means the primed argument.
      this.checkArity(info, args, loc);
      const sub = this.action(info.body, this.substScope(info, args, scope), mode, split);
      if (!split) return sub;
      const vals = info.params.map((p, i) => (p.arity === 0 ? this.expr(args[i]!, scope) : null));
      return (k) => {
        const saveName = rt.lblName;
        const saveBase = rt.lblBase;
        const saveLen = rt.lblLen;
        let len = saveLen;
        for (let i = 0; i < vals.length; i++) {
          const f = vals[i];
          if (!f) continue;
          try {
            const v = f();
            rt.lblNames[len] = info.params[i]!.name;
            rt.lblVals[len] = v;
            len++;
          } catch {
            // An argument that cannot be evaluated before the action runs is left out of the label.
          }
        }
        rt.lblName = info.name;
        rt.lblBase = saveLen;
        rt.lblLen = len;
        sub(k);
        rt.lblName = saveName;
        rt.lblBase = saveBase;
        rt.lblLen = saveLen;
      };
    }
    this.ensureOp(info);
    this.noteDef(info);
    const argFns = this.opArgs(info.params, args, scope, loc, name);
    const slots = info.slots;
    const key = `${mode}:${split}`;
    // Under ENABLED with free substituted variables, actions are compiled and cached apart.
    let acts = info.acts;
    if (this.free) {
      acts = this.free.acts.get(info) ?? new Map<string, Act>();
      this.free.acts.set(info, acts);
    }
    const cached = acts.get(key);
    if (cached) body = cached;
    else {
      // Guard against recursion while compiling: a placeholder that looks the real one up.
      const table = acts;
      table.set(key, (k) => table.get(key)!(k));
      body = this.action(info.body, info.bodyScope!, mode, split);
      table.set(key, body);
    }
    const n = argFns.length;
    const labelName = info.name;
    const params = info.params;
    if (!split) {
      if (n === 0) return body;
      if (n === 1) {
        const f0 = argFns[0]!;
        const p0 = slots[0]!;
        return (k) => {
          const v0 = f0();
          const o0 = sl[p0];
          sl[p0] = v0;
          body(k);
          sl[p0] = o0;
        };
      }
      return (k) => {
        const vs: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) vs[i] = argFns[i]!();
        const old: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) {
          old[i] = sl[slots[i]!];
          sl[slots[i]!] = vs[i];
        }
        body(k);
        for (let i = 0; i < n; i++) sl[slots[i]!] = old[i];
      };
    }
    // The label: this operator's name, its (value) parameters as arguments.
    const labelParam = params.map((p) => p.arity === 0);
    const paramNames = params.map((p) => p.name);
    if (n === 0) {
      return (k) => {
        const saveName = rt.lblName;
        const saveBase = rt.lblBase;
        const saveLen = rt.lblLen;
        rt.lblName = labelName;
        rt.lblBase = saveLen;
        body(k);
        rt.lblName = saveName;
        rt.lblBase = saveBase;
        rt.lblLen = saveLen;
      };
    }
    if (n === 1) {
      const f0 = argFns[0]!;
      const p0 = slots[0]!;
      const label0 = labelParam[0]!;
      const name0 = paramNames[0]!;
      return (k) => {
        const v0 = f0();
        const o0 = sl[p0];
        sl[p0] = v0;
        const saveName = rt.lblName;
        const saveBase = rt.lblBase;
        const saveLen = rt.lblLen;
        rt.lblName = labelName;
        rt.lblBase = saveLen;
        if (label0 && !(v0 instanceof Deferred)) {
          rt.lblNames[saveLen] = name0;
          rt.lblVals[saveLen] = v0;
          rt.lblLen = saveLen + 1;
        }
        body(k);
        rt.lblName = saveName;
        rt.lblBase = saveBase;
        rt.lblLen = saveLen;
        sl[p0] = o0;
      };
    }
    return (k) => {
      const vs: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) vs[i] = argFns[i]!();
      const old: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        old[i] = sl[slots[i]!];
        sl[slots[i]!] = vs[i];
      }
      const saveName = rt.lblName;
      const saveBase = rt.lblBase;
      const saveLen = rt.lblLen;
      rt.lblName = labelName;
      rt.lblBase = saveLen;
      let len = saveLen;
      for (let i = 0; i < n; i++) {
        if (labelParam[i] && !(vs[i] instanceof Deferred)) {
          rt.lblNames[len] = paramNames[i]!;
          rt.lblVals[len] = vs[i] as Value;
          len++;
        }
      }
      rt.lblLen = len;
      body(k);
      rt.lblName = saveName;
      rt.lblBase = saveBase;
      rt.lblLen = saveLen;
      for (let i = 0; i < n; i++) sl[slots[i]!] = old[i];
    };
  }
}

/** The value of a string, number or boolean literal; undefined for other expressions. */
function literalOf(e: Expr): string | number | boolean | undefined {
  if (e.kind === 'str') return internName(e.value);
  if (e.kind === 'num' || e.kind === 'bool') return e.value;
  return undefined;
}

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/**
 * The standard integer comparison or arithmetic `op` on two integers computed inline (one
 * closure per operator, so each call site stays simple for the JIT); anything else (other
 * kinds, a result outside TLC's 32-bit range) goes to the operator `f` for its value or its
 * error. Null for the other operators.
 */
function intOp(op: string, a: Fn, c: Fn, f: (x: Value, y: Value) => Value, loc: Loc): Fn | null {
  const slow = (x: Value, y: Value): Value => {
    try {
      return f(x, y);
    } catch (err) {
      throw attachLoc(err, loc);
    }
  };
  switch (op) {
    case '<':
      return () => {
        const x = a();
        const y = c();
        return typeof x === 'number' && typeof y === 'number' ? x < y : slow(x, y);
      };
    case '>':
      return () => {
        const x = a();
        const y = c();
        return typeof x === 'number' && typeof y === 'number' ? x > y : slow(x, y);
      };
    case '\\leq':
      return () => {
        const x = a();
        const y = c();
        return typeof x === 'number' && typeof y === 'number' ? x <= y : slow(x, y);
      };
    case '\\geq':
      return () => {
        const x = a();
        const y = c();
        return typeof x === 'number' && typeof y === 'number' ? x >= y : slow(x, y);
      };
    case '+':
      return () => {
        const x = a();
        const y = c();
        if (typeof x === 'number' && typeof y === 'number') {
          const r = x + y;
          if (r <= INT32_MAX && r >= INT32_MIN) return r | 0;
        }
        return slow(x, y);
      };
    case '-':
      return () => {
        const x = a();
        const y = c();
        if (typeof x === 'number' && typeof y === 'number') {
          const r = x - y;
          if (r <= INT32_MAX && r >= INT32_MIN) return r | 0;
        }
        return slow(x, y);
      };
  }
  return null;
}

/** Whether one of `names` occurs inside a primed (or UNCHANGED / ENABLED / [A]_v) part of e. */
function primesSome(e: Expr, names: ReadonlySet<string>): boolean {
  let found = false;
  const visit = (x: Expr, primed: boolean): void => {
    if (found) return;
    switch (x.kind) {
      case 'name':
        if (primed && names.has(x.name)) found = true;
        return;
      case 'prime':
      case 'unchanged':
      case 'enabled':
        visit(x.expr, true);
        return;
      case 'boxAction':
      case 'angleAction':
        visit(x.action, true);
        visit(x.vars, true);
        return;
      case 'apply':
        if (x.op === "'") {
          for (const a of x.args) visit(a, true);
          return;
        }
        if (primed && names.has(x.op)) found = true;
        for (const a of x.args) visit(a, primed);
        return;
      default:
        forEachChild(x, (c) => visit(c, primed));
    }
  };
  visit(e, false);
  return found;
}

/** Whether e contains a prime (x', e', UNCHANGED, [A]_v, <<A>>_v). */
function hasPrime(e: Expr): boolean {
  if (e.kind === 'prime' || e.kind === 'unchanged' || e.kind === 'boxAction' || e.kind === 'angleAction')
    return true;
  if (e.kind === 'apply' && e.op === "'") return true;
  let found = false;
  forEachChild(e, (c) => {
    if (!found && hasPrime(c)) found = true;
  });
  return found;
}

/** Calls f on each direct sub-expression of e (definitions of a LET included). */
function forEachChild(e: Expr, f: (c: Expr) => void): void {
  const bounds = (bs: readonly Bound[]): void => {
    for (const b of bs) if (b.set) f(b.set);
  };
  switch (e.kind) {
    case 'num':
    case 'str':
    case 'bool':
    case 'builtinSet':
    case 'name':
    case 'at':
      return;
    case 'apply':
      e.args.forEach(f);
      return;
    case 'moduleRef':
      for (const p of e.path) p.args.forEach(f);
      e.args.forEach(f);
      return;
    case 'lambda':
      f(e.body);
      return;
    case 'and':
    case 'or':
      e.args.forEach(f);
      return;
    case 'quant':
      bounds(e.bounds);
      f(e.body);
      return;
    case 'temporalQuant':
      f(e.body);
      return;
    case 'choose':
      bounds([e.bound]);
      f(e.body);
      return;
    case 'setEnum':
    case 'tuple':
      e.elems.forEach(f);
      return;
    case 'setFilter':
      bounds([e.bound]);
      f(e.pred);
      return;
    case 'setMap':
    case 'fcn':
      bounds(e.bounds);
      f(e.body);
      return;
    case 'fcnApply':
      f(e.fn);
      e.args.forEach(f);
      return;
    case 'fcnSet':
      f(e.domain);
      f(e.range);
      return;
    case 'record':
      for (const x of e.fields) f(x.value);
      return;
    case 'recordSet':
      for (const x of e.fields) f(x.set);
      return;
    case 'dot':
      f(e.record);
      return;
    case 'except':
      f(e.fn);
      for (const u of e.updates) {
        for (const p of u.path) if (p.kind === 'index') p.args.forEach(f);
        f(u.value);
      }
      return;
    case 'if':
      f(e.cond);
      f(e.then);
      f(e.else);
      return;
    case 'case':
      for (const a of e.arms) {
        f(a.cond);
        f(a.body);
      }
      if (e.other) f(e.other);
      return;
    case 'let':
      for (const d of e.defs) {
        if (d.kind === 'opDef' || d.kind === 'fcnDef') f(d.body);
        if (d.kind === 'fcnDef') bounds(d.bounds);
      }
      f(e.body);
      return;
    case 'prime':
    case 'unchanged':
    case 'enabled':
    case 'always':
    case 'eventually':
      f(e.expr);
      return;
    case 'boxAction':
    case 'angleAction':
      f(e.action);
      f(e.vars);
      return;
    case 'fairness':
      f(e.vars);
      f(e.action);
      return;
    case 'leadsTo':
      f(e.lhs);
      f(e.rhs);
      return;
  }
}
