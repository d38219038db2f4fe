// The initializer's coordinator: workers register on the control address; when all N have,
// it assigns partitions round-robin (over the sorted worker names), sends the partition table
// and the peer list, waits until every worker has its data channels up and tells all to
// start. On `buffy shutdown` (or a signal, or the sources ending with stopWhenSourcesDone) it
// stops the cluster cleanly:
//   1. the workers that run sources stop them (what was read is processed and sent on);
//   2. it polls every worker's channel counters until sent = processed everywhere and
//      nothing is queued, twice in a row with the same totals (nothing in flight anywhere);
//   3. it tells every worker to stop (drain, flush sinks, close); each answers `stopped`;
//   4. it answers the shutdown requests and ends.

import net from 'node:net';
import { ControlConnection, CONTROL_PROTOCOL_VERSION } from './control.ts';
import type { ControlMessage, WorkerMetricsSummary } from './control.ts';
import { listen, formatAddress } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import { roundRobinTable } from '../engine/partition.ts';
import type { Logger } from '../types.ts';
import { LatencyHistogram, formatLatency } from './latency.ts';
import type { LatencySummary } from './latency.ts';
import { countOf } from './text.ts';

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
}

interface Member {
  readonly name: string;
  readonly data: string;
  readonly conn: ControlConnection;
  ready: boolean;
  sourcesDone: boolean;
  sourcesStopped: boolean;
  counters: { round: number; sent: number; processed: number; busy: boolean } | null;
  stopped: { metrics: WorkerMetricsSummary; finish: string | undefined } | null;
  /** What the worker reported with an `error` message, if it did (said once, not again at stop). */
  reportedError?: string;
}

type Phase = 'registering' | 'assigning' | 'running' | 'stopping-sources' | 'draining' | 'stopping' | 'done';

export interface CoordinatorResult {
  /** 0 when every worker stopped cleanly. */
  readonly exitCode: number;
  readonly workers: ReadonlyArray<{
    name: string;
    metrics: WorkerMetricsSummary | null;
    finish: string | undefined;
  }>;
  /** Source-to-sink latency over all workers (when the nodes ran with latency recording). */
  readonly latency: LatencySummary | null;
}

export class Coordinator {
  private readonly members = new Map<string, Member>();
  private phase: Phase = 'registering';
  private server: net.Server | null = null;
  private shutdownRequests: ControlConnection[] = [];
  private failed = false;
  private round = 0;
  private lastTotals: string | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private latency: LatencyHistogram | null = null;
  private resolveDone: (r: CoordinatorResult) => void = () => {};
  readonly done: Promise<CoordinatorResult>;
  address: HostPort | null = null;

