// Exactly-once between state steps (docs/exactly-once.md, "State -> state"): the outputs of a
// state step that reach another state step owned by another worker go through an outbox.
//
// Upstream (the worker whose state step produced the messages), per out-stream (target step,
// downstream worker):
//   - the messages collected over the engine batches since the last commit become, in that
//     commit (the same store transaction as the state change and the input watermarks), outbox
//     entries numbered 0, 1, 2, ... (`seq`); they are sent only once the commit is durable, so
//     the downstream never sees an output of a state that a crash could take back;
//   - entries stay (in memory and in the store) until the downstream acknowledges them; they
//     are sent again after a restart (from the store) and whenever no acknowledgement came for
//     RESEND_AFTER_MS (the downstream may have restarted and lost what it had not committed),
//     the wait doubling up to MAX_RESEND_AFTER_MS while none comes (a downstream that is only
//     slow is not flooded with its own backlog again);
//   - an acknowledgement `ack` deletes entries <= ack (in the next commit).
// Downstream, per in-stream (target step, upstream worker): entry `seq` is the range
// (seq - 1, seq] of a stream of the recovery machine (machines/recovery-worker.ts), so the
// machine's WorkerReceive drops duplicates and gaps and its marks go into the commit like the
// sources' (`u/<step>/<worker>`); the acknowledgement is the durable mark.
//
// Acknowledgements are end to end (specs/Ack.tla): a durable mark of commit C is reported
// upstream (to the source worker for sources, to the upstream worker for an in-stream of step
// B) only once the entries that commit C put into the outboxes it depends on are acknowledged:
// every out-stream for the sources' report, the out-streams of the state steps B feeds for B's
// in-streams. The topology is acyclic, so these waits are too; and when the source worker
// commits an offset, everything downstream of it is durable in a state (not only in an outbox).
//
// Store keys (beside exactly-once.ts's): x/<step>/<worker>/<seq, 15 digits> an entry (the
// RemoteBatch columns, msgpack); y/<step>/<worker> the next seq; u/<step>/<worker> the mark of
// an in-stream. Step and worker names are URI-encoded in keys.
import { Packr } from 'msgpackr';
import { NO_MARK } from '../../machines/recovery-worker.ts';
import type { Application, StateNode } from '../api/app.ts';
import type {
  Clock,
  Logger,
  RawPayload,
  RemoteBatch,
  RemoteOutlet,
  Store,
  StoreOp,
  TimerHandle,
} from '../types.ts';
import { statesReachedFrom } from './exactly-once.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** How long an unacknowledged entry waits before the out-stream is sent again from its oldest
 * unacknowledged entry (the downstream drops what it has). */
export const RESEND_AFTER_MS = 1000;
/** The longest wait between two resends of an out-stream while no acknowledgement comes. */
export const MAX_RESEND_AFTER_MS = 4000;
/** Messages beyond which one out-stream's pending messages are cut into another entry. */
export const MAX_ENTRY_MESSAGES = 1 << 16;
/** Estimated encoded bytes beyond which an entry is cut: an entry must travel as one remote
 * batch (the data plane splits a batch above half its window, 4 MiB by default, and a part of
 * an entry would lose its seq), so entries stay well below. */
export const MAX_ENTRY_BYTES = 256 * 1024;
/** Per message, beside its payload: the id columns, partition and birth time, varints. */
const MESSAGE_OVERHEAD_BYTES = 48;
/** Unacknowledged messages (all out-streams) beyond which a source's emit waits. */
export const MAX_UNACKED_MESSAGES = 1 << 20;

export class ChainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainError';
  }
}

/** The state steps that another state step's outputs reach (through stateless steps). */
export function chainedStates(app: Application): StateNode[] {
  const out = new Map<number, StateNode>();
  for (const st of app.states) for (const t of statesReachedFrom(app, st.id)) out.set(t.id, t);
  return [...out.values()];
}

/** The columns of an outbox entry (a RemoteBatch without its header). */
export interface ChainColumns {
  readonly source: number[];
  readonly offset: number[];
  readonly sub: number[];
  readonly bornMs: number[];
  readonly partition: number[];
  readonly payloads: RawPayload[];
  /** Tracing (dense, as RemoteBatch.trace); not stored: a resend carries none. */
  trace?: number[];
}

