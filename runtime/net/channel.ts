// The data channel between two workers as a pure protocol core: no socket, no timer, no
// clock. A shell (runtime/net/tcp-channel.ts over net.Socket, runtime/net/test-transport.ts
// in memory) feeds it events - bytes-level frames received, batches to send, batches
// consumed - and takes what it must do from `ready()`: bytes to write, batches to deliver,
// whether the channel opened, closed, or can take more input.
//
// Frames (the payload of a length-prefixed frame, see framing.ts), first byte = type:
//   HELLO  1: u16 protocol version, then cluster, application, worker names (u16 length + UTF-8 each)
//   DATA   2: u32 seq high, u32 seq low, u32 message count, then the batch body (opaque bytes)
//   CREDIT 3: u32 messages, u32 bytes (increments granted by the receiver)
//   CLOSE  4: u8 code (0 normal, 1 rejected, 2 protocol error), UTF-8 reason
//
// Credit: the receiver grants a window of messages and bytes (body bytes) after accepting
// the peer's hello and then grants again what the application has consumed. The sender
// never puts on the wire more than it was granted; what it cannot send waits in a queue
// whose size the shell bounds by waiting for `writable` (memory stays bounded when the
// downstream is slow). Sequence numbers start at 1 and increase by one per DATA frame;
// the later reliable delivery protocol builds on them (resend, dedup) and replaces these
// internals behind the same ChannelCore interface.

import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.ts';

export const PROTOCOL_VERSION = 1;

export const FrameType = { Hello: 1, Data: 2, Credit: 3, Close: 4 } as const;
export const CloseCode = { Normal: 0, Rejected: 1, ProtocolError: 2 } as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export interface Hello {
  readonly protocolVersion: number;
  readonly cluster: string;
  readonly app: string;
  readonly worker: string;
}

export interface DataBatch {
  readonly seq: number;
  readonly messages: number;
  /** Opaque batch body (e.g. runtime/types.ts encodeRemoteBatch output); a view, do not mutate. */
  readonly body: Uint8Array;
}

export interface ChannelClosed {
  readonly code: CloseCodeValue;
  /** Human-readable reason; for errors it names the peer and what was wrong. */
  readonly reason: string;
  /** True when this side decided to close, false when the peer sent CLOSE or went away. */
  readonly local: boolean;
  /** True for rejected handshakes and protocol errors. */
  readonly error: boolean;
}

/** What the shell must do after feeding events. */
export interface Ready {
  /** Byte chunks to write to the transport, in order (complete frames, headers included). */
  readonly writes: Uint8Array[];
  /** Batches received from the peer, in sequence order, to hand to the application. */
  readonly deliveries: DataBatch[];
  /** The peer's hello, the first time it is accepted. */
  readonly opened: Hello | null;
  /** Set once, when the channel closes; the shell then closes the transport after writing `writes`. */
  readonly closed: ChannelClosed | null;
  /** True when the send queue dropped below its bound since the last ready() (producers may resume). */
  readonly writable: boolean;
}

export type ChannelEvent =
  | { readonly type: 'start' }
  | { readonly type: 'frame'; readonly payload: Uint8Array }
  | { readonly type: 'send'; readonly body: Uint8Array; readonly messages: number }
  | { readonly type: 'consumed'; readonly messages: number; readonly bytes: number }
  | { readonly type: 'close'; readonly reason: string }
  | { readonly type: 'transportClosed'; readonly reason: string };

/** The protocol seam: the reliable delivery protocol replaces the implementation, not the shells. */
export interface ChannelCore {
  readonly state: ChannelState;
  readonly peer: Hello | null;
  /** Feed one event; throws only on caller misuse (never on bad input from the network). */
  step(event: ChannelEvent): void;
  /** Drains what the shell must do. */
  ready(): Ready;
  /** False while the send queue is at or above its bound: wait for `writable`. */
  readonly canSend: boolean;
  readonly stats: ChannelStats;
}

export type ChannelState = 'new' | 'handshake' | 'open' | 'closing' | 'closed';

