// The TLC model configuration language (.cfg files): which constants take which values,
// which formulas are the initial predicate, next-state relation, specification, invariants,
// properties, constraints, symmetry and view, and whether deadlock is checked.
//
// Values are kept syntactic here (CfgValue); the checker converts them to TLA+ values when it
// builds the model, so this module depends on nothing but the AST location type and errors.
import type { Loc } from '../ast.ts';
import { TlaError } from '../errors.ts';

/** A constant value as written in a .cfg file. Identifiers stand for model values. */
export type CfgValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'str'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'modelValue'; readonly name: string }
  | { readonly kind: 'set'; readonly elems: readonly CfgValue[] };

/** A .cfg value as written in a .cfg file. */
export function printCfgValue(v: CfgValue): string {
  switch (v.kind) {
    case 'int':
      return String(v.value);
    case 'str':
      return JSON.stringify(v.value);
    case 'bool':
      return v.value ? 'TRUE' : 'FALSE';
    case 'modelValue':
      return v.name;
    case 'set':
      return `{${v.elems.map(printCfgValue).join(', ')}}`;
  }
}

/**
 * `N = 3` (a value for the constant N, or a value replacing the definition N), `N <- Other`
 * (replace the constant or definition N by the definition Other), or `N <- [M]Other` (replace
 * N as module M uses it).
 */
export type CfgConstant =
  | {
      readonly kind: 'value';
      readonly name: string;
      readonly value: CfgValue;
      /** The module named by `N = [M]value`, when given. */
      readonly module?: string;
      readonly loc: Loc;
    }
  | {
      readonly kind: 'substitution';
      readonly name: string;
      readonly target: string;
      /** The module named by `N <- [M]Other`, when given. */
      readonly module?: string;
      readonly loc: Loc;
    };

export interface CfgName {
  readonly name: string;
  readonly loc: Loc;
}

export interface ModelConfig {
  readonly file: string;
  readonly constants: readonly CfgConstant[];
  readonly init: CfgName | null;
  readonly next: CfgName | null;
  readonly specification: CfgName | null;
  readonly invariants: readonly CfgName[];
  readonly properties: readonly CfgName[];
  readonly constraints: readonly CfgName[];
  readonly actionConstraints: readonly CfgName[];
  readonly symmetry: CfgName | null;
  readonly view: CfgName | null;
  /** ALIAS: the definition TLC prints in place of each state of a trace. */
  readonly alias: CfgName | null;
  /** POSTCONDITION: a constant-level formula checked once the search has completed. */
  readonly postconditions: readonly CfgName[];
  /** null when the file does not say (the checker's default, TRUE, applies). */
  readonly checkDeadlock: boolean | null;
}

const KEYWORDS = new Set([
  'CONSTANT',
  'CONSTANTS',
  'INIT',
  'NEXT',
  'SPECIFICATION',
  'INVARIANT',
  'INVARIANTS',
  'PROPERTY',
  'PROPERTIES',
  'CONSTRAINT',
  'CONSTRAINTS',
  'ACTION_CONSTRAINT',
  'ACTION_CONSTRAINTS',
  'SYMMETRY',
  'VIEW',
  'CHECK_DEADLOCK',
  'POSTCONDITION',
  'ALIAS',
]);

type TokKind = 'ident' | 'keyword' | 'int' | 'str' | 'punct' | 'eof';
interface Token {
  readonly kind: TokKind;
  readonly text: string;
  readonly loc: Loc;
}

