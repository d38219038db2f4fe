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
//   - `Consume` takes `frames` and `bytes` (default one frame): one event is that many of the
//     spec's Consume steps;
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
  | { readonly kind: 'violation'; readonly detail: string };

export type DeliveryReceiverEvent =
  | {
      readonly type: 'ReceiveData';
      readonly seq: number;
      readonly messages: number;
      readonly body: Uint8Array;
    }
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

function isNext(ctx: DeliveryReceiverContext, seq: number): boolean {
  return seq === ctx.delivered + 1;
}

function withinCredit(ctx: DeliveryReceiverContext, bodyBytes: number): boolean {
  return (
    ctx.delivered + 1 <= ctx.consumed + ctx.window &&
    ctx.deliveredBytes + bodyBytes <= ctx.consumedBytes + ctx.windowBytes
  );
}

export const deliveryReceiverMachine = setup({
  types: {
    context: {} as DeliveryReceiverContext,
    events: {} as DeliveryReceiverEvent,
    input: {} as DeliveryReceiverInput,
  },
  guards: {
    // ReceiveData(s) == s = Len(delivered) + 1 /\ s <= Granted (and the bytes fit)
    deliverable: ({ context, event }) =>
      event.type === 'ReceiveData' &&
      context.up &&
      event.messages >= 1 &&
      isNext(context, event.seq) &&
      withinCredit(context, event.body.length),
    // Next in order but beyond the credit granted: the peer broke the protocol.
    beyondCredit: ({ context, event }) =>
      event.type === 'ReceiveData' && context.up && isNext(context, event.seq),
    // A DATA frame with no messages in it: never sent by a sender (a batch holds >= 1 message).
    empty: ({ context, event }) =>
      event.type === 'ReceiveData' && context.up && event.messages < 1 && event.seq > context.delivered,
    // A duplicate or a frame from beyond a gap: dropped, no state change but a counter.
    droppable: ({ context, event }) => event.type === 'ReceiveData' && context.up,
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
    deliver: assign(({ context, event }) => {
      if (event.type !== 'ReceiveData') return {};
      context.outbox.push({ kind: 'deliver', seq: event.seq, messages: event.messages, body: event.body });
      return {
        delivered: context.delivered + 1,
        deliveredBytes: context.deliveredBytes + event.body.length,
      };
    }),
    refuseBeyondCredit: ({ context, event }) => {
      if (event.type !== 'ReceiveData') return;
      context.outbox.push({
        kind: 'violation',
        detail:
          `DATA frame ${event.seq} (${event.messages} messages, ${event.body.length} bytes) exceeds the credit granted ` +
          `(up to frame ${context.consumed + context.window}, body byte ${context.consumedBytes + context.windowBytes}; ` +
          `${context.deliveredBytes} bytes delivered)`,
      });
    },
    refuseEmpty: ({ context, event }) => {
      if (event.type !== 'ReceiveData') return;
      context.outbox.push({ kind: 'violation', detail: `DATA frame ${event.seq} holds no messages` });
    },
    drop: assign(({ context }) => ({ dropped: context.dropped + 1 })),
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
        ReceiveData: [
          { guard: 'deliverable', actions: 'deliver' },
          { guard: 'empty', actions: 'refuseEmpty' },
          { guard: 'beyondCredit', actions: 'refuseBeyondCredit' },
          { guard: 'droppable', actions: 'drop' },
        ],
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
