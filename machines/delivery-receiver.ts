// The receiving half of specs/Delivery.tla as an XState v5 machine: the protocol core the runtime
// channel (runtime/net/channel.ts) runs for every incoming direction of a data channel.
//
// Event types are the spec's receiver actions (ReceiveData, Consume, Acknowledge) and its part
// of the connection's (Connect, Break). The context holds the spec's receiver variables as
// plain data: `delivered` is the length of the spec's `delivered` (the frames themselves go to
// the application through the outbox, in order; the conformance adapter keeps what the
// application got), `consumed`, and the connection flag `up`. Refinements of the spec:
//   - credit also counts body bytes: the receiver grants up to `consumedBytes + windowBytes`
//     (an absolute offset in the stream of bodies), and a frame is delivered only within both;
//   - events carry batches of frames: `ReceiveData` takes the DATA frames that arrived together,
//     in order (each one the spec's ReceiveData step, or a stuttering step when it is dropped),
//     and `Consume` takes `frames` and `bytes` (default one frame): that many Consume steps;
//   - a DATA frame the spec's ReceiveData would not deliver is dropped without a state change,
//     as in the spec: a duplicate (seq <= delivered) or a frame from beyond a gap. A frame that
//     is next in order but beyond the granted credit is never sent by a sender that follows the
//     spec (CreditRespected): it is refused with a `violation` in the outbox, for the shell to
//     log and reset the connection.
//
// Ready-style outbox: actions append what to deliver and what to write (ACK, the handshake's
// resume point) to `outbox`, which the shell drains (`drainReceiverOutbox`).
import { assign, setup } from 'xstate';

/** The spec's receiver and connection actions this machine takes, in the order Next lists them. */
export const DELIVERY_RECEIVER_EVENTS = [
  'ReceiveData',
  'Consume',
  'Acknowledge',
  'Connect',
  'Break',
] as const;
export type DeliveryReceiverEventType = (typeof DELIVERY_RECEIVER_EVENTS)[number];

/** What the receiver tells the sender: cumulative ack and absolute credit limits. */
export interface AckInfo {
  readonly ack: number;
  readonly limit: number;
  readonly limitBytes: number;
}

export type ReceiverOutput =
  | {
      readonly kind: 'deliver';
      readonly seq: number;
      readonly messages: number;
      readonly body: Uint8Array;
    }
  | { readonly kind: 'ack'; readonly ack: AckInfo }
  /** The handshake: the resume point and credit to announce in this side's HELLO. */
  | { readonly kind: 'hello'; readonly ack: AckInfo }
  /** A frame the spec's ReceiveData drops (a stuttering step): told so a FIFO shell can object. */
  | { readonly kind: 'dropped'; readonly seq: number; readonly why: 'duplicate' | 'gap' }
  /** `seq`: the DATA frame that broke the protocol. */
  | { readonly kind: 'violation'; readonly detail: string; readonly seq?: number };

/** A DATA frame as it arrived. */
export interface IncomingFrame {
  readonly seq: number;
  readonly messages: number;
  readonly body: Uint8Array;
}

export type DeliveryReceiverEvent =
  | { readonly type: 'ReceiveData'; readonly frames: readonly IncomingFrame[] }
  | { readonly type: 'Consume'; readonly frames?: number; readonly bytes?: number }
  | { readonly type: 'Acknowledge' }
  | { readonly type: 'Connect' }
  | { readonly type: 'Break' };

export interface DeliveryReceiverConstants {
  /** The spec's Window: frames delivered and not yet consumed at most. */
  readonly window: number;
  /** Body bytes delivered and not yet consumed at most. */
  readonly windowBytes: number;
}

export interface DeliveryReceiverContext extends DeliveryReceiverConstants {
  readonly delivered: number;
  readonly deliveredBytes: number;
  readonly consumed: number;
  readonly consumedBytes: number;
  readonly up: boolean;
  /** Frames dropped as duplicates or from beyond a gap (statistics only). */
  readonly dropped: number;
  readonly outbox: ReceiverOutput[];
}

export type DeliveryReceiverInput = DeliveryReceiverConstants;

function checkConstants(c: DeliveryReceiverConstants): void {
  if (!Number.isSafeInteger(c.window) || c.window < 1)
    throw new RangeError(`Delivery receiver: window must be a positive integer, got ${c.window}`);
  if (!Number.isSafeInteger(c.windowBytes) || c.windowBytes < 1)
    throw new RangeError(`Delivery receiver: windowBytes must be a positive integer, got ${c.windowBytes}`);
}