function tokenize(text: string, file: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const at = (): Loc => ({ file, line, col });
  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
      i++;
    }
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f') {
      advance(1);
      continue;
    }
    if (c === '\\' && text[i + 1] === '*') {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (c === '(' && text[i + 1] === '*') {
      const start = at();
      let depth = 0;
      while (i < text.length) {
        if (text[i] === '(' && text[i + 1] === '*') {
          depth++;
          advance(2);
        } else if (text[i] === '*' && text[i + 1] === ')') {
          depth--;
          advance(2);
          if (depth === 0) break;
        } else {
          advance(1);
        }
      }
      if (depth !== 0) throw new TlaError('config', 'unterminated comment "(*" (no matching "*)")', start);
      continue;
    }
    // Module-style separator lines (---- or ====) carry no meaning in a .cfg file.
    if ((c === '-' || c === '=') && text.startsWith(c.repeat(4), i)) {
      while (text[i] === c) advance(1);
      continue;
    }
    const loc = at();
    if (/[A-Za-z_]/.test(c) || (/[0-9]/.test(c) && /^[0-9]*[A-Za-z_]/.test(text.slice(i, i + 64)))) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      const word = text.slice(i, j);
      toks.push({ kind: KEYWORDS.has(word) ? 'keyword' : 'ident', text: word, loc });
      advance(j - i);
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      toks.push({ kind: 'int', text: text.slice(i, j), loc });
      advance(j - i);
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\n')
          throw new TlaError('config', 'string literal not closed before the end of the line', loc);
        if (text[j] === '\\' && j + 1 < text.length) {
          const e = text[j + 1]!;
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          j += 2;
        } else {
          value += text[j];
          j++;
        }
      }
      if (j >= text.length) throw new TlaError('config', 'string literal not closed', loc);
      toks.push({ kind: 'str', text: value, loc });
      advance(j + 1 - i);
      continue;
    }
    for (const p of ['<-', '<<', '>>', '=', '{', '}', ',', '-', '!', '[', ']', '(', ')']) {
      if (text.startsWith(p, i)) {
        toks.push({ kind: 'punct', text: p, loc });
        advance(p.length);
        break;
      }
    }
    if (toks.length === 0 || toks[toks.length - 1]!.loc !== loc) {
      throw new TlaError(
        'config',
        `unexpected character ${JSON.stringify(c)} in the configuration file`,
        loc,
      );
    }
  }
  toks.push({ kind: 'eof', text: '', loc: at() });
  return toks;
}

