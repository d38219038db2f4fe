// Embedded execution: the whole application in this process, one worker owning every
// partition. Used by `buffy run APP` (without --workers), the tests and the benchmark.
import type { Application } from '../api/app.ts';
import type {
  Clock,
  DeadLetterSink,
  EngineMetrics,
  LatencyRecorder,
  Logger,
  RemoteBatch,
  Store,
} from '../types.ts';
import { singleWorkerTable } from './partition.ts';
import { EngineError, createWorkerEngine } from './worker.ts';
import type { WorkerEngineImpl } from './worker.ts';
import type { TracingOptions } from '../tracing/tracer.ts';
import type { StepObserver } from './types.ts';

export const EMBEDDED_WORKER = 'embedded';

export interface EmbeddedOptions {
  clock: Clock;
  log: Logger;
  deadLetters: DeadLetterSink;
  latency?: LatencyRecorder;
  /** Trace reports of sampled messages (runtime/tracing). */
  tracing?: TracingOptions;
  /** Sees each batch at each step (runtime/metrics). */
  observer?: StepObserver;
  /** Exactly-once into this store (opened and closed by the caller: `buffy run --state DIR`).
   * The one worker is also the source worker: after each commit its durable watermarks are its
   * sources' committed offsets (onDurable -> commitSources). Absent: no store, as before. */
  exactlyOnce?: { store: Store; durability: 'sync' | 'batch' | 'none'; commitIntervalMs?: number };
}

export interface RunSummary {
  readonly metrics: EngineMetrics;
  readonly elapsedMs: number;
  /** What the app's onFinish hook returned (e.g. the top words), if anything. */
  readonly finishText: string | undefined;
  /** True when the run ended by `stop()` rather than by its sources ending. */
  readonly stoppedEarly: boolean;
}

export interface EmbeddedRun {
  readonly engine: WorkerEngineImpl;
  /** Resolves when the sources have ended (or stop() was called) and everything is flushed. */
  readonly done: Promise<RunSummary>;
  /** Graceful stop: stop sources, drain, flush and close sinks. */
  stop(): Promise<RunSummary>;
}

export function startEmbedded(app: Application, options: EmbeddedOptions): EmbeddedRun {
  const eo = options.exactlyOnce;
  const engine: WorkerEngineImpl = createWorkerEngine({
    app,
    workerName: EMBEDDED_WORKER,
    partitions: singleWorkerTable(EMBEDDED_WORKER, app.partitionCount),
    clock: options.clock,
    log: options.log,
    deadLetters: options.deadLetters,
    remote: {
      send(worker: string, batch: RemoteBatch): never {
        throw new EngineError(
          `embedded run: step "${batch.step}" tried to send to worker "${worker}", but this worker owns every partition`,
        );
      },
    },
    ...(options.latency ? { latency: options.latency } : {}),
    ...(options.tracing ? { tracing: options.tracing } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(eo
      ? {
          exactlyOnce: {
            store: eo.store,
            durability: eo.durability,
            ...(eo.commitIntervalMs !== undefined ? { commitIntervalMs: eo.commitIntervalMs } : {}),
            onDurable: (marks) => engine.commitSources(marks),
            // The source's own batches follow each other: a gap here means a broken source.
            onGap: (source, offset) => engine.rewindSources({ [source]: offset }),
          },
        }
      : {}),
  });
  let stoppedEarly = false;
  const t0 = options.clock.monotonicMs();
  const summarize = (): RunSummary => {
    const view = engine.finishView();
    const text = app.onFinish?.(view);
    return {
      metrics: engine.metrics(),
      elapsedMs: options.clock.monotonicMs() - t0,
      finishText: typeof text === 'string' ? text : undefined,
      stoppedEarly,
    };
  };
  const done = (async (): Promise<RunSummary> => {
    await engine.start();
    try {
      await engine.sourcesDone();
    } catch (err) {
      await engine.stop().catch(() => undefined);
      throw err;
    }
    await engine.stop();
    return summarize();
  })();
  return {
    engine,
    done,
    async stop(): Promise<RunSummary> {
      stoppedEarly = true;
      await engine.stop();
      return done;
    },
  };
}

/** Runs an application to the end of its sources. */
export function runEmbedded(app: Application, options: EmbeddedOptions): Promise<RunSummary> {
  return startEmbedded(app, options).done;
}
