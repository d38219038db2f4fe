// The data side of a worker: its channels to the peers, the RemoteOutlet the engine sends
// through (a batch too large for one frame split where that keeps what it says), and the
// receive path that hands peers' batches to the engine in order. The same class runs over TCP
// (runtime/cluster/node.ts) and over the in-memory networks of the simulator and the tests.

import type { WorkerEngineImpl } from '../engine/worker.ts';
import { encodeRemoteBatch, decodeRemoteBatch } from '../engine/remote-batch.ts';
import type { Logger, RemoteBatch, RemoteOutlet, SourceRange } from '../types.ts';
import type { ChannelEndpoint } from '../net/endpoint.ts';
import type { ChannelServer } from '../net/tcp-channel.ts';
import type { DataBatch, Hello } from '../net/channel.ts';
import { countOf } from './text.ts';

/**
 * Splits a remote batch in two near its middle by message index, or returns null when it
 * cannot be split without changing what it says: an outbox entry or an acknowledgement of one
 * (`seq`, `ack`: exactly-once state -> state) is one unit, and a batch with exactly-once
 * ranges splits only between two offsets of its one source, the first part then claiming
 * (from, o] and the second (o, through] (every message of offset o in the first).
 */
export function splitRemoteBatch(b: RemoteBatch): [RemoteBatch, RemoteBatch] | null {
  const n = b.payloads.length;
  if (n < 2 || b.seq !== undefined || b.ack !== undefined) return null;
  let mid = n >>> 1;
  let ranges: [SourceRange[], SourceRange[]] | null = null;
  if (b.ranges !== undefined && b.ranges.length > 0) {
    if (b.ranges.length !== 1) return null;
    const r = b.ranges[0]!;
    for (let i = 0; i < n; i++)
      if (b.source[i] !== r.source || (i > 0 && b.offset[i]! < b.offset[i - 1]!)) return null;
    const boundary = (i: number): boolean => i >= 1 && i < n && b.offset[i - 1]! < b.offset[i]!;
    let cut = -1;
    for (let d = 0; mid - d >= 1 || mid + d < n; d++) {
      if (boundary(mid - d)) cut = mid - d;
      else if (boundary(mid + d)) cut = mid + d;
      if (cut >= 0) break;
    }
    if (cut < 0) return null;
    mid = cut;
    const o = b.offset[mid - 1]!;
    ranges = [
      [{ source: r.source, from: r.from, through: o }],
      [{ source: r.source, from: o, through: r.through }],
    ];
  }
  const part = (from: number, to: number, rs: SourceRange[] | undefined): RemoteBatch => ({
    step: b.step,
    fromWorker: b.fromWorker,
    source: b.source.slice(from, to),
    offset: b.offset.slice(from, to),
    sub: b.sub.slice(from, to),
    bornMs: b.bornMs.slice(from, to),
    partition: b.partition.slice(from, to),
    payloads: b.payloads.slice(from, to),
    ...(b.trace ? { trace: b.trace.slice(from, to) } : {}),
    ...(rs ? { ranges: rs } : b.ranges ? { ranges: b.ranges } : {}),
  });
  return [part(0, mid, ranges?.[0]), part(mid, n, ranges?.[1])];
}

/** The data side of a worker: channels to peers, the outlet the engine sends through. The same
 * class runs over TCP (startNode) and over the in-memory TestNetwork (the simulated cluster test). */
export class DataPlane implements RemoteOutlet {
  readonly channels = new Map<string, ChannelEndpoint>();
  private readonly waitingFor = new Map<string, Array<() => void>>();
  sentBatches = 0;
  processedBatches = 0;
  failedBatches = 0;
  private inflightDeliveries = 0;
  private lastBatchError: unknown = null;
  /** Told (once) when a batch from a peer is lost: the run's results would be incomplete. */
  onLoss: ((reason: string) => void) | null = null;
  private lossReported = false;
  private chains = new Map<ChannelEndpoint, Promise<void>>();
  engine: WorkerEngineImpl | null = null;
  private started: Promise<void>;
  private markStarted: () => void = () => {};
  server: ChannelServer | null = null;
  peers: ReadonlySet<string> | null = null;
  private readonly perChannel = new WeakMap<ChannelEndpoint, { sent: number; processed: number }>();

  constructor(
    private readonly name: string,
    private readonly log: Logger,
    private readonly maxBatchBytes: number,
    private readonly maxBatchMessages: number = Number.MAX_SAFE_INTEGER,
  ) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  setStarted(): void {
    this.markStarted();
  }

  get busy(): boolean {
    if (this.inflightDeliveries > 0) return true;
    for (const ch of this.channels.values()) {
      const s = ch.core.stats;
      if (s.queuedBatches > 0 || s.unconsumedMessages > 0) return true;
    }
    return false;
  }

  send(worker: string, batch: RemoteBatch): Promise<void> | void {
    const ch = this.channels.get(worker);
    if (!ch) {
      // A peer of this cluster whose channel is being replaced (it restarted) or re-established:
      // the batch waits for the new channel (the engine feels it as backpressure).
      if (this.peers?.has(worker)) return this.whenChannel(worker).then(() => this.send(worker, batch));
      throw new Error(
        `worker '${this.name}': no data channel to worker '${worker}' (peers: ${[...this.channels.keys()].join(', ') || 'none'})`,
      );
    }
    const body = encodeRemoteBatch(batch);
    if (
      (body.length > this.maxBatchBytes || batch.payloads.length > this.maxBatchMessages) &&
      batch.payloads.length > 1
    ) {
      const halves = splitRemoteBatch(batch);
      if (halves !== null) {
        const [a, b] = halves;
        const first = this.send(worker, a);
        if (first) return first.then(() => this.send(worker, b));
        return this.send(worker, b);
      }
    }
    this.sentBatches++;
    this.countsOf(ch).sent++;
    const r = ch.send(body, Math.max(1, batch.payloads.length));
    // The engine sends one batch per peer and step at a time: on the wire with no delay.
    ch.flush();
    return r;
  }

