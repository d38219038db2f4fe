// The source worker's commit tracker: the runtime core that runs machines/source-commit.ts (the
// source role of specs/Ack.tla and specs/Recovery.tla). No I/O: the caller (the cluster's source
// worker, or the embedded runner) feeds it what the source read and what the workers report,
// and does what it returns (persist and acknowledge the committed offsets through
// WorkerEngine.commitSources, re-read from the rewind points through WorkerEngine.rewindSources).
//
//   const t = new SourceCommitTracker({ sources: 2, committed: fromStore, workers: ['w1', 'w2'] });
//   t.read(0, 100);                       // source 0 read through offset 100
//   t.report('w1', { 0: 60, 1: 7 });      // w1's durable watermarks -> newly committed offsets
//   t.workerRestarted('w2');              // -> { 0: committed[0] + 1, 1: committed[1] + 1 }
//
// committed[s] = the least durable watermark over the registered workers, never decreasing
// (a worker that has not reported yet holds it where it is; one whose report leaves a source
// out takes no part in it). Offsets are the source's, from 0; -1 (NO_OFFSET, the engine's
// NO_MARK) is "none". `read` is bookkeeping for `kept` and for one-by-one acknowledgements
// (`acknowledge`, Ack.tla's): commits from reports do not wait on it. A protocol error (a
// report from a worker that never registered, a watermark that is not an offset) throws with
// what was wrong and where; a report that would lower a watermark or the commit is no step of
// the protocol and changes nothing (reports may arrive late).
import { createActor, type Actor } from 'xstate';
import {
  ALL_OFFSETS,
  NO_OFFSET,
  committable,
  keptOffsets,
  sourceCommitMachine,
  sourceCommitStateOf,
  type SourceCommitEvent,
  type SourceCommitState,
} from '../../machines/source-commit.ts';
import type { DeliveryRecorder, TrackerRecord } from '../sim/record.ts';

/** Deliberately broken variants, for the conformance suites' mutation tests only. */
export type SourceCommitMutation =
  /** Commits what the source has read, durable downstream or not (Ack.tla's CommitEarly). */
  | 'commit-early'
  /** A restarted worker's sources resume where they were instead of replaying from committed + 1. */
  | 'forget-rewind';

export { NO_OFFSET };

export const SOURCE_COMMIT_MUTATIONS: readonly SourceCommitMutation[] = ['commit-early', 'forget-rewind'];

export interface SourceCommitTrackerOptions {
  /** How many sources the application has (numbered 0..sources-1, as the engine numbers them). */
  readonly sources: number;
  /** The committed offsets the source worker persisted (`c/<source>`), by source; absent: NO_OFFSET (-1), nothing committed. */
  readonly committed?: Readonly<Record<number, number>>;
  /** Workers registered from the start (each holds the commit until it reports). */
  readonly workers?: readonly string[];
  /** For people: where the tracker runs, in error messages (default "the source worker"). */
  readonly where?: string;
  /** Test only: a deliberately broken variant. */
  readonly mutation?: SourceCommitMutation;
  /**
   * Trace validation (runtime/sim/record.ts): a `start` record per source, then after each
   * step of the machine a record of the sources it concerns (committed, read, kept). Nothing
   * is recorded or computed without one.
   */
  readonly recorder?: DeliveryRecorder;
}

/** Whether a step changed the state (the machine's steps keep what they do not change). */
function changed(a: SourceCommitState, b: SourceCommitState): boolean {
  return a.committed !== b.committed || a.read !== b.read || a.workers !== b.workers;
}

/** Offsets by source index. */
export type Offsets = Readonly<Record<number, number>>;

export class SourceCommitTracker {
  private readonly actor: Actor<typeof sourceCommitMachine>;
  private readonly sources: number;
  private readonly where: string;
  private readonly mutation: SourceCommitMutation | undefined;
  private readonly recorder: DeliveryRecorder | undefined;

