// `buffy send` and `buffy receive`: feed a TCP source from a file, capture a TCP sink to a file.
// `buffy send` speaks the acknowledgement protocol of the tcp: source (the design is at the top
// of runtime/connectors/tcp.ts): line s of the file (counting on with --repeat) is sequence
// number s; what is not acknowledged is kept as a position in the file and sent again after a
// reconnect, and with a resume file after a restart. `acks: false` sends plain frames (at most
// once, to any receiver).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FrameDecoder, FrameError, FRAME_HEADER_BYTES, writeFrameHeader } from '../net/framing.ts';
import {
  MAX_STREAM_NAME,
  ProtocolError,
  decodeSourceMessage,
  encodeBatchHeader,
  encodeEnd,
  encodeHello,
} from '../connectors/tcp-protocol.ts';
import type { SourceMessage } from '../connectors/tcp-protocol.ts';
import { connectSocket, formatAddress, listen } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';
import { IdCheck } from './id-check.ts';
import type { IdReport } from './id-check.ts';
import { ResumeFileError, readResumeFile, writeResumeFile } from './resume-file.ts';
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
  /** Speak the acknowledgement protocol (default true); false: plain frames, at most once. */
  readonly acks?: boolean;
  /** The stream's name (default: the file's base name). */
  readonly stream?: string;
  /** Where the acknowledged position is kept; a new run with the same file resumes after it. */
  readonly resumeFile?: string;
  /** Give up when the source neither acknowledges nor takes a connection for this long
   * (default 60 s). */
  readonly ackTimeoutMs?: number;
  /** How long the source may take to answer the handshake (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Progress notes (reconnecting, waiting for a busy source); default: none. */
  readonly log?: (line: string) => void;
  /** Monotonic clock in ms and a sleep, for rate limiting (default: performance.now / setTimeout). */
  readonly nowMs?: () => number;
  readonly sleepMs?: (ms: number) => Promise<void>;
}

/** `buffy send` stopped before it was done: the connection broke, the peer closed it, or (with
 * acknowledgements) the source refused the stream or stopped acknowledging. */
export class SendError extends Error {
  override readonly name = 'SendError';
  constructor(
    readonly why: string,
    /** Messages given to the socket (with acknowledgements: distinct lines, in this run). */
    readonly sent: number,
    /** Of those, the messages the socket handed to the network (plain) or the source
     * acknowledged (with acknowledgements). */
    readonly flushed: number,
    /** With acknowledgements: the resume file that records the acknowledged position. */
    readonly acked?: { readonly resumeFile?: string },
  ) {
    super(
      acked === undefined
        ? `${why}: ${countOf(sent, 'message')} sent, ${flushed} of them handed to the network; a tcp: source sends no acknowledgements, so how many were processed is unknown (the receiver's log says what it took)`
        : `${why}: ${countOf(sent, 'message')} sent, ${flushed} of them acknowledged by the source; ${
            acked.resumeFile
              ? `${acked.resumeFile} records that: the same command sends the rest`
              : 'with --resume-file PATH a new run would skip what was acknowledged'
          }`,
    );
  }
}

export { ResumeFileError };

export interface SendResult {
  /** Distinct lines sent in this run. */
  readonly messages: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly messagesPerSecond: number;
  /** With acknowledgements: lines not sent because the source had them (or the resume file
   * said they were acknowledged). */
  readonly skipped?: number;
  /** With acknowledgements: lines sent again (after a reconnect or a REWIND). */
  readonly resent?: number;
  readonly reconnects?: number;
  /** With acknowledgements: everything sent was acknowledged (false: stopped by the signal
   * before the acknowledgements came). */
  readonly acknowledged?: boolean;
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

/** `buffy send --rate`: a token bucket of `rate` lines per second, with a burst of one batch (or
 * 10 ms worth, if larger). `take(n)` answers how many of `n` lines may go now, or how long to
 * wait (ms) before asking again when not even one may. */
class LineRate {
  private readonly burst: number;
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    batch: number,
    nowMs: number,
  ) {
    this.burst = Math.max(batch, rate / 100);
    this.tokens = this.burst;
    this.last = nowMs;
  }

