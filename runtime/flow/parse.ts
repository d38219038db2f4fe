// Parser and validator of the flow notation (grammar and restrictions: runtime/flow/README.md).
//
//   flow  := alt
//   alt   := seq ('||' seq)*  |  seq ('|' seq)*        (one operator per level)
//   seq   := item (';' item)*
//   item  := NAME | '@' | '[' alt ']' count?
//   count := '(' INT ',' INT ')'                       (only after a choice or one branch)
import type { Flow, GroupFlow } from './ast.ts';
import { isGroup, itemsOf, name, relay, seq } from './ast.ts';

/** A flow that does not parse or breaks a restriction: where, what was expected, which rule. */
export class FlowSyntaxError extends Error {
  constructor(
    readonly text: string | undefined,
    /** 1-based column in `text` (undefined for a flow built in code). */
    readonly column: number | undefined,
    readonly expected: string,
    readonly rule: string,
  ) {
    super(FlowSyntaxError.describe(text, column, expected, rule));
    this.name = 'FlowSyntaxError';
  }

  private static describe(
    text: string | undefined,
    column: number | undefined,
    expected: string,
    rule: string,
  ): string {
    const where =
      text === undefined
        ? 'flow'
        : column === undefined
          ? `flow "${text}"`
          : `flow "${text}", column ${column}`;
    const caret =
      text !== undefined && column !== undefined ? `\n  ${text}\n  ${' '.repeat(column - 1)}^` : '';
    return `${where}: ${expected} (rule: ${rule})${caret}`;
  }
}

export const NAME_PATTERN = /[A-Za-z][A-Za-z0-9_.-]*/y;
const MAX_FLOW_CHARS = 10_000;
const MAX_COUNT = 1000;

type Tok =
  | { t: 'name'; v: string; pos: number }
  | { t: 'int'; v: number; pos: number }
  | { t: ';' | '||' | '|' | '@' | '[' | ']' | '(' | ')' | ',' | 'eof'; pos: number };

function describeTok(k: Tok): string {
  if (k.t === 'eof') return 'the end of the flow';
  if (k.t === 'name') return `worker type "${k.v}"`;
  if (k.t === 'int') return `number ${k.v}`;
  return `"${k.t}"`;
}

const RULE_ITEM = 'item := WORKER-TYPE | "@" | "[" ... "]"';
const RULE_SEQ = 'seq := item (";" item)*';
const RULE_GROUP =
  'group := "[" branch ("||" branch)* "]" | "[" branch ("|" branch)* "]" ["(" min "," max ")"]';
const RULE_COUNT = 'count := "(" min "," max ")" with 0 <= min <= max, 1 <= max <= number of branches';

class Parser {
  private readonly toks: Tok[] = [];
  private i = 0;
  /** Column (0-based) of each node built, for restriction errors. */
  readonly positions = new WeakMap<Flow, number>();

  constructor(private readonly text: string) {
    this.lex();
  }

  private fail(pos: number, expected: string, rule: string): never {
    throw new FlowSyntaxError(this.text, pos + 1, expected, rule);
  }

