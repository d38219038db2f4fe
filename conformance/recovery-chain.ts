// Conformance adapter for specs/RecoveryChain.tla (exactly-once through two stateful workers in a
// row). The source role runs on the runtime's commit tracker (runtime/engine/source-commit.ts);
// W1 on two machines, as runtime/engine/exactly-once.ts and runtime/engine/chain.ts run them on
// a worker whose state step feeds a state step on a peer: machines/recovery-worker.ts (the dedup
// of the source's offsets, the group commit) and machines/chain-outbox.ts (the outbox towards
// W2: numbering, sending once durable, releasing on acknowledgement, resending, the end-to-end
// gate); W2 on the same two machines on its side: the recovery machine dedups W1's entries (entry
// `seq` is the range (seq - 1, seq] of an in-stream) and keeps the sink's outbox, its chain
// outbox machine writes the in-stream's mark into the commit and acknowledges it upstream. This
// adapter is the shell of the four machines (as recovery.ts is of one): per worker an in-memory
// store written in one piece per commit, the application's fold (per message, how many times it
// was applied), the outputs, and the connections.
//
// Why the machines and not runtime/engine/chain.ts's ChainOutbox class: a restart loads the
// store with `await`s (ChainOutbox.recover), and the harness replays synchronously; the adapter
// does what recover() does (loads the next seq, the entries and the marks, sends CrashW1, then
// W1SendOut) on the same machine. Every protocol decision is the machines'.
//
// Offsets and ids: spec offsets are 1..Msgs (0: none), the runtime's from 0 (NO_MARK = -1): runtime
// offset = spec offset - 1. W1 makes one outbox entry per output (the spec's outputs are single
// messages; the runtime's shell may pack several messages into an entry, which changes nothing
// the machine decides), so entry seq = message - 1, and W2's in-stream mark (a seq) is mark2 - 1;
// every entry W2 admits is checked to carry message seq + 1.
//
//   SourceSend         tracker.read(0, srcTx - 1); the message goes on the connection to W1
//   SourceReceiveAck   tracker.report(w1, {0: ackW1 - 1})
//   W1Receive          the head message as a batch of one: WorkerReceive with (m - 2, m - 1]; on
//                      admit the fold + 1 and the output (for W2) pending in the shell
//   W1Persist          WorkerPersist (extra: the outbox has new entries or deletions), the chain's
//                      W1Persist (one entry per pending output, the commit's marks: its entry,
//                      next and delete decisions), the one store write, Persisted on both, then
//                      as ExactlyOnce.persisted: W1SendOut (sends queued) and WorkerAck, whose
//                      durable marks go to the chain's W1Ack (the gate: maybe a report)
//   W1Ack              the shell sends the latest report the gate released (or, to a source worker
//                      that restarted, its last one again) on the connection: ackW1
//   W1SendOut          the next entry the machine decided to send goes on the connection to W2
//                      (acknowledged ones are not: the machine released them)
//   W1ReceiveAck       the acknowledgement on the connection from W2: the chain's W1ReceiveAck
//                      (release, and the gate may release a report)
//   W2Receive          the head entry: WorkerReceive (seq - 1, seq] on the in-stream; on admit the
//                      fold + 1 and the sink output pending; a duplicate or a gap: the chain's
//                      W2Ack (acknowledge again what was released; queued)
//   W2Persist          WorkerPersist, the chain's W1Persist (its `mark` decision: the in-stream's
//                      mark), the store write, Persisted on both, WorkerAck -> the chain's W1Ack
//                      (the gate releases the in-stream's ack; queued)
//   W2Ack              the queued acknowledgement goes on the connection (ackW2); if none is
//                      queued (W1 restarted since), the chain's W2Ack acknowledges again
//   W2SendOut, W2ReceiveSinkAck, SinkReceive   as recovery.ts's worker and sink
//   CrashW1            W1's machines restart from its store (Recover; CrashW1 with the stored
//                      outbox; then WorkerAck and W1SendOut, as replay() does); its connections'
//                      contents are lost; the tracker rewinds the source to committed + 1
//   CrashW2            W2's machines restart from its store; its connections are lost; W1 cannot
//                      see it: its resend timer fires after the longest silence (the chain's
//                      CrashW2 with the clock advanced by MAX_RESEND_AFTER_MS, then W1SendOut)
//   CrashSource        a fresh tracker from the source worker's store; the connection to W1 lost
//   Done               nothing, where everything is committed, applied once at W2, written, and
//                      both outboxes are empty
//
// The refinement mapping: committed, srcTx from the tracker; state1 the shell's fold, mark1 the
// recovery machine's mark + 1, out1 the messages of the outputs pending and of the chain
// machine's unacknowledged entries, outTx1 the message of the last entry put on the connection
// (this round), acked2 the highest acknowledgement delivered to W1 since it started (the chain
// machine's `acked` must be it or the stored outbox's floor), dState1, dMark1, dOut1 W1's store;
// state2, mark2 (the in-stream's mark + 1), out2, outTx2 as recovery.ts's worker, dState2,
// dMark2, dOut2 W2's store (dMark2 is the chain's `u/` mark); written, sinkMark the sink's; the
// connections' contents; crashes the adapter's count.
//
// Mutations, on the machines through `provide`: no-dedup2 (W2 applies every entry), send-early (the outbox sends an entry as it is numbered, before
// its commit is durable), release-on-send (an entry leaves the outbox when it is sent, not when
// W2 acknowledges it), no-gate (the sources' marks are reported without waiting for W2's
// acknowledgements), forget-resend (a restarted W1 takes its stored outbox as already sent); on
// the shell: ack-early2 (W2 acknowledges an entry as it applies it, before its commit; the
// machines cannot: the gate acknowledges the marks of a durable commit only). A send-early
// outbox is refused by the shell's check, as chain.ts's ops() refuses it: a send decided in a
// commit's W1Persist, before it is durable.
import { fileURLToPath } from 'node:url';
import { assign, createActor, type Actor } from 'xstate';
import { SourceCommitTracker } from '../runtime/engine/source-commit.ts';
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
  drainChainOutboxReady,
  type ChainOutboxContext,
  type ChainOutboxEvent,
  type ChainOutboxReady,
  type GateConsumer,
} from '../machines/chain-outbox.ts';
import { fcnFromPairs, setOf, tuple, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, Refusal, SpecAction, SpecState } from './harness.ts';
import { boolConstant, natConstant, SPECS_DIR } from './ack.ts';

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
const SOURCE = 0;
/** W1's recovery stream of the source's offsets; W2's in-stream (W1's entries). */
const SRC_STREAM = 0;
const IN_STREAM = 1;
/** W1's one out-stream (to W2's step). */
const OUT = 0;
/** The chained step's id in the gate (W2's consumer of its in-stream). */
const STEP_B = 1;

