// `buffy dashboard`: polls the workers' metrics endpoints (GET /metrics.json of `--metrics`)
// once a second and serves one web page (runtime/dashboard/page.ts, no build step, no network)
// with the topology, throughput and latency per step and worker, the partition table and the
// events it observed (a worker joined, left or crashed, came back; backpressure), plus the
// state as JSON at /api/state. Cluster-wide percentiles come from merging the workers'
// HdrHistograms, not from averaging percentiles.
import http from 'node:http';
import { formatAddress, listen, parseHostPort } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import type { Clock } from '../types.ts';
import { PERCENTILES, mergeHistograms } from '../metrics/step-meter.ts';
import type { WorkerSnapshot } from '../metrics/worker-metrics.ts';
import type { ClusterEvent, ClusterSnapshot } from '../metrics/cluster-metrics.ts';
import { requestMembers } from '../cluster/control.ts';
import { DASHBOARD_PAGE } from './page.ts';

export interface DashboardOptions {
  /** The workers' metrics addresses (`buffy node --metrics`). */
  readonly targets?: readonly HostPort[];
  /** The initializer's control address: the workers and their metrics addresses are asked of
   * it at every poll (a restarted worker's new address is followed). */
  readonly control?: HostPort;
  readonly listen: HostPort;
  readonly clock: Clock;
  readonly pollMs?: number;
  readonly log?: (message: string) => void;
}

export interface StepFigures {
  readonly in: number;
  readonly out: number;
  readonly deadLetters: number;
  /** Messages per second over the last poll interval. */
  readonly inRate: number;
  readonly outRate: number;
  /** Latency from source, seconds, per percentile ("50" .. "99.99"). */
  readonly fromSource: Readonly<Record<string, number>>;
  readonly toSinkP99: number;
}

export interface DashboardEvent {
  readonly timeMs: number;
  /** joined, down, rejoined, caught_up: from the initializer's coordinator; left, back: what
   * the dashboard inferred from a metrics endpoint (only while no initializer view is known). */
  readonly kind: 'joined' | 'down' | 'rejoined' | 'caught_up' | 'left' | 'back' | 'backpressure';
  readonly worker: string;
  readonly text: string;
}

export interface DashboardState {
  readonly timeMs: number;
  readonly pipeline: string | null;
  readonly targets: ReadonlyArray<{
    readonly target: string;
    readonly worker: string | null;
    readonly up: boolean;
    readonly pid: number | null;
    readonly error: string | null;
  }>;
  readonly steps: ReadonlyArray<{
    readonly name: string;
    readonly kind: string;
    readonly next: readonly string[];
  }>;
  /** worker -> step -> figures */
  readonly perWorker: Readonly<Record<string, Readonly<Record<string, StepFigures>>>>;
  /** step -> figures over all workers seen (latency from the merged histograms). */
  readonly cluster: Readonly<Record<string, StepFigures>>;
  readonly partitions: {
    readonly owners: readonly string[] | null;
    readonly counts: Readonly<Record<string, number>>;
  };
  /** The last 120 polls: per worker, messages per second into the sinks and sink p99 from source. */
  readonly history: ReadonlyArray<{
    readonly timeMs: number;
    readonly sinkRate: Readonly<Record<string, number>>;
    readonly sinkP99: Readonly<Record<string, number>>;
  }>;
  readonly events: readonly DashboardEvent[];
  /** `--control`: what asking the initializer gave last (null: not asked, or it answered). */
  readonly controlError: string | null;
}

interface Target {
  address: HostPort;
  label: string;
  /** With --control: the worker this target is (its address may change). */
  readonly member: string | null;
  last: WorkerSnapshot | null;
  previous: WorkerSnapshot | null;
  up: boolean;
  everUp: boolean;
  error: string | null;
}

const HISTORY = 120;
const MAX_EVENTS = 200;

export class Dashboard {
  private readonly targets: Target[];
  private readonly events: DashboardEvent[] = [];
  /** Membership events already taken from an initializer (incarnation#seq). */
  private readonly seen = new Set<string>();
  /** --control: the initializer answered the last time it was asked. */
  private controlAnswered = false;
  private controlError: string | null = null;
  private readonly history: Array<DashboardState['history'][number]> = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private polling = false;

  constructor(private readonly o: DashboardOptions) {
    this.targets = (o.targets ?? []).map((address) => ({
      address,
      label: formatAddress(address),
      member: null,
      last: null,
      previous: null,
      up: false,
      everUp: false,
      error: null,
    }));
  }

