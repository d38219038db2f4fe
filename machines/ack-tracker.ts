// specs/Ack.tla as XState v5 machines: the second of the protocol's four forms, split by role.
//
//   source            machines/source-commit.ts: the source worker's commit tracker, which the
//                     runtime runs (runtime/engine/source-commit.ts); it also mirrors Recovery.tla's
//                     source actions
//   worker, sink      `ackWorkerMachine` here: the stateful worker (mem, dur, toAck, outbox), the
//                     sink (sunk) and the connections between them and the source (toW, acksW,
//                     toSink, acksS), with the crash count. The runtime's worker core is
//                     Recovery.tla's (machines/recovery-worker.ts, watermarks over in-order
//                     channels); Ack.tla's connections reorder, which that core never sees, so
//                     the conformance suite (conformance/ack.ts) runs these two roles on this
//                     machine and the source role on the runtime's tracker
//   the whole spec    `ackTrackerMachine`: both composed (each action's guard is the conjunction
//                     of its roles' guards, its step both roles' steps), compared with the spec
//                     state by state in test/machines/ack-tracker.test.ts; one implementation of
//                     each role, no second copy of the source's
//
// Event types are the disjuncts of the spec's Next (SourceRead, SourceSend, ..., CrashSource,
// Done); the parameterised ones carry the message `m`; each is guarded by the action's enabling
// condition; contexts hold the spec's variables (sets as ascending arrays of offsets) plus the
// constants. An event whose guard is false is not taken (XState leaves the snapshot unchanged),
// as a disabled action has no step. The source's variables map onto the tracker's: offset =
// committed[0], read = read[0], kept = keptOffsets(tracker, 0), the one worker `ACK_WORKER`.
import { assign, setup } from 'xstate';
import {
  keptOffsets,
  sourceCommitEnabled,
  sourceCommitStep,
  type SourceCommitContext,
  type SourceCommitEvent,
  type SourceCommitState,
  type WorkerAcks,
} from './source-commit.ts';

/** The name of Ack.tla's one stateful worker at the source's commit tracker. */
export const ACK_WORKER = 'worker';
/** Ack.tla's one source, as the commit tracker numbers it. */
export const ACK_SOURCE = 0;

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

/** The worker's, the sink's and the connections' variables (Ack.tla's minus offset, read, kept). */
export type AckWorkerVars = Omit<AckVars, 'offset' | 'read' | 'kept'>;

/** The worker and sink roles' machine context. */
export interface AckWorkerContext extends AckWorkerVars, AckConstants {}

/** The whole spec's machine context: the source role's (the commit tracker's) and the rest. */
export interface AckContext extends AckWorkerVars, AckConstants {
  readonly source: SourceCommitContext;
}

export interface AckInput extends AckConstants {
  /** Start from this state instead of the spec's Init (e.g. a state of the checker's graph). */
  readonly from?: AckVars;
}

