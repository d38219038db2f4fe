// Trace validation of stateful workers against specs/Recovery.tla (issue 8): the records of a
// worker's exactly-once core (runtime/sim/record.ts, `p: 'recovery'`; written by
// runtime/engine/exactly-once.ts) mapped, per (worker, stream), onto Recovery's variables
// through the refinement mapping of conformance/recovery.ts (spec offset = runtime offset + 1),
// and every step checked with the checker's step labeller. The design and its limits:
// docs/trace-validation.md, "Recovery".
//
// One instance is one input stream of one worker (the machine's stream: a source's own share on
// the source worker, or a source seen through one state step), over all of the worker's process
// incarnations. The worker's records become abstract states:
//
//   state, mark            the offsets the worker applied (the admitted ranges' offsets above
//                          the mark, each once: the runtime applies a range once) since its
//                          last recovery plus the durable ones; the machine's mark + 1
//   dState, dMark          state and mark as of the last commit that landed (its WorkerPersist
//                          record's marks); after a crash the recovered marks are the
//                          machine's Recover record's
//   out, dOut, outTx,      a message's outputs are written with the commit that makes it durable
//   written, sinkMark,     (a staged sink's length is committed with the states), or, when that
//   toSink, ackS           commit put outputs in the outbox, with the sinks' acknowledgement of
//                          its last output id; the spec's WorkerSendOut and SinkReceive of the
//                          message are placed there, then WorkerReceiveSinkAck
//   toW, srcTx             the source's sends are placed just before the worker receives them
//                          (toW holds one offset at most between two records)
//   ackW                   the worker's WorkerAck records (its durable marks + 1)
//   committed              this stream's own acknowledgements that the source must have taken
//                          (below)
//   crashes                the worker's recoveries, and the source's restarts the replays imply
//
// A commit is WorkerPersist at the instant its marks were taken (the machine's WorkerPersist:
// what was applied then is what it writes) if it landed: its Persisted followed, or the next
// incarnation recovered its image. A commit lost with a crash is no step. A recovery is
// CrashWorker: state := the durable applied offsets, mark := the recovered mark. If the
// recovered store (its fingerprint, marks, output counter) is neither the last durable commit's
// nor the one in flight's, the recovered state is a value no state of the spec has, so the step
// fails.
//
// The source is the Ack protocol's (validated apart): here only what the worker saw. An offset
// received that the source had sent already (on this mapping) is a replay: the source
// restarted (CrashSource; before it, SourceReceiveAck of this stream's last acknowledgement if
// the replay starts beyond it). A replay starts at the source's commit point + 1 (the tracker's:
// the least of every worker's durable marks), which may be beyond this stream's own commit: the
// offsets between are sent and received as the duplicates they are (at or below the mark). A
// range dropped as a gap was sent behind lost frames: no step (as the Delivery mapping keeps
// losses unobserved). Constants: Msgs = the stream's highest offset seen, MaxCrashes = the
// crashes mapped.
import { labelStep, parseExpression, type CheckModel, type State } from '../tla/index.ts';
import { labelStepLikely } from '../tla/check/label.ts';
import type { Expr } from '../tla/ast.ts';
import { record, setOf, tuple, type Value } from '../tla/values.ts';
import type { ProtocolRecord, RecoveryStepRecord } from '../runtime/sim/record.ts';
import type { InstanceValidation, StepCause, TraceViolation } from './trace-validation.ts';
import { diagnoseStep, fittedModel, sameState, showState } from './trace-validation-check.ts';

type Rec = RecoveryStepRecord & { readonly n: number; readonly end: string; readonly inc: number };

/** One instance's abstract state (spec offsets), plain data. */
interface RecoveryAbstract {
  committed: number;
  srcTx: number;
  /** How many times each offset was applied (index = spec offset); null: a torn recovery. */
  state: Counts | null;
  mark: number;
  out: readonly number[];
  outTx: number;
  dState: Counts;
  dMark: number;
  dOut: readonly number[];
  written: Grown;
  sinkMark: number;
  toW: readonly number[];
  ackW: number;
  toSink: readonly number[];
  ackS: number;
  crashes: number;
}

