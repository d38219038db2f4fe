// Conformance adapter for specs/RecoveryChain.tla (exactly-once through two stateful workers in a
// row). One file: the adapter is one unit (the shells' orchestration, the refinement mapping and
// the refusals read the same runtime objects), and its mutations are a few lines each.
//
// The source role runs on the runtime's commit tracker (runtime/engine/source-commit.ts). W1 and
// W2 each run what a worker runs whose state step feeds, or is fed by, a state step on a peer:
// the chain outbox shell of runtime/engine/chain.ts (ChainOutbox, running machines/chain-outbox.ts:
// numbering entries in a commit, sending once durable, releasing on acknowledgement, resending
// after a restart and after silence, the end-to-end gate, the in-stream's mark and
// acknowledgement) and machines/recovery-worker.ts (the dedup of the source's offsets at W1, of
// W1's entries at W2 (entry `seq` is the range (seq - 1, seq] of an in-stream), the group commit,
// W2's sink outbox). The application is source -> A (state) -> B (state) -> sink with A's key on
// W1 and B's on W2. The adapter does what runtime/engine/exactly-once.ts and worker.ts do around
// them: per worker an in-memory store written in one piece per commit (the chain shell's ops with
// the state and the marks), the fold (per message, how many times it was applied), the outputs,
// the connections (a queue per direction: what a shell sent, then what is on the wire) and a
// manual clock for the resend timer. A restart awaits ChainOutbox.recover() on the store.
//
// Offsets and ids: spec offsets are 1..Msgs (0: none), the runtime's from 0 (NO_MARK = -1): runtime
// offset = spec offset - 1. An entry's payloads are the messages it carries; the shells cut one
// message per entry (ChainDeps.maxEntryMessages = 1: the spec's outputs are single messages), so
// entry seq = message - 1, W2's in-stream mark (a seq) is mark2 - 1, and every entry W2 admits
// is checked to carry message seq + 1.
//
// specs/RecoveryChain.cfg (Msgs = 2) is not replayed: its W1Ack may report any offset up to the
// least unacknowledged output (Acked1, per message), while the runtime's gate reports per commit
// (the marks of the newest commit whose entries are all acknowledged); a commit of two messages
// whose first output alone is acknowledged is reported by the spec, not by the runtime. See
// conformance/README.md.
//
//   SourceSend         tracker.read(0, srcTx - 1); the message goes on the connection to W1
//   SourceReceiveAck   tracker.report(w1, {0: ackW1 - 1})
//   W1Receive          the head message as a batch of one: WorkerReceive with (m - 2, m - 1]; on
//                      admit the fold + 1 and A's output for B's key to chain.add()
//   W1Persist          WorkerPersist (extra: chain.hasWork()), chain.ops(marks) with the state and
//                      mark in one store write, then as ExactlyOnce.persisted: chain.persisted()
//                      (Persisted, W1SendOut: the sends queued), Persisted, WorkerAck whose
//                      durable marks go to chain.durable() (the gate: maybe a report)
//   W1Ack              the latest report the gate released goes on the connection (ackW1); to a
//                      source worker that restarted, the last one again
//   W1SendOut          the next entry the shell sent goes on the wire to W2 (not one the shell
//                      released meanwhile: W2 acknowledged it)
//   W1ReceiveAck       the acknowledgement on the wire from W2: chain.onAck()
//   W2Receive          the head entry: WorkerReceive (seq - 1, seq] on the in-stream; on admit the
//                      fold + 1 and the sink output pending; a duplicate or a gap: chain.dropped()
//   W2Persist          WorkerPersist, chain.ops(marks) (the in-stream's `u/` mark) with the state
//                      and the sink outbox in one write, chain.persisted(), Persisted, WorkerAck
//                      -> chain.durable() (the gate releases the in-stream's acknowledgement)
//   W2Ack              the acknowledgement W2's shell sent goes on the wire (ackW2); if none is
//                      queued (W1 restarted since), chain.dropped() acknowledges again (W2Ack)
//   W2SendOut, W2ReceiveSinkAck, SinkReceive   as recovery.ts's worker and sink
//   CrashW1            a new ChainOutbox recovers from W1's store, the recovery machine Recovers,
//                      then WorkerAck -> chain.durable() and chain.replay() (the stored outbox
//                      sent again); the connections' contents are lost; the tracker rewinds the
//                      source to committed + 1
//   CrashW2            W2 restarts likewise; its connections are lost; W1 learns of it only by
//                      silence: the clock moves on by MAX_RESEND_AFTER_MS and W1's resend timer
//                      fires (CrashW2, W1SendOut)
//   CrashSource        a fresh tracker from the source worker's store; the connection to W1 lost
//   Done               nothing, where everything is committed, applied once at W2, written, and
//                      both outboxes are empty
//
// The refinement mapping: committed, srcTx from the tracker; state1 W1's fold, mark1 its recovery
// machine's mark + 1, out1 the messages pending for the next commit and of the entries the shell
// holds unacknowledged, outTx1 the message of the entry last put on the wire this round, acked2
// the highest acknowledgement delivered to W1 since it started, dState1, dMark1, dOut1 W1's store
// (dOut1: its `x/` entries); state2, mark2 (the in-stream's mark + 1), out2, outTx2 as
// recovery.ts's worker, dState2, dMark2 (the `u/` mark + 1), dOut2 W2's store; written, sinkMark
// the sink's; the wires' contents; crashes the adapter's count.
//
// Mutations, on the outbox machine (ChainDeps.machine) and the recovery machine (`provide`):
// no-dedup2 (W2 applies every entry), send-early (an entry is sent as its commit starts, before
// it is durable: chain.ts's ops() refuses the decision), release-on-send (an entry leaves the
// outbox when it is sent, not when W2 acknowledges it), no-gate (the sources' marks are reported
// without waiting for W2's acknowledgements), forget-resend (a restarted W1 takes its stored
// outbox as sent already); on the shell: ack-early2 (W2 acknowledges an entry as it applies it,
// before its commit; the machines cannot: the gate acknowledges a durable commit's marks only).
import { fileURLToPath } from 'node:url';
import { unpack } from 'msgpackr';
import { assign, createActor, type Actor } from 'xstate';
import { defineApp, type Application } from '../runtime/api/app.ts';
import { stringCodec } from '../runtime/api/codec.ts';
import { ChainOutbox } from '../runtime/engine/chain.ts';
import { SourceCommitTracker } from '../runtime/engine/source-commit.ts';
import type { Clock, Logger, Store, StoreOp, TimerHandle } from '../runtime/types.ts';
import {
  NO_MARK,
  drainRecoveryReady,
  recoveryWorkerMachine,
  type RecoveryWorkerEvent,
} from '../machines/recovery-worker.ts';
import {
  MAX_RESEND_AFTER_MS,
  NO_SEQ,
  RECOVERY_CHAIN_ACTION_ROLES,
  chainOutboxMachine,
  chainOutboxStep,
  type ChainOutboxContext,
  type ChainOutboxEvent,
} from '../machines/chain-outbox.ts';
import { fcnFromPairs, setOf, tuple, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, Refusal, SpecAction, SpecState } from './harness.ts';
import { boolConstant, natConstant, SPECS_DIR } from './ack.ts';
import { workerMachine } from './recovery.ts';