  private countsOf(ep: ChannelEndpoint): { sent: number; processed: number } {
    let c = this.perChannel.get(ep);
    if (!c) {
      c = { sent: 0, processed: 0 };
      this.perChannel.set(ep, c);
    }
    return c;
  }

  /** Batches sent to and processed from each peer on the current channel with it (a replaced
   * channel starts again at 0 on both sides). */
  pairCounters(): { sentTo: Record<string, number>; processedFrom: Record<string, number> } {
    const sentTo: Record<string, number> = {};
    const processedFrom: Record<string, number> = {};
    for (const [peer, ep] of this.channels) {
      const c = this.countsOf(ep);
      sentTo[peer] = c.sent;
      processedFrom[peer] = c.processed;
    }
    return { sentTo, processedFrom };
  }

  /**
   * The peer restarted (a new incarnation): its channel is closed for good (what it kept for the
   * old process is of no use to the new one; with exactly-once the source replays it) and
   * batches for the peer wait until the new channel is added.
   */
  replacePeer(peer: string, why: string): void {
    const ep = this.channels.get(peer);
    this.channels.delete(peer);
    if (!ep) return;
    const s = ep.core.stats;
    this.log.info(
      `worker '${this.name}': closing the data channel with worker '${peer}' (${why})${s.unackedFrames + s.queuedBatches > 0 ? `; ${countOf(s.unackedFrames + s.queuedBatches, 'batch', 'batches')} for the old process dropped` : ''}`,
    );
    ep.close(`worker '${peer}' restarted`);
  }

  /** Handler for batches arriving on a channel: decoded, then delivered in order. */
  /**
   * A batch from a peer: decoded, then handed to the engine in arrival order per channel; the
   * returned promise settles when the engine took it (that releases the channel credit). A
   * batch that cannot be decoded or processed is logged and counted in `failedBatches` (and as
   * processed, so that a shutdown still drains).
   */
  onBatch(ep: ChannelEndpoint, batch: DataBatch, from: Hello): Promise<void> {
    const where = `worker '${this.name}': batch ${batch.seq} from worker '${from.worker}'`;
    let decoded: RemoteBatch;
    try {
      decoded = decodeRemoteBatch(batch.body);
    } catch (err) {
      this.failedBatches++;
      this.processedBatches++;
      this.countsOf(ep).processed++;
      this.log.error(`${where} cannot be decoded (${(err as Error).message}); it is dropped`);
      this.reportLoss(`${where} could not be decoded: ${(err as Error).message}`);
      return Promise.resolve();
    }
    this.inflightDeliveries++;
    const prev = this.chains.get(ep) ?? this.started;
    const p = prev
      .then(() => this.engine!.deliverRemote(decoded))
      .then(
        () => {
          this.processedBatches++;
          this.countsOf(ep).processed++;
          this.inflightDeliveries--;
        },
        (err: unknown) => {
          this.failedBatches++;
          this.processedBatches++;
          this.countsOf(ep).processed++;
          this.inflightDeliveries--;
          // A failed engine refuses every batch with the same error: say it once.
          if (err === this.lastBatchError) return;
          this.lastBatchError = err;
          this.log.error(`${where} failed: ${(err as Error).message}`);
          this.reportLoss(`${where} was not applied: ${(err as Error).message}`);
        },
      );
    this.chains.set(ep, p);
    return p;
  }

  private reportLoss(reason: string): void {
    if (this.lossReported) return;
    this.lossReported = true;
    this.onLoss?.(reason);
  }

  addChannel(peer: string, ep: ChannelEndpoint): void {
    if (this.peers && !this.peers.has(peer)) {
      this.log.error(
        `worker '${this.name}': data channel from unknown worker '${peer}' (peers: ${[...this.peers].join(', ')}); closing it`,
      );
      ep.close(`worker '${peer}' is not a member of this cluster`);
      return;
    }
    const old = this.channels.get(peer);
    if (old && old !== ep) {
      this.log.error(
        `worker '${this.name}': a second data channel from worker '${peer}'; closing the new one`,
      );
      ep.close('duplicate channel');
      return;
    }
    this.channels.set(peer, ep);
    // The endpoint itself logs an error close (rejected hello, protocol error, lost connection).
    void ep.whenClosed().then(() => {
      if (this.channels.get(peer) === ep) this.channels.delete(peer);
    });
    const ws = this.waitingFor.get(peer);
    if (ws) {
      this.waitingFor.delete(peer);
      for (const w of ws) w();
    }
  }

  whenChannel(peer: string): Promise<void> {
    if (this.channels.has(peer)) return Promise.resolve();
    return new Promise((resolve) => {
      const ws = this.waitingFor.get(peer) ?? [];
      ws.push(resolve);
      this.waitingFor.set(peer, ws);
    });
  }

  async close(): Promise<void> {
    for (const ch of this.channels.values()) ch.close('worker stopping');
    await Promise.all([...this.channels.values()].map((c) => c.whenClosed()));
    await this.server?.close();
  }
}
