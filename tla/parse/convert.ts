// Conversion of tree-sitter-tlaplus's concrete syntax tree into Buffy's TLA+ AST (tla/ast.ts).
//
// Every construct the grammar accepts is either mapped to an AST node or rejected with a
// TlaError('unsupported', ...) naming the construct and its place; nothing is dropped
// silently except theorems, proofs and USE/HIDE (which a model checker ignores) and comments.
import type { Node } from 'web-tree-sitter';
import type {
  Bound,
  Definition,
  ExceptPathStep,
  ExceptUpdate,
  Expr,
  InstancePathStep,
  Loc,
  Module,
  Param,
} from '../ast.ts';
import { TlaError } from '../errors.ts';
import type { LabelRecord, SubexprSelector, SubexprTables } from './subexpr.ts';
import {
  ASSOCIATIVE_INFIX,
  INFIX_OPS,
  INFIX_PREC_HIGH,
  INFIX_PREC_LOW,
  POSTFIX_OPS,
  PREFIX_OPS,
  PREFIX_PREC,
  PREFIX_PREC_HIGH,
  UNSUPPORTED_INFIX,
} from './operators.ts';

/** The apply-node name of action composition `A \cdot B` (SANY's \cdot). */
const CDOT = '\\cdot';
/** The spellings of prefix operators, anchored where lastIndex points. */
const PREFIX_START = /~|\\lnot|\\neg|¬|ENABLED|UNCHANGED|\[\]|□|<>|◇|⋄|SUBSET|UNION|DOMAIN/y;

/** Unit node types that carry no meaning for model checking. */
const IGNORED_UNITS = new Set(['theorem', 'use_or_hide', 'single_line', 'header_line', 'double_line']);

/** Named child nodes, comments and other extras left out. */
function kids(n: Node): Node[] {
  const out: Node[] = [];
  for (const c of n.namedChildren) if (c && !c.isExtra) out.push(c);
  return out;
}

/** Named children in a field (anonymous tokens such as ',' left out). */
function fieldKids(n: Node, field: string): Node[] {
  return n.childrenForFieldName(field).filter((c): c is Node => c !== null && c.isNamed && !c.isExtra);
}

function first(nodes: Node[]): Node | undefined {
  return nodes[0];
}

/** The single child of a wrapper such as `infix_op_symbol` or a symbol field. */
function symbolType(n: Node): string {
  if (!n.type.endsWith('_op_symbol')) return n.type;
  const inner = kids(n);
  return inner.length === 1 ? inner[0]!.type : n.type;
}

/** First line of a node's text, shortened for messages. */
export function snippet(text: string, max = 40): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/** A natural number literal; digits in the given base. */
function parseNatural(digits: string, base: number, loc: Loc, original: string): number {
  const valid =
    base === 2 ? /^[01]+$/ : base === 8 ? /^[0-7]+$/ : base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) throw new TlaError('parse', `malformed number literal ${original}`, loc);
  const value = Number.parseInt(digits, base);
  if (!Number.isSafeInteger(value)) {
    throw new TlaError(
      'unsupported',
      `number literal ${original} is too large (at most ${Number.MAX_SAFE_INTEGER})`,
      loc,
    );
  }
  return value;
}

/** Decodes the text of a TLA+ string literal (with its quotes). */
export function decodeString(raw: string, loc: Loc): string {
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) {
    throw new TlaError('parse', `malformed string literal ${snippet(raw)}`, loc);
  }
  const body = raw.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[i + 1];
    i++;
    switch (next) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      default:
        throw new TlaError(
          'parse',
          `unknown escape sequence \\${next ?? ''} in string literal (allowed: \\" \\\\ \\n \\t \\r \\f)`,
          loc,
        );
    }
  }
  return out;
}

/** A module named by EXTENDS or INSTANCE, with the place it is named and the module naming it. */
export interface ModuleRefSite {
  readonly from: string;
  readonly name: string;
  readonly via: 'EXTENDS' | 'INSTANCE';
  readonly loc: Loc;
}

/** Converts one parsed file; `file` is used in every Loc. */
export class Converter {
  /** Every EXTENDS and INSTANCE met, in source order (submodules and LETs included). */
  readonly refs: ModuleRefSite[] = [];
  /**
   * Subexpression references (`Inv!2`, `Thm!:`, `Op(a)!lab`) and module references that may
   * turn out to be label references, with what resolving them needs: see subexpr.ts.
   */
  readonly subexprs: SubexprTables = {
    sites: [],
    theorems: new Map(),
    labels: new Map(),
    junctionParts: new WeakMap(),
  };
  /** Labels met in the definition being converted (innermost last on the stack). */
  private labelStack: LabelRecord[] = [];
  private defLabels: LabelRecord[] | null = null;
  /** While a theorem's statement is converted: references in it are resolved only if possible. */
  private inTheorem = false;
  private readonly moduleStack: string[] = [];
  /** CST nodes to be read as another node (see liftPrefix), by node id. */
  private readonly replaced = new Map<number, Node>();
  /** Replacement nodes that stood in parentheses in the source: atoms for liftPrefix. */
  private readonly parenthesised = new Set<number>();

  /**
   * @param file names the file in every Loc
   * @param source the text that was parsed (tree-sitter indices point into it)
   */
  constructor(
    readonly file: string,
    private readonly source: string,
  ) {}

  /** Whether the text of `n` begins with a prefix operator (the only case liftPrefix acts on). */
  startsWithPrefixOp(n: Node): boolean {
    PREFIX_START.lastIndex = n.startIndex;
    return PREFIX_START.test(this.source);
  }

  loc(n: Node): Loc {
    return { file: this.file, line: n.startPosition.row + 1, col: n.startPosition.column + 1 };
  }

  unsupported(what: string, n: Node): TlaError {
    return new TlaError('unsupported', `${what} is not supported`, this.loc(n));
  }

  /** Expect a present child; a missing one is a grammar shape this converter does not know. */
  need(n: Node | null | undefined, what: string, parent: Node): Node {
    if (!n) {
      throw new TlaError(
        'parse',
        `malformed ${parent.type.replace(/_/g, ' ')}: ${what} missing near "${snippet(parent.text)}"`,
        this.loc(parent),
      );
    }
    return n;
  }

  // ---------------------------------------------------------------- modules

  module(n: Node): Module {
    const name = this.need(n.childForFieldName('name'), 'module name', n).text;
    this.moduleStack.push(name);
    try {
      return this.moduleBody(n, name);
    } finally {
      this.moduleStack.pop();
    }
  }

