// What the three trace validators share (conformance/trace-validation.ts for Delivery,
// trace-validation-ack.ts, trace-validation-recovery.ts): the spec's model with constants fitted
// to the run, one per spec and constants for the whole process (a model compiles its actions
// once; seeds of one size share it), and what a violation shows: the variables the step
// changed, the actions enabled in the state before it, and the ones whose successor came closest
// to the recorded state. Each validator maps its own records and says its own notes.
import { labelKey, loadSpec, type CheckModel, type State } from '../tla/index.ts';
import { parseCfg } from '../tla/check/cfg.ts';
import { modelFromConfig } from '../tla/check/model.ts';
import { equals, toTla, type Value } from '../tla/values.ts';
import { SPECS_DIR } from './delivery.ts';

const specs = new Map<string, ReturnType<typeof loadSpec>>();
const models = new Map<string, CheckModel>();

/**
 * specs/SPEC.tla with `INIT Init`, `NEXT Next` and these constants (in this order in the
 * model's configuration), loaded once per spec and built once per set of constants.
 */
export async function fittedModel(
  spec: string,
  constants: readonly (readonly [string, number | boolean])[],
): Promise<CheckModel> {
  const assigned = constants.map(([k, v]) => `${k} = ${v === true ? 'TRUE' : v === false ? 'FALSE' : v}`);
  const key = `${spec}: ${assigned.join(', ')}`;
  const have = models.get(key);
  if (have) return have;
  const specFile = `${SPECS_DIR}${spec}.tla`;
  let loading = specs.get(specFile);
  if (!loading) specs.set(specFile, (loading = loadSpec(specFile)));
  const text = `CONSTANTS\n${assigned.map((a) => `  ${a}\n`).join('')}INIT Init\nNEXT Next\n`;
  // The configuration's name, in errors: the numeric constants (the flags are all FALSE).
  const named = constants.filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} = ${v}`);
  const cm = modelFromConfig(
    await loading,
    specFile,
    null,
    parseCfg(text, `trace-validation(${named.join(', ')})`),
  );
  models.set(key, cm);
  return cm;
}

/**
 * Whether two states are equal (a stuttering step), cheapest test first: a variable that holds
 * the same object, or two numbers, strings or booleans, is settled without a deep comparison,
 * so a step that changed a counter is not a stutter before any long value (a fold, a sequence of
 * the stream's length) is compared element by element.
 */
export function sameState(a: State, b: State): boolean {
  if (a.length !== b.length) return false;
  let deep = false;
  for (let j = 0; j < a.length; j++) {
    const x = a[j]!;
    const y = b[j]!;
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object') return false;
    deep = true;
  }
  if (!deep) return true;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j] && !safeEquals(a[j]!, b[j]!)) return false;
  return true;
}

/** Value equality that answers false where TLA+ leaves the comparison undefined. */
export function safeEquals(a: Value, b: Value): boolean {
  try {
    return equals(a, b);
  } catch {
    return false;
  }
}

/** A state as TLC prints one: `/\ x = ...` per variable. */
export function showState(vars: readonly string[], s: State): string {
  return vars.map((v, i) => `/\\ ${v} = ${toTla(s[i]!)}`).join('\n');
}

/** What a violating step from `prev` to `t` shows: changes, enabled actions, the 3 closest. */
export interface StepDiagnosis {
  readonly changed: [string, string, string][];
  readonly enabled: string[];
  readonly closest: { action: string; differ: string[] }[];
}

/** Only on a violation: it enumerates every successor of `prev`. */
export function diagnoseStep(cm: CheckModel, prev: State, t: State): StepDiagnosis {
  const vars = cm.model.variables;
  const changed: [string, string, string][] = [];
  vars.forEach((v, j) => {
    if (!safeEquals(prev[j]!, t[j]!)) changed.push([v, toTla(prev[j]!), toTla(t[j]!)]);
  });
  const enabled = new Set<string>();
  const near: { action: string; differ: string[] }[] = [];
  cm.model.successors(cm.next.expr, cm.next.ctx, prev, (u, l) => {
    if (u.every((x, j) => safeEquals(x, prev[j]!))) return;
    const key = labelKey(l);
    enabled.add(key);
    near.push({ action: key, differ: vars.filter((_, j) => !safeEquals(u[j]!, t[j]!)) });
  });
  near.sort((a, b) => a.differ.length - b.differ.length);
  return { changed, enabled: [...enabled], closest: near.slice(0, 3) };
}