export interface AckWorkerInput extends AckConstants {
  readonly from?: AckWorkerVars;
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

/** The events of the worker and sink roles' machine: every action but SourceRead and SourceCommit (the source's alone). */
export type AckWorkerEvent = Exclude<AckEvent, { type: 'SourceRead' } | { type: 'SourceCommit' }>;

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
const inSeqs = (c: AckConstants, m: number): boolean => Number.isSafeInteger(m) && m >= 1 && m <= c.msgs;

// ---------------------------------------------------------------------------------------------
// The worker and sink roles (and the connections), as pure guard and step functions.

/** The worker, sink and connection part of each action's enabling condition. */
export function ackWorkerEnabled(c: AckWorkerContext, e: AckWorkerEvent): boolean {
  const m = mOf(e);
  switch (e.type) {
    // SourceSend(m): ... /\ m \notin toW (m \in kept is the source's)
    case 'SourceSend':
      return inSeqs(c, m) && !has(c.toW, m);
    // SourceReceiveAck(m) == m \in acksW
    case 'SourceReceiveAck':
      return inSeqs(c, m) && has(c.acksW, m);
    // WorkerReceive(m) == m \in toW
    case 'WorkerReceive':
      return inSeqs(c, m) && has(c.toW, m);
    // WorkerPersist == mem # {}
    case 'WorkerPersist':
      return c.mem.length > 0;
    // WorkerAck(m) == m \in toAck \/ (AckEarly /\ m \in mem /\ m \notin acksW)
    case 'WorkerAck':
      return inSeqs(c, m) && (has(c.toAck, m) || (c.ackEarly && has(c.mem, m) && !has(c.acksW, m)));
    // WorkerSendOut(m) == m \in outbox /\ m \notin toSink
    case 'WorkerSendOut':
      return inSeqs(c, m) && has(c.outbox, m) && !has(c.toSink, m);
    // WorkerReceiveSinkAck(m) == m \in acksS
    case 'WorkerReceiveSinkAck':
      return inSeqs(c, m) && has(c.acksS, m);
    // SinkReceive(m) == m \in toSink
    case 'SinkReceive':
      return inSeqs(c, m) && has(c.toSink, m);
    // CrashWorker, CrashSource == crashes < MaxCrashes
    case 'CrashWorker':
    case 'CrashSource':
      return c.crashes < c.maxCrashes;
    // Done == ... /\ sunk = Seqs /\ outbox = {} (offset = Msgs is the source's)
    case 'Done':
      return c.sunk.length === c.msgs && c.outbox.length === 0;
  }
}

/** The worker, sink and connection part of each action's step (only where enabled). */
export function ackWorkerStep(c: AckWorkerContext, e: AckWorkerEvent): Partial<AckWorkerVars> {
  const m = mOf(e);
  switch (e.type) {
    case 'SourceSend':
      return { toW: add(c.toW, m) };
    case 'SourceReceiveAck':
      return { acksW: remove(c.acksW, m) };
    // A new message is applied in memory; a duplicate of a durable one is acknowledged again;
    // a duplicate of one still in memory is dropped.
    case 'WorkerReceive': {
      const toW = remove(c.toW, m);
      if (has(c.dur, m)) return { toW, toAck: add(c.toAck, m) };
      if (has(c.mem, m)) return { toW };
      return { toW, mem: add(c.mem, m) };
    }
    // Group commit: state changes and their outputs become durable together.
    case 'WorkerPersist':
      return {
        dur: union(c.dur, c.mem),
        outbox: union(c.outbox, c.mem),
        toAck: union(c.toAck, c.mem),
        mem: [],
      };
    case 'WorkerAck':
      return { acksW: add(c.acksW, m), toAck: remove(c.toAck, m) };
    case 'WorkerSendOut':
      return { toSink: add(c.toSink, m) };
    case 'WorkerReceiveSinkAck':
      return { acksS: remove(c.acksS, m), outbox: remove(c.outbox, m) };
    case 'SinkReceive':
      return { toSink: remove(c.toSink, m), sunk: add(c.sunk, m), acksS: add(c.acksS, m) };
    // Memory, pending acknowledgements and everything in flight on the worker's connections are
    // lost; its store and outbox survive.
    case 'CrashWorker':
      return { crashes: c.crashes + 1, mem: [], toAck: [], toW: [], acksW: [], toSink: [], acksS: [] };
    // The source's connection to the worker breaks (the source's own restart is the tracker's).
    case 'CrashSource':
      return { crashes: c.crashes + 1, toW: [], acksW: [] };
    case 'Done':
      return {};
  }
}

function workerVarsOf(v: AckVars): AckWorkerVars {
  const { offset: _o, read: _r, kept: _k, ...rest } = v;
  return rest;
}

export const ackWorkerMachine = setup({
  types: {
    context: {} as AckWorkerContext,
    events: {} as AckWorkerEvent,
    input: {} as AckWorkerInput,
  },
  guards: {
    enabled: ({ context, event }) => ackWorkerEnabled(context, event),
  },
  actions: {
    step: assign(({ context, event }) => ackWorkerStep(context, event)),
  },
}).createMachine({
  id: 'AckWorker',
  context: ({ input }) => {
    checkConstants(input);
    return {
      msgs: input.msgs,
      maxCrashes: input.maxCrashes,
      ackEarly: input.ackEarly,
      commitEarly: input.commitEarly,
      ...(input.from ?? workerVarsOf(initialAckVars())),
    };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        SourceSend: { guard: 'enabled', actions: 'step' },
        SourceReceiveAck: { guard: 'enabled', actions: 'step' },
        WorkerReceive: { guard: 'enabled', actions: 'step' },
        WorkerPersist: { guard: 'enabled', actions: 'step' },
        WorkerAck: { guard: 'enabled', actions: 'step' },
        WorkerSendOut: { guard: 'enabled', actions: 'step' },
        WorkerReceiveSinkAck: { guard: 'enabled', actions: 'step' },
        SinkReceive: { guard: 'enabled', actions: 'step' },
        CrashWorker: { guard: 'enabled', actions: 'step' },
        CrashSource: { guard: 'enabled', actions: 'step' },
        // A self-loop that leaves the context as it is; it names its target, as XState never
        // takes a transition without target and actions.
        Done: { guard: 'enabled', target: 'running' },
      },
    },
  },
});

// ---------------------------------------------------------------------------------------------
// The source role's part of each action: the commit tracker's events (machines/source-commit.ts).

/** The tracker of Ack.tla's source in a state of the spec (one source, the one worker). */
export function ackSourceState(offset: number, read: number, kept: Offsets): SourceCommitState {
  // Acknowledged: read and no longer kept. (Under the broken CommitEarly, a committed offset may
  // still be kept; otherwise everything up to offset is acknowledged.)
  let mark = 0;
  while (mark < read && !kept.includes(mark + 1)) mark++;
  const ahead: number[] = [];
  for (let m = mark + 2; m <= read; m++) if (!kept.includes(m)) ahead.push(m);
  const acks: WorkerAcks = { mark, ahead };
  return { committed: [offset], read: [read], workers: { [ACK_WORKER]: [acks] } };
}

