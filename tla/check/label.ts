// The step labeller: every action instance under which (s, t) is a step of the next-state
// relation (used to label TLC's traces and to validate recorded runs against the spec).
//
// A step is checked by running the next-state relation's compiled successor enumeration with
// the next state already assigned t (Model.stepsTo): each `x' = e` is then a test, so a branch
// stops at the first conjunct t contradicts and no successor state is built. That is the same
// code the checker runs, on the same branches, in the same order; what it cannot see is a
// branch that would leave a variable unassigned or read a primed variable before assigning it
// (the enumeration raises those as errors). So the enumeration (`enumeratedLabels`) still
// answers where the test mode has nothing to say: when it finds no label, when evaluation
// fails, and the first time each action name labels a step of a model (the two must agree;
// a disagreement is a bug of the evaluator and is thrown).
import type { ActionLabel, Ctx, Model, State } from '../eval/index.ts';
import type { Expr } from '../ast.ts';
import { TlaError } from '../errors.ts';
import { equals, type Value } from '../values.ts';
import { labelKey } from './checker.ts';

type Next = { readonly expr: Expr; readonly ctx: Ctx };

/** Every action instance under which (s, t) is a step of next (the labeller's answer). */
export function labelStep(model: Model, next: Next, s: State, t: State): ActionLabel[] {
  let fast: ActionLabel[];
  try {
    fast = stepLabels(model, next, s, t);
  } catch (x) {
    if (x instanceof TlaError) return enumeratedLabels(model, next, s, t);
    throw x;
  }
  if (fast.length === 0) return enumeratedLabels(model, next, s, t);
  verifyOnce(model, next, s, t, fast);
  return fast;
}

/**
 * `labelStep` trying first `likely`, an action expected to hold (a disjunct of next, or an
 * instance of one, in next's context or one with the instance's parameters bound): its labels
 * when (s, t) is a step of it, else next's. Cheaper when the guess is usually right: only the
 * guessed action's branches are tested.
 */
export function labelStepLikely(model: Model, likely: Next, next: Next, s: State, t: State): ActionLabel[] {
  const guess = likely;
  let fast: ActionLabel[] = [];
  try {
    fast = stepLabels(model, guess, s, t);
  } catch (x) {
    if (!(x instanceof TlaError)) throw x;
  }
  if (fast.length === 0) return labelStep(model, next, s, t);
  verifyOnce(model, guess, s, t, fast);
  return fast;
}

/**
 * The labels of (s, t) found by testing t against next's branches, without the enumeration's
 * confirmation: for trying a likely action before the whole relation (an empty answer is then
 * no verdict; ask `labelStep`). Throws what evaluation throws (values TLC cannot compare).
 */
export function stepLabels(model: Model, next: Next, s: State, t: State): ActionLabel[] {
  if (s.length !== t.length) return [];
  const out: ActionLabel[] = [];
  let seen: Set<string> | null = null;
  model.stepsTo(next.expr, next.ctx, s, t, (label) => {
    if (out.length === 0) {
      out.push(label);
      return;
    }
    if (seen === null) seen = new Set(out.map(labelKey));
    const k = labelKey(label);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(label);
  });
  return out;
}

/** The labels of the successors of s that equal t (builds every successor of s). */
export function enumeratedLabels(model: Model, next: Next, s: State, t: State): ActionLabel[] {
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

/** Per model and next-state relation, the action names whose test-mode answer was compared with the enumeration's. */
const verified = new WeakMap<Model, WeakMap<Expr, Set<string>>>();

function verifyOnce(model: Model, next: Next, s: State, t: State, fast: readonly ActionLabel[]): void {
  let byNext = verified.get(model);
  if (!byNext) verified.set(model, (byNext = new WeakMap()));
  let names = byNext.get(next.expr);
  if (!names) byNext.set(next.expr, (names = new Set()));
  if (fast.every((l) => names.has(l.name))) return;
  const slow = enumeratedLabels(model, next, s, t);
  const a = fast.map(labelKey).join(' | ');
  const b = slow.map(labelKey).join(' | ');
  if (a !== b)
    throw new Error(
      `step labeller: testing the step against the actions gave ${a || 'no label'}, enumerating the successors gave ${b || 'no label'} (a bug of the evaluator; please report it with the spec)`,
    );
  for (const l of fast) names.add(l.name);
}

/** Equality that treats values TLC cannot compare (different kinds) as different. */
function sameValue(a: Value, b: Value): boolean {
  try {
    return equals(a, b);
  } catch {
    return false;
  }
}
