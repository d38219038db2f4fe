// The metrics of one worker as a prom-client registry. Nothing is counted on the data path
// here: every value is read at scrape time (collect callbacks) from the StepMeter, the engine's
// counters, the dead-letter counts and the data channels' stats.
//
// Names (labels pipeline, worker; step and kind per step; peer per data channel):
//   buffy_step_messages_in_total, buffy_step_messages_out_total, buffy_step_batches_in_total,
//   buffy_step_dead_letters_total
//   buffy_step_latency_from_source_seconds{quantile}, buffy_step_latency_to_sink_seconds{quantile}
//     (gauges of HdrHistogram percentiles 0.5 .. 0.9999) and their _observations_total counters
//   buffy_state_messages_applied_total{step}
//   buffy_worker_messages_ingested_total, buffy_worker_messages_sunk_total,
//   buffy_worker_remote_messages_sent_total, buffy_worker_remote_messages_received_total,
//   buffy_worker_dead_letters_total, buffy_worker_backpressure_seconds_total
//   buffy_channel_queued_batches, buffy_channel_unconsumed_messages, buffy_channel_unacked_frames
//     (gauges), buffy_channel_frames_sent_total, buffy_channel_frames_resent_total,
//     buffy_channel_frames_received_total
//   with a store (exactly-once): store-meter.ts (buffy_store_commits_total, buffy_store_commit_seconds,
//     buffy_store_written_bytes_total, buffy_outbox_*, buffy_recoveries_total, buffy_last_recovery_*)
// plus prom-client's default process metrics (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChannelStats } from '../net/channel.ts';
import { registerClusterMetrics } from './cluster-metrics.ts';
import { registerStoreMetrics, storeSnapshot } from './store-meter.ts';
import type { ExactlyOnceView, MeteredStore, StoreSnapshot } from './store-meter.ts';
import type { ClusterSnapshot, ClusterView } from './cluster-metrics.ts';
import type {
  Clock,
  DeadLetter,
  DeadLetterSink,
  EngineMetrics,
  RemoteBatch,
  RemoteOutlet,
} from '../types.ts';
import { PERCENTILES, QUANTILE_LABELS, StepMeter, encodeHistogram } from './step-meter.ts';
import type { StepStats } from './step-meter.ts';

/** Wraps a dead-letter sink to count letters per step (dead letters are rare: per letter). */
export class CountingDeadLetters implements DeadLetterSink {
  constructor(
    private readonly inner: DeadLetterSink,
    readonly perStep: Map<string, number> = new Map(),
  ) {}
  write(letter: DeadLetter): void {
    // "count (key)", "words (decode)": the step is the name before the stage in parentheses.
    const step = letter.step.replace(/ \([a-z]+\)$/, '');
    this.perStep.set(step, (this.perStep.get(step) ?? 0) + 1);
    this.inner.write(letter);
  }
  get count(): number {
    return this.inner.count;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps the engine's outlet to peers: the time the engine waited on a send (credit, queue
 * bound) is its time in backpressure. Sends that do not ask to wait cost one check. */
export class TimedOutlet implements RemoteOutlet {
  private waiting = 0;
  private since = 0;
  private totalMs = 0;
  constructor(
    private readonly inner: RemoteOutlet,
    private readonly clock: Clock,
  ) {}
  send(worker: string, batch: RemoteBatch): Promise<void> | void {
    const r = this.inner.send(worker, batch);
    if (!r) return r;
    if (this.waiting++ === 0) this.since = this.clock.monotonicMs();
    const end = (): void => {
      if (--this.waiting === 0) this.totalMs += this.clock.monotonicMs() - this.since;
    };
    return r.then(end, (err: unknown) => {
      end();
      throw err;
    });
  }
  /** Seconds during which at least one send was waiting (so far, the current wait included). */
  get backpressureSeconds(): number {
    const current = this.waiting > 0 ? this.clock.monotonicMs() - this.since : 0;
    return (this.totalMs + current) / 1000;
  }
}

export interface WorkerMetricsSources {
  readonly worker: string;
  readonly meter: StepMeter;
  /** The engine's counters once it exists. */
  readonly engine: () => EngineMetrics | null;
  /** Dead letters per step (filled by CountingDeadLetters). */
  readonly deadLetters: { readonly perStep: ReadonlyMap<string, number> };
  /** The data channels to peers (absent in an embedded run). */
  readonly channels?: () => Iterable<readonly [string, ChannelStats]>;
  /** Partition i -> owning worker, once known (cluster workers). */
  readonly partitions?: () => readonly string[] | null;
  /** Seconds the worker waited on sends to peers (TimedOutlet). */
  readonly backpressureSeconds: () => number;
  /** Default process metrics (CPU, memory, event loop); default true. */
  readonly processMetrics?: boolean;
}

/** A JSON view of one worker (the dashboard reads it; histograms travel encoded, mergeable). */
export interface WorkerSnapshot {
  readonly worker: string;
  readonly pipeline: string;
  readonly timeMs: number;
  readonly pid: number;
  /** Partition i -> owning worker (null: not known, e.g. before the cluster started). */
  readonly partitions: readonly string[] | null;
  readonly steps: ReadonlyArray<{
    readonly name: string;
    readonly kind: string;
    readonly next: readonly string[];
    readonly messagesIn: number;
    readonly messagesOut: number;
    readonly deadLetters: number;
    readonly fromSource: HistogramView;
    readonly toSink: HistogramView;
  }>;
  readonly engine: EngineMetrics | null;
  readonly backpressureSeconds: number;
  readonly channels: ReadonlyArray<{ readonly peer: string } & ChannelStats>;
  /** On the initializer: its coordinator's view of the membership (absent elsewhere). */
  readonly cluster?: ClusterSnapshot;
  /** With a store (exactly-once): commits, bytes, the outbox and the last recovery. */
  readonly store?: StoreSnapshot;
}

export interface HistogramView {
  readonly count: number;
  /** Percentile (as in PERCENTILES) -> seconds. */
  readonly seconds: Readonly<Record<string, number>>;
  /** hdr-histogram-js compressed base64 (microseconds). */
  readonly hdr: string;
}

function view(h: StepStats['fromSource']): HistogramView {
  const seconds: Record<string, number> = {};
  for (const p of PERCENTILES) seconds[String(p)] = h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1e6;
  return { count: h.totalCount, seconds, hdr: encodeHistogram(h) };
}

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly pipeline: string;
  private cluster: ClusterView | null = null;
  private store: { readonly metered: MeteredStore; readonly eo: () => ExactlyOnceView | null } | null = null;