  private moduleBody(n: Node, name: string): Module {
    const extendsNames: string[] = [];
    const constants: (Param & { loc: Loc })[] = [];
    const variables: { name: string; loc: Loc }[] = [];
    const definitions: Definition[] = [];
    const assumptions: { expr: Expr; loc: Loc }[] = [];
    const submodules: Module[] = [];
    const nameId = n.childForFieldName('name')?.id;
    const units = kids(n).filter((c) => c.id !== nameId);
    const recursive = this.recursiveNames(units);
    for (const u of units) {
      switch (u.type) {
        case 'extends':
          for (const r of kids(u)) {
            extendsNames.push(r.text);
            this.refs.push({ from: name, name: r.text, via: 'EXTENDS', loc: this.loc(r) });
          }
          break;
        case 'constant_declaration':
          for (const c of kids(u)) {
            if (c.type === 'identifier') constants.push({ name: c.text, arity: 0, loc: this.loc(c) });
            else if (c.type === 'operator_declaration')
              constants.push({ ...this.opDeclaration(c), loc: this.loc(c) });
            else throw this.unsupported(`constant declaration form "${snippet(c.text)}"`, c);
          }
          break;
        case 'variable_declaration':
          for (const v of kids(u)) variables.push({ name: v.text, loc: this.loc(v) });
          break;
        case 'recursive_declaration':
          break; // names collected above; each marks its operator definition.
        case 'assumption': {
          const body = kids(u).filter((c) => c.type !== 'identifier' && c.type !== 'def_eq');
          const e = this.need(body[body.length - 1], 'assumption', u);
          const expr = this.expr(e);
          assumptions.push({ expr, loc: this.loc(u) });
          // `ASSUME Name == e` also defines Name (SANY lets specs refer to it).
          const nameNode = u.childForFieldName('name');
          if (nameNode) {
            definitions.push({
              kind: 'opDef',
              name: nameNode.text,
              params: [],
              body: expr,
              local: false,
              recursive: false,
              loc: this.loc(nameNode),
            });
          }
          break;
        }
        case 'module':
          submodules.push(this.module(u));
          break;
        case 'theorem': {
          const thm = this.theorem(u, name);
          if (thm) definitions.push(thm);
          break;
        }
        default: {
          if (IGNORED_UNITS.has(u.type)) break;
          this.defLabels = [];
          this.labelStack = [];
          const def = this.definition(u, false, recursive);
          if (this.defLabels.length > 0) this.subexprs.labels.set(def, this.defLabels);
          this.defLabels = null;
          definitions.push(def);
        }
      }
    }
    return {
      name,
      file: this.file,
      extends: extendsNames,
      constants,
      variables,
      definitions,
      assumptions,
      submodules,
      standard: false,
    };
  }

  /**
   * A named theorem whose statement is an expression (`THEOREM T == P`, also LEMMA,
   * PROPOSITION, COROLLARY) defines T as that expression, as in SANY (`ASSUME T`, `T!:` and
   * `I!T` may name it); it is returned as a zero-arity definition, its proof dropped. A
   * statement this converter cannot read, or an ASSUME/PROVE statement, defines nothing here
   * (a model checker has no use for it; a reference to it then says the name is unknown).
   */
  theorem(u: Node, moduleName: string): Definition | null {
    const nameNode = u.childForFieldName('name');
    const stmt = u.childForFieldName('statement');
    if (!nameNode || !stmt || stmt.type === 'assume_prove') return null;
    let expr: Expr;
    this.inTheorem = true;
    try {
      expr = this.expr(stmt);
    } catch (e) {
      if (e instanceof TlaError) return null;
      throw e;
    } finally {
      this.inTheorem = false;
    }
    let table = this.subexprs.theorems.get(moduleName);
    if (!table) {
      table = new Map();
      this.subexprs.theorems.set(moduleName, table);
    }
    table.set(nameNode.text, expr);
    return {
      kind: 'opDef',
      name: nameNode.text,
      params: [],
      body: expr,
      local: false,
      recursive: false,
      loc: this.loc(u),
    };
  }

  /** Names declared RECURSIVE among a list of units or LET definitions. */
  recursiveNames(units: Node[]): Set<string> {
    const names = new Set<string>();
    for (const u of units) {
      if (u.type !== 'recursive_declaration') continue;
      for (const d of kids(u)) {
        if (d.type === 'identifier') names.add(d.text);
        else if (d.type === 'operator_declaration') names.add(this.opDeclaration(d).name);
      }
    }
    return names;
  }

  /** `F(_, _)`, `_ + _`, `-. _`, `_ ^+`: a declared operator's name and arity. */
  opDeclaration(n: Node): Param {
    const nameNode = this.need(n.childForFieldName('name'), 'operator name', n);
    const arity = kids(n).filter((c) => c.type === 'placeholder').length;
    return { name: this.declaredName(nameNode), arity };
  }

  /** The canonical name of an identifier or operator symbol in a declaration or definition. */
  declaredName(n: Node): string {
    switch (n.type) {
      case 'identifier':
      case 'identifier_ref':
        return n.text;
      case 'nat_number_set':
        return 'Nat';
      case 'int_number_set':
        return 'Int';
      case 'real_number_set':
        return 'Real';
      default:
        return this.opSymbolName(n);
    }
  }

  /** Canonical name of an `infix_op_symbol`, `prefix_op_symbol` or `postfix_op_symbol`. */
  opSymbolName(n: Node): string {
    const t = symbolType(n);
    if (n.type === 'prefix_op_symbol') {
      const name = PREFIX_OPS[t];
      if (name) return name;
    } else if (n.type === 'postfix_op_symbol') {
      const name = POSTFIX_OPS[t];
      if (name) return name;
    } else {
      const name = INFIX_OPS[t];
      if (name) return name;
      if (t === 'cdot') return CDOT;
      const bad = UNSUPPORTED_INFIX[t];
      if (bad) throw this.unsupported(bad, n);
    }
    throw this.unsupported(`operator symbol "${n.text}"`, n);
  }

  definition(u: Node, local: boolean, recursive: ReadonlySet<string>): Definition {
    switch (u.type) {
      case 'local_definition': {
        const inner = this.need(first(kids(u)), 'definition', u);
        return this.definition(inner, true, recursive);
      }
      case 'operator_definition':
        return this.opDefinition(u, local, recursive);
      case 'function_definition':
        return {
          kind: 'fcnDef',
          name: this.need(u.childForFieldName('name'), 'function name', u).text,
          bounds: this.boundsOf(kids(u).filter((c) => c.type === 'quantifier_bound')),
          body: this.expr(this.need(u.childForFieldName('definition'), 'function body', u)),
          local,
          loc: this.loc(u),
        };
      case 'module_definition': {
        const inst = this.need(u.childForFieldName('definition'), 'INSTANCE', u);
        const params = this.paramsOf(u);
        return this.instance(
          inst,
          this.need(u.childForFieldName('name'), 'instance name', u).text,
          params,
          local,
          this.loc(u),
        );
      }
      case 'instance':
        return this.instance(u, null, [], local, this.loc(u));
      default:
        throw this.unsupported(
          `module-level construct ${u.type.replace(/_/g, ' ')} ("${snippet(u.text)}")`,
          u,
        );
    }
  }

