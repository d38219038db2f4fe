// A whole cluster of an application in one process, under deterministic simulation (issue 8).
// One file past 800 lines: simulate() is one closure over one run's state (the live workers,
// the coordinator's tracker, the fault schedule, the checkpoints), which every part reads.
//
// N worker engines (runtime/engine/worker.ts, unchanged) joined by the real DataPlanes,
// ChannelEndpoints and delivery machines over the simulated network (sim/net.ts), with buffy
// node's channel timers (delayed ACK, handshake and idle timeouts) on each worker's clock, each
// with a SimStore on one SimDisk and its file sinks as SimFileSinks (sim/disk.ts), every timer
// on one simulated clock (sim/scheduler.ts) that this module's loop drives: it lets every microtask
// settle, then runs the next timer, so simulated time runs as fast as the CPU allows. Every
// choice (fault schedule, latencies, where byte streams are cut, which write tears) comes from
// one seed.
//
// The control plane is this module, in the role of the coordinator's shell and the source
// worker's (docs/exactly-once.md): the partition table, simulated control connections (one
// control latency, lost while cut) and the control faults. The coordinator's decisions are not
// modelled here but run: runtime/cluster/coordinator-core.ts, the same core buffy node's
// coordinator runs, decides which registration is a restarted process (a rewind of every source
// to the tracker's rewind points) or a new member (none), rewinds a gap to committed + 1 once per
// quiet period (REWIND_QUIET_MS), and turns the durable watermarks into commits (its
// SourceCommitTracker) that go to the source worker. As buffy node's engine starts on `start`,
// sent once a complete cluster's first round is done, the source worker's engine starts once
// every worker has registered with the current coordinator. A crash drops the worker's engine and channels and crashes its disk
// (SimDisk.crash); a restart builds a new engine on a fresh openStore (it recovers) and the
// peers get fresh channels to it. As in buffy node, the coordinator lives in the initializer
// (w1, the source worker): its crash loses the tracker, and the restarted coordinator forms the
// cluster again from the workers' registrations; a `control` fault cuts one worker's control
// connection for a while (its progress and gap reports are lost, as node drops them).
//
// At the end it checks the exactly-once properties against a fault-free embedded run of the
// same input: each state equals the fold of each source message once, the sinks hold each
// output once (no duplicate, no gap, no torn line), every source message is committed, and the
// run finished once the faults stopped (liveness). The event log (faults, connections, control
// messages, commits) is hashed: the same seed gives the same hash.
import { createHash } from 'node:crypto';
import { loadApp } from '../api/load.ts';
import type { Application } from '../api/app.ts';
import type { AppOptions } from '../api/options.ts';
import { DataPlane } from '../cluster/data-plane.ts';
import {
  ChannelEndpoint,
  DATA_ACK_DELAY_MS,
  DATA_HANDSHAKE_TIMEOUT_MS,
  DATA_IDLE_TIMEOUT_MS,
} from '../net/endpoint.ts';
import type { EndpointOptions } from '../net/endpoint.ts';
import { appForClusterWorker } from '../connectors/index.ts';
import { createWorkerEngine } from '../engine/worker.ts';
import type { WorkerEngineImpl } from '../engine/worker.ts';
import { roundRobinTable } from '../engine/partition.ts';
import { MemoryDeadLetterSink } from '../engine/dead-letters.ts';
import { runEmbedded } from '../engine/embedded.ts';
import { CoordinatorCore } from '../cluster/coordinator-core.ts';
import type { CoordinatorCommand } from '../cluster/coordinator-core.ts';
import type { SourceCommitMutation } from '../engine/source-commit.ts';
import { createSeededRandom, createSystemClock } from '../system.ts';
import type { Logger, Random } from '../types.ts';
import { DISK_FAULTS, SimDisk } from './disk.ts';
import type { DiskFault, SimDurability } from './disk.ts';
import { NET_FAULTS, SimNet } from './net.ts';
import type { NetFault } from './net.ts';
import { SimScheduler, WorkerClock } from './scheduler.ts';
import type { Owner } from './scheduler.ts';
import { SimStream, registerSimRun, syntheticLines, unregisterSimRun } from './source.ts';
import type { SimRunContext } from './source.ts';
import type { MemoryRecorder } from './record.ts';
import type { DeliveryMutation } from '../net/channel.ts';

export const SIM_FAULTS = [
  'drop',
  'dup',
  'reorder',
  'partition',
  'crash',
  'restart',
  'torn-write',
  'fsync-loss',
  'slow-disk',
  'clock-skew',
  'control',
] as const;
export type SimFault = (typeof SIM_FAULTS)[number];

/** Deliberately broken variants, for the tests that show the simulator finds bugs. */
export const SIM_MUTATIONS = ['commit-early', 'forget-rewind', 'store-not-atomic', 'no-dedup'] as const;
export type SimMutation = (typeof SIM_MUTATIONS)[number];

/** One scheduled fault (a schedule is data: a file replays it, shrinking cuts it down). */
export type FaultEvent =
  | { readonly atMs: number; readonly kind: 'drop' | 'dup'; readonly pair: readonly [number, number] }
  | {
      readonly atMs: number;
      readonly kind: 'partition';
      readonly side: readonly number[];
      readonly forMs: number;
    }
  | {
      /** A worker's control connection to the coordinator is lost for `forMs` (never the
       * initializer's: its coordinator is in its process), then it reconnects and registers again. */
      readonly atMs: number;
      readonly kind: 'control';
      readonly worker: number;
      readonly forMs: number;
    }
  | {
      readonly atMs: number;
      readonly kind: 'crash' | 'restart';
      readonly worker: number;
      readonly downMs: number;
      readonly powerLoss: boolean;
    };