/** Parses the text of a .cfg file; errors are TlaError('config') with file:line:col. */
export function parseCfg(text: string, file: string): ModelConfig {
  const toks = tokenize(text, file);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const take = (): Token => toks[p++]!;

  const constants: CfgConstant[] = [];
  const invariants: CfgName[] = [];
  const properties: CfgName[] = [];
  const constraints: CfgName[] = [];
  const actionConstraints: CfgName[] = [];
  let init: CfgName | null = null;
  let next: CfgName | null = null;
  let specification: CfgName | null = null;
  let symmetry: CfgName | null = null;
  let view: CfgName | null = null;
  let alias: CfgName | null = null;
  const postconditions: CfgName[] = [];
  let checkDeadlock: boolean | null = null;

  const describe = (t: Token): string => (t.kind === 'eof' ? 'the end of the file' : JSON.stringify(t.text));

  /** A plain identifier naming a definition; `Hi!Spec` is rejected as TLC 2.18 does. */
  const name = (keyword: string): CfgName => {
    const t = take();
    if (t.kind !== 'ident') {
      throw new TlaError(
        'config',
        `${keyword} expects the name of a definition, found ${describe(t)}`,
        t.loc,
      );
    }
    if (peek().kind === 'punct' && peek().text === '!') {
      throw new TlaError(
        'config',
        `${keyword} ${t.text}!...: instance-qualified names are not accepted in a .cfg file (TLC 2.18 reports ` +
          `"The property ${t.text} specified in the configuration file is not defined in the specification"); ` +
          `define a name for it in the module (e.g. X == ${t.text}!Spec) and list that name`,
        peek().loc,
      );
    }
    return { name: t.text, loc: t.loc };
  };
  // TLC accepts a section with no names (`PROPERTIES` with every name commented out).
  const names = (keyword: string, into: CfgName[]): void => {
    while (peek().kind === 'ident') into.push(name(keyword));
  };
  const single = (keyword: string, prev: CfgName | null): CfgName => {
    const n = name(keyword);
    if (prev && prev.name !== n.name) {
      throw new TlaError(
        'config',
        `${keyword} given twice (${prev.name} and ${n.name}); a model has one ${keyword}`,
        n.loc,
      );
    }
    if (peek().kind === 'ident') {
      throw new TlaError(
        'config',
        `${keyword} takes exactly one name; found a second one, ${peek().text}`,
        peek().loc,
      );
    }
    return n;
  };

  const value = (): CfgValue => {
    const t = take();
    if (t.kind === 'int') return { kind: 'int', value: intValue(t.text, t.loc) };
    if (t.kind === 'punct' && t.text === '-' && peek().kind === 'int') {
      const n = take();
      return { kind: 'int', value: -intValue(n.text, n.loc) };
    }
    if (t.kind === 'str') return { kind: 'str', value: t.text };
    if (t.kind === 'ident') {
      if (t.text === 'TRUE' || t.text === 'FALSE') return { kind: 'bool', value: t.text === 'TRUE' };
      return { kind: 'modelValue', name: t.text };
    }
    if (t.kind === 'punct' && t.text === '{') {
      const elems: CfgValue[] = [];
      if (peek().kind === 'punct' && peek().text === '}') {
        take();
        return { kind: 'set', elems };
      }
      for (;;) {
        elems.push(value());
        const sep = take();
        if (sep.kind === 'punct' && sep.text === '}') break;
        if (!(sep.kind === 'punct' && sep.text === ',')) {
          throw new TlaError('config', `expected "," or "}" in a set value, found ${describe(sep)}`, sep.loc);
        }
      }
      return { kind: 'set', elems };
    }
    if (t.kind === 'punct' && t.text === '<<') {
      throw new TlaError(
        'config',
        'tuple values (<<...>>) are not accepted as constant values in a .cfg file (TLC 2.18 rejects them: ' +
          '"It was expecting = or <-"); define the tuple in the module and substitute it with Name <- Definition',
        t.loc,
      );
    }
    throw new TlaError(
      'config',
      `expected a constant value (integer, string, TRUE/FALSE, model value or set), found ${describe(t)}`,
      t.loc,
    );
  };

  const constant = (): void => {
    const t = take();
    // `Name(_, _) <- Def` is how TLC writes the substitution of an operator constant too.
    if (peek().kind === 'punct' && peek().text === '(') {
      while (!(peek().kind === 'punct' && peek().text === ')')) {
        if (peek().kind === 'eof') throw new TlaError('config', `unclosed "(" after ${t.text}`, t.loc);
        take();
      }
      take();
    }
    const op = take();
    if (op.kind === 'punct' && op.text === '=') {
      // `x = [model value]` (the Toolbox's notation): x is the model value named x.
      const a = toks[p]!;
      const b = toks[p + 1]!;
      const c = toks[p + 2]!;
      const d = toks[p + 3]!;
      if (a.text === '[' && b.text === 'model' && c.text === 'value' && d.text === ']') {
        p += 4;
        constants.push({
          kind: 'value',
          name: t.text,
          value: { kind: 'modelValue', name: t.text },
          loc: t.loc,
        });
        return;
      }
      if (a.text === '[' && b.kind === 'ident' && c.text === ']') {
        // `N = [M]value`: N as module M uses it (TLC's module-scoped constant).
        p += 3;
        constants.push({ kind: 'value', name: t.text, value: value(), module: b.text, loc: t.loc });
        return;
      }
      constants.push({ kind: 'value', name: t.text, value: value(), loc: t.loc });
      return;
    }
    if (op.kind === 'punct' && op.text === '<-') {
      let module: string | undefined;
      if (peek().kind === 'punct' && peek().text === '[') {
        // `N <- [M]Other`: N as module M uses it (TLC's module-scoped override).
        take();
        const m = take();
        if (m.kind !== 'ident') {
          throw new TlaError(
            'config',
            `${t.text} <- [...]: expected a module name, found ${describe(m)}`,
            m.loc,
          );
        }
        const close = take();
        if (!(close.kind === 'punct' && close.text === ']')) {
          throw new TlaError(
            'config',
            `${t.text} <- [${m.text}: expected "]" after the module name, found ${describe(close)}`,
            close.loc,
          );
        }
        module = m.text;
      }
      const target = take();
      if (target.kind !== 'ident') {
        throw new TlaError(
          'config',
          `${t.text} <- expects the name of a definition, found ${describe(target)}`,
          target.loc,
        );
      }
      if (peek().kind === 'punct' && peek().text === '!') {
        throw new TlaError(
          'config',
          `${t.text} <- ${target.text}!...: instance-qualified names are not accepted here`,
          peek().loc,
        );
      }
      constants.push({
        kind: 'substitution',
        name: t.text,
        target: target.text,
        ...(module !== undefined ? { module } : {}),
        loc: t.loc,
      });
      return;
    }
    throw new TlaError(
      'config',
      `after constant ${t.text}: expected "=" or "<-", found ${describe(op)}`,
      op.loc,
    );
  };

  for (;;) {
    const t = take();
    if (t.kind === 'eof') break;
    if (t.kind !== 'keyword') {
      throw new TlaError(
        'config',
        `expected a keyword (CONSTANT, INIT, NEXT, SPECIFICATION, INVARIANT, PROPERTY, CONSTRAINT, ` +
          `ACTION_CONSTRAINT, SYMMETRY, VIEW, ALIAS, POSTCONDITION, CHECK_DEADLOCK), found ${describe(t)}`,
        t.loc,
      );
    }
    switch (t.text) {
      case 'CONSTANT':
      case 'CONSTANTS':
        // An empty section is accepted, as TLC does.
        while (peek().kind === 'ident') constant();
        break;
      case 'INIT':
        init = single('INIT', init);
        break;
      case 'NEXT':
        next = single('NEXT', next);
        break;
      case 'SPECIFICATION':
        specification = single('SPECIFICATION', specification);
        break;
      case 'INVARIANT':
      case 'INVARIANTS':
        names(t.text, invariants);
        break;
      case 'PROPERTY':
      case 'PROPERTIES':
        names(t.text, properties);
        break;
      case 'CONSTRAINT':
      case 'CONSTRAINTS':
        names(t.text, constraints);
        break;
      case 'ACTION_CONSTRAINT':
      case 'ACTION_CONSTRAINTS':
        names(t.text, actionConstraints);
        break;
      case 'SYMMETRY':
        symmetry = single('SYMMETRY', symmetry);
        break;
      case 'VIEW':
        view = single('VIEW', view);
        break;
      case 'ALIAS':
        alias = single('ALIAS', alias);
        break;
      case 'POSTCONDITION':
        names('POSTCONDITION', postconditions);
        break;
      case 'CHECK_DEADLOCK': {
        const v = take();
        if (v.kind !== 'ident' || (v.text !== 'TRUE' && v.text !== 'FALSE')) {
          throw new TlaError('config', `CHECK_DEADLOCK expects TRUE or FALSE, found ${describe(v)}`, v.loc);
        }
        checkDeadlock = v.text === 'TRUE';
        break;
      }
      default:
        throw new TlaError(
          'unsupported',
          `the .cfg keyword ${t.text} is not supported by the built-in checker`,
          t.loc,
        );
    }
  }

  if (specification && (init || next)) {
    const where = (init ?? next)!.loc;
    throw new TlaError(
      'config',
      'SPECIFICATION cannot be combined with INIT/NEXT; give one or the other',
      where,
    );
  }
  if (!specification && ((init && !next) || (!init && next))) {
    const where = (init ?? next)!.loc;
    const [given, missing] = init ? ['INIT', 'NEXT'] : ['NEXT', 'INIT'];
    throw new TlaError(
      'config',
      `${given} given without ${missing}: add a line \`${missing} <name>\` (or use SPECIFICATION instead of both)`,
      where,
    );
  }

  return {
    file,
    constants,
    init,
    next,
    specification,
    invariants,
    properties,
    constraints,
    actionConstraints,
    symmetry,
    view,
    alias,
    postconditions,
    checkDeadlock,
  };
}

function intValue(text: string, loc: Loc): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > 2147483647) {
    throw new TlaError('config', `integer ${text} is out of TLC's 32-bit range`, loc);
  }
  return n;
}
