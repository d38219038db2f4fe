// The worker engine: runs an application's topology on one worker.
//
// Data path: a source batch is decoded into a columnar Batch (values + id columns + birth
// times) and pushed synchronously through the operators: stateless steps turn arrays into
// arrays, a state step loops over its batch (local keys applied at once, keys owned by other
// workers grouped into one RemoteBatch per worker), sinks get one write per batch. The only
// promises are per batch: sink writes and remote sends that ask to wait are collected and the
// source's `emit` resolves when they have; that is the backpressure. A decoder or user function
// that throws sends that one message to the dead letters and the batch goes on.
//
// One file past 800 lines on purpose: the operators share the Core and the columnar Batch on
// the hot path, and splitting them would put a module boundary inside the per-message loops.
// Exactly-once's shell (store, outbox, sinks) lives in exactly-once.ts; this file only calls it
// per batch (admit, kick) and marks changed state entries. A state step's outputs for another
// state step on another worker go through chain.ts's outbox (sent once committed).
import type { AppNode, Application, FinishView, Key, SinkNode, SourceNode, StateNode } from '../api/app.ts';
import { excerpt } from '../api/app.ts';
import { createSink, createSource } from '../connectors/index.ts';
import type {
  Clock,
  ConnectorContext,
  DeadLetterSink,
  EngineMetrics,
  LatencyRecorder,
  Logger,
  MessageId,
  PartitionTable,
  RawPayload,
  RemoteBatch,
  RemoteOutlet,
  SinkConnector,
  SourceBatch,
  SourceConnector,
  SourcePosition,
  SourceRange,
} from '../types.ts';
import type { ExactlyOnceOptions, StepObserver, WorkerEngine, WorkerEngineOptions } from './types.ts';
import { createActor } from 'xstate';
import { workerLifecycleMachine } from '../../machines/worker-lifecycle.ts';
import type { WorkerLifecycleState } from '../../machines/worker-lifecycle.ts';
import { NO_MARK } from '../../machines/recovery-worker.ts';
import type { StreamRange } from '../../machines/recovery-worker.ts';
import { ExactlyOnce, statesReachedFrom } from './exactly-once.ts';
import type { EoSink, EoStateStep, StateEntry } from './exactly-once.ts';
import { ChainOutbox, chainedStates } from './chain.ts';
import { freezeState } from './frozen-state.ts';
import { childSub, formatMessageId } from './ids.ts';
import { hashKey, validatePartitionTable } from './partition.ts';
import { createTracer } from '../tracing/tracer.ts';
import type { Tracer } from '../tracing/tracer.ts';

/** Tracing only: the traced messages of a batch, sparse, so that untraced messages cost nothing
 * per message: `idx` ascending (positions in the batch), `hash[j]` the hash of the visit that
 * produced message `idx[j]` (never 0). */
export class TraceColumn {
  readonly idx: number[] = [];
  readonly hash: number[] = [];
  get length(): number {
    return this.idx.length;
  }
  add(i: number, h: number): void {
    this.idx.push(i);
    this.hash.push(h);
  }
  /** Per message of a batch of `n`, the hash (0: not traced): the form of `RemoteBatch.trace`. */
  dense(n: number): number[] {
    const col = new Array<number>(n).fill(0);
    for (let j = 0; j < this.idx.length; j++) col[this.idx[j]!] = this.hash[j]!;
    return col;
  }
  /** The column of a dense one, or null when it traces no message. */
  static fromDense(col: readonly number[]): TraceColumn | null {
    let out: TraceColumn | null = null;
    for (let i = 0; i < col.length; i++) if (col[i] !== 0) (out ??= new TraceColumn()).add(i, col[i]!);
    return out;
  }
}

/** Messages in flight through the operators, one array per field (index i = message i). */
export class Batch {
  constructor(
    readonly values: unknown[],
    readonly source: number[],
    readonly offset: number[],
    readonly sub: number[],
    readonly born: number[],
  ) {}
  /** Tracing only: the traced messages and the hashes of the visits that produced them; null
   * when no message of the batch is traced (runtime/tracing). */
  trace: TraceColumn | null = null;
  get length(): number {
    return this.values.length;
  }
}

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

interface Op {
  push(b: Batch): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Shared context of the operators of one engine. */
class Core {
  readonly pending: Promise<unknown>[] = [];
  ingested = 0;
  sunk = 0;
  remoteSent = 0;
  remoteReceived = 0;
  /** Set when tracing samples messages; with tracing off, null and one check per batch. */
  tracer: Tracer | null = null;
  /** Exactly-once (null: off). */
  eo: ExactlyOnce | null = null;
  /** Exactly-once with a state step fed by another (null: none): the outboxes between them. */
  chain: ChainOutbox | null = null;
  /** > 0 while a state step's outputs are pushed downstream (a chained state step then puts
   * messages for other workers into the chain outbox). */
  afterState = 0;
  /** Exactly-once, during a source batch: its messages with offset <= skipThrough were
   * applied here already (a replay): they are not applied to local state nor written to local
   * sinks, but still routed to the workers that own their keys. -Infinity: none. */
  skipThrough = -Infinity;

  constructor(
    readonly workerName: string,
    readonly clock: Clock,
    readonly log: Logger,
    readonly deadLetters: DeadLetterSink,
    readonly latency: LatencyRecorder | undefined,
  ) {}

  deadLetter(step: string, source: number, offset: number, sub: number, err: unknown, value: unknown): void {
    this.deadLetters.write({
      worker: this.workerName,
      step,
      messageId: formatMessageId(source, offset, sub),
      error: describeError(err),
      payloadExcerpt: excerpt(value),
      timeMs: this.clock.nowMs(),
    });
  }

