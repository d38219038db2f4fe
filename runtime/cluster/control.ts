// The control protocol between `buffy node` processes, the initializer and `buffy shutdown`:
// JSON messages, one per length-prefixed frame, validated with zod on arrival. Control traffic
// is a handful of messages per run; the data path never goes through here.
//
// worker -> initializer: register, assigned, ready, sourcesDone, sourcesStopped, counters,
//   stopped, shutdown, error, progress (durable watermarks), gap (asks for a rewind)
// initializer -> worker: rejected, assign, connect, start, stopSources, poll, stop,
//   rewind and commit (to the source worker)
// `buffy shutdown` -> initializer: shutdown;  initializer -> it: shutdownDone | error
// `buffy dashboard --control` -> initializer: members (any number of times on one connection);
//   initializer -> it: membersAre (workers, their metrics addresses, membership events)
//
// Membership rounds: `assign` (epoch, partition table, peers with their incarnations) goes to
// every worker that is up; each closes its channels to peers whose incarnation changed and
// answers `assigned`; once all have, `connect` goes to all: each dials the peers that sort after
// it and answers `ready` when it has a channel to every peer that is up; then `start` (a worker
// already running ignores it). A round is run to form the cluster, when a worker registers
// again (restarted), and when a worker goes down during a round (a later round supersedes it).

import net from 'node:net';
import { z } from 'zod';
import { FrameDecoder, encodeFrame } from '../net/framing.ts';
import { connectSocket } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';

export const CONTROL_PROTOCOL_VERSION = 1;
/** Control messages are small; anything above this is not from a Buffy node. */
export const CONTROL_MAX_FRAME_BYTES = 4 * 1024 * 1024;

const name = z.string().min(1).max(200);
const address = z.string().regex(/^(\[[^\]]+\]|[^:[\]]+):\d{1,5}$/, 'must be HOST:PORT');

/** Per source (its index in the application, as a JSON key): an offset. */
const offsets = z.record(z.string().regex(/^\d+$/), z.number().int().min(-1));
/** Per peer worker: a count on the current channel with that peer. */
const perPeer = z.record(name, z.number().int().nonnegative());
const epoch = z.number().int().nonnegative();
/** A process of a worker: a restarted worker registers with a new one. */
const incarnation = z.string().min(1).max(100);

const metrics = z.object({
  ingested: z.number(),
  sunk: z.number(),
  deadLetters: z.number(),
  remoteSent: z.number(),
  remoteReceived: z.number(),
});

