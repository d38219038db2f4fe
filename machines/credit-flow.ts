// CreditFlow as an XState v5 machine: the second of the protocol's four forms
// (specs/CreditFlow.tla -> this machine -> runtime/net/channel.ts -> conformance/credit-flow.ts).
//
// The machine mirrors the spec action for action: its event types are the disjuncts of the
// spec's Next (Send, Receive, Consume, GrantCredit, Done), each guarded by the action's
// enabling condition, and its context holds the spec's variables (plus the two constants).
// An event whose guard is false is not taken (XState leaves the snapshot unchanged), just as
// a disabled action has no step. Frames on the wire are plain objects here; `toSpecState`
// and `fromSpecState` convert to and from the TLA+ values the checker uses.
import { assign, setup } from 'xstate';
import { RecordValue, fcnKeys, fcnVals, isFcn, record, tuple, type Value } from '../tla/values.ts';

/** The spec's action names, in the order Next lists them. */
export const CREDIT_FLOW_ACTIONS = ['Send', 'Receive', 'Consume', 'GrantCredit', 'Done'] as const;
export type CreditFlowAction = (typeof CREDIT_FLOW_ACTIONS)[number];

/** The spec's variables, in the order the spec declares them. */
export const CREDIT_FLOW_VARIABLES = ['next', 'credit', 'wire', 'buffer', 'consumed', 'owed'] as const;
export type CreditFlowVariable = (typeof CREDIT_FLOW_VARIABLES)[number];

export type CreditFlowEvent =
  | { readonly type: 'Send' }
  | { readonly type: 'Receive' }
  | { readonly type: 'Consume' }
  | { readonly type: 'GrantCredit' }
  | { readonly type: 'Done' };
export type CreditFlowEventType = CreditFlowEvent['type'];

/** Spec action name -> machine event type. */
export const EVENT_OF_ACTION: Readonly<Record<CreditFlowAction, CreditFlowEventType>> = {
  Send: 'Send',
  Receive: 'Receive',
  Consume: 'Consume',
  GrantCredit: 'GrantCredit',
  Done: 'Done',
};

/** Machine event type -> spec action name. */
export const ACTION_OF_EVENT: Readonly<Record<CreditFlowEventType, CreditFlowAction>> = {
  Send: 'Send',
  Receive: 'Receive',
  Consume: 'Consume',
  GrantCredit: 'GrantCredit',
  Done: 'Done',
};

/** `Data(m)` and `Grant(n)` of the spec. */
export type WireFrame =
  { readonly type: 'data'; readonly msg: number } | { readonly type: 'credit'; readonly n: number };

/** The spec's variables. */
export interface CreditFlowVars {
  readonly next: number;
  readonly credit: number;
  readonly wire: readonly WireFrame[];
  readonly buffer: readonly number[];
  readonly consumed: number;
  readonly owed: number;
}

/** The spec's constants. */
export interface CreditFlowConstants {
  readonly msgs: number;
  readonly capacity: number;
}

export interface CreditFlowContext extends CreditFlowVars, CreditFlowConstants {}

export interface CreditFlowInput extends CreditFlowConstants {
  /** Start from this state instead of the spec's Init (e.g. a state of the checker's graph). */
  readonly from?: CreditFlowVars;
}

function checkConstants(c: CreditFlowConstants): void {
  for (const [name, v] of [
    ['Msgs', c.msgs],
    ['Capacity', c.capacity],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`CreditFlow machine: constant ${name} must be a natural number, got ${v}`);
  }
}

/** The spec's Init for the given constants. */
export function initialVars(c: CreditFlowConstants): CreditFlowVars {
  return { next: 1, credit: 0, wire: [{ type: 'credit', n: c.capacity }], buffer: [], consumed: 0, owed: 0 };
}

