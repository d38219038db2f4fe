// The parallel breadth-first search (`buffy check --workers N`, TLC's -workers): N worker
// threads (parallel-worker.ts) share one lock-free fingerprint set (shared-fpset.ts) and
// explore level by level; the main thread only starts them, shows progress, and afterwards
// rebuilds counterexamples by replaying the fingerprints the workers report.
//
// Why level-synchronous: every state of depth d is expanded before any of depth d + 1, as in
// the one-worker search, so the depth is the BFS depth (TLC's -workers N depth is not, see
// tlaplus/tlaplus#883) and a safety violation's trace is a shortest one. The price is a barrier
// per level (a few tens of microseconds; models with many narrow levels pay it often).
//
// How it scales: dedup is a compare-and-swap on the shared table (no lock, no message per
// state); each worker keeps its own frontier, so states do not move unless the frontiers are
// uneven: at a barrier the surplus moves, as serialized batches (codec.ts) from the larger to the
// smaller frontiers (rebalancePlan), and inside a level a worker that runs out raises its WANT
// flag and the first busy worker to claim it (CAS) sends half of what it has left (work
// stealing), so a slow or preempted worker does not hold the level up. Per state, the shared
// work is one CAS, a look at the IDLE word every 16 states and a counter update every 64 new
// states; successors, fingerprints and invariants run in the worker's own isolate. On 32 cores
// the limits are narrow levels (fewer states than workers), the memory bandwidth of the table
// (random accesses, 20 bytes a slot), the growth pauses (all threads rehash a stripe each,
// log2(states) times over a run) and each worker's start-up (loading the model, JIT warm-up).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Loc } from '../ast.ts';
import { TlaError, type TlaErrorKind } from '../errors.ts';
import type { ActionLabel, State } from '../eval/index.ts';
import { HeapBudgetExceeded, heapBudget, v8HeapLimit } from '../memory.ts';
import {
  checkPostconditions,
  describeError,
  searchSystem,
  type CheckError,
  type CheckOptions,
  type CheckResult,
  type CheckViolation,
} from './checker.ts';
import { Decoder, type Encoded } from './codec.ts';
import { MAX_VIOLATION_TRACES, replayFingerprints, type Trace, type TraceStep } from './engine.ts';
import type { CheckModel } from './model.ts';
import {
  C,
  STOP_ABORT,
  SharedFingerprintTable,
  allocateTable,
  signal,
  type SharedTableMemory,
} from './shared-fpset.ts';

/** Per-worker statistics words (Float64Array over WorkerInit.stats). */
export const STAT_GENERATED = 0;
export const STAT_ADDED = 1;
export const STAT_CDOT = 2;
export const STAT_WORDS = 4;

export interface WorkerInit {
  readonly me: number;
  readonly workers: number;
  readonly spec: string;
  readonly cfg: string | null;
  readonly libDirs: readonly string[];
  /** The .cfg override given to loadModel (the CLI's --no-deadlock). */
  readonly checkDeadlock: boolean | undefined;
  /** Whether deadlock is checked, resolved (option, else the model's). */
  readonly checkDeadlockResolved: boolean;
  readonly maxStates: number;
  readonly heapBudget: number | null;
  readonly continueAfterViolation: boolean;
  /** Violations a worker sends with their fingerprints (the rest it only counts). */
  readonly maxViolationReports: number;
  readonly mem: SharedTableMemory;
  /** Date.now() when the main thread started the worker. */
  readonly startedAtMs: number;
  readonly stats: SharedArrayBuffer;
  /** ports[j]: the channel to worker j (null for itself). */
  readonly ports: readonly (MessagePort | null)[];
}

/**
 * A violation as fingerprints: the behaviour is the parent chain of `target` when `inTable`
 * (a deadlock), else the chain of `via` (null: none, an initial state) then `target`. `state`
 * is the violating state, for when the replay cannot find it again.
 */
export interface ViolationRecord {
  readonly kind: 'invariant' | 'init-property' | 'action-property' | 'deadlock';
  /** Index of the invariant, initial property or action property (-1 for deadlock). */
  readonly index: number;
  readonly via: readonly [number, number] | null;
  readonly target: readonly [number, number];
  readonly inTable: boolean;
  readonly state?: Encoded;
}

