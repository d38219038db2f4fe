// The sending half of specs/Delivery.tla as an XState v5 machine: the protocol core the runtime
// channel (runtime/net/channel.ts) runs for every outgoing direction of a data channel.
//
// Event types are the spec's sender actions (Send, Transmit, Retransmit, ReceiveAck) and its
// part of the connection's (Connect, Break). The context holds the spec's sender variables as
// plain data: `next`, `acked`, `tx`, `limit`, and `buf` as the kept frames themselves (the spec's
// `buf` is their sequence numbers), plus the connection flag `up`. Refinements of the spec:
//   - a frame is a batch of messages with an opaque body; credit is also counted in body bytes
//     (`limitBytes`, an absolute offset in the stream of bodies), so Transmit needs frame and
//     byte credit, and Send needs room in frames (`window`) and in bytes (`maxBufferedBytes`);
//   - events carry batches of frames, never one message each: `Send` takes a list of batches
//     and keeps as many as there is room for, in order (that many of the spec's Send steps);
//     `Transmit` takes `max` (default 1) and puts up to that many frames on the wire (the
//     runtime sends everything credit allows in one event);
//   - network input the spec never produces (an ACK for a frame never sent, a handshake whose
//     resume point the sender no longer holds) is refused: the context stays as it was and a
//     `violation` goes to the outbox, for the shell to log and reset the connection.
//
// Ready-style outbox (etcd/raft): actions never do I/O; they append what must be written to
// `outbox`, which the shell drains (`drainSenderOutbox`). The kept frames and the outbox are
// arrays the machine owns and mutates in place (no per-event copy of the frame buffer); every
// other field is replaced through `assign`.
import { assign, setup } from 'xstate';

/** The spec's sender and connection actions this machine takes, in the order Next lists them. */
export const DELIVERY_SENDER_EVENTS = [
  'Send',
  'Transmit',
  'Retransmit',
  'ReceiveAck',
  'Connect',
  'Break',
] as const;
export type DeliverySenderEventType = (typeof DELIVERY_SENDER_EVENTS)[number];

/** A frame the sender keeps until it is acknowledged. */
export interface KeptFrame {
  readonly seq: number;
  readonly messages: number;
  /** Opaque body (a view; the machine never copies or mutates it). */
  readonly body: Uint8Array;
  /** Offset just past this body in the stream of all bodies (byte credit is counted in it). */
  readonly end: number;
}

/** A batch the application hands the sender. */
export interface OutgoingBatch {
  readonly body: Uint8Array;
  readonly messages: number;
}

export type SenderOutput =
  | { readonly kind: 'data'; readonly frame: KeptFrame }
  | { readonly kind: 'violation'; readonly detail: string };

export type DeliverySenderEvent =
  | { readonly type: 'Send'; readonly batches: readonly OutgoingBatch[] }
  | { readonly type: 'Transmit'; readonly max?: number }
  | { readonly type: 'Retransmit' }
  | { readonly type: 'ReceiveAck'; readonly ack: number; readonly limit: number; readonly limitBytes: number }
  | { readonly type: 'Connect'; readonly resume: number; readonly limit: number; readonly limitBytes: number }
  | { readonly type: 'Break' };

export interface DeliverySenderConstants {
  /** The spec's Window: frames kept unacknowledged at most. */
  readonly window: number;
  /** Bytes of kept bodies at most (a frame alone may exceed it, so that it can be sent at all). */
  readonly maxBufferedBytes: number;
}

export interface DeliverySenderContext extends DeliverySenderConstants {
  readonly next: number;
  readonly acked: number;
  readonly tx: number;
  readonly limit: number;
  readonly limitBytes: number;
  readonly up: boolean;
  /** Kept frames, oldest first, from index `head` (earlier slots are released). */
  readonly buf: KeptFrame[];
  readonly head: number;
  readonly bufferedBytes: number;
  /** Offset just past the last body the application sent. */
  readonly sentBytes: number;
  readonly outbox: SenderOutput[];
}

export type DeliverySenderInput = DeliverySenderConstants;

