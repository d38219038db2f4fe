// TCP connectors, URI `tcp:HOST:PORT`.
//
// Source: listens on HOST:PORT; every connection sends frames of a 4-byte big-endian length +
// payload. A connection is one of two kinds, told apart by its first frame:
// - `buffy send` (acknowledged; frames in runtime/connectors/tcp-protocol.ts): its first frame
//   is a HELLO naming a stream, the source offset of the stream's line 0 if a previous WELCOME
//   gave one (`base`), and the first line it has not seen acknowledged. The source answers
//   WELCOME (base, the line to send next, the last line acknowledged). Lines then come in
//   BATCH frames carrying the sequence number of their first line; line s of the stream is
//   source offset base + s, so message ids are deterministic under replay. The source takes
//   lines in sequence only: a repeat is dropped, a gap is logged and answered with REWIND.
//   ACK (cumulative) says which lines are durable: with `acknowledge: 'commit'` (set when the
//   engine passes SourceContext.resume: it runs exactly-once) those <= the offset the engine
//   passed to `commit(offset)` (everything downstream of them is durable); with 'receipt' (the
//   default, no store) those handed to the engine, so a crash of this worker loses what it held.
//   `buffy send` keeps (as a file position) and resends what is not acknowledged, after a
//   reconnect and, with `--resume-file`, after its own restart. One stream feeds a source at a
//   time: a second gets BUSY until the first has sent END and is acknowledged through its end,
//   then it continues at the next offset. `rewind(to)` (the engine lost what it held)
//   drops what is buffered from there and asks the sender, by REWIND, to send it again. A
//   restarted source knows its committed offset (SourceContext.resume) but not the stream: it
//   takes the base the reconnecting sender names (only one stream may be unfinished then).
// - A plain client (any first frame that is not a HELLO): every frame is a message, offsets
//   count frames in arrival order, nothing is acknowledged: at most once (logged once per
//   connection). Plain clients and a `buffy send` stream do not feed a source at the same time.
// Bad input is one log line naming the peer and the byte offset of the frame, never a crash: a
// frame over `maxFrameBytes` or a corrupt frame drops the connection (a sender gets FAIL
// first); a wrong sequence number (a gap) is answered with REWIND; the source goes on. While the engine has not taken a batch and too much is
// buffered (messages or bytes), every socket is paused.
//
// Sink: connects to HOST:PORT (retrying for `connectTimeoutMs` while the receiver comes up) and
// writes one frame per payload; waits for 'drain' when the socket buffer is full. With `?ids=1`
// each frame is `ID TAB payload` (ID `o:WORKER:N`, the worker's output id, under exactly-once;
// see frameIds), for `buffy receive --check`, which drops repeats and reports gaps.

import net from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encodeFrames } from '../net/framing.ts';
import { connectSocket, formatAddress, listen, parseHostPort } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import type {
  ConnectorContext,
  ConnectorFactory,
  ConnectorUri,
  RawPayload,
  ResumableSink,
  SinkBatch,
  SinkConnector,
  SourceConnector,
  SourceContext,
  SourcePosition,
} from '../types.ts';
import { formatMessageId } from '../engine/ids.ts';
import { registerConnector } from './index.ts';
import {
  ProtocolError,
  decodeHello,
  decodeSenderMessage,
  encodeSourceMessage,
  isHello,
} from './tcp-protocol.ts';
import type { Batch, Hello, SourceMessage } from './tcp-protocol.ts';

/** Lines per batch the `tcp:` source emits at most, unless its URI says `max-batch=N`. */
export const DEFAULT_TCP_MAX_BATCH = 256;

export interface TcpSourceOptions {
  readonly maxFrameBytes?: number;
  /** Messages per emitted batch at most (default DEFAULT_TCP_MAX_BATCH; the URI's `max-batch=N`).
   * Each batch costs the engine a remote batch and a socket write per peer, so smaller ones cost
   * throughput, and under a backlog lines wait longer here (README: measured, not faster). */
  readonly maxBatchMessages?: number;
  /** Pause the sockets when this many messages wait for the engine (default 65536). */
  readonly highWaterMessages?: number;
  /** Pause the sockets when this many payload bytes wait for the engine (default 64 MiB). */
  readonly highWaterBytes?: number;
  /** End the source (input exhausted) once this many connections have closed (a `buffy send`
   * connection counts once its stream has ended). */
  readonly endAfterConnections?: number;
  /** Called with the bound address once listening (port 0 picks a free port). */
  readonly onListening?: (address: HostPort) => void;
  /** When `buffy send` lines are acknowledged: once the engine took them ('receipt', default)
   * or once `commit(offset)` covers them ('commit'; SourceContext.resume sets it). */
  readonly acknowledge?: 'receipt' | 'commit';
}