  opDefinition(u: Node, local: boolean, recursive: ReadonlySet<string>): Definition {
    const nameNode = this.need(u.childForFieldName('name'), 'operator name', u);
    const name = this.declaredName(nameNode);
    return {
      kind: 'opDef',
      name,
      params: this.paramsOf(u),
      body: this.expr(this.need(u.childForFieldName('definition'), 'definition body', u)),
      local,
      recursive: recursive.has(name),
      loc: this.loc(u),
    };
  }

  /** Parameters of an operator or module definition: `x` (arity 0) or `F(_, _)`. */
  paramsOf(u: Node): Param[] {
    const params: Param[] = [];
    for (const p of fieldKids(u, 'parameter')) {
      if (p.type === 'identifier') params.push({ name: p.text, arity: 0 });
      else if (p.type === 'operator_declaration') params.push(this.opDeclaration(p));
      else throw this.unsupported(`parameter form "${snippet(p.text)}"`, p);
    }
    return params;
  }

  instance(n: Node, name: string | null, params: Param[], local: boolean, loc: Loc): Definition {
    let moduleName: string | null = null;
    const substitutions: { name: string; expr: Expr }[] = [];
    for (const c of kids(n)) {
      if (c.type === 'identifier_ref' && moduleName === null) {
        moduleName = c.text;
        const from = this.moduleStack[this.moduleStack.length - 1] ?? '';
        this.refs.push({ from, name: moduleName, via: 'INSTANCE', loc: this.loc(c) });
      } else if (c.type === 'substitution') substitutions.push(this.substitution(c));
      else throw this.unsupported(`INSTANCE part "${snippet(c.text)}"`, c);
    }
    if (moduleName === null) throw new TlaError('parse', 'INSTANCE without a module name', this.loc(n));
    return { kind: 'instance', name, params, module: moduleName, substitutions, local, loc };
  }

  substitution(n: Node): { name: string; expr: Expr } {
    const parts = kids(n).filter((c) => c.type !== 'gets');
    const target = this.need(parts[0], 'substituted name', n);
    const value = this.need(parts[1], 'substituted expression', n);
    return { name: this.declaredName(target), expr: this.argument(value) };
  }

  // ------------------------------------------------------------ expressions

  /** An operator argument: an expression, a LAMBDA, or an operator symbol used as a value. */
  argument(n: Node): Expr {
    if (n.type === 'infix_op_symbol' || n.type === 'prefix_op_symbol' || n.type === 'postfix_op_symbol') {
      return { kind: 'name', name: this.opSymbolName(n), loc: this.loc(n) };
    }
    return this.expr(n);
  }

  /** Bounds of quantifier_bound nodes: one Bound per name (sharing the set), tuples kept whole. */
  boundsOf(nodes: Node[]): Bound[] {
    const out: Bound[] = [];
    for (const qb of nodes) {
      if (qb.type !== 'quantifier_bound') throw this.unsupported(`bound "${snippet(qb.text)}"`, qb);
      const set = this.expr(this.need(qb.childForFieldName('set'), 'set of the bound', qb));
      for (const intro of fieldKids(qb, 'intro')) {
        if (intro.type === 'identifier')
          out.push({ names: [intro.text], tuple: false, set, loc: this.loc(intro) });
        else if (intro.type === 'tuple_of_identifiers')
          out.push({ names: this.tupleNames(intro), tuple: true, set, loc: this.loc(intro) });
        else throw this.unsupported(`bound variable form "${snippet(intro.text)}"`, intro);
      }
    }
    return out;
  }

  tupleNames(n: Node): string[] {
    return kids(n)
      .filter((c) => c.type === 'identifier')
      .map((c) => c.text);
  }

  /** The single bound of a set filter or CHOOSE. */
  singleBound(qb: Node, what: string): Bound {
    const bounds = this.boundsOf([qb]);
    if (bounds.length !== 1)
      throw new TlaError(
        'parse',
        `${what} binds exactly one variable or tuple, not "${snippet(qb.text)}"`,
        this.loc(qb),
      );
    return bounds[0]!;
  }

  /**
   * Flattens an unparenthesised chain of one junction (infix or bulleted) into its operands.
   * Returns the junction node made of them, and notes (for subexpression references) how SANY
   * numbers its parts when that differs from the flat list: an infix chain is nested binary
   * junctions, a bulleted list has one part per bullet.
   */
  junction(node: Node, symbol: 'land' | 'lor', loc: Loc): Expr {
    const out: Expr[] = [];
    const list = symbol === 'land' ? 'conj_list' : 'disj_list';
    const kind = symbol === 'land' ? 'and' : 'or';
    // The parts of each expanded node: ranges of `out` (numbers only: CST nodes do not outlive
    // the parse). Part keys are resolved node ids.
    const expanded = new Map<number, { start: number; end: number; parts: number[]; loc: Loc }>();
    const leafAt = new Map<number, number>();
    // Iterative, left to right: long chains must not exhaust the stack.
    // The root is expanded even when it stood in parentheses (it is the node being read); only
    // parenthesised operands below it are leaves.
    const root = this.resolve(node);
    const todo: (Node | { close: number })[] = [node];
    while (todo.length > 0) {
      const top = todo.pop()!;
      if ('close' in top) {
        expanded.get(top.close)!.end = out.length;
        continue;
      }
      const n = this.resolve(top);
      const symNode =
        n.type === 'bound_infix_op' ? this.need(n.childForFieldName('symbol'), 'operator', n) : null;
      const leaf = this.parenthesised.has(n.id) && n.id !== root.id;
      let parts: Node[] | null = null;
      if (symNode && symbolType(symNode) === symbol && !leaf) {
        const lhs = this.need(n.childForFieldName('lhs'), 'left operand', n);
        const rhs = this.need(n.childForFieldName('rhs'), 'right operand', n);
        this.checkPrecedence(symNode, symbol, this.resolve(lhs), this.resolve(rhs));
        parts = [lhs, rhs];
      } else if (n.type === list && !leaf) {
        parts = kids(n).map((item) => {
          const body = kids(item).filter((c) => c.type !== 'bullet_conj' && c.type !== 'bullet_disj');
          return this.need(body[0], 'junction item', item);
        });
      }
      if (parts) {
        expanded.set(n.id, {
          start: out.length,
          end: -1,
          parts: parts.map((p) => this.resolve(p).id),
          loc: this.loc(n),
        });
        todo.push({ close: n.id });
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      } else {
        leafAt.set(n.id, out.length);
        out.push(this.expr(n));
      }
    }
    if (out.length === 1) return out[0]!;
    const result: Expr = { kind, args: out, loc };
    const rootParts = expanded.get(root.id)?.parts ?? [];
    if (rootParts.length !== out.length) {
      // A part: an operand, or the junction of the operands of a nested chain or list.
      const part = (id: number): Expr => {
        const at = leafAt.get(id);
        if (at !== undefined) return out[at]!;
        const x = expanded.get(id)!;
        const e: Expr = { kind, args: out.slice(x.start, x.end), loc: x.loc };
        this.subexprs.junctionParts.set(e, () => x.parts.map(part));
        return e;
      };
      this.subexprs.junctionParts.set(result, () => rootParts.map(part));
    }
    return result;
  }