  constructor(private readonly src: WorkerMetricsSources) {
    const app = src.meter.app;
    this.pipeline = app.name;
    this.registry.setDefaultLabels({ pipeline: app.name, worker: src.worker });
    if (src.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const reg = [this.registry];
    const steps = src.meter.steps;
    const stepCounter = (name: string, help: string, value: (s: StepStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['step', 'kind'],
        registers: reg,
        collect() {
          this.reset();
          for (const s of steps) this.inc({ step: s.name, kind: s.kind }, value(s));
        },
      });
    };
    stepCounter('buffy_step_messages_in_total', 'Messages that entered the step on this worker.', (s) =>
      s.kind === 'source' ? s.messagesOut + (src.deadLetters.perStep.get(s.name) ?? 0) : s.messagesIn,
    );
    stepCounter(
      'buffy_step_messages_out_total',
      'Messages the step passed downstream on this worker.',
      (s) => s.messagesOut,
    );
    stepCounter(
      'buffy_step_batches_in_total',
      'Batches that entered the step on this worker (messages in / batches in = the mean batch size).',
      (s) => s.batchesIn,
    );
    stepCounter(
      'buffy_step_dead_letters_total',
      'Messages whose processing at the step threw (sent to the dead letters).',
      (s) => src.deadLetters.perStep.get(s.name) ?? 0,
    );
    const latency = (which: 'fromSource' | 'toSink', name: string, help: string): void => {
      new Gauge({
        name: `${name}_seconds`,
        help: `${help} Percentiles of an HdrHistogram since the worker started.`,
        labelNames: ['step', 'kind', 'quantile'],
        registers: reg,
        collect() {
          this.reset();
          for (const s of steps) {
            const h = s[which];
            if (h.totalCount === 0) continue;
            for (const p of PERCENTILES)
              this.set(
                { step: s.name, kind: s.kind, quantile: QUANTILE_LABELS[p] },
                h.getValueAtPercentile(p) / 1e6,
              );
          }
        },
      });
      stepCounter(
        `${name}_observations_total`,
        `Messages measured by ${name}_seconds.`,
        (s) => s[which].totalCount,
      );
    };
    latency(
      'fromSource',
      'buffy_step_latency_from_source',
      'Time from a message’s birth at its source to its arrival at the step.',
    );
    latency(
      'toSink',
      'buffy_step_latency_to_sink',
      'Time from a batch’s arrival at the step to its arrival at a sink on the same worker.',
    );
    new Counter({
      name: 'buffy_state_messages_applied_total',
      help: 'Messages applied to state at a state step (the update returned normally).',
      labelNames: ['step'],
      registers: reg,
      collect() {
        this.reset();
        const m = src.engine();
        if (m) for (const [step, n] of Object.entries(m.stateApplied)) this.inc({ step }, n);
      },
    });
    const engineCounter = (name: string, help: string, value: (m: EngineMetrics) => number): void => {
      new Counter({
        name,
        help,
        registers: reg,
        collect() {
          this.reset();
          const m = src.engine();
          this.inc(m ? value(m) : 0);
        },
      });
    };
    engineCounter(
      'buffy_worker_messages_ingested_total',
      'Messages read from sources by this worker.',
      (m) => m.ingested,
    );
    engineCounter(
      'buffy_worker_messages_sunk_total',
      'Messages written to sinks by this worker.',
      (m) => m.sunk,
    );
    engineCounter(
      'buffy_worker_remote_messages_sent_total',
      'Messages sent to state steps on peer workers.',
      (m) => m.remoteSent,
    );
    engineCounter(
      'buffy_worker_remote_messages_received_total',
      'Messages received from peer workers.',
      (m) => m.remoteReceived,
    );
    engineCounter(
      'buffy_worker_dead_letters_total',
      'Dead letters written by this worker.',
      (m) => m.deadLetters,
    );
    new Counter({
      name: 'buffy_worker_backpressure_seconds_total',
      help: 'Seconds during which the worker waited on a send to a peer (no credit, or the send queue full).',
      registers: reg,
      collect() {
        this.reset();
        this.inc(src.backpressureSeconds());
      },
    });
    const channels = src.channels;
    if (channels) {
      const channelMetric = (
        Kind: typeof Counter | typeof Gauge,
        name: string,
        help: string,
        value: (s: ChannelStats) => number,
      ): void => {
        const collect = function (this: Counter | Gauge): void {
          this.reset();
          for (const [peer, s] of channels()) {
            if (this instanceof Gauge) this.set({ peer }, value(s));
            else this.inc({ peer }, value(s));
          }
        };
        new Kind({ name, help, labelNames: ['peer'], registers: reg, collect });
      };
      channelMetric(
        Gauge,
        'buffy_channel_queued_batches',
        'Batches waiting to be sent to the peer.',
        (s) => s.queuedBatches,
      );
      channelMetric(
        Gauge,
        'buffy_channel_unconsumed_messages',
        'Messages received from the peer and not yet processed.',
        (s) => s.unconsumedMessages,
      );
      channelMetric(
        Gauge,
        'buffy_channel_unacked_frames',
        'Frames sent and not yet acknowledged.',
        (s) => s.unackedFrames,
      );
      channelMetric(
        Counter,
        'buffy_channel_frames_sent_total',
        'DATA frames sent (first time).',
        (s) => s.sentFrames,
      );
      channelMetric(
        Counter,
        'buffy_channel_frames_resent_total',
        'DATA frames sent again.',
        (s) => s.resentFrames,
      );
      channelMetric(
        Counter,
        'buffy_channel_frames_received_total',
        'DATA frames delivered from the peer.',
        (s) => s.receivedFrames,
      );
    }
  }

