// One file past 800 lines: the coordinator is one state machine whose parts (membership rounds,
// exactly-once commits, the drain) all read and change the same member table.
//
// The initializer's coordinator: workers register on the control address; when all N have, a
// membership round (see control.ts) gives every worker the partition table (round-robin over
// the sorted names) and the peers, waits until every worker has its data channels up and tells
// all to start.
//
// Failures: a worker whose control connection drops is marked down; the others keep running
// (their channels to it retry). When it registers again under the same name (a restarted
// process: a new incarnation), another round gives it the table and peers and the peers its new
// data address; with exactly-once the source worker is told to rewind its sources to the
// committed offset + 1. The coordinator tracks that committed offset from the workers'
// `progress` (their durable watermarks): the minimum over all workers, sent to the source
// worker as `commit`. A coordinator that restarted (the initializer died) forms the cluster
// again from the workers' re-registrations.
//
// The decisions (which registration is a restart, the rewinds and their quiet period, the commit
// tracker) are coordinator-core.ts, shared with the simulator (runtime/sim/cluster.ts); this file
// is their shell: sockets, timers, the rounds' messages, the drain.
//
// On `buffy shutdown` (or a signal, or the sources ending with stopWhenSourcesDone) it stops the
// cluster cleanly:
//   1. the workers that run sources stop them (what was read is processed and sent on);
//   2. once every worker is up, it polls every worker's channel counters until, for every pair
//      of workers, the batches one sent on its current channel to the other were processed by
//      the other, nothing is queued, and (exactly-once) every worker's durable watermarks are
//      the same, twice in a row with the same figures (the outboxes are written and recorded by
//      the engines' stop, which commits everything first);
//   3. it tells every worker to stop (drain, flush sinks, close); each answers `stopped`;
//   4. it answers the shutdown requests and ends.

import net from 'node:net';
import { ControlConnection, CONTROL_PROTOCOL_VERSION } from './control.ts';
import type { ControlMessage, SourceOffsets, WorkerMetricsSummary } from './control.ts';
import { listen, formatAddress } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import { roundRobinTable } from '../engine/partition.ts';
import type { Logger } from '../types.ts';
import { LatencyHistogram, formatLatency } from './latency.ts';
import type { LatencySummary } from './latency.ts';
import { countOf } from './text.ts';
import { fromSourceOffsets, toSourceOffsets } from './control.ts';
import { CoordinatorCore } from './coordinator-core.ts';
import type { CoordinatorCommand } from './coordinator-core.ts';
import { ClusterEventLog } from '../metrics/cluster-metrics.ts';
import type { ClusterSnapshot, ClusterView } from '../metrics/cluster-metrics.ts';
import type { DeliveryRecorder } from '../sim/record.ts';

export interface CoordinatorOptions {
  readonly cluster: string;
  readonly app: string;
  readonly workers: number;
  readonly partitionCount: number;
  readonly control: HostPort;
  /** The initializer's own worker name: it runs the sources. */
  readonly initializer: string;
  readonly log: Logger;
  /** Stop the cluster once the sources have ended (used by `buffy run --workers N`). */
  readonly stopWhenSourcesDone?: boolean;
  /** Interval between quiescence polls. */
  readonly pollIntervalMs?: number;
  /** The application's number of sources (exactly-once: what a rewind covers); default 1. */
  readonly sources?: number;
  /** Milliseconds now (for down times in logs); default Date.now. */
  readonly nowMs?: () => number;
  /** Trace validation (`--protocol-log`): the commit tracker records its steps here. */
  readonly recorder?: DeliveryRecorder;
}

interface Member {
  readonly name: string;
  data: string;
  incarnation: string;
  /** Its metrics address (HOST:PORT), if it serves metrics. */
  metrics: string | null;
  /** null while the worker is down. */
  conn: ControlConnection | null;
  /** Told `start` since it registered (a running worker ignores another one). */
  started: boolean;
  sourcesDone: boolean;
  sourcesStopped: boolean;
  counters: Counters | null;
  stopped: { metrics: WorkerMetricsSummary | null; finish: string | undefined } | null;
  /** What the worker reported with an `error` message, if it did (said once, not again at stop). */
  reportedError?: string;
  exactlyOnce: boolean;
  /** Exactly-once: the durable watermarks it reported last (they stay valid while it is down). */
  durable: SourceOffsets | null;
  downSinceMs: number | null;
  /** How many times it registered again after being down. */
  rejoins: number;
  /** Exactly-once, a worker that registered with nothing durable while others had: what it must
   * reach to have caught up (the highest durable watermarks then), and since when. */
  catchUp: { target: SourceOffsets; sinceMs: number } | null;
}