// ---------------------------------------------------------------------------------------------
// The machines, or deliberately broken variants of them.

function w2RecoveryMachine(mutation: RecoveryChainMutation | undefined) {
  if (mutation === 'no-dedup2')
    return recoveryWorkerMachine.provide({
      actions: {
        receive: assign(({ context, event }) => {
          if (event.type !== 'WorkerReceive') return {};
          for (const r of event.ranges) {
            context.ready.push({ kind: 'admit', stream: r.stream, above: r.from });
            context.marks[r.stream] = Math.max(context.marks[r.stream] ?? NO_MARK, r.through);
          }
          return {};
        }),
      },
    });
  return recoveryWorkerMachine;
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

function outboxMachine(mutation: RecoveryChainMutation | undefined) {
  if (
    mutation === 'send-early' ||
    mutation === 'release-on-send' ||
    mutation === 'no-gate' ||
    mutation === 'forget-resend'
  )
    return chainOutboxMachine.provide({
      actions: { step: assign(({ context, event }) => mutatedStep(mutation, context, event)) },
    });
  return chainOutboxMachine;
}

// ---------------------------------------------------------------------------------------------
// The runtime objects of one replay.

/** W1's store: what its last commit wrote (state, the source's mark, the outbox's entries by
 * seq with the message each carries, the next seq). */
interface W1Store {
  readonly state: readonly number[];
  readonly mark: number;
  readonly entries: ReadonlyMap<number, number>;
  readonly next: number;
}

/** W2's store: state, the in-stream's mark (the chain's `u/` key), the sink outbox by output id
 * with the message each carries, the next output id and the outbox floor. */
interface W2Store {
  readonly state: readonly number[];
  readonly mark: number;
  readonly outbox: ReadonlyMap<number, number>;
  readonly nextOutput: number;
  readonly floor: number;
}

/** An entry on the connection from W1 to W2. */
interface Frame {
  readonly seq: number;
  readonly message: number;
}

type RecoveryActor = Actor<typeof recoveryWorkerMachine>;
type OutboxActor = Actor<typeof chainOutboxMachine>;

export interface RecoveryChainRuntime {
  tracker: SourceCommitTracker;
  storedCommitted: number;
  /** The resend timer's clock (ms): advanced only where W1's silence stands for W2's restart. */
  nowMs: number;
  // W1
  rec1: RecoveryActor;
  out1: OutboxActor;
  state1: number[];
  /** Outputs (messages) applied since the last commit. */
  pending1: number[];
  /** The message of each entry this incarnation knows (stored or made). */
  carried1: Map<number, number>;
  /** Entries the machine decided to send, not yet on the connection (the transport's queue). */
  toHand1: number[];
  /** The seq of the entry last put on the connection this round (NO_SEQ: none). */
  handed1: number;
  /** The highest acknowledgement delivered from W2 in this incarnation (NO_SEQ: none), and the
   * floor of the outbox W1 recovered (entries at or below it were acknowledged before). */
  delivered1: number;
  floor1: number;
  /** The latest report the gate released and not yet sent (runtime offset), the last one sent. */
  report1: number | null;
  lastReport1: number;
  store1: W1Store;
  // W2
  rec2: RecoveryActor;
  out2: OutboxActor;
  state2: number[];
  pending2: number[];
  carried2: Map<number, number>;
  toHand2: number[];
  handed2: number;
  /** The latest acknowledgement (seq) W2's outbox machine decided and not yet sent. */
  ack2: number | null;
  store2: W2Store;
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

const W1_CONSUMERS: GateConsumer[] = [{ step: null, outs: [OUT], streams: [] }];
const W2_CONSUMERS: GateConsumer[] = [
  { step: null, outs: [], streams: [] },
  { step: STEP_B, outs: [], streams: [IN_STREAM] },
];

export function recoveryChainAdapter(
  opts: RecoveryChainAdapterOptions,
): ConformanceAdapter<RecoveryChainRuntime> {
  const { msgs, maxCrashes, mutation } = opts;
  const rec2Machine = w2RecoveryMachine(mutation);
  const chainMachine = outboxMachine(mutation);
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
  /** Sends an event to an outbox machine; null when its guard refuses it (nothing happens). */
  const outStep = (a: OutboxActor, e: ChainOutboxEvent): ChainOutboxReady[] | null => {
    if (!a.getSnapshot().can(e)) return null;
    a.send(e);
    return drainChainOutboxReady(a.getSnapshot().context);
  };
  const startRecovery = (
    machine: typeof recoveryWorkerMachine,
    marks: Record<number, number>,
    nextOutput: number,
    outboxFloor: number,
    who: string,
  ): RecoveryActor => {
    const a = createActor(machine).start();
    a.send({ type: 'Recover', marks, nextOutput, outboxFloor });
    if (a.getSnapshot().value !== 'up') throw new Error(`${who}'s recovery machine refused its store`);
    drainRecoveryReady(a.getSnapshot().context);
    return a;
  };
  const startOutbox = (outs: number, streams: number[], consumers: GateConsumer[], nowMs: number) =>
    createActor(chainMachine, { input: { outs, streams, consumers, nowMs } }).start();

  /** W1's outbox decisions outside a commit: sends, releases, reports. */
  const handle1 = (rt: RecoveryChainRuntime, ready: readonly ChainOutboxReady[] | null, what: string) => {
    for (const r of ready ?? []) {
      if (r.kind === 'send') rt.toHand1.push(r.seq);
      else if (r.kind === 'report') rt.report1 = r.sources[SOURCE] ?? NO_MARK;
      else if (r.kind !== 'release') rt.unexpected.push(`${what}: W1's outbox machine decided ${r.kind}`);
    }
  };
  /** W2's outbox decisions outside a commit: the in-stream's acknowledgement; the sources' report
   * (W2 has no source stream: it must be empty). */
  const handle2 = (rt: RecoveryChainRuntime, ready: readonly ChainOutboxReady[] | null, what: string) => {
    for (const r of ready ?? []) {
      if (r.kind === 'ack' && r.stream === IN_STREAM) rt.ack2 = r.mark;
      else if (r.kind === 'report' && Object.keys(r.sources).length === 0) continue;
      else rt.unexpected.push(`${what}: W2's outbox machine decided ${JSON.stringify(r)}`);
    }
  };
  /** WorkerAck on W1's recovery machine and its durable marks to the gate (W1Ack), as
   * ExactlyOnce's onDurable does through chain.durable(). */
  const durable1 = (rt: RecoveryChainRuntime, what: string) => {
    if (!rt.rec1.getSnapshot().can({ type: 'WorkerAck' })) return;
    for (const r of recStep(rt.rec1, 'W1', { type: 'WorkerAck' }))
      if (r.kind === 'ack')
        handle1(
          rt,
          outStep(rt.out1, { type: 'W1Ack', sources: { [SOURCE]: r.marks[SRC_STREAM] ?? NO_MARK } }),
          what,
        );
  };
  const durable2 = (rt: RecoveryChainRuntime, what: string) => {
    if (!rt.rec2.getSnapshot().can({ type: 'WorkerAck' })) return;
    for (const r of recStep(rt.rec2, 'W2', { type: 'WorkerAck' }))
      if (r.kind === 'ack') handle2(rt, outStep(rt.out2, { type: 'W1Ack', sources: {} }), what);
  };

  const startW1 = (rt: RecoveryChainRuntime): void => {
    const s = rt.store1;
    rt.rec1 = startRecovery(
      recoveryWorkerMachine,
      s.mark === NO_MARK ? {} : { [SRC_STREAM]: s.mark },
      1,
      0,
      'W1',
    );
    rt.out1 = startOutbox(1, [], W1_CONSUMERS, rt.nowMs);
    const entries = [...s.entries.keys()].sort((a, b) => a - b).map((seq) => ({ seq, messages: 1 }));
    const crash = outStep(rt.out1, {
      type: 'CrashW1',
      outs: [{ next: s.next, entries }],
      marks: {},
      nowMs: rt.nowMs,
    });
    if (crash === null) throw new Error("W1's outbox machine refused its store's outbox");
    rt.state1 = [...s.state];
    rt.pending1 = [];
    rt.carried1 = new Map(s.entries);
    rt.toHand1 = [];
    rt.handed1 = NO_SEQ;
    rt.floor1 = entries.length > 0 ? entries[0]!.seq - 1 : s.next - 1;
    rt.delivered1 = NO_SEQ;
    rt.report1 = null;
    rt.lastReport1 = NO_MARK;
    handle1(rt, crash, 'CrashW1');
    // replay(): the durable marks to the gate, the stored outbox sent again.
    durable1(rt, 'CrashW1');
    handle1(rt, outStep(rt.out1, { type: 'W1SendOut' }), 'CrashW1');
  };

  const startW2 = (rt: RecoveryChainRuntime): void => {
    const s = rt.store2;
    const marks: Record<number, number> = s.mark === NO_MARK ? {} : { [IN_STREAM]: s.mark };
    rt.rec2 = startRecovery(rec2Machine, marks, s.nextOutput, s.floor, 'W2');
    rt.out2 = startOutbox(0, [IN_STREAM], W2_CONSUMERS, rt.nowMs);
    const crash = outStep(rt.out2, { type: 'CrashW1', outs: [], marks, nowMs: rt.nowMs });
    if (crash === null) throw new Error("W2's outbox machine refused its store's marks");
    rt.state2 = [...s.state];
    rt.pending2 = [];
    rt.carried2 = new Map(s.outbox);
    rt.toHand2 = [];
    rt.handed2 = 0;
    rt.ack2 = null;
    handle2(rt, crash, 'CrashW2');
    durable2(rt, 'CrashW2');
  };

  const message1 = (rt: RecoveryChainRuntime, seq: number): number => {
    const m = rt.carried1.get(seq);
    if (m === undefined) throw new Error(`W1's entry ${seq} carries no message the shell knows`);
    return m;
  };

  const crash = (rt: RecoveryChainRuntime): void => {
    if (rt.crashes >= maxCrashes) throw new Error(`the model allows ${maxCrashes} crashes`);
    rt.crashes++;
  };

  const perform = (rt: RecoveryChainRuntime, action: SpecAction): void => {
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
        }
        return;
      }
      case 'W1Persist': {
        const ctx = rt.out1.getSnapshot().context;
        const extra = rt.pending1.length > 0 || ctx.toDelete.length > 0;
        const ready = recStep(rt.rec1, 'W1', { type: 'WorkerPersist', outputs: 0, extra });
        const p = ready.find((x) => x.kind === 'persist');
        if (p?.kind !== 'persist') throw new Error('WorkerPersist queued no store write');
        const decided = outStep(rt.out1, {
          type: 'W1Persist',
          entries: rt.pending1.map(() => ({ out: OUT, messages: 1 })),
          marks: p.marks,
        });
        if (decided === null) throw new Error("W1's outbox machine refused W1Persist");
        const entries = new Map(rt.store1.entries);
        let next = rt.store1.next;
        let i = 0;
        for (const r of decided) {
          if (r.kind === 'entry') {
            const m = rt.pending1[i++];
            if (m === undefined) rt.unexpected.push(`W1Persist: entry ${r.seq} beyond the pending outputs`);
            else {
              entries.set(r.seq, m);
              rt.carried1.set(r.seq, m);
            }
          } else if (r.kind === 'next') next = r.next;
          else if (r.kind === 'delete') entries.delete(r.seq);
          else
            rt.unexpected.push(
              `W1Persist: the outbox machine decided ${r.kind} before the commit is durable`,
            );
        }
        if (i !== rt.pending1.length)
          rt.unexpected.push(`W1Persist: ${rt.pending1.length} outputs, ${i} entries`);
        rt.pending1 = [];
        // The one store write of the commit.
        rt.store1 = { state: [...rt.state1], mark: p.marks[SRC_STREAM] ?? NO_MARK, entries, next };
        // ExactlyOnce.persisted: chain.persisted() (Persisted, W1SendOut), Persisted, WorkerAck.
        if (outStep(rt.out1, { type: 'Persisted', nowMs: rt.nowMs }) === null)
          rt.unexpected.push("W1's outbox machine refused Persisted");
        handle1(rt, outStep(rt.out1, { type: 'W1SendOut' }), 'W1Persist');
        recStep(rt.rec1, 'W1', { type: 'Persisted' });
        durable1(rt, 'W1Persist');
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
        const acked = rt.out1.getSnapshot().context.outs[OUT]!.acked;
        rt.toHand1 = rt.toHand1.filter((seq) => seq > acked);
        const seq = rt.toHand1.shift();
        if (seq === undefined) throw new Error("W1's outbox machine decided no send");
        rt.toW2.push({ seq, message: message1(rt, seq) });
        rt.handed1 = seq;
        return;
      }
      case 'W1ReceiveAck': {
        const ack = rt.ackW2;
        if (ack <= rt.delivered1) throw new Error('no new acknowledgement from W2 is on the connection');
        rt.delivered1 = ack;
        const next = rt.out1.getSnapshot().context.outs[OUT]!.next;
        if (ack >= next) {
          rt.unexpected.push(`W2 acknowledged entry ${ack}, but W1 made ${next}`);
          return;
        }
        handle1(
          rt,
          outStep(rt.out1, { type: 'W1ReceiveAck', out: OUT, ack, nowMs: rt.nowMs }),
          'W1ReceiveAck',
        );
        return;
      }
      case 'W2Receive': {
        const f = rt.toW2.shift();
        if (f === undefined) throw new Error('nothing is in flight to W2');
        const ready = recStep(rt.rec2, 'W2', {
          type: 'WorkerReceive',
          ranges: [{ stream: IN_STREAM, from: f.seq - 1, through: f.seq }],
        });
        const r = ready[0];
        if (ready.length !== 1) rt.unexpected.push(`W2Receive: ${ready.length} decisions for one range`);
        if (r?.kind === 'admit' && f.seq > r.above) {
          if (f.message !== f.seq + 1)
            rt.unexpected.push(
              `W2 admitted entry ${f.seq}, which carries message ${f.message}, not ${f.seq + 1}`,
            );
          rt.state2[f.message - 1]!++;
          rt.pending2.push(f.message);
          // ack-early2 (the shell): the entry is acknowledged as it is applied, before its commit.
          if (mutation === 'ack-early2') rt.ack2 = f.seq;
        } else handle2(rt, outStep(rt.out2, { type: 'W2Ack', stream: IN_STREAM }), 'W2Receive');
        return;
      }
      case 'W2Persist': {
        const ready = recStep(rt.rec2, 'W2', { type: 'WorkerPersist', outputs: rt.pending2.length });
        const p = ready.find((x) => x.kind === 'persist');
        if (p?.kind !== 'persist') throw new Error('WorkerPersist queued no store write');
        const decided = outStep(rt.out2, { type: 'W1Persist', entries: [], marks: p.marks });
        if (decided === null) throw new Error("W2's outbox machine refused W1Persist");
        let mark = rt.store2.mark;
        for (const r of decided) {
          if (r.kind === 'mark' && r.stream === IN_STREAM) mark = r.mark;
          else rt.unexpected.push(`W2Persist: the outbox machine decided ${JSON.stringify(r)}`);
        }
        const outbox = new Map([...rt.store2.outbox].filter(([id]) => id > p.outboxFloor));
        rt.pending2.forEach((m, k) => {
          outbox.set(p.firstOutput + k, m);
          rt.carried2.set(p.firstOutput + k, m);
        });
        if (p.firstOutput + rt.pending2.length !== p.nextOutput)
          rt.unexpected.push(`W2's outputs ${p.firstOutput}.. do not end at ${p.nextOutput - 1}`);
        rt.pending2 = [];
        rt.store2 = { state: [...rt.state2], mark, outbox, nextOutput: p.nextOutput, floor: p.outboxFloor };
        if (outStep(rt.out2, { type: 'Persisted', nowMs: rt.nowMs }) === null)
          rt.unexpected.push("W2's outbox machine refused Persisted");
        recStep(rt.rec2, 'W2', { type: 'Persisted' });
        durable2(rt, 'W2Persist');
        return;
      }
      case 'W2Ack': {
        if (rt.ack2 === null) {
          // W1 restarted since W2 acknowledged: the outbox machine acknowledges again (W2Ack).
          handle2(rt, outStep(rt.out2, { type: 'W2Ack', stream: IN_STREAM }), 'W2Ack');
          if (rt.ack2 === null) throw new Error("W2's outbox machine has released nothing to acknowledge");
        }
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
        rt.out1.stop();
        rt.rec1.stop();
        rt.toW1 = [];
        rt.ackW1 = 0;
        rt.toW2 = [];
        rt.ackW2 = NO_SEQ;
        rt.ack2 = null;
        startW1(rt);
        const to = rt.tracker.workerRestarted(W1);
        const c = rt.tracker.committed()[SOURCE]!;
        if (to[SOURCE] !== c + 1)
          rt.unexpected.push(`the rewind point is ${to[SOURCE]}, not committed + 1 = ${c + 1}`);
        return;
      }
      case 'CrashW2': {
        crash(rt);
        rt.out2.stop();
        rt.rec2.stop();
        rt.toW2 = [];
        rt.ackW2 = NO_SEQ;
        rt.toSink = [];
        rt.ackS = 0;
        startW2(rt);
        // W1's connection to W2 is lost; W1 learns nothing but silence, and resends after it.
        rt.toHand1 = [];
        rt.handed1 = NO_SEQ;
        rt.nowMs += MAX_RESEND_AFTER_MS;
        handle1(rt, outStep(rt.out1, { type: 'CrashW2', nowMs: rt.nowMs }), 'CrashW2');
        handle1(rt, outStep(rt.out1, { type: 'W1SendOut' }), 'CrashW2');
        return;
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
        if (!(all && once && sunk && rt.store1.entries.size === 0 && rt.store2.outbox.size === 0))
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
        nowMs: 0,
        store1: { state: zeros(), mark: NO_MARK, entries: new Map(), next: 0 },
        store2: { state: zeros(), mark: NO_MARK, outbox: new Map(), nextOutput: 1, floor: 0 },
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
      startW1(rt);
      startW2(rt);
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
      const o1 = rt.out1.getSnapshot().context.outs[OUT]!;
      if ((c1.durableMarks[SRC_STREAM] ?? NO_MARK) !== rt.store1.mark)
        throw new Error(
          `W1's durable mark ${c1.durableMarks[SRC_STREAM] ?? NO_MARK} is not its store's ${rt.store1.mark}`,
        );
      const acked1 = Math.max(rt.delivered1, rt.floor1);
      if (o1.acked !== acked1)
        throw new Error(
          `W1's outbox machine takes entries <= ${o1.acked} as acknowledged, but W2 acknowledged ${rt.delivered1} and the recovered outbox began above ${rt.floor1}`,
        );
      const c2 = rt.rec2.getSnapshot().context;
      if ((c2.durableMarks[IN_STREAM] ?? NO_MARK) !== rt.store2.mark)
        throw new Error(
          `W2's durable mark ${c2.durableMarks[IN_STREAM] ?? NO_MARK} is not its store's ${rt.store2.mark}`,
        );
      const out1 = [...rt.pending1, ...o1.entries.map((x) => message1(rt, x.seq))];
      const out2: number[] = [...rt.pending2];
      for (let id = c2.outboxFloor + 1; id < c2.nextOutput; id++) {
        const m = rt.carried2.get(id);
        if (m === undefined) throw new Error(`W2's machine holds output ${id}, which the shell never saw`);
        out2.push(m);
      }
      return {
        committed: committed + 1,
        srcTx: rt.tracker.state.read[SOURCE]! + 2,
        state1: fold(rt.state1),
        mark1: (c1.marks[SRC_STREAM] ?? NO_MARK) + 1,
        out1: setOf(out1),
        outTx1: rt.handed1 === NO_SEQ ? 0 : message1(rt, rt.handed1),
        acked2: rt.delivered1 + 1,
        dState1: fold(rt.store1.state),
        dMark1: rt.store1.mark + 1,
        dOut1: setOf([...rt.store1.entries.values()]),
        state2: fold(rt.state2),
        mark2: (c2.marks[IN_STREAM] ?? NO_MARK) + 1,
        out2: setOf(out2),
        outTx2: rt.handed2 === 0 ? 0 : rt.carried2.get(rt.handed2)!,
        dState2: fold(rt.store2.state),
        dMark2: rt.store2.mark + 1,
        dOut2: setOf([...rt.store2.outbox.values()]),
        written: tuple(rt.written),
        sinkMark: rt.sinkMark,
        toW1: tuple(rt.toW1),
        ackW1: rt.ackW1,
        toW2: tuple(rt.toW2.map((f) => f.message)),
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
      const next = rt.out1.getSnapshot().context.outs[OUT]!.next;
      out.push({
        what: `an acknowledgement of entry ${next}, which W1 never made (its outbox machine)`,
        attempt: () => {
          if (outStep(rt.out1, { type: 'W1ReceiveAck', out: OUT, ack: next, nowMs: rt.nowMs }) !== null)
            rt.unexpected.push(
              `W1's outbox machine took an acknowledgement of entry ${next}, which it never made`,
            );
        },
      });
      out.push({
        what: "W2's entry range running backwards (its recovery machine)",
        attempt: () =>
          recStep(rt.rec2, 'W2', {
            type: 'WorkerReceive',
            ranges: [{ stream: IN_STREAM, from: 1, through: 0 }],
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
