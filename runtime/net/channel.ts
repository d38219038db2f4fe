// The data channel between two workers as a protocol core: no socket, no timer, no clock. (One
// file past 800 lines: the interfaces the shells drive and the one class that implements them
// change together; the frames' layout is in frames.ts.) The
// protocol is specs/Delivery.tla, and this core runs its two machines, one per direction:
// machines/delivery-sender.ts for what this side sends and machines/delivery-receiver.ts for
// what it receives. The machines decide (sequence numbers, kept frames, resend from the
// resume point, in-order exactly-once delivery, cumulative acks, credit); this module only
// translates between them and bytes-level frames, checks the peer's identity, and answers
// protocol violations by closing. A shell (runtime/net/endpoint.ts over a transport: TCP in
// runtime/net/tcp-channel.ts, in memory in runtime/net/test-transport.ts) feeds it events and
// drains `ready()`: bytes to write, batches to deliver, whether the channel opened, closed,
// or can take more input (etcd/raft's Ready style).
//
// The frames (HELLO, DATA, ACK, CLOSE) and their layout are in runtime/net/frames.ts; this
// module re-exports what the shells and the conformance suite use.
//
// Events per batch of frames, never per message: the batches sent since the last ready() enter
// the sender machine in one Send event and go out in one Transmit; the DATA frames that arrived
// together enter the receiver machine in one ReceiveData; one Consume per consumption report,
// one event per ACK. Batches the sender machine cannot keep yet (its window of unacknowledged
// frames is full) wait in `pending`, which the shell bounds by waiting for `writable`; they
// enter the machine, in order, as acknowledgements free room.
//
// Reconnecting after a lost connection (the machines' Connect after Break: the handshake says
// where to resume) is what the protocol is built for; without the `reconnect` option this core
// closes for good on a lost connection, with it a later shell attaches a new transport to the
// same machines.
//
// Incarnations: every process draws one (newIncarnation, from its Random) and says it in HELLO,
// with the incarnation of the peer this side's channel state belongs to (`lastPeer`, 0 when the
// state is fresh). A peer that restarted lost its channel state; resending it frames meant for
// its previous incarnation could hand its engine a gap, and its handshake (resume from 0) does
// not fit this side's sender. So when a HELLO names another incarnation than `lastPeer`, both
// directions start fresh: new machines, kept and queued frames dropped (Ready.peerRestarted
// says how many), and the fresh receiver's credit goes out in an ACK. The peer decides the
// same from this side's HELLO (its `peerIncarnation` is not ours): it takes this side's
// handshake as stale, connects from 0 without credit, and waits for that ACK. Replaying what
// the restarted worker needs is the engine's (watermarks, docs/exactly-once.md).

import { createActor, type Actor, type InspectionEvent } from 'xstate';
import {
  deliverySenderMachine,
  drainSenderOutbox,
  keptCount,
  type DeliverySenderContext,
  type KeptFrame,
} from '../../machines/delivery-sender.ts';
import {
  deliveryReceiverMachine,
  drainReceiverOutbox,
  type DeliveryReceiverContext,
} from '../../machines/delivery-receiver.ts';
import {
  PROTOCOL_VERSION,
  FrameType,
  CloseCode,
  FRESH_HANDSHAKE,
  encodeHello,
  decodeHello,
  helloIdentity,
  newIncarnation,
  ackFrame,
  closeFrame,
  dataHeader,
  decodeData,
  decodeAck,
  framed,
  type CloseCodeValue,
  type DataBatch,
  type Hello,
} from './frames.ts';
import type { DeliveryRecorder, ReceiverRecord, SenderRecord } from '../sim/record.ts';

export {
  PROTOCOL_VERSION,
  FrameType,
  CloseCode,
  FRESH_HANDSHAKE,
  encodeHello,
  decodeHello,
  helloIdentity,
  newIncarnation,
  ackFrame,
  dataHeader,
  decodeData,
  decodeAck,
};
export type { AckInfo, CloseCodeValue, Hello, DataBatch, HelloFrame, HelloIdentity } from './frames.ts';

export interface ChannelClosed {
  readonly code: CloseCodeValue;
  /** Human-readable reason; for errors it names the peer and what was wrong. */
  readonly reason: string;
  /** True when this side decided to close, false when the peer sent CLOSE or went away. */
  readonly local: boolean;
  /** True for rejected handshakes, protocol errors and lost connections. */
  readonly error: boolean;
}

/** What the shell must do after feeding events. */
export interface Ready {
  /** Byte chunks to write to the transport, in order (complete frames, headers included). */
  readonly writes: Uint8Array[];
  /** Batches received from the peer, in sequence order, each once, to hand to the application. */
  readonly deliveries: DataBatch[];
  /** The peer's hello, each time a connection's handshake completes. */
  readonly opened: Hello | null;
  /** Set once, when the channel closes; the shell then closes the transport after writing `writes`. */
  readonly closed: ChannelClosed | null;
  /** Set when a connection was lost and the channel waits for a new one (`reconnect` option). */
  readonly disconnected: string | null;
  /** True when the send queue dropped below its bound since the last ready() (producers may resume). */
  readonly writable: boolean;
  /** Set when the peer's HELLO showed a restart: the channel started fresh in both directions. */
  readonly peerRestarted: PeerRestart | null;
  /**
   * Option `deferAck` only: consumed batches wait for an ACK, which the shell sends with the
   * `acknowledge` event (its ack timer). Not an action of its own: the shell needs no pass for it.
   */
  readonly ackOwed?: boolean;
}

