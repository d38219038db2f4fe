// The data channel's frames (the payload of a length-prefixed frame, see framing.ts), encoded
// and decoded; the protocol that uses them is runtime/net/channel.ts. First byte = type; every
// number is big-endian, and a "u64" is two u32 words (high, low) holding a safe integer:
//   HELLO  1: u16 protocol version, cluster, application, worker names (u16 length + UTF-8
//             each), u64 incarnation of the sending process, u64 the incarnation of the peer
//             this side's channel state belongs to (0: none, a fresh channel), then the
//             handshake of this side's receiver: u64 resume point (the last frame it delivered:
//             the peer's sender resends from the next one), u64 frame credit limit, u64 byte
//             credit limit
//   DATA   2: u64 seq, u32 message count, then the batch body (opaque bytes)
//   ACK    3: u64 cumulative ack, u64 frame credit limit, u64 byte credit limit
//   CLOSE  4: u8 code (0 normal, 1 rejected, 2 protocol error), UTF-8 reason
// Credit limits are absolute (the highest frame, the highest body byte offset the receiver
// has room for), so a repeated or late ACK is harmless.
//
// Versions: 2 had no incarnations; 3 added them to HELLO. The version comes first and the
// names keep their layout, so a HELLO of any version names its worker (helloIdentity), and a
// peer of another version is rejected with a message that says so.

import type { AckInfo } from '../../machines/delivery-receiver.ts';
import type { Random } from '../types.ts';
import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.ts';

export type { AckInfo };

export const PROTOCOL_VERSION = 3;

export const FrameType = { Hello: 1, Data: 2, Ack: 3, Close: 4 } as const;
export const CloseCode = { Normal: 0, Rejected: 1, ProtocolError: 2 } as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export interface Hello {
  readonly protocolVersion: number;
  readonly cluster: string;
  readonly app: string;
  readonly worker: string;
  /**
   * The sending process's incarnation: drawn once per process start (newIncarnation), so a
   * worker that restarted says another number; 0 when the process has none (tests, the
   * conformance suite), which never counts as a restart. Absent is 0; a decoded HELLO has it.
   */
  readonly incarnation?: number;
}

export interface DataBatch {
  readonly seq: number;
  readonly messages: number;
  /** Opaque batch body (e.g. runtime/types.ts encodeRemoteBatch output); a view, do not mutate. */
  readonly body: Uint8Array;
}

export const DATA_HEADER_BYTES = 13;
export const ACK_INFO_BYTES = 24;
const TWO_32 = 0x1_0000_0000;

/** A process incarnation: a random safe integer above 0 (53 bits), from the injected Random. */
export function newIncarnation(random: Random): number {
  for (;;) {
    const v = (random.nextU32() & 0x1f_ffff) * TWO_32 + random.nextU32();
    if (v > 0) return v;
  }
}

function writeU64(b: Buffer, at: number, v: number): void {
  b.writeUInt32BE(Math.floor(v / TWO_32), at);
  b.writeUInt32BE(v >>> 0, at + 4);
}

function readU64(b: Buffer, at: number): number | null {
  const v = b.readUInt32BE(at) * TWO_32 + b.readUInt32BE(at + 4);
  return Number.isSafeInteger(v) ? v : null;
}

function writeAckInfo(b: Buffer, at: number, a: AckInfo): void {
  writeU64(b, at, a.ack);
  writeU64(b, at + 8, a.limit);
  writeU64(b, at + 16, a.limitBytes);
}