  /** Flattens `A \X B \X C` (unparenthesised) into its factors. */
  productArgs(node: Node, out: Expr[]): void {
    const root = this.resolve(node);
    const todo: Node[] = [node];
    while (todo.length > 0) {
      const n = this.resolve(todo.pop()!);
      const symNode =
        n.type === 'bound_infix_op' ? this.need(n.childForFieldName('symbol'), 'operator', n) : null;
      const leaf = this.parenthesised.has(n.id) && n.id !== root.id;
      if (symNode && symbolType(symNode) === 'times' && !leaf) {
        const lhs = this.need(n.childForFieldName('lhs'), 'left operand', n);
        const rhs = this.need(n.childForFieldName('rhs'), 'right operand', n);
        this.checkPrecedence(symNode, 'times', this.resolve(lhs), this.resolve(rhs));
        todo.push(rhs, lhs);
      } else out.push(this.expr(n));
    }
  }

  /** The node to read in place of `n`. */
  resolve(n: Node): Node {
    for (let r = this.replaced.get(n.id); r; r = this.replaced.get(n.id)) n = r;
    return n;
  }

  expr(node: Node): Expr {
    const n = this.resolve(node);
    const loc = this.loc(n);
    switch (n.type) {
      case 'nat_number':
        return { kind: 'num', value: parseNatural(n.text, 10, loc, n.text), loc };
      case 'binary_number':
      case 'octal_number':
      case 'hex_number': {
        const digits = this.need(
          kids(n).find((c) => c.type === 'value'),
          'digits',
          n,
        ).text;
        const base = n.type === 'binary_number' ? 2 : n.type === 'octal_number' ? 8 : 16;
        return { kind: 'num', value: parseNatural(digits, base, loc, n.text), loc };
      }
      case 'real_number':
        throw this.unsupported(`the real number literal ${n.text}`, n);
      case 'string':
        return { kind: 'str', value: decodeString(n.text, loc), loc };
      case 'boolean':
        return { kind: 'bool', value: n.text === 'TRUE', loc };
      case 'boolean_set':
        return { kind: 'builtinSet', name: 'BOOLEAN', loc };
      case 'string_set':
        return { kind: 'builtinSet', name: 'STRING', loc };
      case 'nat_number_set':
      case 'int_number_set':
      case 'real_number_set':
        return { kind: 'name', name: this.declaredName(n), loc };
      case 'identifier_ref':
        return { kind: 'name', name: n.text, loc };
      case 'parentheses':
        return this.expr(this.need(first(kids(n)), 'expression in parentheses', n));
      case 'bound_infix_op':
        return this.infix(n, loc);
      case 'bound_prefix_op':
        return this.prefix(n, loc);
      case 'bound_postfix_op':
        return this.postfix(n, loc);
      case 'bound_op':
        return this.boundOp(n, loc);
      case 'bound_nonfix_op':
        return this.nonfix(n, loc);
      case 'lambda': {
        const parts = kids(n);
        const body = this.need(parts[parts.length - 1], 'LAMBDA body', n);
        const params = parts.slice(0, -1).map((p) => p.text);
        return { kind: 'lambda', params, body: this.expr(body), loc };
      }
      case 'conj_list':
        return this.junction(n, 'land', loc);
      case 'disj_list':
        return this.junction(n, 'lor', loc);
      case 'bounded_quantification':
        return {
          kind: 'quant',
          quantifier: this.quantifierKind(this.need(n.childForFieldName('quantifier'), 'quantifier', n)),
          bounds: this.boundsOf(fieldKids(n, 'bound')),
          body: this.expr(this.need(n.childForFieldName('expression'), 'quantifier body', n)),
          loc,
        };
      case 'unbounded_quantification':
        return this.unboundedQuant(n, loc);
      case 'choose': {
        const intro = this.need(n.childForFieldName('intro'), 'CHOOSE variable', n);
        const setNode = n.childForFieldName('set');
        const bound: Bound = {
          names: intro.type === 'tuple_of_identifiers' ? this.tupleNames(intro) : [intro.text],
          tuple: intro.type === 'tuple_of_identifiers',
          set: setNode ? this.expr(setNode) : null,
          loc: this.loc(intro),
        };
        return {
          kind: 'choose',
          bound,
          body: this.expr(this.need(n.childForFieldName('expression'), 'CHOOSE body', n)),
          loc,
        };
      }
      case 'finite_set_literal':
        return { kind: 'setEnum', elems: kids(n).map((c) => this.expr(c)), loc };
      case 'set_filter':
        return {
          kind: 'setFilter',
          bound: this.singleBound(
            this.need(n.childForFieldName('generator'), 'set filter bound', n),
            'a set filter',
          ),
          pred: this.expr(this.need(n.childForFieldName('filter'), 'set filter predicate', n)),
          loc,
        };
      case 'set_map':
        return {
          kind: 'setMap',
          body: this.expr(this.need(n.childForFieldName('map'), 'set map expression', n)),
          bounds: this.boundsOf(fieldKids(n, 'generator')),
          loc,
        };
      case 'function_literal': {
        const parts = kids(n);
        const body = this.need(parts[parts.length - 1], 'function body', n);
        return {
          kind: 'fcn',
          bounds: this.boundsOf(parts.filter((c) => c.type === 'quantifier_bound')),
          body: this.expr(body),
          loc,
        };
      }
      case 'function_evaluation': {
        const lifted = this.liftPrefix(n);
        if (lifted) return lifted;
        const [fn, ...args] = kids(n);
        return {
          kind: 'fcnApply',
          fn: this.expr(this.need(fn, 'function', n)),
          args: args.map((a) => this.expr(a)),
          loc,
        };
      }
      case 'set_of_functions': {
        const parts = kids(n).filter((c) => c.type !== 'maps_to');
        return {
          kind: 'fcnSet',
          domain: this.expr(this.need(parts[0], 'domain', n)),
          range: this.expr(this.need(parts[1], 'range', n)),
          loc,
        };
      }
      case 'record_literal': {
        const parts = kids(n).filter((c) => c.type !== 'all_map_to');
        const fields: { name: string; value: Expr }[] = [];
        for (let i = 0; i + 1 < parts.length; i += 2)
          fields.push({ name: parts[i]!.text, value: this.expr(parts[i + 1]!) });
        return { kind: 'record', fields, loc };
      }
      case 'set_of_records': {
        const parts = kids(n);
        const fields: { name: string; set: Expr }[] = [];
        for (let i = 0; i + 1 < parts.length; i += 2)
          fields.push({ name: parts[i]!.text, set: this.expr(parts[i + 1]!) });
        return { kind: 'recordSet', fields, loc };
      }
      case 'record_value': {
        const lifted = this.liftPrefix(n);
        if (lifted) return lifted;
        const parts = kids(n);
        const rec = this.need(parts[0], 'record', n);
        const field = this.need(parts[parts.length - 1], 'field name', n);
        return { kind: 'dot', record: this.expr(rec), field: field.text, loc };
      }
      case 'tuple_literal':
        return {
          kind: 'tuple',
          elems: kids(n)
            .filter((c) => c.type !== 'langle_bracket' && c.type !== 'rangle_bracket')
            .map((c) => this.expr(c)),
          loc,
        };
      case 'except':
        return this.except(n, loc);
      case 'prev_func_val':
        return { kind: 'at', loc };
      case 'if_then_else':
        return {
          kind: 'if',
          cond: this.expr(this.need(n.childForFieldName('if'), 'IF condition', n)),
          then: this.expr(this.need(n.childForFieldName('then'), 'THEN branch', n)),
          else: this.expr(this.need(n.childForFieldName('else'), 'ELSE branch', n)),
          loc,
        };
      case 'case':
        return this.caseExpr(n, loc);
      case 'let_in':
        return this.letIn(n, loc);
      case 'step_expr_or_stutter': {
        const [action, vars] = kids(n);
        return {
          kind: 'boxAction',
          action: this.expr(this.need(action, 'action', n)),
          vars: this.expr(this.need(vars, 'subscript', n)),
          loc,
        };
      }
      case 'step_expr_no_stutter': {
        const [action, vars] = kids(n).filter(
          (c) => c.type !== 'langle_bracket' && c.type !== 'rangle_bracket_sub',
        );
        return {
          kind: 'angleAction',
          action: this.expr(this.need(action, 'action', n)),
          vars: this.expr(this.need(vars, 'subscript', n)),
          loc,
        };
      }
      case 'fairness': {
        const [vars, action] = kids(n);
        const strong = n.text.startsWith('SF_');
        if (!strong && !n.text.startsWith('WF_'))
          throw this.unsupported(`fairness form "${snippet(n.text)}"`, n);
        return {
          kind: 'fairness',
          strong,
          vars: this.expr(this.need(vars, 'subscript', n)),
          action: this.expr(this.need(action, 'action', n)),
          loc,
        };
      }
      case 'label':
        return this.label(n);
      case 'prefixed_op':
        return this.moduleRef(n, loc);
      case 'subexpression':
        return this.subexpression(n, loc);
      case 'proof_step_ref':
        throw this.unsupported(`the proof step reference ${snippet(n.text)}`, n);
      default:
        throw this.unsupported(`the construct ${n.type.replace(/_/g, ' ')} ("${snippet(n.text)}")`, n);
    }
  }