/** A peer that came back as a new incarnation, and what this side dropped of the old one. */
export interface PeerRestart {
  readonly worker: string;
  readonly previousIncarnation: number;
  readonly incarnation: number;
  /** Batches that were meant for the previous incarnation (kept unacknowledged or queued), dropped. */
  readonly droppedFrames: number;
  readonly droppedMessages: number;
  readonly droppedBytes: number;
  /** Batches the previous incarnation sent that the application still holds (their credit is void). */
  readonly abandonedFrames: number;
}

export type ChannelEvent =
  /** A connection (a fresh transport) is there: send HELLO. */
  | { readonly type: 'start' }
  /** A frame's payload; `offset`, where the frame starts in the connection's byte stream, names it in errors. */
  | { readonly type: 'frame'; readonly payload: Uint8Array; readonly offset?: number }
  | { readonly type: 'send'; readonly body: Uint8Array; readonly messages: number }
  /**
   * The application finished with `frames` delivered batches holding `messages` / `bytes`;
   * `epoch` (the core's `epoch` when they were delivered): ignored if the peer restarted since.
   */
  | {
      readonly type: 'consumed';
      readonly frames: number;
      readonly messages: number;
      readonly bytes: number;
      readonly epoch?: number;
    }
  /** Put up to `max` kept frames on the wire, within credit (policy `manual`; `eager` does it itself). */
  | { readonly type: 'transmit'; readonly max?: number }
  /** Send the current ACK now (the shell's acknowledgement timer). */
  | { readonly type: 'acknowledge' }
  /** Go back to the oldest unacknowledged frame (the shell's retransmission timer). */
  | { readonly type: 'retransmit' }
  | { readonly type: 'close'; readonly reason: string }
  | { readonly type: 'transportClosed'; readonly reason: string };

/** The protocol seam the shells drive. */
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
  /**
   * How many times the peer restarted (Ready.peerRestarted); batches delivered before the
   * last restart are not reported `consumed` any more.
   */
  readonly epoch: number;
}

/** `disconnected`: a connection was lost, the machines keep their state for the next one. */
export type ChannelState = 'new' | 'handshake' | 'open' | 'disconnected' | 'closing' | 'closed';

export interface ChannelStats {
  /** DATA frames, messages and body bytes put on the wire for the first time. */
  readonly sentFrames: number;
  readonly sentMessages: number;
  readonly sentBytes: number;
  /** DATA frames put on the wire again (after a reconnect or a retransmission). */
  readonly resentFrames: number;
  /** Batches delivered to the application (each once). */
  readonly receivedFrames: number;
  readonly receivedMessages: number;
  readonly receivedBytes: number;
  /** DATA frames dropped as duplicates or from beyond a gap. */
  readonly droppedFrames: number;
  /** Batches not yet on the wire: waiting to enter the sender machine, or kept and waiting for credit. */
  readonly queuedBatches: number;
  /** Bytes of batches waiting to enter the sender machine (the bound `canSend` checks). */
  readonly queuedBytes: number;
  /** Frames the sender machine keeps (not acknowledged), and their body bytes. */
  readonly unackedFrames: number;
  readonly unackedBytes: number;
  /** The sender's cumulative ack and credit limit (frames). */
  readonly ackedFrames: number;
  readonly sendLimit: number;
  /** Delivered to the application and not yet consumed. */
  readonly unconsumedFrames: number;
  readonly unconsumedMessages: number;
  readonly unconsumedBytes: number;
  /** Consumed since the last ACK (frames, bytes). */
  readonly owedFrames: number;
  readonly owedBytes: number;
}

export interface ChannelOptions {
  /**
   * This side's identity, sent in HELLO; `incarnation` is the process's (newIncarnation, drawn
   * once per process start). Without one (0) a restart of this process is not recognised.
   */
  readonly local: Omit<Hello, 'protocolVersion'>;
  /** The peer worker's name when known in advance (outgoing connections); checked against its hello. */
  readonly expectedPeer?: string;
  /** The spec's Window: frames received and not consumed at most, and frames kept unacknowledged. */
  readonly windowFrames?: number;
  /** Receive window in body bytes. Batches larger than it cannot be sent. */
  readonly windowBytes?: number;
  /** Bytes of batches waiting to enter the sender (`canSend` turns false at or above it), and of kept frames. */
  readonly maxQueuedBytes?: number;
  /**
   * When the core takes the spec's Transmit and Acknowledge steps: `eager` (default) transmits
   * whatever credit allows after every change and acknowledges once half the window is
   * consumed or nothing is left to consume; `manual` only on the `transmit` and `acknowledge`
   * events (the conformance suite drives every spec action one at a time).
   */
  readonly policy?: 'eager' | 'manual';
  /**
   * Policy `eager` only: when the application has consumed everything delivered but less than
   * half the window, leave the ACK to the shell (`Ready.ackOwed`; it sends `acknowledge` after
   * a short delay, runtime/net/endpoint.ts `ackDelayMs`), so that one ACK answers the batches of
   * that delay instead of one ACK per batch. Half the window consumed still acknowledges at once:
   * the sender keeps at least half its credit. The spec's Acknowledge is enabled whenever
   * something is owed, so a later ACK is a behaviour of Delivery.tla too. Default false.
   */
  readonly deferAck?: boolean;
  /**
   * The transport keeps order and loses nothing while connected (TCP, the in-memory test link):
   * a DATA frame from beyond a gap can then only come from a broken peer, and resets the
   * connection. Default false (a lossy transport: the frame is dropped, as in the spec).
   */
  readonly fifo?: boolean;
  /** Keep the protocol state when the connection is lost and wait for a new one (`start`). */
  readonly reconnect?: boolean;
  /** Names the connection in errors, e.g. `data channel w1 -> w2`. */
  readonly connection?: string;
  /**
   * Records every step of the Delivery machines and every batch handed to the application
   * (trace validation, runtime/sim/record.ts); nothing is recorded without it.
   */
  readonly recorder?: DeliveryRecorder;
}

