// One worker thread of a parallel breadth-first search (tla/check/parallel.ts starts them). It
// loads the model itself, then runs levels in step with the other workers:
//
//   barrier -> publish the size of its frontier -> barrier -> rebalance (every worker computes
//   the same plan from the sizes; the larger frontiers send serialized states to the smaller)
//   -> expand its frontier: successors, constraints, the shared fingerprint set, invariants,
//   action properties, deadlock -> barrier -> ...
//
// A level is complete before the next starts, so depth is the BFS depth and a violation found
// while expanding level d is at depth d + 1 (or d, for a deadlock): a shortest counterexample.
// A violation or an error sets STOP; the others stop at their next state and everyone meets at
// the barrier. Violations and errors go to the main thread as fingerprints, which it replays.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { HeapBudgetExceeded, HeapWatch, setHeapBudget } from '../memory.ts';
import { TlaError } from '../errors.ts';
import type { State } from '../eval/index.ts';
import { searchSystem } from './checker.ts';
import { Decoder, encodeStates, type Encoded } from './codec.ts';
import { HEAP_CHECK_EVERY } from './engine.ts';
import { loadModel } from './model.ts';
import {
  C,
  STOP_ABORT,
  STOP_ERROR,
  STOP_FOUND,
  STOP_NONE,
  SharedFingerprintTable,
  signal,
} from './shared-fpset.ts';
import {
  STAT_ADDED,
  STAT_CDOT,
  STAT_GENERATED,
  STAT_WORDS,
  rebalancePlan,
  type FromWorker,
  type ViolationRecord,
  type WorkerErrorRecord,
  type WorkerInit,
} from './parallel.ts';

interface Batch {
  data: Encoded;
  count: number;
  hi: Int32Array;
  lo: Int32Array;
}

class Aborted extends Error {}

/** The state encoded for the main thread, or null when it cannot be (an infinite set in it). */
function tryEncode(s: State): Encoded | null {
  try {
    return encodeStates([s]);
  } catch {
    return null;
  }
}

function post(m: FromWorker): void {
  parentPort!.postMessage(m);
}

function errorRecord(e: unknown): WorkerErrorRecord['error'] {
  if (e instanceof TlaError) return { type: 'tla', kind: e.kind, message: e.message, loc: e.loc };
  if (e instanceof HeapBudgetExceeded) return { type: 'memory', message: e.message };
  return { type: 'other', message: e instanceof Error ? e.message : String(e) };
}