  quantifierKind(q: Node): 'forall' | 'exists' {
    if (q.type === 'forall') return 'forall';
    if (q.type === 'exists') return 'exists';
    throw this.unsupported(`quantifier ${q.text}`, q);
  }

  unboundedQuant(n: Node, loc: Loc): Expr {
    const q = this.need(n.childForFieldName('quantifier'), 'quantifier', n);
    const intros = fieldKids(n, 'intro');
    const body = this.expr(this.need(n.childForFieldName('expression'), 'quantifier body', n));
    if (q.type === 'temporal_forall' || q.type === 'temporal_exists') {
      return {
        kind: 'temporalQuant',
        quantifier: q.type === 'temporal_forall' ? 'forall' : 'exists',
        names: intros.map((i) => i.text),
        body,
        loc,
      };
    }
    const bounds: Bound[] = intros.map((i) => ({
      names: [i.text],
      tuple: false,
      set: null,
      loc: this.loc(i),
    }));
    return { kind: 'quant', quantifier: this.quantifierKind(q), bounds, body, loc };
  }

  /**
   * The grammar reads a prefix operator before parentheses, `~(a)[b]` or `~(a) = b`, as a
   * nonfix application `~(a)` that the rest then applies to. In TLA+ it is the prefix operator
   * applied to the parenthesised expression and to whatever follows within the operator's
   * reach (the infix, postfix, `f[x]` and `r.f` operators that bind tighter than it):
   * `~((a)[b])`, `~((a) = b)`. For the operator chain at `n`, this returns that reading when
   * it differs from the tree, otherwise null.
   */
  liftPrefix(n: Node): Expr | null {
    if (!this.startsWithPrefixOp(n)) return null;
    let cur = this.resolve(n);
    let lowest = Infinity;
    for (;;) {
      if (this.parenthesised.has(cur.id)) return null;
      if (cur.type === 'bound_infix_op') {
        const sym = symbolType(this.need(cur.childForFieldName('symbol'), 'operator', cur));
        lowest = Math.min(lowest, INFIX_PREC_LOW[sym] ?? 0);
        cur = this.resolve(this.need(cur.childForFieldName('lhs'), 'left operand', cur));
      } else if (cur.type === 'bound_postfix_op') {
        lowest = Math.min(lowest, 15);
        cur = this.resolve(this.need(cur.childForFieldName('lhs'), 'operand', cur));
      } else if (cur.type === 'function_evaluation' || cur.type === 'record_value') {
        lowest = Math.min(lowest, cur.type === 'function_evaluation' ? 16 : 17);
        cur = this.resolve(this.need(first(kids(cur)), 'function or record', cur));
      } else break;
    }
    const symNode = cur.childForFieldName('symbol');
    if (!symNode) return null;
    const sym = symbolType(symNode);
    if (cur.type !== 'bound_nonfix_op' || symNode.type !== 'prefix_op_symbol' || sym === 'negative')
      return null;
    const args = kids(cur).filter((c) => c.id !== symNode.id);
    if (args.length !== 1) return null;
    const operand = args[0]!;
    const reach = PREFIX_PREC_HIGH[sym];
    if (reach === undefined || lowest <= reach) return null;
    this.replaced.set(cur.id, operand);
    this.parenthesised.add(operand.id);
    let inner: Expr;
    try {
      inner = this.expr(n);
    } finally {
      this.replaced.delete(cur.id);
      this.parenthesised.delete(operand.id);
    }
    return this.prefixApplied(symNode, sym, inner, this.loc(cur));
  }

