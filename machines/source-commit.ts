// The source worker's commit tracker: the source role of specs/Ack.tla and specs/Recovery.tla as
// an XState v5 machine (second of the protocol's four forms; the runtime core that runs it is
// runtime/engine/source-commit.ts, the conformance suites conformance/ack.ts and
// conformance/recovery.ts). Numbers only: offsets, watermarks, worker names; no messages.
//
// Per source `s` (sources are numbered 0..sources-1) it holds
//   committed[s]  the offset committed in the external system: every message of s at an offset
//                 <= committed[s] is durable at every worker (Ack: offset; Recovery: committed)
//   read[s]       the highest offset read since the source (re)started or last rewound (Ack:
//                 read; Recovery: srcTx - 1)
// and, per registered worker and source, what that worker has acknowledged: every offset
// <= mark (its durable watermark) and the offsets in `ahead` (acknowledged one by one beyond
// the watermark; Ack.tla's connections reorder, the runtime's reports are cumulative and leave
// `ahead` empty). Ack's `kept` is (committed, read] minus what every worker acknowledged.
//
// Events are the spec's source actions, and what a worker's restart needs:
//   SourceRead {source, through}        the source read up to offset `through` (Ack: SourceRead)
//   SourceReceiveAck {worker, source, through, from?}
//                                       with `from`: `worker` acknowledges the messages (from,
//                                       through] this incarnation of the source read and sent
//                                       (Ack: SourceReceiveAck(m) is (m-1, m]); offsets beyond
//                                       `read` name messages of an earlier incarnation, which
//                                       will be read and sent again: not counted (Ack forgets
//                                       them). Without `from`: the worker's durable watermark
//                                       (its progress report; Recovery: SourceReceiveAck), true
//                                       whatever this incarnation has read: counted whole
//   SourceCommit {source, to}           commit up to `to`: every offset <= `to` acknowledged by
//                                       every worker (Ack: SourceCommit, one offset a step;
//                                       Recovery: the commit half of SourceReceiveAck)
//   WorkerJoined {worker}               a worker registers for the first time; until it reports,
//                                       it holds the commit where it is (its mark starts at
//                                       committed)
//   WorkerRestarted {worker}            a worker registered again after a crash: every source
//                                       replays from committed + 1 (Recovery's CrashWorker:
//                                       srcTx' = committed + 1; the worker's durable marks
//                                       survive, so its acknowledgements stay)
// The source worker's own restart (Ack and Recovery's CrashSource) is a fresh machine whose
// input is the persisted `committed`: read = committed, no acknowledgements.
//
// Offsets are the source's (from 0; NO_OFFSET = -1 before the first): committed, read and the
// marks start at NO_OFFSET unless given (the specs' offsets from 1, with 0 before, fit as well).
// A worker that takes no part in a source acknowledges all of it (ALL_OFFSETS).
//
// A guard that is false leaves the snapshot unchanged: a disabled action has no step. The
// committed offsets never decrease (SourceCommit needs to > committed), nor does a worker's mark.
import { assign, setup } from 'xstate';

/** The machine's events, by the spec actions they are. */
export const SOURCE_COMMIT_EVENTS = [
  'SourceRead',
  'SourceReceiveAck',
  'SourceCommit',
  'WorkerJoined',
  'WorkerRestarted',
] as const;
export type SourceCommitEventType = (typeof SOURCE_COMMIT_EVENTS)[number];

/** The most offsets a worker may acknowledge one by one beyond its watermark, per source. */
export const MAX_AHEAD = 4096;

/** What one worker has acknowledged of one source: every offset <= mark, and `ahead` (ascending, all > mark + 1). */
export interface WorkerAcks {
  readonly mark: number;
  readonly ahead: readonly number[];
}

export interface SourceCommitState {
  readonly committed: readonly number[];
  readonly read: readonly number[];
  /** Per registered worker, per source. */
  readonly workers: Readonly<Record<string, readonly WorkerAcks[]>>;
}

export interface SourceCommitContext extends SourceCommitState {
  readonly sources: number;
  /** BROKEN variant (Ack.tla's CommitEarly; mutation tests only): commit what is read, acknowledged or not. */
  readonly commitEarly: boolean;
}

export interface SourceCommitInput {
  /** How many sources (numbered 0..sources-1). */
  readonly sources: number;
  /** The committed offsets persisted by the source worker (default: all NO_OFFSET, nothing committed). */
  readonly committed?: readonly number[];
  /** Start from this state instead (e.g. a state of a spec's graph); overrides `committed`. */
  readonly from?: SourceCommitState;
  readonly commitEarly?: boolean;
}