/** The spec's AckOf: [ack |-> Len(delivered), limit |-> consumed + Window], plus byte credit. */
export function ackOf(ctx: DeliveryReceiverContext): AckInfo {
  return {
    ack: ctx.delivered,
    limit: ctx.consumed + ctx.window,
    limitBytes: ctx.consumedBytes + ctx.windowBytes,
  };
}

export const deliveryReceiverMachine = setup({
  types: {
    context: {} as DeliveryReceiverContext,
    events: {} as DeliveryReceiverEvent,
    input: {} as DeliveryReceiverInput,
  },
  guards: {
    // ReceiveData(s) for each frame, in order (see `receive`); nothing arrives when down.
    receiveEnabled: ({ context, event }) =>
      event.type === 'ReceiveData' && context.up && event.frames.length > 0,
    // Consume == consumed < Len(delivered)
    consumeEnabled: ({ context, event }) => {
      if (event.type !== 'Consume') return false;
      const frames = event.frames ?? 1;
      return (
        Number.isSafeInteger(frames) &&
        frames >= 1 &&
        context.consumed + frames <= context.delivered &&
        context.consumedBytes + (event.bytes ?? 0) <= context.deliveredBytes
      );
    },
    // Acknowledge == up
    upNow: ({ context }) => context.up,
    // Connect == ~up
    downNow: ({ context }) => !context.up,
  },
  actions: {
    // Per frame: ReceiveData(s) == s = Len(delivered) + 1 /\ s <= Granted (and the bytes fit)
    // delivers it; a duplicate or a frame from beyond a gap is dropped (a stuttering step); a
    // frame next in order but beyond the credit, or without messages, is a violation of the
    // protocol by the peer: the frames from it on are refused.
    receive: assign(({ context, event }) => {
      if (event.type !== 'ReceiveData') return {};
      let delivered = context.delivered;
      let deliveredBytes = context.deliveredBytes;
      let dropped = context.dropped;
      for (const f of event.frames) {
        if (f.messages < 1 && f.seq > delivered) {
          context.outbox.push({
            kind: 'violation',
            detail: `DATA frame ${f.seq} holds no messages`,
            seq: f.seq,
          });
          break;
        }
        if (f.seq !== delivered + 1) {
          dropped++;
          context.outbox.push({ kind: 'dropped', seq: f.seq, why: f.seq <= delivered ? 'duplicate' : 'gap' });
          continue;
        }
        const limit = context.consumed + context.window;
        const limitBytes = context.consumedBytes + context.windowBytes;
        if (f.seq > limit || deliveredBytes + f.body.length > limitBytes) {
          context.outbox.push({
            kind: 'violation',
            seq: f.seq,
            detail:
              `DATA frame ${f.seq} (${f.messages} messages, ${f.body.length} bytes) exceeds the credit granted ` +
              `(up to frame ${limit}, body byte ${limitBytes}; ${deliveredBytes} bytes delivered)`,
          });
          break;
        }
        context.outbox.push({ kind: 'deliver', seq: f.seq, messages: f.messages, body: f.body });
        delivered++;
        deliveredBytes += f.body.length;
      }
      return { delivered, deliveredBytes, dropped };
    }),
    consume: assign(({ context, event }) => {
      if (event.type !== 'Consume') return {};
      return {
        consumed: context.consumed + (event.frames ?? 1),
        consumedBytes: context.consumedBytes + (event.bytes ?? 0),
      };
    }),
    acknowledge: ({ context }) => {
      context.outbox.push({ kind: 'ack', ack: ackOf(context) });
    },
    connect: assign(({ context }) => {
      context.outbox.push({ kind: 'hello', ack: ackOf(context) });
      return { up: true };
    }),
    disconnect: assign({ up: false }),
  },
}).createMachine({
  id: 'DeliveryReceiver',
  context: ({ input }) => {
    checkConstants(input);
    return {
      window: input.window,
      windowBytes: input.windowBytes,
      delivered: 0,
      deliveredBytes: 0,
      consumed: 0,
      consumedBytes: 0,
      up: false,
      dropped: 0,
      outbox: [],
    };
  },
  initial: 'running',
  states: {
    running: {
      on: {
        ReceiveData: { guard: 'receiveEnabled', actions: 'receive' },
        Consume: { guard: 'consumeEnabled', actions: 'consume' },
        Acknowledge: { guard: 'upNow', actions: 'acknowledge' },
        Connect: { guard: 'downNow', actions: 'connect' },
        Break: { guard: 'upNow', actions: 'disconnect' },
      },
    },
  },
});

/** Takes what the machine queued (the outbox is emptied). */
export function drainReceiverOutbox(ctx: DeliveryReceiverContext): ReceiverOutput[] {
  if (ctx.outbox.length === 0) return [];
  return ctx.outbox.splice(0, ctx.outbox.length);
}