export const creditFlowMachine = setup({
  types: {
    context: {} as CreditFlowContext,
    events: {} as CreditFlowEvent,
    input: {} as CreditFlowInput,
  },
  guards: {
    // Send == next <= Msgs /\ credit > 0
    sendEnabled: ({ context }) => context.next <= context.msgs && context.credit > 0,
    // Receive == wire # <<>>
    receiveEnabled: ({ context }) => context.wire.length > 0,
    // Consume == buffer # <<>>
    consumeEnabled: ({ context }) => context.buffer.length > 0,
    // GrantCredit == owed > 0 /\ (owed * 2 >= Capacity \/ buffer = <<>>)
    grantEnabled: ({ context }) =>
      context.owed > 0 && (context.owed * 2 >= context.capacity || context.buffer.length === 0),
    // Done == consumed = Msgs (a stuttering step)
    doneEnabled: ({ context }) => context.consumed === context.msgs,
  },
  actions: {
    send: assign(({ context }) => ({
      wire: [...context.wire, { type: 'data', msg: context.next } as const],
      next: context.next + 1,
      credit: context.credit - 1,
    })),
    receive: assign(({ context }) => {
      const f = context.wire[0]!;
      const wire = context.wire.slice(1);
      return f.type === 'data'
        ? { wire, buffer: [...context.buffer, f.msg] }
        : { wire, credit: context.credit + f.n };
    }),
    consume: assign(({ context }) => ({
      consumed: context.consumed + 1,
      buffer: context.buffer.slice(1),
      owed: context.owed + 1,
    })),
    grant: assign(({ context }) => ({
      wire: [...context.wire, { type: 'credit', n: context.owed } as const],
      owed: 0,
    })),
  },
}).createMachine({
  id: 'CreditFlow',
  context: ({ input }) => {
    checkConstants(input);
    const vars = input.from ?? initialVars(input);
    return { msgs: input.msgs, capacity: input.capacity, ...vars };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        Send: { guard: 'sendEnabled', actions: 'send' },
        Receive: { guard: 'receiveEnabled', actions: 'receive' },
        Consume: { guard: 'consumeEnabled', actions: 'consume' },
        GrantCredit: { guard: 'grantEnabled', actions: 'grant' },
        // A self-loop that leaves the context as it is (UNCHANGED vars). It names its target:
        // XState treats a transition without target and actions as forbidden (never taken).
        Done: { guard: 'doneEnabled', target: 'running' },
      },
    },
  },
});

/** The spec's variables of a machine context (constants dropped). */
export function varsOf(ctx: CreditFlowContext): CreditFlowVars {
  return {
    next: ctx.next,
    credit: ctx.credit,
    wire: ctx.wire,
    buffer: ctx.buffer,
    consumed: ctx.consumed,
    owed: ctx.owed,
  };
}

/** A wire frame as the spec's record value. */
export function frameToValue(f: WireFrame): Value {
  return f.type === 'data' ? record({ type: 'data', msg: f.msg }) : record({ type: 'credit', n: f.n });
}

/** The spec's variables as TLA+ values, keyed by variable name. */
export function toSpecState(v: CreditFlowVars): Record<CreditFlowVariable, Value> {
  return {
    next: v.next,
    credit: v.credit,
    wire: tuple(v.wire.map(frameToValue)),
    buffer: tuple(v.buffer),
    consumed: v.consumed,
    owed: v.owed,
  };
}

function natOf(v: Value | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new TypeError(`CreditFlow state: ${what} must be a natural number, got ${String(v)}`);
  return v;
}

function seqOf(v: Value | undefined, what: string): readonly Value[] {
  if (v === undefined || !isFcn(v)) throw new TypeError(`CreditFlow state: ${what} must be a sequence`);
  const keys = fcnKeys(v);
  keys.forEach((k, i) => {
    if (k !== i + 1) throw new TypeError(`CreditFlow state: ${what} must be a sequence (domain 1..n)`);
  });
  return fcnVals(v);
}

function fieldOf(v: Value, name: string, what: string): Value {
  if (!(v instanceof RecordValue)) throw new TypeError(`CreditFlow state: ${what} must be a record`);
  const i = v.indexOf(name);
  if (i < 0) throw new TypeError(`CreditFlow state: ${what} has no field ${name}`);
  return v.vals[i]!;
}

/** The spec's state (TLA+ values keyed by variable name) as machine variables; checks the shape. */
export function fromSpecState(s: Readonly<Record<string, Value>>): CreditFlowVars {
  const wire = seqOf(s.wire, 'wire').map((f, i): WireFrame => {
    const what = `wire[${i + 1}]`;
    const type = fieldOf(f, 'type', what);
    if (type === 'data') return { type: 'data', msg: natOf(fieldOf(f, 'msg', what), `${what}.msg`) };
    if (type === 'credit') return { type: 'credit', n: natOf(fieldOf(f, 'n', what), `${what}.n`) };
    throw new TypeError(`CreditFlow state: ${what}.type must be "data" or "credit", got ${String(type)}`);
  });
  return {
    next: natOf(s.next, 'next'),
    credit: natOf(s.credit, 'credit'),
    wire,
    buffer: seqOf(s.buffer, 'buffer').map((m, i) => natOf(m, `buffer[${i + 1}]`)),
    consumed: natOf(s.consumed, 'consumed'),
    owed: natOf(s.owed, 'owed'),
  };
}