  constructor(options: SourceCommitTrackerOptions) {
    const { sources } = options;
    this.where = options.where ?? 'the source worker';
    if (!Number.isSafeInteger(sources) || sources < 0)
      throw new RangeError(
        `source commit tracker (${this.where}): sources must be a natural number, got ${sources}`,
      );
    this.sources = sources;
    this.mutation = options.mutation;
    const committed = Array.from({ length: sources }, (_, s) => {
      const c = options.committed?.[s] ?? NO_OFFSET;
      if (!Number.isSafeInteger(c) || c < NO_OFFSET)
        throw new RangeError(
          `source commit tracker (${this.where}): the persisted committed offset of source ${s} must be an integer >= -1, got ${c}`,
        );
      return c;
    });
    for (const k of Object.keys(options.committed ?? {}))
      if (!(Number(k) >= 0 && Number(k) < sources))
        throw new RangeError(
          `source commit tracker (${this.where}): a committed offset for source ${k}, but the application has ${sources} sources`,
        );
    this.actor = createActor(sourceCommitMachine, {
      input: { sources, committed, commitEarly: options.mutation === 'commit-early' },
    });
    this.actor.start();
    this.recorder = options.recorder;
    if (this.recorder) for (let s = 0; s < sources; s++) this.recordStep('start', s);
    for (const w of options.workers ?? []) this.workerJoined(w);
  }

  /** The machine's state (committed, read, per-worker acknowledgements); plain data, do not mutate. */
  get state(): SourceCommitState {
    return sourceCommitStateOf(this.actor.getSnapshot().context);
  }

  /** The committed offset of every source: everything at or below it is durable at every worker. */
  committed(): Offsets {
    return { ...this.actor.getSnapshot().context.committed };
  }

  /** The workers registered, in registration order. */
  workers(): string[] {
    return Object.keys(this.actor.getSnapshot().context.workers);
  }

  /** Offsets of a source read and not yet acknowledged by every worker (what a keeping source must still hold). */
  kept(source: number): number[] {
    this.checkSource(source, 'kept');
    return keptOffsets(this.actor.getSnapshot().context, source);
  }

  /** The source read through `through` (its offsets strictly increase; a rewind starts again at committed). */
  read(source: number, through: number): void {
    this.checkSource(source, 'read');
    this.checkOffset(through, `read(${source}, ...)`);
    const before = this.actor.getSnapshot().context.read[source]!;
    if (through <= before)
      throw new RangeError(
        `source commit tracker (${this.where}): source ${source} read through offset ${through}, but it had read through ${before} already (offsets must increase)`,
      );
    this.send({ type: 'SourceRead', source, through }, `source ${source} read through ${through}`);
  }

  /** A worker registered for the first time. */
  workerJoined(worker: string): void {
    if (typeof worker !== 'string' || worker === '')
      throw new TypeError(`source commit tracker (${this.where}): a worker name must be a non-empty string`);
    if (Object.hasOwn(this.actor.getSnapshot().context.workers, worker))
      throw new Error(
        `source commit tracker (${this.where}): worker ${worker} is registered already; a worker that registers again after a crash is workerRestarted(${JSON.stringify(worker)})`,
      );
    this.send({ type: 'WorkerJoined', worker }, `worker ${worker} joined`);
  }

  /**
   * A worker registered again after a crash: every source must be re-read from the returned
   * offset (its committed offset + 1); the replay reaches every worker and their watermarks
   * make it a no-op where already applied.
   */
  workerRestarted(worker: string): Offsets {
    this.checkWorker(worker, 'restarted');
    if (this.mutation === 'forget-rewind') {
      const read = this.actor.getSnapshot().context.read;
      return Object.fromEntries(read.map((r, s) => [s, r + 1]));
    }
    this.send({ type: 'WorkerRestarted', worker }, `worker ${worker} restarted`);
    return Object.fromEntries(this.actor.getSnapshot().context.committed.map((c, s) => [s, c + 1]));
  }

  /**
   * One acknowledgement of a worker: the messages (from, through] of the source that this
   * incarnation of the source read are durable there (offsets beyond what it read are from an
   * earlier incarnation and not counted). Returns whether anything changed. A worker's durable
   * watermarks are `report`.
   */
  acknowledge(worker: string, source: number, from: number, through: number): boolean {
    this.checkWorker(worker, 'acknowledged');
    this.checkSource(source, 'acknowledge');
    this.checkOffset(from, 'acknowledge: from');
    this.checkOffset(through, 'acknowledge: through');
    if (from >= through)
      throw new RangeError(
        `source commit tracker (${this.where}): worker ${worker} acknowledged the empty range (${from}, ${through}] of source ${source}`,
      );
    return this.send(
      { type: 'SourceReceiveAck', worker, source, from, through },
      `worker ${worker} acknowledged (${from}, ${through}] of source ${source}`,
    );
  }