export type SourceCommitEvent =
  | { readonly type: 'SourceRead'; readonly source: number; readonly through: number }
  | {
      readonly type: 'SourceReceiveAck';
      readonly worker: string;
      readonly source: number;
      /** Absent: a durable watermark (0, through]; present: the messages (from, through] this incarnation sent. */
      readonly from?: number;
      readonly through: number;
    }
  | { readonly type: 'SourceCommit'; readonly source: number; readonly to: number }
  | { readonly type: 'WorkerJoined'; readonly worker: string }
  | { readonly type: 'WorkerRestarted'; readonly worker: string };

/** The offset before a source's first: offsets are the source's own, from 0 (a spec's from 1 with 0 for none fit too). */
export const NO_OFFSET = -1;

/** The watermark of a worker that takes no part in a source: it acknowledges all of it. */
export const ALL_OFFSETS = Number.MAX_SAFE_INTEGER;

/** An offset, or NO_OFFSET. */
const offset = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= NO_OFFSET;
const validSource = (c: SourceCommitContext, s: unknown): s is number =>
  typeof s === 'number' && Number.isSafeInteger(s) && s >= 0 && s < c.sources;

/** Ack.tla's acknowledged-by-the-worker: m <= mark or m in ahead. */
export function acknowledged(a: WorkerAcks, m: number): boolean {
  return m <= a.mark || a.ahead.includes(m);
}

/** The acknowledgement of (from, through] added to `a`, the watermark absorbing what `ahead` continues. */
export function addAck(a: WorkerAcks, from: number, through: number): WorkerAcks {
  let mark = a.mark;
  let ahead = a.ahead;
  if (from <= mark) mark = Math.max(mark, through);
  else {
    const more: number[] = [];
    for (let m = from + 1; m <= through; m++) if (!ahead.includes(m)) more.push(m);
    ahead = [...ahead, ...more].sort((x, y) => x - y);
  }
  let i = 0;
  while (i < ahead.length && ahead[i]! <= mark + 1) {
    mark = Math.max(mark, ahead[i]!);
    i++;
  }
  if (mark === a.mark && ahead === a.ahead) return a;
  return { mark, ahead: i === 0 ? ahead : ahead.slice(i) };
}

/** How far a source can be committed: the least watermark over the registered workers (null: none registered). */
export function committable(c: SourceCommitState, source: number): number | null {
  let least: number | null = null;
  for (const acks of Object.values(c.workers)) {
    const m = acks[source]!.mark;
    if (least === null || m < least) least = m;
  }
  return least;
}

/**
 * Read and not yet acknowledged by every worker (Ack.tla's `kept`), ascending. Normally all of
 * it is above committed; under the broken commitEarly an offset may be committed and still kept.
 */
export function keptOffsets(c: SourceCommitState, source: number): number[] {
  const out: number[] = [];
  const workers = Object.values(c.workers);
  let from = c.committed[source]!;
  for (const w of workers) from = Math.min(from, w[source]!.mark);
  for (let m = from + 1; m <= c.read[source]!; m++)
    if (
      m > c.committed[source]!
        ? !workers.every((w) => acknowledged(w[source]!, m))
        : workers.some((w) => !acknowledged(w[source]!, m))
    )
      out.push(m);
  return out;
}

/** The offsets an acknowledgement counts: a watermark whole, a range of messages as far as this incarnation read. */
function ackRange(
  c: SourceCommitContext,
  e: Extract<SourceCommitEvent, { type: 'SourceReceiveAck' }>,
): [number, number] {
  if (e.from === undefined) return [NO_OFFSET, e.through];
  return [e.from, Math.min(e.through, c.read[e.source]!)];
}

