// TCP connectors, URI `tcp:HOST:PORT`.
// - Source: listens on HOST:PORT; every connection sends frames of a 4-byte big-endian length
//   + payload, one message per frame. Frames from all connections are merged in arrival
//   order; offsets count frames in that order. While the engine has not taken a batch (the
//   emit promise is pending) and too much is buffered (messages or bytes), every socket is
//   paused.
// - Sink: connects to HOST:PORT (retrying for `connectTimeoutMs` while the receiver comes
//   up) and writes one frame per payload; waits for 'drain' when the socket buffer is full.

import net from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrames } from '../net/framing.ts';
import { connectSocket, formatAddress, listen, parseHostPort } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import type {
  ConnectorContext,
  ConnectorFactory,
  ConnectorUri,
  SinkBatch,
  SinkConnector,
  SourceConnector,
  SourceContext,
} from '../types.ts';
import { registerConnector } from './index.ts';

export interface TcpSourceOptions {
  readonly maxFrameBytes?: number;
  /** Messages per emitted batch at most. */
  readonly maxBatchMessages?: number;
  /** Pause the sockets when this many messages wait for the engine (default 65536). */
  readonly highWaterMessages?: number;
  /** Pause the sockets when this many payload bytes wait for the engine (default 64 MiB). */
  readonly highWaterBytes?: number;
  /** End the source (input exhausted) once this many connections have closed. */
  readonly endAfterConnections?: number;
  /** Called with the bound address once listening (port 0 picks a free port). */
  readonly onListening?: (address: HostPort) => void;
}

export class TcpSource implements SourceConnector {
  readonly uri: string;
  private readonly address: HostPort;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private pending: Uint8Array[] = [];
  private nextOffset = 0;
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
  boundAddress: HostPort | null = null;
  framesReceived = 0;
  private closedConnections = 0;

  constructor(
    uri: string,
    address: HostPort,
    private readonly options: TcpSourceOptions = {},
  ) {
    this.uri = uri;
    this.address = address;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxBatch = options.maxBatchMessages ?? 256;
    this.highWater = options.highWaterMessages ?? 65536;
    this.highWaterBytes = options.highWaterBytes ?? 64 * 1024 * 1024;
  }

  async run(ctx: SourceContext): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket, ctx));
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
        if (this.pending.length <= this.maxBatch) {
          batch = this.pending;
          this.pending = [];
        } else {
          batch = this.pending.slice(0, this.maxBatch);
          this.pending = this.pending.slice(this.maxBatch);
        }
        for (const p of batch) this.pendingBytes -= p.length;
        const firstOffset = this.nextOffset;
        this.nextOffset += batch.length;
        await ctx.emit({ payloads: batch, firstOffset });
        if (
          this.paused &&
          this.pending.length < this.highWater / 2 &&
          this.pendingBytes < this.highWaterBytes / 2
        )
          this.setPaused(false);
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.closeAll();
      this.resolveStopped?.();
    }
  }

  private accept(socket: net.Socket, ctx: SourceContext): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new FrameDecoder({
      connection: `source ${this.uri} connection from ${remote}`,
      maxFrameBytes: this.maxFrameBytes,
    });
    let broken = false;
    this.sockets.add(socket);
    if (this.paused) socket.pause();
    const onFrame = (payload: Uint8Array) => {
      this.pending.push(payload);
      this.pendingBytes += payload.length;
    };
    socket.on('data', (chunk: Buffer) => {
      const before = this.pending.length;
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        // Frames before the bad one were taken; the connection is dropped (said once).
        if (!broken) ctx.log.error((err as Error).message);
        broken = true;
        socket.destroy();
      }
      this.framesReceived += this.pending.length - before;
      if (!this.paused && (this.pending.length >= this.highWater || this.pendingBytes >= this.highWaterBytes))
        this.setPaused(true);
      if (this.pending.length > before) this.wake?.();
    });
    socket.on('error', (err) =>
      ctx.log.warn(`source ${this.uri}: connection from ${remote}: ${err.message}`),
    );
    socket.on('close', () => {
      this.sockets.delete(socket);
      try {
        if (!broken) decoder.end();
      } catch (err) {
        ctx.log.error((err as Error).message);
      }
      this.closedConnections++;
      const endAfter = this.options.endAfterConnections;
      if (endAfter !== undefined && this.closedConnections >= endAfter && !this.stopping) {
        ctx.log.info(
          `source ${this.uri}: ${this.closedConnections === 1 ? '1 connection' : `${this.closedConnections} connections`} closed; the input has ended`,
        );
        void this.stop();
      }
    });
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    for (const s of this.sockets) {
      if (paused) s.pause();
      else s.resume();
    }
  }

  private closeAll(): void {
    this.server?.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stops accepting, drops the connections; frames already received are still emitted. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.server?.close();
      for (const s of this.sockets) s.destroy();
      this.wake?.();
    }
    if (this.stopped) await this.stopped;
  }
}

export interface TcpSinkOptions {
  /** Keep retrying the connection this long (the receiver may start later). */
  readonly connectTimeoutMs?: number;
}

export class TcpSink implements SinkConnector {
  readonly uri: string;
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
    const bytes = encodeFrames(batch.payloads);
    this.sentFrames += batch.payloads.length;
    const socket = this.socket;
    if (socket === null) return this.connect().then((s) => this.writeTo(s, bytes));
    return this.writeTo(socket, bytes);
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

/** `HOST:PORT[?end-after=N]` -> address and options; errors name the URI. */
export function parseTcpUri(
  uri: ConnectorUri,
  role: 'source' | 'sink',
): { address: HostPort; endAfterConnections?: number } {
  const q = uri.rest.indexOf('?');
  const address = parseHostPort(q < 0 ? uri.rest : uri.rest.slice(0, q), `${role} '${uri.raw}'`);
  if (q < 0) return { address };
  const params = new URLSearchParams(uri.rest.slice(q + 1));
  let endAfterConnections: number | undefined;
  for (const [k, v] of params) {
    if (k === 'end-after' && role === 'source') {
      if (!/^\d+$/.test(v) || Number(v) < 1)
        throw new Error(`${role} '${uri.raw}': end-after must be a positive integer, got '${v}'`);
      endAfterConnections = Number(v);
    } else {
      throw new Error(
        `${role} '${uri.raw}': unknown option '${k}'${role === 'source' ? ' (known: end-after=N)' : ' (a tcp sink takes no options)'}`,
      );
    }
  }
  return { address, ...(endAfterConnections !== undefined ? { endAfterConnections } : {}) };
}

/** The `tcp:` connector factory, registered under scheme `tcp`. */
export const tcpConnector: ConnectorFactory = {
  createSource: (uri) => {
    const { address, endAfterConnections } = parseTcpUri(uri, 'source');
    return new TcpSource(uri.raw, address, endAfterConnections !== undefined ? { endAfterConnections } : {});
  },
  createSink: (uri, ctx) => new TcpSink(uri.raw, parseTcpUri(uri, 'sink').address, ctx),
};

/** Registers `tcp:` with the connector registry (idempotent). */
export function registerTcpConnector(): void {
  registerConnector('tcp', tcpConnector, { check: (uri, role) => void parseTcpUri(uri, role) });
}
