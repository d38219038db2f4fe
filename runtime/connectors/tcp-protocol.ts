// The acknowledgement protocol between `buffy send` and a `tcp:` source (design: the top of
// runtime/connectors/tcp.ts). Pure encoding and decoding of the frame payloads; both sides
// carry them in the usual frames (4-byte big-endian length + payload, runtime/net/framing.ts).
//
// Sender -> source:
//   HELLO  MAGIC + JSON {"version":1,"stream":S,"base":B|null,"first":F}   (first frame only)
//   BATCH  'B' + seq(8) + one or more inner frames (4-byte length + line): lines seq, seq+1, ...
//   END    'E' + length(8): the stream has `length` lines (seq 0 .. length-1)
// Source -> sender:
//   WELCOME 'W' + base(8) + next(8) + acked(8): stream line s is source offset base + s; send
//           from line `next`; lines <= `acked` are durable (-1: none)
//   ACK     'A' + acked(8)
//   REWIND  'R' + next(8): send again from line `next`
//   BUSY    'Y' + UTF-8 reason: try again later
//   FAIL    'X' + UTF-8 reason: do not retry
// Numbers are 8-byte big-endian two's complement integers between -1 and 2^53 - 1.

import { FRAME_HEADER_BYTES, writeFrameHeader } from '../net/framing.ts';

/** The first bytes of a HELLO payload; a plain client's first line does not begin with NUL. */
export const HELLO_MAGIC = Buffer.from('\0buffy-send\n', 'latin1');
export const PROTOCOL_VERSION = 1;
export const MAX_STREAM_NAME = 200;

const T_BATCH = 0x42; // 'B'
const T_END = 0x45; // 'E'
const T_WELCOME = 0x57; // 'W'
const T_ACK = 0x41; // 'A'
const T_REWIND = 0x52; // 'R'
const T_BUSY = 0x59; // 'Y'
const T_FAIL = 0x58; // 'X'

/** Bytes of a BATCH payload before its inner frames: type + seq. */
export const BATCH_HEADER_BYTES = 9;

export interface Hello {
  readonly kind: 'hello';
  readonly stream: string;
  /** The source offset of line 0, as a previous WELCOME said; null for a new stream. */
  readonly base: number | null;
  /** The first line this sender has not seen acknowledged. */
  readonly first: number;
}
export interface Batch {
  readonly kind: 'batch';
  readonly seq: number;
  /** Views of the payload (no copy). */
  readonly lines: Uint8Array[];
}
export interface End {
  readonly kind: 'end';
  readonly length: number;
}
export type SenderMessage = Hello | Batch | End;

export type SourceMessage =
  | { readonly kind: 'welcome'; readonly base: number; readonly next: number; readonly acked: number }
  | { readonly kind: 'ack'; readonly acked: number }
  | { readonly kind: 'rewind'; readonly next: number }
  | { readonly kind: 'busy'; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string };

/** A payload that breaks the protocol; `at` is the byte offset inside the payload. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    detail: string,
    readonly at: number,
  ) {
    super(detail);
  }
}

const TWO_32 = 4294967296;

function writeInt(target: Uint8Array, at: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < -1) throw new RangeError(`protocol number out of range: ${n}`);
  const hi = Math.floor(n / TWO_32);
  const lo = n - hi * TWO_32;
  const v = new DataView(target.buffer, target.byteOffset, target.byteLength);
  v.setInt32(at, hi);
  v.setUint32(at + 4, lo);
}

function readInt(payload: Uint8Array, at: number, what: string): number {
  if (payload.length < at + 8)
    throw new ProtocolError(
      `${what}: ${payload.length - at} of 8 bytes present`,
      Math.min(at, payload.length),
    );
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const n = v.getInt32(at) * TWO_32 + v.getUint32(at + 4);
  if (!Number.isSafeInteger(n) || n < -1) throw new ProtocolError(`${what}: ${n} is out of range`, at);
  return n;
}

function framed(payloadBytes: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  writeFrameHeader(out, 0, payloadBytes);
  return out;
}

/** A HELLO frame (header included). */
export function encodeHello(h: Omit<Hello, 'kind'>): Buffer {
  const json = Buffer.from(
    JSON.stringify({ version: PROTOCOL_VERSION, stream: h.stream, base: h.base, first: h.first }),
  );
  const out = framed(HELLO_MAGIC.length + json.length);
  HELLO_MAGIC.copy(out, FRAME_HEADER_BYTES);
  json.copy(out, FRAME_HEADER_BYTES + HELLO_MAGIC.length);
  return out;
}