export interface SimOptions {
  readonly appPath: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly workers: number;
  readonly seed: number;
  /** Input lines (default 300) and lines per source batch (default 4). */
  readonly lines?: number;
  readonly batchLines?: number;
  /** Simulated ms between source batches (default 5). */
  readonly intervalMs?: number;
  readonly faults?: readonly SimFault[];
  /** An explicit fault schedule (replay, shrinking); default: drawn from the seed. */
  readonly schedule?: readonly FaultEvent[];
  /** Stop (a liveness failure) after this many simulated ms (default 120 s). */
  readonly maxSimMs?: number;
  /** Stop (a liveness failure) after this many events (timers run; default unbounded). */
  readonly maxSteps?: number;
  /** How long after the last fault the run must have finished (default 60 s simulated). */
  readonly livenessMs?: number;
  /** Exactly-once (the engine's ExactlyOnceOptions with a SimStore per worker); default true. */
  readonly exactlyOnce?: boolean;
  readonly durability?: SimDurability;
  /** Fault parameters (what shrinking lowers): the upper bound of a slow commit or fsync with
   * `slow-disk` (simulated ms, default 20), and the largest clock offset with `clock-skew`
   * (ms, default 1000; the rate error scales with it, 5% at 1000). */
  readonly slowDiskMs?: number;
  readonly clockSkewMs?: number;
  /** Test only: a deliberately broken variant (`no-dedup`: a recovering worker's dedup
   * watermarks read as absent, so it takes every replayed batch again; SimDisk.breakDedup). */
  readonly mutation?: SimMutation;
  /** Sees each line of the event log as it is written (`buffy sim --events`). */
  readonly onEvent?: (line: string) => void;
  /** Records every channel core's protocol steps (trace validation, runtime/sim/record.ts). */
  readonly recorder?: MemoryRecorder;
  /** Test only: every channel core runs this broken variant (trace validation must catch it). */
  readonly channelMutation?: DeliveryMutation;
}

export interface SimReport {
  readonly seed: number;
  readonly workers: number;
  readonly lines: number;
  readonly faults: readonly SimFault[];
  readonly schedule: readonly FaultEvent[];
  readonly exactlyOnce: boolean;
  readonly verdict: 'pass' | 'fail';
  readonly failures: readonly string[];
  /** sha256 of the event log (hex, first 16 digits). */
  readonly hash: string;
  readonly events: number;
  /** Faults that took effect, by kind (a reset of a link that was not connected does not count). */
  readonly injected: Readonly<Record<string, number>>;
  readonly simMs: number;
  readonly wallMs: number;
  /** Timers run (the simulator's steps). */
  readonly steps: number;
  /** The last lines of the workers' logs (failing runs: what they said). */
  readonly logTail: readonly string[];
}

const sinkLines = (bytes: Uint8Array): string[] => {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.length === 0) return [];
  const parts = text.split('\n');
  parts.pop(); // after the last newline (empty unless torn)
  return parts;
};

/** Derives an independent seeded generator for one purpose from the run's seed. */
function derive(seed: number, purpose: number): Random {
  return createSeededRandom((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + purpose * 0x9e3779b1) | 0);
}

/** The fault schedule a seed gives (for the network, process and disk faults that are events). */
export function drawSchedule(
  seed: number,
  workers: number,
  faults: readonly SimFault[],
  windowMs: number,
): FaultEvent[] {
  const r = derive(seed, 1);
  const kinds = (['drop', 'dup', 'partition', 'crash', 'restart', 'control'] as const).filter((k) =>
    faults.includes(k),
  );
  if (kinds.length === 0 || workers < 1) return [];
  const n = 1 + r.nextInt(12);
  const out: FaultEvent[] = [];
  for (let i = 0; i < n; i++) {
    const atMs = Math.round(r.next() * windowMs * 10) / 10;
    const kind = kinds[r.nextInt(kinds.length)]!;
    if (kind === 'drop' || kind === 'dup') {
      if (workers < 2) continue;
      const a = r.nextInt(workers);
      const b = (a + 1 + r.nextInt(workers - 1)) % workers;
      out.push({ atMs, kind, pair: [Math.min(a, b), Math.max(a, b)] });
    } else if (kind === 'partition') {
      if (workers < 2) continue;
      const side: number[] = [];
      for (let w = 0; w < workers; w++) if (r.nextInt(2) === 0) side.push(w);
      if (side.length === 0) side.push(r.nextInt(workers));
      if (side.length === workers) side.splice(r.nextInt(workers), 1);
      out.push({ atMs, kind, side, forMs: 10 + r.nextInt(500) });
    } else if (kind === 'control') {
      if (workers < 2) continue;
      out.push({ atMs, kind, worker: 1 + r.nextInt(workers - 1), forMs: 5 + r.nextInt(800) });
    } else {
      const worker = r.nextInt(workers);
      const downMs = kind === 'crash' ? 50 + r.nextInt(1500) : 1 + r.nextInt(20);
      const powerLoss = faults.includes('fsync-loss') && r.nextInt(2) === 0;
      out.push({ atMs, kind, worker, downMs, powerLoss });
    }
  }
  return out.sort((x, y) => x.atMs - y.atMs);
}

interface Incarnation {
  readonly n: number;
  readonly owner: Owner;
  /** The worker's own (possibly skewed) clock: its engine's and its channel ends' timers. */
  readonly clock: WorkerClock;
  readonly engine: WorkerEngineImpl;
  readonly plane: DataPlane;
  started: boolean;
  sourcesDone: boolean;
  /** The endpoint to each peer's current incarnation. */
  readonly endpoints: Map<string, ChannelEndpoint>;
}

/** The exactly-once calls of the engine (runtime/engine/types.ts). */
interface ExactlyOnceCalls {
  rewindSources(to: Readonly<Record<number, number>>): void;
  commitSources(committed: Readonly<Record<number, number>>): void;
}