/** One accepted connection. */
interface Conn {
  readonly socket: net.Socket;
  readonly remote: string;
  kind: 'unknown' | 'plain' | 'sender';
  /** Byte offset in the connection's stream of the next frame. */
  bytes: number;
  /** Dropped or replaced: its frames are ignored. */
  dead: boolean;
  stream: StreamState | null;
  /** The sender said END on this connection. */
  ended: boolean;
  /** Last ACK value written to it. */
  lastAck: number;
}

/** The `buffy send` stream feeding the source. */
interface StreamState {
  readonly name: string;
  /** Source offset of line 0. */
  readonly base: number;
  /** Lines in the stream, once END came. */
  length: number | null;
  conn: Conn | null;
  /** A gap was reported and REWIND sent; quiet until lines come in sequence again. */
  gapReported: boolean;
}

export class TcpSource implements SourceConnector {
  readonly uri: string;
  private readonly address: HostPort;
  private server: net.Server | null = null;
  private readonly conns = new Set<Conn>();
  /** Received, not yet emitted; pending[i] has offset pendingStart + i. */
  private pending: Uint8Array[] = [];
  /** When pending[i] arrived (the run's clock, ms): the batches' receivedMs. */
  private pendingAt: number[] = [];
  private clock: SourceContext['clock'] | null = null;
  private pendingStart = 0;
  private wake: (() => void) | null = null;
  private stopping = false;
  private paused = false;
  private stopped: Promise<void> | null = null;
  private resolveStopped: (() => void) | null = null;
  private readonly maxFrameBytes: number;
  private readonly maxBatch: number;
  private readonly highWater: number;
  private readonly highWaterBytes: number;
  /** Payload bytes in `pending`. */
  private pendingBytes = 0;
  private acknowledge: 'receipt' | 'commit';
  /** Every offset <= committed is acknowledged (durable downstream, or taken under 'receipt'). */
  private committed = -1;
  /** Some frame was taken by this instance. */
  private tookAny = false;
  private stream: StreamState | null = null;
  private plainOpen = 0;
  private log: SourceContext['log'] | null = null;
  boundAddress: HostPort | null = null;
  framesReceived = 0;
  /** Lines of `buffy send` that arrived again and were dropped. */
  duplicatesDropped = 0;
  private closedConnections = 0;

  constructor(
    uri: string,
    address: HostPort,
    private readonly options: TcpSourceOptions = {},
  ) {
    this.uri = uri;
    this.address = address;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxBatch = options.maxBatchMessages ?? DEFAULT_TCP_MAX_BATCH;
    this.highWater = options.highWaterMessages ?? 65536;
    this.highWaterBytes = options.highWaterBytes ?? 64 * 1024 * 1024;
    this.acknowledge = options.acknowledge ?? 'receipt';
  }

  /** The next offset the source will receive. */
  get nextOffset(): number {
    return this.pendingStart + this.pending.length;
  }

  /** Everything <= `offset` is durable downstream: acknowledged to the sender. */
  commit(offset: number): void {
    if (offset <= this.committed) return;
    this.committed = offset;
    this.sendAck();
  }