/** The frame header and BATCH header in front of `innerBytes` bytes of inner frames. */
export function encodeBatchHeader(seq: number, innerBytes: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + BATCH_HEADER_BYTES);
  writeFrameHeader(out, 0, BATCH_HEADER_BYTES + innerBytes);
  out[FRAME_HEADER_BYTES] = T_BATCH;
  writeInt(out, FRAME_HEADER_BYTES + 1, seq);
  return out;
}

/** A whole BATCH frame of `lines` starting at line `seq` (tests and small senders). */
export function encodeBatch(seq: number, lines: readonly Uint8Array[]): Buffer {
  let inner = 0;
  for (const l of lines) inner += FRAME_HEADER_BYTES + l.length;
  const head = encodeBatchHeader(seq, inner);
  const out = Buffer.allocUnsafe(head.length + inner);
  head.copy(out, 0);
  let at = head.length;
  for (const l of lines) {
    writeFrameHeader(out, at, l.length);
    out.set(l, at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES + l.length;
  }
  return out;
}

export function encodeEnd(length: number): Buffer {
  const out = framed(9);
  out[FRAME_HEADER_BYTES] = T_END;
  writeInt(out, FRAME_HEADER_BYTES + 1, length);
  return out;
}

/** A source -> sender frame (header included). */
export function encodeSourceMessage(m: SourceMessage): Buffer {
  switch (m.kind) {
    case 'welcome': {
      const out = framed(25);
      out[FRAME_HEADER_BYTES] = T_WELCOME;
      writeInt(out, FRAME_HEADER_BYTES + 1, m.base);
      writeInt(out, FRAME_HEADER_BYTES + 9, m.next);
      writeInt(out, FRAME_HEADER_BYTES + 17, m.acked);
      return out;
    }
    case 'ack':
    case 'rewind': {
      const out = framed(9);
      out[FRAME_HEADER_BYTES] = m.kind === 'ack' ? T_ACK : T_REWIND;
      writeInt(out, FRAME_HEADER_BYTES + 1, m.kind === 'ack' ? m.acked : m.next);
      return out;
    }
    case 'busy':
    case 'fail': {
      const text = Buffer.from(m.reason);
      const out = framed(1 + text.length);
      out[FRAME_HEADER_BYTES] = m.kind === 'busy' ? T_BUSY : T_FAIL;
      text.copy(out, FRAME_HEADER_BYTES + 1);
      return out;
    }
  }
}

/** Whether a connection's first payload is a HELLO (else the peer is a plain client). */
export function isHello(payload: Uint8Array): boolean {
  if (payload.length < HELLO_MAGIC.length) return false;
  for (let i = 0; i < HELLO_MAGIC.length; i++) if (payload[i] !== HELLO_MAGIC[i]) return false;
  return true;
}

function exactLength(payload: Uint8Array, bytes: number, what: string): void {
  if (payload.length !== bytes)
    throw new ProtocolError(`${what} of ${payload.length} bytes (a ${what} has ${bytes})`, 0);
}

export function decodeHello(payload: Uint8Array): Hello {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    .subarray(HELLO_MAGIC.length)
    .toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError(`HELLO is not JSON: ${JSON.stringify(text.slice(0, 80))}`, HELLO_MAGIC.length);
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new ProtocolError(`HELLO: ${what} (got ${JSON.stringify(text.slice(0, 120))})`, HELLO_MAGIC.length);
  };
  if (o.version !== PROTOCOL_VERSION) bad(`version must be ${PROTOCOL_VERSION}`);
  const stream = o.stream;
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME)
    bad(`stream must be a name of 1 to ${MAX_STREAM_NAME} characters`);
  const base = o.base;
  if (base !== null && !(Number.isSafeInteger(base) && (base as number) >= 0))
    bad('base must be null or a non-negative integer');
  const first = o.first;
  if (!(Number.isSafeInteger(first) && (first as number) >= 0)) bad('first must be a non-negative integer');
  return { kind: 'hello', stream: stream as string, base: base as number | null, first: first as number };
}

