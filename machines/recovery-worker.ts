// The worker's half of specs/Recovery.tla as an XState v5 machine: the exactly-once core the
// engine (runtime/engine/exactly-once.ts) runs on every worker that has a store.
//
// Event types are the spec's worker actions (WorkerReceive, WorkerPersist, WorkerAck,
// WorkerSendOut, WorkerReceiveSinkAck) plus two of the refinement: `Recover` (the spec's
// CrashWorker seen from the restarted process: volatile variables := durable ones, loaded from
// the store) and `Persisted` (the store write that WorkerPersist started has completed; the
// spec's WorkerPersist is atomic, the runtime's write takes time, and at most one is in flight).
// The context holds numbers only; states and outputs live in the engine:
//   marks[i]        the spec's mark, per input stream i (a source, or a source seen through one
//                   state step on another worker): every message of it with offset <= marks[i]
//                   that belongs here has been applied (NO_MARK: none)
//   durableMarks[i] dMark; acked[i] ackW (what this incarnation reported)
//   nextOutput      outputs have ids 1, 2, ...: ids < nextOutput are produced (the spec's out)
//   durableOutput   ids < durableOutput are in the store's outbox or written (dOut)
//   sent            outTx: the highest output id handed to the sinks
//   sinkAcked       ackS: the highest output id the sinks confirmed written (and flushed)
//   outboxFloor     outputs <= it left the outbox (volatile); durableOutboxFloor: in the store
// Refinements of the spec:
//   - offsets are those of the source (file lines from 0), so NO_MARK is -1, not 0;
//   - events carry batches: WorkerReceive takes the source ranges of one engine batch, each
//     `(from, through]` (the messages of those offsets that belong here); a range wholly at or
//     below the mark is a duplicate (dropped whole), one that begins beyond the mark is a gap
//     (dropped whole; the shell asks for a rewind to mark + 1, the replay brings it again),
//     otherwise the messages above the mark are applied and mark := through. The decision is
//     queued (`admit`, `duplicate`, `gap`) and the shell reads it before applying anything;
//   - output ids are given at WorkerPersist (the outputs produced since the previous one, in
//     the order produced), which numbers them consecutively exactly as the spec's out grows;
//   - WorkerReceiveSinkAck drops outputs from the volatile outbox; the store's copy goes in the
//     next commit (with the sink's recorded progress), so a crash before it rewrites them after
//     the sink was truncated to its recorded length: the file holds each output once.
//
// Ready-style queue: actions append to `ready`, which the shell drains (`drainRecoveryReady`).
import { assign, setup } from 'xstate';

/** The spec's worker actions, then the refinement's, in the order Next lists the former. */
export const RECOVERY_WORKER_SPEC_EVENTS = [
  'WorkerReceive',
  'WorkerPersist',
  'WorkerAck',
  'WorkerSendOut',
  'WorkerReceiveSinkAck',
] as const;
export const RECOVERY_WORKER_REFINEMENT_EVENTS = ['Recover', 'Persisted'] as const;
export const RECOVERY_WORKER_EVENTS = [
  ...RECOVERY_WORKER_SPEC_EVENTS,
  ...RECOVERY_WORKER_REFINEMENT_EVENTS,
] as const;
export type RecoveryWorkerEventType = (typeof RECOVERY_WORKER_EVENTS)[number];

/** specs/Recovery.tla's actions by who takes them (test/machines/recovery-worker.test.ts checks
 * this against the spec's Next and the machine's events). */
export const RECOVERY_ACTION_ROLES = {
  SourceSend: 'source',
  SourceReceiveAck: 'source',
  WorkerReceive: 'worker',
  WorkerPersist: 'worker',
  WorkerAck: 'worker',
  WorkerSendOut: 'worker',
  WorkerReceiveSinkAck: 'worker',
  SinkReceive: 'sink',
  CrashWorker: 'crash',
  CrashSource: 'crash',
  Done: 'stutter',
} as const;

/** A watermark below every offset: nothing of the stream applied. */
export const NO_MARK = -1;

/** The messages of one input stream in a batch: offsets in (from, through]. */
export interface StreamRange {
  readonly stream: number;
  readonly from: number;
  readonly through: number;
}