function readAckInfo(b: Buffer, at: number): AckInfo | string {
  const ack = readU64(b, at);
  const limit = readU64(b, at + 8);
  const limitBytes = readU64(b, at + 16);
  if (ack === null || limit === null || limitBytes === null) return 'a number above 2^53';
  return { ack, limit, limitBytes };
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** A HELLO that grants nothing and resumes from the start (a fresh receiver). */
export const FRESH_HANDSHAKE: AckInfo = { ack: 0, limit: 0, limitBytes: 0 };

function checkIncarnation(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new RangeError(`hello: ${what} must be a safe integer >= 0, got ${v}`);
}

/**
 * HELLO: the names, the incarnations (this process's, and the peer's this side's channel state
 * belongs to, 0 for none), then the handshake (resume point and credit of this side's receiver).
 */
export function encodeHello(h: Hello, handshake: AckInfo = FRESH_HANDSHAKE, peerIncarnation = 0): Uint8Array {
  const incarnation = h.incarnation ?? 0;
  checkIncarnation('incarnation', incarnation);
  checkIncarnation('peer incarnation', peerIncarnation);
  const parts = [utf8(h.cluster), utf8(h.app), utf8(h.worker)];
  let size = 3 + 16 + ACK_INFO_BYTES;
  for (const p of parts) {
    if (p.length > 0xffff) throw new RangeError(`hello: name of ${p.length} bytes is too long (max 65535)`);
    size += 2 + p.length;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = FrameType.Hello;
  out.writeUInt16BE(h.protocolVersion, 1);
  let at = 3;
  for (const p of parts) {
    out.writeUInt16BE(p.length, at);
    p.copy(out, at + 2);
    at += 2 + p.length;
  }
  writeU64(out, at, incarnation);
  writeU64(out, at + 8, peerIncarnation);
  writeAckInfo(out, at + 16, handshake);
  return out;
}

export interface HelloFrame {
  readonly hello: Hello;
  /** The incarnation of this side the peer's channel state belongs to (0: none, fresh). */
  readonly peerIncarnation: number;
  readonly handshake: AckInfo;
}

/** What every version of HELLO says first: its version and the names. */
export interface HelloIdentity {
  readonly protocolVersion: number;
  readonly cluster: string;
  readonly app: string;
  readonly worker: string;
  /** Where the names end. */
  readonly end: number;
}

/** The version and names of a HELLO payload of any protocol version; an error string if malformed. */
export function helloIdentity(payload: Uint8Array): HelloIdentity | string {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < 3 || b[0] !== FrameType.Hello) return 'not a HELLO frame';
  const protocolVersion = b.readUInt16BE(1);
  const names: string[] = [];
  let at = 3;
  for (const field of ['cluster', 'app', 'worker']) {
    if (b.length - at < 2) return `HELLO cut off before the ${field} name`;
    const len = b.readUInt16BE(at);
    at += 2;
    if (b.length - at < len) return `HELLO ${field} name declares ${len} bytes, ${b.length - at} remain`;
    names.push(b.toString('utf8', at, at + len));
    at += len;
  }
  return { protocolVersion, cluster: names[0]!, app: names[1]!, worker: names[2]!, end: at };
}

/**
 * Decodes a HELLO payload of this protocol version; returns an error string for malformed
 * input (a HELLO of another version is malformed here: check `helloIdentity` first).
 */
export function decodeHello(payload: Uint8Array): HelloFrame | string {
  const id = helloIdentity(payload);
  if (typeof id === 'string') return id;
  if (id.protocolVersion !== PROTOCOL_VERSION)
    return `HELLO of protocol version ${id.protocolVersion}, this worker speaks ${PROTOCOL_VERSION}`;
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = id.end;
  if (b.length - at < 16) return `HELLO cut off in its incarnations (${b.length - at} of 16 bytes)`;
  const incarnation = readU64(b, at);
  const peerIncarnation = readU64(b, at + 8);
  if (incarnation === null || peerIncarnation === null) return 'HELLO incarnation above 2^53';
  at += 16;
  if (b.length - at < ACK_INFO_BYTES)
    return `HELLO cut off in its handshake (${b.length - at} of ${ACK_INFO_BYTES} bytes)`;
  const handshake = readAckInfo(b, at);
  if (typeof handshake === 'string') return `HELLO handshake: ${handshake}`;
  at += ACK_INFO_BYTES;
  if (at !== b.length) return `HELLO has ${b.length - at} trailing bytes`;
  const { protocolVersion, cluster, app, worker } = id;
  return { hello: { protocolVersion, cluster, app, worker, incarnation }, peerIncarnation, handshake };
}

/** A frame with its length prefix. */
export function framed(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** An ACK frame, header included. */
export function ackFrame(a: AckInfo): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1 + ACK_INFO_BYTES);
  writeFrameHeader(out, 0, 1 + ACK_INFO_BYTES);
  out[FRAME_HEADER_BYTES] = FrameType.Ack;
  writeAckInfo(out, FRAME_HEADER_BYTES + 1, a);
  return out;
}

/** The header of a DATA frame (length prefix, type, seq, message count); the body follows. */
export function dataHeader(seq: number, messages: number, bodyBytes: number): Uint8Array {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + DATA_HEADER_BYTES);
  writeFrameHeader(header, 0, DATA_HEADER_BYTES + bodyBytes);
  header[4] = FrameType.Data;
  writeU64(header, 5, seq);
  header.writeUInt32BE(messages, 13);
  return header;
}

/** A decoded DATA payload, or what is wrong with it. */
export function decodeData(p: Uint8Array): DataBatch | string {
  if (p.length < DATA_HEADER_BYTES) return `DATA frame of ${p.length} bytes is shorter than its header`;
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const seq = readU64(b, 1);
  if (seq === null || seq < 1) return `DATA frame with sequence number ${seq ?? '>= 2^53'}`;
  return { seq, messages: b.readUInt32BE(9), body: p.subarray(DATA_HEADER_BYTES) };
}

/** A decoded ACK payload, or what is wrong with it. */
export function decodeAck(p: Uint8Array): AckInfo | string {
  if (p.length !== 1 + ACK_INFO_BYTES)
    return `ACK frame of ${p.length} bytes, expected ${1 + ACK_INFO_BYTES}`;
  const a = readAckInfo(Buffer.from(p.buffer, p.byteOffset, p.byteLength), 1);
  return typeof a === 'string' ? `ACK frame holds ${a}` : a;
}

/** A CLOSE frame, header included (the reason cut to 1000 characters). */
export function closeFrame(code: CloseCodeValue, reason: string): Uint8Array {
  const text = utf8(reason.length > 1000 ? reason.slice(0, 1000) : reason);
  const payload = Buffer.allocUnsafe(1 + 1 + text.length);
  payload[0] = FrameType.Close;
  payload[1] = code;
  text.copy(payload, 2);
  return framed(payload);
}