/**
 * A fold, changed in place: each state gets a new wrapper (`a` shared), so a state's value is
 * read (converted) before the next step changes `a`; a step costs O(1), not O(Msgs). Streams of
 * real runs have tens of thousands of offsets, and states are checked as they are made.
 */
interface Counts {
  readonly a: number[];
}

/**
 * Per copy of a fold (WorkerPersist's dState := state, CrashWorker's state := dState), the
 * fold it copies: while that one is the current state's (it changes only through a new
 * wrapper), the copy's value is its value, so the step's `dState' = state` compares one object.
 */
const copied = new WeakMap<Counts, Counts>();
function copyCounts(c: Counts): Counts {
  const out = { a: c.a.slice() };
  copied.set(out, c);
  return out;
}

/** A sequence that only grows, in place, as Counts: `n` elements of `a`. */
interface Grown {
  readonly a: number[];
  readonly n: number;
}

/** What the mapping gives the checker per state (the first: the initial state). */
type StateSink = (
  s: RecoveryAbstract,
  action: string | null,
  cause: StepCause | null,
  note: string | undefined,
  explain: string | undefined,
) => void;

interface Mapped {
  readonly steps: number;
  readonly crashes: number;
  readonly msgs: number;
  /** A note on the first state (it is not the spec's initial one). */
  readonly initialNote?: string;
}

const NONE = -1;
const EMPTY_IMAGE = '0000000000000000';

/** A store as a commit leaves it (or as recovery loaded it). */
interface Image {
  readonly marks: Readonly<Record<number, number>>;
  readonly nextOutput: number;
  readonly outboxFloor: number;
  readonly image: string;
}

const markOf = (marks: Readonly<Record<number, number>>, s: number): number => marks[s] ?? NONE;

/** The same store contents (the fingerprint, the output counter and the outbox floor). */
const sameStore = (a: Image, b: Image): boolean =>
  a.image === b.image && a.nextOutput === b.nextOutput && a.outboxFloor === b.outboxFloor;

function sameImage(a: Image, b: Image): boolean {
  if (!sameStore(a, b)) return false;
  for (const k in a.marks) if (a.marks[k] !== markOf(b.marks, Number(k))) return false;
  for (const k in b.marks) if (b.marks[k] !== markOf(a.marks, Number(k))) return false;
  return true;
}

const showImage = (i: Image): string =>
  `image ${i.image}, marks ${JSON.stringify(i.marks)}, next output ${i.nextOutput}, outbox floor ${i.outboxFloor}`;

/**
 * Per worker: which commits landed (their record indexes in `recs`) and, per recovery after a
 * crash, what it recovered: the last durable commit's image, the one in flight's, or neither.
 */
function commitOutcomes(recs: readonly Rec[]): {
  landed: Set<number>;
  torn: Map<number, string>;
  /** Per recovery: the commit whose store it loaded. */
  from: Map<number, Image>;
} {
  const landed = new Set<number>();
  const torn = new Map<number, string>();
  const from = new Map<number, Image>();
  let durable: Image = { marks: {}, nextOutput: 1, outboxFloor: 0, image: EMPTY_IMAGE };
  let inFlight: { i: number; image: Image } | null = null;
  let inc: number | null = null;
  recs.forEach((r, i) => {
    if (r.ev === 'WorkerPersist') inFlight = { i, image: r };
    else if (r.ev === 'Persisted' && inFlight !== null && r.inc === inc) {
      landed.add(inFlight.i);
      durable = inFlight.image;
      inFlight = null;
    } else if (r.ev === 'Recover') {
      if (inc !== null && r.inc !== inc) {
        const f = inFlight as { i: number; image: Image } | null;
        // The store's contents tell which commit it holds; its marks are then compared per
        // stream (a recovered mark that is not the commit's is the CrashWorker step's mark').
        if (f !== null && sameStore(r, f.image) && (sameImage(r, f.image) || !sameImage(r, durable))) {
          landed.add(f.i);
          durable = f.image;
          from.set(i, durable);
        } else if (sameStore(r, durable)) from.set(i, durable);
        else
          torn.set(
            i,
            `the recovered store (${showImage(r)}) is not the last durable commit's (${showImage(durable)})` +
              (f !== null ? ` nor the one in flight at the crash's (${showImage(f.image)})` : ''),
          );
        inFlight = null;
      }
      inc = r.inc;
    }
  });
  return { landed, torn, from };
}

