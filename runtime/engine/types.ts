// The worker engine's interface: what `createWorkerEngine` (runtime/engine/worker.ts) takes and
// returns. One engine per process in a cluster; the embedded runner uses one that owns every
// partition. It lives here rather than in runtime/types.ts because it names the application it
// runs (runtime/api/app.ts), which itself builds on the seams of runtime/types.ts.
import type { Application } from '../api/app.ts';
import type { TracingOptions } from '../tracing/tracer.ts';
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
   * the dead-letter sink. Idempotent. */
  stop(): Promise<void>;
  metrics(): EngineMetrics;
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