  /**
   * TLA+ forbids mixing, without parentheses, operators whose precedence ranges overlap
   * (`a /\ b \/ c`, `S \cup T \cap U`, `SUBSET S \cup T`) and chaining a non-associative
   * one (`a = b = c`); the grammar accepts them with a reading of its own.
   */
  checkPrecedence(symNode: Node, sym: string, lhs: Node, rhs: Node): void {
    const range: [number, number] = [INFIX_PREC_LOW[sym] ?? 0, INFIX_PREC_HIGH[sym] ?? 0];
    const conflict = (otherSym: string, otherRange: readonly [number, number]): TlaError =>
      new TlaError(
        'parse',
        `precedence conflict between ${symNode.text} (precedence ${range[0]}-${range[1]}) and ${otherSym} ` +
          `(precedence ${otherRange[0]}-${otherRange[1]}): add parentheses`,
        this.loc(symNode),
      );
    const overlaps = (r: readonly [number, number]): boolean => r[0] <= range[1] && range[0] <= r[1];
    for (const side of [lhs, rhs]) {
      if (this.parenthesised.has(side.id)) continue;
      if (side.type === 'bound_infix_op') {
        const otherNode = this.need(side.childForFieldName('symbol'), 'operator', side);
        const other = symbolType(otherNode);
        const r: [number, number] = [INFIX_PREC_LOW[other] ?? 0, INFIX_PREC_HIGH[other] ?? 0];
        if (overlaps(r) && !(other === sym && ASSOCIATIVE_INFIX.has(sym) && side.id === lhs.id)) {
          throw conflict(otherNode.text, r);
        }
      } else if ((side.type === 'bound_prefix_op' || side.type === 'bound_nonfix_op') && side.id === lhs.id) {
        const otherNode = this.need(side.childForFieldName('symbol'), 'operator', side);
        if (side.type === 'bound_nonfix_op' && otherNode.type !== 'prefix_op_symbol') continue;
        const r = PREFIX_PREC[symbolType(otherNode)];
        if (r && overlaps(r)) throw conflict(otherNode.text, r);
      }
    }
  }

  infix(n: Node, loc: Loc): Expr {
    const lifted = this.liftPrefix(n);
    if (lifted) return lifted;
    const symNode = this.need(n.childForFieldName('symbol'), 'operator', n);
    const sym = symbolType(symNode);
    const lhs = this.need(n.childForFieldName('lhs'), 'left operand', n);
    const rhs = this.need(n.childForFieldName('rhs'), 'right operand', n);
    this.checkPrecedence(symNode, sym, this.resolve(lhs), this.resolve(rhs));
    switch (sym) {
      case 'land':
      case 'lor':
        return this.junction(n, sym, loc);
      case 'times': {
        const args: Expr[] = [];
        this.productArgs(n, args);
        return { kind: 'apply', op: '\\X', args, loc };
      }
      case 'leads_to':
        return { kind: 'leadsTo', lhs: this.expr(lhs), rhs: this.expr(rhs), loc };
      default:
        return this.applyChain(n);
    }
  }

  /** The apply-node name of an infix symbol (or an unsupported-construct error). */
  infixOpName(symNode: Node, sym: string): string {
    // Action composition A \cdot B: an ordinary apply node, given meaning by the evaluator.
    if (sym === 'cdot') return CDOT;
    const bad = UNSUPPORTED_INFIX[sym];
    if (bad) throw this.unsupported(bad, symNode);
    const op = INFIX_OPS[sym];
    if (!op) throw this.unsupported(`the infix operator ${symNode.text}`, symNode);
    return op;
  }

  /**
   * A left-nested chain of ordinary infix operators (`a + b - c * d ...`), converted without
   * recursion down its left spine, so long chains cannot exhaust the stack. Spine nodes that
   * need liftPrefix (text starting with a prefix operator) go through expr() instead.
   */
  applyChain(top: Node): Expr {
    const spine: Node[] = [top];
    let cur = this.resolve(this.need(top.childForFieldName('lhs'), 'left operand', top));
    while (
      cur.type === 'bound_infix_op' &&
      !this.parenthesised.has(cur.id) &&
      !this.startsWithPrefixOp(cur)
    ) {
      const sym = symbolType(this.need(cur.childForFieldName('symbol'), 'operator', cur));
      if (sym === 'land' || sym === 'lor' || sym === 'times' || sym === 'leads_to') break;
      spine.push(cur);
      cur = this.resolve(this.need(cur.childForFieldName('lhs'), 'left operand', cur));
    }
    let acc = this.expr(cur);
    for (let i = spine.length - 1; i >= 0; i--) {
      const n = spine[i]!;
      const symNode = this.need(n.childForFieldName('symbol'), 'operator', n);
      const sym = symbolType(symNode);
      const lhs = this.resolve(this.need(n.childForFieldName('lhs'), 'left operand', n));
      const rhs = this.need(n.childForFieldName('rhs'), 'right operand', n);
      if (i < spine.length - 1 || n.id === top.id) this.checkPrecedence(symNode, sym, lhs, this.resolve(rhs));
      acc = {
        kind: 'apply',
        op: this.infixOpName(symNode, sym),
        args: [acc, this.expr(rhs)],
        loc: this.loc(n),
      };
    }
    return acc;
  }

  prefix(n: Node, loc: Loc): Expr {
    const symNode = this.need(n.childForFieldName('symbol'), 'operator', n);
    const sym = symbolType(symNode);
    const arg = this.expr(this.need(n.childForFieldName('rhs'), 'operand', n));
    return this.prefixApplied(symNode, sym, arg, loc);
  }