/** The most messages one batch may hold (a DATA frame counts them in a u32). */
export const DEFAULT_WINDOW_MESSAGES = 1 << 20;
export const DEFAULT_WINDOW_FRAMES = 4096;
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

const U32_MAX = 0xffff_ffff;

interface Queued {
  readonly body: Uint8Array;
  readonly messages: number;
}

function positiveInt(name: string, v: number, max = U32_MAX): number {
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new RangeError(`${name} must be an integer between 1 and ${max}, got ${v}`);
  return v;
}

/** Deliberately broken variants of the core, for the conformance suite's mutation tests only. */
export type DeliveryMutation =
  /** The receiver delivers a duplicate again (its duplicate check removed). */
  | 'no-dedup'
  /** The sender drops a kept frame from its buffer before it is acknowledged. */
  | 'drop-unacked'
  /** A resend (retransmission or reconnect) starts one frame too late. */
  | 'resend-off-by-one'
  /** A reconnect ignores the peer's resume point (resends from where the last connection stopped). */
  | 'forget-resume';

export interface DeliveryCoreOptions extends ChannelOptions {
  /** For tests of the conformance suite only: run a broken variant. */
  readonly mutation?: DeliveryMutation;
}

/** The channel core: the Delivery sender and receiver machines, and frames to and from them. */
export class DeliveryChannelCore implements ChannelCore {
  private senderActor: Actor<typeof deliverySenderMachine>;
  private receiverActor: Actor<typeof deliveryReceiverMachine>;
  readonly connection: string;
  private st: ChannelState = 'new';
  private peerHello: Hello | null = null;
  private readonly local: Hello;
  private readonly expectedPeer: string | undefined;
  private readonly windowFrames: number;
  private readonly windowBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly reconnect: boolean;
  private readonly eager: boolean;
  private readonly deferAck: boolean;
  private readonly fifo: boolean;
  /** Where the frame being handled starts in the byte stream (when the shell said). */
  private frameOffset: number | undefined = undefined;
  /** Where each DATA frame of `inbound` starts in the byte stream (same index; -1: unknown).
   * One array for the life of the core: the receive path allocates nothing per flush for it. */
  private readonly inboundAt: number[] = [];
  private readonly mutation: DeliveryMutation | undefined;
  private readonly recorder: DeliveryRecorder | undefined;
  /** The incarnation of the peer the machines' state belongs to; null while fresh. */
  private lastPeer: number | null = null;
  private epochCount = 0;
  /** Frames the receiver machines before the last restart dropped (the stats count on). */
  private droppedBefore = 0;

  // Batches waiting to enter the sender machine.
  private pending: Queued[] = [];
  private pendingHead = 0;
  private pendingBytes = 0;
  private wasBlocked = false;
  private closeRequested: string | null = null;
  /** The highest frame ever put on the wire (to count first transmissions and resends apart). */
  private highestSent = 0;

  /** DATA frames received and not yet handed to the receiver machine (see flushInbound). */
  private inbound: DataBatch[] = [];

  // Receiving side, as the application sees it.
  private unconsumedFrames = 0;
  private unconsumedMessages = 0;
  private unconsumedBytes = 0;
  private owedFrames = 0;
  private owedBytes = 0;

  // Output.
  private writes: Uint8Array[] = [];
  private deliveries: DataBatch[] = [];
  private openedOut: Hello | null = null;
  private closedOut: ChannelClosed | null = null;
  private disconnectedOut: string | null = null;
  private writableOut = false;
  private restartOut: PeerRestart | null = null;

  private counters = {
    sentFrames: 0,
    sentMessages: 0,
    sentBytes: 0,
    resentFrames: 0,
    receivedFrames: 0,
    receivedMessages: 0,
    receivedBytes: 0,
  };