/** The streams a worker's records name (ranges, marks). */
function streamsOf(recs: readonly Rec[]): number[] {
  const out = new Set<number>();
  for (const r of recs) {
    if (r.ev === 'WorkerReceive') for (const g of r.ranges) out.add(g[0]);
    else if (r.ev === 'WorkerPersist' || r.ev === 'Recover' || r.ev === 'WorkerAck')
      for (const k in r.marks) out.add(Number(k));
  }
  return [...out].sort((a, b) => a - b);
}

function initial(msgs: number): RecoveryAbstract {
  return {
    committed: 0,
    srcTx: 1,
    state: { a: new Array<number>(msgs + 1).fill(0) },
    mark: 0,
    out: [],
    outTx: 0,
    dState: { a: new Array<number>(msgs + 1).fill(0) },
    dMark: 0,
    dOut: [],
    written: { a: [], n: 0 },
    sinkMark: 0,
    toW: [],
    ackW: 0,
    toSink: [],
    ackS: 0,
    crashes: 0,
  };
}

/** The stream's offsets: the highest one its records name (spec offsets). */
function msgsOf(recs: readonly Rec[], stream: number): number {
  let msgs = 0;
  for (const r of recs) {
    if (r.ev === 'WorkerReceive')
      for (const g of r.ranges) if (g[0] === stream) msgs = Math.max(msgs, g[2] + 1);
    if (r.ev === 'WorkerPersist' || r.ev === 'Recover' || r.ev === 'WorkerAck')
      msgs = Math.max(msgs, markOf(r.marks, stream) + 1);
  }
  return msgs;
}

/** Maps one (worker, stream) instance: the worker's records, in the run's order, each state
 * given to `sink` as it is made. */