export const controlMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('register'),
    protocolVersion: z.number().int(),
    cluster: name,
    app: name,
    worker: name,
    data: address,
    /** The cluster size this worker was started with (--workers). */
    workers: z.number().int().min(1),
    /** This worker process (absent: one made up by the coordinator). */
    incarnation: incarnation.optional(),
    /** Exactly-once: the worker's durable watermarks (it has a store). */
    durable: offsets.optional(),
    /** Set when the worker runs with exactly-once (a store). */
    exactlyOnce: z.boolean().optional(),
    /** Where the worker serves its metrics (buffy node --metrics), if it does. */
    metrics: address.optional(),
  }),
  z.object({ t: z.literal('assigned'), epoch }),
  z.object({ t: z.literal('ready'), epoch: epoch.optional() }),
  z.object({ t: z.literal('connect'), epoch }),
  z.object({ t: z.literal('progress'), durable: offsets }),
  z.object({ t: z.literal('gap'), source: z.number().int().nonnegative(), offset: z.number().int().min(0) }),
  z.object({ t: z.literal('rewind'), to: offsets }),
  z.object({ t: z.literal('commit'), committed: offsets }),
  z.object({ t: z.literal('sourcesDone') }),
  z.object({ t: z.literal('sourcesStopped') }),
  z.object({ t: z.literal('stopSources') }),
  z.object({
    t: z.literal('counters'),
    round: z.number().int(),
    sentBatches: z.number().int().nonnegative(),
    processedBatches: z.number().int().nonnegative(),
    busy: z.boolean(),
    /** Batches sent to / processed from each peer on the current channel with it. */
    sentTo: perPeer.optional(),
    processedFrom: perPeer.optional(),
    /** Exactly-once: the durable watermarks now. */
    durable: offsets.optional(),
  }),
  z.object({
    t: z.literal('stopped'),
    metrics,
    finish: z.string().optional(),
    /** Set when the worker's engine failed or its stop did not complete (the run exits 1). */
    error: z.string().max(2000).optional(),
    latency: z
      .object({ buckets: z.array(z.tuple([z.number().int(), z.number()])), maxUs: z.number() })
      .optional(),
  }),
  z.object({ t: z.literal('shutdown'), reason: z.string().max(1000) }),
  z.object({ t: z.literal('rejected'), reason: z.string() }),
  z.object({
    t: z.literal('assign'),
    partitions: z.object({ partitionCount: z.number().int().min(1).max(65536), owners: z.array(name) }),
    peers: z.array(
      z.object({ name, data: address, incarnation: incarnation.optional(), up: z.boolean().optional() }),
    ),
    runSources: z.array(name),
    /** The membership round (absent: 0). */
    epoch: epoch.optional(),
  }),
  z.object({ t: z.literal('start') }),
  z.object({ t: z.literal('poll'), round: z.number().int() }),
  z.object({ t: z.literal('stop') }),
  z.object({ t: z.literal('shutdownDone'), workers: z.array(name) }),
  /** `buffy dashboard --control` -> initializer: the members; answered with `membersAre`. */
  z.object({ t: z.literal('members') }),
  z.object({
    t: z.literal('membersAre'),
    cluster: name,
    /** The coordinator process (its events are numbered from 1 per process). */
    incarnation: z.string().min(1).max(200),
    expected: z.number().int().min(1),
    members: z.array(z.object({ name, up: z.boolean(), metrics: address.nullable() })),
    counts: z.object({
      joined: z.number().int().nonnegative(),
      down: z.number().int().nonnegative(),
      rejoined: z.number().int().nonnegative(),
      caught_up: z.number().int().nonnegative(),
    }),
    events: z
      .array(
        z.object({
          seq: z.number().int().min(1),
          timeMs: z.number(),
          kind: z.enum(['joined', 'down', 'rejoined', 'caught_up']),
          worker: name,
          text: z.string().max(2000),
        }),
      )
      .max(1000),
  }),
  z.object({ t: z.literal('error'), reason: z.string() }),
]);

export type ControlMessage = z.infer<typeof controlMessageSchema>;
export type WorkerMetricsSummary = z.infer<typeof metrics>;
/** Source index (as a string key) -> offset, as the control messages carry it. */
export type SourceOffsets = z.infer<typeof offsets>;

/** Control-message offsets from the engine's form (source index -> offset). */
export function toSourceOffsets(r: Readonly<Record<number, number>>): SourceOffsets {
  const out: SourceOffsets = {};
  for (const [k, v] of Object.entries(r)) out[k] = v;
  return out;
}

/** The engine's form (source index -> offset) of control-message offsets. */
export function fromSourceOffsets(r: SourceOffsets): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(r)) out[Number(k)] = v;
  return out;
}

/** One control connection: framed JSON both ways, every incoming message validated. */
export class ControlConnection {
  private readonly decoder: FrameDecoder;
  private handler: ((m: ControlMessage) => void) | null = null;
  private backlog: ControlMessage[] = [];
  private closeHandlers: Array<(reason: string) => void> = [];
  private closedReason: string | null = null;