interface Entry {
  readonly seq: number;
  readonly cols: ChainColumns;
}

interface OutStream {
  readonly target: StateNode;
  readonly worker: string;
  readonly index: number;
  /** The next seq to give (store: y/). */
  next: number;
  /** The highest seq the downstream acknowledged (NO_MARK: none). */
  acked: number;
  /** Durable entries not acknowledged, by seq. */
  entries: Entry[];
  /** Entries of the commit in flight (sent when it is durable). */
  inFlight: Entry[];
  /** Messages collected since the last commit. */
  pending: ChainColumns[];
  pendingCount: number;
  /** When an acknowledgement last advanced (or the stream was last sent again). */
  progressMs: number;
  /** How long since progressMs before the next resend (RESEND_AFTER_MS, doubling). */
  resendAfterMs: number;
}

interface InStream {
  readonly step: StateNode;
  readonly worker: string;
  /** The last acknowledgement sent (its durable mark, released). */
  acked: number;
  /** The mark last released for acknowledgement. */
  released: number;
}

/** One commit's durable marks and the out-stream seqs it put into the outboxes. */
interface CommitRecord {
  readonly marks: Readonly<Record<number, number>>;
  readonly sources: Readonly<Record<number, number>>;
  /** Per out-stream index: the last seq given up to this commit (NO_MARK: none). */
  readonly need: readonly number[];
}

export interface ChainDeps {
  readonly app: Application;
  readonly workerName: string;
  /** The distinct owners of the partition table, in table order. */
  readonly workers: readonly string[];
  /** The first stream number of the recovery machine not used by the sources' streams. */
  readonly streamBase: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly remote: RemoteOutlet;
  /** The sources' durable marks, once end to end (ExactlyOnceOptions.onDurable). */
  onDurable(marks: Readonly<Record<number, number>>): void;
}

const enc = encodeURIComponent;
const SEQ_DIGITS = 15;
const pad = (n: number): string => String(n).padStart(SEQ_DIGITS, '0');

export class ChainOutbox {
  private readonly where: string;
  private readonly chained: readonly StateNode[];
  private readonly chainedIndex = new Map<number, number>();
  private readonly outs: OutStream[] = [];
  private readonly outIndex = new Map<string, OutStream>();
  private readonly ins = new Map<number, InStream>();
  private readonly inByName = new Map<string, number>();
  /** Per chained step id: the out-stream indexes its outputs may enter. */
  private readonly dependsOn = new Map<number, number[]>();
  private records: CommitRecord[] = [];
  /** Per consumer (-1: the sources; else a chained step id): how many records it released. */
  private readonly releasedUpTo = new Map<number, number>();
  private needAtDurable: number[];
  private needInFlight: number[] | null = null;
  /** The in-streams' marks in the commit in flight, and in the last durable one. */
  private marksInFlight: Record<number, number> | null = null;
  private durableMarks: Record<number, number> = {};
  private waiters: (() => void)[] = [];
  private toDelete: string[] = [];
  /** The in-stream marks last written (u/). */
  private readonly lastMarks = new Map<number, number>();
  private unacked = 0;
  private pendingCount = 0;
  private timer: TimerHandle | null = null;
  private closed = false;

  constructor(private readonly deps: ChainDeps) {
    const { app, workerName, workers } = deps;
    this.where = `worker "${workerName}"`;
    this.chained = chainedStates(app);
    const others = workers.filter((w) => w !== workerName);
    this.chained.forEach((st, i) => {
      this.chainedIndex.set(st.id, i);
      for (let w = 0; w < workers.length; w++) {
        const worker = workers[w]!;
        if (worker === workerName) continue;
        const stream = deps.streamBase + i * workers.length + w;
        this.ins.set(stream, { step: st, worker, acked: NO_MARK, released: NO_MARK });
        this.inByName.set(`${st.name}\u0000${worker}`, stream);
      }
      for (const worker of others) {
        const o: OutStream = {
          target: st,
          worker,
          index: this.outs.length,
          next: 0,
          acked: NO_MARK,
          entries: [],
          inFlight: [],
          pending: [],
          pendingCount: 0,
          progressMs: deps.clock.monotonicMs(),
          resendAfterMs: RESEND_AFTER_MS,
        };
        this.outs.push(o);
        this.outIndex.set(`${st.id}\u0000${worker}`, o);
      }
    });
    for (const st of app.states) {
      const targets = new Set(statesReachedFrom(app, st.id).map((t) => t.id));
      this.dependsOn.set(
        st.id,
        this.outs.filter((o) => targets.has(o.target.id)).map((o) => o.index),
      );
    }
    this.releasedUpTo.set(-1, 0);
    for (const st of this.chained) this.releasedUpTo.set(st.id, 0);
    this.needAtDurable = this.outs.map(() => NO_MARK);
  }

