// Length-prefixed binary frames: a 4-byte big-endian payload length, then the payload.
// The decoder accepts the byte stream cut at any point, hands out complete payloads
// (as zero-copy views of the incoming chunk when a frame lies inside one chunk), and
// refuses frames above `maxFrameBytes` before buffering them.

import type { RawPayload } from '../types.ts';

/** Bytes of the length prefix in front of every frame. */
export const FRAME_HEADER_BYTES = 4;
/** Default largest payload accepted in one frame: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Hard ceiling for `maxFrameBytes` (the length field is an unsigned 32-bit integer). */
export const MAX_FRAME_BYTES_LIMIT = 0xffff_ffff;

export type FrameErrorKind = 'oversize' | 'truncated' | 'malformed';

/** A framing failure on one connection: the connection must be dropped, the worker keeps running. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly kind: FrameErrorKind,
    /** Who is on the other end, e.g. `data channel from w2 (127.0.0.1:40123)`. */
    readonly connection: string,
    /** Offset in the connection's byte stream where the faulty frame starts. */
    readonly byteOffset: number,
    detail: string,
  ) {
    super(`${connection}: ${detail} (frame at byte offset ${byteOffset}); dropping the connection`);
  }
}

export interface FrameDecoderOptions {
  /** Names the connection in error messages. */
  readonly connection: string;
  /** Largest payload accepted; default 16 MiB. */
  readonly maxFrameBytes?: number;
}

export function checkMaxFrameBytes(maxFrameBytes: number): number {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
    throw new RangeError(
      `maxFrameBytes must be an integer between 1 and ${MAX_FRAME_BYTES_LIMIT}, got ${maxFrameBytes}`,
    );
  }
  return maxFrameBytes;
}

/** Writes a frame header (the payload length) at `offset` of `target`. */
export function writeFrameHeader(target: Uint8Array, offset: number, payloadBytes: number): void {
  target[offset] = payloadBytes >>> 24;
  target[offset + 1] = (payloadBytes >>> 16) & 0xff;
  target[offset + 2] = (payloadBytes >>> 8) & 0xff;
  target[offset + 3] = payloadBytes & 0xff;
}

/** One frame (header + payload) in a fresh buffer. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Many frames back to back in one buffer (one write, one syscall); a string payload is
 * framed as its UTF-8 bytes. */
export function encodeFrames(payloads: readonly RawPayload[]): Buffer {
  let total = 0;
  for (const p of payloads)
    total += FRAME_HEADER_BYTES + (typeof p === 'string' ? Buffer.byteLength(p) : p.length);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of payloads) {
    if (typeof p === 'string') {
      const n = out.write(p, at + FRAME_HEADER_BYTES, 'utf8');
      writeFrameHeader(out, at, n);
      at += FRAME_HEADER_BYTES + n;
    } else {
      writeFrameHeader(out, at, p.length);
      out.set(p, at + FRAME_HEADER_BYTES);
      at += FRAME_HEADER_BYTES + p.length;
    }
  }
  return out;
}

/**
 * Streaming decoder. `push(chunk, onFrame)` calls `onFrame` once per complete payload, in
 * order. Payloads handed out may be views of `chunk` (no copy): callers must not mutate
 * the chunk afterwards. Throws FrameError on an over-size frame; `end()` throws on a
 * truncated final frame. After an error the decoder refuses further input.
 */
export class FrameDecoder {
  readonly connection: string;
  readonly maxFrameBytes: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  /** Stream offset of the first byte not yet consumed. */
  private offset = 0;
  /** Stream offset where the frame being assembled starts. */
  private frameStart = 0;
  private failed: FrameError | null = null;
  private framesDecoded = 0;

  constructor(options: FrameDecoderOptions) {
    this.connection = options.connection;
    this.maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  }

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.offset;
  }

  get frames(): number {
    return this.framesDecoded;
  }

  /** Bytes of an incomplete frame held by the decoder. */
  get bufferedBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    if (this.failed) throw this.failed;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.body !== null) {
        const need = this.body.length - this.bodyFilled;
        const take = Math.min(need, n - i);
        this.body.set(chunk.subarray(i, i + take), this.bodyFilled);
        this.bodyFilled += take;
        i += take;
        this.offset += take;
        if (this.bodyFilled === this.body.length) {
          const payload = this.body;
          this.body = null;
          this.bodyFilled = 0;
          this.emit(payload, onFrame);
        }
        continue;
      }
      let length: number;
      if (this.headerFilled === 0 && n - i >= FRAME_HEADER_BYTES) {
        // Fast path: the header lies inside this chunk.
        this.frameStart = this.offset;
        length = ((chunk[i]! << 24) | (chunk[i + 1]! << 16) | (chunk[i + 2]! << 8) | chunk[i + 3]!) >>> 0;
        this.checkLength(length);
        i += FRAME_HEADER_BYTES;
        this.offset += FRAME_HEADER_BYTES;
        if (n - i >= length) {
          const payload = chunk.subarray(i, i + length);
          i += length;
          this.offset += length;
          this.emit(payload, onFrame);
          continue;
        }
      } else {
        if (this.headerFilled === 0) this.frameStart = this.offset;
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, n - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFilled);
        this.headerFilled += take;
        i += take;
        this.offset += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) continue;
        this.headerFilled = 0;
        length = this.header.readUInt32BE(0);
        this.checkLength(length);
        if (length === 0) {
          this.emit(new Uint8Array(0), onFrame);
          continue;
        }
      }
      // The payload continues in later chunks: assemble it in a buffer of exactly its size.
      this.body = Buffer.allocUnsafe(length);
      const take = Math.min(length, n - i);
      this.body.set(chunk.subarray(i, i + take), 0);
      this.bodyFilled = take;
      i += take;
      this.offset += take;
      if (this.bodyFilled === length) {
        const payload = this.body;
        this.body = null;
        this.bodyFilled = 0;
        this.emit(payload, onFrame);
      }
    }
  }

  /** The stream ended: throws if a frame was cut off. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.headerFilled > 0) {
      this.fail(
        'truncated',
        `stream ended inside a frame header (${this.headerFilled} of ${FRAME_HEADER_BYTES} bytes)`,
      );
    }
    if (this.body !== null) {
      this.fail(
        'truncated',
        `stream ended inside a frame: ${this.bodyFilled} of ${this.body.length} payload bytes received`,
      );
    }
  }

  private emit(payload: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    this.framesDecoded++;
    onFrame(payload);
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) {
      this.fail('oversize', `frame of ${length} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`);
    }
  }

  private fail(kind: FrameErrorKind, detail: string): never {
    this.failed = new FrameError(kind, this.connection, this.frameStart, detail);
    throw this.failed;
  }
}