  /** A promise for everything collected so far (or RESOLVED), clearing the collection. */
  settle(): Promise<void> {
    const n = this.pending.length;
    if (n === 0) return RESOLVED;
    const all = n === 1 ? this.pending[0]! : Promise.all(this.pending);
    this.pending.length = 0;
    return all.then(() => undefined);
  }
}

/** An edge between two steps seen by a StepObserver (metrics on): one call per batch. */
class ObservedOp implements Op {
  constructor(
    private readonly op: Op,
    private readonly from: number,
    private readonly to: number,
    private readonly observer: StepObserver,
  ) {}
  push(b: Batch): void {
    this.observer.enter(this.from, this.to, b.length, b.born);
    try {
      this.op.push(b);
    } finally {
      this.observer.exit(this.to);
    }
  }
}

function pushAll(next: readonly Op[], b: Batch): void {
  if (b.length === 0) return;
  for (let k = 0; k < next.length; k++) next[k]!.push(b);
}

/** Copies the messages whose `drop` flag is 0 (slow path after a failure). */
function compact(values: unknown[], b: Batch, drop: Uint8Array): Batch {
  const out = new Batch([], [], [], [], []);
  for (let i = 0; i < values.length; i++) {
    if (drop[i]) continue;
    out.values.push(values[i]);
    out.source.push(b.source[i]!);
    out.offset.push(b.offset[i]!);
    out.sub.push(b.sub[i]!);
    out.born.push(b.born[i]!);
  }
  return out;
}

/** Tracing: the traced entries of `tr` whose message is not dropped (`drop[i]`), their indexes
 * shifted to the batch without the dropped messages; null if none is left. */
function withoutDropped(tr: TraceColumn, drop: Uint8Array): TraceColumn | null {
  let out: TraceColumn | null = null;
  let dropped = 0;
  let d = 0;
  for (let j = 0; j < tr.idx.length; j++) {
    const i = tr.idx[j]!;
    while (d < i) dropped += drop[d++]!;
    if (drop[i] === 0) (out ??= new TraceColumn()).add(i - dropped, tr.hash[j]!);
  }
  return out;
}

/** Tracing: the visits of a batch at a map step, if it is traced (`drop[i]`: failed, ended there);
 * returns the outputs' trace column (null: none traced). */
function traceMap(tracer: Tracer, step: string, b: Batch, drop: Uint8Array | null): TraceColumn | null {
  const tr = b.trace;
  if (tr === null) return null;
  const out = new TraceColumn();
  for (let j = 0; j < tr.idx.length; j++) {
    const i = tr.idx[j]!;
    const gone = drop !== null && drop[i] === 1;
    out.add(i, tracer.visit(step, b.source[i]!, b.offset[i]!, b.sub[i]!, 0, tr.hash[j]!, gone));
  }
  return drop === null ? out : withoutDropped(out, drop);
}

/** Tracing: the source visits of the sampled messages of a new batch (null if none). A batch of
 * consecutive offsets (one source) is decided at once (1 in N: one hash per N offsets). */
function traceSource(tracer: Tracer, step: string, b: Batch): TraceColumn | null {
  const n = b.length;
  if (n === 0) return null;
  const first = b.offset[0]!;
  let col: TraceColumn | null = null;
  if (b.offset[n - 1]! - first === n - 1) {
    const hits = tracer.sampledRun(b.source[0]!, first, n);
    if (hits === null) return null;
    for (let j = 0; j < hits.length; j++) {
      const i = hits[j]!;
      (col ??= new TraceColumn()).add(
        i,
        tracer.visit(step, b.source[i]!, b.offset[i]!, b.sub[i]!, 0, 0, false),
      );
    }
    return col;
  }
  const sampled = tracer.sampled;
  for (let i = 0; i < n; i++) {
    if (!sampled(b.source[i]!, b.offset[i]!)) continue;
    (col ??= new TraceColumn()).add(
      i,
      tracer.visit(step, b.source[i]!, b.offset[i]!, b.sub[i]!, 0, 0, false),
    );
  }
  return col;
}

/** Tracing: the visits of a batch at a flatMap step, if it is traced (`results[i]`: message i's
 * outputs, null if it failed); returns the outputs' trace column (null: none traced). */
function traceFlatMap(
  tracer: Tracer,
  step: string,
  b: Batch,
  results: readonly (readonly unknown[] | null)[],
): TraceColumn | null {
  const tr = b.trace;
  if (tr === null) return null;
  let out: TraceColumn | null = null;
  // k: the index of message i's first output.
  let k = 0;
  let i = 0;
  for (let j = 0; j < tr.idx.length; j++) {
    const t = tr.idx[j]!;
    for (; i < t; i++) k += results[i]?.length ?? 0;
    const arr = results[t];
    const h = tracer.visit(
      step,
      b.source[t]!,
      b.offset[t]!,
      b.sub[t]!,
      0,
      tr.hash[j]!,
      !arr || arr.length === 0,
    );
    if (arr) for (let q = 0; q < arr.length; q++) (out ??= new TraceColumn()).add(k + q, h);
  }
  return out;
}

class MapOp implements Op {
  next: Op[] = [];
  constructor(
    private readonly core: Core,
    private readonly name: string,
    private readonly fn: (v: unknown) => unknown,
  ) {}
  push(b: Batch): void {
    const n = b.length;
    const inV = b.values;
    const out = new Array<unknown>(n);
    const fn = this.fn;
    // Tracing: on every batch when tracing is on, not only on traced ones (see FlatMapOp.push).
    const tracer = this.core.tracer;
    const name = this.name;
    let drop: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      try {
        out[i] = fn(inV[i]);
      } catch (err) {
        this.core.deadLetter(this.name, b.source[i]!, b.offset[i]!, b.sub[i]!, err, inV[i]);
        (drop ??= new Uint8Array(n))[i] = 1;
      }
    }
    const ob = drop ? compact(out, b, drop) : new Batch(out, b.source, b.offset, b.sub, b.born);
    if (tracer !== null) ob.trace = traceMap(tracer, name, b, drop);
    pushAll(this.next, ob);
  }
}

class FilterOp implements Op {
  next: Op[] = [];
  constructor(
    private readonly core: Core,
    private readonly name: string,
    private readonly fn: (v: unknown) => boolean,
  ) {}
  push(b: Batch): void {
    const n = b.length;
    const out = new Batch([], [], [], [], []);
    const fn = this.fn;
    // Tracing: the next traced message's index (-1: none left) and its entry in `tr`.
    const tr = b.trace;
    let nt = tr !== null ? tr.idx[0]! : -1;
    let tj = 0;
    for (let i = 0; i < n; i++) {
      const v = b.values[i];
      let keep: boolean;
      try {
        keep = fn(v);
      } catch (err) {
        this.core.deadLetter(this.name, b.source[i]!, b.offset[i]!, b.sub[i]!, err, v);
        keep = false;
      }
      if (i === nt) {
        this.traced(b, tr!, tj, out, !keep);
        nt = ++tj < tr!.idx.length ? tr!.idx[tj]! : -1;
      }
      if (!keep) continue;
      out.values.push(v);
      out.source.push(b.source[i]!);
      out.offset.push(b.offset[i]!);
      out.sub.push(b.sub[i]!);
      out.born.push(b.born[i]!);
    }
    pushAll(this.next, out);
  }

  /** Tracing: the visit of the traced message `tr.idx[j]` of `b`; kept, it is the next output. */
  private traced(b: Batch, tr: TraceColumn, j: number, out: Batch, ended: boolean): void {
    const i = tr.idx[j]!;
    const h = this.core.tracer!.visit(
      this.name,
      b.source[i]!,
      b.offset[i]!,
      b.sub[i]!,
      0,
      tr.hash[j]!,
      ended,
    );
    if (!ended) (out.trace ??= new TraceColumn()).add(out.values.length, h);
  }
}

/** The outputs of a flatMap that did not return an array. Array.from would turn a number or a
 * plain object into [] (the message silently gone) and a string into its characters. */
function iterableOutputs(step: string, r: unknown): unknown[] {
  const isIterable =
    typeof r === 'object' &&
    r !== null &&
    typeof (r as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
  if (!isIterable) {
    const what =
      r === null ? 'null' : typeof r === 'object' ? 'an object that is not iterable' : `a ${typeof r}`;
    throw new TypeError(
      `flatMap step "${step}" returned ${what}; it must return an array (or another iterable) of outputs, e.g. [value]`,
    );
  }
  return Array.from(r as Iterable<unknown>);
}

class FlatMapOp implements Op {
  next: Op[] = [];
  constructor(
    private readonly core: Core,
    private readonly name: string,
    private readonly fn: (v: unknown) => readonly unknown[] | Iterable<unknown>,
  ) {}
  push(b: Batch): void {
    const n = b.length;
    const fn = this.fn;
    // Tracing: read, and traceFlatMap called, on every batch when tracing is on, not only on
    // traced batches: code that only a traced batch reached had no type feedback in the loop's
    // optimized code, which was then deoptimized at every traced batch.
    const tracer = this.core.tracer;
    const name = this.name;
    // Pass 1: call the function; pass 2: copy into arrays of the exact size (no growth).
    const results = new Array<readonly unknown[] | null>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = b.values[i];
      let r: readonly unknown[] | Iterable<unknown>;
      try {
        r = fn(v);
        if (!Array.isArray(r)) r = iterableOutputs(this.name, r);
      } catch (err) {
        this.core.deadLetter(this.name, b.source[i]!, b.offset[i]!, b.sub[i]!, err, v);
        results[i] = null;
        continue;
      }
      results[i] = r as readonly unknown[];
      total += (r as readonly unknown[]).length;
    }
    const values = new Array<unknown>(total);
    const source = new Array<number>(total);
    const offset = new Array<number>(total);
    const sub = new Array<number>(total);
    const born = new Array<number>(total);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const arr = results[i];
      if (arr === null || arr === undefined) continue;
      const s = b.source[i]!;
      const o = b.offset[i]!;
      const u = b.sub[i]!;
      const t = b.born[i]!;
      for (let j = 0; j < arr.length; j++, k++) {
        values[k] = arr[j];
        source[k] = s;
        offset[k] = o;
        sub[k] = childSub(u, j);
        born[k] = t;
      }
    }
    const ob = new Batch(values, source, offset, sub, born);
    if (tracer !== null) ob.trace = traceFlatMap(tracer, name, b, results);
    pushAll(this.next, ob);
  }
}