  private lex(): void {
    const s = this.text;
    let p = 0;
    while (p < s.length) {
      const c = s[p]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        p++;
        continue;
      }
      if (c === '|') {
        if (s[p + 1] === '|') {
          this.toks.push({ t: '||', pos: p });
          p += 2;
        } else this.toks.push({ t: '|', pos: p++ });
        continue;
      }
      if (';@[](),'.includes(c)) {
        this.toks.push({ t: c as ';', pos: p++ });
        continue;
      }
      if (c >= '0' && c <= '9') {
        let q = p;
        while (q < s.length && s[q]! >= '0' && s[q]! <= '9') q++;
        const v = Number(s.slice(p, q));
        if (v > MAX_COUNT)
          this.fail(p, `a count of at most ${MAX_COUNT}, found ${s.slice(p, q)}`, RULE_COUNT);
        this.toks.push({ t: 'int', v, pos: p });
        p = q;
        continue;
      }
      NAME_PATTERN.lastIndex = p;
      const m = NAME_PATTERN.exec(s);
      if (m) {
        this.toks.push({ t: 'name', v: m[0], pos: p });
        p += m[0].length;
        continue;
      }
      this.fail(
        p,
        `unexpected character ${JSON.stringify(c)}; a flow holds worker types (a letter, then letters, digits, _ . -) and ; || | [ ] ( ) , @`,
        RULE_ITEM,
      );
    }
    this.toks.push({ t: 'eof', pos: s.length });
  }

  private peek(): Tok {
    return this.toks[this.i]!;
  }

  private next(): Tok {
    return this.toks[this.i++]!;
  }

  private at<F extends Flow>(pos: number, f: F): F {
    if (!this.positions.has(f)) this.positions.set(f, pos);
    return f;
  }

  parseFlow(): Flow {
    const inner = this.alt();
    const f =
      inner.op === null
        ? inner.branches[0]!
        : this.at(
            inner.pos,
            inner.op === '||'
              ? ({ kind: 'fork', branches: inner.branches } as const)
              : ({ kind: 'choice', branches: inner.branches } as const),
          );
    const k = this.peek();
    if (k.t !== 'eof') {
      const what = k.t === ']' ? 'a "]" without its "["' : describeTok(k);
      this.fail(k.pos, `expected ";", "|", "||" or the end of the flow, found ${what}`, RULE_SEQ);
    }
    return f;
  }

  /** Branches separated by one kind of operator; a fork or choice node if there are several. */
  private alt(): { branches: Flow[]; op: '||' | '|' | null; pos: number } {
    const start = this.peek().pos;
    const branches = [this.seq()];
    let op: '||' | '|' | null = null;
    for (;;) {
      const k = this.peek();
      if (k.t !== '||' && k.t !== '|') break;
      if (op !== null && k.t !== op) {
        this.fail(
          k.pos,
          `"${op}" and "${k.t}" mixed at one level; put brackets around one of them, e.g. [A||B]|C`,
          RULE_GROUP,
        );
      }
      op = k.t;
      this.next();
      branches.push(this.seq());
    }
    return { branches, op, pos: start };
  }

  private seq(): Flow {
    const items = [this.item()];
    while (this.peek().t === ';') {
      this.next();
      items.push(this.item());
    }
    const f = seq(items);
    return this.at(this.positionOf(items[0]!), f);
  }

  private positionOf(f: Flow): number {
    return this.positions.get(f) ?? 0;
  }

  private item(): Flow {
    const k = this.next();
    if (k.t === 'name') return this.at(k.pos, name(k.v));
    if (k.t === '@') {
      // One object per occurrence, so each carries its own position.
      return this.at(k.pos, { ...relay });
    }
    if (k.t === '[') {
      const inner = this.alt();
      const close = this.next();
      if (close.t !== ']') {
        this.fail(
          close.pos,
          `expected "]" to close the "[" at column ${k.pos + 1}, found ${describeTok(close)}`,
          RULE_GROUP,
        );
      }
      if (this.peek().t === '(') return this.counted(k.pos, inner);
      if (inner.op === null) return inner.branches[0]!;
      return this.at(
        k.pos,
        inner.op === '||'
          ? { kind: 'fork', branches: inner.branches }
          : { kind: 'choice', branches: inner.branches },
      );
    }
    this.fail(k.pos, `expected a worker type, "@" or "[", found ${describeTok(k)}`, RULE_ITEM);
  }

  private counted(open: number, inner: { branches: Flow[]; op: '||' | '|' | null }): Flow {
    const lp = this.next();
    if (inner.op === '||') {
      this.fail(
        lp.pos,
        'a count (min,max) belongs to an inclusive choice [B|C](min,max), not to a fork (a fork takes every branch)',
        RULE_GROUP,
      );
    }
    const lo = this.next();
    if (lo.t !== 'int')
      this.fail(lo.pos, `expected the least number of branches, found ${describeTok(lo)}`, RULE_COUNT);
    const comma = this.next();
    if (comma.t !== ',') this.fail(comma.pos, `expected ",", found ${describeTok(comma)}`, RULE_COUNT);
    const hi = this.next();
    if (hi.t !== 'int')
      this.fail(hi.pos, `expected the greatest number of branches, found ${describeTok(hi)}`, RULE_COUNT);
    const rp = this.next();
    if (rp.t !== ')') this.fail(rp.pos, `expected ")", found ${describeTok(rp)}`, RULE_COUNT);
    const n = inner.branches.length;
    if (lo.v > hi.v) this.fail(lo.pos, `min ${lo.v} is greater than max ${hi.v}`, RULE_COUNT);
    if (hi.v < 1)
      this.fail(hi.pos, 'max must be at least 1 (a group that takes no branch is no group)', RULE_COUNT);
    if (hi.v > n)
      this.fail(hi.pos, `max ${hi.v} is greater than the ${n} branch${n === 1 ? '' : 'es'}`, RULE_COUNT);
    return this.at(open, { kind: 'inclusive', branches: inner.branches, min: lo.v, max: hi.v });
  }
}

/** Parses and validates a flow; throws FlowSyntaxError naming the column, what was expected and
 * the rule that broke. */
