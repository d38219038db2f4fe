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
  for (let inner = err.isError ? firstErrorNode(err, false) : null; inner; inner = inner.isError ? firstErrorNode(inner, false) : null) {
    err = inner;
  }
  const rest = (index: number): string => snippet(text.slice(index)) || 'end of file';
  if (err.isMissing) {
    return new TlaError('parse', `syntax error near "${rest(err.startIndex)}": expected ${describeMissing(err.type)}`, locAt(file, text, err.startIndex));
  }
  const children = err.children.filter((c): c is Node => c !== null && !isComment(c));
  const last = children[children.length - 1];
  if (!last) return new TlaError('parse', `syntax error near "${rest(err.startIndex)}"`, locAt(file, text, err.startIndex));
  if (last.isNamed && last.childCount > 0 && text.slice(err.endIndex).trim() === '') {
    const end = text.trimEnd().length;
    return new TlaError(
      'parse',
      'syntax error at end of file: the module is incomplete (is its closing ==== line or the end of its last definition missing?)',
      locAt(file, text, end),
    );
  }
  return new TlaError('parse', `syntax error near "${rest(last.startIndex)}"`, locAt(file, text, last.startIndex));
}
