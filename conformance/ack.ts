// Conformance adapter for specs/Ack.tla. The source role runs on the runtime's commit tracker
// (runtime/engine/source-commit.ts, SourceCommitTracker, running machines/source-commit.ts),
// with the source worker's durable committed offset kept by the adapter as its store would;
// the stateful worker, the sink and the connections between them run on the Ack machine's
// worker and sink roles (machines/ack-tracker.ts, ackWorkerMachine). The runtime's own worker
// core is Recovery.tla's (watermarks over in-order channels, conformance/recovery.ts); Ack.tla's
// connections reorder, a step that core never takes, so here the worker role is its machine.
// Each spec action is one operation:
//
//   SourceRead            tracker.read(0, read + 1) (the external system holds Msgs offsets)
//   SourceSend(m)         m must be one the tracker says is kept (read, not acknowledged);
//                         it goes on the connection to the worker (the worker machine's event)
//   SourceReceiveAck(m)   the acknowledgement m is taken off the connection (worker machine)
//                         and handed to the tracker: acknowledge(worker, 0, m - 1, m)
//   SourceCommit          tracker.commit(0, offset + 1), which must be taken; the committed
//                         offset is then what the source worker's store holds
//   Worker*, SinkReceive  the worker machine's events
//   CrashWorker           the worker machine's event; the tracker is not told: Ack's source
//                         keeps what is unacknowledged and resends it (a keeping source, like
//                         `buffy send` behind the TCP source); the rewind a restart brings in
//                         the runtime is Recovery's CrashWorker, checked by conformance/recovery.ts
//   CrashSource           the connection's half on the worker machine; the source worker
//                         restarts: a fresh tracker from its store's committed offset, the
//                         worker registered again (workerJoined)
//   Done                  nothing (a stuttering step), where the tracker has committed all and
//                         the worker machine allows it
//
// The refinement mapping (abstract): offset = tracker.committed()[0], read = tracker.state.read[0],
// kept = tracker.kept(0); the other variables are the worker machine's.
//
// Refusals: every action instance the spec disables at a state is attempted through `perform`
// (the tracker must refuse SourceCommit before the acknowledgement; the worker machine its
// own), and an acknowledgement from a worker that never registered must be refused.
import { fileURLToPath } from 'node:url';
import { createActor, type Actor } from 'xstate';
import { SourceCommitTracker, type SourceCommitMutation } from '../runtime/engine/source-commit.ts';
import {
  ACK_ACTIONS,
  ACK_PARAMETERISED,
  ACK_SOURCE,
  ACK_WORKER,
  ackEventOf,
  ackWorkerMachine,
  type AckAction,
  type AckWorkerEvent,
} from '../machines/ack-tracker.ts';
import { setOf, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, Refusal, SpecAction, SpecState } from './harness.ts';

/** Deliberately broken variants the suite must catch. */
export type AckMutation =
  /** The tracker commits what the source read, before it is durable downstream. */
  | 'commit-early'
  /** The worker acknowledges what it applied in memory, before its write is durable. */
  | 'ack-early';
export const ACK_MUTATIONS: readonly AckMutation[] = ['commit-early', 'ack-early'];

export interface AckAdapterOptions {
  readonly msgs: number;
  readonly maxCrashes: number;
  readonly mutation?: AckMutation;
}

/** The runtime objects of one replay. */
export interface AckRuntime {
  tracker: SourceCommitTracker;
  readonly worker: Actor<typeof ackWorkerMachine>;
  /** The source worker's store: the committed offset it persisted (`c/0`). */
  storedCommitted: number;
}