  /** On the initializer: adds the coordinator's membership metrics (cluster-metrics.ts). */
  attachCluster(view: ClusterView): void {
    if (this.cluster) throw new Error('WorkerMetrics.attachCluster: a cluster view is attached already');
    this.cluster = view;
    registerClusterMetrics(this.registry, view);
  }

  /** With a store (exactly-once): adds the commit, outbox and recovery metrics (store-meter.ts);
   * `eo` reads the engine's exactly-once numbers (null until the engine exists, or when off). */
  attachStore(metered: MeteredStore, eo: () => ExactlyOnceView | null): void {
    if (this.store) throw new Error('WorkerMetrics.attachStore: a store is attached already');
    this.store = { metered, eo };
    metered.onCommit = registerStoreMetrics(this.registry, () => metered, eo);
  }

  /** Prometheus text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  snapshot(nowMs: number): WorkerSnapshot {
    const src = this.src;
    const names = src.meter.app.nodes.map((n) => n.name);
    return {
      worker: src.worker,
      pipeline: this.pipeline,
      timeMs: nowMs,
      pid: process.pid,
      partitions: src.partitions?.() ?? null,
      steps: src.meter.steps.map((s) => ({
        name: s.name,
        kind: s.kind,
        next: src.meter.app.nodes[s.id]!.next.map((id) => names[id]!),
        messagesIn:
          s.kind === 'source' ? s.messagesOut + (src.deadLetters.perStep.get(s.name) ?? 0) : s.messagesIn,
        messagesOut: s.messagesOut,
        deadLetters: src.deadLetters.perStep.get(s.name) ?? 0,
        fromSource: view(s.fromSource),
        toSink: view(s.toSink),
      })),
      engine: src.engine(),
      backpressureSeconds: src.backpressureSeconds(),
      channels: [...(src.channels?.() ?? [])].map(([peer, s]) => ({ peer, ...s })),
      ...(this.cluster ? { cluster: this.cluster.clusterSnapshot() } : {}),
      ...this.storeView(),
    };
  }

  private storeView(): { store?: StoreSnapshot } {
    const st = this.store;
    return st ? { store: storeSnapshot(st.metered, st.eo()) } : {};
  }
}