export type RecoveryReady =
  /** Apply the messages of `stream` with offset > `above` (the mark before this batch). */
  | { readonly kind: 'admit'; readonly stream: number; readonly above: number }
  | { readonly kind: 'duplicate'; readonly stream: number; readonly from: number; readonly through: number }
  /** The range began beyond the mark: ask for a rewind to `rewindTo` (mark + 1). */
  | { readonly kind: 'gap'; readonly stream: number; readonly from: number; readonly rewindTo: number }
  /** Write, in one atomic store write: the dirty states, these marks, outputs `firstOutput`..
   * `firstOutput + outputs - 1` into the outbox, the sinks' progress up to `outboxFloor` (and
   * delete the outbox entries up to it), and `nextOutput`. */
  | {
      readonly kind: 'persist';
      readonly marks: Readonly<Record<number, number>>;
      readonly firstOutput: number;
      readonly outputs: number;
      readonly nextOutput: number;
      readonly outboxFloor: number;
    }
  /** The write completed: everything in it is durable. */
  | { readonly kind: 'durable' }
  /** Report these durable marks upstream (the source worker commits from them). */
  | { readonly kind: 'ack'; readonly marks: Readonly<Record<number, number>> }
  /** Write outputs `from`..`through` (durable, in the outbox) to their sinks, in id order. */
  | { readonly kind: 'sendOut'; readonly from: number; readonly through: number }
  /** The sinks hold outputs up to `through`: they leave the outbox (in the store: next commit). */
  | { readonly kind: 'sinkAcked'; readonly through: number };

export type RecoveryWorkerEvent =
  | {
      readonly type: 'Recover';
      readonly marks: Readonly<Record<number, number>>;
      readonly nextOutput: number;
      readonly outboxFloor: number;
    }
  | { readonly type: 'WorkerReceive'; readonly ranges: readonly StreamRange[] }
  /** `outputs`: outputs produced since the previous WorkerPersist; `extra`: the shell has other
   * durable writes to ride along (a source worker's committed offsets). */
  | { readonly type: 'WorkerPersist'; readonly outputs: number; readonly extra?: boolean }
  | { readonly type: 'Persisted' }
  | { readonly type: 'WorkerAck' }
  | { readonly type: 'WorkerSendOut' }
  | { readonly type: 'WorkerReceiveSinkAck'; readonly through: number };

interface InFlight {
  readonly marks: Readonly<Record<number, number>>;
  readonly nextOutput: number;
  readonly outboxFloor: number;
}

export interface RecoveryWorkerContext {
  readonly marks: Record<number, number>;
  readonly durableMarks: Readonly<Record<number, number>>;
  readonly acked: Readonly<Record<number, number>>;
  readonly nextOutput: number;
  readonly durableOutput: number;
  readonly sent: number;
  readonly sinkAcked: number;
  readonly outboxFloor: number;
  readonly durableOutboxFloor: number;
  readonly inFlight: InFlight | null;
  /** Ranges dropped as duplicates or gaps (statistics). */
  readonly dropped: number;
  readonly ready: RecoveryReady[];
}

const markOf = (marks: Readonly<Record<number, number>>, s: number): number => marks[s] ?? NO_MARK;

function sameMarks(a: Readonly<Record<number, number>>, b: Readonly<Record<number, number>>): boolean {
  for (const k in a) if (a[k] !== markOf(b, Number(k))) return false;
  for (const k in b) if (b[k] !== markOf(a, Number(k))) return false;
  return true;
}

const isOffset = (v: number): boolean => Number.isSafeInteger(v) && v >= NO_MARK;

function wellFormed(ranges: readonly StreamRange[]): boolean {
  if (ranges.length === 0) return false;
  const seen = new Set<number>();
  for (const r of ranges) {
    if (!(Number.isSafeInteger(r.stream) && r.stream >= 0 && isOffset(r.from) && isOffset(r.through)))
      return false;
    if (r.from > r.through || seen.has(r.stream)) return false;
    seen.add(r.stream);
  }
  return true;
}