/** A RemoteBatch being built (its optional fields set after the others). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface RemoteGroup {
  source: number[];
  offset: number[];
  sub: number[];
  bornMs: number[];
  partition: number[];
  payloads: RawPayload[];
  /** Tracing: the traced messages of the group and the hashes they arrived with (their
   * predecessors'); sent as the dense `RemoteBatch.trace`. */
  traced?: TraceColumn;
}

/** Tracing, a state step: the visits of traced messages noted during a batch's loop (one entry
 * per visit; `mark` -1: ended before reaching a partition). */
class VisitNotes {
  readonly s: number[] = [];
  readonly o: number[] = [];
  readonly u: number[] = [];
  readonly index: number[] = [];
  readonly pred: number[] = [];
  readonly mark: number[] = [];
  readonly end: number[] = [];
  readonly state: unknown[] = [];
  add(
    s: number,
    o: number,
    u: number,
    index: number,
    pred: number,
    mark: number,
    end: number,
    state: unknown,
  ): void {
    this.s.push(s);
    this.o.push(o);
    this.u.push(u);
    this.index.push(index);
    this.pred.push(pred);
    this.mark.push(mark);
    this.end.push(end);
    this.state.push(state);
  }
  clear(): void {
    this.s.length = this.o.length = this.u.length = this.index.length = 0;
    this.pred.length = this.mark.length = this.end.length = this.state.length = 0;
  }
}

/** The id of the message being applied, passed to `update` as its fifth argument. One object per
 * state step, overwritten per message: read its fields, never keep it. It is a class instance on
 * purpose, so a state that holds it is refused (StateShapeError) instead of being frozen. */
class CurrentMessageId implements MessageId {
  source = 0;
  offset = 0;
  sub = 0;
}

class StateOp implements Op, EoStateStep {
  next: Op[] = [];
  /** key -> state entry, for the keys of the partitions this worker owns. */
  readonly entries = new Map<Key, StateEntry>();
  /** Per partition: the state index, +1 per state change (a message whose update returned a
   * different state, emitted outputs, or created a key's state). */
  readonly stateIndex: Float64Array;
  /** Messages whose update returned normally (identity transitions included). */
  applied = 0;
  private readonly local: Uint8Array;
  private readonly owners: readonly string[];
  /** The distinct owners, and each partition's owner as an index into them. */
  private readonly workers: readonly string[];
  private readonly ownerIndex: Uint16Array;
  private readonly count: number;
  // Output of the message being applied (read by the emit closure).
  private oValues: unknown[] = [];
  private oSource: number[] = [];
  private oOffset: number[] = [];
  private oSub: number[] = [];
  private oBorn: number[] = [];
  /** Tracing: the traced outputs and the hashes of the visits that produced them (null: none). */
  private oTrace: TraceColumn | null = null;
  /** Tracing: the visits of the batch being applied, reported after its loop (null: none yet). */
  private notes: VisitNotes | null = null;
  /** Outputs so far in the o* arrays (which are preallocated to the input size). */
  private oCount = 0;
  private cSource = 0;
  private cOffset = 0;
  private cSub = 0;
  private cBorn = 0;
  private cIndex = 0;
  private readonly id = new CurrentMessageId();
  private readonly emit: (out: unknown) => void;
  /** Exactly-once: the entries changed since the last commit (null: off). */
  dirty: StateEntry[] | null = null;
  /** Messages for other workers, collected over one engine batch (flushRemote sends them). */
  private groups: (RemoteGroup | undefined)[] | null = null;
  /** Exactly-once, a step fed by another state step: the messages for other workers that came
   * from a state step's outputs, collected over one engine batch (flushChain hands them to the
   * chain outbox). False: they go with `groups`. */
  chainTarget = false;
  private chainGroups: (RemoteGroup | undefined)[] | null = null;

  constructor(
    private readonly core: Core,
    readonly node: StateNode,
    owners: readonly string[],
    private readonly remote: RemoteOutlet,
  ) {
    this.count = owners.length;
    this.owners = owners;
    this.workers = [...new Set(owners)];
    this.ownerIndex = new Uint16Array(this.count);
    for (let p = 0; p < this.count; p++) this.ownerIndex[p] = this.workers.indexOf(owners[p]!);
    this.stateIndex = new Float64Array(this.count);
    this.local = new Uint8Array(this.count);
    for (let p = 0; p < this.count; p++) this.local[p] = owners[p] === core.workerName ? 1 : 0;
    this.emit = (out: unknown): void => {
      const k = this.oCount++;
      this.oValues[k] = out;
      this.oSource[k] = this.cSource;
      this.oOffset[k] = this.cOffset;
      this.oSub[k] = childSub(this.cSub, this.cIndex++);
      this.oBorn[k] = this.cBorn;
    };
  }

  private beginOutput(capacity: number): void {
    this.oValues = new Array<unknown>(capacity);
    this.oSource = new Array<number>(capacity);
    this.oOffset = new Array<number>(capacity);
    this.oSub = new Array<number>(capacity);
    this.oBorn = new Array<number>(capacity);
    this.oCount = 0;
    this.oTrace = null;
    // Tracing: nothing noted survives a batch that threw before its visits were reported.
    if (this.notes !== null) this.notes.clear();
  }

  private endOutput(): void {
    const k = this.oCount;
    if (this.oValues.length !== k) {
      this.oValues.length = k;
      this.oSource.length = k;
      this.oOffset.length = k;
      this.oSub.length = k;
      this.oBorn.length = k;
    }
    const ob = new Batch(this.oValues, this.oSource, this.oOffset, this.oSub, this.oBorn);
    ob.trace = this.oTrace;
    if (ob.length === 0) return;
    this.core.afterState++;
    try {
      pushAll(this.next, ob);
    } finally {
      this.core.afterState--;
    }
  }

  /** Tracing: a traced message that went to the dead letters before reaching a partition. */
  private endedHere(s: number, o: number, u: number, predecessor: number): void {
    this.traceNotes().add(s, o, u, 0, predecessor, -1, -1, undefined);
  }

  /** Tracing: notes the visit of a traced message applied here (its partition's state index
   * after it, and its outputs: from `mark` to the outputs so far); reportVisits reports the
   * batch's visits once its loop is done, so the loop itself holds no hashing or reporting. */
  private traced(
    s: number,
    o: number,
    u: number,
    p: number,
    predecessor: number,
    mark: number,
    key: Key,
  ): void {
    const state = this.core.tracer!.withState ? this.entries.get(key)?.s : undefined;
    this.traceNotes().add(s, o, u, this.stateIndex[p]!, predecessor, mark, this.oCount, state);
  }

  private traceNotes(): VisitNotes {
    return (this.notes ??= new VisitNotes());
  }

  /** Tracing: reports the visits noted during a batch and marks each one's outputs with its
   * hash. */
  private reportVisits(): void {
    const v = this.notes;
    if (v === null || v.s.length === 0) return;
    const tracer = this.core.tracer!;
    for (let j = 0; j < v.s.length; j++) {
      const mark = v.mark[j]!;
      const end = v.end[j]!;
      const state = tracer.withState && mark >= 0 ? excerpt(v.state[j]) : undefined;
      const h = tracer.visit(
        this.node.name,
        v.s[j]!,
        v.o[j]!,
        v.u[j]!,
        v.index[j]!,
        v.pred[j]!,
        end === mark,
        state,
      );
      if (end === mark) continue;
      const ot = (this.oTrace ??= new TraceColumn());
      for (let k = mark; k < end; k++) ot.add(k, h);
    }
    v.clear();
  }

  private setCurrent(s: number, o: number, u: number, t: number): void {
    this.cSource = s;
    this.cOffset = o;
    this.cSub = u;
    this.cBorn = t;
    this.cIndex = 0;
    const id = this.id;
    id.source = s;
    id.offset = o;
    id.sub = u;
  }