  private event(kind: DashboardEvent['kind'], worker: string, text: string, timeMs?: number): void {
    this.events.push({ timeMs: timeMs ?? this.o.clock.nowMs(), kind, worker, text });
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.o.log?.(text);
  }

  /** Whether an initializer's view reports membership now (asked after a poll): then workers
   * coming and going are the initializer's events, not inferred here (the initializer itself
   * down is inferred: nothing else reports it). */
  private clusterView(): boolean {
    return this.controlAnswered || this.targets.some((x) => x.up && x.last?.cluster);
  }

  /** The initializer's membership events not taken yet (in the order it saw them). */
  private takeClusterEvents(incarnation: string, events: readonly ClusterEvent[]): void {
    for (const e of events) {
      const key = `${incarnation}#${e.seq}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.event(e.kind, e.worker, e.text, e.timeMs);
    }
  }

  /** --control: the members and their metrics addresses, from the initializer. */
  private async askControl(control: HostPort): Promise<void> {
    let answer: ClusterSnapshot;
    try {
      answer = await requestMembers(control, Math.max(500, (this.o.pollMs ?? 1000) - 100));
    } catch (err) {
      const why = (err as Error).message;
      if (this.controlError === null)
        this.o.log?.(`the initializer at ${formatAddress(control)} does not answer: ${why}`);
      this.controlError = why;
      this.controlAnswered = false;
      return;
    }
    this.controlError = null;
    this.controlAnswered = true;
    for (const m of answer.members) {
      if (m.metrics === null) continue;
      const address = parseHostPort(m.metrics, `the metrics address of worker '${m.name}'`);
      const t = this.targets.find((x) => x.member === m.name);
      if (!t) {
        this.targets.push({
          address,
          label: m.metrics,
          member: m.name,
          last: null,
          previous: null,
          up: false,
          everUp: false,
          error: null,
        });
      } else if (t.label !== m.metrics) {
        // A restarted worker serves its metrics on a new address.
        t.address = address;
        t.label = m.metrics;
      }
    }
    this.takeClusterEvents(answer.incarnation, answer.events);
  }

  /** Polls every target once. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if (this.o.control) await this.askControl(this.o.control);
      const inferred = await Promise.all(this.targets.map((t) => this.pollOne(t)));
      // Once every answer is in: a target came or went, and no initializer's view reports it.
      for (const [, kind, worker, text] of inferred.filter((x) => x !== null))
        if (!this.clusterView()) this.event(kind, worker, text);
      this.record();
    } finally {
      this.polling = false;
    }
  }

  /** Polls one target; returns the event its coming or going would be, were it inferred. */
  private async pollOne(t: Target): Promise<[Target, DashboardEvent['kind'], string, string] | null> {
    let inferred: [Target, DashboardEvent['kind'], string, string] | null = null;
    const url = `http://${t.label}/metrics.json`;
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(Math.max(500, (this.o.pollMs ?? 1000) - 100)),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const snap = (await res.json()) as WorkerSnapshot;
      t.previous = t.up ? t.last : null;
      t.last = snap;
      t.error = null;
      if (snap.cluster) this.takeClusterEvents(snap.cluster.incarnation, snap.cluster.events);
      if (!t.up)
        inferred = [
          t,
          t.everUp ? 'back' : 'joined',
          snap.worker,
          `worker ${snap.worker} ${t.everUp ? 'is back' : 'joined'} (metrics at ${t.label}, pid ${snap.pid})`,
        ];
      t.up = true;
      t.everUp = true;
      const prev = t.previous;
      if (prev) {
        const waited = snap.backpressureSeconds - prev.backpressureSeconds;
        const span = (snap.timeMs - prev.timeMs) / 1000;
        if (span > 0 && waited / span > 0.1)
          this.event(
            'backpressure',
            snap.worker,
            `backpressure on ${snap.worker}: waited ${waited.toFixed(2)} s on sends to peers in ${span.toFixed(1)} s`,
          );
      }
    } catch (err) {
      const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      t.error = `${url}: ${why}`;
      if (t.up) {
        const name = t.last?.worker ?? t.label;
        inferred = [
          t,
          'left',
          name,
          `worker ${name} left or crashed: its metrics at ${t.label} do not answer (${why})`,
        ];
      }
      t.up = false;
      t.previous = null;
    }
    return inferred;
  }

