// ITF (Informal Trace Format) traces: one JSON object per behaviour, one entry per state, each
// state labelled with the action (name and arguments) that produced it.
import { toItf, fromItf, type ItfValue, type Value } from '../values.ts';
import { TlaError } from '../errors.ts';
import type { Trace } from './engine.ts';

/** The action that produced a step: the operator's name and its parameters' values. */
export interface StepLabel {
  readonly name: string;
  readonly args: Readonly<Record<string, Value>>;
}

export interface ItfState {
  readonly '#meta': {
    readonly index: number;
    readonly action?: { readonly name: string; readonly args: Record<string, ItfValue> };
  };
  readonly [variable: string]: unknown;
}

export interface ItfTrace {
  readonly '#meta': {
    readonly format: 'ITF';
    readonly source?: string;
    readonly description?: string;
    readonly varTypes?: Record<string, string>;
    readonly [k: string]: unknown;
  };
  readonly vars: readonly string[];
  readonly states: readonly ItfState[];
  /** Index of the state the last state steps back to (a lasso). */
  readonly loop?: number;
}

export interface ItfMeta {
  readonly source?: string;
  readonly description?: string;
  /** The name given to the initial state's action (the INIT formula's name). */
  readonly initName?: string;
  readonly [k: string]: unknown;
}

/** Encodes a behaviour (states are one value per variable, in `vars` order). */
export function traceToItf(
  vars: readonly string[],
  trace: Trace<readonly Value[], StepLabel>,
  meta: ItfMeta = {},
): ItfTrace {
  const { initName, ...rest } = meta;
  const states: ItfState[] = trace.steps.map((step, index) => {
    const o: Record<string, unknown> = {};
    const label = step.label ?? (initName ? { name: initName, args: {} } : null);
    o['#meta'] = label ? { index, action: { name: label.name, args: encodeArgs(label.args) } } : { index };
    vars.forEach((v, k) => {
      const val = step.state[k];
      if (val === undefined)
        throw new TlaError('eval', `trace state ${index} has no value for variable ${v}`);
      o[v] = toItf(val);
    });
    return o as ItfState;
  });
  return {
    '#meta': { format: 'ITF', ...rest },
    vars: [...vars],
    states,
    ...(trace.loopsTo !== undefined ? { loop: trace.loopsTo } : {}),
  };
}

function encodeArgs(args: Readonly<Record<string, Value>>): Record<string, ItfValue> {
  const out: Record<string, ItfValue> = {};
  for (const [k, v] of Object.entries(args)) out[k] = toItf(v);
  return out;
}

/** Decodes an ITF trace back to states (in `vars` order) and labels; checks its shape. */
export function itfToTrace(itf: unknown): { vars: string[]; trace: Trace<Value[], StepLabel> } {
  if (typeof itf !== 'object' || itf === null) throw new TlaError('io', 'an ITF trace must be a JSON object');
  const o = itf as Record<string, unknown>;
  if (!Array.isArray(o.vars) || !o.vars.every((v) => typeof v === 'string')) {
    throw new TlaError('io', 'an ITF trace needs "vars": an array of variable names');
  }
  if (!Array.isArray(o.states)) throw new TlaError('io', 'an ITF trace needs "states": an array of states');
  const vars = o.vars as string[];
  const steps = (o.states as unknown[]).map((st, i) => {
    if (typeof st !== 'object' || st === null) throw new TlaError('io', `ITF state ${i} is not an object`);
    const so = st as Record<string, unknown>;
    const state = vars.map((v) => {
      if (!(v in so)) throw new TlaError('io', `ITF state ${i} has no value for variable ${v}`);
      return fromItf(so[v]);
    });
    const meta = so['#meta'] as { action?: { name?: unknown; args?: Record<string, unknown> } } | undefined;
    const action = meta?.action;
    const label: StepLabel | null =
      action && typeof action.name === 'string'
        ? {
            name: action.name,
            args: Object.fromEntries(Object.entries(action.args ?? {}).map(([k, v]) => [k, fromItf(v)])),
          }
        : null;
    return { state, label: i === 0 ? null : label };
  });
  const loop = o.loop;
  if (
    loop !== undefined &&
    (typeof loop !== 'number' || !Number.isInteger(loop) || loop < 0 || loop >= steps.length)
  ) {
    throw new TlaError('io', `ITF "loop" must be a state index below ${steps.length}`);
  }
  return { vars, trace: { steps, ...(typeof loop === 'number' ? { loopsTo: loop } : {}) } };
}