function mapRecovery(recs: readonly Rec[], stream: number, sink: StateSink): Mapped {
  const msgs = msgsOf(recs, stream);
  const { landed, torn, from } = commitOutcomes(recs);
  // Per record: the least offset this stream receives from it on (spec offsets). The source's
  // commit point is never inferred beyond it: a source may replay from below what it had
  // committed as far as this mapping can tell (its durable commit is older than its tracker's),
  // and the spec's commit never goes back.
  const replayFloor = new Array<number>(recs.length + 1).fill(Infinity);
  for (let i = recs.length - 1; i >= 0; i--) {
    let least = replayFloor[i + 1]!;
    const r = recs[i]!;
    if (r.ev === 'WorkerReceive')
      r.ranges.forEach((g, k) => {
        if (g[0] === stream && r.decisions[k] !== 'g') least = Math.min(least, g[1] + 2);
      });
    replayFloor[i] = least;
  }
  let at = 0;
  let cur = initial(msgs);
  let steps = 0;
  /** For the next state: a note (the step must fail) or an explanation (said if it does). */
  let note: string | undefined;
  let explain: string | undefined;
  /** Landed commits whose messages' outputs wait for the sinks' acknowledgement of `lastId`. */
  const queue: { msgs: number[]; lastId: number }[] = [];
  let sinkAcked = 0;
  let inc: number | null = null;
  let initialNote: string | undefined;

  const causeOf = (r: Rec, moved?: string): StepCause => ({
    n: r.n,
    end: r.end,
    role: 'worker',
    ev: r.ev,
    ...(moved ? { moved } : {}),
  });
  const emit = (action: string, next: Partial<RecoveryAbstract>, cause: StepCause): void => {
    cur = Object.assign({}, cur, next);
    steps++;
    sink(cur, action, cause, note, explain);
    note = explain = undefined;
  };
  const without = (xs: readonly number[], pred: (x: number) => boolean): number[] =>
    xs.filter((x) => !pred(x));
  const union = (xs: readonly number[], x: number): number[] =>
    xs.includes(x) ? [...xs] : [...xs, x].sort((a, b) => a - b);

  /** The outputs of messages `ms` reach the sink: WorkerSendOut and SinkReceive each, then the ack. */
  const writeOut = (ms: readonly number[], cause: StepCause): void => {
    for (const m of [...ms].sort((a, b) => a - b)) {
      if (!(cur.dOut.includes(m) && cur.out.includes(m) && m > cur.outTx)) continue;
      emit('WorkerSendOut', { toSink: [...cur.toSink, m], outTx: m }, cause);
      const fresh = m > cur.sinkMark;
      emit(
        'SinkReceive',
        fresh
          ? { toSink: cur.toSink.slice(1), written: grow(cur.written, m), sinkMark: m, ackS: m }
          : { toSink: cur.toSink.slice(1), ackS: cur.sinkMark },
        cause,
      );
    }
    if (cur.out.some((o) => o <= cur.ackS))
      emit('WorkerReceiveSinkAck', { out: without(cur.out, (o) => o <= cur.ackS) }, cause);
  };
  const drainQueue = (cause: StepCause): void => {
    while (queue.length > 0 && queue[0]!.lastId <= sinkAcked) writeOut(queue.shift()!.msgs, cause);
  };

  /** The source sends m next (after the implied replay and duplicates, if it must). */
  const sendUpTo = (m: number, r: Rec): void => {
    if (cur.srcTx > m) {
      // A replay: the source restarted from its commit point.
      const moved = `implied: the source replays from offset ${m} (runtime ${m - 1}), which it had sent`;
      if (cur.ackW > cur.committed && cur.ackW <= replayFloor[at]! - 1)
        emit('SourceReceiveAck', { committed: cur.ackW }, causeOf(r, moved));
      emit(
        'CrashSource',
        { srcTx: cur.committed + 1, toW: [], ackW: 0, crashes: cur.crashes + 1 },
        causeOf(r, moved),
      );
    }
    while (cur.srcTx < m) {
      const d = cur.srcTx;
      const moved = `implied: offset ${d} is below the source's rewind point, sent and dropped as a duplicate`;
      emit('SourceSend', { toW: [d], srcTx: d + 1 }, causeOf(r, moved));
      emit('WorkerReceive', { toW: [] }, causeOf(r, moved));
    }
    emit('SourceSend', { toW: [m], srcTx: m + 1 }, causeOf(r));
  };

  const first = recs.find((r) => r.ev === 'Recover');
  if (
    first?.ev === 'Recover' &&
    !sameImage(first, { marks: {}, nextOutput: 1, outboxFloor: 0, image: EMPTY_IMAGE })
  )
    initialNote = `the worker's first start recovered a store that is not empty (${showImage(first)}): the spec starts from an empty one`;
  sink(cur, null, null, initialNote, undefined);

  recs.forEach((r, i) => {
    at = i;
    switch (r.ev) {
      case 'Recover': {
        if (inc === null) {
          inc = r.inc;
          return;
        }
        if (r.inc === inc) return;
        inc = r.inc;
        const cause = causeOf(r);
        const t = torn.get(i);
        note = t;
        const c = from.get(i);
        if (c !== undefined && markOf(c.marks, stream) !== markOf(r.marks, stream))
          explain = `the recovered mark of stream ${stream} is ${markOf(r.marks, stream)}, the commit it recovered wrote ${markOf(c.marks, stream)} (runtime offsets)`;
        emit(
          'CrashWorker',
          {
            crashes: cur.crashes + 1,
            state: t !== undefined ? null : copyCounts(cur.dState),
            mark: markOf(r.marks, stream) + 1,
            out: cur.dOut,
            outTx: 0,
            toW: [],
            ackW: 0,
            toSink: [],
            ackS: 0,
            srcTx: cur.committed + 1,
          },
          cause,
        );
        // What the sinks hold already is sent again and dropped by their watermark.
        writeOut(
          cur.dOut.filter((m) => m <= cur.sinkMark),
          { ...cause, moved: 'after the recovery: outputs the sinks hold, sent again' },
        );
        return;
      }
      case 'WorkerReceive': {
        r.ranges.forEach((g, k) => {
          if (g[0] !== stream) return;
          const d = r.decisions[k];
          if (d === 'g' || d === undefined) return; // behind frames lost: not received (above)
          const above = d === 'd' ? Infinity : d + 1;
          for (let m = g[1] + 2; m <= g[2] + 1; m++) {
            sendUpTo(m, r);
            if (m > above && cur.state !== null) {
              const a = cur.state.a;
              a[m] = (a[m] ?? 0) + 1;
              emit(
                'WorkerReceive',
                { toW: [], state: { a }, mark: Math.max(cur.mark, m), out: union(cur.out, m) },
                causeOf(r),
              );
            } else emit('WorkerReceive', { toW: [] }, causeOf(r));
          }
        });
        return;
      }
      case 'WorkerPersist': {
        if (!landed.has(i)) return; // lost with a crash (or the run ended first): no step
        const cause = causeOf(r);
        const newly = cur.out.filter((m) => !cur.dOut.includes(m) || m > cur.dMark);
        emit(
          'WorkerPersist',
          {
            dState: cur.state !== null ? copyCounts(cur.state) : cur.dState,
            dMark: markOf(r.marks, stream) + 1,
            dOut: cur.out,
          },
          cause,
        );
        const fresh = newly.filter((m) => m > cur.sinkMark);
        if (r.outputs === 0 && queue.length === 0) writeOut(fresh, cause);
        else queue.push({ msgs: fresh, lastId: r.outputs === 0 ? 0 : r.nextOutput - 1 });
        if (r.outputs === 0) drainQueue(cause);
        return;
      }
      case 'Persisted':
      case 'WorkerSendOut':
        return; // the commit was placed at its WorkerPersist; outputs at the sinks' ack
      case 'WorkerReceiveSinkAck':
        sinkAcked = Math.max(sinkAcked, r.through);
        drainQueue(causeOf(r));
        return;
      case 'WorkerAck': {
        const a = markOf(r.marks, stream) + 1;
        if (a > cur.ackW) emit('WorkerAck', { ackW: a }, causeOf(r));
        return;
      }
    }
  });
  return { steps, crashes: cur.crashes, msgs, ...(initialNote ? { initialNote } : {}) };
}

