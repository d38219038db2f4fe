// Exactly-once on one worker: the shell around machines/recovery-worker.ts (docs/exactly-once.md).
// The machine decides (watermarks, output ids, one commit in flight, what may be acknowledged
// and written); this module does the store and sink work its Ready queue asks for:
//   - recover(): load states, watermarks, output counter, outbox, sink progress and committed
//     source offsets; truncate the file sinks to their recorded length;
//   - admit(): one WorkerReceive per engine batch (its source ranges), the decision read back;
//   - kick(): one WorkerPersist when none is in flight: the dirty states (frozen values, taken
//     by reference and encoded with msgpack), the watermarks, the new outputs (the outbox), the
//     sinks' progress and the committed source offsets, in one Store.writeBatch;
//   - after it: Persisted, WorkerAck (onDurable), WorkerSendOut (write the durable outputs to
//     their outbox sinks, in id order, then settle them: flushed, fsynced with `sync`), and
//     WorkerReceiveSinkAck once settled (the progress goes into the next commit, which deletes
//     those outbox entries).
// Staged sinks (a `file:` sink: ResumableSink.length, docs/exactly-once.md "File sinks without
// an outbox") skip the outbox: their outputs are written at once; kick() records each one's
// length as of the states it captures (k/<sink>: [outputs written, bytes]), settles the sink
// (fsync with `sync`) and only then writes the commit; recovery cuts the file back to it.
//
// Store keys (runtime/store/README.md):
//   s/<step>/<partition>/<n|s><key>   a key's state (msgpack); n: a number key, s: a string key
//   m/<source>                       {"": own mark, <step>: mark of the stream through step}
//   o/<first id, 15 digits>          an outbox entry: [sink name, payloads] (ids first, first+1, ...)
//   k/<sink>                         outbox sink: [last output id written, byte length];
//                                    staged sink: [outputs written, byte length], committed
//                                    with the states that produced them
//   n/output                         the next output id
//   c/<source>                       source worker: [committed offset, resume position]
import { createActor, type Actor } from 'xstate';
import { Packr } from 'msgpackr';
import {
  NO_MARK,
  drainRecoveryReady,
  recoveryWorkerMachine,
  type RecoveryReady,
  type StreamRange,
} from '../../machines/recovery-worker.ts';
import type { Application, Key, StateNode } from '../api/app.ts';
import type {
  Clock,
  RawPayload,
  SinkConnector,
  SourcePosition,
  Store,
  StoreOp,
  TimerHandle,
} from '../types.ts';
import type { ExactlyOnceOptions, RecoveryRecorder } from './types.ts';
import { freezeState } from './frozen-state.ts';
import { hashKey } from './partition.ts';

export class ExactlyOnceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExactlyOnceError';
  }
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const pack = (v: unknown): Uint8Array => packr.pack(v);
const unpack = (b: Uint8Array): unknown => packr.unpack(b);

/** Decodes a stored value; a value that is not msgpack is a corrupt store, said with its key. */
function decodeAt(b: Uint8Array, key: string, where: string): unknown {
  try {
    return unpack(b);
  } catch (err) {
    throw new ExactlyOnceError(
      `${where}: the value of ${key} in the store cannot be decoded (${(err as Error).message}): the store is corrupt; move it away to start afresh`,
    );
  }
}

/**
 * The store's fingerprint for trace validation (only with a recorder): per key, a hash of the key
 * and its value in two 32-bit FNV-1a lanes; the image is the sum of every key's, so it follows
 * a commit's ops one by one (a write replaces its key's hash, a delete removes it) and equals
 * the sum over whatever a recovery loads. Two stores with the same image hold the same keys and
 * values but with a chance of about 2^-64.
 */
class StoreImage {
  private readonly keys = new Map<string, readonly [number, number]>();
  private a = 0;
  private b = 0;