  /** The engine lost what it held from `to.offset` on: read it again (the sender resends it). */
  rewind(to: SourcePosition): void {
    const next = this.nextOffset;
    let offset = to.offset;
    if (offset > next) {
      this.log?.warn(
        `source ${this.uri}: rewind to offset ${offset} ignored: nothing after ${next - 1} was received`,
      );
      return;
    }
    const s = this.stream;
    // Only a `buffy send` stream can be read again; what came before it (plain connections, an
    // earlier stream whose sender is gone) is lost, and said so.
    const from = s === null ? this.pendingStart : Math.max(offset, s.base);
    if (offset < from)
      this.log?.warn(
        `source ${this.uri}: the engine asked to read offsets ${offset}..${from - 1} again; they came ${s === null ? 'from plain connections' : `before stream '${s.name}'`}, which cannot send them again (at most once): they are lost`,
      );
    offset = from;
    if (s === null) return;
    if (offset <= this.pendingStart) {
      this.pending = [];
      this.pendingAt = [];
      this.pendingBytes = 0;
      this.pendingStart = offset;
    } else {
      for (let i = offset - this.pendingStart; i < this.pending.length; i++)
        this.pendingBytes -= this.pending[i]!.length;
      this.pending.length = offset - this.pendingStart;
      this.pendingAt.length = this.pending.length;
    }
    s.gapReported = false;
    if (s.conn) this.write(s.conn, { kind: 'rewind', next: offset - s.base });
    this.log?.info(
      `source ${this.uri}: reading stream '${s.name}' again from line ${offset - s.base} (offset ${offset})${s.conn ? '' : '; its sender will be told when it reconnects'}`,
    );
    if (this.paused && !this.overHighWater(0.5)) this.setPaused(false);
  }

