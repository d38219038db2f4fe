// specs/Ack.tla as an XState v5 machine: the second of the protocol's four forms
// (specs/Ack.tla -> this machine -> the runtime's acknowledgement tracking, not yet written ->
// a conformance suite, not yet written).
//
// The machine mirrors the spec action for action: its event types are the disjuncts of the
// spec's Next (SourceRead, SourceSend, ..., CrashSource, Done), the parameterised ones carry
// the message `m`, each is guarded by the action's enabling condition, and its context holds
// the spec's variables (sets as ascending arrays of offsets) plus the constants. An event whose
// guard is false is not taken (XState leaves the snapshot unchanged), as a disabled action has
// no step. `ACK_ACTION_ROLES` says which component takes each action: the runtime will split
// the machine along these roles (source, stateful worker, sink), as Delivery's machines are
// split into sender and receiver; here it is one machine so that it can be compared with the
// spec's state graph state by state.
import { assign, setup } from 'xstate';

/** The spec's action names, in the order Next lists them. */
export const ACK_ACTIONS = [
  'SourceRead',
  'SourceSend',
  'SourceReceiveAck',
  'SourceCommit',
  'WorkerReceive',
  'WorkerPersist',
  'WorkerAck',
  'WorkerSendOut',
  'WorkerReceiveSinkAck',
  'SinkReceive',
  'CrashWorker',
  'CrashSource',
  'Done',
] as const;
export type AckAction = (typeof ACK_ACTIONS)[number];

/** The actions that take a message parameter (`\E m \in Seqs : A(m)` in Next). */
export const ACK_PARAMETERISED: ReadonlySet<AckAction> = new Set<AckAction>([
  'SourceSend',
  'SourceReceiveAck',
  'WorkerReceive',
  'WorkerAck',
  'WorkerSendOut',
  'WorkerReceiveSinkAck',
  'SinkReceive',
]);

/** Which component takes each action; `environment`: crashes and the final stutter. */
export const ACK_ACTION_ROLES: Readonly<Record<AckAction, 'source' | 'worker' | 'sink' | 'environment'>> = {
  SourceRead: 'source',
  SourceSend: 'source',
  SourceReceiveAck: 'source',
  SourceCommit: 'source',
  WorkerReceive: 'worker',
  WorkerPersist: 'worker',
  WorkerAck: 'worker',
  WorkerSendOut: 'worker',
  WorkerReceiveSinkAck: 'worker',
  SinkReceive: 'sink',
  CrashWorker: 'environment',
  CrashSource: 'environment',
  Done: 'environment',
};

/** The spec's variables, in the order the spec declares them. */
export const ACK_VARIABLES = [
  'offset',
  'read',
  'kept',
  'mem',
  'dur',
  'toAck',
  'outbox',
  'sunk',
  'toW',
  'acksW',
  'toSink',
  'acksS',
  'crashes',
] as const;
export type AckVariable = (typeof ACK_VARIABLES)[number];

/** A set of offsets: ascending, no repeats. */
export type Offsets = readonly number[];

/** The spec's variables. */
export interface AckVars {
  readonly offset: number;
  readonly read: number;
  readonly kept: Offsets;
  readonly mem: Offsets;
  readonly dur: Offsets;
  readonly toAck: Offsets;
  readonly outbox: Offsets;
  readonly sunk: Offsets;
  readonly toW: Offsets;
  readonly acksW: Offsets;
  readonly toSink: Offsets;
  readonly acksS: Offsets;
  readonly crashes: number;
}

/** The spec's constants. */
export interface AckConstants {
  readonly msgs: number;
  readonly maxCrashes: number;
  /** BROKEN variant: the worker acknowledges before its write is durable. */
  readonly ackEarly: boolean;
  /** BROKEN variant: the source commits an offset it has only read. */
  readonly commitEarly: boolean;
}

export interface AckContext extends AckVars, AckConstants {}

export interface AckInput extends AckConstants {
  /** Start from this state instead of the spec's Init (e.g. a state of the checker's graph). */
  readonly from?: AckVars;
}

type Param = { readonly m: number };
export type AckEvent =
  | { readonly type: 'SourceRead' }
  | ({ readonly type: 'SourceSend' } & Param)
  | ({ readonly type: 'SourceReceiveAck' } & Param)
  | { readonly type: 'SourceCommit' }
  | ({ readonly type: 'WorkerReceive' } & Param)
  | { readonly type: 'WorkerPersist' }
  | ({ readonly type: 'WorkerAck' } & Param)
  | ({ readonly type: 'WorkerSendOut' } & Param)
  | ({ readonly type: 'WorkerReceiveSinkAck' } & Param)
  | ({ readonly type: 'SinkReceive' } & Param)
  | { readonly type: 'CrashWorker' }
  | { readonly type: 'CrashSource' }
  | { readonly type: 'Done' };

