// `buffy send` and `buffy receive`: feed a TCP source from a file, capture a TCP sink to a file.

import fs from 'node:fs';
import net from 'node:net';
import { FrameDecoder, FRAME_HEADER_BYTES, writeFrameHeader } from '../net/framing.ts';
import { connectSocket, formatAddress, listen } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import { countOf } from './text.ts';

export interface SendOptions {
  readonly to: HostPort;
  readonly file: string;
  /** Messages per second; undefined = as fast as the socket takes them. */
  readonly rate?: number;
  /** Messages per write. */
  readonly batch?: number;
  /** Start over at the end of the file (until `messages` or a stop signal). */
  readonly repeat?: boolean;
  /** Stop after this many messages. */
  readonly messages?: number;
  readonly connectTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Monotonic clock in ms and a sleep, for rate limiting (default: performance.now / setTimeout). */
  readonly nowMs?: () => number;
  readonly sleepMs?: (ms: number) => Promise<void>;
}

/** `buffy send` stopped before it was done: the connection broke or the peer closed it. */
export class SendError extends Error {
  override readonly name = 'SendError';
  constructor(
    readonly why: string,
    /** Messages given to the socket. */
    readonly sent: number,
    /** Of those, the messages the socket handed to the network. */
    readonly flushed: number,
  ) {
    super(
      `${why}: ${countOf(sent, 'message')} sent, ${flushed} of them handed to the network; a tcp: source sends no acknowledgements, so how many were processed is unknown (the receiver's log says what it took)`,
    );
  }
}

export interface SendResult {
  readonly messages: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly messagesPerSecond: number;
}

/** Calls `each(start, end)` for every line of `content` (LF-separated, a CR before the LF
 * dropped, a last line without LF included). */
function forEachLine(content: Buffer, each: (start: number, end: number) => void): void {
  let start = 0;
  for (;;) {
    const nl = content.indexOf(10, start);
    if (nl < 0 && start >= content.length) return;
    let end = nl < 0 ? content.length : nl;
    if (end > start && content[end - 1] === 13) end--;
    each(start, end);
    if (nl < 0) return;
    start = nl + 1;
  }
}

/** Every line of the file as one frame, back to back; `ends[i]` is the end offset of frame i. */
export function frameLines(content: Buffer): { frames: Buffer; ends: Uint32Array | Float64Array } {
  let lines = 0;
  let bodyBytes = 0;
  forEachLine(content, (start, end) => {
    lines++;
    bodyBytes += end - start;
  });
  const total = bodyBytes + lines * FRAME_HEADER_BYTES;
  const frames = Buffer.allocUnsafe(total);
  const ends = total > 0xffff_ffff ? new Float64Array(lines) : new Uint32Array(lines);
  let at = 0;
  let i = 0;
  forEachLine(content, (start, end) => {
    writeFrameHeader(frames, at, end - start);
    content.copy(frames, at + FRAME_HEADER_BYTES, start, end);
    at += FRAME_HEADER_BYTES + end - start;
    ends[i++] = at;
  });
  return { frames, ends };
}