  private figures(
    snaps: ReadonlyArray<{ now: WorkerSnapshot; prev: WorkerSnapshot | null }>,
    step: string,
  ): StepFigures {
    let inN = 0;
    let outN = 0;
    let dl = 0;
    let inRate = 0;
    let outRate = 0;
    const from: string[] = [];
    const to: string[] = [];
    for (const { now, prev } of snaps) {
      const s = now.steps.find((x) => x.name === step);
      if (!s) continue;
      inN += s.messagesIn;
      outN += s.messagesOut;
      dl += s.deadLetters;
      from.push(s.fromSource.hdr);
      to.push(s.toSink.hdr);
      const p = prev?.steps.find((x) => x.name === step);
      const span = prev ? (now.timeMs - prev.timeMs) / 1000 : 0;
      if (p && span > 0) {
        inRate += (s.messagesIn - p.messagesIn) / span;
        outRate += (s.messagesOut - p.messagesOut) / span;
      }
    }
    const h = mergeHistograms(from);
    const fromSource: Record<string, number> = {};
    for (const q of PERCENTILES)
      fromSource[String(q)] = h.totalCount === 0 ? 0 : h.getValueAtPercentile(q) / 1e6;
    const t = mergeHistograms(to);
    return {
      in: inN,
      out: outN,
      deadLetters: dl,
      inRate,
      outRate,
      fromSource,
      toSinkP99: t.totalCount === 0 ? 0 : t.getValueAtPercentile(99) / 1e6,
    };
  }

  private record(): void {
    const state = this.state();
    const sinks = state.steps.filter((s) => s.kind === 'sink').map((s) => s.name);
    const sinkRate: Record<string, number> = {};
    const sinkP99: Record<string, number> = {};
    for (const [w, steps] of Object.entries(state.perWorker)) {
      sinkRate[w] = sinks.reduce((n, s) => n + (steps[s]?.inRate ?? 0), 0);
      sinkP99[w] = Math.max(0, ...sinks.map((s) => steps[s]?.fromSource['99'] ?? 0));
    }
    this.history.push({ timeMs: state.timeMs, sinkRate, sinkP99 });
    if (this.history.length > HISTORY) this.history.shift();
  }

  state(): DashboardState {
    // Workers that answered at least once; a worker that went down keeps its last figures
    // (rates 0), so the page still shows what it did.
    const up = this.targets.filter((t) => t.last !== null);
    const first = up[0]?.last ?? null;
    const steps = first ? first.steps.map((s) => ({ name: s.name, kind: s.kind, next: s.next })) : [];
    const perWorker: Record<string, Record<string, StepFigures>> = {};
    for (const t of up) {
      const fig: Record<string, StepFigures> = {};
      for (const s of steps) fig[s.name] = this.figures([{ now: t.last!, prev: t.previous }], s.name);
      perWorker[t.last!.worker] = fig;
    }
    const cluster: Record<string, StepFigures> = {};
    for (const s of steps)
      cluster[s.name] = this.figures(
        up.map((t) => ({ now: t.last!, prev: t.previous })),
        s.name,
      );
    const owners = up.map((t) => t.last!.partitions).find((p) => p !== null) ?? null;
    const counts: Record<string, number> = {};
    for (const w of owners ?? []) counts[w] = (counts[w] ?? 0) + 1;
    return {
      timeMs: this.o.clock.nowMs(),
      pipeline: first?.pipeline ?? null,
      targets: this.targets.map((t) => ({
        target: t.label,
        worker: t.last?.worker ?? null,
        up: t.up,
        pid: t.last?.pid ?? null,
        error: t.error,
      })),
      steps,
      perWorker,
      cluster,
      partitions: { owners, counts },
      history: [...this.history],
      events: [...this.events],
      controlError: this.controlError,
    };
  }

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

export interface DashboardServer {
  readonly address: HostPort;
  readonly url: string;
  readonly dashboard: Dashboard;
  close(): Promise<void>;
}

export async function startDashboard(o: DashboardOptions): Promise<DashboardServer> {
  const dashboard = new Dashboard(o);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(DASHBOARD_PAGE);
    } else if (path === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(dashboard.state()));
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`no such page ${path}; the dashboard is at /\n`);
    }
  });
  const address = await listen(server, o.listen, 'buffy dashboard --listen');
  dashboard.start();
  return {
    address,
    url: `http://${formatAddress(address)}/`,
    dashboard,
    close: () =>
      new Promise<void>((resolve) => {
        dashboard.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