/** Whether the event is a step from this context (its guard), as the machine decides it. */
export function sourceCommitEnabled(c: SourceCommitContext, e: SourceCommitEvent): boolean {
  switch (e.type) {
    case 'SourceRead':
      return validSource(c, e.source) && offset(e.through) && e.through > c.read[e.source]!;
    case 'SourceReceiveAck': {
      if (!validSource(c, e.source) || !offset(e.through)) return false;
      if (e.from !== undefined && !(offset(e.from) && e.from < e.through)) return false;
      const acks = c.workers[e.worker];
      if (acks === undefined) return false;
      const a = acks[e.source]!;
      const [from, through] = ackRange(c, e);
      return from >= through || from <= a.mark || a.ahead.length + (through - from) <= MAX_AHEAD;
    }
    case 'SourceCommit': {
      if (!validSource(c, e.source) || !offset(e.to) || e.to <= c.committed[e.source]!) return false;
      if (c.commitEarly) return e.to <= c.read[e.source]!;
      const least = committable(c, e.source);
      return least !== null && e.to <= least;
    }
    case 'WorkerJoined':
      return typeof e.worker === 'string' && e.worker !== '' && !Object.hasOwn(c.workers, e.worker);
    case 'WorkerRestarted':
      return typeof e.worker === 'string' && Object.hasOwn(c.workers, e.worker);
  }
}

/** The step the event takes (only called where `sourceCommitEnabled`): the new state. */
export function sourceCommitStep(c: SourceCommitContext, e: SourceCommitEvent): SourceCommitState {
  const state = { committed: c.committed, read: c.read, workers: c.workers };
  const at = <T>(xs: readonly T[], i: number, v: T): T[] => xs.map((x, k) => (k === i ? v : x));
  switch (e.type) {
    case 'SourceRead':
      return { ...state, read: at(c.read, e.source, e.through) };
    case 'SourceReceiveAck': {
      const acks = c.workers[e.worker]!;
      const [from, through] = ackRange(c, e);
      if (from >= through) return state;
      const next = addAck(acks[e.source]!, from, through);
      if (next === acks[e.source]) return state;
      return { ...state, workers: { ...c.workers, [e.worker]: at(acks, e.source, next) } };
    }
    case 'SourceCommit':
      return { ...state, committed: at(c.committed, e.source, e.to) };
    case 'WorkerJoined':
      return {
        ...state,
        workers: { ...c.workers, [e.worker]: c.committed.map((mark) => ({ mark, ahead: [] })) },
      };
    case 'WorkerRestarted':
      // Every source replays from committed + 1; the restarted worker's watermarks make the
      // replay a no-op where it already applied, and bring it what it lost.
      return { ...state, read: [...c.committed] };
  }
}

function initialContext(input: SourceCommitInput): SourceCommitContext {
  const { sources } = input;
  if (!Number.isSafeInteger(sources) || sources < 0)
    throw new RangeError(`source commit machine: sources must be a natural number, got ${sources}`);
  const from = input.from;
  const committed = from?.committed ?? input.committed ?? Array.from({ length: sources }, () => NO_OFFSET);
  const read = from?.read ?? committed;
  for (const [what, xs] of [
    ['committed', committed],
    ['read', read],
  ] as const) {
    if (xs.length !== sources || !xs.every(offset))
      throw new RangeError(
        `source commit machine: ${what} must be ${sources} offsets (integers >= -1, one per source), got [${xs.join(', ')}]`,
      );
  }
  const workers = from?.workers ?? {};
  for (const [w, acks] of Object.entries(workers))
    if (acks.length !== sources)
      throw new RangeError(
        `source commit machine: worker ${w} has acknowledgements for ${acks.length} sources, not ${sources}`,
      );
  return {
    sources,
    commitEarly: input.commitEarly ?? false,
    committed: [...committed],
    read: [...read],
    workers,
  };
}

export const sourceCommitMachine = setup({
  types: {
    context: {} as SourceCommitContext,
    events: {} as SourceCommitEvent,
    input: {} as SourceCommitInput,
  },
  guards: {
    enabled: ({ context, event }) => sourceCommitEnabled(context, event),
  },
  actions: {
    step: assign(({ context, event }) => sourceCommitStep(context, event)),
  },
}).createMachine({
  id: 'SourceCommit',
  context: ({ input }) => initialContext(input),
  initial: 'running',
  states: {
    running: {
      on: {
        SourceRead: { guard: 'enabled', actions: 'step' },
        SourceReceiveAck: { guard: 'enabled', actions: 'step' },
        SourceCommit: { guard: 'enabled', actions: 'step' },
        WorkerJoined: { guard: 'enabled', actions: 'step' },
        WorkerRestarted: { guard: 'enabled', actions: 'step' },
      },
    },
  },
});

/** The state of a context (its constants dropped). */
export function sourceCommitStateOf(c: SourceCommitContext): SourceCommitState {
  return { committed: c.committed, read: c.read, workers: c.workers };
}