  /** Whether a state step's outputs reach another state step here (the app has a chain). */
  get active(): boolean {
    return this.chained.length > 0;
  }

  /** Whether step `id` takes messages from other state steps. */
  isChained(id: number): boolean {
    return this.chainedIndex.has(id);
  }

  /** Whether `stream` (a recovery machine stream) is an in-stream of this module. */
  isStream(stream: number): boolean {
    return this.ins.has(stream);
  }

  /** The in-stream of step `step` from `worker`, or undefined (not a chained step, or a worker
   * that is not in the partition table). */
  inStream(step: string, worker: string): number | undefined {
    return this.inByName.get(`${step}\u0000${worker}`);
  }

  // ----- upstream: collecting, committing, sending -----

  /** Messages for step `target` (node id) owned by `worker`, produced in this engine batch. */
  add(target: number, worker: string, cols: ChainColumns): void {
    const o = this.outIndex.get(`${target}\u0000${worker}`);
    if (o === undefined)
      throw new ChainError(
        `${this.where}: messages for step "${this.deps.app.nodes[target]!.name}" on worker "${worker}", which is not a chained step on a peer`,
      );
    o.pending.push(cols);
    o.pendingCount += cols.payloads.length;
    this.pendingCount += cols.payloads.length;
  }

  /** Whether a commit has chain work even if nothing else changed. */
  hasWork(): boolean {
    return this.pendingCount > 0 || this.toDelete.length > 0;
  }

  /** Whether a source's emit should wait (too much unacknowledged downstream). */
  backlogged(): boolean {
    return this.unacked + this.pendingCount >= MAX_UNACKED_MESSAGES;
  }