  /** Applies one message to an existing key's state. The update returns the next state; it is
   * committed only if the update returns normally (the committed state is frozen, so an update
   * cannot change it in place). Returning the same state and emitting nothing is the identity
   * transition: the state index stays. */
  private apply(e: StateEntry, key: Key, v: unknown, s: number, o: number, u: number, t: number): void {
    this.setCurrent(s, o, u, t);
    const mark = this.oCount;
    const before = e.s;
    let next: unknown;
    try {
      next = this.node.update(before, v, this.emit, key, this.id);
      if (!Object.is(next, before)) next = this.committable(next, 'update');
    } catch (err) {
      this.failed(mark, s, o, u, err, v);
      return;
    }
    this.applied++;
    if (Object.is(next, before) && this.oCount === mark) return;
    e.s = next;
    this.stateIndex[e.p]!++;
  }

  /** Exactly-once: `e` goes into the next commit (kept out of apply, which stays small enough
   * for V8 to inline into the batch loops). An entry that did not change is written again. */
  private markDirty(e: StateEntry): void {
    if (e.d === 0) {
      e.d = 1;
      this.dirty!.push(e);
    }
  }

  /** Applies the first message of a key (of partition `p`, owned here): init, then update; the
   * key's state exists only if both succeed. Creating the key's state is a transition. */
  private applyNew(p: number, key: Key, v: unknown, s: number, o: number, u: number, t: number): void {
    this.setCurrent(s, o, u, t);
    const mark = this.oCount;
    let st: unknown;
    try {
      const first = this.committable(this.node.init(key), 'init');
      st = this.node.update(first, v, this.emit, key, this.id);
      if (!Object.is(st, first)) st = this.committable(st, 'update');
    } catch (err) {
      this.failed(mark, s, o, u, err, v);
      return;
    }
    const e: StateEntry = { s: st, p, k: key, d: 0 };
    this.entries.set(key, e);
    this.stateIndex[p]!++;
    this.applied++;
    if (this.dirty !== null) {
      e.d = 1;
      this.dirty.push(e);
    }
  }

  get partitionCount(): number {
    return this.count;
  }

  owns(p: number): boolean {
    return this.local[p] === 1;
  }

  takeDirty(): StateEntry[] {
    const d = this.dirty ?? [];
    this.dirty = [];
    return d;
  }

  load(key: Key, p: number, state: unknown): void {
    this.entries.set(key, { s: state, p, k: key, d: 0 });
  }

  /** A state about to be committed: not undefined, and frozen (see `freezeState`). */
  private committable(state: unknown, fn: 'init' | 'update'): unknown {
    if (state === undefined) {
      throw new TypeError(
        fn === 'init'
          ? `init of state step "${this.node.name}" returned undefined; return the state of a new key`
          : `update of state step "${this.node.name}" returned undefined; return the next state (the state it was given when nothing changes)`,
      );
    }
    return freezeState(state, this.node.name);
  }

  /** Outputs emitted before the throw are withdrawn; the message goes to the dead letters. The
   * key's state is untouched: the update's result was not committed, and the committed state is
   * frozen, so changing it in place threw. */
  private failed(mark: number, s: number, o: number, u: number, err: unknown, v: unknown): void {
    this.oCount = mark;
    this.core.deadLetter(this.node.name, s, o, u, err, v);
  }

  push(b: Batch): void {
    const n = b.length;
    const node = this.node;
    const keyFn = node.key;
    const count = this.count;
    const entries = this.entries;
    const skip = this.core.skipThrough;
    const dirtyOn = this.dirty !== null;
    const viaChain = this.chainTarget && this.core.afterState > 0;
    const tr = b.trace;
    // Tracing: the next traced message's index (-1: none left) and its entry in `tr`.
    let nt = tr !== null ? tr.idx[0]! : -1;
    let tj = 0;
    this.beginOutput(n);
    for (let i = 0; i < n; i++) {
      const v = b.values[i];
      // Tracing: this message's entry in `tr` (-1: not traced); an index, so that the loop
      // holds no hash (a double) per message.
      let tk = -1;
      if (i === nt) {
        tk = tj;
        nt = ++tj < tr!.idx.length ? tr!.idx[tj]! : -1;
      }
      let key: Key;
      try {
        key = keyFn(v);
        if (typeof key !== 'string' && !(typeof key === 'number' && Number.isFinite(key))) {
          throw new TypeError(
            `key function returned ${typeof key === 'number' ? key : typeof key}; expected a string or a finite number`,
          );
        }
      } catch (err) {
        this.core.deadLetter(`${node.name} (key)`, b.source[i]!, b.offset[i]!, b.sub[i]!, err, v);
        if (tk >= 0) this.endedHere(b.source[i]!, b.offset[i]!, b.sub[i]!, tr!.hash[tk]!);
        continue;
      }
      const e = entries.get(key);
      const mark = this.oCount;
      if (e !== undefined) {
        if (b.offset[i]! <= skip) continue;
        this.apply(e, key, v, b.source[i]!, b.offset[i]!, b.sub[i]!, b.born[i]!);
        if (dirtyOn) this.markDirty(e);
        if (tk >= 0) this.traced(b.source[i]!, b.offset[i]!, b.sub[i]!, e.p, tr!.hash[tk]!, mark, key);
        continue;
      }
      const p = hashKey(key) % count;
      if (this.local[p] === 1) {
        if (b.offset[i]! <= skip) continue;
        this.applyNew(p, key, v, b.source[i]!, b.offset[i]!, b.sub[i]!, b.born[i]!);
        if (tk >= 0) this.traced(b.source[i]!, b.offset[i]!, b.sub[i]!, p, tr!.hash[tk]!, mark, key);
        continue;
      }
      let payload: RawPayload;
      try {
        payload = node.codec.encode(v);
      } catch (err) {
        this.core.deadLetter(`${node.name} (encode)`, b.source[i]!, b.offset[i]!, b.sub[i]!, err, v);
        if (tk >= 0) this.endedHere(b.source[i]!, b.offset[i]!, b.sub[i]!, tr!.hash[tk]!);
        continue;
      }
      const w = this.ownerIndex[p]!;
      const groups = viaChain
        ? (this.chainGroups ??= new Array<RemoteGroup | undefined>(this.workers.length))
        : (this.groups ??= new Array<RemoteGroup | undefined>(this.workers.length));
      let g = groups[w];
      if (g === undefined) {
        groups[w] = g = { source: [], offset: [], sub: [], bornMs: [], partition: [], payloads: [] };
      }
      g.source.push(b.source[i]!);
      g.offset.push(b.offset[i]!);
      g.sub.push(b.sub[i]!);
      g.bornMs.push(b.born[i]!);
      g.partition.push(p);
      g.payloads.push(payload);
      if (tk >= 0) (g.traced ??= new TraceColumn()).add(g.source.length - 1, tr!.hash[tk]!);
    }
    // Tracing: called on every batch, traced or not (see FlatMapOp.push).
    this.reportVisits();
    this.endOutput();
  }

  /** Sends the messages collected for other workers during this engine batch, one batch per
   * worker. With `ranges` (exactly-once, a source batch) every other worker that owns a
   * partition gets one, empty or not: it carries the range its watermarks advance by. */
  flushRemote(ranges: readonly SourceRange[] | null): void {
    const groups = this.groups;
    if (groups === null && ranges === null) return;
    this.groups = null;
    const me = this.core.workerName;
    for (let w = 0; w < this.workers.length; w++) {
      const g = groups?.[w];
      if (g === undefined && (ranges === null || this.workers[w] === me)) continue;
      // Field by field, in RemoteBatch's order (a rest destructuring and spreads of the group
      // were most of this function's time in the simulator, which sends one per source batch).
      const batch: Mutable<RemoteBatch> = {
        step: this.node.name,
        fromWorker: me,
        source: g ? g.source : [],
        offset: g ? g.offset : [],
        sub: g ? g.sub : [],
        bornMs: g ? g.bornMs : [],
        partition: g ? g.partition : [],
        payloads: g ? g.payloads : [],
      };
      if (g?.traced !== undefined) batch.trace = g.traced.dense(g.payloads.length);
      if (ranges !== null) batch.ranges = ranges;
      this.core.remoteSent += batch.payloads.length;
      const r = this.remote.send(this.workers[w]!, batch);
      if (r) this.core.pending.push(r);
    }
  }