/** One more element of a sequence that only grows (in place: earlier states were read). */
function grow(w: Grown, x: number): Grown {
  if (w.a.length !== w.n) throw new Error('trace validation: a sequence grew from an older state');
  w.a.push(x);
  return { a: w.a, n: w.n + 1 };
}

// ---------------------------------------------------------------------------------------
// Abstract states as the checker's states, in the order of Recovery's VARIABLES.

const TORN: Value = record({ recovered: 'a store image no commit wrote' });

function specStates(msgs: number): (a: RecoveryAbstract) => State {
  // Each wrapper (a fold, `written`) is read once, when its state is checked (its array changes
  // after); the other collections are new arrays whenever they change. The values of the
  // previous state's objects are kept, so a variable a step did not change is the previous
  // state's value itself: not rebuilt, and UNCHANGED compares identical objects (O(1), where
  // rebuilt folds cost O(Msgs) to build and to compare).
  let last = new Map<object, Value>();
  let now = new Map<object, Value>();
  const memo = (k: object, build: () => Value): Value => {
    let v = now.get(k);
    if (v === undefined) {
      v = last.get(k) ?? build();
      now.set(k, v);
    }
    return v;
  };
  const fold = (xs: Counts | null): Value => {
    if (xs === null) return TORN;
    const src = copied.get(xs);
    const same = src === undefined ? undefined : (now.get(src) ?? last.get(src));
    return memo(xs, () => same ?? tuple(xs.a.slice(1, msgs + 1)));
  };
  const seq = (w: Grown): Value => memo(w, () => tuple(w.a.slice(0, w.n)));
  const set = (xs: readonly number[]): Value => memo(xs, () => setOf([...xs]));
  const tup = (xs: readonly number[]): Value => memo(xs, () => tuple([...xs]));
  return (a) => {
    const s: State = [
      a.committed,
      a.srcTx,
      fold(a.state),
      a.mark,
      set(a.out),
      a.outTx,
      fold(a.dState),
      a.dMark,
      set(a.dOut),
      seq(a.written),
      a.sinkMark,
      tup(a.toW),
      a.ackW,
      tup(a.toSink),
      a.ackS,
      a.crashes,
    ];
    last = now;
    now = new Map();
    return s;
  };
}