export function parseFlow(text: string): Flow {
  if (typeof text !== 'string')
    throw new FlowSyntaxError(undefined, undefined, 'a flow must be a string', 'flow');
  if (text.length > MAX_FLOW_CHARS) {
    throw new FlowSyntaxError(undefined, undefined, `a flow of at most ${MAX_FLOW_CHARS} characters`, 'flow');
  }
  const p = new Parser(text);
  const f = p.parseFlow();
  checkRestrictions(f, text, p.positions);
  return f;
}

interface Scope {
  /** The sequence is the whole flow (not a branch of a group). */
  readonly topLevel: boolean;
  /** A worker type (or relay) precedes the enclosing group somewhere outside: a relay in here
   * has an origin to return to. */
  readonly hasOrigin: boolean;
  /** The sequence starts the flow (the flow's first item is its first item). */
  readonly atStart: boolean;
}

/** Checks the restrictions of the notation (README, "Restrictions"); `text` and `positions`
 * locate the error when the flow was parsed. */
export function checkRestrictions(
  f: Flow,
  text?: string,
  positions: WeakMap<Flow, number> = new WeakMap(),
): void {
  const fail = (at: Flow, expected: string, rule: string): never => {
    const p = positions.get(at);
    throw new FlowSyntaxError(
      text,
      text !== undefined && p !== undefined ? p + 1 : undefined,
      expected,
      rule,
    );
  };
  const walk = (items: readonly Flow[], scope: Scope): void => {
    let named = false;
    items.forEach((it, i) => {
      if (it.kind === 'relay') {
        if (i === 0) {
          if (scope.atStart)
            fail(it, 'a flow may not begin with "@" (there is no origin yet)', 'no flow begins with @');
          fail(
            it,
            '"@" may not begin a branch: the branch starts at the origin already (@ may not be added or removed inside a fork or choice)',
            'relay := "@" after a worker type or a group',
          );
        }
        const prev = items[i - 1]!;
        if (prev.kind === 'relay') fail(it, '"@;@": a relay directly after a relay; write one "@"', 'relay');
        const origin = isGroup(prev) ? named || scope.hasOrigin : scope.topLevel || scope.hasOrigin;
        if (!origin) {
          fail(
            it,
            '"@" has no origin to join again: no worker type precedes it in its sequence or before its group',
            'relay := the origin joined again',
          );
        }
      } else if (isGroup(it)) {
        if (i === 0 && scope.atStart && it.kind === 'fork') {
          fail(
            it,
            'a flow may not begin with a fork; begin with the worker the message starts at, e.g. A;[B||C]',
            'no flow begins with a fork',
          );
        }
        if (i === 0 && scope.atStart && it.kind === 'inclusive') {
          fail(
            it,
            'a flow may not begin with an inclusive choice [..](min,max); begin with a worker type',
            'no flow begins with an inclusive choice',
          );
        }
        const inner: Scope = {
          topLevel: false,
          hasOrigin: named || scope.hasOrigin,
          atStart: i === 0 && scope.atStart,
        };
        for (const b of it.branches) walk(itemsOf(b), inner);
      }
      if (it.kind === 'name' || it.kind === 'relay') named = true;
    });
  };
  if (f.kind === 'seq' && f.items.length < 2) fail(f, 'a sequence of at least two items', 'seq');
  walk(itemsOf(f), { topLevel: true, hasOrigin: false, atStart: true });
  validateShape(f, fail);
}

/** Shape rules a flow built in code may break (the parser never builds these). */
function validateShape(f: Flow, fail: (at: Flow, expected: string, rule: string) => never): void {
  const walk = (g: Flow): void => {
    switch (g.kind) {
      case 'name':
        NAME_PATTERN.lastIndex = 0;
        if (!(NAME_PATTERN.exec(g.name)?.[0] === g.name))
          fail(g, `"${g.name}" is not a worker type name`, RULE_ITEM);
        return;
      case 'relay':
        return;
      case 'seq':
        if (g.items.length < 2 || g.items.some((x) => x.kind === 'seq'))
          fail(g, 'a flattened sequence of two items or more', RULE_SEQ);
        g.items.forEach(walk);
        return;
      default: {
        const grp: GroupFlow = g;
        const n = grp.branches.length;
        if (grp.kind !== 'inclusive' && n < 2)
          fail(g, 'a fork or choice of at least two branches', RULE_GROUP);
        if (
          grp.kind === 'inclusive' &&
          !(n >= 1 && 0 <= grp.min && grp.min <= grp.max && grp.max >= 1 && grp.max <= n)
        ) {
          fail(g, `a count (${grp.min},${grp.max}) fitting ${n} branches`, RULE_COUNT);
        }
        grp.branches.forEach(walk);
      }
    }
  };
  walk(f);
}