  constructor(
    readonly socket: net.Socket,
    readonly peer: string,
    private readonly log: (m: string) => void,
  ) {
    this.decoder = new FrameDecoder({
      connection: `control connection ${peer}`,
      maxFrameBytes: CONTROL_MAX_FRAME_BYTES,
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (p) => this.onFrame(p));
      } catch (err) {
        this.log((err as Error).message);
        this.destroy((err as Error).message);
      }
    });
    socket.on('error', (err) => this.markClosed(err.message));
    socket.on('close', () => this.markClosed('connection closed'));
  }

  private onFrame(p: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8'));
    } catch {
      this.log(`control connection ${this.peer}: a frame is not JSON; dropping the connection`);
      this.destroy('bad frame');
      return;
    }
    const r = controlMessageSchema.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      this.log(
        `control connection ${this.peer}: invalid message (${issue.path.join('.') || 'message'}: ${issue.message}); dropping the connection`,
      );
      this.destroy('invalid message');
      return;
    }
    if (this.handler) this.handler(r.data);
    else this.backlog.push(r.data);
  }

  /** Sets the message handler (messages that arrived before are handed over first). */
  onMessage(handler: (m: ControlMessage) => void): void {
    this.handler = handler;
    const b = this.backlog;
    this.backlog = [];
    for (const m of b) handler(m);
  }

  /** Resolves with the next message (for request/response exchanges). */
  next(timeoutMs: number, what: string): Promise<ControlMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`control connection ${this.peer}: no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.onClose((reason) => {
        clearTimeout(timer);
        reject(new Error(`control connection ${this.peer} closed while waiting for ${what}: ${reason}`));
      });
      this.onMessage((m) => {
        clearTimeout(timer);
        this.handler = null;
        resolve(m);
      });
    });
  }

  send(m: ControlMessage): void {
    if (this.closedReason !== null || this.socket.destroyed) return;
    this.socket.write(encodeFrame(Buffer.from(JSON.stringify(m), 'utf8')));
  }

  onClose(handler: (reason: string) => void): void {
    if (this.closedReason !== null) handler(this.closedReason);
    else this.closeHandlers.push(handler);
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Half-closes after pending writes. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(reason: string): void {
    this.socket.destroy();
    this.markClosed(reason);
  }

  private markClosed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const h of this.closeHandlers) h(reason);
    this.closeHandlers = [];
  }
}

/** The host to connect to for an address a server listens on (0.0.0.0 / :: -> loopback). */
export function connectHost(a: HostPort): HostPort {
  if (a.host === '0.0.0.0') return { host: '127.0.0.1', port: a.port };
  if (a.host === '::') return { host: '::1', port: a.port };
  return a;
}

export async function connectControl(
  address: HostPort,
  who: string,
  log: (m: string) => void,
  timeoutMs = 10_000,
): Promise<ControlConnection> {
  const socket = await connectSocket(connectHost(address), `${who}: control connection`, timeoutMs);
  return new ControlConnection(socket, `to ${address.host}:${address.port}`, log);
}

/**
 * Connects a worker to its initializer, retrying (with backoff up to 1 s) while nothing
 * listens there yet, for at most `waitMs`: workers may be started before the initializer.
 */
export async function connectControlRetrying(
  address: HostPort,
  who: string,
  log: (m: string) => void,
  waitMs = 30_000,
  onRetry?: (error: string) => void,
): Promise<ControlConnection> {
  const started = Date.now();
  let announced = false;
  for (let delayMs = 50; ; delayMs = Math.min(1000, delayMs * 2)) {
    try {
      return await connectControl(address, who, log);
    } catch (err) {
      if (Date.now() - started + delayMs > waitMs) {
        throw new Error(`${(err as Error).message} (gave up after ${waitMs} ms)`, { cause: err });
      }
      if (!announced) {
        announced = true;
        onRetry?.((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** `buffy shutdown`: asks the initializer to stop the cluster cleanly; resolves when it has. */
export async function requestShutdown(
  address: HostPort,
  timeoutMs = 60_000,
  log: (m: string) => void = (m) => process.stderr.write(m + '\n'),
): Promise<string[]> {
  const c = await connectControl(address, 'buffy shutdown', log);
  try {
    c.send({ t: 'shutdown', reason: 'buffy shutdown' });
    const reply = await c.next(timeoutMs, 'shutdown confirmation');
    if (reply.t === 'shutdownDone') return reply.workers;
    if (reply.t === 'error') throw new Error(`buffy shutdown: the initializer answered: ${reply.reason}`);
    throw new Error(`buffy shutdown: unexpected answer '${reply.t}' from the initializer`);
  } finally {
    c.destroy('done');
  }
}

export type MembersAnswer = Extract<ControlMessage, { t: 'membersAre' }>;

/** Asks the initializer for the members, their metrics addresses and the membership events. */
export async function requestMembers(
  address: HostPort,
  timeoutMs = 5000,
  log: (m: string) => void = () => undefined,
): Promise<MembersAnswer> {
  const c = await connectControl(address, 'buffy dashboard --control', log, timeoutMs);
  try {
    c.send({ t: 'members' });
    const reply = await c.next(timeoutMs, 'the members');
    if (reply.t === 'membersAre') return reply;
    if (reply.t === 'error')
      throw new Error(`the initializer at ${address.host}:${address.port} answered: ${reply.reason}`);
    throw new Error(`unexpected answer '${reply.t}' from the initializer at ${address.host}:${address.port}`);
  } finally {
    c.destroy('done');
  }
}