  constructor(private readonly o: CoordinatorOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
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
      if (!member) return;
      if (member.stopped || this.phase === 'done') return;
      if (this.members.get(member.name) !== member) return;
      this.members.delete(member.name);
      if (this.phase === 'registering') {
        this.o.log.warn(
          `worker '${member.name}' went away before the cluster was complete (${reason}); waiting for a replacement`,
        );
        return;
      }
      this.o.log.error(
        `worker '${member.name}' lost its control connection (${reason}); the cluster cannot go on without it, stopping the others`,
      );
      // What was in flight to or from it cannot drain: stop the others at once.
      this.stopAllNow();
    });
  }

  /** A worker failed: the run exits 1; every worker is told to stop now (no drain). */
  private stopAllNow(): void {
    this.failed = true;
    if (this.phase === 'done') return;
    if (this.phase !== 'stopping') {
      this.phase = 'stopping';
      for (const m of this.members.values()) if (!m.stopped) m.conn.send({ t: 'stop' });
    }
    this.checkProgress();
  }

  private register(
    conn: ControlConnection,
    m: Extract<ControlMessage, { t: 'register' }>,
    remote: string,
  ): Member | null {
    const problem =
      m.protocolVersion !== CONTROL_PROTOCOL_VERSION
        ? `control protocol version ${m.protocolVersion}, the initializer speaks ${CONTROL_PROTOCOL_VERSION}`
        : m.cluster !== this.o.cluster
          ? `cluster '${m.cluster}' is not this cluster '${this.o.cluster}'`
          : m.app !== this.o.app
            ? `application '${m.app}' is not this cluster's application '${this.o.app}'`
            : m.workers !== this.o.workers
              ? `this worker was started with --workers ${m.workers}, the initializer with --workers ${this.o.workers}`
              : this.members.has(m.worker)
                ? `a worker named '${m.worker}' is already registered`
                : this.phase !== 'registering'
                  ? `the cluster is already complete (${countOf(this.o.workers, 'worker')})`
                  : null;
    if (problem) {
      this.o.log.error(`rejected worker '${m.worker}' from ${remote}: ${problem}`);
      conn.send({ t: 'rejected', reason: problem });
      conn.end();
      return null;
    }
    const member: Member = {
      name: m.worker,
      data: m.data,
      conn,
      ready: false,
      sourcesDone: false,
      sourcesStopped: false,
      counters: null,
      stopped: null,
    };
    this.members.set(m.worker, member);
    this.o.log.info(
      `worker '${m.worker}' registered (data ${m.data}); ${this.members.size} of ${this.o.workers}`,
    );
    if (this.members.size === this.o.workers) this.assign();
    return member;
  }

  private assign(): void {
    this.phase = 'assigning';
    const names = [...this.members.keys()].sort();
    const partitions = roundRobinTable(names, this.o.partitionCount);
    const peers = names.map((n) => ({ name: n, data: this.members.get(n)!.data }));
    for (const mem of this.members.values()) {
      mem.conn.send({
        t: 'assign',
        partitions: { partitionCount: partitions.partitionCount, owners: [...partitions.owners] },
        peers,
        runSources: [this.o.initializer],
      });
    }
  }

  private onMemberMessage(mem: Member, m: ControlMessage): void {
    switch (m.t) {
      case 'ready':
        mem.ready = true;
        if (this.phase === 'assigning' && [...this.members.values()].every((x) => x.ready)) {
          this.phase = 'running';
          for (const x of this.members.values()) x.conn.send({ t: 'start' });
          this.o.log.info(
            `cluster '${this.o.cluster}' started: ${countOf(this.members.size, 'worker')}, ${countOf(this.o.partitionCount, 'partition')}`,
          );
        }
        return;
      case 'sourcesDone':
        mem.sourcesDone = true;
        if (this.o.stopWhenSourcesDone && this.sourceRunners().every((x) => x.sourcesDone))
          this.beginShutdown('the sources have ended');
        return;
      case 'sourcesStopped':
        mem.sourcesStopped = true;
        this.checkProgress();
        return;
      case 'counters':
        if (m.round === this.round)
          mem.counters = { round: m.round, sent: m.sentBatches, processed: m.processedBatches, busy: m.busy };
        this.checkProgress();
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

  beginShutdown(reason: string): void {
    if (
      this.phase === 'stopping-sources' ||
      this.phase === 'draining' ||
      this.phase === 'stopping' ||
      this.phase === 'done'
    )
      return;
    this.o.log.info(`stopping the cluster: ${reason}`);
    if (this.phase !== 'running') {
      // Not started yet: nothing was processed; every registered worker stops at once.
      this.phase = 'stopping';
      for (const m of this.members.values()) m.conn.send({ t: 'stop' });
      this.checkProgress();
      return;
    }
    this.phase = 'stopping-sources';
    for (const m of this.sourceRunners()) m.conn.send({ t: 'stopSources' });
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
      if (!all.every((m) => m.counters !== null && m.counters.round === this.round)) return;
      let sent = 0;
      let processed = 0;
      let busy = false;
      for (const m of all) {
        sent += m.counters!.sent;
        processed += m.counters!.processed;
        busy ||= m.counters!.busy;
      }
      const totals = `${sent}/${processed}`;
      if (!busy && sent === processed && totals === this.lastTotals) {
        this.phase = 'stopping';
        this.o.log.info(
          `cluster drained (${countOf(sent, 'remote batch', 'remote batches')} sent and processed); stopping the workers`,
        );
        for (const m of all) m.conn.send({ t: 'stop' });
        return;
      }
      this.lastTotals = busy || sent !== processed ? null : totals;
      this.pollTimer = setTimeout(() => this.poll(), this.o.pollIntervalMs ?? 10);
      return;
    }
    if (this.phase === 'stopping') {
      if (!all.every((m) => m.stopped !== null)) return;
      this.finish();
    }
  }

  private poll(): void {
    this.pollTimer = null;
    if (this.phase !== 'draining') return;
    this.round++;
    for (const m of this.members.values()) m.conn.send({ t: 'poll', round: this.round });
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
    for (const m of this.members.values()) m.conn.end();
    this.server?.close();
    const latency = this.latency ? this.latency.summary() : null;
    const result: CoordinatorResult = {
      exitCode: this.failed ? 1 : 0,
      workers: names.map((n) => ({
        name: n,
        metrics: this.members.get(n)!.stopped?.metrics ?? null,
        finish: this.members.get(n)!.stopped?.finish,
      })),
      latency,
    };
    if (latency) this.o.log.info(`source-to-sink latency: ${formatLatency(latency)}`);
    this.o.log.info(
      `cluster summary: ${JSON.stringify({ exitCode: result.exitCode, workers: result.workers.map((w) => ({ name: w.name, metrics: w.metrics })), latency })}`,
    );
    this.resolveDone(result);
  }
}