const RECOVERY_VARIABLES = [
  'committed',
  'srcTx',
  'state',
  'mark',
  'out',
  'outTx',
  'dState',
  'dMark',
  'dOut',
  'written',
  'sinkMark',
  'toW',
  'ackW',
  'toSink',
  'ackS',
  'crashes',
] as const;

async function recoveryModel(msgs: number, maxCrashes: number): Promise<CheckModel> {
  const cm = await fittedModel('Recovery', [
    ['Msgs', msgs],
    ['MaxCrashes', maxCrashes],
    ['NoDedup', false],
    ['SinkNoDedup', false],
    ['AckEarly', false],
  ]);
  const vars = cm.model.variables;
  if (vars.join() !== RECOVERY_VARIABLES.join())
    throw new Error(
      `specs/Recovery.tla declares VARIABLES ${vars.join(', ')}; the trace validation maps ${RECOVERY_VARIABLES.join(', ')} (conformance/trace-validation-recovery.ts)`,
    );
  return cm;
}

let guidedActions: Promise<Map<string, Expr>> | null = null;
function guided(): Promise<Map<string, Expr>> {
  guidedActions ??= (async () => {
    const out = new Map<string, Expr>();
    for (const a of [
      'SourceSend',
      'SourceReceiveAck',
      'WorkerReceive',
      'WorkerPersist',
      'WorkerAck',
      'WorkerSendOut',
      'WorkerReceiveSinkAck',
      'SinkReceive',
      'CrashWorker',
      'CrashSource',
    ])
      out.set(a, await parseExpression(a));
    return out;
  })();
  return guidedActions;
}

/** Checks the states of one instance as the mapping makes them (a StateSink); stops at the first violation. */
function stateChecker(
  cm: CheckModel,
  instance: string,
  msgs: number,
  counts: Record<string, number>,
  expected: ReadonlyMap<string, Expr>,
): { sink: StateSink; result: () => { steps: number; stutters: number; violation: TraceViolation | null } } {
  const vars = cm.model.variables;
  const toSpec = specStates(msgs);
  let prev: State | null = null;
  let i = 0;
  let stutters = 0;
  let violation: TraceViolation | null = null;
  const sink: StateSink = (a, action, cause, note, explain) => {
    if (violation !== null) return;
    const t = toSpec(a);
    if (prev === null) {
      prev = t;
      if (note !== undefined)
        violation = {
          spec: 'Recovery',
          instance,
          step: 0,
          cause: null,
          before: null,
          after: showState(vars, t),
          changed: [],
          enabled: [],
          closest: [],
          note,
        };
      return;
    }
    i++;
    const before: State = prev;
    if (note === undefined && sameState(t, before)) {
      stutters++;
      return;
    }
    const guess = expected.get(action ?? '');
    const labels =
      note !== undefined
        ? []
        : guess === undefined
          ? labelStep(cm, before, t)
          : labelStepLikely(cm.model, { expr: guess, ctx: cm.next.ctx }, cm.next, before, t);
    if (labels.length > 0) {
      const k = labels[0]!.name;
      counts[k] = (counts[k] ?? 0) + 1;
      prev = t;
      return;
    }
    const said = note ?? explain;
    violation = {
      spec: 'Recovery',
      instance,
      step: i,
      cause,
      before: showState(vars, before),
      after: showState(vars, t),
      ...diagnoseStep(cm, before, t),
      ...(said !== undefined ? { note: said } : {}),
    };
  };
  return { sink, result: () => ({ steps: i, stutters, violation }) };
}

/** The workers' recovery records, per worker, in the run's order. */
function byWorker(records: readonly ProtocolRecord[]): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  for (const r of records) {
    if (r.p !== 'recovery') continue;
    let a = out.get(r.end);
    if (!a) out.set(r.end, (a = []));
    a.push(r as Rec);
  }
  for (const a of out.values()) a.sort((x, y) => x.n - y.n);
  return out;
}

