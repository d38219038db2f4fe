// Exactly-once between state steps (docs/exactly-once.md, "State -> state"): the outputs of a
// state step that reach another state step owned by another worker go through an outbox.
//
// The upstream protocol is machines/chain-outbox.ts (RecoveryChain.tla's W1 outbox actions),
// which decides; this file is its shell (store keys, message columns, the resend timer, sends).
// Upstream (the worker whose state step produced the messages), per out-stream (target step,
// downstream worker):
//   - the messages collected over the engine batches since the last commit become, in that
//     commit (the same store transaction as the state change and the input watermarks), outbox
//     entries numbered 0, 1, 2, ... (`seq`); they are sent only once the commit is durable, so
//     the downstream never sees an output of a state that a crash could take back;
//   - entries stay (in memory and in the store) until the downstream acknowledges them; they
//     are sent again after a restart (from the store) and whenever no acknowledgement came for
//     RESEND_AFTER_MS (machines/chain-outbox.ts; the downstream may have restarted and lost what it had not committed),
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
import { createActor } from 'xstate';
import type { Actor } from 'xstate';
import {
  RESEND_AFTER_MS,
  chainOutboxMachine,
  chainOutboxWaiting,
  drainChainOutboxReady,
} from '../../machines/chain-outbox.ts';
import type {
  ChainOutboxContext,
  ChainOutboxEvent,
  GateConsumer,
  OutboxEntry,
} from '../../machines/chain-outbox.ts';
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

/** An out-stream (target step, downstream worker): its number in the machine is its index. */
interface OutStream {
  readonly target: StateNode;
  readonly worker: string;
  /** The columns of the entries not acknowledged (in flight or durable), by seq. */
  readonly cols: Map<number, ChainColumns>;
  /** Messages collected since the last commit. */
  pending: ChainColumns[];
  pendingCount: number;
}

interface InStream {
  readonly step: StateNode;
  readonly worker: string;
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
  /** Tests only: a deliberately broken variant of the outbox machine (the mutations of
   * conformance/recovery-chain.ts); absent, machines/chain-outbox.ts's. */
  readonly machine?: typeof chainOutboxMachine;
  /** Messages beyond which an entry is cut (default MAX_ENTRY_MESSAGES; conformance/recovery-chain.ts
   * takes 1: the spec's outputs are entries of one message). */
  readonly maxEntryMessages?: number;
}

const enc = encodeURIComponent;
const SEQ_DIGITS = 15;
const pad = (n: number): string => String(n).padStart(SEQ_DIGITS, '0');

/**
 * The shell of machines/chain-outbox.ts: it collects the messages of each out-stream between
 * commits, turns the machine's decisions into store ops, sends and reports, and runs the resend
 * timer (on the injected clock). Every protocol decision (numbering, what is sent, released,
 * reported, acknowledged, resent) is the machine's.
 */
export class ChainOutbox {
  private readonly where: string;
  private readonly chained: readonly StateNode[];
  private readonly chainedIndex = new Map<number, number>();
  private readonly outs: OutStream[] = [];
  private readonly outIndex = new Map<string, number>();
  private readonly ins = new Map<number, InStream>();
  private readonly inByName = new Map<string, number>();
  private readonly actor: Actor<typeof chainOutboxMachine>;
  private waiters: (() => void)[] = [];
  private pendingCount = 0;
  private timer: TimerHandle | null = null;
  private closed = false;