async function run(init: WorkerInit): Promise<void> {
  const { me, workers: n } = init;
  const ports = init.ports as (MessagePort | null)[];
  if (init.heapBudget !== null) setHeapBudget(init.heapBudget);
  const table = new SharedFingerprintTable(init.mem, n, me);
  const ctrl = table.ctrl;
  const stats = new Float64Array(init.stats, me * STAT_WORDS * 8, STAT_WORDS);
  let loadError: unknown = null;
  const bootMs = Date.now() - init.startedAtMs;
  const loadStart = performance.now();
  let idleMs = 0;
  let moved = 0;
  const cm = await loadModel(init.spec, init.cfg, {
    libDirs: init.libDirs,
    ...(init.checkDeadlock !== undefined ? { checkDeadlock: init.checkDeadlock } : {}),
  }).catch((e: unknown) => {
    loadError = e;
    return null;
  });

  const stopped = (): boolean => Atomics.load(ctrl, C.STOP) !== STOP_NONE;
  const stop = (why: number): void => {
    Atomics.compareExchange(ctrl, C.STOP, STOP_NONE, why);
    signal(ctrl);
  };
  /** Waits until cond() holds, joining growths of the table meanwhile. */
  const idleUntil = (cond: () => boolean): void => {
    if (cond()) return;
    const t0 = performance.now();
    for (;;) {
      const e = Atomics.load(ctrl, C.EVENT);
      if (cond()) break;
      if (table.pollGrowth()) continue;
      if (Atomics.load(ctrl, C.STOP) === STOP_ABORT) throw new Aborted('aborted');
      Atomics.wait(ctrl, C.EVENT, e, 20);
    }
    idleMs += performance.now() - t0;
  };
  const barrier = (): void => {
    const gen = Atomics.load(ctrl, C.BARRIER_GEN);
    if (Atomics.add(ctrl, C.BARRIER_COUNT, 1) === n - 1) {
      Atomics.store(ctrl, C.BARRIER_COUNT, 0);
      Atomics.add(ctrl, C.BARRIER_GEN, 1);
      signal(ctrl);
      return;
    }
    idleUntil(() => Atomics.load(ctrl, C.BARRIER_GEN) !== gen);
  };

  if (!cm) {
    post({ type: 'error', error: errorRecord(loadError), during: 'loading the model', at: null });
    stop(STOP_ERROR);
    barrier();
    post({ type: 'done', depth: 0, cdot: 0, left: 0, counts: {} });
    return;
  }
  const searchStart = performance.now();
  const sys = searchSystem(cm);
  const width = cm.model.variables.length;
  const heap = new HeapWatch();
  const fpBuf = new Uint32Array(2);
  const fpInto =
    sys.fingerprintInto ??
    ((s: State, out: Uint32Array): void => {
      const fp = sys.fingerprint(s);
      out[0] = Number((fp >> 32n) & 0xffff_ffffn);
      out[1] = Number(fp & 0xffff_ffffn);
    });
  const keepGoing = init.continueAfterViolation;
  let generated = 0;
  let heapTick = HEAP_CHECK_EVERY;
  let reported = 0;
  const counts: Record<string, number> = {};
  const names = {
    invariant: sys.invariants.map((p) => p.name),
    'init-property': sys.initProperties.map((p) => p.name),
    'action-property': sys.actionProperties.map((p) => p.name),
  };

  /** Reports a violation (with the violating state); true when the search stops for it. */
  const violation = (v: ViolationRecord, s: State): boolean => {
    const key = v.kind === 'deadlock' ? 'deadlock' : names[v.kind][v.index]!;
    counts[key] = (counts[key] ?? 0) + 1;
    if (reported < init.maxViolationReports) {
      const state = tryEncode(s);
      post({ type: 'violation', v: state ? { ...v, state } : v });
    }
    reported++;
    if (keepGoing) return false;
    stop(STOP_FOUND);
    return true;
  };
  const fail = (e: unknown, during: string, at: WorkerErrorRecord['at']): void => {
    if (e instanceof Aborted) throw e;
    post({ type: 'error', error: errorRecord(e), during, at });
    stop(STOP_ERROR);
  };
  const lookAtHeap = (pending: number): boolean => {
    if (!heap.over()) return false;
    fail(
      new HeapBudgetExceeded(
        `Out of memory in worker ${me + 1} of ${n}: stopped after about ${table.approxCount()} distinct states ` +
          `(${generated + pending} generated by this worker, ${frontier.length} on its queue); the search is incomplete: ` +
          `${heap.describe()} (each of the ${n} workers has 1/${n} of the budget)`,
      ),
      'exploring',
      null,
    );
    return true;
  };

  let frontier: State[] = [];
  let fhi: number[] = [];
  let flo: number[] = [];

  // Level 1: the initial states, computed by the first worker.
  if (me === 0) {
    const inits: State[] = [];
    try {
      sys.initStates((s) => {
        generated++;
        inits.push(s);
      });
    } catch (e) {
      fail(e, 'computing the initial states', null);
    }
    for (const s of stopped() ? [] : inits) {
      let during = 'evaluating the CONSTRAINT';
      try {
        const inModel = sys.constraint ? sys.constraint(s) : true;
        during = 'fingerprinting an initial state';
        fpInto(s, fpBuf);
        const hi = fpBuf[0]! | 0;
        const lo = fpBuf[1]! | 0;
        if (inModel && table.add(hi, lo, 0, 0, true)) {
          frontier.push(s);
          fhi.push(hi);
          flo.push(lo);
        }
        let bad = false;
        for (let i = 0; i < sys.invariants.length && !bad; i++) {
          during = `evaluating invariant ${sys.invariants[i]!.name}`;
          if (!sys.invariants[i]!.holds(s)) {
            bad = true;
            if (violation({ kind: 'invariant', index: i, via: null, target: [hi, lo], inTable: false }, s))
              break;
          }
        }
        if (stopped()) break;
        for (let i = 0; i < sys.initProperties.length; i++) {
          during = `evaluating property ${sys.initProperties[i]!.name}`;
          if (!sys.initProperties[i]!.holds(s)) {
            violation({ kind: 'init-property', index: i, via: null, target: [hi, lo], inTable: false }, s);
            break;
          }
        }
        if (stopped()) break;
        if (table.approxCount() >= init.maxStates) {
          fail(
            new Error(
              `stopped at --max-states ${init.maxStates} (the workers had found about ${table.approxCount()} distinct states); the search is incomplete`,
            ),
            'exploring',
            null,
          );
          break;
        }
      } catch (e) {
        const state = tryEncode(s);
        fail(e, during, state ? { state } : null);
        break;
      }
    }
  }
  table.flushCount();
  stats[STAT_GENERATED] = generated;
  stats[STAT_ADDED] = table.added;
  barrier();
  // Waiting for the others to start and load the model is start-up, not search.
  const startWaitMs = idleMs;
  idleMs = 0;
  const levelsStart = performance.now();

  const decoder = new Decoder();
  const WANT = C.PER_WORKER + n;
  /** Appends a batch of states from another worker to the frontier. */
  const takeBatch = (b: Batch): void => {
    const states = decoder.states(b.data, b.count, width);
    for (let i = 0; i < b.count; i++) {
      frontier.push(states[i]!);
      fhi.push(b.hi[i]!);
      flo.push(b.lo[i]!);
    }
  };
  /** Sends the last `count` states of the frontier to worker `to`. */
  const send = (to: number, count: number): void => {
    const take = frontier.length - count;
    const batch: Batch = {
      data: encodeStates(frontier.slice(take)),
      count,
      hi: Int32Array.from(fhi.slice(take)),
      lo: Int32Array.from(flo.slice(take)),
    };
    frontier.length = take;
    fhi.length = take;
    flo.length = take;
    ports[to]!.postMessage(batch);
    moved += count;
    signal(ctrl);
  };
  /** While expanding state q: gives half of the states after q to a worker that ran out. */
  const share = (q: number): void => {
    const left = frontier.length - q - 1;
    if (left < 2) return;
    for (let j = 0; j < n; j++) {
      if (j === me || Atomics.load(ctrl, WANT + j) !== 1) continue;
      if (Atomics.compareExchange(ctrl, WANT + j, 1, 2) !== 1) continue;
      // j is claimed: it waits for this batch, so it is no longer idle.
      Atomics.sub(ctrl, C.IDLE, 1);
      send(j, Math.floor(left / 2));
      return;
    }
  };
  /** A batch from whichever worker sent one, or null. */
  const receiveAny = (): Batch | null => {
    for (let j = 0; j < n; j++) {
      if (j === me) continue;
      const m = receiveMessageOnPort(ports[j]!) as { message: Batch } | undefined;
      if (m) return m.message;
    }
    return null;
  };
  const invariants = sys.invariants;
  const actionProps = sys.actionProperties;
  const constraint = sys.constraint;
  const actionConstraint = sys.actionConstraint;
  const outs: State[] = [];
  let depth = 0;
  for (let level = 1; ; level++) {
    Atomics.store(ctrl, C.PER_WORKER + me, frontier.length);
    barrier();
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) sizes.push(Atomics.load(ctrl, C.PER_WORKER + i));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total > 0) depth = level;
    // Read between the two barriers, where no worker can set it: all decide alike.
    const halt = stopped();
    // Nobody reads the stealing words between the two barriers: the first worker resets them.
    if (me === 0) {
      Atomics.store(ctrl, C.IDLE, 0);
      for (let i = 0; i < n; i++) Atomics.store(ctrl, WANT + i, 0);
    }
    // Everyone has read the sizes before anyone writes the next ones.
    barrier();
    if (total === 0 || halt) break;

    // Rebalance: the same plan in every worker; states travel as serialized batches.
    const plan = rebalancePlan(sizes);
    for (const t of plan) if (t.from === me) send(t.to, t.count);
    for (const t of plan) {
      if (t.to !== me) continue;
      let msg: { message: Batch } | undefined;
      idleUntil(
        () => (msg = receiveMessageOnPort(ports[t.from]!) as { message: Batch } | undefined) !== undefined,
      );
      takeBatch(msg!.message);
    }

    // Expand, then take states from workers that still have some (work stealing), until every
    // worker is out of states for this level.
    const next: State[] = [];
    const nhi: number[] = [];
    const nlo: number[] = [];
    for (;;) {
      expand: for (let q = 0; q < frontier.length; q++) {
        if (stopped()) break;
        if ((q & 15) === 15 && Atomics.load(ctrl, C.IDLE) > 0) share(q);
        const s = frontier[q]!;
        const sh = fhi[q]!;
        const sl = flo[q]!;
        frontier[q] = undefined as unknown as State; // let it go
        outs.length = 0;
        try {
          sys.successors(s, (t) => {
            outs.push(t);
          });
        } catch (e) {
          generated += outs.length;
          fail(e, 'computing successors', { fp: [sh, sl], k: null });
          break;
        }
        const nsucc = outs.length;
        let during = '';
        let k = 0;
        try {
          for (k = 0; k < nsucc; k++) {
            const t = outs[k]!;
            generated++;
            if (--heapTick === 0) {
              heapTick = HEAP_CHECK_EVERY;
              if (lookAtHeap(nsucc - k)) break expand;
            }
            during = 'evaluating the CONSTRAINT';
            let inModel = constraint ? constraint(t) : true;
            if (inModel && actionConstraint) {
              during = 'evaluating the ACTION_CONSTRAINT';
              inModel = actionConstraint(s, t);
            }
            during = 'fingerprinting a state';
            fpInto(t, fpBuf);
            const th = fpBuf[0]! | 0;
            const tl = fpBuf[1]! | 0;
            let seen = false;
            if (inModel) {
              if (table.add(th, tl, sh, sl, false)) {
                next.push(t);
                nhi.push(th);
                nlo.push(tl);
              } else seen = true;
            }
            if (!seen) {
              for (let i = 0; i < invariants.length; i++) {
                during = `evaluating invariant ${invariants[i]!.name}`;
                if (!invariants[i]!.holds(t)) {
                  if (
                    violation(
                      { kind: 'invariant', index: i, via: [sh, sl], target: [th, tl], inTable: false },
                      t,
                    )
                  )
                    break expand;
                  break;
                }
              }
            }
            for (let i = 0; i < actionProps.length; i++) {
              during = `evaluating action property ${actionProps[i]!.name}`;
              if (!actionProps[i]!.holds(s, t)) {
                if (
                  violation(
                    { kind: 'action-property', index: i, via: [sh, sl], target: [th, tl], inTable: false },
                    t,
                  )
                )
                  break expand;
                break;
              }
            }
            if (inModel && !seen && table.approxCount() >= init.maxStates) {
              fail(
                new Error(
                  `stopped at --max-states ${init.maxStates} (the workers had found about ${table.approxCount()} distinct states); the search is incomplete`,
                ),
                'exploring',
                null,
              );
              break expand;
            }
          }
        } catch (e) {
          fail(e, during, { fp: [sh, sl], k });
          break;
        }
        if (nsucc === 0 && init.checkDeadlockResolved) {
          if (violation({ kind: 'deadlock', index: -1, via: null, target: [sh, sl], inTable: true }, s))
            break;
        }
        if ((q & 63) === 0) stats[STAT_GENERATED] = generated;
      }
      // Out of states: ask for some; a worker that claims this one sends half of what it has left.
      frontier.length = 0;
      fhi.length = 0;
      flo.length = 0;
      Atomics.store(ctrl, WANT + me, 1);
      Atomics.add(ctrl, C.IDLE, 1);
      signal(ctrl);
      let got: Batch | null = null;
      idleUntil(() => {
        if (Atomics.load(ctrl, WANT + me) === 2) {
          got = receiveAny();
          return got !== null;
        }
        return Atomics.load(ctrl, C.IDLE) === n;
      });
      if (got === null) break;
      Atomics.store(ctrl, WANT + me, 0);
      takeBatch(got);
    }
    table.flushCount();
    stats[STAT_GENERATED] = generated;
    stats[STAT_ADDED] = table.added;
    frontier = next;
    fhi = nhi;
    flo = nlo;
  }
  stats[STAT_CDOT] = cm.model.cdotGenerated;
  post({
    type: 'done',
    depth,
    cdot: cm.model.cdotGenerated,
    left: frontier.length,
    counts,
    timing: {
      bootMs,
      loadMs: searchStart - loadStart,
      startWaitMs,
      searchMs: performance.now() - levelsStart,
      idleMs,
      moved,
    },
  });
}

const init = (workerData as { init: WorkerInit }).init;
run(init).then(
  () => {
    for (const p of init.ports) p?.close();
  },
  (e: unknown) => {
    const c = new Int32Array(init.mem.ctrl);
    Atomics.store(c, C.STOP, STOP_ABORT);
    signal(c);
    if (!(e instanceof Aborted)) {
      post({
        type: 'error',
        error: errorRecord(e),
        during: `running worker ${init.me + 1}`,
        at: null,
      });
    }
    post({ type: 'done', depth: 0, cdot: 0, left: 0, counts: {} });
    for (const p of init.ports) p?.close();
  },
);