export interface ChannelStats {
  readonly sentFrames: number;
  readonly sentMessages: number;
  readonly sentBytes: number;
  readonly receivedFrames: number;
  readonly receivedMessages: number;
  readonly receivedBytes: number;
  /** Batches waiting for credit (or for the handshake). */
  readonly queuedBatches: number;
  readonly queuedBytes: number;
  /** Credit the peer granted us and we have not used. */
  readonly sendCreditMessages: number;
  readonly sendCreditBytes: number;
  /** Delivered to the application and not yet consumed. */
  readonly unconsumedMessages: number;
  readonly unconsumedBytes: number;
  /** Credit this side granted that the peer's data has not used yet (held by the peer or in flight). */
  readonly grantedMessages: number;
  readonly grantedBytes: number;
  /** Consumed, not yet granted back (the spec's `owed`). */
  readonly owedMessages: number;
  readonly owedBytes: number;
}

export interface ChannelOptions {
  /** This side's identity, sent in HELLO. */
  readonly local: Omit<Hello, 'protocolVersion'>;
  /** The peer worker's name when known in advance (outgoing connections); checked against its hello. */
  readonly expectedPeer?: string;
  /** Receive window in messages (credit granted to the peer). */
  readonly windowMessages?: number;
  /** Receive window in body bytes. Batches larger than the peer's window cannot be sent. */
  readonly windowBytes?: number;
  /** Send queue bound in body bytes: `canSend` turns false at or above it. */
  readonly maxQueuedBytes?: number;
  /** Names the connection in errors, e.g. `data channel w1 -> w2`. */
  readonly connection?: string;
}

export const DEFAULT_WINDOW_MESSAGES = 1 << 20;
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

const DATA_HEADER_BYTES = 13;
const U32_MAX = 0xffff_ffff;

interface Queued {
  readonly body: Uint8Array;
  readonly messages: number;
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

export function encodeHello(h: Hello): Uint8Array {
  const parts = [utf8(h.cluster), utf8(h.app), utf8(h.worker)];
  let size = 3;
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
  return out;
}

/** Decodes a HELLO payload; returns an error string for malformed input. */
export function decodeHello(payload: Uint8Array): Hello | string {
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
  if (at !== b.length) return `HELLO has ${b.length - at} trailing bytes`;
  return { protocolVersion, cluster: names[0]!, app: names[1]!, worker: names[2]! };
}

function framed(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function creditFrame(messages: number, bytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 9);
  writeFrameHeader(out, 0, 9);
  out[4] = FrameType.Credit;
  out.writeUInt32BE(messages, 5);
  out.writeUInt32BE(bytes, 9);
  return out;
}

function closeFrame(code: CloseCodeValue, reason: string): Uint8Array {
  const text = utf8(reason.length > 1000 ? reason.slice(0, 1000) : reason);
  const payload = Buffer.allocUnsafe(1 + 1 + text.length);
  payload[0] = FrameType.Close;
  payload[1] = code;
  text.copy(payload, 2);
  return framed(payload);
}

function positiveInt(name: string, v: number, max = U32_MAX): number {
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new RangeError(`${name} must be an integer between 1 and ${max}, got ${v}`);
  return v;
}

/** The channel protocol core with credit-based flow control. */
export class CreditChannelCore implements ChannelCore {
  private st: ChannelState = 'new';
  private peerHello: Hello | null = null;
  private readonly local: Hello;
  private readonly expectedPeer: string | undefined;
  private readonly windowMessages: number;
  private readonly windowBytes: number;
  private readonly maxQueuedBytes: number;
  readonly connection: string;

