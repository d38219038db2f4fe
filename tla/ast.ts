// The TLA+ abstract syntax tree: what the parser (tla/parse) produces from tree-sitter's
// concrete syntax tree and what the evaluator (tla/eval) compiles. Names are not resolved
// here; the evaluator resolves them against the module scope.
//
// Operator names are canonical ASCII whatever the source used: `∈` and `\in` both become
// '\\in', `≤`, `=<` and `<=` become '\\leq', `≠` and `/=` become '#', `⟨⟩` become tuples.

/** A place in a source file: 1-based line and column. */
export interface Loc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** An operator parameter: `x` (arity 0) or `F(_, _)` (arity 2). */
export interface Param {
  readonly name: string;
  readonly arity: number;
}

/**
 * A bound `x \in S`, `x, y \in S` (the parser emits one Bound per name, sharing the set),
 * or `<<x, y>> \in S` (tuple: true). `set` is null for unbounded forms (`\A x : P`,
 * `CHOOSE x : P`).
 */
export interface Bound {
  readonly names: readonly string[];
  readonly tuple: boolean;
  readonly set: Expr | null;
  readonly loc: Loc;
}

/** One step of an EXCEPT path: `![e]` (args holds e; `![a, b]` holds both) or `!.f`. */
export type ExceptPathStep =
  | { readonly kind: 'index'; readonly args: readonly Expr[] }
  | { readonly kind: 'field'; readonly name: string };

export interface ExceptUpdate {
  readonly path: readonly ExceptPathStep[];
  readonly value: Expr;
}

/** One step of a module reference path: `M!`, `M(a, b)!`. */
export interface InstancePathStep {
  readonly name: string;
  readonly args: readonly Expr[];
}

export type Expr =
  /** Natural number literal (also \b, \o, \h forms, already converted). */
  | { readonly kind: 'num'; readonly value: number; readonly loc: Loc }
  | { readonly kind: 'str'; readonly value: string; readonly loc: Loc }
  | { readonly kind: 'bool'; readonly value: boolean; readonly loc: Loc }
  /** BOOLEAN and STRING. */
  | { readonly kind: 'builtinSet'; readonly name: 'BOOLEAN' | 'STRING'; readonly loc: Loc }
  /** A reference to a variable, constant, bound variable, parameter or zero-arity operator, or an operator used as a value (passed to a higher-order operator). */
  | { readonly kind: 'name'; readonly name: string; readonly loc: Loc }
  /**
   * Application of a named operator: user-defined `Op(a, b)`, a standard module operator
   * (`Len(s)`, `a + b`, `a .. b`), or a built-in one (`a \in S`, `S \cup T`, `SUBSET S`,
   * `DOMAIN f`, `~P`, `P => Q`, `-x` as '-.', `A \X B \X C` as one '\\X' with three args).
   */
  | { readonly kind: 'apply'; readonly op: string; readonly args: readonly Expr[]; readonly loc: Loc }
  /** `M!Op(args)`, `M(p)!Op`, `A!B!Op`: path holds the instance steps, op the final name. */
  | {
      readonly kind: 'moduleRef';
      readonly path: readonly InstancePathStep[];
      readonly op: string;
      readonly args: readonly Expr[];
      readonly loc: Loc;
    }
  | { readonly kind: 'lambda'; readonly params: readonly string[]; readonly body: Expr; readonly loc: Loc }
  /** `/\` and `\/`, from infix forms and from bulleted junction lists alike; n-ary, left to right. */
  | { readonly kind: 'and'; readonly args: readonly Expr[]; readonly loc: Loc }
  | { readonly kind: 'or'; readonly args: readonly Expr[]; readonly loc: Loc }
  /** `\A b1, b2 : body` / `\E ...`; bounds with set null are unbounded quantifiers. */
  | {
      readonly kind: 'quant';
      readonly quantifier: 'forall' | 'exists';
      readonly bounds: readonly Bound[];
      readonly body: Expr;
      readonly loc: Loc;
    }
  /** `\AA x : F` and `\EE x : F` (temporal quantifiers). */
  | {
      readonly kind: 'temporalQuant';
      readonly quantifier: 'forall' | 'exists';
      readonly names: readonly string[];
      readonly body: Expr;
      readonly loc: Loc;
    }
  | { readonly kind: 'choose'; readonly bound: Bound; readonly body: Expr; readonly loc: Loc }
  | { readonly kind: 'setEnum'; readonly elems: readonly Expr[]; readonly loc: Loc }
  /** `{x \in S : P}` (also with a tuple bound). */
  | { readonly kind: 'setFilter'; readonly bound: Bound; readonly pred: Expr; readonly loc: Loc }
  /** `{e : x \in S, y \in T}`. */
  | { readonly kind: 'setMap'; readonly body: Expr; readonly bounds: readonly Bound[]; readonly loc: Loc }
  /** `[x \in S, y \in T |-> e]`: with more than one bound variable the domain is a set of tuples. */
  | { readonly kind: 'fcn'; readonly bounds: readonly Bound[]; readonly body: Expr; readonly loc: Loc }
  /** `f[a]`, `f[a, b]` (the latter applies f to the tuple <<a, b>>). */
  | { readonly kind: 'fcnApply'; readonly fn: Expr; readonly args: readonly Expr[]; readonly loc: Loc }
  /** `[S -> T]`. */
  | { readonly kind: 'fcnSet'; readonly domain: Expr; readonly range: Expr; readonly loc: Loc }
  | {
      readonly kind: 'record';
      readonly fields: readonly { readonly name: string; readonly value: Expr }[];
      readonly loc: Loc;
    }
  /** `[a : S, b : T]`. */
  | {
      readonly kind: 'recordSet';
      readonly fields: readonly { readonly name: string; readonly set: Expr }[];
      readonly loc: Loc;
    }
  /** `r.f`. */
  | { readonly kind: 'dot'; readonly record: Expr; readonly field: string; readonly loc: Loc }
  | { readonly kind: 'tuple'; readonly elems: readonly Expr[]; readonly loc: Loc }
  | { readonly kind: 'except'; readonly fn: Expr; readonly updates: readonly ExceptUpdate[]; readonly loc: Loc }
  /** `@` inside an EXCEPT update's value. */
  | { readonly kind: 'at'; readonly loc: Loc }
  | { readonly kind: 'if'; readonly cond: Expr; readonly then: Expr; readonly else: Expr; readonly loc: Loc }
  | {
      readonly kind: 'case';
      readonly arms: readonly { readonly cond: Expr; readonly body: Expr }[];
      readonly other: Expr | null;
      readonly loc: Loc;
    }
  | { readonly kind: 'let'; readonly defs: readonly Definition[]; readonly body: Expr; readonly loc: Loc }
  | { readonly kind: 'prime'; readonly expr: Expr; readonly loc: Loc }
  | { readonly kind: 'unchanged'; readonly expr: Expr; readonly loc: Loc }
  | { readonly kind: 'enabled'; readonly expr: Expr; readonly loc: Loc }
  /** `[A]_v`. */
  | { readonly kind: 'boxAction'; readonly action: Expr; readonly vars: Expr; readonly loc: Loc }
  /** `<<A>>_v`. */
  | { readonly kind: 'angleAction'; readonly action: Expr; readonly vars: Expr; readonly loc: Loc }
  /** `WF_v(A)` (strong: false) and `SF_v(A)`. */
  | {
      readonly kind: 'fairness';
      readonly strong: boolean;
      readonly vars: Expr;
      readonly action: Expr;
      readonly loc: Loc;
    }
  | { readonly kind: 'always'; readonly expr: Expr; readonly loc: Loc }
  | { readonly kind: 'eventually'; readonly expr: Expr; readonly loc: Loc }
  | { readonly kind: 'leadsTo'; readonly lhs: Expr; readonly rhs: Expr; readonly loc: Loc };