  async run(ctx: SourceContext): Promise<void> {
    this.log = ctx.log;
    this.clock = ctx.clock;
    if (ctx.resume) {
      // Exactly-once: everything before `resume.offset` is durable from an earlier run; offsets
      // continue there, and lines are acknowledged on `commit` only.
      const { offset } = ctx.resume;
      if (!Number.isSafeInteger(offset) || offset < 0)
        throw new RangeError(`source ${this.uri}: cannot resume at offset ${offset}`);
      this.acknowledge = 'commit';
      this.committed = offset - 1;
      this.pendingStart = offset;
    }
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    this.boundAddress = await listen(server, this.address, `source ${this.uri}`);
    ctx.log.info(`source ${this.uri} listening on ${formatAddress(this.boundAddress)}`);
    this.options.onListening?.(this.boundAddress);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    const onAbort = () => void this.stop();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) this.stopping = true;
    try {
      while (!this.stopping || this.pending.length > 0) {
        if (this.pending.length === 0) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = null;
          continue;
        }
        let batch: Uint8Array[];
        let receivedMs: number[];
        if (this.pending.length <= this.maxBatch) {
          batch = this.pending;
          receivedMs = this.pendingAt;
          this.pending = [];
          this.pendingAt = [];
        } else {
          batch = this.pending.slice(0, this.maxBatch);
          receivedMs = this.pendingAt.slice(0, this.maxBatch);
          this.pending = this.pending.slice(this.maxBatch);
          this.pendingAt = this.pendingAt.slice(this.maxBatch);
        }
        for (const p of batch) this.pendingBytes -= p.length;
        const firstOffset = this.pendingStart;
        this.pendingStart += batch.length;
        const taken = ctx.emit({ payloads: batch, firstOffset, receivedMs });
        // Without a store, handed to the engine is as far as a line gets acknowledged.
        if (this.acknowledge === 'receipt') this.commit(firstOffset + batch.length - 1);
        await taken;
        if (this.paused && !this.overHighWater(0.5)) this.setPaused(false);
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.closeAll();
      this.resolveStopped?.();
    }
  }

  private overHighWater(fraction: number): boolean {
    return (
      this.pending.length >= this.highWater * fraction || this.pendingBytes >= this.highWaterBytes * fraction
    );
  }

  private accept(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new FrameDecoder({
      connection: `source ${this.uri} connection from ${remote}`,
      maxFrameBytes: this.maxFrameBytes,
    });
    const conn: Conn = {
      socket,
      remote,
      kind: 'unknown',
      bytes: 0,
      dead: false,
      stream: null,
      ended: false,
      lastAck: -2,
    };
    this.conns.add(conn);
    if (this.paused) socket.pause();
    const onFrame = (payload: Uint8Array): void => {
      const at = conn.bytes;
      conn.bytes += 4 + payload.length;
      if (conn.dead) return;
      try {
        this.onFrame(conn, payload, at);
      } catch (err) {
        // Bad input never ends the worker: the connection is dropped, naming where.
        if (err instanceof ProtocolError)
          this.drop(conn, `${err.message} (frame at byte offset ${at}, fault at byte ${at + 4 + err.at})`);
        else this.drop(conn, `internal error on the frame at byte offset ${at}: ${(err as Error).message}`);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      const before = this.pending.length;
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        // Frames before the bad one were taken; the connection is dropped (said once).
        if (!conn.dead) {
          this.log?.error(err.message);
          this.fail(conn, err.message, conn.kind === 'sender');
        }
      }
      this.framesReceived += Math.max(0, this.pending.length - before);
      if (!this.paused && this.overHighWater(1)) this.setPaused(true);
      if (this.pending.length > before) this.wake?.();
    });
    socket.on('error', (err) =>
      this.log?.warn(`source ${this.uri}: connection from ${remote}: ${err.message}`),
    );
    socket.on('close', () => {
      this.conns.delete(conn);
      try {
        if (!conn.dead) decoder.end();
      } catch (err) {
        this.log?.error((err as Error).message);
      }
      if (conn.kind === 'plain') this.plainOpen--;
      const s = conn.stream;
      if (s !== null && s.conn === conn) s.conn = null;
      // A `buffy send` connection that did not end its stream will come back.
      if (conn.kind === 'sender' && !conn.ended) return;
      if (conn.dead && conn.kind !== 'plain') return;
      this.closedConnections++;
      const endAfter = this.options.endAfterConnections;
      if (endAfter !== undefined && this.closedConnections >= endAfter && !this.stopping) {
        this.log?.info(
          `source ${this.uri}: ${this.closedConnections === 1 ? '1 connection' : `${this.closedConnections} connections`} closed; the input has ended`,
        );
        void this.stop();
      }
    });
  }

  private who(conn: Conn): string {
    return conn.stream
      ? `source ${this.uri}: stream '${conn.stream.name}' from ${conn.remote}`
      : `source ${this.uri}: connection from ${conn.remote}`;
  }

  private onFrame(conn: Conn, payload: Uint8Array, at: number): void {
    if (conn.kind === 'unknown') {
      if (isHello(payload)) return this.hello(conn, decodeHello(payload));
      if (!this.startPlain(conn)) return;
    }
    if (conn.kind === 'plain') {
      this.take([payload], 0);
      return;
    }
    const m = decodeSenderMessage(payload);
    const s = conn.stream!;
    if (s.conn !== conn) return;
    if (m.kind === 'batch') return this.batch(conn, s, m, at);
    const received = this.nextOffset - s.base;
    if (m.length < received)
      throw new ProtocolError(`END says the stream has ${m.length} lines, but ${received} were received`, 1);
    s.length = m.length;
    conn.ended = true;
  }

  private take(lines: readonly Uint8Array[], from: number): void {
    const at = this.clock !== null && lines.length > from ? this.clock.nowMs() : 0;
    for (let i = from; i < lines.length; i++) {
      const p = lines[i]!;
      this.pending.push(p);
      this.pendingAt.push(at);
      this.pendingBytes += p.length;
    }
    if (lines.length > from) this.tookAny = true;
  }

  private startPlain(conn: Conn): boolean {
    const s = this.stream;
    if (s !== null && (s.conn !== null || !this.finished(s))) {
      this.log?.warn(
        `source ${this.uri}: connection from ${conn.remote} sends plain frames while buffy send stream '${s.name}' feeds this source; dropping it (a source takes one buffy send stream or plain clients, not both at once)`,
      );
      conn.dead = true;
      conn.socket.destroy();
      return false;
    }
    this.stream = null;
    conn.kind = 'plain';
    this.plainOpen++;
    this.log?.info(
      `source ${this.uri}: connection from ${conn.remote} sends plain frames (no buffy send handshake): at most once, nothing is acknowledged`,
    );
    return true;
  }

  /** The stream's sender ended it and everything in it is acknowledged. */
  private finished(s: StreamState): boolean {
    return s.length !== null && this.committed >= s.base + s.length - 1;
  }

  private hello(conn: Conn, h: Hello): void {
    if (this.plainOpen > 0) {
      return this.refuse(
        conn,
        'busy',
        `plain connections feed this source (${this.plainOpen} open); wait until they close`,
      );
    }
    let s = this.stream;
    if (s !== null && s.name === h.stream && (h.base !== null || !this.finished(s))) {
      if (h.base !== null && h.base !== s.base)
        return this.refuse(
          conn,
          'fail',
          `stream '${s.name}' begins at offset ${s.base} at this source, the sender says ${h.base} (its resume file is from another run of the source?)`,
        );
      if (s.conn !== null) {
        this.log?.info(`${this.who(s.conn)}: replaced by a new connection from ${conn.remote}`);
        s.conn.dead = true;
        s.conn.socket.destroy();
      }
    } else if (s !== null && !(s.conn === null && this.finished(s))) {
      return this.refuse(
        conn,
        'busy',
        `this source takes stream '${s.name}'${s.conn ? ` from ${s.conn.remote}` : ''} (lines ${s.length === null ? 'still to come' : `up to ${s.length - 1} not yet acknowledged`})`,
      );
    } else {
      const next = this.nextOffset;
      let base = next;
      if (h.base !== null) {
        const pristine = !this.tookAny && this.committed === -1 && this.pending.length === 0;
        if (pristine) {
          // Nothing here yet: take the stream where its sender's acknowledgements left it.
          base = h.base;
          this.pendingStart = h.base + h.first;
        } else if (s === null ? h.base <= next : h.base === next) {
          // After a restart of this source (or plain traffic): the sender knows where it began.
          base = h.base;
        } else if (h.base > next && this.pending.length === 0) {
          this.log?.warn(
            `source ${this.uri}: stream '${h.stream}' from ${conn.remote} begins at offset ${h.base}; offsets ${next}..${h.base - 1} are skipped`,
          );
          base = h.base;
          this.pendingStart = h.base;
        } else {
          return this.refuse(
            conn,
            'fail',
            `stream '${h.stream}' began at offset ${h.base}, but this source has taken offsets up to ${next - 1} since${s ? ` (stream '${s.name}')` : ''}: it cannot be resumed here`,
          );
        }
      }
      s = { name: h.stream, base, length: null, conn: null, gapReported: false };
      this.stream = s;
    }
    conn.kind = 'sender';
    conn.stream = s;
    s.conn = conn;
    s.gapReported = false;
    const next = this.nextOffset - s.base;
    const acked = Math.max(-1, Math.min(this.committed - s.base, next - 1));
    this.log?.info(
      `${this.who(conn)}: sending from line ${next} (offset ${s.base + next}); lines are acknowledged once ${this.acknowledge === 'commit' ? 'durable downstream' : 'the engine takes them'}`,
    );
    this.write(conn, { kind: 'welcome', base: s.base, next, acked });
    conn.lastAck = acked;
  }

  private batch(conn: Conn, s: StreamState, b: Batch, at: number): void {
    const first = s.base + b.seq;
    const next = this.nextOffset;
    if (s.length !== null && b.seq + b.lines.length > s.length)
      throw new ProtocolError(
        `BATCH of lines ${b.seq}..${b.seq + b.lines.length - 1} after END (${s.length} lines)`,
        1,
      );
    if (first > next) {
      if (!s.gapReported) {
        s.gapReported = true;
        this.log?.warn(
          `${this.who(conn)}: the batch at byte offset ${at} starts at line ${b.seq}, expected line ${next - s.base} (lines in between are missing); asking for line ${next - s.base} again`,
        );
        this.write(conn, { kind: 'rewind', next: next - s.base });
      }
      return;
    }
    s.gapReported = false;
    const skip = next - first;
    if (skip > 0) this.duplicatesDropped += Math.min(skip, b.lines.length);
    this.take(b.lines, skip);
  }

  private sendAck(): void {
    const s = this.stream;
    if (s === null || s.conn === null) return;
    const acked = Math.min(this.committed - s.base, this.nextOffset - s.base - 1);
    if (acked > s.conn.lastAck) {
      s.conn.lastAck = acked;
      this.write(s.conn, { kind: 'ack', acked });
    }
  }

  private write(conn: Conn, m: SourceMessage): void {
    if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(encodeSourceMessage(m));
  }

  /** Says why (BUSY: try later; FAIL: do not), then closes the connection. */
  private refuse(conn: Conn, kind: 'busy' | 'fail', reason: string): void {
    if (kind === 'fail')
      this.log?.warn(`source ${this.uri}: connection from ${conn.remote}: ${reason}; dropping it`);
    this.fail(conn, reason, true, kind);
  }

  /** A protocol error on `conn`: logged once, the sender told, the connection dropped. */
  private drop(conn: Conn, detail: string): void {
    const message = `${this.who(conn)}: ${detail}; dropping the connection`;
    this.log?.error(message);
    this.fail(conn, message, conn.kind === 'sender');
  }

  /** Drops `conn`; a sender (`tell`) learns why first. */
  private fail(conn: Conn, reason: string, tell: boolean, kind: 'busy' | 'fail' = 'fail'): void {
    conn.dead = true;
    const socket = conn.socket;
    if (tell && !socket.destroyed && socket.writable) {
      socket.end(encodeSourceMessage({ kind, reason }));
      setTimeout(() => socket.destroy(), 2000).unref();
    } else socket.destroy();
    const s = conn.stream;
    if (s !== null && s.conn === conn) s.conn = null;
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    for (const c of this.conns) {
      if (paused) c.socket.pause();
      else c.socket.resume();
    }
  }

  private closeAll(): void {
    this.server?.close();
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }

  /** Stops accepting, drops the connections; frames already received are still emitted. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.server?.close();
      for (const c of this.conns) c.socket.destroy();
      this.wake?.();
    }
    if (this.stopped) await this.stopped;
  }
}

export interface TcpSinkOptions {
  /** Keep retrying the connection this long (the receiver may start later). */
  readonly connectTimeoutMs?: number;
  /** Each frame is `ID TAB payload` (URI option `ids=1`), for `buffy receive --check`. */
  readonly ids?: boolean;
}