  constructor(options: DeliveryCoreOptions) {
    this.local = { protocolVersion: PROTOCOL_VERSION, ...options.local };
    this.expectedPeer = options.expectedPeer;
    this.windowFrames = positiveInt('windowFrames', options.windowFrames ?? DEFAULT_WINDOW_FRAMES);
    this.windowBytes = positiveInt('windowBytes', options.windowBytes ?? DEFAULT_WINDOW_BYTES);
    this.maxQueuedBytes = positiveInt(
      'maxQueuedBytes',
      options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      Number.MAX_SAFE_INTEGER,
    );
    this.reconnect = options.reconnect ?? false;
    this.eager = (options.policy ?? 'eager') === 'eager';
    this.deferAck = this.eager && (options.deferAck ?? false);
    this.fifo = options.fifo ?? false;
    this.mutation = options.mutation;
    // A recorder shared by every core of a process says which core a record is from.
    this.recorder = options.recorder?.forCore
      ? options.recorder.forCore({
          worker: options.local.worker,
          incarnation: options.local.incarnation ?? 0,
        })
      : options.recorder;
    this.connection = options.connection ?? `channel of ${options.local.worker}`;
    this.senderActor = this.newSender();
    this.receiverActor = this.newReceiver();
  }

  private newSender(): Actor<typeof deliverySenderMachine> {
    const rec = this.recorder;
    return createActor(deliverySenderMachine, {
      input: { window: this.windowFrames, maxBufferedBytes: this.maxQueuedBytes },
      ...(rec
        ? {
            inspect: (e: InspectionEvent) => {
              if (e.type === '@xstate.snapshot' && e.event.type !== 'xstate.init')
                rec.record(
                  senderRecord(
                    e.event.type,
                    (e.snapshot as unknown as SnapshotOf<DeliverySenderContext>).context,
                  ),
                );
            },
          }
        : {}),
    }).start();
  }

  private newReceiver(): Actor<typeof deliveryReceiverMachine> {
    const rec = this.recorder;
    return createActor(deliveryReceiverMachine, {
      input: { window: this.windowFrames, windowBytes: this.windowBytes },
      ...(rec
        ? {
            inspect: (e: InspectionEvent) => {
              if (e.type === '@xstate.snapshot' && e.event.type !== 'xstate.init')
                rec.record(
                  receiverRecord(
                    e.event.type,
                    (e.snapshot as unknown as SnapshotOf<DeliveryReceiverContext>).context,
                  ),
                );
            },
          }
        : {}),
    }).start();
  }

  /** The sender machine (a new one after the peer restarted). */
  get sender(): Actor<typeof deliverySenderMachine> {
    return this.senderActor;
  }

  /** The receiver machine (a new one after the peer restarted). */
  get receiver(): Actor<typeof deliveryReceiverMachine> {
    return this.receiverActor;
  }

  get epoch(): number {
    return this.epochCount;
  }

  get state(): ChannelState {
    return this.st;
  }

  get peer(): Hello | null {
    return this.peerHello;
  }

  get canSend(): boolean {
    return this.st !== 'closed' && this.st !== 'closing' && this.pendingBytes < this.maxQueuedBytes;
  }

  /** The sender machine's context (read only: the machine is its only writer). */
  get senderState(): DeliverySenderContext {
    return this.sender.getSnapshot().context;
  }

  /** The receiver machine's context (read only). */
  get receiverState(): DeliveryReceiverContext {
    return this.receiver.getSnapshot().context;
  }

  get stats(): ChannelStats {
    const s = this.senderState;
    const r = this.receiverState;
    const c = this.counters;
    // Every field named: a spread of the counters followed by more fields made this getter
    // about 11 us a call (V8's object-literal path), and the shells poll it.
    return {
      sentFrames: c.sentFrames,
      sentMessages: c.sentMessages,
      sentBytes: c.sentBytes,
      resentFrames: c.resentFrames,
      receivedFrames: c.receivedFrames,
      receivedMessages: c.receivedMessages,
      receivedBytes: c.receivedBytes,
      droppedFrames: this.droppedBefore + r.dropped,
      queuedBatches:
        this.pending.length - this.pendingHead + (s.next - 1 - Math.max(this.highestSent, s.acked)),
      queuedBytes: this.pendingBytes,
      unackedFrames: keptCount(s),
      unackedBytes: s.bufferedBytes,
      ackedFrames: s.acked,
      sendLimit: s.limit,
      unconsumedFrames: this.unconsumedFrames,
      unconsumedMessages: this.unconsumedMessages,
      unconsumedBytes: this.unconsumedBytes,
      owedFrames: this.owedFrames,
      owedBytes: this.owedBytes,
    };
  }

