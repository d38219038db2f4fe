// The initializer's view of the cluster's membership in its metrics: how many workers are up,
// and counters of the membership events its coordinator saw (a worker joined, went down,
// registered again, caught up). Read at scrape time from a `ClusterView` (the coordinator, in
// runtime/cluster, implements it); the last events also travel in /metrics.json (`cluster`),
// where `buffy dashboard` shows them.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export const CLUSTER_EVENT_KINDS = ['joined', 'down', 'rejoined', 'caught_up'] as const;
export type ClusterEventKind = (typeof CLUSTER_EVENT_KINDS)[number];

export interface ClusterEvent {
  /** Numbered from 1 by the coordinator that saw it (with `incarnation`, unique). */
  readonly seq: number;
  readonly timeMs: number;
  readonly kind: ClusterEventKind;
  readonly worker: string;
  readonly text: string;
}

export interface ClusterMember {
  readonly name: string;
  readonly up: boolean;
  /** The worker's metrics address (HOST:PORT), if it serves metrics. */
  readonly metrics: string | null;
}

export interface ClusterSnapshot {
  /** Which coordinator process this is (events are numbered per coordinator). */
  readonly incarnation: string;
  readonly expected: number;
  readonly members: readonly ClusterMember[];
  /** Events since the coordinator started, per kind. */
  readonly counts: Readonly<Record<ClusterEventKind, number>>;
  /** The last events, oldest first. */
  readonly events: readonly ClusterEvent[];
}

export interface ClusterView {
  clusterSnapshot(): ClusterSnapshot;
}

/** Membership events kept for the dashboard. */
const MAX_EVENTS = 200;

/** The coordinator's membership events: counted per kind since it started, the last kept. */
export class ClusterEventLog {
  private readonly counts: Record<ClusterEventKind, number> = {
    joined: 0,
    down: 0,
    rejoined: 0,
    caught_up: 0,
  };
  private readonly events: ClusterEvent[] = [];
  private seq = 0;

  constructor(
    private readonly incarnation: string,
    private readonly nowMs: () => number,
  ) {}

  add(kind: ClusterEventKind, worker: string, text: string): void {
    this.counts[kind]++;
    this.events.push({ seq: ++this.seq, timeMs: this.nowMs(), kind, worker, text });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  snapshot(expected: number, members: readonly ClusterMember[]): ClusterSnapshot {
    return {
      incarnation: this.incarnation,
      expected,
      members,
      counts: { ...this.counts },
      events: [...this.events],
    };
  }
}

/** Registers the cluster's metrics on `registry`, read from `view` at each scrape. */
export function registerClusterMetrics(registry: Registry, view: ClusterView): void {
  new Counter({
    name: 'buffy_cluster_worker_events_total',
    help: 'Membership events the coordinator saw: a worker joined, went down (lost its control connection), registered again, caught up (exactly-once: its durable watermarks reached the cluster’s).',
    labelNames: ['event'],
    registers: [registry],
    collect() {
      this.reset();
      const c = view.clusterSnapshot().counts;
      for (const k of CLUSTER_EVENT_KINDS) this.inc({ event: k }, c[k]);
    },
  });
  new Gauge({
    name: 'buffy_cluster_workers_up',
    help: 'Workers registered with the coordinator whose control connection is up.',
    registers: [registry],
    collect() {
      this.set(view.clusterSnapshot().members.filter((m) => m.up).length);
    },
  });
  new Gauge({
    name: 'buffy_cluster_workers_expected',
    help: 'The cluster size the coordinator was started with (--workers).',
    registers: [registry],
    collect() {
      this.set(view.clusterSnapshot().expected);
    },
  });
}