  /** Exactly-once: the messages collected for other workers from state steps' outputs go into
   * the chain outbox (sent once the commit that holds them is durable). */
  flushChain(): void {
    const groups = this.chainGroups;
    if (groups === null) return;
    this.chainGroups = null;
    for (let w = 0; w < this.workers.length; w++) {
      const g = groups[w];
      if (g === undefined) continue;
      const { traced, ...cols } = g;
      this.core.remoteSent += cols.payloads.length;
      this.core.chain!.add(this.node.id, this.workers[w]!, {
        ...cols,
        ...(traced !== undefined ? { trace: traced.dense(cols.payloads.length) } : {}),
      });
    }
  }

  /** Applies a batch that another worker routed here. With exactly-once, `above[i]` (per range
   * of the batch, by source) is the watermark its messages must exceed (null: dropped whole). */
  pushRemote(rb: RemoteBatch, floors: ReadonlyMap<number, number> | null = null): void {
    const node = this.node;
    const n = rb.payloads.length;
    const tr = rb.trace ?? null;
    if (tr !== null && this.core.tracer === null) {
      throw new EngineError(
        `worker "${this.core.workerName}" got traced messages from "${rb.fromWorker}" but does not trace; start every worker with the same tracing`,
      );
    }
    this.beginOutput(n);
    for (let i = 0; i < n; i++) {
      const p = rb.partition[i]!;
      if (!(p >= 0 && p < this.count && this.local[p] === 1)) {
        throw new EngineError(
          `worker "${this.core.workerName}" got a message for step "${node.name}" partition ${p} from worker "${rb.fromWorker}", but ${
            p >= 0 && p < this.count
              ? `partition ${p} belongs to "${this.owners[p]}"`
              : `there are ${this.count} partitions`
          }; the workers disagree on the partition table`,
        );
      }
      const s = rb.source[i]!;
      const o = rb.offset[i]!;
      const u = rb.sub[i]!;
      if (floors !== null) {
        const f = floors.get(s);
        if (f === undefined)
          throw new EngineError(
            `worker "${this.core.workerName}" got a message of source ${s} from "${rb.fromWorker}" in a batch whose ranges do not name that source; the sender is broken`,
          );
        if (o <= f) continue;
      }
      let v: unknown;
      let key: Key;
      try {
        v = node.codec.decode(rb.payloads[i]!);
      } catch (err) {
        this.core.deadLetter(`${node.name} (decode)`, s, o, u, err, rb.payloads[i]);
        if (tr !== null && tr[i] !== 0) this.endedHere(s, o, u, tr[i]!);
        continue;
      }
      try {
        key = node.key(v);
      } catch (err) {
        this.core.deadLetter(`${node.name} (key)`, s, o, u, err, v);
        if (tr !== null && tr[i] !== 0) this.endedHere(s, o, u, tr[i]!);
        continue;
      }
      const e = this.entries.get(key);
      const mark = this.oCount;
      if (e !== undefined) {
        this.apply(e, key, v, s, o, u, rb.bornMs[i]!);
        if (this.dirty !== null) this.markDirty(e);
        if (tr !== null && tr[i] !== 0) this.traced(s, o, u, e.p, tr[i]!, mark, key);
        continue;
      }
      if (hashKey(key) % this.count !== p) {
        throw new EngineError(
          `worker "${this.core.workerName}", step "${node.name}": worker "${rb.fromWorker}" routed key ${JSON.stringify(key)} to partition ${p}, but it hashes to ${hashKey(key) % this.count}; do the workers run the same app version?`,
        );
      }
      this.applyNew(p, key, v, s, o, u, rb.bornMs[i]!);
      if (tr !== null && tr[i] !== 0) this.traced(s, o, u, p, tr[i]!, mark, key);
    }
    // Tracing: called on every batch, traced or not (see FlatMapOp.push).
    this.reportVisits();
    this.endOutput();
  }

  *stateEntries(): Iterable<readonly [Key, unknown]> {
    for (const [k, e] of this.entries) yield [k, e.s] as const;
  }
}

class SinkOp implements Op {
  connector: SinkConnector | null = null;
  private wantsPayloads = true;
  /** Exactly-once: this sink's index among the outbox sinks (-1: written at once). */
  eoIndex = -1;
  constructor(
    private readonly core: Core,
    readonly node: SinkNode,
  ) {}
  open(connector: SinkConnector): void {
    this.connector = connector;
    this.wantsPayloads = connector.wantsPayloads !== false;
  }
  push(b: Batch): void {
    const c = this.connector;
    if (!c) throw new EngineError(`sink "${this.node.name}" got messages before the engine started`);
    const skip = this.core.skipThrough;
    if (skip !== -Infinity) {
      // A replayed source batch: what was written here already is not written again.
      let k = 0;
      while (k < b.length && b.offset[k]! > skip) k++;
      if (k < b.length) {
        const drop = new Uint8Array(b.length);
        for (let i = 0; i < b.length; i++) if (b.offset[i]! <= skip) drop[i] = 1;
        const t = b.trace;
        b = compact(b.values, b, drop);
        if (t !== null) b.trace = withoutDropped(t, drop);
      }
      if (b.length === 0) return;
    }
    const n = b.length;
    let payloads: RawPayload[] = [];
    const arrived = b;
    let drop: Uint8Array | null = null;
    if (this.wantsPayloads) {
      const enc = this.node.encode;
      payloads = new Array<RawPayload>(n);
      for (let i = 0; i < n; i++) {
        try {
          payloads[i] = enc(b.values[i]);
        } catch (err) {
          this.core.deadLetter(
            `${this.node.name} (encode)`,
            b.source[i]!,
            b.offset[i]!,
            b.sub[i]!,
            err,
            b.values[i],
          );
          (drop ??= new Uint8Array(n))[i] = 1;
        }
      }
      if (drop) {
        const kept = compact(payloads, b, drop);
        payloads = kept.values as RawPayload[];
        b = kept;
      }
    }
    if (arrived.trace !== null) {
      // Visits of the batch as it arrived; a message whose encoding failed ended here.
      const tracer = this.core.tracer!;
      const a = arrived;
      const tr = a.trace!;
      for (let j = 0; j < tr.idx.length; j++) {
        const i = tr.idx[j]!;
        tracer.visit(this.node.name, a.source[i]!, a.offset[i]!, a.sub[i]!, 0, tr.hash[j]!, drop?.[i] === 1);
      }
    }
    const lat = this.core.latency;
    if (lat) {
      const now = this.core.clock.nowMs();
      const born = b.born;
      const m = b.length;
      if (lat.recordUsWithCount) {
        // Runs of equal birth times (one source batch) are recorded at once.
        for (let i = 0; i < m;) {
          const t = born[i]!;
          let j = i + 1;
          while (j < m && born[j] === t) j++;
          lat.recordUsWithCount((now - t) * 1000, j - i);
          i = j;
        }
      } else {
        for (let i = 0; i < m; i++) lat.recordUs((now - born[i]!) * 1000);
      }
    }
    this.core.sunk += b.length;
    if (this.eoIndex >= 0) {
      this.core.eo!.addOutputs(this.eoIndex, payloads);
      return;
    }
    const r = c.write({ payloads, count: b.length, ids: { source: b.source, offset: b.offset, sub: b.sub } });
    if (r) this.core.pending.push(r);
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection reaches deliverRemote's callers; it must never count as unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface RunningSource {
  node: SourceNode;
  connector: SourceConnector;
  next: Op[];
  done: Promise<void>;
  /** The last offset this source emitted (-1 before the first). */
  lastOffset: number;
  /** True once `done` has settled (a rewind then runs the source again). */
  finished: boolean;
  /** Exactly-once: the committed point, then the end of each batch read since, in order
   * (offset of its last message, where reading resumes after it); bounded by waiting. */
  history: { offset: number; position: number }[];
  /** Exactly-once: emits waiting for the history to shrink. */
  historyWaiters: (() => void)[];
  /** The state steps this source's messages reach through stateless steps (their batches to
   * other workers carry its range). */
  reached: ReadonlySet<string>;
}

/** Batch ends a source keeps since its committed offset; beyond, its emit waits for a commit. */
const MAX_SOURCE_HISTORY = 1 << 16;

/** Offsets of a source must be integers that increase strictly: they are the message ids. */
function checkOffsets(rs: RunningSource, sb: SourceBatch): void {
  const n = sb.payloads.length;
  if (n === 0) return;
  const where = `source "${rs.node.name}" (${rs.connector.uri})`;
  if (sb.receivedMs !== undefined && sb.receivedMs.length !== n)
    throw new EngineError(
      `${where} emitted ${n} payloads with ${sb.receivedMs.length} receipt times (receivedMs)`,
    );
  if (sb.offsets) {
    if (sb.offsets.length !== n) {
      throw new EngineError(`${where} emitted ${n} payloads with ${sb.offsets.length} offsets`);
    }
    let prev = rs.lastOffset;
    for (let i = 0; i < n; i++) {
      const o = sb.offsets[i]!;
      if (!(Number.isSafeInteger(o) && o > prev)) {
        throw new EngineError(
          `${where}: offset ${o} of message ${i} does not follow ${prev}; offsets must increase`,
        );
      }
      prev = o;
    }
    rs.lastOffset = prev;
  } else {
    const f = sb.firstOffset;
    if (!(Number.isSafeInteger(f) && f > rs.lastOffset && Number.isSafeInteger(f + n - 1))) {
      throw new EngineError(
        `${where}: batch offset ${f} does not follow ${rs.lastOffset}; offsets must increase`,
      );
    }
    rs.lastOffset = f + n - 1;
  }
}

class Engine implements WorkerEngine {
  readonly workerName: string;
  private readonly core: Core;
  private readonly app: Application;
  private readonly ops: (Op | null)[];
  private readonly statesByName = new Map<string, StateOp>();
  private readonly sinkOps: SinkOp[] = [];
  private readonly sources: RunningSource[] = [];
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  private readonly runSources: boolean;
  private started = false;
  private stopping: Promise<void> | null = null;
  private sourcesStopping: Promise<unknown[]> | null = null;
  private startMs = 0;
  private failure: Error | null = null;
  private sinksOpen = false;
  /** True while a batch is being pushed through the operators (they are not reentrant). */
  private pushing = false;
  /** Set once stop() has drained and begins closing the sinks. */
  private closing = false;
  private readonly opened = deferred();
  private announceFailure: (err: Error) => void = () => undefined;
  private readonly failed = new Promise<Error>((resolve) => (this.announceFailure = resolve));
  /** The lifecycle (machines/worker-lifecycle.ts): starting ... running, stopping, stopped. */
  private readonly lifecycle = createActor(workerLifecycleMachine).start();
  /** Exactly-once options, when on (a store and the app allows it). */
  private readonly eoOptions: ExactlyOnceOptions | null;
  private readonly table: PartitionTable;

