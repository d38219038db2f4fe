// Conformance adapter for specs/Recovery.tla. The source role runs on the runtime's commit
// tracker (runtime/engine/source-commit.ts, SourceCommitTracker); the stateful worker's role on
// the runtime's exactly-once core, machines/recovery-worker.ts (the machine that
// runtime/engine/exactly-once.ts runs), with this adapter as its shell: an in-memory store
// written in one piece per commit (as ExactlyOnce.kick does with one Store.writeBatch), the
// application's state (the spec's fold: per message, how many times it was applied), outputs
// (message m's output carries m) and the connections. The sink is the external system, played
// as the spec has it (a durable log with a dedup watermark, acknowledging its watermark).
//
// Offsets: the spec's offsets are 1..Msgs with 0 for "none"; the runtime's are the source's,
// from 0, with NO_MARK = -1 for "none": runtime offset = spec offset - 1 (marks, committed and
// read likewise). Output ids are the runtime's, 1, 2, ..., which equal the spec's (message m is
// the m-th applied) when the worker applies each message once in order.
//
//   SourceSend            tracker.read(0, srcTx - 1); the message goes on the connection
//   SourceReceiveAck      tracker.report(worker, {0: ackW - 1}) (the worker's durable watermark)
//   WorkerReceive         the head message, as the runtime's batch of one: WorkerReceive with the
//                         range (m - 2, m - 1]; on `admit`, the application applies it (fold
//                         + 1, its output pending); a duplicate or a gap is dropped
//   WorkerPersist         WorkerPersist {outputs: pending}, then the store write of its `persist`
//                         (state, marks, the new outputs into the outbox, entries at or below the
//                         floor deleted, the output counter), then Persisted: the spec's step is
//                         atomic, so the write completes within it
//   WorkerAck             WorkerAck; its `ack` marks are ackW (as spec offsets)
//   WorkerSendOut         the shell hands the sink the next output it took from the machine's
//                         WorkerSendOut (which takes every durable output at once: the shell
//                         writes them to the sink one by one, as ExactlyOnce.writeOut does)
//   WorkerReceiveSinkAck  WorkerReceiveSinkAck {through: ackS}
//   SinkReceive           the sink takes the head output (the external system)
//   CrashWorker           a new machine, Recover from the store; the shell's memory is lost;
//                         the tracker hears that the worker registered again (workerRestarted)
//                         and rewinds the source to committed + 1
//   CrashSource           a fresh tracker from the source worker's store (its committed offset),
//                         the worker registered; the connection to the worker is lost
//   Done                  nothing, where everything is committed, applied once, written, and
//                         the outbox is empty
//
// The refinement mapping (abstract): committed = tracker committed + 1, srcTx = tracker read + 2;
// state = the shell's fold, mark = the machine's mark + 1, out = the outputs the machine holds
// unacknowledged (ids above its outbox floor, and those produced since the last commit) by the
// message they carry, outTx = the id of the last output handed to the sink on this connection;
// dState, dMark, dOut = the store's; written, sinkMark = the sink's; toW, ackW, toSink, ackS = the
// connections'; crashes = the adapter's count.
//
// The store's outbox is trimmed of what the sink acknowledged by the next commit (the file
// sink's progress rides along; recovery truncates the file and writes the outbox again), and
// so is the spec's dOut: its WorkerReceiveSinkAck changes `out` only, WorkerPersist carries the
// trim, and WorkerSendOut sends from dOut \cap out. Every step here is the runtime's own.
//
// The shell re-sends its last durable marks to a source worker that restarted (CrashSource:
// ackW' = 0): the machine has acknowledged them already and refuses WorkerAck, so the report
// again is the shell's (the cluster's, on reconnecting to a restarted initializer).
//
// Mutations: on the machine through `provide` (its guards and actions replaced: `no-dedup`
// applies every range, `ack-early` acknowledges the volatile marks), on the shell
// (`non-atomic-write`: a commit writes the marks, but the state and outputs only with the next
// commit), and on the tracker (`commit-early`, `forget-rewind`).
import { assign, createActor, type Actor } from 'xstate';
import { SourceCommitTracker, type SourceCommitMutation } from '../runtime/engine/source-commit.ts';
import {
  NO_MARK,
  RECOVERY_ACTION_ROLES,
  drainRecoveryReady,
  recoveryWorkerMachine,
  type RecoveryReady,
  type RecoveryWorkerEvent,
} from '../machines/recovery-worker.ts';
import { fcnFromPairs, setOf, tuple, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, Refusal, SpecAction, SpecState } from './harness.ts';
import { boolConstant, natConstant, SPECS_DIR } from './ack.ts';