/** Sends each line of a file as one frame, rate-limited by a token bucket. */
export async function sendFile(options: SendOptions): Promise<SendResult> {
  const now = options.nowMs ?? (() => performance.now());
  const sleep = options.sleepMs ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let content: Buffer;
  try {
    content = fs.readFileSync(options.file);
  } catch (err) {
    throw new Error(`--file ${options.file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const { frames, ends } = frameLines(content);
  const lineCount = ends.length;
  if (lineCount === 0) throw new Error(`--file ${options.file}: the file has no lines to send`);
  const limit = options.messages ?? (options.repeat ? Infinity : lineCount);
  const rate = options.rate;
  const batch = Math.max(
    1,
    options.batch ?? (rate !== undefined ? Math.max(1, Math.min(1000, Math.floor(rate / 100))) : 1000),
  );
  const socket = await connectSocket(options.to, 'buffy send', options.connectTimeoutMs ?? 10_000);
  socket.setNoDelay(true);
  const peer = formatAddress(options.to);
  // What ended the connection before we were done (first cause wins); `finishing` once every
  // message was written and our side is being closed, when the peer's close is the normal end.
  let failure: string | null = null;
  let finishing = false;
  socket.on('error', (err) => (failure ??= `the connection to ${peer} failed (${err.message})`));
  socket.on('end', () => {
    if (!finishing) failure ??= `${peer} closed its side of the connection`;
  });
  socket.on('close', () => {
    if (!finishing) failure ??= `the connection to ${peer} closed`;
  });
  /** Resolves on 'drain', or when the socket can no longer be written (end, error, close). */
  const writable = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const events = ['drain', 'end', 'error', 'close'] as const;
      const done = (): void => {
        for (const e of events) socket.off(e, done);
        resolve();
      };
      for (const e of events) socket.on(e, done);
    });
  const started = now();
  // Token bucket: `rate` tokens per second, burst of one batch (or 10 ms worth, if larger).
  const burst = rate !== undefined ? Math.max(batch, rate / 100) : 0;
  let tokens = burst;
  let lastRefill = started;
  let sent = 0;
  let flushed = 0;
  let bytes = 0;
  let line = 0;
  const write = (chunk: Buffer, n: number): boolean =>
    socket.write(chunk, (err) => {
      if (!err) flushed += n;
    });
  try {
    while (sent < limit && !options.signal?.aborted && failure === null) {
      let n = Math.min(batch, limit - sent, lineCount - line);
      if (rate !== undefined) {
        const t = now();
        tokens = Math.min(burst, tokens + ((t - lastRefill) * rate) / 1000);
        lastRefill = t;
        if (tokens < n) {
          if (tokens < 1) {
            await sleep(Math.max(1, ((n - tokens) * 1000) / rate));
            continue;
          }
          n = Math.floor(tokens);
        }
        tokens -= n;
      }
      const from = line === 0 ? 0 : ends[line - 1]!;
      const to = ends[line + n - 1]!;
      const chunk = frames.subarray(from, to);
      sent += n;
      bytes += chunk.length;
      line += n;
      if (line === lineCount) line = 0;
      if (!write(chunk, n) && failure === null) await writable();
    }
    if (failure === null) {
      finishing = true;
      // Our FIN goes out after the last byte; 'finish' = all of it was handed to the network.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          failure ??= `${peer} did not take the last messages within 30 s`;
          done();
        }, 30_000);
        socket.once('finish', done);
        socket.once('close', done);
        socket.once('error', (err) => {
          failure ??= `the connection to ${peer} failed (${err.message})`;
          done();
        });
        socket.end();
      });
    }
  } finally {
    socket.destroy();
  }
  if (failure !== null) throw new SendError(failure, sent, flushed);
  const elapsedMs = now() - started;
  return {
    messages: sent,
    bytes,
    elapsedMs,
    messagesPerSecond: elapsedMs > 0 ? (sent * 1000) / elapsedMs : sent,
  };
}

export interface ReceiveOptions {
  readonly listen: HostPort;
  /** Output file; default stdout. */
  readonly out?: string;
  readonly maxFrameBytes?: number;
  readonly log?: (line: string) => void;
}

export interface Receiver {
  readonly address: HostPort;
  readonly frames: number;
  readonly connections: number;
  /** Stops listening, closes connections, flushes the output. */
  close(): Promise<{ frames: number; connections: number; bytes: number }>;
}

/** Accepts connections; writes each frame's payload as one line. */
export async function startReceiver(options: ReceiveOptions): Promise<Receiver> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const out: NodeJS.WritableStream = options.out ? fs.createWriteStream(options.out) : process.stdout;
  if (options.out) {
    await new Promise<void>((resolve, reject) => {
      (out as fs.WriteStream).once('open', () => resolve());
      (out as fs.WriteStream).once('error', (err) =>
        reject(new Error(`--out ${options.out}: cannot open: ${err.message}`)),
      );
    });
  }
  let frames = 0;
  let bytes = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const NL = 10;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new FrameDecoder({
      connection: `buffy receive: connection from ${remote}`,
      maxFrameBytes: options.maxFrameBytes,
    });
    let parts: Uint8Array[] = [];
    let partBytes = 0;
    // A framing error is said once: the connection is dropped, and its close does not say the
    // same error again as an incomplete last frame.
    let broken = false;
    const onFrame = (p: Uint8Array) => {
      parts.push(p);
      partBytes += p.length + 1;
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        if (!broken) log((err as Error).message);
        broken = true;
        socket.destroy();
      }
      if (parts.length === 0) return;
      const buf = Buffer.allocUnsafe(partBytes);
      let at = 0;
      for (const p of parts) {
        buf.set(p, at);
        at += p.length;
        buf[at++] = NL;
      }
      frames += parts.length;
      bytes += partBytes;
      parts = [];
      partBytes = 0;
      if (!out.write(buf)) {
        socket.pause();
        out.once('drain', () => socket.resume());
      }
    });
    socket.on('error', (err) => log(`buffy receive: connection from ${remote}: ${err.message}`));
    socket.on('close', () => {
      sockets.delete(socket);
      if (broken) return;
      try {
        decoder.end();
      } catch (err) {
        log((err as Error).message);
      }
    });
  });
  const address = await listen(server, options.listen, '--listen');
  return {
    address,
    get frames() {
      return frames;
    },
    get connections() {
      return connections;
    },
    close: async () => {
      // Let connections whose peer already closed deliver what is buffered; cut the rest.
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(
        [...sockets].map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              const t = setTimeout(() => s.destroy(), 500);
              s.once('close', () => {
                clearTimeout(t);
                resolve();
              });
            }),
        ),
      );
      await closing;
      if (options.out) await new Promise<void>((resolve) => (out as fs.WriteStream).end(() => resolve()));
      return { frames, connections, bytes };
    },
  };
}
