// The printer of the flow notation: `parseFlow(printFlow(f))` equals `f` for every flow the
// parser builds (and every normalised flow built in code), and `printFlow(parseFlow(s))` is the
// canonical spelling of `s`: no spaces, groups always bracketed, plain brackets dropped.
import type { Flow } from './ast.ts';

export function printFlow(f: Flow): string {
  switch (f.kind) {
    case 'name':
      return f.name;
    case 'relay':
      return '@';
    case 'seq':
      return f.items.map(printFlow).join(';');
    case 'fork':
      return `[${f.branches.map(printFlow).join('||')}]`;
    case 'choice':
      return `[${f.branches.map(printFlow).join('|')}]`;
    case 'inclusive':
      return `[${f.branches.map(printFlow).join('|')}](${f.min},${f.max})`;
  }
}