export const recoveryWorkerMachine = setup({
  types: {
    context: {} as RecoveryWorkerContext,
    events: {} as RecoveryWorkerEvent,
  },
  guards: {
    recoverable: ({ event }) =>
      event.type === 'Recover' &&
      Object.values(event.marks).every(isOffset) &&
      Number.isSafeInteger(event.nextOutput) &&
      event.nextOutput >= 1 &&
      Number.isSafeInteger(event.outboxFloor) &&
      event.outboxFloor >= 0 &&
      event.outboxFloor < event.nextOutput,
    // WorkerReceive == toW # <<>>: a batch arrived (well formed: each range (from, through]).
    receivable: ({ event }) => event.type === 'WorkerReceive' && wellFormed(event.ranges),
    // WorkerPersist == <<state, mark, out>> # <<dState, dMark, dOut>>, one write at a time.
    persistable: ({ context, event }) =>
      event.type === 'WorkerPersist' &&
      context.inFlight === null &&
      Number.isSafeInteger(event.outputs) &&
      event.outputs >= 0 &&
      (event.outputs > 0 ||
        event.extra === true ||
        context.outboxFloor !== context.durableOutboxFloor ||
        !sameMarks(context.marks, context.durableMarks)),
    inFlight: ({ context }) => context.inFlight !== null,
    // WorkerAck == dMark > ackW
    ackable: ({ context }) => {
      for (const k in context.durableMarks)
        if (context.durableMarks[k]! > markOf(context.acked, Number(k))) return true;
      return false;
    },
    // WorkerSendOut == \E o \in dOut : o > outTx
    sendable: ({ context }) => context.durableOutput - 1 > context.sent,
    // WorkerReceiveSinkAck == \E o \in dOut \cup out : o <= ackS (the sink acknowledges only
    // what it was sent)
    sinkAckable: ({ context, event }) =>
      event.type === 'WorkerReceiveSinkAck' &&
      Number.isSafeInteger(event.through) &&
      event.through > context.outboxFloor &&
      event.through <= context.sent,
  },
  actions: {
    recover: assign(({ event }) => {
      if (event.type !== 'Recover') return {};
      return {
        marks: { ...event.marks },
        durableMarks: { ...event.marks },
        acked: {},
        nextOutput: event.nextOutput,
        durableOutput: event.nextOutput,
        sent: event.outboxFloor,
        sinkAcked: event.outboxFloor,
        outboxFloor: event.outboxFloor,
        durableOutboxFloor: event.outboxFloor,
        inFlight: null,
      };
    }),
    receive: assign(({ context, event }) => {
      if (event.type !== 'WorkerReceive') return {};
      const marks = context.marks;
      let dropped = context.dropped;
      for (const r of event.ranges) {
        const m = markOf(marks, r.stream);
        if (r.through <= m) {
          dropped++;
          context.ready.push({ kind: 'duplicate', stream: r.stream, from: r.from, through: r.through });
        } else if (r.from > m) {
          dropped++;
          context.ready.push({ kind: 'gap', stream: r.stream, from: r.from, rewindTo: m + 1 });
        } else {
          context.ready.push({ kind: 'admit', stream: r.stream, above: m });
          marks[r.stream] = r.through;
        }
      }
      return { dropped };
    }),
    persist: assign(({ context, event }) => {
      if (event.type !== 'WorkerPersist') return {};
      const marks = { ...context.marks };
      const nextOutput = context.nextOutput + event.outputs;
      context.ready.push({
        kind: 'persist',
        marks,
        firstOutput: context.nextOutput,
        outputs: event.outputs,
        nextOutput,
        outboxFloor: context.outboxFloor,
      });
      return { nextOutput, inFlight: { marks, nextOutput, outboxFloor: context.outboxFloor } };
    }),
    persisted: assign(({ context }) => {
      const f = context.inFlight!;
      context.ready.push({ kind: 'durable' });
      return {
        durableMarks: f.marks,
        durableOutput: f.nextOutput,
        durableOutboxFloor: f.outboxFloor,
        inFlight: null,
      };
    }),
    ack: assign(({ context }) => {
      context.ready.push({ kind: 'ack', marks: context.durableMarks });
      return { acked: context.durableMarks };
    }),
    sendOut: assign(({ context }) => {
      const through = context.durableOutput - 1;
      context.ready.push({ kind: 'sendOut', from: context.sent + 1, through });
      return { sent: through };
    }),
    sinkAck: assign(({ context, event }) => {
      if (event.type !== 'WorkerReceiveSinkAck') return {};
      context.ready.push({ kind: 'sinkAcked', through: event.through });
      return { sinkAcked: event.through, outboxFloor: event.through };
    }),
  },
}).createMachine({
  id: 'RecoveryWorker',
  // A function: every actor gets its own objects (marks and ready are changed in place).
  context: () => ({
    marks: {},
    durableMarks: {},
    acked: {},
    nextOutput: 1,
    durableOutput: 1,
    sent: 0,
    sinkAcked: 0,
    outboxFloor: 0,
    durableOutboxFloor: 0,
    inFlight: null,
    dropped: 0,
    ready: [],
  }),
  initial: 'down',
  states: {
    /** Before the store is loaded: only Recover is taken. */
    down: {
      on: { Recover: { guard: 'recoverable', target: 'up', actions: 'recover' } },
    },
    up: {
      on: {
        WorkerReceive: { guard: 'receivable', actions: 'receive' },
        WorkerPersist: { guard: 'persistable', actions: 'persist' },
        Persisted: { guard: 'inFlight', actions: 'persisted' },
        WorkerAck: { guard: 'ackable', actions: 'ack' },
        WorkerSendOut: { guard: 'sendable', actions: 'sendOut' },
        WorkerReceiveSinkAck: { guard: 'sinkAckable', actions: 'sinkAck' },
      },
    },
  },
});

/** Takes what the machine queued (the queue is emptied). */
export function drainRecoveryReady(ctx: RecoveryWorkerContext): RecoveryReady[] {
  if (ctx.ready.length === 0) return [];
  return ctx.ready.splice(0, ctx.ready.length);
}