function sourceContext(s: SourceCommitState, commitEarly: boolean): SourceCommitContext {
  return { ...s, sources: 1, commitEarly };
}

/** The tracker events an Ack.tla action is at the source (none: the action is not the source's). */
export function ackSourceEvents(c: AckContext, e: AckEvent): SourceCommitEvent[] {
  const src = c.source;
  switch (e.type) {
    case 'SourceRead':
      return [{ type: 'SourceRead', source: ACK_SOURCE, through: src.read[ACK_SOURCE]! + 1 }];
    case 'SourceReceiveAck':
      return [
        { type: 'SourceReceiveAck', worker: ACK_WORKER, source: ACK_SOURCE, from: e.m - 1, through: e.m },
      ];
    case 'SourceCommit':
      return [{ type: 'SourceCommit', source: ACK_SOURCE, to: src.committed[ACK_SOURCE]! + 1 }];
    default:
      return [];
  }
}

function sourceEnabled(c: AckContext, e: AckEvent): boolean {
  const src = c.source;
  switch (e.type) {
    // SourceRead == read < Msgs (the external system's size) /\ ...
    case 'SourceRead':
      return (
        src.read[ACK_SOURCE]! < c.msgs && ackSourceEvents(c, e).every((x) => sourceCommitEnabled(src, x))
      );
    // SourceSend(m) == m \in kept /\ ...
    case 'SourceSend':
      return keptOffsets(src, ACK_SOURCE).includes(e.m);
    case 'SourceReceiveAck':
    case 'SourceCommit':
      return (
        inSeqs(c, e.type === 'SourceCommit' ? src.committed[ACK_SOURCE]! + 1 : e.m) &&
        ackSourceEvents(c, e).every((x) => sourceCommitEnabled(src, x))
      );
    // Done == offset = Msgs /\ ...
    case 'Done':
      return src.committed[ACK_SOURCE] === c.msgs;
    default:
      return true;
  }
}

function sourceStep(c: AckContext, e: AckEvent): SourceCommitContext {
  // The source restarts from its committed offset: a fresh tracker, the worker registered.
  if (e.type === 'CrashSource') {
    const fresh = { committed: c.source.committed, read: c.source.committed, workers: {} };
    const joined = sourceCommitStep(sourceContext(fresh, c.commitEarly), {
      type: 'WorkerJoined',
      worker: ACK_WORKER,
    });
    return sourceContext(joined, c.commitEarly);
  }
  let src = c.source;
  for (const x of ackSourceEvents(c, e)) src = sourceContext(sourceCommitStep(src, x), c.commitEarly);
  return src;
}

const isWorkerEvent = (e: AckEvent): e is AckWorkerEvent =>
  e.type !== 'SourceRead' && e.type !== 'SourceCommit';

export const ackTrackerMachine = setup({
  types: {
    context: {} as AckContext,
    events: {} as AckEvent,
    input: {} as AckInput,
  },
  guards: {
    enabled: ({ context: c, event: e }) =>
      sourceEnabled(c, e) && (!isWorkerEvent(e) || ackWorkerEnabled(c, e)),
  },
  actions: {
    step: assign(({ context: c, event: e }) => ({
      source: sourceStep(c, e),
      ...(isWorkerEvent(e) ? ackWorkerStep(c, e) : {}),
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
      source: sourceContext(ackSourceState(vars.offset, vars.read, vars.kept), input.commitEarly),
      ...workerVarsOf(vars),
    };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        SourceRead: { guard: 'enabled', actions: 'step' },
        SourceSend: { guard: 'enabled', actions: 'step' },
        SourceReceiveAck: { guard: 'enabled', actions: 'step' },
        SourceCommit: { guard: 'enabled', actions: 'step' },
        WorkerReceive: { guard: 'enabled', actions: 'step' },
        WorkerPersist: { guard: 'enabled', actions: 'step' },
        WorkerAck: { guard: 'enabled', actions: 'step' },
        WorkerSendOut: { guard: 'enabled', actions: 'step' },
        WorkerReceiveSinkAck: { guard: 'enabled', actions: 'step' },
        SinkReceive: { guard: 'enabled', actions: 'step' },
        CrashWorker: { guard: 'enabled', actions: 'step' },
        CrashSource: { guard: 'enabled', actions: 'step' },
        // A self-loop that leaves the context as it is (UNCHANGED vars).
        Done: { guard: 'enabled', target: 'running' },
      },
    },
  },
});

/** The spec's variables of a machine context (constants dropped; the source's from its tracker). */
export function ackVarsOf(c: AckContext): AckVars {
  return {
    offset: c.source.committed[ACK_SOURCE]!,
    read: c.source.read[ACK_SOURCE]!,
    kept: keptOffsets(c.source, ACK_SOURCE),
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