/** Decodes a frame payload from a sender after its HELLO. */
export function decodeSenderMessage(payload: Uint8Array): Batch | End {
  if (payload.length === 0) throw new ProtocolError('empty frame (a message has a type byte)', 0);
  const type = payload[0]!;
  if (type === T_END) {
    exactLength(payload, 9, 'END');
    return { kind: 'end', length: readInt(payload, 1, 'END length') };
  }
  if (type !== T_BATCH)
    throw new ProtocolError(`unknown message type 0x${type.toString(16).padStart(2, '0')}`, 0);
  const seq = readInt(payload, 1, 'BATCH sequence number');
  if (seq < 0) throw new ProtocolError('BATCH sequence number -1', 1);
  const lines: Uint8Array[] = [];
  let at = BATCH_HEADER_BYTES;
  const n = payload.length;
  while (at < n) {
    if (n - at < FRAME_HEADER_BYTES)
      throw new ProtocolError(`BATCH: ${n - at} bytes left where a line's 4-byte length begins`, at);
    const len =
      ((payload[at]! << 24) | (payload[at + 1]! << 16) | (payload[at + 2]! << 8) | payload[at + 3]!) >>> 0;
    if (len > n - at - FRAME_HEADER_BYTES)
      throw new ProtocolError(
        `BATCH: line ${seq + lines.length} announces ${len} bytes, only ${n - at - FRAME_HEADER_BYTES} follow`,
        at,
      );
    lines.push(payload.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + len));
    at += FRAME_HEADER_BYTES + len;
  }
  if (lines.length === 0) throw new ProtocolError('BATCH without lines', BATCH_HEADER_BYTES);
  if (!Number.isSafeInteger(seq + lines.length))
    throw new ProtocolError(`BATCH: sequence numbers past 2^53 (${seq} + ${lines.length})`, 1);
  return { kind: 'batch', seq, lines };
}

/** Decodes a frame payload from a source. */
export function decodeSourceMessage(payload: Uint8Array): SourceMessage {
  if (payload.length === 0) throw new ProtocolError('empty frame (a message has a type byte)', 0);
  const type = payload[0]!;
  switch (type) {
    case T_WELCOME: {
      exactLength(payload, 25, 'WELCOME');
      const base = readInt(payload, 1, 'WELCOME base');
      const next = readInt(payload, 9, 'WELCOME next');
      const acked = readInt(payload, 17, 'WELCOME acked');
      if (base < 0 || next < 0) throw new ProtocolError('WELCOME: base and next must not be -1', 1);
      return { kind: 'welcome', base, next, acked };
    }
    case T_ACK:
      exactLength(payload, 9, 'ACK');
      return { kind: 'ack', acked: readInt(payload, 1, 'ACK') };
    case T_REWIND: {
      exactLength(payload, 9, 'REWIND');
      const next = readInt(payload, 1, 'REWIND');
      if (next < 0) throw new ProtocolError('REWIND to -1', 1);
      return { kind: 'rewind', next };
    }
    case T_BUSY:
    case T_FAIL: {
      const reason = Buffer.from(payload.buffer, payload.byteOffset + 1, payload.byteLength - 1).toString(
        'utf8',
      );
      return type === T_BUSY ? { kind: 'busy', reason } : { kind: 'fail', reason };
    }
    default:
      throw new ProtocolError(`unknown message type 0x${type.toString(16).padStart(2, '0')}`, 0);
  }
}
