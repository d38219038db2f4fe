// Printing of AST expressions and definitions as ASCII TLA+ text, for messages and tests.
// The output parses back (with parseModuleText) to the same AST modulo locations: every
// compound subexpression is parenthesised, so no precedence or junction-list layout matters.
import type { Bound, Definition, ExceptPathStep, Expr } from '../ast.ts';
import { INFIX_OPS, POSTFIX_OPS } from './operators.ts';

const INFIX = new Set(Object.values(INFIX_OPS));
const POSTFIX = new Set(Object.values(POSTFIX_OPS));
const PREFIX_WORDS = new Set(['SUBSET', 'UNION', 'DOMAIN']);

const IDENTIFIER_RE = /^[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*$/;
/** An operator name written as an identifier (keyword operators such as SUBSET excluded). */
const IDENTIFIER = { test: (op: string): boolean => IDENTIFIER_RE.test(op) && !PREFIX_WORDS.has(op) };

/** A string literal with TLA+ escapes. */
export function printString(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\f':
        out += '\\f';
        break;
      default:
        out += ch;
    }
  }
  return `${out}"`;
}

function isAtom(e: Expr): boolean {
  switch (e.kind) {
    case 'num':
    case 'str':
    case 'bool':
    case 'builtinSet':
    case 'name':
    case 'setEnum':
    case 'setFilter':
    case 'setMap':
    case 'fcn':
    case 'fcnApply':
    case 'fcnSet':
    case 'record':
    case 'recordSet':
    case 'dot':
    case 'tuple':
    case 'except':
    case 'at':
    case 'moduleRef':
      return true;
    case 'apply':
      return IDENTIFIER.test(e.op);
    default:
      return false;
  }
}

/** An operand: atoms bare, anything else in parentheses. */
function operand(e: Expr): string {
  const s = printExpr(e);
  return isAtom(e) ? s : `(${s})`;
}

/** Kinds the grammar accepts bare as the subscript of [A]_v, <<A>>_v, WF_v and SF_v. */
const SUBSCRIPT_KINDS = new Set([
  'name',
  'tuple',
  'moduleRef',
  'setEnum',
  'setFilter',
  'setMap',
  'fcn',
  'fcnSet',
  'record',
  'recordSet',
  'except',
]);

function subscript(e: Expr): string {
  const s = printExpr(e);
  const bare =
    SUBSCRIPT_KINDS.has(e.kind) || (e.kind === 'apply' && IDENTIFIER.test(e.op) && e.args.length > 0);
  return bare ? s : `(${s})`;
}

function list(es: readonly Expr[]): string {
  return es.map(printArg).join(', ');
}

/** An operator argument: LAMBDA and operator names print bare, the rest as operands. */
function printArg(e: Expr): string {
  if (e.kind === 'lambda' || e.kind === 'name') return printExpr(e);
  return operand(e);
}

function printBound(b: Bound): string {
  const names = b.tuple ? `<<${b.names.join(', ')}>>` : b.names.join(', ');
  return b.set === null ? names : `${names} \\in ${operand(b.set)}`;
}

function printPathStep(s: ExceptPathStep): string {
  return s.kind === 'field' ? `.${s.name}` : `[${s.args.map(operand).join(', ')}]`;
}