  /** Resolves when backlogged() is false again (acknowledgements came). */
  room(): Promise<void> {
    if (!this.backlogged() || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** At the start of a commit: the store ops for the pending messages (new entries and next
   * seqs), the in-streams' marks that changed, and the deletions of acknowledged entries. */
  ops(marks: Readonly<Record<number, number>>): StoreOp[] {
    const lastMarks = this.lastMarks;
    const ops: StoreOp[] = [];
    for (const o of this.outs) {
      if (o.pending.length === 0) continue;
      const base = `${enc(o.target.name)}/${enc(o.worker)}`;
      for (const cols of cut(o.pending)) {
        const e: Entry = { seq: o.next++, cols };
        o.inFlight.push(e);
        ops.push({
          key: `x/${base}/${pad(e.seq)}`,
          value: packr.pack([cols.source, cols.offset, cols.sub, cols.bornMs, cols.partition, cols.payloads]),
        });
        this.unacked += cols.payloads.length;
      }
      ops.push({ key: `y/${base}`, value: packr.pack(o.next) });
      this.pendingCount -= o.pendingCount;
      o.pending = [];
      o.pendingCount = 0;
    }
    const mine: Record<number, number> = {};
    for (const [stream, s] of this.ins) {
      const m = marks[stream];
      if (m !== undefined) mine[stream] = m;
      if (m === undefined || lastMarks.get(stream) === m) continue;
      lastMarks.set(stream, m);
      ops.push({ key: `u/${enc(s.step.name)}/${enc(s.worker)}`, value: packr.pack(m) });
    }
    for (const k of this.toDelete) ops.push({ key: k, value: null });
    this.toDelete = [];
    this.needInFlight = this.outs.map((o) => o.next - 1);
    this.marksInFlight = mine;
    return ops;
  }

  /** The commit ops() went into is durable: its entries are sent. */
  persisted(): void {
    if (this.needInFlight !== null) this.needAtDurable = this.needInFlight;
    if (this.marksInFlight !== null) this.durableMarks = this.marksInFlight;
    this.needInFlight = null;
    this.marksInFlight = null;
    for (const o of this.outs) {
      if (o.inFlight.length === 0) continue;
      const fresh = o.inFlight;
      o.inFlight = [];
      if (o.entries.length === 0) o.progressMs = this.deps.clock.monotonicMs();
      for (const e of fresh) {
        o.entries.push(e);
        this.sendEntry(o, e);
      }
    }
    this.arm();
  }

  private sendEntry(o: OutStream, e: Entry): void {
    const { trace, ...cols } = e.cols;
    this.transmit(o.worker, {
      step: o.target.name,
      fromWorker: this.deps.workerName,
      ...cols,
      ...(trace !== undefined ? { trace } : {}),
      seq: e.seq,
    });
  }

  /** Sends; a send that fails or cannot be made now (no channel yet) is left to the resend. */
  private transmit(worker: string, batch: RemoteBatch): void {
    try {
      const r = this.deps.remote.send(worker, batch);
      if (r)
        r.catch((err: unknown) =>
          this.deps.log.debug?.(
            `exactly-once: a send to "${worker}" (step "${batch.step}") failed (${(err as Error).message}); it is sent again`,
          ),
        );
    } catch (err) {
      this.deps.log.debug?.(
        `exactly-once: cannot send to "${worker}" now (${(err as Error).message}); it is sent again`,
      );
    }
  }

  /** The resend timer: armed while an entry is unacknowledged. */
  private arm(): void {
    if (this.timer !== null || this.closed) return;
    if (!this.outs.some((o) => o.entries.length > 0)) return;
    this.timer = this.deps.clock.setTimer(RESEND_AFTER_MS / 2, () => {
      this.timer = null;
      if (this.closed) return;
      const now = this.deps.clock.monotonicMs();
      for (const o of this.outs) {
        if (o.entries.length === 0 || now - o.progressMs < o.resendAfterMs) continue;
        o.progressMs = now;
        o.resendAfterMs = Math.min(MAX_RESEND_AFTER_MS, o.resendAfterMs * 2);
        for (const e of o.entries) this.sendEntry(o, e);
      }
      this.arm();
    });
  }

  /** An acknowledgement from the downstream of out-stream (step, worker). */
  onAck(batch: RemoteBatch): void {
    const st = this.deps.app.states.find((s) => s.name === batch.step);
    const o = st === undefined ? undefined : this.outIndex.get(`${st.id}\u0000${batch.fromWorker}`);
    if (o === undefined)
      throw new ChainError(
        `${this.where} got an acknowledgement for step "${batch.step}" from "${batch.fromWorker}", to which it sends nothing; do the workers run the same app?`,
      );
    const ack = batch.ack!;
    if (ack >= o.next)
      throw new ChainError(
        `${this.where}: worker "${batch.fromWorker}" acknowledged entry ${ack} of step "${batch.step}", but only ${o.next} were made; is its store from another run?`,
      );
    if (ack <= o.acked) return;
    o.acked = ack;
    o.progressMs = this.deps.clock.monotonicMs();
    o.resendAfterMs = RESEND_AFTER_MS;
    let k = 0;
    const base = `x/${enc(o.target.name)}/${enc(o.worker)}/`;
    while (k < o.entries.length && o.entries[k]!.seq <= ack) {
      const e = o.entries[k++]!;
      this.unacked -= e.cols.payloads.length;
      this.toDelete.push(base + pad(e.seq));
    }
    o.entries.splice(0, k);
    this.release();
    if (this.waiters.length > 0 && !this.backlogged()) {
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    }
  }

  // ----- downstream and the end-to-end reports -----

  /** After a commit (and once after recovery): the sources' durable marks (what exactly-once
   * would report); reported once the entries they depend on are acknowledged. */
  durable(sources: Readonly<Record<number, number>>): void {
    this.records.push({ marks: this.durableMarks, sources, need: this.needAtDurable });
    this.release();
  }

  /** Reports, per consumer, the newest commit whose outbox entries it depends on are all
   * acknowledged; drops records every consumer has passed. */
  private release(): void {
    if (this.closed) return;
    const satisfied = (r: CommitRecord, outs: readonly number[]): boolean =>
      outs.every((i) => this.outs[i]!.acked >= r.need[i]!);
    const all = this.outs.map((o) => o.index);
    let lowest = Infinity;
    for (const [consumer, upTo] of this.releasedUpTo) {
      const outs = consumer === -1 ? all : this.dependsOn.get(consumer)!;
      let k = upTo;
      while (k < this.records.length && satisfied(this.records[k]!, outs)) k++;
      if (k > upTo) {
        this.releasedUpTo.set(consumer, k);
        const r = this.records[k - 1]!;
        if (consumer === -1) this.deps.onDurable(r.sources);
        else this.ackIns(consumer, r.marks);
      }
      lowest = Math.min(lowest, k);
    }
    if (lowest > 1) {
      // Keep the last released record: its marks are what a duplicate is acknowledged with.
      const drop = lowest - 1;
      this.records.splice(0, drop);
      for (const [c, k] of this.releasedUpTo) this.releasedUpTo.set(c, k - drop);
    }
  }

  private ackIns(stepId: number, marks: Readonly<Record<number, number>>): void {
    for (const [stream, s] of this.ins) {
      if (s.step.id !== stepId) continue;
      const m = marks[stream] ?? NO_MARK;
      if (m > s.released) s.released = m;
      if (s.released > s.acked) this.sendAck(s);
    }
  }

  private sendAck(s: InStream): void {
    s.acked = s.released;
    this.transmit(s.worker, {
      step: s.step.name,
      fromWorker: this.deps.workerName,
      source: [],
      offset: [],
      sub: [],
      bornMs: [],
      partition: [],
      payloads: [],
      ack: s.released,
    });
  }

  /** An entry of in-stream `stream` was dropped (a duplicate, or a gap): acknowledge again what
   * is released, so an upstream that resends after losing acknowledgements stops. */
  dropped(stream: number): void {
    const s = this.ins.get(stream)!;
    if (s.released !== NO_MARK) this.sendAck(s);
  }

  // ----- recovery -----

  /** Loads the outboxes, next seqs and in-stream marks; returns the marks (by stream). */
  async recover(store: Store): Promise<Record<number, number>> {
    const where = this.where;
    const byBase = new Map<string, OutStream>();
    for (const o of this.outs) byBase.set(`${enc(o.target.name)}/${enc(o.worker)}`, o);
    const bad = (k: string, why: string): never => {
      throw new ChainError(`${where}: store key ${k}: ${why}`);
    };
    const value = (k: string, v: Uint8Array): unknown => {
      try {
        return packr.unpack(v);
      } catch (err) {
        return bad(k, `cannot be decoded (${(err as Error).message}): the store is corrupt`);
      }
    };
    for await (const [k, v] of store.scan('y/')) {
      const o = byBase.get(k.slice(2));
      if (o === undefined)
        bad(
          k,
          'an outbox to a step or worker this app and partition table do not have (a store of another app or table)',
        );
      const n = value(k, v);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(k, `next seq ${String(n)}`);
      o!.next = n as number;
    }
    for await (const [k, v] of store.scan('x/')) {
      const slash = k.lastIndexOf('/');
      const o = byBase.get(k.slice(2, slash));
      const seq = Number(k.slice(slash + 1));
      if (o === undefined) bad(k, 'an outbox entry to a step or worker this app does not have');
      if (!Number.isSafeInteger(seq) || seq >= o!.next) bad(k, `seq beyond the next seq ${o!.next}`);
      const cols = value(k, v);
      if (!Array.isArray(cols) || cols.length !== 6 || !cols.every(Array.isArray))
        bad(k, 'not an outbox entry: the store is corrupt');
      const [source, offset, sub, bornMs, partition, payloads] = cols as number[][];
      if (![offset, sub, bornMs, partition, payloads].every((c) => c!.length === source!.length))
        bad(k, 'columns of different lengths: the store is corrupt');
      const prev = o!.entries.at(-1);
      if (prev !== undefined && prev.seq + 1 !== seq) bad(k, `the outbox skips from ${prev.seq} to ${seq}`);
      o!.entries.push({
        seq,
        cols: {
          source: source!,
          offset: offset!,
          sub: sub!,
          bornMs: bornMs!,
          partition: partition!,
          payloads: payloads as unknown as RawPayload[],
        },
      });
      this.unacked += source!.length;
    }
    for (const o of this.outs) {
      const first = o.entries[0];
      o.acked = first === undefined ? o.next - 1 : first.seq - 1;
      if (first !== undefined && o.entries.at(-1)!.seq !== o.next - 1)
        bad(`x/${enc(o.target.name)}/${enc(o.worker)}/`, `the outbox ends before the next seq ${o.next}`);
    }
    this.needAtDurable = this.outs.map((o) => o.next - 1);
    const marks: Record<number, number> = {};
    for await (const [k, v] of store.scan('u/')) {
      const [step, worker] = k.slice(2).split('/').map(decodeURIComponent);
      const stream = this.inStream(step ?? '', worker ?? '');
      if (stream === undefined)
        bad(
          k,
          `the mark of step "${step}" from worker "${worker}", which this app and partition table do not have`,
        );
      const m = value(k, v);
      if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < NO_MARK) bad(k, `mark ${String(m)}`);
      marks[stream!] = m as number;
      this.lastMarks.set(stream!, m as number);
    }
    this.durableMarks = { ...marks };
    return marks;
  }

  /** After recovery: every stored entry goes out again (the downstream drops what it has). */
  replay(): void {
    const now = this.deps.clock.monotonicMs();
    for (const o of this.outs) {
      o.progressMs = now;
      for (const e of o.entries) this.sendEntry(o, e);
    }
    this.arm();
  }

  /** Figures for tests and metrics. */
  snapshot(): { readonly unacked: number; readonly pending: number; readonly entries: number } {
    let entries = 0;
    for (const o of this.outs) entries += o.entries.length + o.inFlight.length;
    return { unacked: this.unacked, pending: this.pendingCount, entries };
  }

  close(): void {
    this.closed = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    if (this.timer !== null) this.deps.clock.clearTimer(this.timer);
    this.timer = null;
  }
}

/** Estimated encoded size of a payload (a string: up to 3 bytes per UTF-16 unit). */
const payloadBytes = (p: RawPayload): number => (typeof p === 'string' ? p.length * 3 : p.byteLength);

/** The pending messages of one out-stream as entries of at most MAX_ENTRY_MESSAGES messages and
 * about MAX_ENTRY_BYTES bytes (a message larger than that is an entry of its own). */
function cut(pending: readonly ChainColumns[]): ChainColumns[] {
  if (pending.length === 1) {
    const p = pending[0]!;
    let bytes = 0;
    for (let i = 0; i < p.payloads.length; i++)
      bytes += payloadBytes(p.payloads[i]!) + MESSAGE_OVERHEAD_BYTES;
    if (bytes <= MAX_ENTRY_BYTES && p.payloads.length <= MAX_ENTRY_MESSAGES) return [p];
  }
  const out: ChainColumns[] = [];
  let cur: ChainColumns | null = null;
  let curBytes = 0;
  for (const p of pending) {
    for (let i = 0; i < p.payloads.length; i++) {
      const b = payloadBytes(p.payloads[i]!) + MESSAGE_OVERHEAD_BYTES;
      if (
        cur === null ||
        cur.payloads.length >= MAX_ENTRY_MESSAGES ||
        (curBytes + b > MAX_ENTRY_BYTES && cur.payloads.length > 0)
      ) {
        cur = { source: [], offset: [], sub: [], bornMs: [], partition: [], payloads: [] };
        curBytes = 0;
        out.push(cur);
      }
      cur.source.push(p.source[i]!);
      cur.offset.push(p.offset[i]!);
      cur.sub.push(p.sub[i]!);
      cur.bornMs.push(p.bornMs[i]!);
      cur.partition.push(p.partition[i]!);
      cur.payloads.push(p.payloads[i]!);
      curBytes += b;
    }
  }
  return out;
}
