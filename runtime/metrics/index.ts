// runtime/metrics: per-step and per-worker metrics, their Prometheus endpoint and JSON view.
// `createWorkerMetering` builds what a worker (buffy node, buffy run) wires into its engine.
import type { Application } from '../api/app.ts';
import type { ChannelStats } from '../net/channel.ts';
import type { Clock, DeadLetterSink, EngineMetrics, RemoteOutlet, Store } from '../types.ts';
import { StepMeter } from './step-meter.ts';
import { MeteredStore } from './store-meter.ts';
import type { ExactlyOnceView } from './store-meter.ts';
import { CountingDeadLetters, TimedOutlet, WorkerMetrics } from './worker-metrics.ts';

export {
  StepMeter,
  PERCENTILES,
  mergeHistograms,
  encodeHistogram,
  newLatencyHistogram,
} from './step-meter.ts';
export { WorkerMetrics, CountingDeadLetters, TimedOutlet } from './worker-metrics.ts';
export type { WorkerSnapshot, HistogramView } from './worker-metrics.ts';
export { serveMetrics } from './server.ts';
export { MeteredStore, registerStoreMetrics, COMMIT_SECONDS_BUCKETS } from './store-meter.ts';
export type { ExactlyOnceView, StoreSnapshot } from './store-meter.ts';
export { registerClusterMetrics, ClusterEventLog, CLUSTER_EVENT_KINDS } from './cluster-metrics.ts';
export type {
  ClusterEvent,
  ClusterEventKind,
  ClusterMember,
  ClusterSnapshot,
  ClusterView,
} from './cluster-metrics.ts';
export type { MetricsServer } from './server.ts';

export interface WorkerMetering {
  /** Pass as the engine's `observer`. */
  readonly observer: StepMeter;
  /** Wraps the engine's dead-letter sink: counts per step, then writes to `sink`. */
  deadLetters(sink: DeadLetterSink): DeadLetterSink;
  /** Wraps the engine's outlet to peers: times the waits (backpressure). */
  remote(inner: RemoteOutlet): RemoteOutlet;
  /** Wraps the worker's store (exactly-once): counts and times each commit. */
  store(inner: Store): Store;
  readonly metrics: WorkerMetrics;
  /** Tells the metrics where the engine's counters are (once the engine exists), and the
   * partition table's owners (partition i -> worker) in a cluster. */
  attach(engine: MeteredEngine, partitionOwners?: readonly string[]): void;
}

/** What the metrics read of an engine (WorkerEngineImpl). */
export interface MeteredEngine {
  metrics(): EngineMetrics;
  exactlyOnceSnapshot?(): ExactlyOnceView | null;
}

export function createWorkerMetering(o: {
  readonly app: Application;
  readonly worker: string;
  readonly clock: Clock;
  readonly channels?: () => Iterable<readonly [string, ChannelStats]>;
  readonly processMetrics?: boolean;
}): WorkerMetering {
  const meter = new StepMeter(o.app, o.clock);
  const perStep = new Map<string, number>();
  let outlet: TimedOutlet | undefined;
  let engine: MeteredEngine | null = null;

  let owners: readonly string[] | null = null;
  const metrics = new WorkerMetrics({
    worker: o.worker,
    meter,
    engine: () => engine?.metrics() ?? null,
    partitions: () => owners,
    deadLetters: { perStep },
    backpressureSeconds: () => outlet?.backpressureSeconds ?? 0,
    ...(o.channels ? { channels: o.channels } : {}),
    ...(o.processMetrics !== undefined ? { processMetrics: o.processMetrics } : {}),
  });
  return {
    observer: meter,
    deadLetters: (sink) => new CountingDeadLetters(sink, perStep),
    remote(inner) {
      outlet = new TimedOutlet(inner, o.clock);
      return outlet;
    },
    store(inner) {
      const metered = new MeteredStore(inner, o.clock);
      metrics.attachStore(metered, () => engine?.exactlyOnceSnapshot?.() ?? null);
      return metered;
    },
    metrics,
    attach(e, partitionOwners) {
      engine = e;
      owners = partitionOwners ?? null;
    },
  };
}