export interface WorkerErrorRecord {
  readonly error:
    | { type: 'tla'; kind: TlaErrorKind; message: string; loc: Loc | null }
    | { type: 'memory' | 'other'; message: string };
  readonly during: string;
  /** The state being expanded (in the table) and the index of the successor at fault; or the state itself. */
  readonly at: { fp: readonly [number, number]; k: number | null } | { state: Encoded } | null;
}

export type FromWorker =
  | { type: 'violation'; v: ViolationRecord }
  | ({ type: 'error' } & WorkerErrorRecord)
  | {
      type: 'done';
      depth: number;
      cdot: number;
      /** States that were still to be expanded when the search stopped. */
      left: number;
      /** Violations per name ('deadlock' for deadlocks). */
      counts: Record<string, number>;
      timing?: WorkerTiming;
    };

/** Where a worker's time went: starting, loading the model, searching, of which waiting; states it sent. */
export interface WorkerTiming {
  /** From the thread's start to its first line (node, and tsx when it runs the sources). */
  readonly bootMs: number;
  readonly loadMs: number;
  /** Waiting for the other workers to start (the initial states are computed meanwhile). */
  readonly startWaitMs: number;
  /** From the first level to the end. */
  readonly searchMs: number;
  /** Of searchMs: waiting at barriers, for states from other workers, or for a growth of the table. */
  readonly idleMs: number;
  /** Frontier states it sent to other workers. */
  readonly moved: number;
}

/** Moves of frontier states that even out the sizes: [from, to, count], the same in every worker. */
export function rebalancePlan(sizes: readonly number[]): { from: number; to: number; count: number }[] {
  const n = sizes.length;
  const total = sizes.reduce((a, b) => a + b, 0);
  const mean = total / n;
  // Even enough: moving costs a serialization per state, a level's imbalance of 10% less.
  if (Math.max(...sizes) <= mean * 1.1 + 1) return [];
  const target = sizes.map((_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
  const surplus = sizes.map((s, i) => s - target[i]!);
  const plan: { from: number; to: number; count: number }[] = [];
  let j = 0;
  for (let i = 0; i < n; i++) {
    while (surplus[i]! > 0) {
      while (j < n && surplus[j]! >= 0) j++;
      if (j >= n) break;
      const c = Math.min(surplus[i]!, -surplus[j]!);
      plan.push({ from: i, to: j, count: c });
      surplus[i]! -= c;
      surplus[j]! += c;
    }
  }
  return plan;
}

/** `--workers auto`: the cores node may use. */
export function availableWorkers(): number {
  return Math.max(1, os.availableParallelism());
}

/** Why a model is checked with one worker although more were asked for (null: it need not be). */
export function oneWorkerReason(cm: CheckModel, opts: CheckOptions): string | null {
  if (cm.liveness.length > 0)
    return 'liveness properties are checked with one worker (the search keeps the whole state graph)';
  if (opts.coverage) return '--coverage counts with one worker';
  if (opts.keepGraph) return 'the state graph (--dump-graph) is built with one worker';
  if (cm.constantOnly) return 'the model has no behaviour to explore';
  return null;
}

export interface ParallelOptions extends CheckOptions {
  readonly workers: number;
  /** How the workers load the model (the same files and options the main thread used). */
  readonly load: { readonly libDirs: readonly string[]; readonly checkDeadlock?: boolean };
}

interface WorkerBoot {
  readonly tsx: string | null;
  readonly entry: string;
  readonly init: WorkerInit;
}

/** The worker's entry: compiled JavaScript beside this file, or the TypeScript source through tsx. */
function bootstrap(): { tsx: string | null; entry: string } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // tsx's ESM API (its CommonJS build cannot register the ESM hooks in a worker).
    const pkgFile = createRequire(here).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
      exports: Record<string, { import?: { default?: string } }>;
    };
    const api = pkg.exports['./esm/api']?.import?.default;
    if (!api)
      throw new Error('tsx has no ESM API (tsx/esm/api): cannot start worker threads from the sources');
    return {
      tsx: pathToFileURL(path.join(path.dirname(pkgFile), api)).href,
      entry: new URL('./parallel-worker.ts', here).href,
    };
  }
  return { tsx: null, entry: new URL('./parallel-worker.js', here).href };
}