export type RecoveryChainMutation =
  'no-dedup2' | 'ack-early2' | 'send-early' | 'release-on-send' | 'no-gate' | 'forget-resend';
export const RECOVERY_CHAIN_MUTATIONS: readonly RecoveryChainMutation[] = [
  'no-dedup2',
  'ack-early2',
  'send-early',
  'release-on-send',
  'no-gate',
  'forget-resend',
];

const W1 = 'w1';
const W2 = 'w2';
const SOURCE = 0;
/** W1's recovery stream of the source's offsets; the chain shells' in-streams come after it. */
const SRC_STREAM = 0;
const STREAM_BASE = 1;

// ---------------------------------------------------------------------------------------------
// The machines, or deliberately broken variants of them.

function w2RecoveryMachine(mutation: RecoveryChainMutation | undefined) {
  return workerMachine(mutation === 'no-dedup2' ? 'no-dedup' : undefined);
}

/** The chain step with one rule broken. */
function mutatedStep(mutation: RecoveryChainMutation, c: ChainOutboxContext, e: ChainOutboxEvent) {
  if (mutation === 'send-early' && e.type === 'W1Persist') {
    // The new entries count as durable at once and go out with the commit's start.
    const n = chainOutboxStep(c, e);
    const outs = n.outs.map((o, out) => {
      for (const x of o.inFlight) n.ready.push({ kind: 'send', out, seq: x.seq });
      const last = o.inFlight.at(-1);
      return last === undefined
        ? o
        : { ...o, entries: o.entries.concat(o.inFlight), inFlight: [], sent: last.seq };
    });
    return { ...n, outs };
  }
  if (mutation === 'release-on-send' && e.type === 'W1SendOut') {
    // What is sent leaves the outbox (as if W2 had acknowledged it).
    const n = chainOutboxStep(c, e);
    return { ...n, outs: n.outs.map((o) => ({ ...o, entries: o.entries.filter((x) => x.seq > o.sent) })) };
  }
  if (mutation === 'no-gate' && e.type === 'W1Ack') {
    c.ready.push({ kind: 'report', sources: e.sources });
    return c;
  }
  if (mutation === 'forget-resend' && e.type === 'CrashW1') {
    // The restarted outbox takes its stored entries as sent already.
    const n = chainOutboxStep(c, e);
    return { ...n, outs: n.outs.map((o) => ({ ...o, sent: o.next - 1 })) };
  }
  return chainOutboxStep(c, e);
}