  private static hash(key: string, value: Uint8Array): readonly [number, number] {
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    for (let i = 0; i < value.length; i++) {
      const c = value[i]!;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    return [a >>> 0, b >>> 0];
  }

  set(key: string, value: Uint8Array | null): void {
    const old = this.keys.get(key);
    if (old !== undefined) {
      this.a = (this.a - old[0]) >>> 0;
      this.b = (this.b - old[1]) >>> 0;
      this.keys.delete(key);
    }
    if (value === null) return;
    const h = StoreImage.hash(key, value);
    this.keys.set(key, h);
    this.a = (this.a + h[0]) >>> 0;
    this.b = (this.b + h[1]) >>> 0;
  }

  toString(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

/** Outputs produced and not yet committed beyond which a source's emit waits for the commit. */
export const MAX_UNCOMMITTED_OUTPUTS = 1 << 18;
/** Durable outputs not yet written to their sinks beyond which a source's emit waits. */
export const MAX_UNWRITTEN_OUTPUTS = 1 << 20;
/** The least time committed source offsets wait for a commit of data to ride along with (at
 * most until the commit interval is up; see commitSource). */
export const SOURCE_COMMIT_LINGER_MS = 5;
/** Default least time between the starts of two commits (ExactlyOnceOptions.commitIntervalMs):
 * LMDB's write blocks the thread for its flush (1-6 ms with `batch` and `sync` on this machine), so
 * one commit per source batch would spend most of the time flushing. */
export const DEFAULT_COMMIT_INTERVAL_MS = 20;
/** Commits adapt to the store's speed: the next one starts no sooner than this many times the
 * last one took (so at most about a tenth of the time goes to committing when commits are slow),
 * within MAX_COMMIT_INTERVAL_MS. */
export const COMMIT_COST_FACTOR = 9;
export const MAX_COMMIT_INTERVAL_MS = 250;

/** The state steps a source's messages reach through stateless steps. */
export function statesReachedFrom(app: Application, sourceNodeId: number): StateNode[] {
  const out: StateNode[] = [];
  const seen = new Set<number>();
  const visit = (id: number): void => {
    for (const m of app.nodes[id]!.next) {
      if (seen.has(m)) continue;
      seen.add(m);
      const n = app.nodes[m]!;
      if (n.kind === 'state') out.push(n);
      else if (n.kind !== 'sink') visit(m);
    }
  };
  visit(sourceNodeId);
  return out;
}

/** One key's state in a state step, as the engine keeps it. `d`: 1 while in the dirty list. */
export interface StateEntry {
  s: unknown;
  readonly p: number;
  readonly k: Key;
  d: number;
}

/** What this module needs of a state step operator. */
export interface EoStateStep {
  readonly node: StateNode;
  /** Takes the entries changed since the last call (their `d` is reset by the caller). */
  takeDirty(): StateEntry[];
  /** Whether this worker owns partition p. */
  owns(p: number): boolean;
  readonly partitionCount: number;
  /** Loads a recovered state (frozen). */
  load(key: Key, p: number, state: unknown): void;
}

/** A sink as this module sees it: its connector (resumable). One whose resumable has `length`
 * is staged (written at once, its length committed); the others go through the outbox. */
export interface EoSink {
  readonly name: string;
  readonly connector: SinkConnector;
}

interface OutboxEntry {
  readonly first: number;
  readonly count: number;
  readonly sink: number;
  readonly payloads: readonly RawPayload[];
}

const ID_DIGITS = 15;
const outboxKey = (id: number): string => `o/${String(id).padStart(ID_DIGITS, '0')}`;

export function stateKey(step: string, p: number, key: Key): string {
  return `s/${step}/${p}/${typeof key === 'number' ? `n${key}` : `s${key}`}`;
}

function parseStateKey(step: string, storeKey: string, where: string): { p: number; key: Key } {
  const rest = storeKey.slice(step.length + 3);
  const slash = rest.indexOf('/');
  const p = Number(rest.slice(0, slash));
  const tag = rest.charAt(slash + 1);
  const body = rest.slice(slash + 2);
  if (slash < 1 || !Number.isSafeInteger(p) || (tag !== 'n' && tag !== 's'))
    throw new ExactlyOnceError(
      `${where}: state key ${JSON.stringify(storeKey)} is malformed: the store is corrupt`,
    );
  const key: Key = tag === 'n' ? Number(body) : body;
  if (typeof key === 'number' && !Number.isFinite(key))
    throw new ExactlyOnceError(`${where}: state key ${JSON.stringify(storeKey)} has a bad number`);
  return { p, key };
}

function tuple(v: unknown, n: number, what: string, where: string): unknown[] {
  if (!Array.isArray(v) || v.length !== n)
    throw new ExactlyOnceError(`${where}: ${what} is not a ${n}-tuple: the store is corrupt`);
  return v;
}

function nat(v: unknown, what: string, where: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new ExactlyOnceError(
      `${where}: ${what} is ${JSON.stringify(v)}, not an integer >= ${min}: the store is corrupt`,
    );
  return v;
}

/** What the last recover() found (metrics: runtime/metrics). `resumed`: the store held
 * anything (states, marks, outputs, sink progress or committed offsets), so this start was a
 * recovery rather than a fresh start. */
export interface RecoveryStats {
  readonly seconds: number;
  readonly states: number;
  readonly outboxEntries: number;
  readonly outboxMessages: number;
  readonly resumed: boolean;
}

/** A source's committed point, as recovered or as last committed. */
export type CommittedSource = SourcePosition & { readonly committed: number };

/** What exactly-once's commit needs of the state -> state outboxes (chain.ts). */
export interface EoChain {
  /** Loads its part of the store; returns the marks of its streams. */
  recover(store: Store): Promise<Record<number, number>>;
  /** At the start of a commit (with the commit's marks): its store ops. */
  ops(marks: Readonly<Record<number, number>>): StoreOp[];
  /** Whether it has ops for a commit even if nothing else changed. */
  hasWork(): boolean;
  /** The commit is durable (called before the marks are reported). */
  persisted(): void;
}

export interface ExactlyOnceDeps {
  readonly app: Application;
  readonly workerName: string;
  readonly clock: Clock;
  /** Whether this worker runs the sources (their own share is one stream per source). */
  readonly runSources: boolean;
  /** Whether this worker owns at least one partition. */
  readonly ownsPartitions: boolean;
  readonly steps: readonly EoStateStep[];
  /** The sinks whose outputs go through the outbox (resumable ones), by index. */
  readonly sinks: readonly EoSink[];
  /** State -> state outboxes (runtime/engine/chain.ts): their streams are the machine's streams
   * beyond the sources' (stored by that module, not under m/); their ops ride in each commit. */
  readonly chain?: EoChain;
  /** Called on a store or sink failure (the engine stops). */
  fail(err: unknown): void;
}

interface Waiter {
  resolve(): void;
}

export class ExactlyOnce {
  private readonly actor: Actor<typeof recoveryWorkerMachine>;
  private readonly stride: number;
  private readonly where: string;
  /** Per source index: the streams whose marks make its durable mark here (empty: none). */
  private readonly expected: number[][];
  /** Outputs produced since the last WorkerPersist, in order. */
  private pending: { sink: number; payloads: readonly RawPayload[] }[] = [];
  private pendingCount = 0;
  /** Durable outputs not yet acknowledged by their sinks, in id order; `sentIndex`: written. */
  private outbox: OutboxEntry[] = [];
  private unwritten = 0;
  /** Recorded in the next commit: the sinks' progress and the outbox entries to delete. */
  private progress = new Map<number, readonly [number, number]>();
  private toDelete: number[] = [];
  /** Committed source offsets to record in the next commit (c/<source>), and after it. */
  private sourceCommits = new Map<number, CommittedSource>();
  private afterCommit: (() => void)[] = [];
  private lastMarksWritten = new Map<number, string>();
  /** Per sink index: whether it is staged (written at once, no outbox). */
  private readonly staged: boolean[];
  /** Per staged sink: outputs written to it so far (recorded with its length). */
  private readonly stagedOutputs: number[];
  /** Staged sinks written since the last commit started. */
  private readonly stagedTouched = new Set<number>();
  /** Staged writes that asked to wait (backpressure) and have not resolved. */
  private stagedBusy = 0;
  private writing: Promise<void> | null = null;
  private sinkChain: Promise<void> = Promise.resolve();
  private sinkBusy = 0;
  private lingerTimer: TimerHandle | null = null;
  private intervalTimer: TimerHandle | null = null;
  private lastCommitMs = -Infinity;
  private readonly intervalMs: number;
  /** How long the last commit took, from its start to its resolution (ms). */
  private lastCommitCostMs = 0;
  private forceExtra = false;
  private waiters: Waiter[] = [];
  private failed = false;
  /** Committed writes so far (statistics, tests). */
  commits = 0;
  /** What recover() found, once it has run. */
  private recovery: RecoveryStats | null = null;
  /** Trace validation: the recorder and the store's fingerprint (both null without one). */
  private readonly recorder: RecoveryRecorder | null;
  private readonly image: StoreImage | null;

  constructor(
    private readonly opts: ExactlyOnceOptions,
    private readonly deps: ExactlyOnceDeps,
  ) {
    this.actor = createActor(recoveryWorkerMachine).start();
    this.recorder = opts.recorder ?? null;
    this.image = this.recorder !== null ? new StoreImage() : null;
    this.stride = deps.app.nodes.length + 1;
    this.intervalMs = opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    if (!(this.intervalMs >= 0 && Number.isFinite(this.intervalMs)))
      throw new ExactlyOnceError(`commitIntervalMs must be a finite number >= 0, not ${this.intervalMs}`);
    this.where = `worker "${deps.workerName}"`;
    this.staged = deps.sinks.map((s) => s.connector.resumable?.length !== undefined);
    this.stagedOutputs = deps.sinks.map(() => 0);
    this.expected = deps.app.sources.map((src) => {
      if (deps.runSources) return [this.stream(src.sourceId, null)];
      if (!deps.ownsPartitions) return [];
      return statesReachedFrom(deps.app, src.id).map((st) => this.stream(src.sourceId, st.id));
    });
  }

  /** The stream of source `source`: its own share (stateNodeId null) or through a state step. */
  stream(source: number, stateNodeId: number | null): number {
    return source * this.stride + (stateNodeId === null ? 0 : stateNodeId + 1);
  }

  private sourceOfStream(stream: number): number {
    return Math.floor(stream / this.stride);
  }

  private labelOfStream(stream: number): string {
    const r = stream % this.stride;
    return r === 0 ? '' : this.deps.app.nodes[r - 1]!.name;
  }

  private ctx() {
    return this.actor.getSnapshot().context;
  }

  private send(event: Parameters<typeof this.actor.send>[0]): RecoveryReady[] {
    this.actor.send(event);
    return drainRecoveryReady(this.ctx());
  }

  // ----- recovery -----

  /** Loads everything from the store (see the key list at the top); returns the committed
   * point of each source (by source index; absent: never committed). */
  async recover(): Promise<Map<number, CommittedSource>> {
    const store = this.opts.store;
    const where = this.where;
    const app = this.deps.app;
    const t0 = this.deps.clock.monotonicMs();
    let states = 0;
    let found = false;
    for (const step of this.deps.steps) {
      const prefix = `s/${step.node.name}/`;
      for await (const [k, v] of store.scan(prefix)) {
        const { p, key } = parseStateKey(step.node.name, k, where);
        if (!(p >= 0 && p < step.partitionCount) || hashKey(key) % step.partitionCount !== p)
          throw new ExactlyOnceError(
            `${where}: the store holds key ${JSON.stringify(key)} of step "${step.node.name}" under partition ${p}, where it does not hash: the store is corrupt or of another app version`,
          );
        if (!step.owns(p))
          throw new ExactlyOnceError(
            `${where}: the store holds state of step "${step.node.name}" partition ${p}, which this worker no longer owns; a worker's store is tied to its partitions (start it with the same partition table, or move the store away)`,
          );
        step.load(key, p, freezeState(decodeAt(v, k, where), step.node.name));
        states++;
      }
    }
    const marks: Record<number, number> = {};
    for (const src of app.sources) {
      const raw = await store.get(`m/${src.name}`);
      if (raw === undefined) continue;
      found = true;
      const m = decodeAt(raw, `m/${src.name}`, where) as Record<string, unknown> | null;
      if (m === null || typeof m !== 'object')
        throw new ExactlyOnceError(
          `${where}: the marks of source "${src.name}" are malformed: the store is corrupt`,
        );
      for (const [label, mark] of Object.entries(m)) {
        const through = label === '' ? null : app.states.find((s) => s.name === label);
        if (through === undefined)
          throw new ExactlyOnceError(
            `${where}: the store holds a mark of source "${src.name}" through step "${label}", which app "${app.name}" does not have`,
          );
        const stream = this.stream(src.sourceId, through === null ? null : through.id);
        marks[stream] = nat(mark, `the mark of source "${src.name}" (${label || 'own'})`, where, NO_MARK);
      }
      this.lastMarksWritten.set(src.sourceId, Buffer.from(raw).toString('base64'));
    }
    const rawNext = await store.get('n/output');
    const nextOutput =
      rawNext === undefined ? 1 : nat(decodeAt(rawNext, 'n/output', where), 'the next output id', where, 1);
    const sinkIndex = new Map(this.deps.sinks.map((s, i) => [s.name, i]));
    for await (const [k, v] of store.scan('o/')) {
      const first = nat(Number(k.slice(2)), `outbox key ${k}`, where, 1);
      const [name, payloads] = tuple(decodeAt(v, k, where), 2, `outbox entry ${k}`, where);
      const sink = sinkIndex.get(name as string);
      if (sink === undefined || !Array.isArray(payloads))
        throw new ExactlyOnceError(
          `${where}: outbox entry ${k} is for sink ${JSON.stringify(name)}, which is not an exactly-once sink of app "${app.name}" here`,
        );
      if (this.staged[sink])
        throw new ExactlyOnceError(
          `${where}: outbox entry ${k} is for sink "${name as string}", which writes without an outbox: the store is corrupt`,
        );
      const prev = this.outbox.at(-1);
      if (prev !== undefined && prev.first + prev.count !== first)
        throw new ExactlyOnceError(
          `${where}: the outbox skips from output ${prev.first + prev.count - 1} to ${first}: the store is corrupt`,
        );
      this.outbox.push({ first, count: payloads.length, sink, payloads: payloads as RawPayload[] });
      this.unwritten += payloads.length;
    }
    const last = this.outbox.at(-1);
    if (last !== undefined && last.first + last.count !== nextOutput)
      throw new ExactlyOnceError(
        `${where}: the outbox ends at output ${last.first + last.count - 1} but the next output id is ${nextOutput}: the store is corrupt`,
      );
    const floor = this.outbox.length > 0 ? this.outbox[0]!.first - 1 : nextOutput - 1;
    for (let i = 0; i < this.deps.sinks.length; i++) {
      const s = this.deps.sinks[i]!;
      const raw = await store.get(`k/${s.name}`);
      let bytes = 0;
      if (raw !== undefined) {
        found = true;
        const [n, b] = tuple(
          decodeAt(raw, `k/${s.name}`, where),
          2,
          `the progress of sink "${s.name}"`,
          where,
        );
        const what = this.staged[i] ? 'the outputs written to' : 'the last output id of';
        const count = nat(n, `${what} sink "${s.name}"`, where);
        if (this.staged[i]) this.stagedOutputs[i] = count;
        bytes = nat(b, `the byte length of sink "${s.name}"`, where);
      }
      await s.connector.resumable!.truncate(bytes);
    }
    const committed = new Map<number, CommittedSource>();
    if (this.deps.runSources) {
      for (const src of app.sources) {
        const raw = await store.get(`c/${src.name}`);
        if (raw === undefined) continue;
        found = true;
        const [offset, position] = tuple(
          decodeAt(raw, `c/${src.name}`, where),
          2,
          `the committed offset of source "${src.name}"`,
          where,
        );
        const c = nat(offset, `the committed offset of source "${src.name}"`, where, NO_MARK);
        committed.set(src.sourceId, {
          committed: c,
          offset: c + 1,
          position: nat(position, `the resume position of source "${src.name}"`, where),
        });
      }
    }
    if (this.deps.chain !== undefined) Object.assign(marks, await this.deps.chain.recover(store));
    // Trace validation: the fingerprint of the whole store as loaded.
    if (this.image !== null) for await (const [k, v] of store.scan('')) this.image.set(k, v);
    const ready = this.send({ type: 'Recover', marks, nextOutput, outboxFloor: floor });
    this.recorder?.record({
      p: 'recovery',
      role: 'worker',
      ev: 'Recover',
      marks: { ...marks },
      nextOutput,
      outboxFloor: floor,
      image: String(this.image),
    });
    if (this.actor.getSnapshot().value !== 'up')
      throw new ExactlyOnceError(
        `${where}: the recovery machine refused the store's contents (next output ${nextOutput}, outbox floor ${floor})`,
      );
    this.recovery = {
      seconds: (this.deps.clock.monotonicMs() - t0) / 1000,
      states,
      outboxEntries: this.outbox.length,
      outboxMessages: this.unwritten,
      resumed: found || states > 0 || rawNext !== undefined || this.outbox.length > 0,
    };
    this.handle(ready);
    return committed;
  }

  /** After recovery: report the durable marks, write the outbox to the sinks again. */
  replay(): void {
    this.handle(this.send({ type: 'WorkerAck' }));
    this.handle(this.send({ type: 'WorkerSendOut' }));
  }

  // ----- the data path -----

  /** One engine batch's ranges: per range, the mark above which its messages apply, or null
   * (dropped whole: a duplicate, or a gap, which is reported with onGap). */
  admit(ranges: readonly StreamRange[]): (number | null)[] {
    const ready = this.send({ type: 'WorkerReceive', ranges });
    if (this.recorder !== null)
      this.recorder.record({
        p: 'recovery',
        role: 'worker',
        ev: 'WorkerReceive',
        ranges: ranges.map((r) => [r.stream, r.from, r.through] as const),
        decisions: ready.map((r) => (r.kind === 'admit' ? r.above : r.kind === 'duplicate' ? 'd' : 'g')),
      });
    if (ready.length !== ranges.length)
      throw new ExactlyOnceError(
        `${this.where}: a batch with source ranges ${ranges.map((r) => `(${r.from}, ${r.through}]`).join(', ')} was refused by the recovery machine (a range runs backwards, or names a stream twice): the sender is broken`,
      );
    const out: (number | null)[] = [];
    for (const r of ready) {
      if (r.kind === 'admit') out.push(r.above);
      else {
        out.push(null);
        if (r.kind === 'gap') this.opts.onGap(this.sourceOfStream(r.stream), r.rewindTo);
      }
    }
    return out;
  }

  /** Outputs of a resumable sink: a staged sink's are written now (their length goes into the
   * next commit); an outbox sink's go into the outbox with the next commit. */
  addOutputs(sink: number, payloads: readonly RawPayload[]): void {
    if (payloads.length === 0) return;
    if (this.staged[sink]) {
      if (this.failed) return;
      const r = this.deps.sinks[sink]!.connector.write({ payloads, count: payloads.length });
      this.stagedOutputs[sink] += payloads.length;
      this.stagedTouched.add(sink);
      if (r) {
        this.stagedBusy++;
        r.then(
          () => {
            this.stagedBusy--;
            this.wake();
          },
          (err: unknown) => this.failWith(err),
        );
      }
      return;
    }
    this.pending.push({ sink, payloads });
    this.pendingCount += payloads.length;
  }

  /** Whether a source should wait before emitting more (see room()). */
  backlogged(): boolean {
    return this.commitBacklogged() || this.stagedBusy > 0;
  }

  /** A backlog that only a commit works off (the outputs waiting for it, or for the sink writes
   * after it): the next commit does not wait for the interval. A staged sink's write in flight
   * (stagedBusy) is not one: it ends by itself, and a commit would only wait for it. */
  private commitBacklogged(): boolean {
    return this.pendingCount >= MAX_UNCOMMITTED_OUTPUTS || this.unwritten >= MAX_UNWRITTEN_OUTPUTS;
  }

  /** Resolves when the backlog has gone down (after a commit or a sink write). */
  room(): Promise<void> {
    if (!this.backlogged()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ resolve }));
  }

  private wake(): void {
    if (this.waiters.length === 0 || this.backlogged()) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve();
  }

  /** Source worker: record source `source` committed through `c` (c/<source> in the next
   * commit), then `after` (the connector's commit). */
  commitSource(source: number, c: CommittedSource, after: () => void): void {
    this.sourceCommits.set(source, c);
    this.afterCommit.push(after);
    if (this.lingerTimer === null && !this.failed) {
      // They ride along with the next commit of data, due when the interval is up: forcing one
      // sooner would make every commit's offsets force the next (a commit every few ms, whatever
      // commitIntervalMs says). With no data to commit by then, they are committed alone.
      const due =
        this.intervalMs > 0
          ? this.lastCommitMs + this.commitIntervalNow() - this.deps.clock.monotonicMs()
          : 0;
      this.lingerTimer = this.deps.clock.setTimer(Math.max(SOURCE_COMMIT_LINGER_MS, due), () => {
        this.lingerTimer = null;
        if (this.sourceCommits.size > 0) {
          this.forceExtra = true;
          this.kick();
        }
      });
    }
  }

  /** The least time between the starts of two commits: commitIntervalMs, longer when commits
   * have been costly. */
  private commitIntervalNow(): number {
    return Math.max(
      this.intervalMs,
      Math.min(MAX_COMMIT_INTERVAL_MS, this.lastCommitCostMs * COMMIT_COST_FACTOR),
    );
  }

  /** Starts a commit if none is in flight, there is something to commit and the last one
   * started at least commitIntervalMs ago (else a timer starts it then); a backlog or a flush
   * does not wait for the interval. */
  kick(): void {
    if (this.writing !== null || this.failed) return;
    if (!this.forceExtra && !this.commitBacklogged() && this.intervalMs > 0) {
      const wait = this.lastCommitMs + this.commitIntervalNow() - this.deps.clock.monotonicMs();
      if (wait > 0) {
        this.intervalTimer ??= this.deps.clock.setTimer(wait, () => {
          this.intervalTimer = null;
          this.kick();
        });
        return;
      }
    }
    const extra = (this.forceExtra && this.sourceCommits.size > 0) || this.stagedTouched.size > 0;
    const ready = this.send({
      type: 'WorkerPersist',
      outputs: this.pendingCount,
      extra: extra || this.deps.chain?.hasWork() === true,
    });
    const p = ready.find((r) => r.kind === 'persist');
    if (p === undefined || p.kind !== 'persist') return;
    this.forceExtra = false;
    this.lastCommitMs = this.deps.clock.monotonicMs();
    if (this.intervalTimer !== null) {
      this.deps.clock.clearTimer(this.intervalTimer);
      this.intervalTimer = null;
    }
    const ops = this.buildOps(p);
    if (this.recorder !== null) {
      for (const op of ops) this.image!.set(op.key, op.value);
      this.recorder.record({
        p: 'recovery',
        role: 'worker',
        ev: 'WorkerPersist',
        marks: p.marks,
        firstOutput: p.firstOutput,
        outputs: p.outputs,
        nextOutput: p.nextOutput,
        outboxFloor: p.outboxFloor,
        image: String(this.image),
      });
    }
    const after = this.afterCommit;
    this.afterCommit = [];
    const started = this.deps.clock.monotonicMs();
    // Staged sinks: their lengths in `ops` are as of now; settling now covers at least those
    // bytes (later writes only add beyond), and the commit waits for it: a commit never
    // records a length the file (or, with `sync`, the disk) does not hold.
    const settles: Promise<number>[] = [];
    const fsync = this.opts.durability === 'sync';
    for (const sink of this.stagedTouched)
      settles.push(this.deps.sinks[sink]!.connector.resumable!.settle(fsync));
    this.stagedTouched.clear();
    const store = this.opts.store;
    const write =
      settles.length === 0 ? store.writeBatch(ops) : Promise.all(settles).then(() => store.writeBatch(ops));
    this.writing = write.then(
      () => {
        this.lastCommitCostMs = this.deps.clock.monotonicMs() - started;
        this.persisted(after);
      },
      (err: unknown) => this.failWith(err),
    );
  }

  private buildOps(p: Extract<RecoveryReady, { kind: 'persist' }>): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const step of this.deps.steps) {
      const name = step.node.name;
      for (const e of step.takeDirty()) {
        e.d = 0;
        ops.push({ key: stateKey(name, e.p, e.k), value: pack(e.s) });
      }
    }
    const bySource = new Map<number, Record<string, number>>();
    for (const k in p.marks) {
      const stream = Number(k);
      const s = this.sourceOfStream(stream);
      if (s >= this.deps.app.sources.length) continue; // a chain stream: chain.ops() stores it
      let m = bySource.get(s);
      if (m === undefined) bySource.set(s, (m = {}));
      m[this.labelOfStream(stream)] = p.marks[stream]!;
    }
    for (const [s, m] of bySource) {
      const value = pack(m);
      const sig = Buffer.from(value).toString('base64');
      if (this.lastMarksWritten.get(s) === sig) continue;
      this.lastMarksWritten.set(s, sig);
      ops.push({ key: `m/${this.deps.app.sources[s]!.name}`, value });
    }
    let id = p.firstOutput;
    for (const o of this.pending) {
      ops.push({ key: outboxKey(id), value: pack([this.deps.sinks[o.sink]!.name, o.payloads]) });
      this.outbox.push({ first: id, count: o.payloads.length, sink: o.sink, payloads: o.payloads });
      this.unwritten += o.payloads.length;
      id += o.payloads.length;
    }
    if (id !== p.nextOutput)
      throw new ExactlyOnceError(
        `${this.where}: outputs ${p.firstOutput}..${id - 1} do not end at ${p.nextOutput - 1}`,
      );
    if (p.outputs > 0) ops.push({ key: 'n/output', value: pack(p.nextOutput) });
    this.pending = [];
    this.pendingCount = 0;
    for (const [sink, [lastId, bytes]] of this.progress)
      ops.push({ key: `k/${this.deps.sinks[sink]!.name}`, value: pack([lastId, bytes]) });
    this.progress.clear();
    for (const sink of this.stagedTouched) {
      const s = this.deps.sinks[sink]!;
      ops.push({
        key: `k/${s.name}`,
        value: pack([this.stagedOutputs[sink], s.connector.resumable!.length!()]),
      });
    }
    for (const first of this.toDelete) ops.push({ key: outboxKey(first), value: null });
    this.toDelete = [];
    for (const [s, c] of this.sourceCommits)
      ops.push({ key: `c/${this.deps.app.sources[s]!.name}`, value: pack([c.committed, c.position]) });
    this.sourceCommits.clear();
    if (this.deps.chain !== undefined) for (const op of this.deps.chain.ops(p.marks)) ops.push(op);
    return ops;
  }

  private persisted(after: readonly (() => void)[]): void {
    this.writing = null;
    this.commits++;
    this.deps.chain?.persisted();
    const ready = this.send({ type: 'Persisted' });
    this.recorder?.record({ p: 'recovery', role: 'worker', ev: 'Persisted' });
    this.handle(ready);
    for (const f of after) f();
    this.handle(this.send({ type: 'WorkerAck' }));
    this.handle(this.send({ type: 'WorkerSendOut' }));
    this.wake();
    this.kick();
  }

  private handle(ready: readonly RecoveryReady[]): void {
    for (const r of ready) {
      if (r.kind === 'ack') {
        this.recorder?.record({ p: 'recovery', role: 'worker', ev: 'WorkerAck', marks: r.marks });
        this.opts.onDurable(this.durableBySource(r.marks));
      } else if (r.kind === 'sendOut') {
        this.recorder?.record({
          p: 'recovery',
          role: 'worker',
          ev: 'WorkerSendOut',
          from: r.from,
          through: r.through,
        });
        this.writeOut(r.from, r.through);
      }
    }
  }

  /** Per source index: the smallest durable mark over the streams that make it here. */
  private durableBySource(marks: Readonly<Record<number, number>>): Record<number, number> {
    const out: Record<number, number> = {};
    for (let s = 0; s < this.expected.length; s++) {
      const streams = this.expected[s]!;
      if (streams.length === 0) continue;
      let m = Infinity;
      for (const st of streams) m = Math.min(m, marks[st] ?? NO_MARK);
      out[s] = m;
    }
    return out;
  }

  /** WorkerSendOut's outputs from..through: written to their sinks in id order, settled, then
   * acknowledged (WorkerReceiveSinkAck). One such write at a time. */
  private writeOut(from: number, through: number): void {
    this.sinkBusy++;
    this.sinkChain = this.sinkChain
      .then(async () => {
        if (this.failed) return;
        const entries = this.outbox.filter((e) => e.first >= from && e.first <= through);
        const lastOf = new Map<number, number>();
        for (const e of entries) {
          const c = this.deps.sinks[e.sink]!.connector;
          const r = c.write({ payloads: e.payloads, count: e.count, firstOutputId: e.first });
          if (r) await r;
          lastOf.set(e.sink, e.first + e.count - 1);
        }
        const fsync = this.opts.durability === 'sync';
        for (const [sink, lastId] of lastOf) {
          const bytes = await this.deps.sinks[sink]!.connector.resumable!.settle(fsync);
          this.progress.set(sink, [lastId, bytes]);
        }
        const done = new Set(entries);
        this.outbox = this.outbox.filter((e) => !done.has(e));
        for (const e of entries) {
          this.toDelete.push(e.first);
          this.unwritten -= e.count;
        }
        const ready = this.send({ type: 'WorkerReceiveSinkAck', through });
        if (ready.length > 0)
          this.recorder?.record({ p: 'recovery', role: 'worker', ev: 'WorkerReceiveSinkAck', from, through });
        if (ready.length === 0)
          throw new ExactlyOnceError(
            `${this.where}: the sinks acknowledged outputs up to ${through}, which the recovery machine refused`,
          );
        this.wake();
        this.kick();
      })
      .catch((err: unknown) => this.failWith(err))
      .finally(() => this.sinkBusy--);
  }

  private failWith(err: unknown): void {
    this.writing = null;
    if (this.failed) return;
    this.failed = true;
    if (this.lingerTimer !== null) this.deps.clock.clearTimer(this.lingerTimer);
    this.lingerTimer = null;
    if (this.intervalTimer !== null) this.deps.clock.clearTimer(this.intervalTimer);
    this.intervalTimer = null;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve();
    this.deps.fail(err);
  }

  /** Commits until everything applied is durable and written, the sinks' progress recorded
   * and the committed source offsets persisted. */
  async flush(): Promise<void> {
    for (let rounds = 0; !this.failed; rounds++) {
      if (rounds > 1_000_000) throw new ExactlyOnceError(`${this.where}: the final commit does not settle`);
      this.forceExtra = true;
      this.kick();
      if (this.writing !== null) {
        await this.writing;
        continue;
      }
      if (this.sinkBusy > 0) {
        await this.sinkChain;
        continue;
      }
      break;
    }
    if (this.lingerTimer !== null) {
      this.deps.clock.clearTimer(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.intervalTimer !== null) {
      this.deps.clock.clearTimer(this.intervalTimer);
      this.intervalTimer = null;
    }
  }

  /** For tests and metrics: the machine's numbers. */
  snapshot(): {
    readonly marks: Readonly<Record<number, number>>;
    readonly durableMarks: Readonly<Record<number, number>>;
    readonly nextOutput: number;
    readonly sinkAcked: number;
    readonly commits: number;
    /** Durable outputs not yet acknowledged by their sinks: entries and messages. */
    readonly outboxEntries: number;
    readonly outboxMessages: number;
    readonly recovery: RecoveryStats | null;
  } {
    const c = this.ctx();
    return {
      outboxEntries: this.outbox.length,
      outboxMessages: this.unwritten,
      recovery: this.recovery,
      marks: { ...c.marks },
      durableMarks: c.durableMarks,
      nextOutput: c.nextOutput,
      sinkAcked: c.sinkAcked,
      commits: this.commits,
    };
  }
}