  step(event: ChannelEvent): void {
    // DATA frames wait for the next flush; everything else sees them first, in order.
    if (event.type !== 'frame' && event.type !== 'send') this.flushInbound();
    switch (event.type) {
      case 'start':
        if (this.st !== 'new' && this.st !== 'disconnected')
          throw new Error(`${this.connection}: start() on a ${this.st} channel`);
        this.st = 'handshake';
        this.peerHello = null;
        // The HELLO carries the receiver's ack and credit: nothing is owed any more.
        this.owedFrames = 0;
        this.owedBytes = 0;
        this.receiver.send({ type: 'Connect' });
        this.drainReceiver();
        return;
      case 'frame':
        if (this.st === 'closed' || this.st === 'disconnected' || this.st === 'new') return;
        this.frameOffset = event.offset;
        this.onFrame(event.payload);
        this.frameOffset = undefined;
        return;
      case 'send':
        this.onSend(event.body, event.messages);
        return;
      case 'consumed':
        if (event.epoch !== undefined && event.epoch !== this.epochCount) return;
        this.onConsumed(event.frames, event.messages, event.bytes);
        return;
      case 'transmit':
        if (this.st !== 'open' && this.st !== 'closing') return;
        this.transmit(event.max ?? 1);
        this.closeIfDone();
        return;
      case 'acknowledge':
        if (this.st !== 'open' && this.st !== 'closing') return;
        this.acknowledge();
        return;
      case 'retransmit':
        if (this.st !== 'open' && this.st !== 'closing') return;
        this.sender.send({ type: 'Retransmit' });
        if (this.mutation === 'resend-off-by-one') this.skipOne();
        this.pumpSend();
        return;
      case 'close':
        if (this.st === 'closed' || this.st === 'closing') return;
        if (this.st === 'disconnected' || this.st === 'new') {
          this.finish({ code: CloseCode.Normal, reason: event.reason, local: true, error: false });
          return;
        }
        if (this.untransmitted() > 0) {
          // Graceful: CLOSE goes out once every batch is on the wire.
          this.st = 'closing';
          this.closeRequested = event.reason;
          return;
        }
        this.closeWith(CloseCode.Normal, event.reason);
        return;
      case 'transportClosed':
        if (this.st === 'closed' || this.st === 'disconnected') return;
        this.lost(`${this.connection}: connection lost: ${event.reason}`);
        return;
    }
  }

  ready(): Ready {
    this.flushInbound();
    if (this.pendingHead < this.pending.length && this.st !== 'closed') this.pumpSend();
    const r: Ready = {
      writes: this.writes,
      deliveries: this.deliveries,
      opened: this.openedOut,
      closed: this.closedOut,
      disconnected: this.disconnectedOut,
      writable: this.writableOut,
      peerRestarted: this.restartOut,
      ackOwed: this.deferAck && this.owedFrames > 0 && (this.st === 'open' || this.st === 'closing'),
    };
    if (this.writes.length > 0) this.writes = [];
    if (this.deliveries.length > 0) this.deliveries = [];
    this.openedOut = null;
    this.closedOut = null;
    this.disconnectedOut = null;
    this.writableOut = false;
    this.restartOut = null;
    return r;
  }

  /** Batches not yet on the wire: pending, and kept but never transmitted. */
  private untransmitted(): number {
    const s = this.senderState;
    return this.pending.length - this.pendingHead + Math.max(0, s.next - s.tx);
  }

  private onSend(body: Uint8Array, messages: number): void {
    if (this.st === 'closed' || this.st === 'closing') {
      throw new Error(`${this.connection}: send on a ${this.st} channel`);
    }
    if (!Number.isInteger(messages) || messages < 1 || messages > DEFAULT_WINDOW_MESSAGES)
      throw new RangeError(
        `${this.connection}: a batch must hold 1 to ${DEFAULT_WINDOW_MESSAGES} messages, got ${messages}`,
      );
    if (body.length > this.windowBytes) {
      // Our window is the peer's default too; a batch above it could never be sent.
      throw new RangeError(
        `${this.connection}: batch of ${messages} messages / ${body.length} bytes exceeds the channel window ` +
          `(${this.windowBytes} bytes); split it`,
      );
    }
    // Into the sender machine at the next ready(), with every batch sent until then (one event).
    this.pending.push({ body, messages });
    this.pendingBytes += body.length;
    if (this.pendingBytes >= this.maxQueuedBytes) this.wasBlocked = true;
  }