interface Counters {
  readonly round: number;
  readonly sent: number;
  readonly processed: number;
  readonly busy: boolean;
  readonly sentTo: Readonly<Record<string, number>> | undefined;
  readonly processedFrom: Readonly<Record<string, number>> | undefined;
  readonly durable: SourceOffsets | undefined;
}

type Phase = 'registering' | 'running' | 'stopping-sources' | 'draining' | 'stopping' | 'done';

interface Round {
  readonly epoch: number;
  stage: 'assign' | 'connect';
  /** Workers whose answer (assigned, then ready) is still awaited. */
  readonly pending: Set<string>;
}

export interface CoordinatorResult {
  /** 0 when every worker stopped cleanly. */
  readonly exitCode: number;
  readonly workers: ReadonlyArray<{
    name: string;
    metrics: WorkerMetricsSummary | null;
    finish: string | undefined;
    /** Times the worker registered again after being down. */
    rejoins: number;
  }>;
  /** Source-to-sink latency over all workers (when the nodes ran with latency recording). */
  readonly latency: LatencySummary | null;
}

export class Coordinator implements ClusterView {
  private readonly members = new Map<string, Member>();
  private phase: Phase = 'registering';
  /** The first round completed: the member set is fixed, the workers run. */
  private clusterStarted = false;
  private server: net.Server | null = null;
  private shutdownRequests: ControlConnection[] = [];
  private failed = false;
  private epoch = 0;
  private roundState: Round | null = null;
  private pollRound = 0;
  private lastTotals: string | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private latency: LatencyHistogram | null = null;
  /** The decisions (coordinator-core.ts): registrations, rewinds, the commit tracker (formed
   * once every worker has registered) and what was last sent to the source worker as committed. */
  private readonly core: CoordinatorCore;
  private waitingNoted: string | null = null;
  /** The shutdown stopped the sources (rather than their input ending). */
  private sourcesStoppedByRequest = false;
  private resolveDone: (r: CoordinatorResult) => void = () => {};
  readonly done: Promise<CoordinatorResult>;
  address: HostPort | null = null;
  private readonly nowMs: () => number;
  /** Membership events: counted (buffy_cluster_worker_events_total), kept for the dashboard. */
  private readonly events: ClusterEventLog;

  constructor(private readonly o: CoordinatorOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.nowMs = o.nowMs ?? (() => Date.now());
    this.core = new CoordinatorCore({
      sources: o.sources ?? 1,
      nowMs: this.nowMs,
      where: `the coordinator of cluster '${o.cluster}'`,
      ...(o.recorder ? { recorder: o.recorder } : {}),
    });
    this.events = new ClusterEventLog(`${o.initializer}:${process.pid}:${this.nowMs()}`, this.nowMs);
  }