const has = (s: Offsets, m: number): boolean => s.includes(m);
const add = (s: Offsets, m: number): Offsets => (s.includes(m) ? s : [...s, m].sort((a, b) => a - b));
const remove = (s: Offsets, m: number): Offsets => s.filter((x) => x !== m);
const union = (a: Offsets, b: Offsets): Offsets => b.reduce(add, a);
const mOf = (e: AckEvent): number => ('m' in e ? e.m : Number.NaN);

function checkConstants(c: AckConstants): void {
  for (const [name, v] of [
    ['Msgs', c.msgs],
    ['MaxCrashes', c.maxCrashes],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`Ack machine: constant ${name} must be a natural number, got ${v}`);
  }
  for (const [name, v] of [
    ['AckEarly', c.ackEarly],
    ['CommitEarly', c.commitEarly],
  ] as const) {
    if (typeof v !== 'boolean')
      throw new TypeError(`Ack machine: constant ${name} must be a boolean, got ${String(v)}`);
  }
}

/** The spec's Init. */
export function initialAckVars(): AckVars {
  return {
    offset: 0,
    read: 0,
    kept: [],
    mem: [],
    dur: [],
    toAck: [],
    outbox: [],
    sunk: [],
    toW: [],
    acksW: [],
    toSink: [],
    acksS: [],
    crashes: 0,
  };
}

/** `m \in Seqs`: an event's message must be one of the model's offsets. */
const inSeqs = (c: AckContext, m: number): boolean => Number.isSafeInteger(m) && m >= 1 && m <= c.msgs;