  take(n: number, nowMs: number): { lines: number } | { waitMs: number } {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.rate) / 1000);
    this.last = nowMs;
    if (this.tokens < 1) return { waitMs: Math.max(1, ((n - this.tokens) * 1000) / this.rate) };
    const lines = Math.min(n, Math.floor(this.tokens));
    this.tokens -= lines;
    return { lines };
  }

  /** Lines taken and then not sent (the batch was cut shorter) go back. */
  giveBack(n: number): void {
    this.tokens += n;
  }
}

/** Sends each line of a file as one frame (acknowledged by default), rate-limited by a token
 * bucket. */
export async function sendFile(options: SendOptions): Promise<SendResult> {
  let content: Buffer;
  try {
    content = fs.readFileSync(options.file);
  } catch (err) {
    throw new Error(`--file ${options.file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const { frames, ends } = frameLines(content);
  const lineCount = ends.length;
  if (lineCount === 0) throw new Error(`--file ${options.file}: the file has no lines to send`);
  if (options.acks === false) {
    if (options.resumeFile !== undefined)
      throw new ResumeFileError('--resume-file needs acknowledgements (it cannot be used with --no-acks)');
    return sendPlain(options, frames, ends);
  }
  return sendAcked(options, content.length, frames, ends);
}

/** Plain frames: at most once, nothing acknowledged. */
async function sendPlain(
  options: SendOptions,
  frames: Buffer,
  ends: Uint32Array | Float64Array,
): Promise<SendResult> {
  const now = options.nowMs ?? (() => performance.now());
  const sleep = options.sleepMs ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const lineCount = ends.length;
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
  const pace = rate !== undefined ? new LineRate(rate, batch, started) : null;
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
      if (pace) {
        const go = pace.take(n, now());
        if ('waitMs' in go) {
          await sleep(go.waitMs);
          continue;
        }
        n = go.lines;
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

/** Largest slice of line frames in one BATCH (at least one line). */
const MAX_BATCH_BYTES = 1024 * 1024;

/** The acknowledged protocol: HELLO, WELCOME, BATCHes and END; reconnects and resends until
 * every line is acknowledged. */
async function sendAcked(
  options: SendOptions,
  fileBytes: number,
  frames: Buffer,
  ends: Uint32Array | Float64Array,
): Promise<SendResult> {
  const now = options.nowMs ?? (() => performance.now());
  const sleep = options.sleepMs ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const note = options.log ?? (() => undefined);
  const peer = formatAddress(options.to);
  const stream = options.stream ?? path.basename(options.file);
  if (stream.length === 0 || stream.length > MAX_STREAM_NAME)
    throw new ResumeFileError(`--stream must be 1 to ${MAX_STREAM_NAME} characters, got ${stream.length}`);
  const lineCount = ends.length;
  const limit = options.messages ?? (options.repeat ? Infinity : lineCount);
  const ackTimeoutMs = options.ackTimeoutMs ?? 60_000;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const resumeFile = options.resumeFile;
  const rate = options.rate;
  const batch = Math.max(
    1,
    options.batch ?? (rate !== undefined ? Math.max(1, Math.min(1000, Math.floor(rate / 100))) : 1000),
  );

  // Where the stream stands: `acked` = last line acknowledged, `cursor` = next line to send.
  const saved = resumeFile !== undefined ? readResumeFile(resumeFile, stream, fileBytes) : null;
  let base: number | null = saved?.base ?? null;
  let acked = saved?.acknowledged ?? -1;
  let skipped = acked + 1;
  let cursor = acked + 1;
  let highestSent = acked;
  let bytes = 0;
  let resent = 0;
  let reconnects = 0;
  let fatal: string | null = null;
  let lastSaveMs = -Infinity;
  let saveTimer: NodeJS.Timeout | null = null;
  const save = (force: boolean): void => {
    if (resumeFile === undefined) return;
    if (!force && now() - lastSaveMs < 100) {
      saveTimer ??= setTimeout(() => {
        saveTimer = null;
        save(true);
      }, 100);
      return;
    }
    lastSaveMs = now();
    writeResumeFile(resumeFile, {
      version: 1,
      stream,
      file: options.file,
      fileBytes,
      to: peer,
      base,
      acknowledged: acked,
    });
  };
  // A resume file that cannot be written is said before anything is sent.
  save(true);
  const started = now();
  const pace = rate !== undefined ? new LineRate(rate, batch, started) : null;
  let lastProgress = started;
  let firstConnection = true;
  let busyNoted = false;
  const done = (): boolean => acked >= limit - 1;
  // Lines below `skipped` were acknowledged before this run (resume file, or the source said so).
  const sentInRun = (): number => Math.max(0, highestSent + 1 - skipped);
  const ackedInRun = (): number => Math.max(0, acked + 1 - skipped);
  const result = (acknowledged: boolean): SendResult => {
    const elapsedMs = now() - started;
    const messages = sentInRun();
    return {
      messages,
      bytes,
      elapsedMs,
      messagesPerSecond: elapsedMs > 0 ? (messages * 1000) / elapsedMs : messages,
      skipped,
      resent,
      reconnects,
      acknowledged,
    };
  };
  const failWith = (why: string): never => {
    if (saveTimer) clearTimeout(saveTimer);
    save(true);
    throw new SendError(why, sentInRun(), ackedInRun(), resumeFile !== undefined ? { resumeFile } : {});
  };
  if (done()) return result(true);

  // One connection at a time; `poke` wakes whoever waits for something from it.
  let waiters: Array<() => void> = [];
  const poke = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const activity = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(wake, Math.max(1, ms));
      function wake(): void {
        clearTimeout(t);
        resolve();
      }
      waiters.push(wake);
    });

  options.signal?.addEventListener('abort', poke);
  try {
    while (!done() && fatal === null && !options.signal?.aborted) {
      // Connect: the first time within connectTimeoutMs (failing as before), later within the
      // progress timeout.
      let socket: net.Socket;
      try {
        socket = await connectSocket(
          options.to,
          'buffy send',
          firstConnection
            ? (options.connectTimeoutMs ?? 10_000)
            : Math.max(100, Math.min(5000, ackTimeoutMs)),
        );
      } catch (err) {
        if (firstConnection && reconnects === 0) throw err;
        if (now() - lastProgress > ackTimeoutMs)
          failWith(
            `${peer} could not be reached again within ${ackTimeoutMs} ms (${(err as Error).message})`,
          );
        await sleep(200);
        continue;
      }
      socket.setNoDelay(true);
      let closedWhy: string | null = null;
      let welcome: Extract<SourceMessage, { kind: 'welcome' }> | null = null;
      let busy: string | null = null;
      let endSent = false;
      const decoder = new FrameDecoder({ connection: `buffy send: connection to ${peer}` });
      const onMessage = (m: SourceMessage): void => {
        switch (m.kind) {
          case 'welcome':
            welcome = m;
            break;
          case 'busy':
            busy = m.reason;
            break;
          case 'fail':
            fatal ??= `${peer} refused the stream: ${m.reason}`;
            break;
          case 'ack':
            if (m.acked > acked) {
              acked = Math.min(m.acked, limit - 1);
              lastProgress = now();
              save(false);
            }
            break;
          case 'rewind':
            if (m.next <= acked) {
              fatal ??= `${peer} asks for line ${m.next} again, but lines up to ${acked} were acknowledged: the source lost what it had committed`;
            } else {
              cursor = Math.min(m.next, cursor);
              endSent = false;
            }
            break;
        }
        poke();
      };
      let frameAt = 0;
      socket.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk, (payload) => {
            const at = frameAt;
            frameAt += FRAME_HEADER_BYTES + payload.length;
            try {
              onMessage(decodeSourceMessage(payload));
            } catch (err) {
              if (!(err instanceof ProtocolError)) throw err;
              fatal ??= `${peer} sent a corrupt frame: ${err.message} (frame at byte offset ${at}); is it a tcp: source of Buffy?`;
              socket.destroy();
            }
          });
        } catch (err) {
          if (!(err instanceof FrameError)) throw err;
          fatal ??= `${err.message}; is it a tcp: source of Buffy?`;
          socket.destroy();
        }
        poke();
      });
      socket.on('error', (err) => {
        closedWhy ??= `the connection to ${peer} failed (${err.message})`;
        poke();
      });
      socket.on('end', () => {
        closedWhy ??= `${peer} closed its side of the connection`;
        poke();
      });
      socket.on('close', () => {
        closedWhy ??= `the connection to ${peer} closed`;
        poke();
      });
      socket.write(encodeHello({ stream, base, first: acked + 1 }));
      const handshakeUntil = now() + handshakeTimeoutMs;
      while (
        welcome === null &&
        busy === null &&
        fatal === null &&
        closedWhy === null &&
        now() < handshakeUntil
      )
        await activity(handshakeUntil - now());
      const w = welcome as Extract<SourceMessage, { kind: 'welcome' }> | null;
      if (fatal !== null) break;
      if (w === null) {
        socket.destroy();
        if (busy !== null) {
          if (!busyNoted) note(`buffy send: ${peer} is busy (${busy}); waiting`);
          busyNoted = true;
          if (now() - lastProgress > ackTimeoutMs)
            failWith(`${peer} stayed busy for ${ackTimeoutMs} ms (${busy})`);
          await sleep(250);
          continue;
        }
        if (closedWhy === null && firstConnection)
          failWith(
            `${peer} did not answer the handshake within ${handshakeTimeoutMs / 1000} s: is it a tcp: source of Buffy? (--no-acks sends plain frames to any receiver, at most once)`,
          );
        if (firstConnection && reconnects === 0)
          failWith(closedWhy ?? `${peer} did not answer the handshake`);
        if (now() - lastProgress > ackTimeoutMs)
          failWith(closedWhy ?? `${peer} did not answer the handshake`);
        reconnects++;
        await sleep(200);
        continue;
      }
      // WELCOME: where the source stands.
      if (base !== null && w.base !== base)
        failWith(`${peer} says stream '${stream}' begins at offset ${w.base}, the resume file says ${base}`);
      if (w.next <= acked)
        failWith(
          `${peer} asks for line ${w.next} again, but lines up to ${acked} were acknowledged${resumeFile ? ` (${resumeFile})` : ''}: the source lost what it had committed (a new --state?); delete the resume file to send everything again`,
        );
      base = w.base;
      if (w.acked > acked) acked = Math.min(w.acked, limit - 1);
      if (firstConnection) skipped = Math.max(skipped, Math.min(w.next, limit === Infinity ? w.next : limit));
      cursor = w.next;
      if (cursor > highestSent + 1) highestSent = Math.min(cursor, limit) - 1;
      firstConnection = false;
      busyNoted = false;
      lastProgress = now();
      save(true);
      /** Resolves on 'drain' or anything from the source. */
      const drainOrPoke = (): Promise<void> =>
        new Promise<void>((resolve) => {
          const wake = (): void => {
            socket.off('drain', wake);
            resolve();
          };
          socket.once('drain', wake);
          waiters.push(wake);
        });
      /** Until the socket takes more, or the connection, the run or the cursor (a REWIND)
       * changed; acknowledgements alone do not make room. */
      const writable = async (): Promise<void> => {
        const at = cursor;
        while (
          socket.writableNeedDrain &&
          closedWhy === null &&
          fatal === null &&
          !options.signal?.aborted &&
          cursor === at
        )
          await drainOrPoke();
      };
      while (!done() && fatal === null && closedWhy === null && !options.signal?.aborted) {
        if (cursor >= limit) {
          if (!endSent && limit !== Infinity) {
            socket.write(encodeEnd(limit));
            endSent = true;
          }
          const waitMs = lastProgress + ackTimeoutMs - now();
          if (waitMs <= 0)
            failWith(
              `${peer} acknowledged nothing for ${ackTimeoutMs} ms (lines ${acked + 1}..${limit - 1} unacknowledged)`,
            );
          await activity(waitMs);
          continue;
        }
        const line = cursor % lineCount;
        let n = Math.min(batch, limit - cursor, lineCount - line);
        if (pace) {
          const go = pace.take(n, now());
          if ('waitMs' in go) {
            await sleep(go.waitMs);
            continue;
          }
          n = go.lines;
        }
        const from = line === 0 ? 0 : ends[line - 1]!;
        let to = ends[line + n - 1]!;
        if (to - from > MAX_BATCH_BYTES && n > 1) {
          // Fewer lines: the batch stays below MAX_BATCH_BYTES (one line at least).
          let k = 1;
          while (k < n && ends[line + k]! - from <= MAX_BATCH_BYTES) k++;
          pace?.giveBack(n - k);
          n = k;
          to = ends[line + n - 1]!;
        }
        const chunk = frames.subarray(from, to);
        const head = encodeBatchHeader(cursor, chunk.length);
        const seq = cursor;
        if (seq <= highestSent) resent += Math.min(n, highestSent - seq + 1);
        cursor += n;
        if (cursor - 1 > highestSent) highestSent = cursor - 1;
        bytes += head.length + chunk.length;
        socket.cork();
        socket.write(head);
        const ok = socket.write(chunk);
        socket.uncork();
        if (!ok && closedWhy === null && fatal === null) await writable();
      }
      if (done()) {
        // Everything acknowledged: close our side, the source closes its own.
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => socket.destroy(), 2000);
          socket.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          socket.end();
        });
        break;
      }
      if (options.signal?.aborted) {
        // Stopped by a signal: wait a little for the acknowledgements of what was sent.
        const until = now() + 3000;
        while (acked < highestSent && closedWhy === null && fatal === null && now() < until)
          await activity(until - now());
        socket.destroy();
        break;
      }
      socket.destroy();
      if (fatal !== null) break;
      reconnects++;
      note(
        `buffy send: ${closedWhy ?? 'the connection broke'} at line ${cursor} (${acked + 1} lines acknowledged); connecting again`,
      );
      await sleep(100);
    }
  } finally {
    options.signal?.removeEventListener('abort', poke);
    if (saveTimer) clearTimeout(saveTimer);
  }
  if (fatal !== null) failWith(fatal);
  if (options.signal?.aborted && acked < highestSent)
    failWith(`stopped by a signal before ${peer} acknowledged every line sent`);
  save(true);
  return result(true);
}

export interface ReceiveOptions {
  readonly listen: HostPort;
  /** Output file; default stdout. */
  readonly out?: string;
  readonly maxFrameBytes?: number;
  readonly log?: (line: string) => void;
  /** Frames carry ids (`tcp:...?ids=1` sinks): write each id once (without it), and report
   * repeats and gaps at the end (runtime/cluster/id-check.ts). */
  readonly check?: boolean;
}

export interface Receiver {
  readonly address: HostPort;
  readonly frames: number;
  readonly connections: number;
  /** Stops listening, closes connections, flushes the output. */
  close(): Promise<{ frames: number; connections: number; bytes: number; check?: IdReport }>;
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
  const ids = options.check ? new IdCheck() : null;
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
    const onFrame = (frame: Uint8Array) => {
      frames++;
      const p = ids ? ids.take(frame) : frame;
      if (p === null) return;
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
      return { frames, connections, bytes, ...(ids ? { check: ids.report() } : {}) };
    },
  };
}
