// file:PATH connectors. Source: one message per line (\n or \r\n), offsets are 0-based line
// numbers, the file is streamed in chunks (any size), a last line without a newline is a
// message, an empty file gives none. Sink: one payload per line, in order, into a new file
// (its folder is created); `{worker}` in its path is replaced by the worker's name. On the
// workers of a cluster a path without `{worker}` gets the worker's name before its extension
// (`perWorkerPath`: out/c.txt -> out/c.w1.txt), so that workers never share a file.
//
// Exactly-once (runtime/engine/exactly-once.ts): the source starts at `ctx.resume` (a line
// number and the byte position of that line), reports the byte position after each batch
// (`endPosition`) and can be rewound to such a point (`rewind`); the sink, opened with
// `ctx.exactlyOnce`, keeps its file, is cut back to its committed length at recovery
// (`resumable.truncate`), writes each batch to the file at once with one synchronous write
// (so a process crash after it returns keeps it, and `resumable.length()` is exact) and
// fsyncs on `resumable.settle(true)` (docs/exactly-once.md, "File sinks without an outbox").
import { closeSync, fstat, fsync, ftruncate, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { open } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type {
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

const fstatP = promisify(fstat);
const fsyncP = promisify(fsync);
const ftruncateP = promisify(ftruncate);

export interface FileSourceOptions {
  /** Lines per emitted batch (default 1024). */
  batchLines?: number;
  /** Bytes read per chunk (default 1 MiB). */
  chunkBytes?: number;
  /** A line longer than this (in UTF-16 units) is an error (default 64 Mi). */
  maxLineChars?: number;
}

/** `file:PATH`, `file://PATH` or `file:///abs/path` -> the path as written (not resolved). */
export function filePathTextOfUri(uri: ConnectorUri): string {
  let p = uri.rest;
  if (p.startsWith('//')) p = p.slice(2);
  if (p.length === 0) throw new Error(`"${uri.raw}": missing path; expected file:PATH`);
  return p;
}

/** `file:PATH`, `file://PATH` or `file:///abs/path` -> a filesystem path (relative to cwd). */
export function filePathOfUri(uri: ConnectorUri): string {
  return resolve(filePathTextOfUri(uri));
}

export class FileSource implements SourceConnector {
  private stopped = false;
  /** A rewind asked for and not yet taken (the next batch starts there). */
  private seek: SourcePosition | null = null;
  private readonly batchLines: number;
  private readonly chunkBytes: number;
  private readonly maxLineChars: number;

  constructor(
    readonly uri: string,
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    this.batchLines = options.batchLines ?? 256;
    this.chunkBytes = options.chunkBytes ?? 1 << 20;
    this.maxLineChars = options.maxLineChars ?? 64 * 1024 * 1024;
    if (!(this.batchLines >= 1 && this.chunkBytes >= 1))
      throw new Error(`source "${uri}": batchLines and chunkBytes must be >= 1`);
  }

  rewind(to: SourcePosition): void {
    this.seek = to;
  }

  async run(ctx: SourceContext): Promise<void> {
    let fh;
    try {
      fh = await open(this.path, 'r');
    } catch (err) {
      throw new Error(`source "${this.uri}": cannot open ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // Byte positions are tracked only for exactly-once (ctx.resume given): one byteLength per line.
    const positions = ctx.resume !== undefined;
    try {
      const buf = Buffer.allocUnsafe(this.chunkBytes);
      let decoder = new StringDecoder('utf8');
      let carry = '';
      let lineNo = ctx.resume?.offset ?? 0;
      /** Where the next read starts, and the byte position of the start of `carry`. */
      let readPos = ctx.resume?.position ?? 0;
      let linePos = readPos;
      let batch: string[] = [];
      let batchFirst = lineNo;
      let batchEnd = linePos;
      /** Takes a pending rewind: true if one was taken (what was read is dropped). */
      const takeSeek = (): boolean => {
        const to = this.seek;
        if (to === null) return false;
        this.seek = null;
        decoder = new StringDecoder('utf8');
        carry = '';
        batch = [];
        lineNo = batchFirst = to.offset;
        readPos = linePos = batchEnd = to.position;
        return true;
      };
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const payloads = batch;
        batch = [];
        await ctx.emit(
          positions
            ? { payloads, firstOffset: batchFirst, endPosition: batchEnd }
            : { payloads, firstOffset: batchFirst },
        );
        batchFirst = lineNo;
      };
      for (;;) {
        if (this.stopped || ctx.signal.aborted) return;
        takeSeek();
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buf, 0, this.chunkBytes, readPos));
        } catch (err) {
          throw new Error(
            `source "${this.uri}": read failed after line ${lineNo}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        if (takeSeek()) continue;
        if (bytesRead === 0) break;
        readPos += bytesRead;
        // `carry` holds no newline: search only the new text (a long line spanning many chunks
        // is scanned once, not once per chunk).
        const text = carry + decoder.write(buf.subarray(0, bytesRead));
        let start = 0;
        let from = carry.length;
        let rewound = false;
        for (;;) {
          const nl = text.indexOf('\n', from);
          if (nl < 0) break;
          const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          batch.push(text.slice(start, end));
          if (positions) {
            linePos += Buffer.byteLength(text.slice(start, nl + 1), 'utf8');
            batchEnd = linePos;
          }
          lineNo++;
          start = nl + 1;
          from = start;
          if (batch.length >= this.batchLines) {
            await flush();
            if (this.stopped || ctx.signal.aborted) return;
            if (takeSeek()) {
              rewound = true;
              break;
            }
          }
        }
        if (rewound) continue;
        carry = start === 0 ? text : text.slice(start);
        if (carry.length > this.maxLineChars) {
          throw new Error(
            `source "${this.uri}": line ${lineNo + 1} is longer than ${this.maxLineChars} characters; is this a text file?`,
          );
        }
      }
      const last = carry + decoder.end();
      if (last.length > 0) {
        batch.push(last.charCodeAt(last.length - 1) === 13 ? last.slice(0, -1) : last);
        if (positions) batchEnd = linePos + Buffer.byteLength(last, 'utf8');
        lineNo++;
      }
      await flush();
      // A rewind asked for while the last batch was emitted: read again from there.
      if (this.seek !== null && !this.stopped && !ctx.signal.aborted) {
        await fh.close();
        fh = undefined;
        const to = this.seek;
        return await this.run({ ...ctx, resume: to });
      }
    } finally {
      await fh?.close();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** Writes a batch to a stream as lines; resolves at once unless the stream wants a drain. */
export function writeLines(
  stream: NodeJS.WritableStream & { writableNeedDrain?: boolean },
  payloads: readonly RawPayload[],
): Promise<void> | void {
  if (payloads.length === 0) return;
  let allStrings = true;
  for (let i = 0; i < payloads.length; i++) {
    if (typeof payloads[i] !== 'string') {
      allStrings = false;
      break;
    }
  }
  let ok: boolean;
  if (allStrings) {
    ok = stream.write(`${(payloads as readonly string[]).join('\n')}\n`);
  } else {
    const parts: Uint8Array[] = [];
    const nl = Buffer.from('\n');
    for (const p of payloads) {
      parts.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : p, nl);
    }
    ok = stream.write(Buffer.concat(parts));
  }
  if (!ok) {
    return new Promise<void>((res, rej) => {
      const onDrain = (): void => {
        stream.off('error', onError);
        res();
      };
      const onError = (err: Error): void => {
        stream.off('drain', onDrain);
        rej(err);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }
}

/** The bytes of a batch of lines (one payload per line, each ended by a newline). */
function lineBytes(payloads: readonly RawPayload[]): Buffer {
  let allStrings = true;
  for (let i = 0; i < payloads.length; i++) {
    if (typeof payloads[i] !== 'string') {
      allStrings = false;
      break;
    }
  }
  if (allStrings) return Buffer.from(`${(payloads as readonly string[]).join('\n')}\n`, 'utf8');
  const parts: Uint8Array[] = [];
  const nl = Buffer.from('\n');
  for (const p of payloads) parts.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : p, nl);
  return Buffer.concat(parts);
}

export class FileSink implements SinkConnector {
  /** Plain mode: a buffered stream. Kept mode (exactly-once): null, writes are synchronous. */
  private readonly stream: WriteStream | null;
  private readonly fd: number;
  private error: Error | null = null;
  private closed = false;
  /** Kept mode: the file's length counting every write so far. */
  private bytes = 0;
  /** With `keep` (exactly-once): the file is kept, cut back and measured by the engine. */
  readonly resumable?: ResumableSink;

  constructor(
    readonly uri: string,
    readonly path: string,
    append = false,
    keep = false,
  ) {
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, append || keep ? 'a' : 'w');
    } catch (err) {
      throw new Error(`sink "${uri}": cannot open ${path} for writing: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.fd = fd;
    if (keep) {
      this.stream = null;
      this.bytes = fstatSync(fd).size;
      this.resumable = {
        truncate: (b) => this.truncate(b),
        settle: (f) => this.settle(f),
        length: () => this.bytes,
      };
    } else {
      this.stream = createWriteStream('', { fd, highWaterMark: 1 << 20 });
      this.stream.on('error', (err) => {
        this.error = new Error(`sink "${uri}": write to ${path} failed: ${err.message}`);
      });
    }
  }

  private async truncate(bytes: number): Promise<void> {
    const { size } = await fstatP(this.fd);
    if (size < bytes)
      throw new Error(
        `sink "${this.uri}": ${this.path} holds ${size} bytes, fewer than the ${bytes} its store records as written: it was changed outside this worker; move it away (and the store with it) to start afresh`,
      );
    if (size > bytes) await ftruncateP(this.fd, bytes);
    this.bytes = bytes;
  }

  private async settle(sync: boolean): Promise<number> {
    await this.flush();
    if (sync) await fsyncP(this.fd);
    return this.bytes;
  }

  /** Kept mode: the whole batch in the file (the page cache) before returning. */
  private writeNow(payloads: readonly RawPayload[]): void {
    const buf = lineBytes(payloads);
    let at = 0;
    try {
      // A regular file takes a whole write unless the disk is full; loop for the rare rest.
      while (at < buf.length) at += writeSync(this.fd, buf, at, buf.length - at, null);
    } catch (err) {
      this.bytes += at;
      this.error = new Error(
        `sink "${this.uri}": write to ${this.path} failed after ${this.bytes} bytes: ${(err as Error).message}`,
        { cause: err },
      );
      throw this.error;
    }
    this.bytes += at;
  }

  write(batch: SinkBatch): Promise<void> | void {
    if (this.error) throw this.error;
    if (this.closed) throw new Error(`sink "${this.uri}": write after close`);
    if (this.stream === null) return this.writeNow(batch.payloads);
    return writeLines(this.stream, batch.payloads);
  }

  async flush(): Promise<void> {
    if (this.error) throw this.error;
    const stream = this.stream;
    if (stream !== null && stream.writableLength > 0) {
      await new Promise<void>((res) => stream.write('', () => res()));
    }
    if (this.error) throw this.error;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    if (stream === null) closeSync(this.fd);
    else await new Promise<void>((res) => stream.end(() => res()));
    if (this.error) throw this.error;
  }
}

/** `{worker}` in a sink path becomes the worker's name, so that the workers of a cluster on one
 * host write separate files (`file:out/updates-{worker}.txt`). */
export function sinkPathForWorker(path: string, workerName: string): string {
  return path.split('{worker}').join(workerName);
}

/**
 * The file one worker of a cluster writes for `path`, so that the workers (on one host or many)
 * never share a file: `{worker}` is replaced by the worker's name if the path has it, else the
 * name goes before the extension of the last path segment: `out/c.txt` -> `out/c.w1.txt`,
 * `out/c` -> `out/c.w1`, `out/c.tar.gz` -> `out/c.tar.w1.gz`, `.hidden` -> `.hidden.w1`.
 */
export function perWorkerPath(path: string, workerName: string): string {
  if (path.includes('{worker}')) return sinkPathForWorker(path, workerName);
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const head = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${head}${name}.${workerName}`;
  return `${head}${name.slice(0, dot)}.${workerName}${name.slice(dot)}`;
}

/** The `file:` URI a worker of a cluster opens for a sink URI (see perWorkerPath). */
export function perWorkerFileUri(uri: ConnectorUri, workerName: string): string {
  return `file:${perWorkerPath(filePathTextOfUri(uri), workerName)}`;
}

export const fileConnector: ConnectorFactory = {
  createSource: (uri) => new FileSource(uri.raw, filePathOfUri(uri)),
  createSink: (uri, ctx) =>
    new FileSink(
      uri.raw,
      sinkPathForWorker(filePathOfUri(uri), ctx.workerName),
      false,
      ctx.exactlyOnce === true,
    ),
};
