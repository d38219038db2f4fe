// Syntax errors: tree-sitter marks them with ERROR and MISSING nodes; this picks the one to
// report and words it for a person.
import type { Node } from 'web-tree-sitter';
import type { Loc } from '../ast.ts';
import { TlaError } from '../errors.ts';
import { snippet } from './convert.ts';

function isComment(n: Node): boolean {
  return n.type === 'block_comment' || n.type === 'comment';
}

/** The first ERROR or MISSING node below (or at) `root` in document order, outside comments. */
function firstErrorNode(root: Node, includeRoot: boolean): Node | null {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (isComment(n)) continue;
    if ((n.isError || n.isMissing) && (includeRoot || n.id !== root.id)) return n;
    if (!n.hasError) continue;
    const children = n.children.filter((c): c is Node => c !== null);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return null;
}

function locAt(file: string, text: string, index: number): Loc {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  const col = index - (before.lastIndexOf('\n') + 1) + 1;
  return { file, line, col };
}

function describeMissing(type: string): string {
  if (type === 'identifier' || type === 'identifier_ref') return 'a name';
  if (/^[a-z_]+$/.test(type)) return `a ${type.replace(/_/g, ' ')}`;
  return `"${type}"`;
}

interface OpenBracket {
  readonly text: string;
  readonly index: number;
}

/**
 * The opening brackets ( [ { << of `text` that are never closed, in order, skipping strings,
 * comments and the text before the module header. A closing bracket of the wrong kind closes
 * nothing.
 */
export function unclosedBrackets(text: string): OpenBracket[] {
  const stack: OpenBracket[] = [];
  const closers: Record<string, string> = { ')': '(', ']': '[', '}': '{', '>>': '<<' };
  // Text before the module header is free text.
  let i = Math.max(0, text.search(/-{4,}\s*MODULE\s/));
  while (i < text.length) {
    const two = text.slice(i, i + 2);
    const ch = text[i]!;
    if (two === '(*') {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        const t = text.slice(i, i + 2);
        if (t === '(*') {
          depth++;
          i += 2;
        } else if (t === '*)') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (two === '\\*') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (two === '<<' || two === '>>') {
      if (two === '<<') stack.push({ text: two, index: i });
      else if (stack.length > 0 && stack[stack.length - 1]!.text === '<<') stack.pop();
      i += 2;
    } else if (ch === '(' || ch === '[' || ch === '{') {
      stack.push({ text: ch, index: i });
      i++;
    } else if (ch === ')' || ch === ']' || ch === '}') {
      if (stack.length > 0 && stack[stack.length - 1]!.text === closers[ch]) stack.pop();
      i++;
    } else i++;
  }
  return stack;
}

/** A hint naming the last bracket opened before `index` that is never closed, or ''. */
function bracketHint(text: string, file: string, index: number): string {
  const open = unclosedBrackets(text).filter((b) => b.index < index);
  const last = open[open.length - 1];
  if (!last) return '';
  const loc = locAt(file, text, last.index);
  return ` (the "${last.text}" at ${loc.line}:${loc.col} is never closed)`;
}

/**
 * The syntax error of a parsed file as a TlaError('parse', 'syntax error near <text>', loc),
 * or null when the tree has none. Errors inside comments (e.g. a PlusCal algorithm the
 * grammar does not accept) are not errors of the TLA+ module.
 */
export function syntaxError(root: Node, text: string, file: string): TlaError | null {
  if (!root.hasError) return null;
  let err = firstErrorNode(root, true);
  if (!err) return null;
  // An ERROR that spans a large region often holds a smaller, better placed one.
  for (
    let inner = err.isError ? firstErrorNode(err, false) : null;
    inner;
    inner = inner.isError ? firstErrorNode(inner, false) : null
  ) {
    err = inner;
  }
  const rest = (index: number): string => snippet(text.slice(index)) || 'end of file';
  if (err.isMissing) {
    return new TlaError(
      'parse',
      `syntax error near "${rest(err.startIndex)}": expected ${describeMissing(err.type)}${bracketHint(text, file, err.startIndex)}`,
      locAt(file, text, err.startIndex),
    );
  }
  const children = err.children.filter((c): c is Node => c !== null && !isComment(c));
  const last = children[children.length - 1];
  if (!last) {
    return new TlaError(
      'parse',
      `syntax error near "${rest(err.startIndex)}"${bracketHint(text, file, err.startIndex)}`,
      locAt(file, text, err.startIndex),
    );
  }
  if (last.isNamed && last.childCount > 0 && text.slice(err.endIndex).trim() === '') {
    const end = text.trimEnd().length;
    return new TlaError(
      'parse',
      `syntax error at end of file: the module is incomplete (is its closing ==== line or the end of its last definition missing?)${bracketHint(text, file, end)}`,
      locAt(file, text, end),
    );
  }
  return new TlaError(
    'parse',
    `syntax error near "${rest(last.startIndex)}"${bracketHint(text, file, last.startIndex)}`,
    locAt(file, text, last.startIndex),
  );
}