const CONTROL_LATENCY_MS = 1;
const PROGRESS_INTERVAL_MS = 20;
const COMMIT_RESEND_MS = 100;
const CHECKPOINT_MS = 50;
const LOG_TAIL = 40;

let runCounter = 0;

/** Runs one simulation to its end and checks it. */
export async function simulate(o: SimOptions): Promise<SimReport> {
  const wall0 = performance.now();
  const faults = [...new Set(o.faults ?? [])];
  for (const f of faults)
    if (!(SIM_FAULTS as readonly string[]).includes(f))
      throw new RangeError(`unknown fault "${f}"; known: ${SIM_FAULTS.join(', ')}`);
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64)
    throw new RangeError(`workers must be an integer from 1 to 64, got ${o.workers}`);
  for (const [k, v] of [
    ['slowDiskMs', o.slowDiskMs],
    ['clockSkewMs', o.clockSkewMs],
  ] as const)
    if (v !== undefined && !(Number.isFinite(v) && v >= 0))
      throw new RangeError(`${k} must be a number of ms >= 0, got ${v}`);
  const lineCount = o.lines ?? 300;
  const batchLines = o.batchLines ?? 4;
  const intervalMs = o.intervalMs ?? 5;
  const exactlyOnce = o.exactlyOnce ?? true;
  const durability = o.durability ?? 'sync';
  const maxSimMs = o.maxSimMs ?? 120_000;
  const livenessMs = o.livenessMs ?? 60_000;
  const inputMs = Math.ceil(lineCount / batchLines) * intervalMs;
  const schedule = o.schedule ? [...o.schedule] : drawSchedule(o.seed, o.workers, faults, inputMs + 200);
  const names = Array.from({ length: o.workers }, (_, i) => `w${i + 1}`);
  const channelMutation = o.channelMutation;
  const sourceWorker = names[0]!;

  const hash = createHash('sha256');
  let events = 0;
  const logTail: string[] = [];
  const sched = new SimScheduler();
  const event = (line: string): void => {
    events++;
    const text = `${sched.monotonicMs().toFixed(3)} ${line}`;
    hash.update(`${text}\n`);
    o.onEvent?.(text);
  };
  const tail = (line: string): void => {
    logTail.push(`[${sched.monotonicMs().toFixed(1)} ms] ${line}`);
    if (logTail.length > LOG_TAIL) logTail.shift();
  };
  const failures: string[] = [];
  const injected: Record<string, number> = {};
  const count = (k: string): void => {
    injected[k] = (injected[k] ?? 0) + 1;
  };

  const lines = syntheticLines(derive(o.seed, 2), lineCount);
  const runRandom = derive(o.seed, 3);
  const netFaults = faults.filter((f): f is NetFault => (NET_FAULTS as readonly string[]).includes(f));
  const diskFaults = faults.filter((f): f is DiskFault => (DISK_FAULTS as readonly string[]).includes(f));
  const disk = new SimDisk({
    random: derive(o.seed, 4),
    clock: sched,
    faults: diskFaults,
    ...(o.slowDiskMs !== undefined ? { slowMs: o.slowDiskMs } : {}),
  });
  if (o.mutation === 'store-not-atomic') disk.breakAtomicity();
  if (o.mutation === 'no-dedup') disk.breakDedup();
  const net = new SimNet({ random: derive(o.seed, 5), sched, faults: netFaults, log: event });
  const stream = new SimStream(lines, batchLines, intervalMs);
  const runId = `r${++runCounter}`;
  const appOptions: AppOptions = {
    source: `sim:${runId}`,
    sink: `sim:${runId}/out`,
    params: o.params ?? {},
  };
  // The fault-free reference first, under the run's id (one load of the app serves both): the
  // checkpoints compare with it during the run.
  const refSched = new SimScheduler();
  const refDisk = new SimDisk({ random: createSeededRandom(1), clock: refSched });
  registerSimRun(runId, { stream: new SimStream(lines, batchLines, 0), disk: refDisk, sinks: new Map() });
  let loaded: Application;
  let ref: Reference;
  try {
    loaded = await loadApp(o.appPath, appOptions);
    checkSimConnectors(loaded, runId);
    ref = await referenceRun(loaded, runId, refDisk);
  } finally {
    unregisterSimRun(runId);
  }
  const ctx: SimRunContext = { stream, disk, sinks: new Map() };
  registerSimRun(runId, ctx);
  try {
    const partitions = roundRobinTable(names, loaded.partitionCount);
    const apps = names.map((n) => appForClusterWorker(loaded, n).app);

    // The workers that take part in the sources: the source worker and those that own
    // partitions (a worker that owns none reports no watermark and holds nothing back).
    const members = names.filter((n) => n === sourceWorker || partitions.owners.includes(n));
    // The coordinator (runtime/cluster/coordinator.ts) runs in the initializer, the source worker:
    // it dies with it, and the one of the restarted initializer starts afresh (a new tracker) and
    // forms the cluster again from the workers' registrations, each with its durable watermarks.
    // Its decisions are the real coordinator's core (runtime/cluster/coordinator-core.ts): which
    // registration is a restart, the rewinds and their quiet period, the commit tracker.
    const newCore = (): CoordinatorCore => {
      const c = new CoordinatorCore({
        sources: loaded.sources.length,
        nowMs: () => sched.monotonicMs(),
        where: 'the simulated coordinator',
        ...(o.mutation === 'commit-early' || o.mutation === 'forget-rewind'
          ? { mutation: o.mutation as SourceCommitMutation }
          : {}),
        // Its tracker's steps (Ack), one instance across the coordinator's restarts.
        ...(o.recorder
          ? { recorder: o.recorder.forCore({ end: sourceWorker, peer: '', link: 'tracker', inc: 0 }) }
          : {}),
      });
      c.formTracker(members);
      return c;
    };
    let core = exactlyOnce ? newCore() : null;
    let coordinatorUp = true;
    /** Per worker: the durable watermarks its current incarnation reported last (what it
     * registers again with, as buffy node does). */
    const lastDurable = new Map<string, Readonly<Record<number, number>>>();
    /** Control connections cut by a `control` fault. */
    const controlCut = new Set<string>();
    /** Workers not registered with the current coordinator yet (it restarted). */
    const unregistered = new Set<string>();
    const reachable = (worker: string): boolean =>
      coordinatorUp && !controlCut.has(worker) && !unregistered.has(worker);
    stream.onRead = (worker, through) => {
      const cur = live.get(worker);
      if (!core || !cur || worker !== sourceWorker) return;
      core.read(0, through);
    };

    const live = new Map<string, Incarnation>();
    const down = new Set<string>();
    let incarnations = 0;
    let engineFailure: string | null = null;
    /** Exactly-once: the source worker's engine start, held until every worker has registered
     * with its coordinator (buffy node's engine starts on `start`, which the coordinator sends
     * after the first membership round of a complete cluster: after it restarted, too). */
    let heldStart: (() => void) | null = null;
    const releaseStart = (): void => {
      if (!heldStart || !core || !coordinatorUp || !names.every((n) => core!.isMember(n))) return;
      const go = heldStart;
      heldStart = null;
      go();
    };

    const skew = names.map(() =>
      faults.includes('clock-skew')
        ? skewOf(runRandom.next(), runRandom.next(), o.clockSkewMs ?? 1000)
        : { offsetMs: 0, rate: 1 },
    );

    /** A control message to a worker, after the control latency; lost if it is not alive then
     * or its control connection is down. */
    const control = (to: string, what: string, fn: (inc: Incarnation) => void): void => {
      const inc = live.get(to);
      if (!inc || !reachable(to)) return;
      sched.schedule(
        CONTROL_LATENCY_MS,
        () => {
          if (!inc.owner.alive || !reachable(to)) return;
          event(`control ${to}: ${what}`);
          fn(inc);
        },
        inc.owner,
      );
    };

    /** What the coordinator's core decided, sent as buffy node's coordinator sends it. */
    const carry = (c: CoordinatorCommand): void => {
      if (c.t === 'rewind') {
        const to = c.to;
        control(sourceWorker, `rewind ${JSON.stringify(to)} (${c.why})`, (inc) => {
          if (!inc.started) return; // a source worker still starting resumes from its store
          (inc.engine as unknown as ExactlyOnceCalls).rewindSources(to);
        });
      } else if (c.t === 'committed') {
        const committed = c.committed;
        event(`committed ${JSON.stringify(committed)}`);
        control(sourceWorker, `commit ${JSON.stringify(committed)}`, (inc) => {
          if (!inc.started) return;
          (inc.engine as unknown as ExactlyOnceCalls).commitSources(committed);
        });
      } else if (c.t === 'error') {
        event(`coordinator error: ${c.message}`);
        tail(`coordinator error: ${c.message}`);
      } else {
        // Not reached: the simulation does not stop its sources for a shutdown.
        event(`coordinator: the sources cannot replay for ${c.workers.join(', ')}`);
      }
    };

    const onProgress = (worker: string, marks: Readonly<Record<number, number>>): void => {
      if (!core) return;
      lastDurable.set(worker, marks);
      if (!reachable(worker)) {
        // buffy node sends progress only on an open control connection: this one is lost.
        event(`progress ${worker} ${JSON.stringify(marks)} lost (control connection down)`);
        return;
      }
      event(`progress ${worker} ${JSON.stringify(marks)}`);
      feed(worker, marks);
    };

    /** A report into the coordinator's core (every durable watermark is a lower bound of what
     * the sources read); a commit to the source worker when it advanced. */
    const feed = (worker: string, marks: Readonly<Record<number, number>>): void => {
      if (!core) return;
      for (const c of core.report(worker, marks)) carry(c);
    };

    let links = 0;
    const channelOptions = (from: string, to: string, link: string, clock: WorkerClock): EndpointOptions => ({
      local: { cluster: 'sim', app: loaded.name, worker: from },
      // The timers of buffy node's data channels, on the worker's simulated clock: the ACK of
      // what was consumed waits up to DATA_ACK_DELAY_MS (one ACK for many frames), a peer that
      // never says HELLO or goes silent loses its connection.
      clock,
      ackDelayMs: DATA_ACK_DELAY_MS,
      handshakeTimeoutMs: DATA_HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: DATA_IDLE_TIMEOUT_MS,
      expectedPeer: to,
      connection: `data channel ${from} -> ${to}`,
      windowBytes: 4096,
      windowFrames: 16,
      maxQueuedBytes: 4096,
      reconnect: true,
      ...(o.recorder ? { recorder: o.recorder.forCore({ end: from, peer: to, link, inc: 0 }) } : {}),
      ...(channelMutation ? { mutation: channelMutation } : {}),
    });

    const joinChannels = (a: Incarnation, an: string, b: Incarnation, bn: string): void => {
      const link = `${an}~${bn}#${++links}`;
      const epA = new ChannelEndpoint(channelOptions(an, bn, link, a.clock), {
        onBatch: (batch, from, ep) => a.plane.onBatch(ep, batch, from),
        log: (m) => tail(`${an}: ${m}`),
      });
      const epB = new ChannelEndpoint(channelOptions(bn, an, link, b.clock), {
        onBatch: (batch, from, ep) => b.plane.onBatch(ep, batch, from),
        log: (m) => tail(`${bn}: ${m}`),
      });
      a.endpoints.set(bn, epA);
      b.endpoints.set(an, epB);
      a.plane.addChannel(bn, epA);
      b.plane.addChannel(an, epB);
      net.link(epA, epB, an, bn);
    };

    const startWorker = (i: number): void => {
      const name = names[i]!;
      const n = ++incarnations;
      const owner: Owner = { alive: true };
      const clock = new WorkerClock(sched, owner, skew[i]!.offsetMs, skew[i]!.rate);
      const log: Logger = {
        info: () => {},
        warn: (m) => tail(`${name} warn: ${m}`),
        error: (m) => tail(`${name} error: ${m}`),
      };
      const plane = new DataPlane(name, log, 2048, 64);
      plane.peers = new Set(names.filter((x) => x !== name));
      let progressTimer = false;
      let durable: Readonly<Record<number, number>> = {};
      const gapsAsked = new Map<number, number>();
      const store = exactlyOnce ? disk.openStore(name, durability) : null;
      const engineOptions = {
        app: apps[i]!,
        workerName: name,
        partitions,
        clock,
        log,
        deadLetters: new MemoryDeadLetterSink(),
        remote: plane,
        runSources: name === sourceWorker,
        random: derive(o.seed, 100 + n),
        ...(store
          ? {
              exactlyOnce: {
                store,
                durability,
                // Trace validation: the worker's exactly-once core records (Recovery).
                ...(o.recorder
                  ? { recorder: o.recorder.forCore({ end: name, peer: '', link: '', inc: n }) }
                  : {}),
                onDurable: (marks: Readonly<Record<number, number>>) => {
                  if (!owner.alive) return;
                  durable = { ...marks };
                  if (progressTimer) return;
                  progressTimer = true;
                  clock.setTimer(PROGRESS_INTERVAL_MS, () => {
                    progressTimer = false;
                    sched.schedule(CONTROL_LATENCY_MS, () => onProgress(name, durable), owner);
                  });
                },
                onGap: (source: number, offset: number) => {
                  if (!owner.alive) return;
                  // As buffy node does: one report per offset (asked once, even when the
                  // control connection is down and the report is lost).
                  if (gapsAsked.get(source) === offset) return;
                  gapsAsked.set(source, offset);
                  if (!reachable(name)) {
                    event(`gap ${name} source ${source} offset ${offset} lost (control connection down)`);
                    return;
                  }
                  event(`gap ${name} source ${source} offset ${offset}`);
                  const c = core?.gap(name, source, offset);
                  if (c) carry(c);
                },
              },
            }
          : {}),
      };
      const engine = createWorkerEngine(engineOptions);
      plane.engine = engine;
      const inc: Incarnation = {
        n,
        owner,
        clock,
        engine,
        plane,
        started: false,
        sourcesDone: false,
        endpoints: new Map(),
      };
      live.set(name, inc);
      down.delete(name);
      event(`start ${name} incarnation ${n}`);
      if (core) {
        // A process registers as it starts; with its coordinator down, once that is back.
        if (coordinatorUp) {
          unregistered.delete(name);
          if (core.register(name, String(n)) === 'restarted')
            event(`registered ${name}: a restarted process`);
          releaseStart();
        } else unregistered.add(name);
      }
      plane.onLoss = (reason) => {
        if (owner.alive) tail(`${name} lost data: ${reason}`);
      };
      void engine.whenFailed().then((err) => {
        if (owner.alive && engineFailure === null) engineFailure = `worker ${name}: ${err.message}`;
      });
      for (const [peer, other] of live) {
        if (peer === name) continue;
        other.plane.replacePeer(name, `${name} restarted`);
        joinChannels(inc, name, other, peer);
      }
      const begin = (): void => {
        if (!owner.alive) return;
        void engine.start().then(
          () => {
            if (!owner.alive) return;
            inc.started = true;
            plane.setStarted();
            event(`started ${name}`);
            if (name === sourceWorker)
              engine.sourcesDone().then(
                () => {
                  if (owner.alive) inc.sourcesDone = true;
                },
                () => undefined,
              );
          },
          (err: unknown) => {
            if (owner.alive && engineFailure === null)
              engineFailure = `worker ${name} cannot start: ${(err as Error).message}`;
          },
        );
      };
      if (core && name === sourceWorker) {
        heldStart = begin;
        releaseStart();
      } else begin();
    };

    const crashWorker = (i: number, powerLoss: boolean, why: string): boolean => {
      const name = names[i]!;
      const inc = live.get(name);
      if (!inc) return false;
      inc.owner.alive = false;
      live.delete(name);
      down.add(name);
      // The process's control connection dies with it (a restarted one connects afresh).
      controlCut.delete(name);
      unregistered.delete(name);
      lastDurable.delete(name);
      if (name === sourceWorker && core) {
        // The initializer: its coordinator (and the tracker's state) dies too; the other
        // workers keep running and reconnect once it is back.
        coordinatorUp = false;
        for (const n of names) if (n !== name) unregistered.add(n);
        event(`coordinator down (the initializer ${name} crashed)`);
      }
      stream.killSourcesOf(name);
      net.processDied(name);
      const r = disk.crash(name, powerLoss);
      event(
        `crash ${name} (${why}${powerLoss ? ', power loss' : ''}): ${r.batchesLost} store batches lost` +
          r.files.map((f) => `, ${f.path} -${f.bytesLost} bytes${f.torn ? ' torn' : ''}`).join(''),
      );
      return true;
    };

    /** A worker registers again (its control connection back, or the coordinator restarted),
     * with the durable watermarks its engine reported last (buffy node's `register`). */
    const registerAgain = (name: string, inc: Incarnation, why: string): void => {
      if (live.get(name) !== inc || !coordinatorUp) return;
      unregistered.delete(name);
      const marks = lastDurable.get(name);
      event(`register ${name} again (${why})${marks ? ` durable ${JSON.stringify(marks)}` : ''}`);
      core?.register(name, String(inc.n));
      if (marks && core) feed(name, marks);
      releaseStart();
    };

    const restartWorker = (i: number): void => {
      const name = names[i]!;
      if (live.has(name)) return;
      if (name === sourceWorker && core && !coordinatorUp) {
        // The restarted initializer's coordinator: a new core and tracker (nothing committed
        // yet; the reports raise it), and every running worker reconnects (seeded backoff) and
        // registers.
        core = newCore();
        coordinatorUp = true;
        event(`coordinator up (the initializer ${name} restarted)`);
        for (const [n, other] of live)
          sched.schedule(
            1 + runRandom.nextInt(200),
            () => registerAgain(n, other, 'the coordinator restarted'),
            other.owner,
          );
      }
      startWorker(i);
      // A restarted process registers as it starts (startWorker): a known member's new
      // incarnation gets its rewind once its membership round is done, which here is at once (a
      // new member of a coordinator that restarted gets none).
      if (core && coordinatorUp)
        for (const c of core.roundDone({ isUp: reachable, exactlyOnce: true, sourcesStopped: false }))
          carry(c);
    };

    // The fault schedule, as timers of the simulation itself.
    let lastFaultMs = 0;
    for (const f of schedule) {
      const endMs =
        f.atMs +
        (f.kind === 'partition' || f.kind === 'control'
          ? f.forMs
          : f.kind === 'crash' || f.kind === 'restart'
            ? f.downMs
            : 0);
      lastFaultMs = Math.max(lastFaultMs, endMs);
      sched.schedule(
        f.atMs,
        () => {
          if (f.kind === 'drop' || f.kind === 'dup') {
            const [a, b] = [names[f.pair[0]]!, names[f.pair[1]]!];
            for (const w of net.wires)
              if ((w.nameA === a && w.nameB === b) || (w.nameA === b && w.nameB === a)) {
                if (w.reset(f.kind)) count(f.kind);
              }
          } else if (f.kind === 'partition') {
            const side = f.side.map((k) => names[k]!);
            const others = names.filter((x) => !side.includes(x));
            event(`fault partition [${side.join(',')}] | [${others.join(',')}] for ${f.forMs} ms`);
            count('partition');
            net.partition(side, others);
            sched.schedule(
              f.forMs,
              () => {
                event('heal partition');
                net.heal();
              },
              null,
            );
          } else if (f.kind === 'control') {
            const name = names[f.worker]!;
            const inc = live.get(name);
            if (!inc || name === sourceWorker || controlCut.has(name)) return;
            controlCut.add(name);
            count('control');
            event(`fault control ${name}: its control connection is lost for ${f.forMs} ms`);
            sched.schedule(
              f.forMs,
              () => {
                if (live.get(name) !== inc) return;
                controlCut.delete(name);
                registerAgain(name, inc, 'its control connection is back');
              },
              inc.owner,
            );
          } else {
            const c = f as Extract<FaultEvent, { kind: 'crash' | 'restart' }>;
            if (crashWorker(c.worker, c.powerLoss, c.kind)) {
              count(c.kind);
              if (c.powerLoss) count('power-loss');
              sched.schedule(c.downMs, () => restartWorker(c.worker), null);
            }
          }
        },
        null,
      );
    }

    const wantLines = new Map<string, Map<string, number>>();
    for (const sink of loaded.sinks) {
      const want = new Map<string, number>();
      for (const l of ref.sinks.get(sink.name) ?? []) want.set(l, (want.get(l) ?? 0) + 1);
      wantLines.set(sink.name, want);
    }
    let violation: string | null = null;
    // Checkpoints: no sink of a running worker holds an output more often than the fault-free
    // run produced it, at any time (a started worker's file only grows from its recorded
    // length; what a crash left beyond it is cut at recovery, before the worker starts).
    // Incremental: each file's lines are read once. What is counted per file (`seen`) belongs
    // to one started incarnation of its worker; when the worker is down or another incarnation
    // runs (recovery cut the file), its counts leave the sum and the file is read afresh.
    // Per sink, one tally per distinct line (what the fault-free run produced, and what the
    // sinks hold now): a line read costs one Map lookup.
    interface Tally {
      readonly want: number;
      got: number;
    }
    interface Seen {
      readonly inc: number;
      /** Bytes read (through the last complete line). */
      bytes: number;
      /** The tally of each line read, once per line (what leaves the sum). */
      readonly lines: Tally[];
    }
    const seen = new Map<string, Seen>();
    const talliesBySink = new Map<string, Map<string, Tally>>();
    for (const sink of loaded.sinks) {
      const t = new Map<string, Tally>();
      for (const [l, c] of wantLines.get(sink.name)!) t.set(l, { want: c, got: 0 });
      talliesBySink.set(sink.name, t);
    }
    const checkpoint = (): void => {
      for (const sink of loaded.sinks) {
        const base = sinkBase(sink.uri, runId);
        const tallies = talliesBySink.get(sink.name)!;
        for (const n of names) {
          const path = `${base}.${n}`;
          const inc = live.get(n);
          const bytes = inc?.started ? disk.view(path) : null;
          let s = seen.get(path);
          if (s && (!bytes || s.inc !== inc!.n || bytes.length < s.bytes)) {
            for (const t of s.lines) t.got--;
            seen.delete(path);
            s = undefined;
          }
          if (!bytes) continue;
          if (!s) {
            s = { inc: inc!.n, bytes: 0, lines: [] };
            seen.set(path, s);
          }
          const end = bytes.lastIndexOf(10) + 1;
          if (end <= s.bytes) continue;
          const text = Buffer.from(bytes.buffer, bytes.byteOffset + s.bytes, end - s.bytes).toString('utf8');
          s.bytes = end;
          const fresh = text.split('\n');
          fresh.pop(); // after the last newline: empty
          for (const l of fresh) {
            let t = tallies.get(l);
            if (t === undefined) tallies.set(l, (t = { want: 0, got: 0 }));
            s.lines.push(t);
            const c = ++t.got;
            if (c > t.want && violation === null) {
              violation = `checkpoint at ${sched.monotonicMs().toFixed(1)} simulated ms: sink "${sink.name}" on ${n} holds ${JSON.stringify(l)} ${times(c)}, the fault-free run produced it ${times(t.want)}`;
              event(`violation: ${violation}`);
            }
          }
        }
      }
      if (violation === null) sched.schedule(CHECKPOINT_MS, checkpoint, null);
    };
    sched.schedule(CHECKPOINT_MS, checkpoint, null);

    for (let i = 0; i < names.length; i++) startWorker(i);

    // The coordinator's heartbeat: the committed offsets go to the source worker again every
    // COMMIT_RESEND_MS (the engine ignores offsets that do not advance). Without it a source
    // worker that restarted after the last advance never hears of it: it would neither persist
    // nor acknowledge the end of its input.
    if (core) {
      const resend = (): void => {
        const inc = live.get(sourceWorker);
        const committed = core!.committed();
        if (inc?.started && coordinatorUp && Object.values(committed).some((v) => v >= 0))
          (inc.engine as unknown as ExactlyOnceCalls).commitSources(committed);
        sched.schedule(COMMIT_RESEND_MS, resend, null);
      };
      sched.schedule(COMMIT_RESEND_MS, resend, null);
    }

    // ---- the loop ----
    // One turn of the event loop: every microtask the last timer caused has settled.
    const macrotask = (): Promise<void> => new Promise(setImmediate);
    let steps = 0;
    let outcome: 'finished' | 'stalled' | 'time' | 'steps' | 'failed' | 'violated' = 'stalled';
    const quiet = (): boolean => {
      if (down.size > 0 || live.size < names.length) return false;
      if (net.bytesInFlight > 0) return false;
      for (const inc of live.values()) {
        if (!inc.started || inc.plane.busy) return false;
        for (const ep of inc.endpoints.values()) {
          const s = ep.core.stats;
          if (s.unackedFrames > 0 || s.queuedBatches > 0) return false;
        }
      }
      return true;
    };
    const finished = (): boolean => {
      // The cheap conditions first: the channels' stats are not free.
      if (sched.monotonicMs() < lastFaultMs || down.size > 0) return false;
      if (core) {
        // The source connector was told (what the TCP source acknowledges its sender with; a
        // field, read first: the tracker's committed() copies its machine's context) ...
        if (stream.committed < lineCount - 1) return false;
        const c = core.committed();
        for (let s = 0; s < loaded.sources.length; s++) if ((c[s] ?? -1) < lineCount - 1) return false;
      } else if (!live.get(sourceWorker)?.sourcesDone) return false;
      return quiet();
    };
    for (;;) {
      await macrotask();
      if (engineFailure !== null) {
        outcome = 'failed';
        break;
      }
      if (violation !== null) {
        outcome = 'violated';
        break;
      }
      if (finished()) {
        outcome = 'finished';
        break;
      }
      if (sched.monotonicMs() > maxSimMs || sched.monotonicMs() > lastFaultMs + livenessMs) {
        outcome = 'time';
        break;
      }
      if (o.maxSteps !== undefined && steps >= o.maxSteps) {
        outcome = 'steps';
        break;
      }
      if (!sched.runNext()) break; // nothing runnable and nothing scheduled: stalled
      steps++;
    }
    event(
      `end ${outcome} after ${steps} steps, ${sched.fired} timers, ${net.deliveredBytes} bytes delivered`,
    );
    if (net.duplicatedFrames > 0) injected['dup-frames'] = net.duplicatedFrames;

    // Graceful stop of every live worker (exactly-once: the last commit, the sinks' progress).
    if (outcome === 'finished') {
      let stopped = 0;
      const all = [...live.values()];
      for (const inc of all)
        inc.engine.stop().then(
          () => stopped++,
          (err: unknown) => {
            stopped++;
            if (engineFailure === null) engineFailure = `stop: ${(err as Error).message}`;
          },
        );
      for (let guard = 0; stopped < all.length && guard < 1_000_000; guard++) {
        await macrotask();
        if (stopped < all.length && !sched.runNext()) await macrotask();
      }
      if (stopped < all.length) failures.push('liveness: the workers did not stop');
    }

    // ---- the checks ----
    if (engineFailure !== null) failures.push(`engine failure: ${engineFailure}`);
    if (violation !== null) failures.push(violation);
    if (outcome === 'stalled')
      failures.push(
        `liveness: stalled at ${sched.monotonicMs().toFixed(1)} simulated ms (nothing left to run)${describeWait()}`,
      );
    if (outcome === 'time')
      failures.push(
        `liveness: not finished ${livenessMs} simulated ms after the last fault${describeWait()}`,
      );
    if (outcome === 'steps')
      failures.push(`liveness: not finished within ${o.maxSteps} steps${describeWait()}`);
    if (outcome === 'finished') await checkResults();

    function describeWait(): string {
      const parts: string[] = [];
      if (down.size > 0) parts.push(`down: ${[...down].join(', ')}`);
      if (core) parts.push(`committed ${JSON.stringify(core.committed())} of ${lineCount - 1}`);
      if (net.bytesInFlight > 0) parts.push(`${net.bytesInFlight} bytes in flight`);
      for (const [n, inc] of live) if (inc.plane.busy) parts.push(`${n} busy`);
      return parts.length > 0 ? ` (${parts.join('; ')})` : '';
    }

    async function checkResults(): Promise<void> {
      // State: the union of the live workers' partitions equals the reference's.
      for (const st of loaded.states) {
        const got = new Map<string, string>();
        for (const inc of live.values())
          for (const [k, v] of inc.engine.finishView().states(st.name))
            got.set(keyText(k), JSON.stringify(v));
        const want = ref.states.get(st.name)!;
        const wrong: string[] = [];
        for (const [k, v] of want)
          if (got.get(k) !== v) wrong.push(`${k}: ${got.get(k) ?? 'absent'} (want ${v})`);
        for (const k of got.keys()) if (!want.has(k)) wrong.push(`${k}: ${got.get(k)} (want absent)`);
        if (wrong.length > 0)
          failures.push(
            `state "${st.name}": ${wrong.length} of ${want.size} keys differ from the fold of each message once: ${wrong.slice(0, 5).join('; ')}`,
          );
      }
      // Sinks: each output once, none missing, no torn line.
      for (const sink of loaded.sinks) {
        const base = sinkBase(sink.uri, runId);
        const got = new Map<string, number>();
        for (const n of names) {
          const path = `${base}.${n}`;
          const bytes = disk.contents(path);
          if (bytes.length > 0 && bytes[bytes.length - 1] !== 10)
            failures.push(`sink "${sink.name}" on ${n}: the file ends in a torn line`);
          for (const l of sinkLines(bytes)) got.set(l, (got.get(l) ?? 0) + 1);
          event(`sink ${path} ${bytes.length} bytes`);
          hash.update(bytes);
        }
        const want = wantLines.get(sink.name)!;
        const dup: string[] = [];
        const gap: string[] = [];
        for (const [l, c] of got)
          if (c > (want.get(l) ?? 0)) dup.push(`${JSON.stringify(l)} x${c - (want.get(l) ?? 0)}`);
        for (const [l, c] of want)
          if (c > (got.get(l) ?? 0)) gap.push(`${JSON.stringify(l)} x${c - (got.get(l) ?? 0)}`);
        if (dup.length > 0)
          failures.push(
            `sink "${sink.name}": ${dup.length} outputs written more than once: ${dup.slice(0, 5).join(', ')}`,
          );
        if (gap.length > 0)
          failures.push(`sink "${sink.name}": ${gap.length} outputs missing: ${gap.slice(0, 5).join(', ')}`);
      }
      // Every source message committed (and the connector told so).
      if (core) {
        const c = core.committed();
        if ((c[0] ?? -1) < lineCount - 1)
          failures.push(`commit: source 0 committed through ${c[0]}, the input ends at ${lineCount - 1}`);
        if (stream.committed < lineCount - 1)
          failures.push(
            `commit: the source connector was told offset ${stream.committed} is committed, the input ends at ${lineCount - 1}`,
          );
      }
    }

    const simMs = sched.monotonicMs();
    const hex = hash.digest('hex').slice(0, 16);
    return {
      seed: o.seed,
      workers: o.workers,
      lines: lineCount,
      faults,
      schedule,
      exactlyOnce,
      verdict: failures.length === 0 ? 'pass' : 'fail',
      failures,
      hash: hex,
      events,
      injected,
      simMs,
      wallMs: performance.now() - wall0,
      steps,
      logTail,
    };
  } finally {
    unregisterSimRun(runId);
  }
}