  /** Moves pending batches into the sender machine while it has room, then transmits what credit allows. */
  private pumpSend(): void {
    if (this.pendingHead < this.pending.length) {
      // One event for every waiting batch: the machine keeps as many as it has room for.
      const before = this.senderState.next;
      const batches = this.pendingHead === 0 ? this.pending : this.pending.slice(this.pendingHead);
      this.sender.send({ type: 'Send', batches });
      const taken = this.senderState.next - before;
      for (let i = 0; i < taken; i++) {
        this.pendingBytes -= this.pending[this.pendingHead]!.body.length;
        this.pending[this.pendingHead] = undefined as unknown as Queued;
        this.pendingHead++;
      }
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    if (this.wasBlocked && this.pendingBytes < this.maxQueuedBytes) {
      this.wasBlocked = false;
      this.writableOut = true;
    }
    if (this.st !== 'open' && this.st !== 'closing') return;
    if (this.eager) {
      const s = this.senderState;
      if (s.tx < s.next && s.tx <= s.limit) this.transmit(Number.MAX_SAFE_INTEGER);
    }
    this.closeIfDone();
  }

  private transmit(max: number): void {
    this.sender.send({ type: 'Transmit', max });
    if (this.mutation === 'drop-unacked') this.dropOldest();
    this.drainSender();
  }

  private closeIfDone(): void {
    if (this.st === 'closing' && this.untransmitted() === 0) {
      this.closeWith(CloseCode.Normal, this.closeRequested ?? 'closed');
    }
  }

  private drainSender(): void {
    for (const o of drainSenderOutbox(this.senderState)) {
      if (o.kind === 'violation') {
        this.protocolError(o.detail);
        return;
      }
      this.writeData(o.frame);
    }
  }

  private writeData(f: KeptFrame): void {
    this.writes.push(dataHeader(f.seq, f.messages, f.body.length));
    if (f.body.length > 0) this.writes.push(f.body);
    if (f.seq > this.highestSent) {
      this.highestSent = f.seq;
      this.counters.sentFrames++;
      this.counters.sentMessages += f.messages;
      this.counters.sentBytes += f.body.length;
    } else {
      this.counters.resentFrames++;
    }
  }

  /** Where the flushed DATA frame `seq` started in the byte stream (for error messages). */
  private offsetOf(flushed: readonly DataBatch[] | undefined, seq: number): number | undefined {
    if (flushed === undefined) return undefined;
    for (let i = 0; i < flushed.length; i++) {
      if (flushed[i]!.seq === seq) {
        const at = this.inboundAt[i];
        return at !== undefined && at >= 0 ? at : undefined;
      }
    }
    return undefined;
  }

  /** `flushed`: the DATA frames that just entered the receiver machine (their offsets name them in errors). */
  private drainReceiver(flushed?: readonly DataBatch[]): void {
    for (const o of drainReceiverOutbox(this.receiverState)) {
      switch (o.kind) {
        case 'deliver': {
          const batch: DataBatch = { seq: o.seq, messages: o.messages, body: o.body };
          this.unconsumedFrames++;
          this.unconsumedMessages += o.messages;
          this.unconsumedBytes += o.body.length;
          this.counters.receivedFrames++;
          this.counters.receivedMessages += o.messages;
          this.counters.receivedBytes += o.body.length;
          this.deliveries.push(batch);
          this.recorder?.record({ p: 'delivery', role: 'app', ev: 'deliver', seq: o.seq });
          break;
        }
        case 'ack':
          this.writes.push(ackFrame(o.ack));
          break;
        case 'hello':
          this.writes.push(framed(encodeHello(this.local, o.ack, this.lastPeer ?? 0)));
          break;
        case 'dropped':
          if (this.fifo && o.why === 'gap') {
            this.protocolError(
              `DATA frame ${o.seq} from the future: the next frame in order is ${this.receiverState.delivered + 1}, and this connection loses nothing`,
              this.offsetOf(flushed, o.seq),
            );
            return;
          }
          break;
        case 'violation':
          this.protocolError(o.detail, o.seq !== undefined ? this.offsetOf(flushed, o.seq) : undefined);
          return;
      }
    }
  }

  private onConsumed(frames: number, messages: number, bytes: number): void {
    if (
      frames > this.unconsumedFrames ||
      messages > this.unconsumedMessages ||
      bytes > this.unconsumedBytes
    ) {
      throw new Error(
        `${this.connection}: consumed ${frames} batches / ${messages} messages / ${bytes} bytes but only ` +
          `${this.unconsumedFrames} / ${this.unconsumedMessages} / ${this.unconsumedBytes} were delivered and unconsumed`,
      );
    }
    if (frames === 0) return;
    this.receiver.send({ type: 'Consume', frames, bytes });
    this.unconsumedFrames -= frames;
    this.unconsumedMessages -= messages;
    this.unconsumedBytes -= bytes;
    this.owedFrames += frames;
    this.owedBytes += bytes;
    if (!this.eager || (this.st !== 'open' && this.st !== 'closing')) return;
    // Fewer, larger ACKs: once half the window is owed, or nothing is left to consume (with
    // `deferAck`, the shell's ack timer says when: Ready.ackOwed).
    const half = this.owedFrames * 2 >= this.windowFrames || this.owedBytes * 2 >= this.windowBytes;
    if (half || (this.unconsumedFrames === 0 && !this.deferAck)) this.acknowledge();
  }

  private acknowledge(): void {
    this.owedFrames = 0;
    this.owedBytes = 0;
    this.receiver.send({ type: 'Acknowledge' });
    this.drainReceiver();
  }

  /** Mutation `drop-unacked` only: the oldest transmitted frame leaves the buffer unacknowledged. */
  private dropOldest(): void {
    const s = this.senderState as { -readonly [K in keyof DeliverySenderContext]: DeliverySenderContext[K] };
    if (keptCount(s) < 1 || s.tx <= s.acked + 1) return;
    s.bufferedBytes -= s.buf[s.head]!.body.length;
    s.head++;
    s.acked++;
  }

  /** Mutation `resend-off-by-one` only: the resend skips the oldest frame it should send. */
  private skipOne(): void {
    const s = this.senderState;
    if (s.tx < s.next) (s as { tx: number }).tx = s.tx + 1;
  }

  /** The DATA frames received since the last flush, into the receiver machine in one event. */
  private flushInbound(): void {
    if (this.inbound.length === 0) return;
    const frames = this.inbound;
    this.inbound = [];
    if (this.st !== 'closed') {
      this.receiver.send({ type: 'ReceiveData', frames });
      this.drainReceiver(frames);
    }
    this.inboundAt.length = 0;
  }

  private onFrame(p: Uint8Array): void {
    if (p.length === 0) return this.protocolError('empty frame');
    const type = p[0];
    if (type !== FrameType.Data) {
      this.flushInbound();
      if (this.state === 'closed') return; // the flushed frames broke the protocol
    }
    if (type === FrameType.Hello) {
      if (this.peerHello !== null) return this.protocolError('second HELLO');
      const id = helloIdentity(p);
      if (typeof id === 'string') return this.protocolError(id);
      if (id.protocolVersion !== PROTOCOL_VERSION) {
        this.peerHello = {
          protocolVersion: id.protocolVersion,
          cluster: id.cluster,
          app: id.app,
          worker: id.worker,
        };
        return this.closeWith(
          CloseCode.Rejected,
          `${this.connection}: rejected hello from worker '${id.worker}': it speaks data channel protocol ` +
            `version ${id.protocolVersion}, this worker speaks ${PROTOCOL_VERSION} (version 3 added process ` +
            `incarnations to HELLO); run the same buffy release on every worker`,
        );
      }
      const decoded = decodeHello(p);
      if (typeof decoded === 'string') return this.protocolError(decoded);
      const { hello } = decoded;
      const problem = this.checkHello(hello);
      this.peerHello = hello;
      if (problem !== null) {
        return this.closeWith(
          CloseCode.Rejected,
          `${this.connection}: rejected hello from worker '${hello.worker}': ${problem}`,
        );
      }
      const incarnation = hello.incarnation ?? 0;
      if (this.lastPeer !== null && this.lastPeer !== incarnation)
        this.restartFor(hello.worker, this.lastPeer, incarnation);
      else if (this.lastPeer === null)
        this.recorder?.record({ p: 'delivery', role: 'core', ev: 'peer', worker: hello.worker, incarnation });
      this.lastPeer = incarnation;
      // The peer's state belongs to another incarnation of this process: it starts fresh on our
      // HELLO, so its handshake is void; its ACK brings the fresh receiver's credit.
      const mine = this.local.incarnation ?? 0;
      const handshake =
        decoded.peerIncarnation !== 0 && decoded.peerIncarnation !== mine
          ? FRESH_HANDSHAKE
          : decoded.handshake;
      const resume =
        this.mutation === 'forget-resume' ? Math.max(this.senderState.tx - 1, handshake.ack) : handshake.ack;
      this.sender.send({ type: 'Connect', resume, limit: handshake.limit, limitBytes: handshake.limitBytes });
      if (this.mutation === 'forget-resume') {
        // Broken on purpose: keep transmitting from where the last connection stopped.
        (this.senderState as { tx: number }).tx = Math.max(this.senderState.tx, resume + 1);
      } else if (this.mutation === 'resend-off-by-one') this.skipOne();
      this.drainSender();
      if (this.st === 'closed') return;
      if (this.st === 'handshake') this.st = 'open';
      this.openedOut = hello;
      // Consumed after our HELLO went out (no ACK before the peer's HELLO): say it now, or a
      // sender waiting for that credit would wait for good.
      if (this.eager && this.owedFrames > 0) this.acknowledge();
      this.pumpSend();
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
      this.breakMachines();
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
      const d = decodeData(p);
      if (typeof d === 'string') return this.protocolError(d);
      if (this.mutation === 'no-dedup' && d.seq <= this.receiverState.delivered + this.inbound.length) {
        this.flushInbound();
        // Broken on purpose: a duplicate is delivered again.
        this.deliveries.push(d);
        this.recorder?.record({ p: 'delivery', role: 'app', ev: 'deliver', seq: d.seq });
        this.unconsumedFrames++;
        this.unconsumedMessages += d.messages;
        this.unconsumedBytes += d.body.length;
        return;
      }
      // Frames that arrive together enter the receiver machine in one event (flushInbound).
      this.inbound.push(d);
      this.inboundAt.push(this.frameOffset ?? -1);
      return;
    }
    if (type === FrameType.Ack) {
      const a = decodeAck(p);
      if (typeof a === 'string') return this.protocolError(a);
      this.sender.send({ type: 'ReceiveAck', ack: a.ack, limit: a.limit, limitBytes: a.limitBytes });
      this.drainSender();
      if (this.st === 'closed') return;
      this.pumpSend();
      return;
    }
    return this.protocolError(`unknown frame type ${type}`);
  }

  private checkHello(h: Hello): string | null {
    if (h.cluster !== this.local.cluster)
      return `cluster '${h.cluster}' is not this worker's cluster '${this.local.cluster}'`;
    if (h.app !== this.local.app)
      return `application '${h.app}' is not this worker's application '${this.local.app}'`;
    if (this.expectedPeer !== undefined && h.worker !== this.expectedPeer)
      return `expected worker '${this.expectedPeer}', got '${h.worker}'`;
    return null;
  }

  private protocolError(detail: string, offset: number | undefined = this.frameOffset): void {
    if (this.st === 'closed') return;
    const peer = this.peerHello ? ` (worker '${this.peerHello.worker}')` : '';
    const at = offset !== undefined ? ` (frame at byte offset ${offset})` : '';
    this.closeWith(
      CloseCode.ProtocolError,
      `${this.connection}${peer}: protocol error: ${detail}${at}; resetting the connection`,
    );
  }

  /**
   * The peer came back as a new incarnation: new machines for both directions (the receiver up
   * on this connection, its credit sent as an ACK: HELLO went out already), what was kept or
   * queued for the old incarnation dropped, deliveries of the old one no longer consumed.
   */
  private restartFor(worker: string, previousIncarnation: number, incarnation: number): void {
    // HELLO comes first on a connection and every earlier event drained the deliveries.
    if (this.deliveries.length > 0)
      throw new Error(`${this.connection}: ${this.deliveries.length} deliveries undrained at a peer restart`);
    const s = this.senderState;
    let droppedFrames = 0;
    let droppedMessages = 0;
    let droppedBytes = 0;
    for (let i = s.head; i < s.buf.length; i++) {
      droppedFrames++;
      droppedMessages += s.buf[i]!.messages;
      droppedBytes += s.buf[i]!.body.length;
    }
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      droppedFrames++;
      droppedMessages += this.pending[i]!.messages;
      droppedBytes += this.pending[i]!.body.length;
    }
    this.restartOut = {
      worker,
      previousIncarnation,
      incarnation,
      droppedFrames,
      droppedMessages,
      droppedBytes,
      abandonedFrames: this.unconsumedFrames,
    };
    this.droppedBefore += this.receiverState.dropped;
    this.senderActor.stop();
    this.receiverActor.stop();
    this.recorder?.record({ p: 'delivery', role: 'core', ev: 'restart', worker, incarnation });
    this.senderActor = this.newSender();
    this.receiverActor = this.newReceiver();
    this.receiverActor.send({ type: 'Connect' });
    for (const o of drainReceiverOutbox(this.receiverState))
      if (o.kind === 'hello') this.writes.push(ackFrame(o.ack));
    this.pending = [];
    this.pendingHead = 0;
    this.pendingBytes = 0;
    if (this.wasBlocked) {
      this.wasBlocked = false;
      this.writableOut = true;
    }
    this.highestSent = 0;
    this.unconsumedFrames = 0;
    this.unconsumedMessages = 0;
    this.unconsumedBytes = 0;
    this.owedFrames = 0;
    this.owedBytes = 0;
    this.epochCount++;
  }