export const ackTrackerMachine = setup({
  types: {
    context: {} as AckContext,
    events: {} as AckEvent,
    input: {} as AckInput,
  },
  guards: {
    // SourceRead == read < Msgs
    sourceRead: ({ context: c }) => c.read < c.msgs,
    // SourceSend(m) == m \in kept /\ m \notin toW
    sourceSend: ({ context: c, event: e }) => inSeqs(c, mOf(e)) && has(c.kept, mOf(e)) && !has(c.toW, mOf(e)),
    // SourceReceiveAck(m) == m \in acksW
    sourceReceiveAck: ({ context: c, event: e }) => inSeqs(c, mOf(e)) && has(c.acksW, mOf(e)),
    // SourceCommit == offset < read /\ (CommitEarly \/ offset + 1 \notin kept)
    sourceCommit: ({ context: c }) => c.offset < c.read && (c.commitEarly || !has(c.kept, c.offset + 1)),
    // WorkerReceive(m) == m \in toW
    workerReceive: ({ context: c, event: e }) => inSeqs(c, mOf(e)) && has(c.toW, mOf(e)),
    // WorkerPersist == mem # {}
    workerPersist: ({ context: c }) => c.mem.length > 0,
    // WorkerAck(m) == m \in toAck \/ (AckEarly /\ m \in mem /\ m \notin acksW)
    workerAck: ({ context: c, event: e }) =>
      inSeqs(c, mOf(e)) &&
      (has(c.toAck, mOf(e)) || (c.ackEarly && has(c.mem, mOf(e)) && !has(c.acksW, mOf(e)))),
    // WorkerSendOut(m) == m \in outbox /\ m \notin toSink
    workerSendOut: ({ context: c, event: e }) =>
      inSeqs(c, mOf(e)) && has(c.outbox, mOf(e)) && !has(c.toSink, mOf(e)),
    // WorkerReceiveSinkAck(m) == m \in acksS
    workerReceiveSinkAck: ({ context: c, event: e }) => inSeqs(c, mOf(e)) && has(c.acksS, mOf(e)),
    // SinkReceive(m) == m \in toSink
    sinkReceive: ({ context: c, event: e }) => inSeqs(c, mOf(e)) && has(c.toSink, mOf(e)),
    // CrashWorker, CrashSource == crashes < MaxCrashes
    crash: ({ context: c }) => c.crashes < c.maxCrashes,
    // Done == offset = Msgs /\ sunk = Seqs /\ outbox = {}
    done: ({ context: c }) => c.offset === c.msgs && c.sunk.length === c.msgs && c.outbox.length === 0,
  },
  actions: {
    sourceRead: assign(({ context: c }) => ({ read: c.read + 1, kept: add(c.kept, c.read + 1) })),
    sourceSend: assign(({ context: c, event: e }) => ({ toW: add(c.toW, mOf(e)) })),
    sourceReceiveAck: assign(({ context: c, event: e }) => ({
      acksW: remove(c.acksW, mOf(e)),
      kept: remove(c.kept, mOf(e)),
    })),
    sourceCommit: assign(({ context: c }) => ({ offset: c.offset + 1 })),
    // A new message is applied in memory; a duplicate of a durable one is acknowledged again;
    // a duplicate of one still in memory is dropped.
    workerReceive: assign(({ context: c, event: e }) => {
      const m = mOf(e);
      const toW = remove(c.toW, m);
      if (has(c.dur, m)) return { toW, toAck: add(c.toAck, m) };
      if (has(c.mem, m)) return { toW };
      return { toW, mem: add(c.mem, m) };
    }),
    // Group commit: state changes and their outputs become durable together.
    workerPersist: assign(({ context: c }) => ({
      dur: union(c.dur, c.mem),
      outbox: union(c.outbox, c.mem),
      toAck: union(c.toAck, c.mem),
      mem: [],
    })),
    workerAck: assign(({ context: c, event: e }) => ({
      acksW: add(c.acksW, mOf(e)),
      toAck: remove(c.toAck, mOf(e)),
    })),
    workerSendOut: assign(({ context: c, event: e }) => ({ toSink: add(c.toSink, mOf(e)) })),
    workerReceiveSinkAck: assign(({ context: c, event: e }) => ({
      acksS: remove(c.acksS, mOf(e)),
      outbox: remove(c.outbox, mOf(e)),
    })),
    sinkReceive: assign(({ context: c, event: e }) => ({
      toSink: remove(c.toSink, mOf(e)),
      sunk: add(c.sunk, mOf(e)),
      acksS: add(c.acksS, mOf(e)),
    })),
    // Memory, pending acknowledgements and everything in flight on the worker's connections are
    // lost; its store and outbox survive.
    crashWorker: assign(({ context: c }) => ({
      crashes: c.crashes + 1,
      mem: [],
      toAck: [],
      toW: [],
      acksW: [],
      toSink: [],
      acksS: [],
    })),
    // The source restarts from its committed offset.
    crashSource: assign(({ context: c }) => ({
      crashes: c.crashes + 1,
      read: c.offset,
      kept: [],
      toW: [],
      acksW: [],
    })),
  },
}).createMachine({
  id: 'Ack',
  context: ({ input }) => {
    checkConstants(input);
    const vars = input.from ?? initialAckVars();
    return {
      msgs: input.msgs,
      maxCrashes: input.maxCrashes,
      ackEarly: input.ackEarly,
      commitEarly: input.commitEarly,
      ...vars,
    };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        SourceRead: { guard: 'sourceRead', actions: 'sourceRead' },
        SourceSend: { guard: 'sourceSend', actions: 'sourceSend' },
        SourceReceiveAck: { guard: 'sourceReceiveAck', actions: 'sourceReceiveAck' },
        SourceCommit: { guard: 'sourceCommit', actions: 'sourceCommit' },
        WorkerReceive: { guard: 'workerReceive', actions: 'workerReceive' },
        WorkerPersist: { guard: 'workerPersist', actions: 'workerPersist' },
        WorkerAck: { guard: 'workerAck', actions: 'workerAck' },
        WorkerSendOut: { guard: 'workerSendOut', actions: 'workerSendOut' },
        WorkerReceiveSinkAck: { guard: 'workerReceiveSinkAck', actions: 'workerReceiveSinkAck' },
        SinkReceive: { guard: 'sinkReceive', actions: 'sinkReceive' },
        CrashWorker: { guard: 'crash', actions: 'crashWorker' },
        CrashSource: { guard: 'crash', actions: 'crashSource' },
        // A self-loop that leaves the context as it is (UNCHANGED vars); it names its target,
        // as XState never takes a transition without target and actions.
        Done: { guard: 'done', target: 'running' },
      },
    },
  },
});

/** The spec's variables of a machine context (constants dropped). */
export function ackVarsOf(c: AckContext): AckVars {
  return {
    offset: c.offset,
    read: c.read,
    kept: c.kept,
    mem: c.mem,
    dur: c.dur,
    toAck: c.toAck,
    outbox: c.outbox,
    sunk: c.sunk,
    toW: c.toW,
    acksW: c.acksW,
    toSink: c.toSink,
    acksS: c.acksS,
    crashes: c.crashes,
  };
}

/** The event for a spec action (with its message, for the parameterised ones). */
export function ackEventOf(action: AckAction, m?: number): AckEvent {
  if (ACK_PARAMETERISED.has(action)) {
    if (m === undefined) throw new TypeError(`Ack machine: action ${action} needs its message m`);
    return { type: action, m } as AckEvent;
  }
  return { type: action } as AckEvent;
}