/**
 * The id a frame carries with `ids`: `o:WORKER:N` for the worker's output id N (exactly-once:
 * the engine writes the sink from its outbox and passes `firstOutputId`; the same output has
 * the same id after a crash), else `m:ID` with the message id (runtime/engine/ids.ts; stable
 * under replay, but not consecutive, so only repeats can be told), else `n:WORKER:N` numbered
 * by this sink (not stable across a restart of the worker).
 */
export function frameIds(worker: string, batch: SinkBatch, nextLocal: number): string[] {
  const n = batch.payloads.length;
  const out = new Array<string>(n);
  const first = batch.firstOutputId;
  const ids = batch.ids;
  for (let i = 0; i < n; i++) {
    if (first !== undefined) out[i] = `o:${worker}:${first + i}`;
    else if (ids) out[i] = `m:${formatMessageId(ids.source[i]!, ids.offset[i]!, ids.sub[i]!)}`;
    else out[i] = `n:${worker}:${nextLocal + i}`;
  }
  return out;
}

export class TcpSink implements SinkConnector {
  readonly uri: string;
  /** With `ids` under exactly-once: written from the engine's outbox; the receiver drops the
   * ids it already has, so nothing needs cutting back (truncate does nothing). */
  readonly resumable?: ResumableSink;
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private failure: Error | null = null;
  private closed = false;
  sentFrames = 0;

