// The step labeller: every action instance under which (s, t) is a step of the next-state
// relation (used to label TLC's traces and to validate recorded runs against the spec).
import type { ActionLabel, Ctx, Model, State } from '../eval/index.ts';
import type { Expr } from '../ast.ts';
import { equals, type Value } from '../values.ts';
import { labelKey } from './checker.ts';

export function labelStep(model: Model, next: { expr: Expr; ctx: Ctx }, s: State, t: State): ActionLabel[] {
  const out: ActionLabel[] = [];
  const seen = new Set<string>();
  model.successors(next.expr, next.ctx, s, (u, label) => {
    if (u.length !== t.length) return;
    for (let i = 0; i < u.length; i++) if (!sameValue(u[i]!, t[i]!)) return;
    const k = labelKey(label);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(label);
  });
  return out;
}

/** Equality that treats values TLC cannot compare (different kinds) as different. */
function sameValue(a: Value, b: Value): boolean {
  try {
    return equals(a, b);
  } catch {
    return false;
  }
}