  /** Commits the source up to `to` if every worker acknowledged it; whether it did. */
  commit(source: number, to: number): boolean {
    this.checkSource(source, 'commit');
    this.checkOffset(to, `commit(${source}, ...)`);
    const before = this.actor.getSnapshot().context;
    this.actor.send({ type: 'SourceCommit', source, to });
    const did = changed(before, this.actor.getSnapshot().context);
    if (did && this.recorder) this.recordStep('SourceCommit', source);
    return did;
  }

  /**
   * A worker's progress report: its durable watermark per source (as the engine's onDurable
   * gives them). A source the report does not name is one the worker takes no part in (it
   * owns no partition that source reaches): it acknowledges all of it, and no longer holds its
   * commit. Returns the sources whose committed offset advanced, with the new offset (persist
   * and acknowledge those: WorkerEngine.commitSources).
   */
  report(worker: string, marks: Offsets): Offsets {
    this.checkWorker(worker, 'reported progress');
    const named = new Set<number>();
    for (const [key, mark] of Object.entries(marks)) {
      const source = Number(key);
      this.checkSource(source, `report from worker ${worker}`);
      this.checkOffset(mark, `report from worker ${worker}: source ${source}`);
      named.add(source);
    }
    for (let source = 0; source < this.sources; source++) {
      const mark = named.has(source) ? marks[source]! : ALL_OFFSETS;
      if (mark > NO_OFFSET)
        this.send(
          { type: 'SourceReceiveAck', worker, source, through: mark },
          `worker ${worker} reported its durable watermark ${mark} of source ${source}`,
        );
    }
    const advanced: Record<number, number> = {};
    const c = this.actor.getSnapshot().context;
    for (let s = 0; s < this.sources; s++) {
      const target = this.mutation === 'commit-early' ? c.read[s]! : committable(c, s);
      // ALL_OFFSETS: no worker that takes part in the source has registered; nothing to commit.
      if (target !== null && target < ALL_OFFSETS && target > c.committed[s]! && this.commit(s, target))
        advanced[s] = target;
    }
    return advanced;
  }

  /** Sends an event the protocol must allow here; whether the state changed. */
  private send(e: SourceCommitEvent, what: string): boolean {
    const before = this.actor.getSnapshot();
    if (!before.can(e))
      throw new Error(`source commit tracker (${this.where}): ${what} is no step of the protocol here`);
    this.actor.send(e);
    const did = changed(before.context, this.actor.getSnapshot().context);
    if (did && this.recorder) {
      if (e.type === 'WorkerJoined') {
        const acks = this.actor.getSnapshot().context.workers[e.worker]!;
        for (let s = 0; s < this.sources; s++) this.recordStep(e.type, s, e.worker, acks[s]!.mark);
      } else if (e.type === 'WorkerRestarted')
        for (let s = 0; s < this.sources; s++) this.recordStep(e.type, s, e.worker);
      else if (e.type === 'SourceReceiveAck')
        this.recordStep(e.type, e.source, e.worker, e.from === undefined ? e.through : undefined);
      else this.recordStep(e.type, e.source);
    }
    return did;
  }

  /** The record of one source's state after a step (only with a recorder). */
  private recordStep(ev: TrackerRecord['ev'], source: number, worker?: string, mark?: number): void {
    const c = this.actor.getSnapshot().context;
    const kept = keptOffsets(c, source);
    this.recorder!.record({
      p: 'ack',
      role: 'tracker',
      ev,
      source,
      ...(worker !== undefined ? { worker } : {}),
      ...(mark !== undefined ? { mark } : {}),
      committed: c.committed[source]!,
      read: c.read[source]!,
      kept: kept.length === 0 ? [0, 0, 0] : [kept[0]!, kept[kept.length - 1]!, kept.length],
    });
  }

  private checkSource(source: number, what: string): void {
    if (!Number.isSafeInteger(source) || source < 0 || source >= this.sources)
      throw new RangeError(
        `source commit tracker (${this.where}): ${what}: there is no source ${String(source)} (the application has ${this.sources})`,
      );
  }

  private checkOffset(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < NO_OFFSET)
      throw new RangeError(
        `source commit tracker (${this.where}): ${what}: an offset must be an integer >= -1 (-1: none), got ${String(n)}`,
      );
  }

  private checkWorker(worker: string, what: string): void {
    if (!Object.hasOwn(this.actor.getSnapshot().context.workers, worker))
      throw new Error(
        `source commit tracker (${this.where}): worker ${JSON.stringify(worker)} ${what}, but it never registered (registered: ${this.workers().join(', ') || 'none'})`,
      );
  }
}