  constructor(private readonly deps: ChainDeps) {
    const { app, workerName, workers } = deps;
    this.where = `worker "${workerName}"`;
    const max = deps.maxEntryMessages;
    if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1 && max <= MAX_ENTRY_MESSAGES))
      throw new ChainError(
        `${this.where}: maxEntryMessages must be an integer in 1..${MAX_ENTRY_MESSAGES}, got ${max}`,
      );
    this.chained = chainedStates(app);
    const others = workers.filter((w) => w !== workerName);
    this.chained.forEach((st, i) => {
      this.chainedIndex.set(st.id, i);
      for (let w = 0; w < workers.length; w++) {
        const worker = workers[w]!;
        if (worker === workerName) continue;
        const stream = deps.streamBase + i * workers.length + w;
        this.ins.set(stream, { step: st, worker });
        this.inByName.set(`${st.name}\u0000${worker}`, stream);
      }
      for (const worker of others) {
        this.outIndex.set(`${st.id}\u0000${worker}`, this.outs.length);
        this.outs.push({ target: st, worker, cols: new Map(), pending: [], pendingCount: 0 });
      }
    });
    const outsReached = (id: number): number[] => {
      const targets = new Set(statesReachedFrom(app, id).map((t) => t.id));
      return this.outs.flatMap((o, i) => (targets.has(o.target.id) ? [i] : []));
    };
    const consumers: GateConsumer[] = [
      { step: null, outs: this.outs.map((_, i) => i), streams: [] },
      ...this.chained.map((st) => ({
        step: st.id,
        outs: outsReached(st.id),
        streams: [...this.ins].filter(([, s]) => s.step.id === st.id).map(([stream]) => stream),
      })),
    ];
    this.actor = createActor(deps.machine ?? chainOutboxMachine, {
      input: {
        outs: this.outs.length,
        streams: [...this.ins.keys()],
        consumers,
        nowMs: deps.clock.monotonicMs(),
      },
    }).start();
  }

  private get ctx(): ChainOutboxContext {
    return this.actor.getSnapshot().context;
  }

  /** Sends an event the shell knows to be enabled (else an internal error, said so). */
  private must(event: ChainOutboxEvent): void {
    if (!this.actor.getSnapshot().can(event))
      throw new ChainError(
        `${this.where}: the chain outbox machine refused ${event.type} (a bug of runtime/engine/chain.ts; please report it)`,
      );
    this.actor.send(event);
  }

  /** Sends an event whose guard may be false (then nothing happens) and carries out what it decided. */
  private step(event: ChainOutboxEvent): void {
    this.actor.send(event);
    this.handle();
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
    const i = this.outIndex.get(`${target}\u0000${worker}`);
    if (i === undefined)
      throw new ChainError(
        `${this.where}: messages for step "${this.deps.app.nodes[target]!.name}" on worker "${worker}", which is not a chained step on a peer`,
      );
    const o = this.outs[i]!;
    o.pending.push(cols);
    o.pendingCount += cols.payloads.length;
    this.pendingCount += cols.payloads.length;
  }

  /** Whether a commit has chain work even if nothing else changed. */
  hasWork(): boolean {
    return this.pendingCount > 0 || this.ctx.toDelete.length > 0;
  }

  /** Whether a source's emit should wait (too much unacknowledged downstream). */
  backlogged(): boolean {
    return this.ctx.unacked + this.pendingCount >= MAX_UNACKED_MESSAGES;
  }

  /** Resolves when backlogged() is false again (acknowledgements came). */
  room(): Promise<void> {
    if (!this.backlogged() || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** At the start of a commit (W1Persist): the store ops for the pending messages (new entries
   * and next seqs), the in-streams' marks that changed, and the deletions of acknowledged
   * entries. */
  ops(marks: Readonly<Record<number, number>>): StoreOp[] {
    const entries: { out: number; messages: number }[] = [];
    const cols: ChainColumns[] = [];
    this.outs.forEach((o, out) => {
      if (o.pending.length === 0) return;
      for (const c of cut(o.pending, this.deps.maxEntryMessages ?? MAX_ENTRY_MESSAGES)) {
        entries.push({ out, messages: c.payloads.length });
        cols.push(c);
      }
      this.pendingCount -= o.pendingCount;
      o.pending = [];
      o.pendingCount = 0;
    });
    this.must({ type: 'W1Persist', entries, marks });
    const ops: StoreOp[] = [];
    let i = 0;
    for (const r of drainChainOutboxReady(this.ctx)) {
      switch (r.kind) {
        case 'entry': {
          const o = this.outs[r.out]!;
          const c = cols[i++]!;
          o.cols.set(r.seq, c);
          ops.push({
            key: `x/${this.base(o)}/${pad(r.seq)}`,
            value: packr.pack([c.source, c.offset, c.sub, c.bornMs, c.partition, c.payloads]),
          });
          break;
        }
        case 'next':
          ops.push({ key: `y/${this.base(this.outs[r.out]!)}`, value: packr.pack(r.next) });
          break;
        case 'mark': {
          const s = this.ins.get(r.stream)!;
          ops.push({ key: `u/${enc(s.step.name)}/${enc(s.worker)}`, value: packr.pack(r.mark) });
          break;
        }
        case 'delete':
          ops.push({ key: `x/${this.base(this.outs[r.out]!)}/${pad(r.seq)}`, value: null });
          break;
        default:
          throw new ChainError(
            `${this.where}: W1Persist decided ${r.kind} (a bug of machines/chain-outbox.ts)`,
          );
      }
    }
    return ops;
  }

  private base(o: OutStream): string {
    return `${enc(o.target.name)}/${enc(o.worker)}`;
  }

  /** The commit ops() went into is durable: its entries are sent. */
  persisted(): void {
    this.must({ type: 'Persisted', nowMs: this.deps.clock.monotonicMs() });
    this.step({ type: 'W1SendOut' });
    this.arm();
  }

  /** Carries out what the machine decided after the store ops (sends, releases, reports). */
  private handle(): void {
    let released = false;
    for (const r of drainChainOutboxReady(this.ctx)) {
      switch (r.kind) {
        case 'send':
          if (!this.closed) this.sendEntry(r.out, r.seq);
          break;
        case 'release': {
          const m = this.outs[r.out]!.cols;
          for (const seq of m.keys()) {
            if (seq > r.through) break;
            m.delete(seq);
          }
          released = true;
          break;
        }
        case 'report':
          if (!this.closed) this.deps.onDurable(r.sources);
          break;
        case 'ack':
          if (!this.closed) this.sendAck(r.stream, r.mark);
          break;
        default:
          throw new ChainError(
            `${this.where}: the chain outbox machine decided ${r.kind} outside a commit (a bug of machines/chain-outbox.ts)`,
          );
      }
    }
    if (released && this.waiters.length > 0 && !this.backlogged()) {
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    }
  }

  private sendEntry(out: number, seq: number): void {
    const o = this.outs[out]!;
    const { trace, ...cols } = o.cols.get(seq)!;
    this.transmit(o.worker, {
      step: o.target.name,
      fromWorker: this.deps.workerName,
      ...cols,
      ...(trace !== undefined ? { trace } : {}),
      seq,
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

  /** The resend timer: armed while an entry is unacknowledged; each tick asks the machine
   * whether a silence is long enough (CrashW2) and sends what it decides (W1SendOut). */
  private arm(): void {
    if (this.timer !== null || this.closed || !chainOutboxWaiting(this.ctx)) return;
    this.timer = this.deps.clock.setTimer(RESEND_AFTER_MS / 2, () => {
      this.timer = null;
      if (this.closed) return;
      this.step({ type: 'CrashW2', nowMs: this.deps.clock.monotonicMs() });
      this.step({ type: 'W1SendOut' });
      this.arm();
    });
  }

  /** An acknowledgement from the downstream of out-stream (step, worker) (W1ReceiveAck). */
  onAck(batch: RemoteBatch): void {
    const st = this.deps.app.states.find((s) => s.name === batch.step);
    const out = st === undefined ? undefined : this.outIndex.get(`${st.id}\u0000${batch.fromWorker}`);
    if (out === undefined)
      throw new ChainError(
        `${this.where} got an acknowledgement for step "${batch.step}" from "${batch.fromWorker}", to which it sends nothing; do the workers run the same app?`,
      );
    const ack = batch.ack!;
    const next = this.ctx.outs[out]!.next;
    if (ack >= next)
      throw new ChainError(
        `${this.where}: worker "${batch.fromWorker}" acknowledged entry ${ack} of step "${batch.step}", but only ${next} were made; is its store from another run?`,
      );
    this.step({ type: 'W1ReceiveAck', out, ack, nowMs: this.deps.clock.monotonicMs() });
  }

  // ----- the end-to-end reports -----

  /** After a commit (and once after recovery): the sources' durable marks (what exactly-once
   * would report); reported once the entries they depend on are acknowledged (W1Ack). */
  durable(sources: Readonly<Record<number, number>>): void {
    if (this.closed) return;
    this.step({ type: 'W1Ack', sources });
  }

  private sendAck(stream: number, mark: number): void {
    const s = this.ins.get(stream)!;
    this.transmit(s.worker, {
      step: s.step.name,
      fromWorker: this.deps.workerName,
      source: [],
      offset: [],
      sub: [],
      bornMs: [],
      partition: [],
      payloads: [],
      ack: mark,
    });
  }

  /** An entry of in-stream `stream` was dropped (a duplicate, or a gap): acknowledge again what
   * is released (W2Ack), so an upstream that resends after losing acknowledgements stops. */
  dropped(stream: number): void {
    this.step({ type: 'W2Ack', stream });
  }

  // ----- recovery -----

  /** Loads the outboxes, next seqs and in-stream marks (CrashW1); returns the marks (by stream). */
  async recover(store: Store): Promise<Record<number, number>> {
    const where = this.where;
    const byBase = new Map<string, number>();
    this.outs.forEach((o, i) => byBase.set(this.base(o), i));
    const loaded = this.outs.map(() => ({ next: 0, entries: [] as OutboxEntry[] }));
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
      const i = byBase.get(k.slice(2));
      if (i === undefined)
        bad(
          k,
          'an outbox to a step or worker this app and partition table do not have (a store of another app or table)',
        );
      const n = value(k, v);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(k, `next seq ${String(n)}`);
      loaded[i!]!.next = n as number;
    }
    for await (const [k, v] of store.scan('x/')) {
      const slash = k.lastIndexOf('/');
      const i = byBase.get(k.slice(2, slash));
      const seq = Number(k.slice(slash + 1));
      if (i === undefined) bad(k, 'an outbox entry to a step or worker this app does not have');
      const l = loaded[i!]!;
      if (!Number.isSafeInteger(seq) || seq >= l.next) bad(k, `seq beyond the next seq ${l.next}`);
      const cols = value(k, v);
      if (!Array.isArray(cols) || cols.length !== 6 || !cols.every(Array.isArray))
        bad(k, 'not an outbox entry: the store is corrupt');
      const [source, offset, sub, bornMs, partition, payloads] = cols as number[][];
      if (![offset, sub, bornMs, partition, payloads].every((c) => c!.length === source!.length))
        bad(k, 'columns of different lengths: the store is corrupt');
      const prev = l.entries.at(-1);
      if (prev !== undefined && prev.seq + 1 !== seq) bad(k, `the outbox skips from ${prev.seq} to ${seq}`);
      l.entries.push({ seq, messages: source!.length });
      this.outs[i!]!.cols.set(seq, {
        source: source!,
        offset: offset!,
        sub: sub!,
        bornMs: bornMs!,
        partition: partition!,
        payloads: payloads as unknown as RawPayload[],
      });
    }
    this.outs.forEach((o, i) => {
      const l = loaded[i]!;
      if (l.entries.length > 0 && l.entries.at(-1)!.seq !== l.next - 1)
        bad(`x/${this.base(o)}/`, `the outbox ends before the next seq ${l.next}`);
    });
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
    }
    this.must({ type: 'CrashW1', outs: loaded, marks, nowMs: this.deps.clock.monotonicMs() });
    this.handle();
    return marks;
  }

  /** After recovery: every stored entry goes out again (the downstream drops what it has). */
  replay(): void {
    this.step({ type: 'W1SendOut' });
    this.arm();
  }

  /** Figures for tests and metrics. */
  snapshot(): { readonly unacked: number; readonly pending: number; readonly entries: number } {
    let entries = 0;
    for (const o of this.ctx.outs) entries += o.entries.length + o.inFlight.length;
    return { unacked: this.ctx.unacked, pending: this.pendingCount, entries };
  }

  close(): void {
    this.closed = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
    if (this.timer !== null) this.deps.clock.clearTimer(this.timer);
    this.timer = null;
    this.actor.stop();
  }
}

/** Estimated encoded size of a payload (a string: up to 3 bytes per UTF-16 unit). */
const payloadBytes = (p: RawPayload): number => (typeof p === 'string' ? p.length * 3 : p.byteLength);

/** The pending messages of one out-stream as entries of at most MAX_ENTRY_MESSAGES messages and
 * about MAX_ENTRY_BYTES bytes (a message larger than that is an entry of its own). */
function cut(pending: readonly ChainColumns[], maxMessages: number): ChainColumns[] {
  if (pending.length === 1) {
    const p = pending[0]!;
    let bytes = 0;
    for (let i = 0; i < p.payloads.length; i++)
      bytes += payloadBytes(p.payloads[i]!) + MESSAGE_OVERHEAD_BYTES;
    if (bytes <= MAX_ENTRY_BYTES && p.payloads.length <= maxMessages) return [p];
  }
  const out: ChainColumns[] = [];
  let cur: ChainColumns | null = null;
  let curBytes = 0;
  for (const p of pending) {
    for (let i = 0; i < p.payloads.length; i++) {
      const b = payloadBytes(p.payloads[i]!) + MESSAGE_OVERHEAD_BYTES;
      if (
        cur === null ||
        cur.payloads.length >= maxMessages ||
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