/**
 * Streams longer than this many offsets are not checked by default: the spec's fold and the
 * sink's `written` are values of the stream's length, built and compared at each step that
 * changes them, so a stream costs O(offsets^2). Measured (simulated 3-worker runs, every fault,
 * one process, quiet machine): 8,000 lines 139,040 steps in 3.1 s; 16,000 lines 277,150 steps in
 * 12.9 s; 32,000 lines 553,718 steps in 132 s. Such a stream is reported as not checked, never
 * passed.
 */
export const DEFAULT_MAX_OFFSETS = 16_000;

export interface RecoveryValidation {
  readonly instances: readonly InstanceValidation[];
  /** Streams not checked: longer than the limit. */
  readonly unchecked: readonly { readonly instance: string; readonly offsets: number }[];
  readonly maxOffsets: number;
  readonly steps: number;
  readonly violations: readonly TraceViolation[];
  /** Recovery records read. */
  readonly records: number;
  readonly elapsedMs: number;
}

/** Validates every (worker, stream) instance of a run's recovery records against Recovery. */
export async function validateRecovery(
  records: readonly ProtocolRecord[],
  opts: { readonly maxOffsets?: number } = {},
): Promise<RecoveryValidation> {
  const t0 = performance.now();
  const maxOffsets = opts.maxOffsets ?? DEFAULT_MAX_OFFSETS;
  const unchecked: { instance: string; offsets: number }[] = [];
  const instances: InstanceValidation[] = [];
  const violations: TraceViolation[] = [];
  let steps = 0;
  let count = 0;
  const workers = byWorker(records);
  if (workers.size === 0)
    return { instances, unchecked, maxOffsets, steps, violations, records: 0, elapsedMs: 0 };
  const expected = await guided();
  for (const [worker, recs] of workers) {
    count += recs.length;
    for (const stream of streamsOf(recs)) {
      const offsets = msgsOf(recs, stream);
      if (offsets > maxOffsets) {
        unchecked.push({ instance: `recovery ${worker} stream ${stream}`, offsets });
        continue;
      }
      // Twice: first for the constants (the crashes; a step costs O(1) here), then checked.
      const dry = mapRecovery(recs, stream, () => {});
      const constants = { Msgs: dry.msgs, MaxCrashes: dry.crashes };
      const cm = await recoveryModel(constants.Msgs, constants.MaxCrashes);
      const instance = `recovery ${worker} stream ${stream}`;
      const actions: Record<string, number> = {};
      const check = stateChecker(cm, instance, dry.msgs, actions, expected);
      mapRecovery(recs, stream, check.sink);
      const r = check.result();
      steps += r.steps;
      if (r.violation) violations.push(r.violation);
      instances.push({
        spec: 'Recovery',
        instance,
        records: recs.length,
        steps: r.steps,
        stutters: r.stutters,
        constants,
        actions,
        violation: r.violation,
      });
    }
  }
  return {
    instances,
    unchecked,
    maxOffsets,
    steps,
    violations,
    records: count,
    elapsedMs: performance.now() - t0,
  };
}

/** One line: instances, steps, actions, time. */
export function formatRecoverySummary(r: RecoveryValidation): string {
  const byAction: Record<string, number> = {};
  let stutters = 0;
  for (const i of r.instances) {
    stutters += i.stutters;
    for (const [k, n] of Object.entries(i.actions)) byAction[k] = (byAction[k] ?? 0) + n;
  }
  const acts = Object.entries(byAction)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return (
    `trace validation: Recovery: ${r.instances.length} instances, ${r.steps} steps (${stutters} stuttering; ${acts || 'no actions'}), ` +
    `${r.violations.length} violations, ${Math.round(r.elapsedMs)} ms` +
    (r.unchecked.length > 0
      ? `; NOT CHECKED: ${r.unchecked.map((u) => `${u.instance} (${u.offsets} offsets)`).join(', ')}: longer than ${r.maxOffsets} offsets (a step costs the stream's length)`
      : '')
  );
}