function outboxMachine(mutation: RecoveryChainMutation | undefined): typeof chainOutboxMachine | undefined {
  if (
    mutation === 'send-early' ||
    mutation === 'release-on-send' ||
    mutation === 'no-gate' ||
    mutation === 'forget-resend'
  )
    return chainOutboxMachine.provide({
      actions: { step: assign(({ context, event }) => mutatedStep(mutation, context, event)) },
    });
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The runtime objects of one replay.

/** The application the two workers run: source -> A (state) -> B (state) -> sink; W1 holds A's
 * key, W2 B's, so A's outputs cross to W2 through W1's outbox (ChainOutbox's out-stream (B, w2)). */
function chainApp(): Application {
  const app = defineApp('recovery-chain-conformance', { partitions: 2 });
  app
    .source('source', { uri: 'memory:recovery-chain', decode: stringCodec })
    .state('A', { key: () => 'a', init: () => 0, update: (n: number) => n + 1, codec: stringCodec })
    .state('B', { key: () => 'b', init: () => 0, update: (n: number) => n + 1 })
    .sink('sink', { uri: 'memory:recovery-chain-sink', encode: stringCodec });
  return app.build();
}

/** A store as the runtime's (Store), in memory: a commit's ops applied at once (`apply`), the
 * chain shell's keys read back by its recover(). */
class KvStore implements Store {
  readonly kv = new Map<string, Uint8Array>();
  apply(ops: readonly StoreOp[]): void {
    for (const op of ops)
      if (op.value === null) this.kv.delete(op.key);
      else this.kv.set(op.key, op.value);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.kv.get(key));
  }
  writeBatch(ops: readonly StoreOp[]): Promise<void> {
    this.apply(ops);
    return Promise.resolve();
  }
  async *scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]> {
    const keys = [...this.kv.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const k of keys) yield [k, this.kv.get(k)!] as const;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The resend timer's clock: time moves only where the adapter says (CrashW2). */
class ManualClock implements Clock {
  private now = 0;
  private nextHandle = 1;
  private readonly timers = new Map<number, { dueMs: number; fn: () => void }>();
  nowMs(): number {
    return this.now;
  }
  nowNs(): bigint {
    return BigInt(this.now) * 1_000_000n;
  }
  monotonicMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const h = this.nextHandle++;
    this.timers.set(h, { dueMs: this.now + delayMs, fn });
    return h;
  }
  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle);
  }
  /** Moves time on and fires, once, every timer due by then (not those they set). */
  advance(ms: number): void {
    this.now += ms;
    const due = [...this.timers].filter(([, t]) => t.dueMs <= this.now);
    for (const [h, t] of due) {
      if (!this.timers.delete(h)) continue;
      t.fn();
    }
  }
}

/** The messages an outbox entry carries (its payloads are the message numbers). */
function entryMessages(value: Uint8Array): number[] {
  const cols = unpack(value) as unknown[][];
  return (cols[5] ?? []).map((p) => Number(p));
}

/** W1's store: the recovery part (state, the source's mark) and the chain shell's keys. */
interface W1Store {
  state: readonly number[];
  mark: number;
  readonly kv: KvStore;
}

/** W2's store: state, the sink's outbox by output id with the message each carries, the next
 * output id and the floor (exactly-once.ts's part), and the chain shell's keys (the in-stream's
 * mark). */
interface W2Store {
  state: readonly number[];
  outbox: ReadonlyMap<number, number>;
  nextOutput: number;
  floor: number;
  readonly kv: KvStore;
}

/** An entry on the connection from W1 to W2. */
interface Frame {
  readonly seq: number;
  readonly messages: readonly number[];
}

type RecoveryActor = Actor<typeof recoveryWorkerMachine>;

export interface RecoveryChainRuntime {
  tracker: SourceCommitTracker;
  storedCommitted: number;
  readonly clock: ManualClock;
  // W1
  rec1: RecoveryActor;
  chain1: ChainOutbox;
  state1: number[];
  /** Outputs (messages) applied since the last commit. */
  pending1: number[];
  /** The messages of each entry W1 made or recovered, by seq. */
  carried1: Map<number, readonly number[]>;
  /** Sends the shell made, not yet on the connection (the transport's queue). */
  toHand1: Frame[];
  /** The seq of the entry last put on the connection this round (NO_SEQ: none). */
  handed1: number;
  /** The highest acknowledgement delivered from W2 in this incarnation (NO_SEQ: none). */
  delivered1: number;
  /** The latest report the gate released and not yet sent (runtime offset), the last one sent. */
  report1: number | null;
  lastReport1: number;
  readonly store1: W1Store;
  // W2
  rec2: RecoveryActor;
  chain2: ChainOutbox;
  state2: number[];
  pending2: number[];
  carried2: Map<number, number>;
  toHand2: number[];
  handed2: number;
  /** The latest acknowledgement (seq) W2's shell sent, not yet on the connection. */
  ack2: number | null;
  readonly store2: W2Store;
  // The sink (external, durable).
  readonly written: number[];
  sinkMark: number;
  // Connections.
  toW1: number[];
  ackW1: number;
  toW2: Frame[];
  /** The acknowledgement on the connection W2 -> W1, as a seq (NO_SEQ: none). */
  ackW2: number;
  toSink: number[];
  ackS: number;
  crashes: number;
  readonly unexpected: string[];
}