export function natConstant(c: Readonly<Record<string, Value>>, name: string, model: string): number {
  const v = c[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new TypeError(`${model} model: constant ${name} must be a natural number, got ${String(v)}`);
  return v;
}

export function boolConstant(c: Readonly<Record<string, Value>>, name: string, model: string): boolean {
  const v = c[name];
  if (typeof v !== 'boolean')
    throw new TypeError(`${model} model: constant ${name} must be TRUE or FALSE, got ${String(v)}`);
  return v;
}

function mArg(a: SpecAction): number {
  const m = a.args.m;
  if (typeof m !== 'number')
    throw new Error(`${a.name}: the message argument m must be a number, got ${String(m)}`);
  return m;
}

export function ackAdapter(opts: AckAdapterOptions): ConformanceAdapter<AckRuntime> {
  const { msgs, maxCrashes, mutation } = opts;
  const trackerMutation: SourceCommitMutation | undefined =
    mutation === 'commit-early' ? 'commit-early' : undefined;
  const newTracker = (committed: number): SourceCommitTracker =>
    new SourceCommitTracker({
      sources: 1,
      committed: { [ACK_SOURCE]: committed },
      workers: [ACK_WORKER],
      where: 'conformance ack',
      ...(trackerMutation ? { mutation: trackerMutation } : {}),
    });
  const toWorker = (rt: AckRuntime, e: AckWorkerEvent, what: string): void => {
    const snap = rt.worker.getSnapshot();
    if (!snap.can(e)) throw new Error(`the worker machine refuses ${what}`);
    rt.worker.send(e);
  };

  const perform = (rt: AckRuntime, action: SpecAction): void => {
    const name = action.name as AckAction;
    if (!ACK_ACTIONS.includes(name)) throw new Error(`Ack has no action ${action.name}`);
    const m = ACK_PARAMETERISED.has(name) ? mArg(action) : undefined;
    const what = m === undefined ? name : `${name}(${m})`;
    switch (name) {
      case 'SourceRead': {
        const read = rt.tracker.state.read[ACK_SOURCE]!;
        if (read >= msgs) throw new Error(`the external system holds ${msgs} offsets, all read`);
        rt.tracker.read(ACK_SOURCE, read + 1);
        return;
      }
      case 'SourceSend':
        if (!rt.tracker.kept(ACK_SOURCE).includes(m!))
          throw new Error(
            `the tracker does not keep offset ${m} (kept: ${rt.tracker.kept(ACK_SOURCE).join(', ')})`,
          );
        toWorker(rt, { type: 'SourceSend', m: m! }, what);
        return;
      case 'SourceReceiveAck':
        toWorker(rt, { type: 'SourceReceiveAck', m: m! }, what);
        rt.tracker.acknowledge(ACK_WORKER, ACK_SOURCE, m! - 1, m!);
        return;
      case 'SourceCommit': {
        const to = rt.tracker.committed()[ACK_SOURCE]! + 1;
        if (!rt.tracker.commit(ACK_SOURCE, to)) throw new Error(`the tracker refuses to commit offset ${to}`);
        rt.storedCommitted = to;
        return;
      }
      case 'CrashSource':
        toWorker(rt, { type: 'CrashSource' }, what);
        rt.tracker = newTracker(rt.storedCommitted);
        return;
      case 'Done':
        if (rt.tracker.committed()[ACK_SOURCE] !== msgs)
          throw new Error(`Done with ${rt.tracker.committed()[ACK_SOURCE]} of ${msgs} offsets committed`);
        toWorker(rt, { type: 'Done' }, what);
        return;
      default:
        toWorker(rt, ackEventOf(name, m) as AckWorkerEvent, what);
    }
  };

  return {
    create(): AckRuntime {
      const worker = createActor(ackWorkerMachine, {
        input: { msgs, maxCrashes, ackEarly: mutation === 'ack-early', commitEarly: false },
      });
      worker.start();
      return { tracker: newTracker(0), worker, storedCommitted: 0 };
    },

    perform,

    abstract(rt: AckRuntime): SpecState {
      const w = rt.worker.getSnapshot().context;
      const set = (xs: readonly number[]): Value => setOf([...xs]);
      const committed = rt.tracker.committed()[ACK_SOURCE]!;
      if (committed !== rt.storedCommitted)
        throw new Error(
          `the tracker committed ${committed}, the source worker's store holds ${rt.storedCommitted}`,
        );
      return {
        offset: committed,
        read: rt.tracker.state.read[ACK_SOURCE]!,
        kept: set(rt.tracker.kept(ACK_SOURCE)),
        mem: set(w.mem),
        dur: set(w.dur),
        toAck: set(w.toAck),
        outbox: set(w.outbox),
        sunk: set(w.sunk),
        toW: set(w.toW),
        acksW: set(w.acksW),
        toSink: set(w.toSink),
        acksS: set(w.acksS),
        crashes: w.crashes,
      };
    },

    refusals(rt: AckRuntime): Refusal[] {
      const out: Refusal[] = [];
      for (const name of ACK_ACTIONS) {
        const params = ACK_PARAMETERISED.has(name)
          ? Array.from({ length: msgs }, (_, k) => k + 1)
          : [undefined];
        for (const m of params) {
          const spec: SpecAction = { name, args: m === undefined ? {} : { m } };
          out.push({
            what: m === undefined ? name : `${name}(m = ${m})`,
            spec,
            attempt: () => perform(rt, spec),
          });
        }
      }
      out.push({
        what: 'an acknowledgement from a worker that never registered (the tracker)',
        attempt: () => rt.tracker.acknowledge('a stranger', ACK_SOURCE, 0, 1),
      });
      out.push({
        what: `a progress report from a worker that never registered (the tracker)`,
        attempt: () => rt.tracker.report('a stranger', { [ACK_SOURCE]: msgs }),
      });
      return out;
    },
  };
}

export const SPECS_DIR = fileURLToPath(new URL('../specs/', import.meta.url));

/** The models `buffy conformance ack` runs (the broken variants' models are the checker's to refute). */
export const ACK_MODELS: readonly string[] = [`${SPECS_DIR}Ack.cfg`];

/** The larger model (16226 states, about a minute and a half): conformance/ack.test.ts and `--config`. */
export const ACK_LARGE_MODEL = `${SPECS_DIR}Ack-msgs2.cfg`;

/** The suite: specs/Ack.tla with a model (default specs/Ack.cfg). */
export function ackSuite(
  opts: { cfgFile?: string; mutation?: AckMutation } = {},
): ConformanceSuite<AckRuntime> {
  return {
    name: opts.mutation ? `ack[mutation ${opts.mutation}]` : 'ack',
    specFile: `${SPECS_DIR}Ack.tla`,
    cfgFile: opts.cfgFile ?? `${SPECS_DIR}Ack.cfg`,
    constants: ['Msgs', 'MaxCrashes', 'AckEarly', 'CommitEarly'],
    adapter: (c) => {
      for (const name of ['AckEarly', 'CommitEarly'])
        if (boolConstant(c, name, 'Ack'))
          throw new Error(
            `Ack model: ${name} = TRUE is a broken variant of the spec, for the checker to refute; the conformance suite replays the correct spec (a broken runtime is --mutation)`,
          );
      return ackAdapter({
        msgs: natConstant(c, 'Msgs', 'Ack'),
        maxCrashes: natConstant(c, 'MaxCrashes', 'Ack'),
        ...(opts.mutation ? { mutation: opts.mutation } : {}),
      });
    },
  };
}