function checkConstants(c: DeliverySenderConstants): void {
  if (!Number.isSafeInteger(c.window) || c.window < 1)
    throw new RangeError(`Delivery sender: window must be a positive integer, got ${c.window}`);
  if (!Number.isSafeInteger(c.maxBufferedBytes) || c.maxBufferedBytes < 1)
    throw new RangeError(
      `Delivery sender: maxBufferedBytes must be a positive integer, got ${c.maxBufferedBytes}`,
    );
}

/** Frames kept, oldest first (a fresh array). */
export function keptFrames(ctx: DeliverySenderContext): KeptFrame[] {
  return ctx.buf.slice(ctx.head);
}

export function keptCount(ctx: DeliverySenderContext): number {
  return ctx.buf.length - ctx.head;
}

function frameAt(ctx: DeliverySenderContext, seq: number): KeptFrame | undefined {
  const i = ctx.head + (seq - ctx.acked - 1);
  return i >= ctx.head && i < ctx.buf.length ? ctx.buf[i] : undefined;
}

/** Room for one more kept frame: below the window, and within the byte bound unless nothing is kept. */
function hasRoom(ctx: DeliverySenderContext, kept: number, bytes: number, b: OutgoingBatch): boolean {
  return kept < ctx.window && (kept === 0 || bytes + b.body.length <= ctx.maxBufferedBytes);
}

function canTransmit(ctx: DeliverySenderContext): boolean {
  if (!ctx.up || ctx.tx >= ctx.next || ctx.tx > ctx.limit) return false;
  const f = frameAt(ctx, ctx.tx);
  return f !== undefined && f.end <= ctx.limitBytes;
}

/** Releases the kept frames up to and including `upTo`; returns the new head and byte count. */
function release(ctx: DeliverySenderContext, upTo: number): { head: number; bufferedBytes: number } {
  let head = ctx.head;
  let bytes = ctx.bufferedBytes;
  const buf = ctx.buf;
  while (head < buf.length && buf[head]!.seq <= upTo) {
    bytes -= buf[head]!.body.length;
    head++;
  }
  if (head === buf.length) {
    buf.length = 0;
    head = 0;
  } else if (head > 1024 && head * 2 > buf.length) {
    buf.splice(0, head);
    head = 0;
  }
  return { head, bufferedBytes: bytes };
}