  constructor(
    uri: string,
    private readonly address: HostPort,
    private readonly ctx: ConnectorContext,
    private readonly options: TcpSinkOptions = {},
  ) {
    this.uri = uri;
    if (options.ids && ctx.exactlyOnce) {
      this.resumable = {
        truncate: async () => undefined,
        settle: async () => {
          await this.flush();
          return this.sentFrames;
        },
      };
    }
  }

  private connect(): Promise<net.Socket> {
    if (this.connecting) return this.connecting;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const start = this.ctx.clock.monotonicMs();
    const attempt = async (): Promise<net.Socket> => {
      for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
        try {
          return await connectSocket(
            this.address,
            `sink ${this.uri} of worker '${this.ctx.workerName}'`,
            timeoutMs,
          );
        } catch (err) {
          if (this.ctx.clock.monotonicMs() - start + delay > timeoutMs) throw err;
          await new Promise<void>((resolve) => this.ctx.clock.setTimer(delay, resolve));
        }
      }
    };
    this.connecting = attempt().then((socket) => {
      socket.setNoDelay(true);
      socket.on('error', (err) => {
        this.failure = new Error(
          `sink ${this.uri} of worker '${this.ctx.workerName}': connection to ${formatAddress(this.address)} failed: ${err.message}`,
        );
        this.ctx.log.error(this.failure.message);
      });
      socket.on('close', () => {
        if (!this.closed && !this.failure) {
          this.failure = new Error(
            `sink ${this.uri} of worker '${this.ctx.workerName}': ${formatAddress(this.address)} closed the connection`,
          );
          this.ctx.log.error(this.failure.message);
        }
      });
      this.socket = socket;
      return socket;
    });
    return this.connecting;
  }

  write(batch: SinkBatch): Promise<void> | void {
    if (this.failure) throw this.failure;
    if (batch.payloads.length === 0) return;
    const bytes = encodeFrames(this.options.ids ? this.labelled(batch) : batch.payloads);
    this.sentFrames += batch.payloads.length;
    const socket = this.socket;
    if (socket === null) return this.connect().then((s) => this.writeTo(s, bytes));
    return this.writeTo(socket, bytes);
  }

  private labelled(batch: SinkBatch): RawPayload[] {
    const ids = frameIds(this.ctx.workerName, batch, this.sentFrames + 1);
    return batch.payloads.map((p, i) =>
      typeof p === 'string' ? `${ids[i]}\t${p}` : Buffer.concat([Buffer.from(`${ids[i]}\t`), p]),
    );
  }

  private writeTo(socket: net.Socket, bytes: Buffer): Promise<void> | void {
    if (this.failure) throw this.failure;
    if (socket.write(bytes)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        socket.off('drain', onDrain);
        reject(this.failure ?? new Error(`sink ${this.uri}: connection closed while writing`));
      };
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    const socket = this.socket;
    if (socket === null || socket.writableLength === 0) return;
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      // The receiver normally closes its side at once; do not wait for it forever.
      const timer = this.ctx.clock.setTimer(5000, () => socket.destroy());
      socket.once('close', () => {
        this.ctx.clock.clearTimer(timer);
        resolve();
      });
      socket.end();
    });
  }
}