  constructor(private readonly opts: WorkerEngineOptions) {
    const { app, workerName, clock, log, deadLetters } = opts;
    if (!workerName) throw new EngineError('createWorkerEngine: workerName must be a non-empty string');
    const table = validatePartitionTable(opts.partitions);
    if (table.partitionCount !== app.partitionCount) {
      throw new EngineError(
        `app "${app.name}" declares ${app.partitionCount} partitions but the partition table has ${table.partitionCount}`,
      );
    }
    this.app = app;
    this.workerName = workerName;
    this.table = table;
    this.runSources = opts.runSources !== false;
    if (opts.exactlyOnce && app.exactlyOnce === false) {
      log.info(
        `app "${app.name}" says exactlyOnce: false: at-least-once, the store is not used (a crash may apply messages twice)`,
      );
    }
    this.eoOptions = opts.exactlyOnce && app.exactlyOnce !== false ? opts.exactlyOnce : null;
    this.core = new Core(workerName, clock, log, deadLetters, opts.latency);
    const core = this.core;
    core.tracer = createTracer(workerName, opts.tracing);
    this.ops = app.nodes.map((n: AppNode): Op | null => {
      switch (n.kind) {
        case 'source':
          return null;
        case 'map':
          return new MapOp(core, n.name, n.fn);
        case 'filter':
          return new FilterOp(core, n.name, n.fn);
        case 'flatMap':
          return new FlatMapOp(core, n.name, n.fn);
        case 'state': {
          const op = new StateOp(core, n, table.owners, opts.remote);
          this.statesByName.set(n.name, op);
          return op;
        }
        case 'sink': {
          const op = new SinkOp(core, n);
          this.sinkOps.push(op);
          return op;
        }
      }
    });
    for (const n of app.nodes) {
      const op = this.ops[n.id];
      if (op && 'next' in op) (op as { next: Op[] }).next = n.next.map((id) => this.edge(n.id, id));
    }
  }

  /** The operator a batch from step `from` enters at step `to` (observed when metrics are on). */
  private edge(from: number, to: number): Op {
    const op = this.ops[to]!;
    const observer = this.opts.observer;
    return observer ? new ObservedOp(op, from, to, observer) : op;
  }

  private connectorContext(): ConnectorContext {
    return { workerName: this.workerName, clock: this.opts.clock, log: this.opts.log };
  }

  private track(p: Promise<void>): Promise<void> {
    if (p === RESOLVED) return p;
    const t = p.catch((err: unknown) => {
      this.fail(err);
      throw err;
    });
    const tracked = t.finally(() => this.inflight.delete(tracked));
    tracked.catch(() => undefined);
    this.inflight.add(tracked);
    return t;
  }

  private fail(err: unknown): void {
    if (!this.failure) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.abort.abort();
      this.core.chain?.close();
      this.lifecycle.send({ type: 'Fail', reason: this.failure.message });
      this.announceFailure(this.failure);
    }
  }

  /** The lifecycle state (machines/worker-lifecycle.ts). */
  phase(): WorkerLifecycleState {
    return this.lifecycle.getSnapshot().value as WorkerLifecycleState;
  }

  /** Exactly-once: the machine's numbers (tests), or null when off. */
  exactlyOnceSnapshot(): ReturnType<ExactlyOnce['snapshot']> | null {
    return this.core.eo?.snapshot() ?? null;
  }

  /** Resolves with the engine's first failure (a sink or source that failed, an operator that
   * threw outside a user function): from then on it refuses input and stop() rejects with it. */
  whenFailed(): Promise<Error> {
    return this.failed;
  }