export const deliverySenderMachine = setup({
  types: {
    context: {} as DeliverySenderContext,
    events: {} as DeliverySenderEvent,
    input: {} as DeliverySenderInput,
  },
  guards: {
    // Send == Len(buf) < Window (next <= Msgs is the application's: it has a frame to send)
    sendEnabled: ({ context, event }) =>
      event.type === 'Send' &&
      event.batches.length > 0 &&
      hasRoom(context, keptCount(context), context.bufferedBytes, event.batches[0]!),
    // Transmit == up /\ tx < next /\ tx <= limit (and the body fits the byte credit)
    transmitEnabled: ({ context }) => canTransmit(context),
    // Retransmit == up /\ tx > acked + 1
    retransmitEnabled: ({ context }) => context.up && context.tx > context.acked + 1,
    // ReceiveAck(k): k.ack <= Len(delivered) <= next - 1 in every reachable state (AckedDelivered)
    ackPlausible: ({ context, event }) =>
      event.type === 'ReceiveAck' &&
      context.up &&
      Number.isSafeInteger(event.ack) &&
      event.ack >= 0 &&
      event.ack < context.next,
    // Connect == ~up; the resume point is the receiver's cumulative ack: acked <= resume < next
    connectPlausible: ({ context, event }) =>
      event.type === 'Connect' &&
      !context.up &&
      Number.isSafeInteger(event.resume) &&
      event.resume >= context.acked &&
      event.resume < context.next,
    breakEnabled: ({ context }) => context.up,
  },
  actions: {
    send: assign(({ context, event }) => {
      if (event.type !== 'Send') return {};
      let next = context.next;
      let end = context.sentBytes;
      let kept = keptCount(context);
      let bytes = context.bufferedBytes;
      for (const b of event.batches) {
        if (!hasRoom(context, kept, bytes, b)) break;
        end += b.body.length;
        context.buf.push({ seq: next, messages: b.messages, body: b.body, end });
        next++;
        kept++;
        bytes += b.body.length;
      }
      return { next, sentBytes: end, bufferedBytes: bytes };
    }),
    transmit: assign(({ context, event }) => {
      const max = event.type === 'Transmit' && event.max !== undefined ? event.max : 1;
      let tx = context.tx;
      let n = 0;
      while (n < max && tx < context.next && tx <= context.limit) {
        const f = frameAt(context, tx)!;
        if (f.end > context.limitBytes) break;
        context.outbox.push({ kind: 'data', frame: f });
        tx++;
        n++;
      }
      return { tx };
    }),
    retransmit: assign(({ context }) => ({ tx: context.acked + 1 })),
    // One object shape per update, never a spread of a maybe-empty one: an ACK comes per batch,
    // and V8 copied the spread of two shapes in a slow path (1.5-2 us per ACK in the simulator).
    receiveAck: assign(({ context, event }) => {
      if (event.type !== 'ReceiveAck') return {};
      const acked = Math.max(context.acked, event.ack);
      const released = acked > context.acked ? release(context, acked) : null;
      return {
        head: released ? released.head : context.head,
        bufferedBytes: released ? released.bufferedBytes : context.bufferedBytes,
        acked,
        tx: Math.max(context.tx, event.ack + 1),
        limit: Math.max(context.limit, event.limit),
        limitBytes: Math.max(context.limitBytes, event.limitBytes),
      };
    }),
    refuseAck: ({ context, event }) => {
      if (event.type !== 'ReceiveAck') return;
      context.outbox.push({
        kind: 'violation',
        detail: context.up
          ? `ACK for frame ${event.ack}, but the last frame sent is ${context.next - 1}`
          : `ACK for frame ${event.ack} before the handshake`,
      });
    },
    connect: assign(({ context, event }) => {
      if (event.type !== 'Connect') return {};
      const released = event.resume > context.acked ? release(context, event.resume) : null;
      return {
        head: released ? released.head : context.head,
        bufferedBytes: released ? released.bufferedBytes : context.bufferedBytes,
        up: true,
        acked: Math.max(context.acked, event.resume),
        tx: event.resume + 1,
        limit: Math.max(context.limit, event.limit),
        limitBytes: Math.max(context.limitBytes, event.limitBytes),
      };
    }),
    refuseConnect: ({ context, event }) => {
      if (event.type !== 'Connect') return;
      context.outbox.push({
        kind: 'violation',
        detail: context.up
          ? 'a second handshake on an open connection'
          : event.resume < context.acked
            ? `the peer resumes after frame ${event.resume}, but frames up to ${context.acked} were acknowledged and are no longer kept (the peer lost its state)`
            : `the peer resumes after frame ${event.resume}, but the last frame sent is ${context.next - 1}`,
      });
    },
    disconnect: assign({ up: false }),
  },
}).createMachine({
  id: 'DeliverySender',
  context: ({ input }) => {
    checkConstants(input);
    return {
      window: input.window,
      maxBufferedBytes: input.maxBufferedBytes,
      next: 1,
      acked: 0,
      tx: 1,
      limit: 0,
      limitBytes: 0,
      up: false,
      buf: [],
      head: 0,
      bufferedBytes: 0,
      sentBytes: 0,
      outbox: [],
    };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        Send: { guard: 'sendEnabled', actions: 'send' },
        Transmit: { guard: 'transmitEnabled', actions: 'transmit' },
        Retransmit: { guard: 'retransmitEnabled', actions: 'retransmit' },
        ReceiveAck: [{ guard: 'ackPlausible', actions: 'receiveAck' }, { actions: 'refuseAck' }],
        Connect: [{ guard: 'connectPlausible', actions: 'connect' }, { actions: 'refuseConnect' }],
        Break: { guard: 'breakEnabled', actions: 'disconnect' },
      },
    },
  },
});

/** Takes what the machine queued (the outbox is emptied). */
export function drainSenderOutbox(ctx: DeliverySenderContext): SenderOutput[] {
  if (ctx.outbox.length === 0) return [];
  return ctx.outbox.splice(0, ctx.outbox.length);
}