/** A definition inside a module or a LET. */
export type Definition =
  /** `Op(p1, F(_)) == body`; `recursive` when declared by a RECURSIVE statement. */
  | {
      readonly kind: 'opDef';
      readonly name: string;
      readonly params: readonly Param[];
      readonly body: Expr;
      readonly local: boolean;
      readonly recursive: boolean;
      readonly loc: Loc;
    }
  /** `f[x \in S, y \in T] == body` (may refer to f itself). */
  | {
      readonly kind: 'fcnDef';
      readonly name: string;
      readonly bounds: readonly Bound[];
      readonly body: Expr;
      readonly local: boolean;
      readonly loc: Loc;
    }
  /** `INSTANCE M WITH a <- e` (name null: its definitions join this module) or `I(p) == INSTANCE M WITH ...`. */
  | {
      readonly kind: 'instance';
      readonly name: string | null;
      readonly params: readonly Param[];
      readonly module: string;
      readonly substitutions: readonly { readonly name: string; readonly expr: Expr }[];
      readonly local: boolean;
      readonly loc: Loc;
    };

/** A parsed module. Definitions and ASSUMEs keep source order; theorems and proofs are dropped. */
export interface Module {
  readonly name: string;
  readonly file: string;
  readonly extends: readonly string[];
  readonly constants: readonly (Param & { readonly loc: Loc })[];
  readonly variables: readonly { readonly name: string; readonly loc: Loc }[];
  readonly definitions: readonly Definition[];
  readonly assumptions: readonly { readonly expr: Expr; readonly loc: Loc }[];
  /** Modules defined inside this one (`---- MODULE Inner ----` nested). */
  readonly submodules: readonly Module[];
  /** True for a standard module (Naturals, Sequences, TLC, ...) whose operators the evaluator implements natively. */
  readonly standard: boolean;
}

/** The root module with every module it needs (by EXTENDS and INSTANCE), keyed by name. */
export interface LoadedSpec {
  readonly root: Module;
  readonly modules: ReadonlyMap<string, Module>;
}

/** Standard modules the evaluator implements natively; a file of the same name is never read. */
export const STANDARD_MODULES = ['Naturals', 'Integers', 'Sequences', 'FiniteSets', 'Bags', 'TLC'] as const;
export type StandardModuleName = (typeof STANDARD_MODULES)[number];