/** `HOST:PORT[?end-after=N][&max-batch=N]` (source), `HOST:PORT[?ids=1]` (sink) -> address and
 * options; errors name the URI. */
export function parseTcpUri(
  uri: ConnectorUri,
  role: 'source' | 'sink',
): { address: HostPort; endAfterConnections?: number; maxBatchMessages?: number; ids?: boolean } {
  const q = uri.rest.indexOf('?');
  const address = parseHostPort(q < 0 ? uri.rest : uri.rest.slice(0, q), `${role} '${uri.raw}'`);
  if (q < 0) return { address };
  const params = new URLSearchParams(uri.rest.slice(q + 1));
  let endAfterConnections: number | undefined;
  let maxBatchMessages: number | undefined;
  let ids: boolean | undefined;
  const positive = (k: string, v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1)
      throw new Error(`${role} '${uri.raw}': ${k} must be a positive integer, got '${v}'`);
    return Number(v);
  };
  for (const [k, v] of params) {
    if (k === 'end-after' && role === 'source') endAfterConnections = positive(k, v);
    else if (k === 'max-batch' && role === 'source') maxBatchMessages = positive(k, v);
    else if (k === 'ids' && role === 'sink') {
      if (v !== '0' && v !== '1') throw new Error(`${role} '${uri.raw}': ids must be 0 or 1, got '${v}'`);
      ids = v === '1';
    } else {
      throw new Error(
        `${role} '${uri.raw}': unknown option '${k}' (known: ${role === 'source' ? 'end-after=N, max-batch=N' : 'ids=1'})`,
      );
    }
  }
  return {
    address,
    ...(endAfterConnections !== undefined ? { endAfterConnections } : {}),
    ...(maxBatchMessages !== undefined ? { maxBatchMessages } : {}),
    ...(ids !== undefined ? { ids } : {}),
  };
}

/** The `tcp:` connector factory, registered under scheme `tcp`. */
export const tcpConnector: ConnectorFactory = {
  createSource: (uri) => {
    const { address, endAfterConnections, maxBatchMessages } = parseTcpUri(uri, 'source');
    return new TcpSource(uri.raw, address, {
      ...(endAfterConnections !== undefined ? { endAfterConnections } : {}),
      ...(maxBatchMessages !== undefined ? { maxBatchMessages } : {}),
    });
  },
  createSink: (uri, ctx) => {
    const { address, ids } = parseTcpUri(uri, 'sink');
    return new TcpSink(uri.raw, address, ctx, ids ? { ids } : {});
  },
};

/** Registers `tcp:` with the connector registry (idempotent). */
export function registerTcpConnector(): void {
  registerConnector('tcp', tcpConnector, { check: (uri, role) => void parseTcpUri(uri, role) });
}