export interface RecoveryChainAdapterOptions {
  readonly msgs: number;
  readonly maxCrashes: number;
  readonly mutation?: RecoveryChainMutation;
}

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function recoveryChainAdapter(
  opts: RecoveryChainAdapterOptions,
): ConformanceAdapter<RecoveryChainRuntime> {
  const { msgs, maxCrashes, mutation } = opts;
  const rec2Machine = w2RecoveryMachine(mutation);
  const machine = outboxMachine(mutation);
  const app = chainApp();
  const stepB = app.states.find((st) => st.name === 'B')!;
  const zeros = (): number[] => Array.from({ length: msgs }, () => 0);
  const newTracker = (committed: number): SourceCommitTracker =>
    new SourceCommitTracker({
      sources: 1,
      committed: { [SOURCE]: committed },
      workers: [W1],
      where: 'conformance recovery-chain',
    });

  const recStep = (a: RecoveryActor, who: string, e: RecoveryWorkerEvent) => {
    if (!a.getSnapshot().can(e)) throw new Error(`${who}'s recovery machine refuses ${e.type}`);
    a.send(e);
    return drainRecoveryReady(a.getSnapshot().context);
  };
  const startRecovery = (
    m: typeof recoveryWorkerMachine,
    marks: Record<number, number>,
    nextOutput: number,
    outboxFloor: number,
    who: string,
  ): RecoveryActor => {
    const a = createActor(m).start();
    a.send({ type: 'Recover', marks, nextOutput, outboxFloor });
    if (a.getSnapshot().value !== 'up') throw new Error(`${who}'s recovery machine refused its store`);
    drainRecoveryReady(a.getSnapshot().context);
    return a;
  };

  /** W1's chain shell: its sends go to the transport's queue, its reports to the source's. */
  const newChain1 = (rt: RecoveryChainRuntime): ChainOutbox =>
    new ChainOutbox({
      app,
      workerName: W1,
      workers: [W1, W2],
      streamBase: STREAM_BASE,
      clock: rt.clock,
      log: silent,
      // One message per entry, as the spec's outputs are (the runtime's default packs a commit's).
      maxEntryMessages: 1,
      ...(machine ? { machine } : {}),
      remote: {
        send: (worker, b) => {
          if (worker !== W2 || b.step !== 'B' || b.seq === undefined || b.ack !== undefined) {
            rt.unexpected.push(`W1 sent ${JSON.stringify({ worker, step: b.step, seq: b.seq, ack: b.ack })}`);
            return;
          }
          rt.toHand1.push({ seq: b.seq, messages: b.payloads.map((x) => Number(x)) });
        },
      },
      onDurable: (marks) => {
        rt.report1 = marks[SOURCE] ?? NO_MARK;
      },
    });
  /** W2's chain shell: its acknowledgements go to the connection's queue. */
  const newChain2 = (rt: RecoveryChainRuntime): ChainOutbox =>
    new ChainOutbox({
      app,
      workerName: W2,
      workers: [W1, W2],
      streamBase: STREAM_BASE,
      clock: rt.clock,
      log: silent,
      // One message per entry, as the spec's outputs are (the runtime's default packs a commit's).
      maxEntryMessages: 1,
      ...(machine ? { machine } : {}),
      remote: {
        send: (worker, b) => {
          if (worker !== W1 || b.step !== 'B' || b.ack === undefined || b.payloads.length > 0) {
            rt.unexpected.push(`W2 sent ${JSON.stringify({ worker, step: b.step, seq: b.seq, ack: b.ack })}`);
            return;
          }
          rt.ack2 = b.ack;
        },
      },
      onDurable: (marks) => {
        if (Object.keys(marks).length > 0)
          rt.unexpected.push(`W2 reported source marks ${JSON.stringify(marks)}`);
      },
    });
  const inStream = (rt: RecoveryChainRuntime): number => {
    const s = rt.chain2.inStream('B', W1);
    if (s === undefined) throw new Error("W2's chain shell has no in-stream of step B from w1");
    return s;
  };

  /** ExactlyOnce.persisted's WorkerAck: the durable marks to the gate (chain.durable). */
  const durable1 = (rt: RecoveryChainRuntime) => {
    if (!rt.rec1.getSnapshot().can({ type: 'WorkerAck' })) return;
    for (const r of recStep(rt.rec1, 'W1', { type: 'WorkerAck' }))
      if (r.kind === 'ack') rt.chain1.durable({ [SOURCE]: r.marks[SRC_STREAM] ?? NO_MARK });
  };
  const durable2 = (rt: RecoveryChainRuntime) => {
    if (!rt.rec2.getSnapshot().can({ type: 'WorkerAck' })) return;
    for (const r of recStep(rt.rec2, 'W2', { type: 'WorkerAck' }))
      if (r.kind === 'ack') rt.chain2.durable({});
  };

  /** W1 starts on its store as a worker does: the chain shell's recover() (CrashW1), the recovery
   * machine's Recover, then replay: WorkerAck to the gate, the stored outbox sent again. */
  const startW1 = async (rt: RecoveryChainRuntime): Promise<void> => {
    const s = rt.store1;
    rt.chain1 = newChain1(rt);
    rt.toHand1 = [];
    rt.handed1 = NO_SEQ;
    rt.delivered1 = NO_SEQ;
    rt.report1 = null;
    rt.lastReport1 = NO_MARK;
    const marks = await rt.chain1.recover(s.kv);
    if (s.mark !== NO_MARK) marks[SRC_STREAM] = s.mark;
    rt.rec1 = startRecovery(recoveryWorkerMachine, marks, 1, 0, 'W1');
    rt.state1 = [...s.state];
    rt.pending1 = [];
    rt.carried1 = new Map();
    for (const [k, v] of s.kv.kv)
      if (k.startsWith('x/')) rt.carried1.set(Number(k.slice(k.lastIndexOf('/') + 1)), entryMessages(v));
    durable1(rt);
    rt.chain1.replay();
  };

  const startW2 = async (rt: RecoveryChainRuntime): Promise<void> => {
    const s = rt.store2;
    rt.chain2 = newChain2(rt);
    rt.ack2 = null;
    const marks = await rt.chain2.recover(s.kv);
    rt.rec2 = startRecovery(rec2Machine, marks, s.nextOutput, s.floor, 'W2');
    rt.state2 = [...s.state];
    rt.pending2 = [];
    rt.carried2 = new Map(s.outbox);
    rt.toHand2 = [];
    rt.handed2 = 0;
    durable2(rt);
    rt.chain2.replay();
  };

  /** W1's next seq, as its store holds it (0: none made). */
  const next1 = (s: W1Store): number => {
    const v = s.kv.kv.get(`y/B/${W2}`);
    return v === undefined ? 0 : (unpack(v) as number);
  };
  /** W2's durable in-stream mark (the chain shell's `u/` key; NO_MARK: none). */
  const mark2Stored = (s: W2Store): number => {
    const v = s.kv.kv.get(`u/B/${W1}`);
    return v === undefined ? NO_MARK : (unpack(v) as number);
  };
  /** The seqs of the entries W1's outbox holds unacknowledged (they are contiguous, ending at
   * next - 1: the shell's snapshot counts them). */
  const unackedSeqs1 = (rt: RecoveryChainRuntime): number[] => {
    const next = next1(rt.store1);
    const n = rt.chain1.snapshot().entries;
    return Array.from({ length: n }, (_, i) => next - n + i);
  };
  const messages1 = (rt: RecoveryChainRuntime, seq: number): readonly number[] => {
    const m = rt.carried1.get(seq);
    if (m === undefined) throw new Error(`W1's entry ${seq} carries no message the shell knows`);
    return m;
  };

  const crash = (rt: RecoveryChainRuntime): void => {
    if (rt.crashes >= maxCrashes) throw new Error(`the model allows ${maxCrashes} crashes`);
    rt.crashes++;
  };

  const perform = (rt: RecoveryChainRuntime, action: SpecAction): void | Promise<void> => {
    switch (action.name) {
      case 'SourceSend': {
        const m = rt.tracker.state.read[SOURCE]! + 2;
        if (m > msgs) throw new Error(`the external system holds ${msgs} offsets, all sent`);
        rt.tracker.read(SOURCE, m - 1);
        rt.toW1.push(m);
        return;
      }
      case 'SourceReceiveAck': {
        const advanced = rt.tracker.report(W1, { [SOURCE]: rt.ackW1 - 1 });
        if (advanced[SOURCE] !== undefined) rt.storedCommitted = advanced[SOURCE];
        return;
      }
      case 'W1Receive': {
        const m = rt.toW1.shift();
        if (m === undefined) throw new Error('nothing is in flight to W1');
        const ready = recStep(rt.rec1, 'W1', {
          type: 'WorkerReceive',
          ranges: [{ stream: SRC_STREAM, from: m - 2, through: m - 1 }],
        });
        const r = ready[0];
        if (ready.length !== 1) rt.unexpected.push(`W1Receive: ${ready.length} decisions for one range`);
        if (r?.kind === 'admit' && m - 1 > r.above) {
          rt.state1[m - 1]!++;
          rt.pending1.push(m);
          // A's output for B's key, owned by W2: into the outbox (sent once its commit is durable).
          rt.chain1.add(stepB.id, W2, {
            source: [SOURCE],
            offset: [m - 1],
            sub: [0],
            bornMs: [0],
            partition: [0],
            payloads: [String(m)],
          });
        }
        return;
      }
      case 'W1Persist': {
        const extra = rt.chain1.hasWork();
        const ready = recStep(rt.rec1, 'W1', { type: 'WorkerPersist', outputs: 0, extra });
        const p = ready.find((x) => x.kind === 'persist');
        if (p?.kind !== 'persist') throw new Error('WorkerPersist queued no store write');
        // The commit's ops (exactly-once.ts's state and mark, the chain shell's), in one write.
        const ops = rt.chain1.ops(p.marks);
        rt.store1.kv.apply(ops);
        rt.store1.state = [...rt.state1];
        rt.store1.mark = p.marks[SRC_STREAM] ?? NO_MARK;
        for (const op of ops)
          if (op.key.startsWith('x/') && op.value !== null)
            rt.carried1.set(Number(op.key.slice(op.key.lastIndexOf('/') + 1)), entryMessages(op.value));
        rt.pending1 = [];
        // ExactlyOnce.persisted: chain.persisted() (Persisted, W1SendOut), Persisted, WorkerAck.
        rt.chain1.persisted();
        recStep(rt.rec1, 'W1', { type: 'Persisted' });
        durable1(rt);
        return;
      }
      case 'W1Ack': {
        if (rt.report1 !== null) {
          rt.ackW1 = rt.report1 + 1;
          rt.lastReport1 = rt.report1;
          rt.report1 = null;
          return;
        }
        // A source worker that restarted lost the report: the shell sends its last one again.
        if (rt.lastReport1 + 1 > rt.ackW1) {
          rt.ackW1 = rt.lastReport1 + 1;
          return;
        }
        throw new Error('the gate released no report that the source worker lacks');
      }
      case 'W1SendOut': {
        const unacked = new Set(unackedSeqs1(rt));
        rt.toHand1 = rt.toHand1.filter((f) => unacked.has(f.seq));
        const f = rt.toHand1.shift();
        if (f === undefined) throw new Error("W1's chain shell sent nothing that W2 lacks");
        rt.toW2.push(f);
        rt.handed1 = f.seq;
        return;
      }
      case 'W1ReceiveAck': {
        const ack = rt.ackW2;
        if (ack <= rt.delivered1) throw new Error('no new acknowledgement from W2 is on the connection');
        rt.delivered1 = ack;
        rt.chain1.onAck({
          step: 'B',
          fromWorker: W2,
          source: [],
          offset: [],
          sub: [],
          bornMs: [],
          partition: [],
          payloads: [],
          ack,
        });
        return;
      }
      case 'W2Receive': {
        const f = rt.toW2.shift();
        if (f === undefined) throw new Error('nothing is in flight to W2');
        const stream = inStream(rt);
        const ready = recStep(rt.rec2, 'W2', {
          type: 'WorkerReceive',
          ranges: [{ stream, from: f.seq - 1, through: f.seq }],
        });
        const r = ready[0];
        if (ready.length !== 1) rt.unexpected.push(`W2Receive: ${ready.length} decisions for one range`);
        if (r?.kind === 'admit' && f.seq > r.above) {
          if (f.messages.length !== 1 || f.messages[0] !== f.seq + 1)
            rt.unexpected.push(
              `W2 admitted entry ${f.seq}, which carries [${f.messages.join(', ')}], not [${f.seq + 1}]`,
            );
          for (const m of f.messages) {
            rt.state2[m - 1]!++;
            rt.pending2.push(m);
          }
          // ack-early2 (the shell): the entry is acknowledged as it is applied, before its commit.
          if (mutation === 'ack-early2') rt.ack2 = f.seq;
        } else rt.chain2.dropped(stream);
        return;
      }
      case 'W2Persist': {
        const ready = recStep(rt.rec2, 'W2', {
          type: 'WorkerPersist',
          outputs: rt.pending2.length,
          extra: rt.chain2.hasWork(),
        });
        const p = ready.find((x) => x.kind === 'persist');
        if (p?.kind !== 'persist') throw new Error('WorkerPersist queued no store write');
        const ops = rt.chain2.ops(p.marks);
        const outbox = new Map([...rt.store2.outbox].filter(([id]) => id > p.outboxFloor));
        rt.pending2.forEach((m, k) => {
          outbox.set(p.firstOutput + k, m);
          rt.carried2.set(p.firstOutput + k, m);
        });
        if (p.firstOutput + rt.pending2.length !== p.nextOutput)
          rt.unexpected.push(`W2's outputs ${p.firstOutput}.. do not end at ${p.nextOutput - 1}`);
        rt.pending2 = [];
        rt.store2.kv.apply(ops);
        rt.store2.state = [...rt.state2];
        rt.store2.outbox = outbox;
        rt.store2.nextOutput = p.nextOutput;
        rt.store2.floor = p.outboxFloor;
        rt.chain2.persisted();
        recStep(rt.rec2, 'W2', { type: 'Persisted' });
        durable2(rt);
        return;
      }
      case 'W2Ack': {
        // W1 restarted since W2 acknowledged: the shell acknowledges again (its outbox's W2Ack).
        if (rt.ack2 === null) rt.chain2.dropped(inStream(rt));
        if (rt.ack2 === null) throw new Error("W2's chain shell has released nothing to acknowledge");
        rt.ackW2 = rt.ack2;
        rt.ack2 = null;
        return;
      }
      case 'W2SendOut': {
        const floor = rt.rec2.getSnapshot().context.outboxFloor;
        rt.toHand2 = rt.toHand2.filter((id) => id > floor);
        if (rt.toHand2.length === 0)
          for (const r of recStep(rt.rec2, 'W2', { type: 'WorkerSendOut' }))
            if (r.kind === 'sendOut') for (let id = r.from; id <= r.through; id++) rt.toHand2.push(id);
        const id = rt.toHand2.shift();
        if (id === undefined) throw new Error('WorkerSendOut gave the shell no output to hand');
        rt.toSink.push(id);
        rt.handed2 = id;
        return;
      }
      case 'W2ReceiveSinkAck':
        recStep(rt.rec2, 'W2', { type: 'WorkerReceiveSinkAck', through: rt.ackS });
        return;
      case 'SinkReceive': {
        const id = rt.toSink.shift();
        if (id === undefined) throw new Error('nothing is in flight to the sink');
        const o = rt.carried2.get(id);
        if (o === undefined) throw new Error(`W2's output ${id} carries no message the shell knows`);
        if (o > rt.sinkMark) {
          rt.written.push(o);
          rt.sinkMark = o;
        }
        rt.ackS = rt.sinkMark;
        return;
      }
      case 'CrashW1': {
        crash(rt);
        rt.chain1.close();
        rt.rec1.stop();
        rt.toW1 = [];
        rt.ackW1 = 0;
        rt.toW2 = [];
        rt.ackW2 = NO_SEQ;
        rt.ack2 = null;
        const to = rt.tracker.workerRestarted(W1);
        const c = rt.tracker.committed()[SOURCE]!;
        if (to[SOURCE] !== c + 1)
          rt.unexpected.push(`the rewind point is ${to[SOURCE]}, not committed + 1 = ${c + 1}`);
        return startW1(rt);
      }
      case 'CrashW2': {
        crash(rt);
        rt.chain2.close();
        rt.rec2.stop();
        rt.toW2 = [];
        rt.ackW2 = NO_SEQ;
        rt.toSink = [];
        rt.ackS = 0;
        // W1's connection to W2 is lost; W1 learns of the restart only by silence: its resend
        // timer fires after the longest wait.
        rt.toHand1 = [];
        rt.handed1 = NO_SEQ;
        return startW2(rt).then(() => rt.clock.advance(MAX_RESEND_AFTER_MS));
      }
      case 'CrashSource':
        crash(rt);
        rt.tracker = newTracker(rt.storedCommitted);
        rt.toW1 = [];
        rt.ackW1 = 0;
        return;
      case 'Done': {
        const all = rt.tracker.committed()[SOURCE] === msgs - 1;
        const once = rt.store2.state.every((n) => n === 1);
        const sunk = new Set(rt.written).size === msgs;
        const outbox1 = [...rt.store1.kv.kv.keys()].some((k) => k.startsWith('x/'));
        if (!(all && once && sunk && !outbox1 && rt.store2.outbox.size === 0))
          throw new Error(
            'Done before everything is committed, applied once, written and out of both outboxes',
          );
        return;
      }
      default:
        throw new Error(`RecoveryChain has no action ${action.name}`);
    }
  };

  const fold = (xs: readonly number[]): Value =>
    fcnFromPairs(
      xs.map((_, i) => i + 1),
      [...xs],
    );

  return {
    create(): RecoveryChainRuntime {
      const rt = {
        tracker: newTracker(NO_MARK),
        storedCommitted: NO_MARK,
        clock: new ManualClock(),
        store1: { state: zeros(), mark: NO_MARK, kv: new KvStore() },
        store2: { state: zeros(), outbox: new Map(), nextOutput: 1, floor: 0, kv: new KvStore() },
        written: [],
        sinkMark: 0,
        toW1: [],
        ackW1: 0,
        toW2: [],
        ackW2: NO_SEQ,
        toSink: [],
        ackS: 0,
        crashes: 0,
        unexpected: [],
      } as unknown as RecoveryChainRuntime;
      // Fresh workers on empty stores: what recover() would load is nothing.
      rt.chain1 = newChain1(rt);
      rt.rec1 = startRecovery(recoveryWorkerMachine, {}, 1, 0, 'W1');
      rt.state1 = zeros();
      rt.pending1 = [];
      rt.carried1 = new Map();
      rt.toHand1 = [];
      rt.handed1 = NO_SEQ;
      rt.delivered1 = NO_SEQ;
      rt.report1 = null;
      rt.lastReport1 = NO_MARK;
      rt.chain2 = newChain2(rt);
      rt.rec2 = startRecovery(rec2Machine, {}, 1, 0, 'W2');
      rt.state2 = zeros();
      rt.pending2 = [];
      rt.carried2 = new Map();
      rt.toHand2 = [];
      rt.handed2 = 0;
      rt.ack2 = null;
      return rt;
    },

    perform,

    abstract(rt: RecoveryChainRuntime): SpecState {
      if (rt.unexpected.length > 0) throw new Error(rt.unexpected.join('; '));
      const committed = rt.tracker.committed()[SOURCE]!;
      if (committed !== rt.storedCommitted)
        throw new Error(
          `the tracker committed ${committed}, the source worker's store holds ${rt.storedCommitted}`,
        );
      const c1 = rt.rec1.getSnapshot().context;
      if ((c1.durableMarks[SRC_STREAM] ?? NO_MARK) !== rt.store1.mark)
        throw new Error(
          `W1's durable mark ${c1.durableMarks[SRC_STREAM] ?? NO_MARK} is not its store's ${rt.store1.mark}`,
        );
      const unacked = unackedSeqs1(rt);
      const c2 = rt.rec2.getSnapshot().context;
      const stream = inStream(rt);
      const dMark2 = mark2Stored(rt.store2);
      if ((c2.durableMarks[stream] ?? NO_MARK) !== dMark2)
        throw new Error(
          `W2's durable mark ${c2.durableMarks[stream] ?? NO_MARK} is not its store's ${dMark2}`,
        );
      const out1 = [...rt.pending1, ...unacked.flatMap((seq) => messages1(rt, seq))];
      const out2: number[] = [...rt.pending2];
      for (let id = c2.outboxFloor + 1; id < c2.nextOutput; id++) {
        const m = rt.carried2.get(id);
        if (m === undefined) throw new Error(`W2's machine holds output ${id}, which the shell never saw`);
        out2.push(m);
      }
      const dOut1: number[] = [];
      for (const [k, v] of rt.store1.kv.kv) if (k.startsWith('x/')) dOut1.push(...entryMessages(v));
      const handed = rt.handed1 === NO_SEQ ? [0] : messages1(rt, rt.handed1);
      return {
        committed: committed + 1,
        srcTx: rt.tracker.state.read[SOURCE]! + 2,
        state1: fold(rt.state1),
        mark1: (c1.marks[SRC_STREAM] ?? NO_MARK) + 1,
        out1: setOf(out1),
        outTx1: handed.at(-1)!,
        acked2: rt.delivered1 + 1,
        dState1: fold(rt.store1.state),
        dMark1: rt.store1.mark + 1,
        dOut1: setOf(dOut1),
        state2: fold(rt.state2),
        mark2: (c2.marks[stream] ?? NO_MARK) + 1,
        out2: setOf(out2),
        outTx2: rt.handed2 === 0 ? 0 : rt.carried2.get(rt.handed2)!,
        dState2: fold(rt.store2.state),
        dMark2: dMark2 + 1,
        dOut2: setOf([...rt.store2.outbox.values()]),
        written: tuple(rt.written),
        sinkMark: rt.sinkMark,
        toW1: tuple(rt.toW1),
        ackW1: rt.ackW1,
        toW2: tuple(rt.toW2.flatMap((f) => f.messages)),
        ackW2: rt.ackW2 + 1,
        toSink: tuple(rt.toSink.map((id) => rt.carried2.get(id) ?? -id)),
        ackS: rt.ackS,
        crashes: rt.crashes,
      };
    },

    refusals(rt: RecoveryChainRuntime): Refusal[] {
      const out: Refusal[] = Object.keys(RECOVERY_CHAIN_ACTION_ROLES).map((name) => ({
        what: name,
        spec: { name, args: {} },
        attempt: () => perform(rt, { name, args: {} }),
      }));
      const next = next1(rt.store1);
      out.push({
        what: `an acknowledgement of entry ${next}, which W1 never made (its chain shell)`,
        attempt: () =>
          rt.chain1.onAck({
            step: 'B',
            fromWorker: W2,
            source: [],
            offset: [],
            sub: [],
            bornMs: [],
            partition: [],
            payloads: [],
            ack: next,
          }),
      });
      out.push({
        what: "W2's entry range running backwards (its recovery machine)",
        attempt: () =>
          recStep(rt.rec2, 'W2', {
            type: 'WorkerReceive',
            ranges: [{ stream: inStream(rt), from: 1, through: 0 }],
          }),
      });
      out.push({
        what: 'a progress report from a worker that never registered (the tracker)',
        attempt: () => rt.tracker.report('a stranger', { [SOURCE]: msgs - 1 }),
      });
      return out;
    },
  };
}