export type RecoveryMutation =
  'no-dedup' | 'ack-early' | 'non-atomic-write' | 'commit-early' | 'forget-rewind';
export const RECOVERY_MUTATIONS: readonly RecoveryMutation[] = [
  'no-dedup',
  'ack-early',
  'non-atomic-write',
  'commit-early',
  'forget-rewind',
];

/** The worker's name at the tracker, and the one source's index and stream. */
const WORKER = 'worker';
const SOURCE = 0;
const STREAM = 0;

/** The worker machine, or a deliberately broken variant of it (conformance/recovery-chain.ts's
 * W2 takes its `no-dedup` too). */
export function workerMachine(mutation: RecoveryMutation | undefined) {
  if (mutation === 'no-dedup')
    return recoveryWorkerMachine.provide({
      actions: {
        // Every range is applied whole, whatever the watermark says.
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
  if (mutation === 'ack-early')
    return recoveryWorkerMachine.provide({
      guards: {
        // What is applied in memory is acknowledged, durable or not.
        ackable: ({ context }) =>
          Object.entries(context.marks).some(([k, m]) => m > (context.acked[Number(k)] ?? NO_MARK)),
      },
      actions: {
        ack: assign(({ context }) => {
          const marks = { ...context.marks };
          context.ready.push({ kind: 'ack', marks });
          return { acked: marks };
        }),
      },
    });
  return recoveryWorkerMachine;
}

/** The worker's store: what the last commit wrote. */
interface Store {
  state: number[];
  mark: number;
  /** Outbox entries by output id: the message each output carries. */
  outbox: Map<number, number>;
  nextOutput: number;
  floor: number;
}

/** The runtime objects of one replay. */
export interface RecoveryRuntime {
  tracker: SourceCommitTracker;
  /** The source worker's store: its committed offset (runtime offsets). */
  storedCommitted: number;
  worker: Actor<ReturnType<typeof workerMachine>>;
  /** The worker shell's memory: the fold, outputs produced since the last commit, the messages
   * outputs carry, outputs taken from the machine and not yet handed to the sink, the last handed. */
  state: number[];
  pending: number[];
  carried: Map<number, number>;
  toHand: number[];
  handed: number;
  store: Store;
  /** non-atomic-write: the part of the last commit not yet written. */
  lagging: { state: number[]; outbox: Map<number, number> } | null;
  /** The sink (external, durable). */
  readonly written: number[];
  sinkMark: number;
  /** Connections: spec offsets to the worker, the ack in flight (spec), output ids to the sink, its ack. */
  toW: number[];
  ackW: number;
  /** The shell's last report of its durable marks (spec offsets), which it sends again to a restarted source worker. */
  lastAck: number;
  toSink: number[];
  ackS: number;
  crashes: number;
  /** Something the machine queued that the spec has no place for. */
  readonly unexpected: string[];
}

export interface RecoveryAdapterOptions {
  readonly msgs: number;
  readonly maxCrashes: number;
  readonly mutation?: RecoveryMutation;
}

export function recoveryAdapter(opts: RecoveryAdapterOptions): ConformanceAdapter<RecoveryRuntime> {
  const { msgs, maxCrashes, mutation } = opts;
  const trackerMutation: SourceCommitMutation | undefined =
    mutation === 'commit-early' || mutation === 'forget-rewind' ? mutation : undefined;
  const newTracker = (committed: number): SourceCommitTracker =>
    new SourceCommitTracker({
      sources: 1,
      committed: { [SOURCE]: committed },
      workers: [WORKER],
      where: 'conformance recovery',
      ...(trackerMutation ? { mutation: trackerMutation } : {}),
    });
  const machine = workerMachine(mutation);
  const startWorker = (store: Store): Actor<ReturnType<typeof workerMachine>> => {
    const a = createActor(machine).start();
    a.send({
      type: 'Recover',
      marks: store.mark === NO_MARK ? {} : { [STREAM]: store.mark },
      nextOutput: store.nextOutput,
      outboxFloor: store.floor,
    });
    if (a.getSnapshot().value !== 'up')
      throw new Error('the worker machine refused to recover from its store');
    drainRecoveryReady(a.getSnapshot().context);
    return a;
  };
  /** Sends an event the machine must take; returns what it queued. */
  const step = (rt: RecoveryRuntime, e: RecoveryWorkerEvent): RecoveryReady[] => {
    const snap = rt.worker.getSnapshot();
    if (!snap.can(e)) throw new Error(`the worker machine refuses ${e.type}`);
    rt.worker.send(e);
    return drainRecoveryReady(rt.worker.getSnapshot().context);
  };
  const expect = (
    rt: RecoveryRuntime,
    ready: RecoveryReady[],
    kinds: readonly string[],
    what: string,
  ): void => {
    const got = ready.map((r) => r.kind);
    if (got.join() !== kinds.join())
      rt.unexpected.push(`${what}: the machine queued [${got.join(', ')}], not [${kinds.join(', ')}]`);
  };
  const zeros = (): number[] => Array.from({ length: msgs }, () => 0);

  const perform = (rt: RecoveryRuntime, action: SpecAction): void => {
    switch (action.name) {
      case 'SourceSend': {
        const m = rt.tracker.state.read[SOURCE]! + 2;
        if (m > msgs) throw new Error(`the external system holds ${msgs} offsets, all sent`);
        rt.tracker.read(SOURCE, m - 1);
        rt.toW.push(m);
        return;
      }
      case 'SourceReceiveAck': {
        const advanced = rt.tracker.report(WORKER, { [SOURCE]: rt.ackW - 1 });
        if (advanced[SOURCE] !== undefined) rt.storedCommitted = advanced[SOURCE];
        return;
      }
      case 'WorkerReceive': {
        const m = rt.toW.shift();
        if (m === undefined) throw new Error('nothing is in flight to the worker');
        const ready = step(rt, {
          type: 'WorkerReceive',
          ranges: [{ stream: STREAM, from: m - 2, through: m - 1 }],
        });
        if (ready.length !== 1)
          rt.unexpected.push(`WorkerReceive queued ${ready.length} decisions for one range`);
        const r = ready[0];
        if (r?.kind === 'admit' && m - 1 > r.above) {
          rt.state[m - 1]!++;
          rt.pending.push(m);
        }
        return;
      }
      case 'WorkerPersist': {
        const ready = step(rt, { type: 'WorkerPersist', outputs: rt.pending.length });
        const p = ready.find((r) => r.kind === 'persist');
        if (p?.kind !== 'persist') throw new Error('WorkerPersist queued no store write');
        expect(rt, ready, ['persist'], 'WorkerPersist');
        const outbox = new Map([...rt.store.outbox].filter(([id]) => id > p.outboxFloor));
        rt.pending.forEach((m, i) => {
          outbox.set(p.firstOutput + i, m);
          rt.carried.set(p.firstOutput + i, m);
        });
        if (p.firstOutput + rt.pending.length !== p.nextOutput)
          rt.unexpected.push(`outputs ${p.firstOutput}.. do not end at ${p.nextOutput - 1}`);
        rt.pending = [];
        const mark = p.marks[STREAM] ?? NO_MARK;
        if (mutation === 'non-atomic-write') {
          // The marks land now; the state and the outputs with the next commit.
          const behind = rt.lagging;
          rt.lagging = { state: [...rt.state], outbox };
          rt.store = { ...rt.store, mark, nextOutput: p.nextOutput, floor: p.outboxFloor, ...(behind ?? {}) };
        } else
          rt.store = { state: [...rt.state], mark, outbox, nextOutput: p.nextOutput, floor: p.outboxFloor };
        expect(rt, step(rt, { type: 'Persisted' }), ['durable'], 'Persisted');
        return;
      }
      case 'WorkerAck': {
        if (!rt.worker.getSnapshot().can({ type: 'WorkerAck' }) && rt.lastAck > rt.ackW) {
          // The machine acknowledged this already, but the source worker restarted and lost it:
          // the shell reports its last durable marks again (on reconnecting to it).
          rt.ackW = rt.lastAck;
          return;
        }
        const ready = step(rt, { type: 'WorkerAck' });
        const a = ready.find((r) => r.kind === 'ack');
        expect(rt, ready, ['ack'], 'WorkerAck');
        if (a?.kind === 'ack') rt.ackW = rt.lastAck = (a.marks[STREAM] ?? NO_MARK) + 1;
        return;
      }
      case 'WorkerSendOut': {
        // Outputs the sink has acknowledged meanwhile (it wrote them in an earlier incarnation) are not handed again.
        const floor = rt.worker.getSnapshot().context.outboxFloor;
        rt.toHand = rt.toHand.filter((id) => id > floor);
        if (rt.toHand.length === 0) {
          const ready = step(rt, { type: 'WorkerSendOut' });
          expect(rt, ready, ['sendOut'], 'WorkerSendOut');
          for (const r of ready)
            if (r.kind === 'sendOut') for (let id = r.from; id <= r.through; id++) rt.toHand.push(id);
        }
        const id = rt.toHand.shift();
        if (id === undefined) throw new Error('WorkerSendOut gave the shell no output to hand');
        rt.toSink.push(id);
        rt.handed = id;
        return;
      }
      case 'WorkerReceiveSinkAck':
        expect(
          rt,
          step(rt, { type: 'WorkerReceiveSinkAck', through: rt.ackS }),
          ['sinkAcked'],
          'WorkerReceiveSinkAck',
        );
        return;
      case 'SinkReceive': {
        const id = rt.toSink.shift();
        if (id === undefined) throw new Error('nothing is in flight to the sink');
        const o = rt.carried.get(id) ?? rt.store.outbox.get(id);
        if (o === undefined) throw new Error(`output ${id} carries no message the shell knows`);
        if (o > rt.sinkMark) {
          rt.written.push(o);
          rt.sinkMark = o;
        }
        rt.ackS = rt.sinkMark;
        return;
      }
      case 'CrashWorker': {
        if (rt.crashes >= maxCrashes) throw new Error(`the model allows ${maxCrashes} crashes`);
        rt.crashes++;
        rt.worker.stop();
        rt.worker = startWorker(rt.store);
        rt.state = [...rt.store.state];
        rt.pending = [];
        rt.carried = new Map(rt.store.outbox);
        rt.toHand = [];
        rt.handed = 0;
        rt.toW = [];
        rt.ackW = 0;
        rt.lastAck = 0;
        rt.toSink = [];
        rt.ackS = 0;
        const to = rt.tracker.workerRestarted(WORKER);
        const c = rt.tracker.committed()[SOURCE]!;
        if (to[SOURCE] !== c + 1)
          rt.unexpected.push(`the rewind point is ${to[SOURCE]}, not committed + 1 = ${c + 1}`);
        return;
      }
      case 'CrashSource':
        if (rt.crashes >= maxCrashes) throw new Error(`the model allows ${maxCrashes} crashes`);
        rt.crashes++;
        rt.tracker = newTracker(rt.storedCommitted);
        rt.toW = [];
        rt.ackW = 0;
        return;
      case 'Done': {
        const all = rt.tracker.committed()[SOURCE] === msgs - 1;
        const once = rt.store.state.every((n) => n === 1);
        const sunk = new Set(rt.written).size === msgs;
        if (!(all && once && sunk && rt.store.outbox.size === 0))
          throw new Error('Done before everything is committed, applied once, written and out of the outbox');
        return;
      }
      default:
        throw new Error(`Recovery has no action ${action.name}`);
    }
  };

  return {
    create(): RecoveryRuntime {
      const store: Store = { state: zeros(), mark: NO_MARK, outbox: new Map(), nextOutput: 1, floor: 0 };
      return {
        tracker: newTracker(NO_MARK),
        storedCommitted: NO_MARK,
        worker: startWorker(store),
        state: zeros(),
        pending: [],
        carried: new Map(),
        toHand: [],
        handed: 0,
        store,
        lagging: null,
        written: [],
        sinkMark: 0,
        toW: [],
        ackW: 0,
        lastAck: 0,
        toSink: [],
        ackS: 0,
        crashes: 0,
        unexpected: [],
      };
    },

    perform,

    abstract(rt: RecoveryRuntime): SpecState {
      if (rt.unexpected.length > 0) throw new Error(rt.unexpected.join('; '));
      const c = rt.worker.getSnapshot().context;
      const committed = rt.tracker.committed()[SOURCE]!;
      if (committed !== rt.storedCommitted)
        throw new Error(
          `the tracker committed ${committed}, the source worker's store holds ${rt.storedCommitted}`,
        );
      if ((c.durableMarks[STREAM] ?? NO_MARK) !== rt.store.mark)
        throw new Error(
          `the machine's durable mark ${c.durableMarks[STREAM] ?? NO_MARK} is not the store's ${rt.store.mark}`,
        );
      const fold = (xs: readonly number[]): Value =>
        fcnFromPairs(
          xs.map((_, i) => i + 1),
          [...xs],
        );
      const out: number[] = [...rt.pending];
      for (let id = c.outboxFloor + 1; id < c.nextOutput; id++) {
        const m = rt.carried.get(id);
        if (m === undefined) throw new Error(`the machine holds output ${id}, which the shell never saw`);
        out.push(m);
      }
      const handed = rt.handed === 0 ? 0 : rt.carried.get(rt.handed)!;
      return {
        committed: committed + 1,
        srcTx: rt.tracker.state.read[SOURCE]! + 2,
        state: fold(rt.state),
        mark: (c.marks[STREAM] ?? NO_MARK) + 1,
        out: setOf(out),
        outTx: handed,
        dState: fold(rt.store.state),
        dMark: rt.store.mark + 1,
        dOut: setOf([...rt.store.outbox.values()]),
        written: tuple(rt.written),
        sinkMark: rt.sinkMark,
        toW: tuple(rt.toW),
        ackW: rt.ackW,
        toSink: tuple(rt.toSink.map((id) => rt.carried.get(id) ?? rt.store.outbox.get(id) ?? -id)),
        ackS: rt.ackS,
        crashes: rt.crashes,
      };
    },

    refusals(rt: RecoveryRuntime): Refusal[] {
      const out: Refusal[] = Object.keys(RECOVERY_ACTION_ROLES).map((name) => ({
        what: name,
        spec: { name, args: {} },
        attempt: () => perform(rt, { name, args: {} }),
      }));
      out.push({
        what: 'a progress report from a worker that never registered (the tracker)',
        attempt: () => rt.tracker.report('a stranger', { [SOURCE]: msgs - 1 }),
      });
      const mark = rt.tracker.state.workers[WORKER]![SOURCE]!.mark;
      out.push({
        what: `a commit beyond the worker's durable watermark ${mark} (the tracker)`,
        attempt: () => rt.tracker.commit(SOURCE, mark + 1),
      });
      out.push({
        what: 'a batch whose range runs backwards (the worker machine)',
        attempt: () => step(rt, { type: 'WorkerReceive', ranges: [{ stream: STREAM, from: 1, through: 0 }] }),
      });
      return out;
    },
  };
}

/** The models `buffy conformance recovery` runs (the broken variants' are the checker's to refute). */
export const RECOVERY_MODELS: readonly string[] = [
  `${SPECS_DIR}Recovery.cfg`,
  `${SPECS_DIR}Recovery-crashes2.cfg`,
];

/** The suite: specs/Recovery.tla with a model (default specs/Recovery.cfg). */
export function recoverySuite(
  opts: { cfgFile?: string; mutation?: RecoveryMutation } = {},
): ConformanceSuite<RecoveryRuntime> {
  const tags = opts.mutation ? [`mutation ${opts.mutation}`] : [];
  return {
    name: tags.length > 0 ? `recovery[${tags.join('; ')}]` : 'recovery',
    specFile: `${SPECS_DIR}Recovery.tla`,
    cfgFile: opts.cfgFile ?? `${SPECS_DIR}Recovery.cfg`,
    constants: ['Msgs', 'MaxCrashes', 'NoDedup', 'SinkNoDedup', 'AckEarly'],
    adapter: (c) => {
      for (const name of ['NoDedup', 'SinkNoDedup', 'AckEarly'])
        if (boolConstant(c, name, 'Recovery'))
          throw new Error(
            `Recovery model: ${name} = TRUE is a broken variant of the spec, for the checker to refute; the conformance suite replays the correct spec (a broken runtime is --mutation)`,
          );
      return recoveryAdapter({
        msgs: natConstant(c, 'Msgs', 'Recovery'),
        maxCrashes: natConstant(c, 'MaxCrashes', 'Recovery'),
        ...(opts.mutation ? { mutation: opts.mutation } : {}),
      });
    },
  };
}