  /** The membership as the initializer's metrics and `buffy dashboard --control` see it. */
  clusterSnapshot(): ClusterSnapshot {
    const members = [...this.members.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((m) => ({ name: m.name, up: m.conn !== null, metrics: m.metrics }));
    return this.events.snapshot(this.o.workers, members);
  }

  async listen(): Promise<HostPort> {
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    this.address = await listen(server, this.o.control, `--control`);
    this.o.log.info(
      `control listening on ${formatAddress(this.address)}; waiting for ${countOf(this.o.workers, 'worker')} of cluster '${this.o.cluster}'`,
    );
    return this.address;
  }

  private accept(socket: net.Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn = new ControlConnection(socket, `from ${remote}`, (m) => this.o.log.error(m));
    let member: Member | null = null;
    conn.onMessage((m) => {
      if (member) return this.onMemberMessage(member, m);
      if (m.t === 'register') {
        member = this.register(conn, m, remote);
        return;
      }
      if (m.t === 'members') {
        const v = this.clusterSnapshot();
        conn.send({
          t: 'membersAre',
          cluster: this.o.cluster,
          ...v,
          members: [...v.members],
          events: v.events.slice(-1000),
        });
        return;
      }
      if (m.t === 'shutdown') {
        this.shutdownRequests.push(conn);
        this.beginShutdown(`${m.reason} (from ${remote})`);
        return;
      }
      this.o.log.error(
        `control connection from ${remote}: expected register or shutdown, got '${m.t}'; closing it`,
      );
      conn.send({ t: 'error', reason: `expected register or shutdown, got '${m.t}'` });
      conn.end();
    });
    conn.onClose((reason) => {
      if (member) this.onMemberClosed(member, conn, reason);
    });
  }

  private up(): Member[] {
    return [...this.members.values()].filter((m) => m.conn !== null);
  }

  private onMemberClosed(member: Member, conn: ControlConnection, reason: string): void {
    if (member.conn !== conn) return; // an earlier incarnation's connection
    if (member.stopped || this.phase === 'done') return;
    if (!this.clusterStarted && this.phase === 'registering') {
      this.members.delete(member.name);
      this.core.forget(member.name);
      this.events.add(
        'down',
        member.name,
        `worker ${member.name} went away before the cluster was complete (${reason})`,
      );
      this.o.log.warn(
        `worker '${member.name}' went away before the cluster was complete (${reason}); waiting for a replacement`,
      );
      this.roundState = null; // the cluster is not complete any more
      return;
    }
    member.conn = null;
    member.counters = null;
    if (this.phase === 'stopping' || !this.clusterStarted) {
      // Told to stop (or stopping before it ever ran): it will not answer now.
      this.failed = true;
      member.stopped = { metrics: null, finish: undefined };
      this.o.log.error(
        `worker '${member.name}' lost its control connection while the cluster was stopping (${reason}); the run exits 1`,
      );
      this.checkProgress();
      return;
    }
    member.downSinceMs = this.nowMs();
    this.events.add('down', member.name, `worker ${member.name} is down (its control connection: ${reason})`);
    this.o.log.warn(
      `worker '${member.name}' is down (its control connection: ${reason}); the others keep running; waiting for it to register again`,
    );
    // Peers may be waiting for a channel to it in the current round: a new one supersedes it.
    if (this.roundState) this.startRound(`worker '${member.name}' went down during a round`);
    this.checkProgress();
  }

  /** A worker failed: the run exits 1; every worker is told to stop now (no drain). */
  private stopAllNow(): void {
    this.failed = true;
    if (this.phase === 'done') return;
    if (this.phase !== 'stopping') {
      this.phase = 'stopping';
      this.markDownAsStopped();
      for (const m of this.up()) if (!m.stopped) m.conn!.send({ t: 'stop' });
    }
    this.checkProgress();
  }

  /** Stopping: a worker that is down will not answer `stop`; it counts as a failure. */
  private markDownAsStopped(): void {
    for (const m of this.members.values()) {
      if (m.conn === null && !m.stopped) {
        this.failed = true;
        m.stopped = { metrics: null, finish: undefined };
        this.o.log.error(`worker '${m.name}' is down while the cluster stops; the run exits 1`);
      }
    }
  }

  private register(
    conn: ControlConnection,
    m: Extract<ControlMessage, { t: 'register' }>,
    remote: string,
  ): Member | null {
    const existing = this.members.get(m.worker);
    const problem =
      m.protocolVersion !== CONTROL_PROTOCOL_VERSION
        ? `control protocol version ${m.protocolVersion}, the initializer speaks ${CONTROL_PROTOCOL_VERSION}`
        : m.cluster !== this.o.cluster
          ? `cluster '${m.cluster}' is not this cluster '${this.o.cluster}'`
          : m.app !== this.o.app
            ? `application '${m.app}' is not this cluster's application '${this.o.app}'`
            : m.workers !== this.o.workers
              ? `this worker was started with --workers ${m.workers}, the initializer with --workers ${this.o.workers}`
              : existing && existing.conn !== null
                ? `a worker named '${m.worker}' is already registered`
                : existing && (this.phase === 'stopping' || this.phase === 'done')
                  ? `the cluster is stopping`
                  : !existing && this.members.size >= this.o.workers
                    ? `the cluster is already complete (${countOf(this.o.workers, 'worker')})`
                    : null;
    if (problem) {
      this.o.log.error(`rejected worker '${m.worker}' from ${remote}: ${problem}`);
      conn.send({ t: 'rejected', reason: problem });
      conn.end();
      return null;
    }
    const incarnation = m.incarnation ?? `${remote}#${this.epoch}`;
    if (existing) {
      // A worker that was down registers again (a restarted process, or one that lost its
      // control connection only).
      const downMs = existing.downSinceMs === null ? 0 : this.nowMs() - existing.downSinceMs;
      const restarted = this.core.register(m.worker, incarnation) === 'restarted';
      existing.conn = conn;
      existing.data = m.data;
      existing.metrics = m.metrics ?? null;
      existing.incarnation = incarnation;
      existing.started = !restarted && existing.started;
      existing.counters = null;
      existing.downSinceMs = null;
      existing.exactlyOnce = m.exactlyOnce ?? false;
      if (m.durable) existing.durable = m.durable;
      existing.rejoins++;
      existing.catchUp = m.durable ? null : this.catchUpTarget(existing);
      this.o.log.info(
        `worker '${m.worker}' registered again (${restarted ? 'a restarted process' : 'the same process'}, data ${m.data}) after ${(downMs / 1000).toFixed(1)} s down`,
      );
      this.events.add(
        'rejoined',
        m.worker,
        `worker ${m.worker} rejoined (${restarted ? 'a restarted process' : 'the same process'}${m.metrics ? `, metrics at ${m.metrics}` : ''}) after ${(downMs / 1000).toFixed(1)} s down`,
      );
      // Exactly-once: a store behind what the cluster committed lost acknowledged data (a power
      // loss with durability batch or none, or a store restored from an older copy). Nothing
      // can bring it back (the sources resume after the committed offset): stop, and say why.
      const committed = toSourceOffsets(this.core.announced());
      const behind = Object.entries(m.durable ?? {}).filter(([s, v]) => v < (committed[s] ?? -1));
      if (behind.length > 0) {
        this.o.log.error(
          `worker '${m.worker}' registered with a store behind what the cluster committed (${behind.map(([s, v]) => `source ${s}: store ${v}, committed ${committed[s]}`).join('; ')}): acknowledged data is lost, as durability batch or none allows after a power loss; the cluster stops (exit 1). Restore that worker's store, or start the application again with fresh stores (--durability sync survives power loss)`,
        );
        this.stopAllNow();
        return existing;
      }
      if (m.durable && this.core.formed) this.feedTracker(existing, m.durable);
      this.startRound(`worker '${m.worker}' is back`);
      return existing;
    }
    const member: Member = {
      name: m.worker,
      data: m.data,
      incarnation,
      metrics: m.metrics ?? null,
      conn,
      started: false,
      sourcesDone: false,
      sourcesStopped: false,
      counters: null,
      stopped: null,
      exactlyOnce: m.exactlyOnce ?? false,
      durable: m.durable ?? null,
      downSinceMs: null,
      rejoins: 0,
      catchUp: null,
    };
    member.catchUp = m.durable ? null : this.catchUpTarget(member);
    this.core.register(m.worker, incarnation);
    this.members.set(m.worker, member);
    this.events.add(
      'joined',
      m.worker,
      `worker ${m.worker} joined (${this.members.size} of ${this.o.workers}${m.metrics ? `, metrics at ${m.metrics}` : ''})`,
    );
    this.o.log.info(
      `worker '${m.worker}' registered (data ${m.data}); ${this.members.size} of ${this.o.workers}`,
    );
    if (this.members.size === this.o.workers) this.startRound('the cluster is complete');
    return member;
  }

  /** A membership round: assign to every worker that is up, then connect, then start. */
  private startRound(why: string): void {
    if (this.phase === 'stopping' || this.phase === 'done') return;
    this.epoch++;
    this.lastTotals = null;
    const names = [...this.members.keys()].sort();
    const partitions = roundRobinTable(names, this.o.partitionCount);
    const peers = names.map((n) => {
      const mem = this.members.get(n)!;
      return { name: n, data: mem.data, incarnation: mem.incarnation, up: mem.conn !== null };
    });
    const up = this.up();
    // A cluster formed again (the initializer restarted): the workers that come with nothing
    // durable catch up with those that kept running.
    if (!this.clusterStarted)
      for (const m of up) if (m.durable === null && m.catchUp === null) m.catchUp = this.catchUpTarget(m);
    this.roundState = { epoch: this.epoch, stage: 'assign', pending: new Set(up.map((m) => m.name)) };
    if (this.epoch > 1)
      this.o.log.info(
        `membership round ${this.epoch} (${why}): ${up.map((m) => m.name).join(', ')} up${up.length < names.length ? `, ${names.filter((n) => this.members.get(n)!.conn === null).join(', ')} down` : ''}`,
      );
    for (const mem of up) {
      mem.conn!.send({
        t: 'assign',
        epoch: this.epoch,
        partitions: { partitionCount: partitions.partitionCount, owners: [...partitions.owners] },
        peers,
        runSources: [this.o.initializer],
      });
    }
  }

  private onRoundAnswer(mem: Member, stage: 'assign' | 'connect', epoch: number | undefined): void {
    const r = this.roundState;
    if (!r || r.stage !== stage || (epoch !== undefined && epoch !== r.epoch)) return;
    r.pending.delete(mem.name);
    for (const n of r.pending) if (this.members.get(n)?.conn === null) r.pending.delete(n);
    if (r.pending.size > 0) return;
    if (r.stage === 'assign') {
      r.stage = 'connect';
      const up = this.up();
      for (const m of up) r.pending.add(m.name);
      for (const m of up) m.conn!.send({ t: 'connect', epoch: r.epoch });
      return;
    }
    this.roundState = null;
    this.roundDone();
  }

  private roundDone(): void {
    const up = this.up();
    if (!this.clusterStarted) {
      this.clusterStarted = true;
      if (this.phase === 'registering') this.phase = 'running';
      for (const x of up) {
        x.started = true;
        x.conn!.send({ t: 'start' });
      }
      this.o.log.info(
        `cluster '${this.o.cluster}' started: ${countOf(this.members.size, 'worker')}, ${countOf(this.o.partitionCount, 'partition')}`,
      );
    } else {
      const back = up.filter((x) => !x.started);
      for (const x of up) {
        if (x.started) continue;
        x.started = true;
        x.conn!.send({ t: 'start' });
      }
      const down = [...this.members.values()].filter((m) => m.conn === null).map((m) => m.name);
      this.o.log.info(
        `cluster '${this.o.cluster}' running again${back.length > 0 ? ` with ${back.map((b) => `'${b.name}'`).join(', ')} back` : ''}${down.length > 0 ? `; still down: ${down.join(', ')}` : ''}`,
      );
    }
    // Exactly-once: the committed offsets go to the source worker again after every round, not
    // only when they advance (a source worker that restarted after the last advance would
    // otherwise never hear them: its store and a TCP sender would stay behind). Idempotent.
    const committed = this.core.announced();
    if (this.exactlyOnce() && Object.keys(committed).length > 0) {
      for (const r of this.sourceRunners())
        r.conn?.send({ t: 'commit', committed: toSourceOffsets(committed) });
    }
    // Restarted members: every source again from the tracker's rewind points.
    if (this.core.restartsPending() && this.exactlyOnce()) this.commitTracker();
    const cmds = this.core.roundDone({
      isUp: (n) => (this.members.get(n)?.conn ?? null) !== null,
      exactlyOnce: this.exactlyOnce(),
      sourcesStopped: this.sourcesStoppedByRequest,
    });
    if (this.carryOut(cmds)) return;
    // Draining: polls of an earlier membership are void; poll everyone again.
    if (this.phase === 'draining' && this.pollTimer === null) this.poll();
    else this.checkProgress();
  }

  private exactlyOnce(): boolean {
    return [...this.members.values()].some((m) => m.exactlyOnce);
  }

  /** Carries out the core's commands; whether the cluster is stopping now because of one. */
  private carryOut(cmds: readonly CoordinatorCommand[]): boolean {
    for (const c of cmds) {
      switch (c.t) {
        case 'rewind':
          this.rewind(toSourceOffsets(c.to), c.why);
          break;
        case 'committed':
          for (const r of this.sourceRunners())
            r.conn?.send({ t: 'commit', committed: toSourceOffsets(c.committed) });
          break;
        case 'error':
          this.o.log.error(c.message);
          break;
        case 'cannotReplay': {
          const who = c.workers;
          // The sources were stopped for the shutdown: they cannot replay for the restarted
          // worker, and the drain would wait for it for good. The stores keep everything
          // committed: the same command started again goes on from there.
          this.o.log.error(
            `worker${who.length > 1 ? 's' : ''} ${who.map((w) => `'${w}'`).join(', ')} restarted after the sources were stopped for the shutdown: the source cannot replay for ${who.length > 1 ? 'them' : 'it'}, so the cluster stops now (exit 1); the stores keep what was committed, and starting the cluster again goes on from there`,
          );
          this.stopAllNow();
          return true;
        }
      }
    }
    return false;
  }

  /** Tells the source worker to re-read from `to` (source index -> offset). */
  private rewind(to: SourceOffsets, why: string): void {
    const runners = this.sourceRunners().filter((m) => m.conn !== null);
    if (runners.length === 0 || Object.keys(to).length === 0) return; // a source worker that comes back resumes from its store
    this.o.log.info(
      `asking the source worker to rewind (${why}): ${Object.entries(to)
        .map(([s, o]) => `source ${s} from offset ${o}`)
        .join(', ')}`,
    );
    for (const r of runners) r.conn!.send({ t: 'rewind', to });
  }

  /** Forms the core's tracker once every worker has registered (fed what was reported before);
   * whether it is formed. */
  private commitTracker(): boolean {
    if (this.core.formed || this.members.size < this.o.workers) return this.core.formed;
    this.core.formTracker(this.participants());
    for (const m of this.members.values()) if (m.durable) this.feedTracker(m, m.durable);
    return true;
  }

  /** The workers that take part in the sources: the source worker and the partition owners (a
   * worker that owns no partition, with more workers than partitions, sees no source). */
  private participants(): string[] {
    const names = [...this.members.keys()].sort();
    const owners = new Set(roundRobinTable(names, this.o.partitionCount).owners);
    return names.filter((n) => n === this.o.initializer || owners.has(n));
  }

  /**
   * One report into the tracker (the core: every durable watermark reported is a lower bound of
   * what the sources read, which is known only in the source worker's engine); a higher
   * committed offset goes to the source worker.
   */
  private feedTracker(mem: Member, durable: SourceOffsets): void {
    let cmds: CoordinatorCommand[];
    try {
      cmds = this.core.report(mem.name, fromSourceOffsets(durable));
    } catch (err) {
      this.o.log.error(
        `exactly-once: the progress report of worker '${mem.name}' (${JSON.stringify(durable)}) was refused: ${(err as Error).message}; the committed offsets do not advance on it`,
      );
      return;
    }
    this.carryOut(cmds);
  }

  /** The highest durable watermarks of the other workers, if any has some (exactly-once). */
  private catchUpTarget(mem: Member): { target: SourceOffsets; sinceMs: number } | null {
    const target: SourceOffsets = {};
    for (const m of this.members.values()) {
      if (m === mem || !m.durable) continue;
      for (const [s, v] of Object.entries(m.durable)) target[s] = Math.max(target[s] ?? -1, v);
    }
    return Object.keys(target).length > 0 ? { target, sinceMs: this.nowMs() } : null;
  }

  /** Exactly-once: a worker's new durable watermarks; a higher committed offset goes to the source worker. */
  private onProgress(mem: Member, durable: SourceOffsets): void {
    mem.durable = durable;
    const c = mem.catchUp;
    if (c && Object.entries(c.target).every(([s, v]) => (durable[s] ?? -1) >= v)) {
      mem.catchUp = null;
      this.events.add(
        'caught_up',
        mem.name,
        `worker ${mem.name} caught up: its durable watermarks reach the cluster's, ${((this.nowMs() - c.sinceMs) / 1000).toFixed(2)} s after it registered`,
      );
      this.o.log.info(
        `worker '${mem.name}' caught up: its durable watermarks reach ${JSON.stringify(c.target)}, the highest of the cluster when it registered, ${((this.nowMs() - c.sinceMs) / 1000).toFixed(2)} s after it registered`,
      );
    }
    if (this.commitTracker()) this.feedTracker(mem, durable);
  }

  private onGap(mem: Member, source: number, offset: number): void {
    const c = this.core.gap(mem.name, source, offset);
    if (c) this.carryOut([c]);
  }

  private onMemberMessage(mem: Member, m: ControlMessage): void {
    switch (m.t) {
      case 'assigned':
        this.onRoundAnswer(mem, 'assign', m.epoch);
        return;
      case 'ready':
        this.onRoundAnswer(mem, 'connect', m.epoch);
        return;
      case 'sourcesDone':
        mem.sourcesDone = true;
        if (this.o.stopWhenSourcesDone && this.sourceRunners().every((x) => x.sourcesDone))
          this.beginShutdown('the sources have ended', true);
        return;
      case 'sourcesStopped':
        mem.sourcesStopped = true;
        this.checkProgress();
        return;
      case 'counters':
        if (m.round === this.pollRound)
          mem.counters = {
            round: m.round,
            sent: m.sentBatches,
            processed: m.processedBatches,
            busy: m.busy,
            sentTo: m.sentTo,
            processedFrom: m.processedFrom,
            durable: m.durable,
          };
        if (m.durable) this.onProgress(mem, m.durable);
        this.checkProgress();
        return;
      case 'progress':
        this.onProgress(mem, m.durable);
        return;
      case 'gap':
        this.onGap(mem, m.source, m.offset);
        return;
      case 'stopped':
        mem.stopped = { metrics: m.metrics, finish: m.finish };
        if (m.error !== undefined) {
          this.failed = true;
          // The failure the worker reported already (its stop rejects with the same error).
          if (!mem.reportedError?.includes(m.error))
            this.o.log.error(`worker '${mem.name}' stopped with an error: ${m.error}`);
        }
        if (m.latency) {
          this.latency ??= new LatencyHistogram();
          this.latency.merge(m.latency);
        }
        this.o.log.info(
          `worker '${mem.name}' stopped: ingested ${m.metrics.ingested}, sunk ${m.metrics.sunk}, remote sent ${m.metrics.remoteSent}, received ${m.metrics.remoteReceived}`,
        );
        this.checkProgress();
        return;
      case 'shutdown':
        this.beginShutdown(`${m.reason} (from worker '${mem.name}')`);
        return;
      case 'error':
        // A worker that cannot join, start or go on: the cluster's results would be incomplete.
        mem.reportedError = m.reason;
        // Reasons usually name the worker already ("worker 'w2' failed: ...").
        this.o.log.error(
          `${m.reason.startsWith(`worker '${mem.name}'`) ? '' : `worker '${mem.name}': `}${m.reason}; stopping the cluster`,
        );
        this.stopAllNow();
        return;
      default:
        this.o.log.warn(`worker '${mem.name}' sent an unexpected '${m.t}' message; ignored`);
    }
  }

  private sourceRunners(): Member[] {
    return [...this.members.values()].filter((m) => m.name === this.o.initializer);
  }

  /**
   * Stops the cluster. `sourcesEnded`: the sources have read all their input (and what they read
   * was processed), so they are not stopped: a worker that restarts while the cluster drains
   * can still be given the source's replay (a stopped source cannot run again).
   */
  beginShutdown(reason: string, sourcesEnded = false): void {
    if (
      this.phase === 'stopping-sources' ||
      this.phase === 'draining' ||
      this.phase === 'stopping' ||
      this.phase === 'done'
    )
      return;
    this.o.log.info(`stopping the cluster: ${reason}`);
    if (!this.clusterStarted) {
      // Not started yet: nothing was processed; every registered worker stops at once.
      this.phase = 'stopping';
      this.roundState = null;
      for (const m of this.up()) m.conn!.send({ t: 'stop' });
      this.checkProgress();
      return;
    }
    if (sourcesEnded) {
      this.phase = 'draining';
      this.poll();
      return;
    }
    this.sourcesStoppedByRequest = true;
    this.phase = 'stopping-sources';
    for (const m of this.sourceRunners()) m.conn?.send({ t: 'stopSources' });
    this.checkProgress();
  }

  private checkProgress(): void {
    const all = [...this.members.values()];
    if (this.phase === 'stopping-sources') {
      if (this.sourceRunners().every((m) => m.sourcesStopped)) {
        this.phase = 'draining';
        this.poll();
      }
      return;
    }
    if (this.phase === 'draining') {
      const down = all.filter((m) => m.conn === null).map((m) => m.name);
      if (down.length > 0 || this.roundState) {
        const note =
          down.length > 0
            ? `worker${down.length > 1 ? 's' : ''} ${down.join(', ')} to come back`
            : 'the membership round';
        if (this.waitingNoted !== note) {
          this.waitingNoted = note;
          this.o.log.info(`draining waits for ${note}`);
        }
        return;
      }
      this.waitingNoted = null;
      if (this.pollTimer !== null) return;
      if (!all.every((m) => m.counters !== null && m.counters.round === this.pollRound)) return;
      const verdict = this.drained(all);
      if (verdict.drained && verdict.totals === this.lastTotals) {
        this.phase = 'stopping';
        this.o.log.info(
          `cluster drained (${countOf(verdict.sent, 'remote batch', 'remote batches')} sent and processed${verdict.marks ? `; durable watermarks ${verdict.marks} on every worker` : ''}); stopping the workers`,
        );
        for (const m of all) m.conn!.send({ t: 'stop' });
        return;
      }
      this.lastTotals = verdict.drained ? verdict.totals : null;
      this.pollTimer = setTimeout(() => this.poll(), this.o.pollIntervalMs ?? 10);
      return;
    }
    if (this.phase === 'stopping') {
      if (!all.every((m) => m.stopped !== null)) return;
      this.finish();
    }
  }

  /** Whether the polled figures say nothing is in flight anywhere (and, with exactly-once,
   * everything is durable everywhere). */
  private drained(all: readonly Member[]): {
    drained: boolean;
    totals: string;
    sent: number;
    marks: string | null;
  } {
    let sent = 0;
    let processed = 0;
    let busy = false;
    for (const m of all) {
      sent += m.counters!.sent;
      processed += m.counters!.processed;
      busy ||= m.counters!.busy;
    }
    // Per pair on the current channels (a restarted worker's counters start again at 0 on both
    // sides of its new channels); workers that do not report pairs: the totals.
    let balanced = sent === processed;
    const pairs: string[] = [];
    if (all.every((m) => m.counters!.sentTo !== undefined && m.counters!.processedFrom !== undefined)) {
      balanced = true;
      for (const a of all) {
        for (const b of all) {
          if (a === b) continue;
          const s = a.counters!.sentTo![b.name] ?? 0;
          const p = b.counters!.processedFrom![a.name] ?? 0;
          if (s !== p) balanced = false;
          pairs.push(`${s}/${p}`);
        }
      }
    }
    let marks: string | null = null;
    let durableOk = true;
    if (this.exactlyOnce()) {
      const taking = new Set(this.participants());
      const texts = all
        .filter((m) => taking.has(m.name))
        .map((m) => JSON.stringify(sortedOffsets(m.counters!.durable ?? m.durable ?? {})));
      marks = texts[0] ?? '{}';
      durableOk = texts.every((t) => t === marks);
    }
    return {
      drained: !busy && balanced && durableOk,
      totals: `${sent}/${processed} ${pairs.join(',')} ${marks ?? ''}`,
      sent,
      marks,
    };
  }

  private poll(): void {
    this.pollTimer = null;
    if (this.phase !== 'draining') return;
    if (this.roundState || this.up().length < this.members.size) return this.checkProgress();
    this.pollRound++;
    for (const m of this.up()) m.conn!.send({ t: 'poll', round: this.pollRound });
    this.checkProgress();
  }

  private finish(): void {
    this.phase = 'done';
    if (this.pollTimer) clearTimeout(this.pollTimer);
    const names = [...this.members.keys()].sort();
    for (const c of this.shutdownRequests) {
      c.send({ t: 'shutdownDone', workers: names });
      c.end();
    }
    for (const m of this.members.values()) m.conn?.end();
    this.server?.close();
    const latency = this.latency ? this.latency.summary() : null;
    const result: CoordinatorResult = {
      exitCode: this.failed ? 1 : 0,
      workers: names.map((n) => {
        const m = this.members.get(n)!;
        return {
          name: n,
          metrics: m.stopped?.metrics ?? null,
          finish: m.stopped?.finish,
          rejoins: m.rejoins,
        };
      }),
      latency,
    };
    if (latency) this.o.log.info(`source-to-sink latency: ${formatLatency(latency)}`);
    this.o.log.info(
      `cluster summary: ${JSON.stringify({ exitCode: result.exitCode, workers: result.workers.map((w) => ({ name: w.name, metrics: w.metrics, rejoins: w.rejoins })), latency })}`,
    );
    this.resolveDone(result);
  }
}

function sortedOffsets(r: SourceOffsets): Array<[string, number]> {
  return Object.entries(r).sort(([a], [b]) => Number(a) - Number(b));
}