/** One expression as TLA+ text (ASCII notation). */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'num':
      return String(e.value);
    case 'str':
      return printString(e.value);
    case 'bool':
      return e.value ? 'TRUE' : 'FALSE';
    case 'builtinSet':
      return e.name;
    case 'name':
      return e.name;
    case 'apply': {
      if (IDENTIFIER.test(e.op)) return e.args.length === 0 ? e.op : `${e.op}(${list(e.args)})`;
      if (e.op === '\\X' && e.args.length >= 2) return e.args.map(operand).join(' \\X ');
      if (e.op === '-.' && e.args.length === 1) return `-${operand(e.args[0]!)}`;
      if (e.op === '~' && e.args.length === 1) return `~${operand(e.args[0]!)}`;
      if (PREFIX_WORDS.has(e.op) && e.args.length === 1) return `${e.op} ${operand(e.args[0]!)}`;
      if (POSTFIX.has(e.op) && e.args.length === 1) return `${operand(e.args[0]!)}${e.op}`;
      if (INFIX.has(e.op) && e.args.length === 2)
        return `${operand(e.args[0]!)} ${e.op} ${operand(e.args[1]!)}`;
      return `${e.op}(${list(e.args)})`;
    }
    case 'moduleRef': {
      const prefix = e.path
        .map((s) => (s.args.length === 0 ? `${s.name}!` : `${s.name}(${list(s.args)})!`))
        .join('');
      return e.args.length === 0 ? `${prefix}${e.op}` : `${prefix}${e.op}(${list(e.args)})`;
    }
    case 'lambda':
      return `LAMBDA ${e.params.join(', ')} : ${operand(e.body)}`;
    case 'and':
      return e.args.map(operand).join(' /\\ ');
    case 'or':
      return e.args.map(operand).join(' \\/ ');
    case 'quant':
      return `${e.quantifier === 'forall' ? '\\A' : '\\E'} ${e.bounds.map(printBound).join(', ')} : ${operand(e.body)}`;
    case 'temporalQuant':
      return `${e.quantifier === 'forall' ? '\\AA' : '\\EE'} ${e.names.join(', ')} : ${operand(e.body)}`;
    case 'choose':
      return `CHOOSE ${printBound(e.bound)} : ${operand(e.body)}`;
    case 'setEnum':
      return `{${e.elems.map(operand).join(', ')}}`;
    case 'setFilter':
      return `{${printBound(e.bound)} : ${operand(e.pred)}}`;
    case 'setMap':
      return `{${operand(e.body)} : ${e.bounds.map(printBound).join(', ')}}`;
    case 'fcn':
      return `[${e.bounds.map(printBound).join(', ')} |-> ${operand(e.body)}]`;
    case 'fcnApply':
      return `${operand(e.fn)}[${e.args.map(operand).join(', ')}]`;
    case 'fcnSet':
      return `[${operand(e.domain)} -> ${operand(e.range)}]`;
    case 'record':
      return `[${e.fields.map((f) => `${f.name} |-> ${operand(f.value)}`).join(', ')}]`;
    case 'recordSet':
      return `[${e.fields.map((f) => `${f.name} : ${operand(f.set)}`).join(', ')}]`;
    case 'dot':
      return `${operand(e.record)}.${e.field}`;
    case 'tuple':
      return `<<${e.elems.map(operand).join(', ')}>>`;
    case 'except':
      return `[${operand(e.fn)} EXCEPT ${e.updates
        .map((u) => `!${u.path.map(printPathStep).join('')} = ${operand(u.value)}`)
        .join(', ')}]`;
    case 'at':
      return '@';
    case 'if':
      return `IF ${operand(e.cond)} THEN ${operand(e.then)} ELSE ${operand(e.else)}`;
    case 'case': {
      const arms = e.arms.map((a) => `${operand(a.cond)} -> ${operand(a.body)}`);
      if (e.other) arms.push(`OTHER -> ${operand(e.other)}`);
      return `CASE ${arms.join(' [] ')}`;
    }
    case 'let':
      return `LET ${e.defs.map(printDefinition).join(' ')} IN ${operand(e.body)}`;
    case 'prime':
      return `${operand(e.expr)}'`;
    case 'unchanged':
      return `UNCHANGED ${operand(e.expr)}`;
    case 'enabled':
      return `ENABLED ${operand(e.expr)}`;
    case 'boxAction':
      return `[${printExpr(e.action)}]_${subscript(e.vars)}`;
    case 'angleAction':
      return `<<${printExpr(e.action)}>>_${subscript(e.vars)}`;
    case 'fairness':
      return `${e.strong ? 'SF_' : 'WF_'}${subscript(e.vars)}(${printExpr(e.action)})`;
    case 'always':
      return `[]${operand(e.expr)}`;
    case 'eventually':
      return `<>${operand(e.expr)}`;
    case 'leadsTo':
      return `${operand(e.lhs)} ~> ${operand(e.rhs)}`;
  }
}

function printParams(params: readonly { name: string; arity: number }[]): string {
  if (params.length === 0) return '';
  const ps = params.map((p) => {
    if (p.arity === 0) return p.name;
    if (!IDENTIFIER.test(p.name)) {
      if (p.arity === 2 && INFIX.has(p.name)) return `_ ${p.name} _`;
      if (p.arity === 1 && POSTFIX.has(p.name)) return `_ ${p.name}`;
      if (p.arity === 1) return `${p.name} _`;
    }
    return `${p.name}(${Array.from({ length: p.arity }, () => '_').join(', ')})`;
  });
  return `(${ps.join(', ')})`;
}

/** One definition as TLA+ text (a RECURSIVE declaration first where it is recursive). */
export function printDefinition(d: Definition): string {
  const local = d.local ? 'LOCAL ' : '';
  switch (d.kind) {
    case 'opDef': {
      const recDecl = d.recursive
        ? `RECURSIVE ${d.name}${d.params.length === 0 ? '' : `(${d.params.map(() => '_').join(', ')})`} `
        : '';
      if (!IDENTIFIER.test(d.name)) {
        const [a, b] = d.params;
        if (d.params.length === 2 && INFIX.has(d.name))
          return `${recDecl}${local}${a!.name} ${d.name} ${b!.name} == ${operand(d.body)}`;
        if (d.params.length === 1 && d.name === '-.')
          return `${recDecl}${local}-. ${a!.name} == ${operand(d.body)}`;
        if (d.params.length === 1 && POSTFIX.has(d.name))
          return `${recDecl}${local}${a!.name}${d.name} == ${operand(d.body)}`;
      }
      return `${recDecl}${local}${d.name}${printParams(d.params)} == ${operand(d.body)}`;
    }
    case 'fcnDef':
      return `${local}${d.name}[${d.bounds.map(printBound).join(', ')}] == ${operand(d.body)}`;
    case 'instance': {
      const subs =
        d.substitutions.length === 0
          ? ''
          : ` WITH ${d.substitutions.map((s) => `${s.name} <- ${printArg(s.expr)}`).join(', ')}`;
      const head = d.name === null ? '' : `${d.name}${printParams(d.params)} == `;
      return `${local}${head}INSTANCE ${d.module}${subs}`;
    }
  }
}