  // Sending side.
  private queue: Queued[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private nextSeq = 1;
  private creditMessages = 0;
  private creditBytes = 0;
  private wasBlocked = false;
  private closeRequested: string | null = null;

  // Receiving side.
  private expectedSeq = 1;
  /** Credit we granted and the peer has not used yet. */
  private grantedMessages = 0;
  private grantedBytes = 0;
  /** Consumed since the last grant. */
  private ungrantedMessages = 0;
  private ungrantedBytes = 0;
  private unconsumedMessages = 0;
  private unconsumedBytes = 0;

  // Output.
  private writes: Uint8Array[] = [];
  private deliveries: DataBatch[] = [];
  private openedOut: Hello | null = null;
  private closedOut: ChannelClosed | null = null;
  private writableOut = false;

  private counters = {
    sentFrames: 0,
    sentMessages: 0,
    sentBytes: 0,
    receivedFrames: 0,
    receivedMessages: 0,
    receivedBytes: 0,
  };

  constructor(options: ChannelOptions) {
    this.local = { protocolVersion: PROTOCOL_VERSION, ...options.local };
    this.expectedPeer = options.expectedPeer;
    this.windowMessages = positiveInt('windowMessages', options.windowMessages ?? DEFAULT_WINDOW_MESSAGES);
    this.windowBytes = positiveInt('windowBytes', options.windowBytes ?? DEFAULT_WINDOW_BYTES);
    this.maxQueuedBytes = positiveInt(
      'maxQueuedBytes',
      options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      Number.MAX_SAFE_INTEGER,
    );
    this.connection = options.connection ?? `channel of ${options.local.worker}`;
  }

  get state(): ChannelState {
    return this.st;
  }

  get peer(): Hello | null {
    return this.peerHello;
  }

  get canSend(): boolean {
    return this.st !== 'closed' && this.st !== 'closing' && this.queuedBytes < this.maxQueuedBytes;
  }

  get stats(): ChannelStats {
    return {
      ...this.counters,
      queuedBatches: this.queue.length - this.queueHead,
      queuedBytes: this.queuedBytes,
      sendCreditMessages: this.creditMessages,
      sendCreditBytes: this.creditBytes,
      unconsumedMessages: this.unconsumedMessages,
      unconsumedBytes: this.unconsumedBytes,
      grantedMessages: this.grantedMessages,
      grantedBytes: this.grantedBytes,
      owedMessages: this.ungrantedMessages,
      owedBytes: this.ungrantedBytes,
    };
  }

  step(event: ChannelEvent): void {
    switch (event.type) {
      case 'start':
        if (this.st !== 'new') throw new Error(`${this.connection}: start() called twice`);
        this.st = 'handshake';
        this.writes.push(framed(encodeHello(this.local)));
        return;
      case 'frame':
        if (this.st === 'closed') return;
        this.onFrame(event.payload);
        return;
      case 'send':
        this.onSend(event.body, event.messages);
        return;
      case 'consumed':
        this.onConsumed(event.messages, event.bytes);
        return;
      case 'close':
        if (this.st === 'closed' || this.st === 'closing') return;
        if ((this.st === 'open' || this.st === 'handshake') && this.queue.length > this.queueHead) {
          // Graceful: CLOSE goes out once the queued batches have been sent.
          this.st = 'closing';
          this.closeRequested = event.reason;
          return;
        }
        this.closeWith(CloseCode.Normal, event.reason, true, true);
        return;
      case 'transportClosed':
        if (this.st === 'closed') return;
        this.finish({
          code: CloseCode.Normal,
          reason: `${this.connection}: connection lost: ${event.reason}`,
          local: false,
          error: true,
        });
        return;
    }
  }

  ready(): Ready {
    const r: Ready = {
      writes: this.writes,
      deliveries: this.deliveries,
      opened: this.openedOut,
      closed: this.closedOut,
      writable: this.writableOut,
    };
    if (this.writes.length > 0) this.writes = [];
    if (this.deliveries.length > 0) this.deliveries = [];
    this.openedOut = null;
    this.closedOut = null;
    this.writableOut = false;
    return r;
  }

  private onSend(body: Uint8Array, messages: number): void {
    if (this.st === 'closed' || this.st === 'closing') {
      throw new Error(`${this.connection}: send on a ${this.st} channel`);
    }
    if (!Number.isInteger(messages) || messages < 1)
      throw new RangeError(`${this.connection}: a batch must hold at least one message, got ${messages}`);
    if (messages > this.windowMessages || body.length > this.windowBytes) {
      // Our window is the peer's default too; a batch above it could never be sent.
      throw new RangeError(
        `${this.connection}: batch of ${messages} messages / ${body.length} bytes exceeds the channel window ` +
          `(${this.windowMessages} messages / ${this.windowBytes} bytes); split it`,
      );
    }
    this.queue.push({ body, messages });
    this.queuedBytes += body.length;
    if (this.queuedBytes >= this.maxQueuedBytes) this.wasBlocked = true;
    this.flushQueue();
  }

  private flushQueue(): void {
    if (this.st !== 'open' && this.st !== 'closing') return;
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead]!;
      if (head.messages > this.creditMessages || head.body.length > this.creditBytes) break;
      this.queue[this.queueHead] = undefined as unknown as Queued;
      this.queueHead++;
      this.queuedBytes -= head.body.length;
      this.creditMessages -= head.messages;
      this.creditBytes -= head.body.length;
      const seq = this.nextSeq++;
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + DATA_HEADER_BYTES);
      writeFrameHeader(header, 0, DATA_HEADER_BYTES + head.body.length);
      header[4] = FrameType.Data;
      header.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 5);
      header.writeUInt32BE(seq >>> 0, 9);
      header.writeUInt32BE(head.messages, 13);
      this.writes.push(header);
      if (head.body.length > 0) this.writes.push(head.body);
      this.counters.sentFrames++;
      this.counters.sentMessages += head.messages;
      this.counters.sentBytes += head.body.length;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.wasBlocked && this.queuedBytes < this.maxQueuedBytes) {
      this.wasBlocked = false;
      this.writableOut = true;
    }
    if (this.st === 'closing' && this.queueHead === this.queue.length) {
      this.closeWith(CloseCode.Normal, this.closeRequested ?? 'closed', true, true);
    }
  }

  private onConsumed(messages: number, bytes: number): void {
    if (messages > this.unconsumedMessages || bytes > this.unconsumedBytes) {
      throw new Error(
        `${this.connection}: consumed ${messages} messages / ${bytes} bytes but only ${this.unconsumedMessages} / ${this.unconsumedBytes} were delivered and unconsumed`,
      );
    }
    this.unconsumedMessages -= messages;
    this.unconsumedBytes -= bytes;
    this.ungrantedMessages += messages;
    this.ungrantedBytes += bytes;
    if (this.st !== 'open' && this.st !== 'closing') return;
    const half =
      this.ungrantedMessages * 2 >= this.windowMessages || this.ungrantedBytes * 2 >= this.windowBytes;
    const drained = this.unconsumedMessages === 0 && (this.ungrantedMessages > 0 || this.ungrantedBytes > 0);
    if (half || drained) this.grant();
  }

  private grant(): void {
    const m = this.ungrantedMessages;
    const b = this.ungrantedBytes;
    this.ungrantedMessages = 0;
    this.ungrantedBytes = 0;
    this.grantedMessages += m;
    this.grantedBytes += b;
    this.writes.push(creditFrame(m, b));
  }

  private onFrame(p: Uint8Array): void {
    if (p.length === 0) return this.protocolError('empty frame');
    const type = p[0];
    if (type === FrameType.Hello) {
      if (this.peerHello !== null) return this.protocolError('second HELLO');
      const hello = decodeHello(p);
      if (typeof hello === 'string') return this.protocolError(hello);
      const problem = this.checkHello(hello);
      if (problem !== null) {
        this.peerHello = hello;
        return this.closeWith(
          CloseCode.Rejected,
          `${this.connection}: rejected hello from worker '${hello.worker}': ${problem}`,
          true,
          true,
        );
      }
      this.peerHello = hello;
      this.openedOut = hello;
      if (this.st === 'handshake' || this.st === 'new') this.st = 'open';
      // Initial window for the peer.
      this.ungrantedMessages += this.windowMessages;
      this.ungrantedBytes += this.windowBytes;
      this.grant();
      this.flushQueue();
      return;
    }
    if (type === FrameType.Close) {
      if (p.length < 2) return this.protocolError('CLOSE frame without a code');
      const code = p[1]!;
      const reason = Buffer.from(p.buffer, p.byteOffset + 2, p.byteLength - 2).toString('utf8');
      const known =
        code === CloseCode.Normal || code === CloseCode.Rejected || code === CloseCode.ProtocolError;
      const c = (known ? code : CloseCode.ProtocolError) as CloseCodeValue;
      const peer = this.peerHello ? `worker '${this.peerHello.worker}'` : 'the peer';
      const what =
        c === CloseCode.Rejected
          ? `${peer} rejected this connection`
          : c === CloseCode.ProtocolError
            ? `${peer} reported a protocol error`
            : `${peer} closed the channel`;
      this.finish({
        code: c,
        reason: `${this.connection}: ${what}: ${reason}`,
        local: false,
        error: c !== CloseCode.Normal,
      });
      return;
    }
    if (this.peerHello === null) return this.protocolError(`frame type ${type} before HELLO`);
    if (type === FrameType.Data) {
      if (p.length < DATA_HEADER_BYTES)
        return this.protocolError(`DATA frame of ${p.length} bytes is shorter than its header`);
      const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      const seq = b.readUInt32BE(1) * 0x1_0000_0000 + b.readUInt32BE(5);
      const messages = b.readUInt32BE(9);
      const body = p.subarray(DATA_HEADER_BYTES);
      if (seq !== this.expectedSeq)
        return this.protocolError(`DATA frame seq ${seq}, expected ${this.expectedSeq}`);
      if (messages < 1) return this.protocolError(`DATA frame seq ${seq} holds no messages`);
      if (messages > this.grantedMessages || body.length > this.grantedBytes) {
        return this.protocolError(
          `DATA frame seq ${seq} (${messages} messages, ${body.length} bytes) exceeds the granted credit (${this.grantedMessages} messages, ${this.grantedBytes} bytes)`,
        );
      }
      this.expectedSeq++;
      this.grantedMessages -= messages;
      this.grantedBytes -= body.length;
      this.unconsumedMessages += messages;
      this.unconsumedBytes += body.length;
      this.counters.receivedFrames++;
      this.counters.receivedMessages += messages;
      this.counters.receivedBytes += body.length;
      this.deliveries.push({ seq, messages, body });
      return;
    }
    if (type === FrameType.Credit) {
      if (p.length !== 9) return this.protocolError(`CREDIT frame of ${p.length} bytes, expected 9`);
      const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      const m = b.readUInt32BE(1);
      const bytes = b.readUInt32BE(5);
      if (this.creditMessages + m > U32_MAX * 2 || this.creditBytes + bytes > U32_MAX * 2) {
        return this.protocolError('CREDIT overflows the window');
      }
      this.creditMessages += m;
      this.creditBytes += bytes;
      this.flushQueue();
      return;
    }
    return this.protocolError(`unknown frame type ${type}`);
  }

  private checkHello(h: Hello): string | null {
    if (h.protocolVersion !== PROTOCOL_VERSION)
      return `protocol version ${h.protocolVersion}, this worker speaks ${PROTOCOL_VERSION}`;
    if (h.cluster !== this.local.cluster)
      return `cluster '${h.cluster}' is not this worker's cluster '${this.local.cluster}'`;
    if (h.app !== this.local.app)
      return `application '${h.app}' is not this worker's application '${this.local.app}'`;
    if (this.expectedPeer !== undefined && h.worker !== this.expectedPeer)
      return `expected worker '${this.expectedPeer}', got '${h.worker}'`;
    return null;
  }

  private protocolError(detail: string): void {
    const peer = this.peerHello ? ` (worker '${this.peerHello.worker}')` : '';
    this.closeWith(
      CloseCode.ProtocolError,
      `${this.connection}${peer}: protocol error: ${detail}`,
      true,
      true,
    );
  }

  private closeWith(code: CloseCodeValue, reason: string, local: boolean, sendFrame: boolean): void {
    if (sendFrame && this.st !== 'new') this.writes.push(closeFrame(code, reason));
    this.finish({ code, reason, local, error: code !== CloseCode.Normal });
  }

  private finish(closed: ChannelClosed): void {
    this.st = 'closed';
    this.closedOut = closed;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
  }
}