/** A worker's clock skew from two draws: an offset within ±maxMs and a rate error within
 * ±5% x maxMs/1000 (the default 1000 ms keeps the draws' original arithmetic). */
function skewOf(a: number, b: number, maxMs: number): { offsetMs: number; rate: number } {
  if (maxMs === 1000) return { offsetMs: Math.round((a - 0.5) * 2000), rate: 0.95 + b * 0.1 };
  return { offsetMs: Math.round((a - 0.5) * 2 * maxMs), rate: 1 + (b - 0.5) * 0.1 * (maxMs / 1000) };
}

function times(n: number): string {
  return n === 0 ? 'never' : n === 1 ? 'once' : `${n} times`;
}

function keyText(k: unknown): string {
  return typeof k === 'string' ? `s:${k}` : `n:${String(k)}`;
}

function sinkBase(uri: string, runId: string): string {
  return uri.slice(`sim:${runId}/`.length);
}

function checkSimConnectors(app: Application, runId: string): void {
  for (const s of app.sources)
    if (s.uri !== `sim:${runId}`)
      throw new RangeError(
        `source "${s.name}" reads ${s.uri}: the simulator runs apps whose sources all take --source (one source)`,
      );
  for (const s of app.sinks)
    if (!s.uri.startsWith(`sim:${runId}/`))
      throw new RangeError(
        `sink "${s.name}" writes ${s.uri}: the simulator runs apps whose sinks all take --sink`,
      );
}

interface Reference {
  readonly states: Map<string, Map<string, string>>;
  readonly sinks: Map<string, string[]>;
}

/** The fault-free embedded run of the same input (the run `id` is registered with a SimStream
 * of it and `disk`): the fold of each message once. */
async function referenceRun(app: Application, id: string, disk: SimDisk): Promise<Reference> {
  const states = new Map<string, Map<string, string>>();
  const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
  let view: ReturnType<WorkerEngineImpl['finishView']> | null = null;
  const withFinish = { ...app, onFinish: (v: typeof view) => void (view = v) } as Application;
  await runEmbedded(withFinish, {
    clock: createSystemClock(),
    log: quiet,
    deadLetters: new MemoryDeadLetterSink(),
  });
  for (const st of app.states) {
    const m = new Map<string, string>();
    for (const [k, v] of view!.states(st.name)) m.set(keyText(k), JSON.stringify(v));
    states.set(st.name, m);
  }
  const sinks = new Map<string, string[]>();
  for (const s of app.sinks) sinks.set(s.name, sinkLines(disk.contents(sinkBase(s.uri, id))));
  return { states, sinks };
}