const MODELS_DIR = fileURLToPath(new URL('./models/', import.meta.url));

/** The models `buffy conformance recovery-chain` runs (see conformance/README.md for why not
 * specs/RecoveryChain.cfg's Msgs = 2). */
export const RECOVERY_CHAIN_MODELS: readonly string[] = [
  `${MODELS_DIR}RecoveryChain-msgs1.cfg`,
  `${MODELS_DIR}RecoveryChain-msgs1-crashes2.cfg`,
];

/** The suite: specs/RecoveryChain.tla with a model (default the first of RECOVERY_CHAIN_MODELS). */
export function recoveryChainSuite(
  opts: { cfgFile?: string; mutation?: RecoveryChainMutation } = {},
): ConformanceSuite<RecoveryChainRuntime> {
  return {
    name: opts.mutation ? `recovery-chain[mutation ${opts.mutation}]` : 'recovery-chain',
    specFile: `${SPECS_DIR}RecoveryChain.tla`,
    cfgFile: opts.cfgFile ?? RECOVERY_CHAIN_MODELS[0]!,
    constants: ['Msgs', 'MaxCrashes', 'NoDedup2', 'AckEarly2', 'NoGate'],
    adapter: (c) => {
      for (const name of ['NoDedup2', 'AckEarly2', 'NoGate'])
        if (boolConstant(c, name, 'RecoveryChain'))
          throw new Error(
            `RecoveryChain model: ${name} = TRUE is a broken variant of the spec, for the checker to refute; the conformance suite replays the correct spec (a broken runtime is --mutation)`,
          );
      return recoveryChainAdapter({
        msgs: natConstant(c, 'Msgs', 'RecoveryChain'),
        maxCrashes: natConstant(c, 'MaxCrashes', 'RecoveryChain'),
        ...(opts.mutation ? { mutation: opts.mutation } : {}),
      });
    },
  };
}