  private breakMachines(): void {
    this.sender.send({ type: 'Break' });
    this.receiver.send({ type: 'Break' });
  }

  /** The connection is gone: the machines Break; the channel waits for another or closes. */
  private lost(reason: string): void {
    this.breakMachines();
    this.owedFrames = 0;
    this.owedBytes = 0;
    if (this.reconnect && this.st !== 'closing') {
      this.st = 'disconnected';
      this.peerHello = null;
      this.disconnectedOut = reason;
      return;
    }
    this.finish({ code: CloseCode.Normal, reason, local: false, error: true });
  }

  private closeWith(code: CloseCodeValue, reason: string): void {
    if (this.st !== 'new') this.writes.push(closeFrame(code, reason));
    this.breakMachines();
    this.finish({ code, reason, local: true, error: code !== CloseCode.Normal });
  }

  private finish(closed: ChannelClosed): void {
    this.st = 'closed';
    this.closedOut = closed;
    this.pending = [];
    this.pendingHead = 0;
    this.pendingBytes = 0;
    this.sender.stop();
    this.receiver.stop();
  }
}

interface SnapshotOf<C> {
  readonly context: C;
}

/** A sender machine's context as a protocol record (trace validation; only with a recorder). */
function senderRecord(ev: string, c: DeliverySenderContext): SenderRecord {
  const n = c.buf.length - c.head;
  const wrote: number[] = [];
  let violation: string | undefined;
  for (const o of c.outbox) {
    if (o.kind === 'violation') violation = o.detail;
    else wrote.push(o.frame.seq);
  }
  return {
    p: 'delivery',
    role: 'sender',
    ev,
    next: c.next,
    acked: c.acked,
    tx: c.tx,
    limit: c.limit,
    up: c.up,
    kept: n > 0 ? [c.buf[c.head]!.seq, c.buf[c.buf.length - 1]!.seq, n] : [0, 0, 0],
    wrote,
    ...(violation !== undefined ? { violation } : {}),
  };
}

/** A receiver machine's context as a protocol record. */
function receiverRecord(ev: string, c: DeliveryReceiverContext): ReceiverRecord {
  const acks: [number, number][] = [];
  let hello: [number, number] | undefined;
  let violation: string | undefined;
  for (const o of c.outbox) {
    if (o.kind === 'ack') acks.push([o.ack.ack, o.ack.limit]);
    else if (o.kind === 'hello') hello = [o.ack.ack, o.ack.limit];
    else if (o.kind === 'violation') violation = o.detail;
  }
  return {
    p: 'delivery',
    role: 'receiver',
    ev,
    delivered: c.delivered,
    consumed: c.consumed,
    up: c.up,
    acks,
    ...(hello ? { hello } : {}),
    ...(violation !== undefined ? { violation } : {}),
  };
}