  /** The prefix operator `sym` applied to `arg`: its own AST kind where it has one, else an apply. */
  prefixApplied(symNode: Node, sym: string, arg: Expr, loc: Loc): Expr {
    switch (sym) {
      case 'enabled':
        return { kind: 'enabled', expr: arg, loc };
      case 'unchanged':
        return { kind: 'unchanged', expr: arg, loc };
      case 'always':
        return { kind: 'always', expr: arg, loc };
      case 'eventually':
        return { kind: 'eventually', expr: arg, loc };
      default: {
        const op = PREFIX_OPS[sym];
        if (!op) throw this.unsupported(`the prefix operator ${symNode.text}`, symNode);
        return { kind: 'apply', op, args: [arg], loc };
      }
    }
  }

  postfix(n: Node, loc: Loc): Expr {
    const lifted = this.liftPrefix(n);
    if (lifted) return lifted;
    const symNode = this.need(n.childForFieldName('symbol'), 'operator', n);
    const sym = symbolType(symNode);
    // Postfix operators have precedence 15, inside the range of ENABLED, UNCHANGED, [] and <>
    // (4-15): `ENABLED x'` is a conflict in TLA+ (the grammar reads `(ENABLED x)'`).
    const operand = this.resolve(this.need(n.childForFieldName('lhs'), 'operand', n));
    if (
      (operand.type === 'bound_prefix_op' || operand.type === 'bound_nonfix_op') &&
      !this.parenthesised.has(operand.id)
    ) {
      const prefixNode = this.need(operand.childForFieldName('symbol'), 'operator', operand);
      const r = PREFIX_PREC[symbolType(prefixNode)];
      if (
        (operand.type === 'bound_prefix_op' || prefixNode.type === 'prefix_op_symbol') &&
        r &&
        r[0] <= 15 &&
        15 <= r[1]
      ) {
        throw new TlaError(
          'parse',
          `precedence conflict between ${symNode.text} (precedence 15-15) and ${prefixNode.text} (precedence ${r[0]}-${r[1]}): add parentheses`,
          this.loc(symNode),
        );
      }
    }
    const arg = this.expr(this.need(n.childForFieldName('lhs'), 'operand', n));
    if (sym === 'prime') return { kind: 'prime', expr: arg, loc };
    const op = POSTFIX_OPS[sym];
    if (!op) throw this.unsupported(`the postfix operator ${symNode.text}`, symNode);
    return { kind: 'apply', op, args: [arg], loc };
  }

  /** `Op(a, b)`. */
  boundOp(n: Node, loc: Loc): Expr {
    const name = this.need(n.childForFieldName('name'), 'operator name', n).text;
    const args = fieldKids(n, 'parameter').map((a) => this.argument(a));
    return { kind: 'apply', op: name, args, loc };
  }

  /** `+(a, b)`, `-.(a)`: an operator symbol applied in prefix notation. */
  nonfix(n: Node, loc: Loc): Expr {
    const symNode = this.need(n.childForFieldName('symbol'), 'operator', n);
    const args = kids(n)
      .filter((c) => c.id !== symNode.id)
      .map((a) => this.argument(a));
    const sym = symbolType(symNode);
    const op = this.opSymbolName(symNode);
    // Symbols with their own AST kinds keep those kinds when written in prefix notation.
    const one = (what: string): Expr => {
      if (args.length !== 1) throw new TlaError('parse', `${what} takes 1 argument, not ${args.length}`, loc);
      return args[0]!;
    };
    const two = (what: string): [Expr, Expr] => {
      if (args.length !== 2)
        throw new TlaError('parse', `${what} takes 2 arguments, not ${args.length}`, loc);
      return [args[0]!, args[1]!];
    };
    switch (sym) {
      case 'land':
        return { kind: 'and', args: two('/\\'), loc };
      case 'lor':
        return { kind: 'or', args: two('\\/'), loc };
      case 'leads_to': {
        const [lhs, rhs] = two('~>');
        return { kind: 'leadsTo', lhs, rhs, loc };
      }
      case 'prime':
        return { kind: 'prime', expr: one("'"), loc };
      case 'enabled':
        return { kind: 'enabled', expr: one('ENABLED'), loc };
      case 'unchanged':
        return { kind: 'unchanged', expr: one('UNCHANGED'), loc };
      case 'always':
        return { kind: 'always', expr: one('[]'), loc };
      case 'eventually':
        return { kind: 'eventually', expr: one('<>'), loc };
      default:
        return { kind: 'apply', op, args, loc };
    }
  }

  /**
   * `lab:: e` is `e`; inside a module-level definition the label is remembered (with its
   * parameters and the labels nested in it) for references such as `Op!lab`.
   */
  label(n: Node): Expr {
    const nameNode = this.need(n.childForFieldName('name'), 'label name', n);
    const rec: LabelRecord = {
      name: nameNode.text,
      params: fieldKids(n, 'parameter').map((p) => p.text),
      expr: null,
      parent: this.labelStack[this.labelStack.length - 1] ?? null,
    };
    this.labelStack.push(rec);
    try {
      rec.expr = this.expr(this.need(n.childForFieldName('expression'), 'labelled expression', n));
    } finally {
      this.labelStack.pop();
    }
    this.defLabels?.push(rec);
    return rec.expr;
  }

  /**
   * A subexpression reference `Op!2`, `Op(a)!lab!1`, `Thm!:`, `Op!(e)`: an expression
   * standing for the reference, completed once every module is loaded (subexpr.ts), when
   * the definition it names is known.
   */
  subexpression(n: Node, loc: Loc): Expr {
    const parts: Node[] = [];
    for (const c of kids(n)) {
      if (c.type === 'subexpr_prefix') parts.push(...kids(c));
      else parts.push(c);
    }
    const baseNode = this.need(parts[0], 'the name the reference starts from', n);
    const base = this.subexprComponent(baseNode, n);
    const selectors: SubexprSelector[] = [];
    for (const p of parts.slice(1)) {
      if (p.type === 'subexpr_component') {
        const c = this.subexprComponent(p, n);
        selectors.push({ kind: 'label', name: c.name, args: c.args });
        continue;
      }
      if (p.type !== 'subexpr_tree_nav')
        throw this.unsupported(`the subexpression reference ${snippet(n.text)}`, p);
      const nav = this.need(first(kids(p)), 'selector', p);
      switch (nav.type) {
        case 'child_id':
          selectors.push({ kind: 'index', n: Number.parseInt(nav.text, 10) });
          break;
        case 'colon':
          selectors.push({ kind: 'colon' });
          break;
        case 'langle_bracket':
          selectors.push({ kind: 'left' });
          break;
        case 'rangle_bracket':
          selectors.push({ kind: 'right' });
          break;
        case 'operator_args':
          selectors.push({ kind: 'args', args: kids(nav).map((a) => this.argument(a)) });
          break;
        default:
          throw this.unsupported(
            `the selector !${nav.text} in the subexpression reference ${snippet(n.text)}`,
            nav,
          );
      }
    }
    // Stands for the reference until it is resolved (subexpr.ts replaces its contents).
    const placeholder = { kind: 'name', name: n.text.replace(/\s+/g, ''), loc } as Expr;
    this.subexprs.sites.push({
      expr: placeholder,
      module: this.moduleStack[this.moduleStack.length - 1] ?? '',
      enclosing: [...this.moduleStack],
      base,
      selectors,
      text: n.text,
      loc,
      maybeInstance: false,
      optional: this.inTheorem,
    });
    return placeholder;
  }

