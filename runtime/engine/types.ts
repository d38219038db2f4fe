// The worker engine's interface: what `createWorkerEngine` (runtime/engine/worker.ts) takes and
// returns. One engine per process in a cluster; the embedded runner uses one that owns every
// partition. It lives here rather than in runtime/types.ts because it names the application it
// runs (runtime/api/app.ts), which itself builds on the seams of runtime/types.ts.
import type { Application } from '../api/app.ts';
import type { TracingOptions } from '../tracing/tracer.ts';
import type { RecoveryStepRecord } from '../sim/record.ts';
import type {
  Clock,
  DeadLetterSink,
  EngineMetrics,
  LatencyRecorder,
  Logger,
  PartitionTable,
  Random,
  RemoteBatch,
  RemoteOutlet,
  Store,
} from '../types.ts';

export interface WorkerEngine {
  readonly workerName: string;
  /** Opens the sinks, then starts the sources this worker runs. Resolves once started. */
  start(): Promise<void>;
  /** Resolves when every source of this worker has ended (input exhausted or stopped) and the
   * batches they emitted have been processed locally (sent on, for remote ones). */
  sourcesDone(): Promise<void>;
  /** Processes a batch from another worker; resolves when there is room for more. */
  deliverRemote(batch: RemoteBatch): Promise<void>;
  /** Stops this worker's sources and waits until the batches they emitted have been processed
   * (sent on, for remote ones). Sinks stay open and batches from peers are still accepted, so a
   * cluster can drain before calling stop(). Idempotent. */
  stopSources(): Promise<void>;
  /** Graceful stop: stops sources, waits for in-flight batches, flushes and closes sinks and
   * the dead-letter sink. Idempotent. With exactly-once, everything applied is committed first
   * (and the file sinks' progress recorded); the store stays open: its opener closes it. */
  stop(): Promise<void>;
  metrics(): EngineMetrics;
  /** Exactly-once, source worker: re-read source s from offset `to[s]` on (a worker's
   * committed offset + 1: after a gap, or for a worker that restarted). The source goes back to
   * the latest batch end it kept at or before `to[s] - 1` (it keeps the byte positions of its
   * batches since the committed offset), so it may replay a little more; duplicates are
   * dropped by the watermarks. A finished source runs again from there. Throws an EngineError
   * for a source that cannot rewind (its connector has no `rewind`). Keys are source indexes
   * (SourceNode.sourceId); sources not named are left alone. */
  rewindSources(to: Readonly<Record<number, number>>): void;
  /** Exactly-once, source worker: every message of source s up to offset `committed[s]` is
   * durable on every worker. Persists `c/<source>` (offset and resume position) in the next
   * commit, then calls the connector's `commit?(offset)`; a restart resumes from there. Offsets
   * that do not advance are ignored. */
  commitSources(committed: Readonly<Record<number, number>>): void;
}

/** Exactly-once on a worker (docs/exactly-once.md; the machine is machines/recovery-worker.ts).
 *
 * At start() the engine recovers from `store` (states of its partitions, watermarks, the output
 * counter, the outbox, the file sinks' progress, and on the source worker the committed source
 * offsets), truncates its file sinks to their recorded length and writes the outbox again, then
 * resumes its sources after their committed offsets. Each batch's source ranges are checked
 * against the watermarks (duplicates dropped, gaps refused and reported with onGap); the dirty
 * states, the watermarks and the outbox go into one `Store.writeBatch`, at most one in flight
 * (group commit); after each, `onDurable` gets the durable watermarks. File sinks are written
 * from the outbox once durable; other sinks (stdout:, count:, memory:, tcp:) are written at
 * once and are at-least-once across a crash.
 *
 * A topology where a state step's outputs reach another state step is refused at start
 * (AppConfigError) unless the app says `exactlyOnce: false`, in which case the engine runs
 * at-least-once, without using the store, and logs so once. */
/** What the exactly-once core records through (a recorder of runtime/sim/record.ts). */
export interface RecoveryRecorder {
  record(r: RecoveryStepRecord): void;
}

export interface ExactlyOnceOptions {
  /** This worker's store, opened (and later closed) by the shell. */
  readonly store: Store;
  /** The store's level; `sync` also fsyncs file sinks before their progress is recorded. */
  readonly durability: 'sync' | 'batch' | 'none';
  /** Least time between the starts of two commits (default 20 ms): what is applied meanwhile
   * goes into the next one. Lower: less latency to durable, more flushes per second. */
  readonly commitIntervalMs?: number;
  /** After each commit (and once after recovery): source index -> durable watermark (every
   * message of that source up to it that belongs to this worker is durable here). A source
   * this worker takes no part in is absent (a non-source worker that owns no partition).
   * Embedded: call commitSources with it; in a cluster: report it to the source worker. */
  onDurable(marks: Readonly<Record<number, number>>): void;
  /** A batch of source `source` began beyond this worker's watermark (frames of an earlier
   * incarnation were lost): it was dropped; ask the source worker to rewind to `offset`. */
  onGap(source: number, offset: number): void;
  /** Trace validation (runtime/sim/record.ts): the exactly-once core records each step of its
   * recovery-worker machine through it; absent: nothing is recorded or computed. */
  readonly recorder?: RecoveryRecorder;
}

export interface WorkerEngineOptions {
  readonly app: Application;
  /** This worker's name; must appear in `partitions.owners` for the partitions it owns. */
  readonly workerName: string;
  readonly partitions: PartitionTable;
  readonly clock: Clock;
  readonly log: Logger;
  readonly deadLetters: DeadLetterSink;
  /** Where batches for state steps owned by other workers go. */
  readonly remote: RemoteOutlet;
  /** Whether this worker runs the app's sources (default true; in a cluster, the initializer). */
  readonly runSources?: boolean;
  readonly random?: Random;
  readonly store?: Store;
  /** Exactly-once with a store (see ExactlyOnceOptions); absent: at-least-once, as before. */
  readonly exactlyOnce?: ExactlyOnceOptions;
  /** Receives each message's source-to-sink latency at the sinks. */
  readonly latency?: LatencyRecorder;
  /** Trace reports of sampled messages (runtime/tracing); absent or sampling off: no cost. */
  readonly tracing?: TracingOptions;
  /** Sees each batch as it enters a step (runtime/metrics); absent: no cost. */
  readonly observer?: StepObserver;
}

/** Called once per batch at each step, never per message (runtime/metrics counts with it). */
export interface StepObserver {
  /** A batch of `count` messages (birth times `born`, wall ms) enters step `to` (an app node
   * id) from step `from` (a node id; -1: from a peer worker). */
  enter(from: number, to: number, count: number, born: readonly number[]): void;
  /** The synchronous processing of that batch at step `to` (and downstream) has ended. */
  exit(to: number): void;
}