  private ingest(rs: RunningSource, sb: SourceBatch): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const from = rs.lastOffset;
    try {
      checkOffsets(rs, sb);
    } catch (err) {
      this.fail(err);
      return Promise.reject(err);
    }
    const node = rs.node;
    const n = sb.payloads.length;
    const eo = this.core.eo;
    let ranges: SourceRange[] | null = null;
    if (eo !== null) {
      if (n === 0) return RESOLVED;
      const range = { source: node.sourceId, from, through: rs.lastOffset };
      ranges = [range];
      let above: number | null;
      try {
        [above] = eo.admit([{ stream: eo.stream(node.sourceId, null), from, through: range.through }]);
      } catch (err) {
        this.fail(err);
        return Promise.reject(err);
      }
      this.core.skipThrough = above === null ? Infinity : above > from ? above : -Infinity;
      rs.history.push({ offset: range.through, position: sb.endPosition ?? 0 });
    }
    const values = new Array<unknown>(n);
    const offset = new Array<number>(n);
    const first = sb.firstOffset;
    const offs = sb.offsets;
    const decode = node.decode;
    const core = this.core;
    let drop: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      const o = offs ? offs[i]! : first + i;
      offset[i] = o;
      try {
        values[i] = decode(sb.payloads[i]!);
      } catch (err) {
        core.deadLetter(`${node.name} (decode)`, node.sourceId, o, 0, err, sb.payloads[i]);
        (drop ??= new Uint8Array(n))[i] = 1;
      }
    }
    // Born when the source received them (a source that buffers says when; checkOffsets checked
    // there is one time per payload), else now.
    const born =
      sb.receivedMs !== undefined
        ? Array.from(sb.receivedMs)
        : new Array<number>(n).fill(this.opts.clock.nowMs());
    let b = new Batch(
      values,
      new Array<number>(n).fill(node.sourceId),
      offset,
      new Array<number>(n).fill(0),
      born,
    );
    if (drop) b = compact(values, b, drop);
    if (core.tracer !== null) b.trace = traceSource(core.tracer, node.name, b);
    core.ingested += n;
    this.pushing = true;
    try {
      pushAll(rs.next, b);
      for (const op of this.statesByName.values()) {
        op.flushRemote(ranges !== null && rs.reached.has(op.node.name) ? ranges : null);
        if (core.chain !== null) op.flushChain();
      }
    } catch (err) {
      this.fail(err);
      core.pending.length = 0;
      return Promise.reject(err);
    } finally {
      this.pushing = false;
      core.skipThrough = -Infinity;
    }
    if (eo === null) return this.track(core.settle());
    eo.kick();
    const waits: Promise<void>[] = [core.settle()];
    if (eo.backlogged()) waits.push(eo.room());
    if (core.chain?.backlogged()) waits.push(core.chain.room());
    if (rs.history.length >= MAX_SOURCE_HISTORY)
      waits.push(new Promise<void>((res) => rs.historyWaiters.push(res)));
    return this.track(waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => undefined));
  }

  async start(): Promise<void> {
    if (this.started) throw new EngineError(`worker "${this.workerName}": start() called twice`);
    this.started = true;
    this.startMs = this.opts.clock.monotonicMs();
    const eoOpts = this.eoOptions;
    const ctx = eoOpts ? { ...this.connectorContext(), exactlyOnce: true } : this.connectorContext();
    this.lifecycle.send({ type: 'Recover' });
    let committed = new Map<number, { committed: number; offset: number; position: number }>();
    try {
      for (const s of this.sinkOps) s.open(createSink(s.node.uri, ctx));
      if (eoOpts) committed = await this.recover(eoOpts);
    } catch (err) {
      this.fail(err);
      this.opened.reject(err);
      throw err;
    }
    this.lifecycle.send({ type: 'Replay' });
    this.core.eo?.replay();
    this.core.chain?.replay();
    this.sinksOpen = true;
    this.opened.resolve();
    this.lifecycle.send({ type: 'Run' });
    if (!this.runSources) return;
    for (const node of this.app.sources) {
      const connector = createSource(node.uri, ctx);
      const c = committed.get(node.sourceId);
      const rs: RunningSource = {
        node,
        connector,
        next: node.next.map((id) => this.edge(node.id, id)),
        done: RESOLVED,
        // -1 even after a restart: the first range then claims (-1, through], which every
        // watermark (all >= the committed offset) turns into "above the mark"; a source that
        // ignores `resume` (memory:) replays from its start and its batches are duplicates.
        lastOffset: -1,
        finished: false,
        history: [{ offset: c ? c.committed : NO_MARK, position: c ? c.position : 0 }],
        historyWaiters: [],
        reached: new Set(statesReachedFrom(this.app, node.id).map((st) => st.name)),
      };
      this.sources.push(rs);
    }
    for (const rs of this.sources) {
      const h = rs.history[0]!;
      this.runSource(rs, eoOpts ? { offset: h.offset + 1, position: h.position } : undefined);
      // What the store says is committed is durable everywhere downstream: the connector hears
      // it now, not only at the next advance (a source worker restarted after its last commit,
      // e.g. a TCP source whose sender waits for the last acknowledgement, would never hear it).
      if (eoOpts && h.offset !== NO_MARK) rs.connector.commit?.(h.offset);
    }
  }

  private runSource(rs: RunningSource, resume: SourcePosition | undefined): void {
    rs.finished = false;
    rs.done = rs.connector.run({
      sourceName: rs.node.name,
      workerName: this.workerName,
      clock: this.opts.clock,
      log: this.opts.log,
      signal: this.abort.signal,
      emit: (batch) => this.ingest(rs, batch),
      ...(resume ? { resume } : {}),
    });
    rs.done.then(
      () => (rs.finished = true),
      (err: unknown) => {
        rs.finished = true;
        this.fail(err);
      },
    );
  }

  /** Exactly-once at start: the store's states, marks, outbox and sink progress; the file
   * sinks cut back to their recorded length. Returns the sources' committed points. */
  private async recover(eoOpts: ExactlyOnceOptions) {
    const steps = [...this.statesByName.values()];
    for (const op of steps) op.dirty = [];
    const sinks: EoSink[] = [];
    for (const s of this.sinkOps) {
      if (!s.connector?.resumable) continue;
      s.eoIndex = sinks.length;
      sinks.push({ name: s.node.name, connector: s.connector });
    }
    let chain: ChainOutbox | null = null;
    let options = eoOpts;
    const chained = chainedStates(this.app);
    if (chained.length > 0) {
      const sources = this.app.sources.length;
      chain = new ChainOutbox({
        app: this.app,
        workerName: this.workerName,
        workers: [...new Set(this.table.owners)],
        // The streams of exactly-once.ts are source * stride + (0 or state node id + 1).
        streamBase: sources * (this.app.nodes.length + 1),
        clock: this.opts.clock,
        log: this.opts.log,
        remote: this.opts.remote,
        onDurable: (marks) => eoOpts.onDurable(marks),
      });
      for (const st of chained) this.statesByName.get(st.name)!.chainTarget = true;
      // The sources' durable marks are reported once the outbox entries of their commit are
      // acknowledged (end to end); a gap on a chain stream is left to the upstream's resend.
      options = {
        ...eoOpts,
        onDurable: (marks) => chain!.durable(marks),
        onGap: (source, offset) => {
          if (source < sources) eoOpts.onGap(source, offset);
        },
      };
      this.core.chain = chain;
    }
    const eo = new ExactlyOnce(options, {
      app: this.app,
      workerName: this.workerName,
      clock: this.opts.clock,
      runSources: this.runSources,
      ownsPartitions: this.table.owners.includes(this.workerName),
      steps,
      sinks,
      fail: (err) => this.fail(err),
      ...(chain !== null ? { chain } : {}),
    });
    this.core.eo = eo;
    return eo.recover();
  }

  rewindSources(to: Readonly<Record<number, number>>): void {
    if (this.core.eo === null)
      throw new EngineError(`worker "${this.workerName}": rewindSources without exactly-once`);
    for (const [k, offset] of Object.entries(to)) {
      const rs = this.sources.find((r) => r.node.sourceId === Number(k));
      if (!rs) throw new EngineError(`worker "${this.workerName}" runs no source ${k}; it cannot rewind it`);
      if (!rs.connector.rewind && !rs.finished)
        throw new EngineError(
          `source "${rs.node.name}" (${rs.connector.uri}) cannot be rewound to offset ${offset}: its connector has no rewind`,
        );
      // The latest batch end kept at or before offset - 1 (the committed point at worst).
      let i = rs.history.length - 1;
      while (i > 0 && rs.history[i]!.offset > offset - 1) i--;
      const h = rs.history[i]!;
      rs.history.length = i + 1;
      rs.lastOffset = h.offset;
      const at = { offset: h.offset + 1, position: h.position };
      if (rs.finished) this.runSource(rs, at);
      else rs.connector.rewind!(at);
    }
  }

  commitSources(committed: Readonly<Record<number, number>>): void {
    const eo = this.core.eo;
    if (eo === null) throw new EngineError(`worker "${this.workerName}": commitSources without exactly-once`);
    for (const [k, offset] of Object.entries(committed)) {
      const rs = this.sources.find((r) => r.node.sourceId === Number(k));
      if (!rs) continue;
      const hist = rs.history;
      if (offset <= hist[0]!.offset) continue;
      let i = 0;
      while (i + 1 < hist.length && hist[i + 1]!.offset <= offset) i++;
      if (i === 0) continue;
      const h = hist[i]!;
      hist.splice(0, i);
      eo.commitSource(
        rs.node.sourceId,
        { committed: h.offset, offset: h.offset + 1, position: h.position },
        () => rs.connector.commit?.(h.offset),
      );
      if (hist.length < MAX_SOURCE_HISTORY && rs.historyWaiters.length > 0) {
        const ws = rs.historyWaiters.splice(0, rs.historyWaiters.length);
        for (const w of ws) w();
      }
    }
  }

  async sourcesDone(): Promise<void> {
    if (!this.started) throw new EngineError(`worker "${this.workerName}": sourcesDone() before start()`);
    await Promise.all(this.sources.map((s) => s.done));
    await this.drain();
    await this.core.eo?.flush();
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  deliverRemote(batch: RemoteBatch): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // A peer may start sending before this worker has started: hold its batches until then
    // (the peer awaits the promise, so this is bounded by its backpressure).
    if (!this.sinksOpen) return this.opened.promise.then(() => this.deliverRemote(batch));
    // An acknowledgement changes no state and writes no sink: taken even while stopping (a
    // peer's last commit may release one), when it only trims what the stop already flushed.
    if (batch.ack !== undefined) return this.chainAck(batch);
    if (this.closing) {
      return Promise.reject(
        new EngineError(
          `worker "${this.workerName}" is stopping and its sinks are closed; it refused a batch of ${batch.payloads.length} messages for step "${batch.step}" from "${batch.fromWorker}" (drain the cluster before stopping workers)`,
        ),
      );
    }
    const op = this.statesByName.get(batch.step);
    if (!op) {
      return Promise.reject(
        new EngineError(
          `worker "${this.workerName}" got a batch for step "${batch.step}" from "${batch.fromWorker}", but app "${this.app.name}" has no such state step; do the workers run the same app?`,
        ),
      );
    }
    // A peer's send can call in synchronously while this worker is pushing a batch (peers in one
    // process, as in tests and the simulator): operators are not reentrant, so take it next.
    if (this.pushing) return RESOLVED.then(() => this.deliverRemote(batch));
    const eo = this.core.eo;
    let floors: Map<number, number> | null = null;
    if (eo !== null && batch.seq !== undefined) {
      const chain = this.core.chain;
      const stream = chain?.inStream(batch.step, batch.fromWorker);
      if (stream === undefined) {
        const err = new EngineError(
          `worker "${this.workerName}" got outbox entry ${batch.seq} for step "${batch.step}" from "${batch.fromWorker}", but that step takes no messages from state steps of "${batch.fromWorker}" here; do the workers run the same app and partition table?`,
        );
        this.fail(err);
        return Promise.reject(err);
      }
      let above: (number | null)[];
      try {
        above = eo.admit([{ stream, from: batch.seq - 1, through: batch.seq }]);
      } catch (err) {
        this.fail(err);
        return Promise.reject(err);
      }
      if (above[0] === null) {
        chain!.dropped(stream);
        return RESOLVED;
      }
    } else if (eo !== null) {
      const ranges = batch.ranges;
      if (ranges === undefined || ranges.length === 0) {
        const err = new EngineError(
          `worker "${this.workerName}" runs exactly-once but got a batch for step "${batch.step}" from "${batch.fromWorker}" without source ranges; start every worker with a store (--state), or none`,
        );
        this.fail(err);
        return Promise.reject(err);
      }
      const streams: StreamRange[] = ranges.map((r) => ({
        stream: eo.stream(r.source, op.node.id),
        from: r.from,
        through: r.through,
      }));
      let above: (number | null)[];
      try {
        above = eo.admit(streams);
      } catch (err) {
        this.fail(err);
        return Promise.reject(err);
      }
      floors = new Map(ranges.map((r, i) => [r.source, above[i] ?? Infinity]));
    }
    this.core.remoteReceived += batch.payloads.length;
    this.pushing = true;
    const observer = this.opts.observer;
    try {
      observer?.enter(-1, op.node.id, batch.payloads.length, batch.bornMs);
      op.pushRemote(batch, floors);
      for (const o of this.statesByName.values()) {
        o.flushRemote(null);
        if (this.core.chain !== null) o.flushChain();
      }
    } catch (err) {
      // As for a source batch: part of the batch may have changed state or reached sinks, so
      // the engine cannot go on as if it had not been delivered.
      this.fail(err);
      this.core.pending.length = 0;
      return Promise.reject(err);
    } finally {
      this.pushing = false;
      observer?.exit(op.node.id);
    }
    if (eo !== null) {
      eo.kick();
      if (eo.backlogged())
        return this.track(Promise.all([this.core.settle(), eo.room()]).then(() => undefined));
    }
    return this.track(this.core.settle());
  }

  /** An acknowledgement of this worker's outbox entries for a peer's state step. */
  private chainAck(batch: RemoteBatch): Promise<void> {
    const chain = this.core.chain;
    if (chain === null) {
      const err = new EngineError(
        `worker "${this.workerName}" got an acknowledgement for step "${batch.step}" from "${batch.fromWorker}" but sends no outbox entries (exactly-once off here, or no state step feeds another); start every worker alike`,
      );
      this.fail(err);
      return Promise.reject(err);
    }
    try {
      chain.onAck(batch);
    } catch (err) {
      this.fail(err);
      return Promise.reject(err);
    }
    return RESOLVED;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  stopSources(): Promise<void> {
    this.sourcesStopping ??= this.doStopSources();
    return this.sourcesStopping.then((errors) => {
      if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
    });
  }

  /** Stops the sources and drains; returns the errors met (other than the engine's failure). */
  private async doStopSources(): Promise<unknown[]> {
    this.abort.abort();
    const errors: unknown[] = [];
    await Promise.all(this.sources.map((s) => s.connector.stop().catch((e: unknown) => errors.push(e))));
    const results = await Promise.allSettled(this.sources.map((s) => s.done));
    for (const r of results) if (r.status === 'rejected' && r.reason !== this.failure) errors.push(r.reason);
    await this.drain();
    return errors;
  }

  private async doStop(): Promise<void> {
    if (!this.sinksOpen)
      this.opened.reject(new EngineError(`worker "${this.workerName}" stopped before it started`));
    this.sourcesStopping ??= this.doStopSources();
    const errors = [...(await this.sourcesStopping)];
    this.lifecycle.send({ type: 'Stop' });
    // Batches from peers that arrived while the sources were stopping.
    await this.drain();
    // Exactly-once: everything applied becomes durable, and the file sinks' progress recorded.
    if (!this.failure) await this.core.eo?.flush();
    this.core.chain?.close();
    this.closing = true;
    for (const s of this.sinkOps) {
      if (!s.connector) continue;
      try {
        await s.connector.flush();
        await s.connector.close();
      } catch (err) {
        errors.push(err);
      }
    }
    await this.opts.deadLetters.close();
    const first = this.failure ?? errors[0];
    if (first) throw first instanceof Error ? first : new Error(String(first));
    this.lifecycle.send({ type: 'Stopped' });
  }

  metrics(): EngineMetrics {
    const stateApplied: Record<string, number> = {};
    for (const [name, op] of this.statesByName) stateApplied[name] = op.applied;
    const c = this.core;
    return {
      ingested: c.ingested,
      sunk: c.sunk,
      deadLetters: this.opts.deadLetters.count,
      remoteSent: c.remoteSent,
      remoteReceived: c.remoteReceived,
      stateApplied,
    };
  }

  /** The view an app's onFinish hook gets. */
  finishView(): FinishView {
    const elapsedMs = this.opts.clock.monotonicMs() - this.startMs;
    return {
      workerName: this.workerName,
      elapsedMs,
      metrics: this.metrics(),
      states: <S>(step: string): Iterable<readonly [Key, S]> => {
        const op = this.statesByName.get(step);
        if (!op) throw new EngineError(`onFinish: app "${this.app.name}" has no state step "${step}"`);
        return op.stateEntries() as Iterable<readonly [Key, S]>;
      },
    };
  }

  /** State index of a step's partition (tests, conformance). */
  stateIndexOf(step: string, partition: number): number {
    const op = this.statesByName.get(step);
    if (!op) throw new EngineError(`no state step "${step}"`);
    return op.stateIndex[partition] ?? 0;
  }
}

export type WorkerEngineImpl = WorkerEngine & {
  finishView(): FinishView;
  whenFailed(): Promise<Error>;
  stateIndexOf(step: string, partition: number): number;
  phase(): WorkerLifecycleState;
  exactlyOnceSnapshot(): ReturnType<ExactlyOnce['snapshot']> | null;
};

export function createWorkerEngine(options: WorkerEngineOptions): WorkerEngineImpl {
  return new Engine(options);
}

export type { Batch as EngineBatch };