  /** The name (and arguments) of one component of a subexpression reference. */
  private subexprComponent(c: Node, whole: Node): { name: string; args: Expr[] } {
    const inner = c.type === 'subexpr_component' ? this.need(first(kids(c)), 'name', c) : c;
    if (inner.type === 'identifier_ref') return { name: inner.text, args: [] };
    if (inner.type === 'bound_op') {
      return {
        name: this.need(inner.childForFieldName('name'), 'name', inner).text,
        args: fieldKids(inner, 'parameter').map((a) => this.argument(a)),
      };
    }
    throw this.unsupported(`the subexpression reference ${snippet(whole.text)}`, inner);
  }

  /** `M!Op`, `M(a)!Op(b)`, `A!B!Op`, `M!+(a, b)`; `Op!lab` (a label) has the same shape. */
  moduleRef(n: Node, loc: Loc): Expr {
    const e = this.moduleRefExpr(n, loc);
    if (e.kind === 'moduleRef' && e.path.length > 0) {
      const [head, ...rest] = e.path;
      this.subexprs.sites.push({
        expr: e,
        module: this.moduleStack[this.moduleStack.length - 1] ?? '',
        enclosing: [...this.moduleStack],
        base: { name: head!.name, args: [...head!.args] },
        selectors: [
          ...rest.map((r): SubexprSelector => ({ kind: 'label', name: r.name, args: [...r.args] })),
          { kind: 'label', name: e.op, args: [...e.args] },
        ],
        text: n.text,
        loc,
        maybeInstance: true,
        optional: true,
      });
    }
    return e;
  }

  private moduleRefExpr(n: Node, loc: Loc): Expr {
    const prefix = this.need(n.childForFieldName('prefix'), 'module prefix', n);
    const path: InstancePathStep[] = [];
    for (const c of kids(prefix)) {
      if (c.type !== 'subexpr_component')
        throw this.unsupported(`the subexpression reference ${snippet(n.text)}`, c);
      const comp = this.need(first(kids(c)), 'instance name', c);
      if (comp.type === 'identifier_ref') path.push({ name: comp.text, args: [] });
      else if (comp.type === 'bound_op') {
        path.push({
          name: this.need(comp.childForFieldName('name'), 'instance name', comp).text,
          args: fieldKids(comp, 'parameter').map((a) => this.argument(a)),
        });
      } else throw this.unsupported(`the subexpression reference ${snippet(n.text)}`, comp);
    }
    const opNode = this.need(n.childForFieldName('op'), 'operator', n);
    switch (opNode.type) {
      case 'identifier_ref':
        return { kind: 'moduleRef', path, op: opNode.text, args: [], loc };
      case 'nat_number_set':
      case 'int_number_set':
      case 'real_number_set':
        return { kind: 'moduleRef', path, op: this.declaredName(opNode), args: [], loc };
      case 'bound_op':
        return {
          kind: 'moduleRef',
          path,
          op: this.need(opNode.childForFieldName('name'), 'operator name', opNode).text,
          args: fieldKids(opNode, 'parameter').map((a) => this.argument(a)),
          loc,
        };
      case 'bound_nonfix_op': {
        const symNode = this.need(opNode.childForFieldName('symbol'), 'operator', opNode);
        return {
          kind: 'moduleRef',
          path,
          op: this.opSymbolName(symNode),
          args: kids(opNode)
            .filter((c) => c.id !== symNode.id)
            .map((a) => this.argument(a)),
          loc,
        };
      }
      default:
        throw this.unsupported(`the module reference ${snippet(n.text)}`, opNode);
    }
  }

  except(n: Node, loc: Loc): Expr {
    const fn = this.expr(this.need(n.childForFieldName('expr_to_update'), 'function to update', n));
    const updates: ExceptUpdate[] = [];
    for (const u of kids(n).filter((c) => c.type === 'except_update')) {
      const path: ExceptPathStep[] = [];
      for (const spec of fieldKids(u, 'update_specifier')) {
        for (const step of kids(spec)) {
          if (step.type === 'except_update_fn_appl')
            path.push({ kind: 'index', args: kids(step).map((a) => this.expr(a)) });
          else if (step.type === 'except_update_record_field') {
            path.push({ kind: 'field', name: this.need(first(kids(step)), 'field name', step).text });
          } else throw this.unsupported(`EXCEPT path step "${snippet(step.text)}"`, step);
        }
      }
      if (path.length === 0)
        throw new TlaError('parse', 'EXCEPT update without a path (expected ![...] or !.field)', this.loc(u));
      updates.push({ path, value: this.expr(this.need(u.childForFieldName('new_val'), 'new value', u)) });
    }
    return { kind: 'except', fn, updates, loc };
  }

  caseExpr(n: Node, loc: Loc): Expr {
    const arms: { cond: Expr; body: Expr }[] = [];
    let other: Expr | null = null;
    for (const c of kids(n)) {
      if (c.type === 'case_box') continue;
      const parts = kids(c).filter((p) => p.type !== 'case_arrow');
      if (c.type === 'case_arm') {
        arms.push({
          cond: this.expr(this.need(parts[0], 'CASE condition', c)),
          body: this.expr(this.need(parts[1], 'CASE result', c)),
        });
      } else if (c.type === 'other_arm') {
        other = this.expr(this.need(parts[0], 'OTHER result', c));
      } else throw this.unsupported(`CASE part "${snippet(c.text)}"`, c);
    }
    return { kind: 'case', arms, other, loc };
  }

  letIn(n: Node, loc: Loc): Expr {
    const defNodes = fieldKids(n, 'definitions');
    const recursive = this.recursiveNames(defNodes);
    const defs: Definition[] = [];
    for (const d of defNodes) {
      if (d.type === 'recursive_declaration') continue;
      defs.push(this.definition(d, false, recursive));
    }
    return {
      kind: 'let',
      defs,
      body: this.expr(this.need(n.childForFieldName('expression'), 'LET body', n)),
      loc,
    };
  }
}