const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((e) => {
  throw e;
});
`;

/** Runs the parallel search on a loaded model (whose liveness, if any, the caller checks alone). */
export async function checkParallel(cm: CheckModel, opts: ParallelOptions): Promise<CheckResult> {
  const started = Date.now();
  const n = opts.workers;
  const mem = allocateTable(n);
  const stats = new SharedArrayBuffer(n * STAT_WORDS * 8);
  const st = new Float64Array(stats);
  const ctrl = new Int32Array(mem.ctrl);
  const ports: (MessagePort | null)[][] = Array.from({ length: n }, () =>
    new Array<MessagePort | null>(n).fill(null),
  );
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const ch = new MessageChannel();
      ports[i]![j] = ch.port1;
      ports[j]![i] = ch.port2;
    }
  const boot = bootstrap();
  const checkDeadlock = opts.checkDeadlock ?? cm.checkDeadlock;
  const budget = Math.floor(heapBudget() / n);
  const violations: ViolationRecord[] = [];
  const errors: WorkerErrorRecord[] = [];
  const counts = new Map<string, number>();
  let depth = 0;
  let cdot = 0;
  let left = 0;
  const workers: Worker[] = [];
  const timings: WorkerTiming[] = [];
  const finished = new Promise<void>((resolve) => {
    let done = 0;
    const oneDone = (): void => {
      if (++done === n) resolve();
    };
    for (let i = 0; i < n; i++) {
      const init: WorkerInit = {
        me: i,
        workers: n,
        spec: cm.specFile,
        cfg: cm.cfgFile,
        libDirs: opts.load.libDirs,
        checkDeadlock: opts.load.checkDeadlock,
        checkDeadlockResolved: checkDeadlock,
        maxStates: opts.maxStates ?? Infinity,
        heapBudget: budget,
        continueAfterViolation: opts.continueAfterViolation ?? false,
        maxViolationReports: opts.continueAfterViolation
          ? (opts.maxViolationTraces ?? MAX_VIOLATION_TRACES)
          : 1,
        mem,
        startedAtMs: Date.now(),
        stats,
        ports: ports[i]!,
      };
      const data: WorkerBoot = { ...boot, init };
      const w = new Worker(BOOT, {
        eval: true,
        workerData: data,
        transferList: ports[i]!.filter((p): p is MessagePort => p !== null),
        resourceLimits: { maxOldGenerationSizeMb: Math.ceil(v8HeapLimit() / 2 ** 20) },
      });
      let sawDone = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'violation') violations.push(m.v);
        else if (m.type === 'error') errors.push(m);
        else {
          sawDone = true;
          depth = Math.max(depth, m.depth);
          cdot += m.cdot;
          left += m.left;
          for (const [k, c] of Object.entries(m.counts)) counts.set(k, (counts.get(k) ?? 0) + c);
          if (m.timing) timings[i] = m.timing;
          oneDone();
        }
      });
      w.on('error', (e) => {
        errors.push({
          error: { type: 'other', message: e.message },
          during: `running worker ${i + 1}`,
          at: null,
        });
        Atomics.store(ctrl, C.STOP, STOP_ABORT);
        signal(ctrl);
      });
      w.on('exit', () => {
        if (!sawDone) {
          sawDone = true;
          Atomics.store(ctrl, C.STOP, STOP_ABORT);
          signal(ctrl);
          oneDone();
        }
      });
      workers.push(w);
    }
  });
  const sum = (k: number): number => {
    let t = 0;
    for (let i = 0; i < n; i++) t += st[i * STAT_WORDS + k]!;
    return t;
  };
  let timer: NodeJS.Timeout | null = null;
  if (opts.onProgress) {
    const onProgress = opts.onProgress;
    timer = setInterval(() => {
      onProgress({
        distinctStates: Atomics.load(ctrl, C.COUNT),
        statesGenerated: sum(STAT_GENERATED),
        queue: 0,
        depth: 0,
        elapsedMs: Date.now() - started,
      });
    }, opts.progressIntervalMs ?? 1000);
  }
  try {
    await finished;
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }

  const base = {
    distinctStates: sum(STAT_ADDED),
    statesGenerated: sum(STAT_GENERATED) + cdot,
    depth,
    leftOnQueue: left,
    workers: n,
    workerTimings: timings,
  };
  const table = new SharedFingerprintTable(mem, n, 0);
  const sys = searchSystem(cm);
  const decoder = new Decoder();
  const width = cm.model.variables.length;
  const decodeOne = (e: Encoded): State => decoder.states(e, 1, width)[0]!;

  if (errors.length > 0) {
    const e = errors[0]!;
    const err = e.error;
    const cause =
      err.type === 'tla'
        ? new TlaError(err.kind, err.message, err.loc)
        : err.type === 'memory'
          ? new HeapBudgetExceeded(err.message)
          : new Error(err.message);
    let trace: Trace<State, ActionLabel> | undefined;
    try {
      trace = errorTrace(e.at);
    } catch {
      trace = undefined;
    }
    return {
      result: 'error',
      ...base,
      durationMs: Date.now() - started,
      error: describeError(cause, e.during, trace) satisfies CheckError,
    };
  }

  function errorTrace(at: WorkerErrorRecord['at']): Trace<State, ActionLabel> | undefined {
    if (!at) return undefined;
    if ('state' in at) return { steps: [{ state: decodeOne(at.state), label: null }] };
    const steps: TraceStep<State, ActionLabel>[] = replayFingerprints(sys, table.chain(at.fp[0], at.fp[1]));
    if (at.k !== null) {
      const cands: TraceStep<State, ActionLabel>[] = [];
      sys.successors(steps[steps.length - 1]!.state, (t, l) => cands.push({ state: t, label: l }));
      if (cands[at.k]) steps.push(cands[at.k]!);
    }
    return { steps };
  }

  const chainOf = (v: ViolationRecord): [number, number][] =>
    v.inTable
      ? table.chain(v.target[0], v.target[1])
      : [...(v.via ? table.chain(v.via[0], v.via[1]) : []), [v.target[0] >>> 0, v.target[1] >>> 0]];
  const nameOf = (v: ViolationRecord): string | null =>
    v.kind === 'invariant'
      ? sys.invariants[v.index]!.name
      : v.kind === 'init-property'
        ? sys.initProperties[v.index]!.name
        : v.kind === 'action-property'
          ? sys.actionProperties[v.index]!.name
          : null;
  const traceOf = (v: ViolationRecord, chain: [number, number][]): Trace<State, ActionLabel> => {
    const accept =
      v.kind === 'invariant'
        ? (x: State) => !sys.invariants[v.index]!.holds(x)
        : v.kind === 'init-property'
          ? (x: State) => !sys.initProperties[v.index]!.holds(x)
          : v.kind === 'action-property'
            ? (x: State, prev: State | null) =>
                prev !== null && !sys.actionProperties[v.index]!.holds(prev, x)
            : (x: State) => {
                let any = false;
                sys.successors(x, () => {
                  any = true;
                });
                return !any;
              };
    try {
      return { steps: replayFingerprints(sys, chain, accept) };
    } catch {
      return { steps: [{ state: v.state ? decodeOne(v.state) : [], label: null }] };
    }
  };

  if (violations.length > 0) {
    // The shortest first (BFS order across workers is not defined; lengths are).
    const withChains = violations.map((v) => ({ v, chain: chainOf(v) }));
    withChains.sort((a, b) => a.chain.length - b.chain.length);
    const max = opts.continueAfterViolation ? (opts.maxViolationTraces ?? MAX_VIOLATION_TRACES) : 1;
    const all: CheckViolation[] = withChains.slice(0, max).map(({ v, chain }) => ({
      name: nameOf(v),
      kind: v.kind,
      trace: traceOf(v, chain),
    }));
    const first = all[0]!;
    const verdict =
      first.kind === 'invariant' ? 'invariant' : first.kind === 'deadlock' ? 'deadlock' : 'property';
    return {
      result: verdict,
      ...base,
      durationMs: Date.now() - started,
      violation: first,
      ...(opts.continueAfterViolation ? { violations: all, violationCounts: counts } : {}),
    };
  }
  const post = checkPostconditions(cm);
  if (post) return { result: 'error', ...base, durationMs: Date.now() - started, error: post };
  return { result: 'ok', ...base, durationMs: Date.now() - started };
}
