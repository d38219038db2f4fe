// Conformance adapter for specs/CreditFlow.tla: the real channel core (runtime/net/channel.ts,
// DeliveryChannelCore, which runs the Delivery machines, driven through its pure
// step()/ready() API) on both ends of one in-memory connection. CreditFlow is the credit part
// of specs/Delivery.tla seen alone (an in-order connection that never fails, credit as
// increments): the same runtime conforms to both. Each spec action is an operation on it:
//
//   Send        the sender's application sends one message (a 1-message batch; its 4-byte
//               body is the message number); the core puts it on the wire if it has credit
//   Receive     the head frame in flight is delivered to the core it is addressed to
//   Consume     the receiver's consumer takes the oldest delivered message
//   GrantCredit the consumer reports what it has taken to the core (`consumed` event), which
//               acknowledges it in one ACK frame (that carries the new credit limit)
//   Done        nothing (a stuttering step; the adapter checks every message was consumed)
//
// Msgs is the number of messages the sender's application has; Capacity is the core's
// receive window (windowFrames = Capacity, windowBytes = Capacity * 4 body bytes).
//
// The wire: the spec has one FIFO of frames in both directions ("one connection"). The
// adapter keeps every frame the two cores write, reassembled from their byte chunks by the
// real FrameDecoder, in one FIFO in the order they were written, and Receive delivers its
// head. The receiver's HELLO carries its first credit limit (Capacity): it is the spec's
// initial <<Grant(Capacity)>>, in flight after the sender's HELLO has been received.
//
// Batching of grants: the core acknowledges from its `consumed` event only (when half the
// window is owed or nothing is left unconsumed). The spec separates the consumer taking a
// message (Consume, owed + 1) from the grant (GrantCredit, all owed in one frame). The
// adapter's consumer therefore reports in batches: it takes messages on Consume and reports
// them to the core on GrantCredit. The core's rule fires then for every model with
// Capacity <= 2; for Capacity > 2 the core refuses some of the spec's GrantCredit steps
// (see conformance/credit-flow.test.ts).
//
// The refinement mapping (abstract):
//   next     = 1 + sender.stats.sentMessages            (messages the core put on the wire)
//   credit   = the sender machine's credit limit - messages on the wire (0 before its handshake);
//              its byte credit must be 4 bytes per message
//   wire     = the in-flight frames, decoded: DATA to the receiver -> Data(m); an ACK or the
//              HELLO to the sender -> Grant(n), n its credit limit minus the limit of the frame
//              before it (the sender's known limit for the first in flight); anything else
//              (CLOSE, a frame in the wrong direction) maps to a record naming it
//   buffer   = the messages delivered by the receiver core and not yet taken
//   consumed = receiver.stats.receivedMessages - |buffer|
//   owed     = receiver.stats.owedFrames + messages taken and not yet reported
import { DeliveryChannelCore, FrameType, decodeAck, decodeHello } from '../runtime/net/channel.ts';
import { FrameDecoder } from '../runtime/net/framing.ts';
import { record, tuple, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, SpecAction, SpecState } from './harness.ts';
import { fileURLToPath } from 'node:url';

/** Bytes of one message's body: its number, u32 big-endian. */
export const MESSAGE_BYTES = 4;

/**
 * Deliberately broken variants, to show the suite catches them (mutation testing):
 * - `duplicate-data`: the transport delivers every DATA frame twice and the core's duplicate
 *   check is removed (its `no-dedup` mutation): at-least-once without dedup
 * - `eager-grant`: the consumer reports each message consumed as soon as it is delivered
 * - `lose-grant`: the transport drops CREDIT frames addressed to the sender
 */
export type CreditFlowMutation = 'duplicate-data' | 'eager-grant' | 'lose-grant';
export const CREDIT_FLOW_MUTATIONS: readonly CreditFlowMutation[] = [
  'duplicate-data',
  'eager-grant',
  'lose-grant',
];

export interface CreditFlowAdapterOptions {
  readonly msgs: number;
  readonly capacity: number;
  readonly mutation?: CreditFlowMutation;
}

type Side = 'sender' | 'receiver';

interface InFlight {
  readonly to: Side;
  readonly payload: Uint8Array;
}

/** The runtime objects of one replay: two channel cores and the connection between them. */
export interface CreditFlowRuntime {
  readonly sender: DeliveryChannelCore;
  readonly receiver: DeliveryChannelCore;
  /** Frames in flight, both directions, in the order the cores wrote them. */
  readonly wire: InFlight[];
  /** Reassembles each core's byte chunks into frames (real framing code). */
  readonly toReceiver: FrameDecoder;
  readonly toSender: FrameDecoder;
  /** The sender application's next message number. */
  nextMessage: number;
  /** Delivered by the receiver core, not yet taken by the consumer (message numbers). */
  readonly inbox: number[];
  /** Taken by the consumer, not yet reported to the core. */
  taken: number;
}

function messageBody(m: number): Uint8Array {
  const b = Buffer.alloc(MESSAGE_BYTES);
  b.writeUInt32BE(m, 0);
  return b;
}

function pump(rt: CreditFlowRuntime, mutation: CreditFlowMutation | undefined): void {
  for (const [side, core, decoder] of [
    ['sender', rt.sender, rt.toReceiver],
    ['receiver', rt.receiver, rt.toSender],
  ] as const) {
    const r = core.ready();
    const to: Side = side === 'sender' ? 'receiver' : 'sender';
    for (const chunk of r.writes)
      decoder.push(chunk, (p) => rt.wire.push({ to, payload: Uint8Array.from(p) }));
    if (side === 'receiver') {
      for (const d of r.deliveries) {
        if (d.messages !== 1 || d.body.length !== MESSAGE_BYTES) {
          throw new Error(
            `receiver delivered a batch of ${d.messages} messages / ${d.body.length} bytes; the sender sent 1-message batches of ${MESSAGE_BYTES} bytes`,
          );
        }
        rt.inbox.push(Buffer.from(d.body.buffer, d.body.byteOffset, d.body.byteLength).readUInt32BE(0));
      }
      if (mutation === 'eager-grant' && r.deliveries.length > 0) {
        rt.inbox.splice(0, r.deliveries.length);
        core.step({
          type: 'consumed',
          frames: r.deliveries.length,
          messages: r.deliveries.length,
          bytes: r.deliveries.length * MESSAGE_BYTES,
        });
        pump(rt, undefined);
      }
    } else if (r.deliveries.length > 0) {
      throw new Error(
        `the sender's core delivered ${r.deliveries.length} batches; the receiver never sends data`,
      );
    }
  }
}

function deliverHead(rt: CreditFlowRuntime, mutation: CreditFlowMutation | undefined): void {
  const f = rt.wire.shift();
  if (f === undefined) throw new Error('no frame is in flight');
  const core = f.to === 'sender' ? rt.sender : rt.receiver;
  const type = f.payload[0];
  if (mutation === 'lose-grant' && f.to === 'sender' && (type === FrameType.Ack || type === FrameType.Hello))
    return;
  core.step({ type: 'frame', payload: f.payload });
  if (mutation === 'duplicate-data' && type === FrameType.Data)
    core.step({ type: 'frame', payload: f.payload });
  pump(rt, mutation);
}

/** The credit limit a frame to the sender announces (ACK or HELLO), or null for other frames. */
function announcedLimit(f: InFlight): { limit: number; limitBytes: number } | null {
  if (f.to !== 'sender') return null;
  if (f.payload[0] === FrameType.Ack) {
    const a = decodeAck(f.payload);
    return typeof a === 'string' ? null : a;
  }
  if (f.payload[0] === FrameType.Hello) {
    const h = decodeHello(f.payload);
    return typeof h === 'string' ? null : h.handshake;
  }
  return null;
}

/** The in-flight frames as the spec's wire; `known` is the sender's current credit limit. */
function wireValue(wire: readonly InFlight[], known: { limit: number; limitBytes: number }): Value {
  let prev = known;
  return tuple(
    wire.map((f) => {
      const p = Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
      const type = p[0];
      if (
        type === FrameType.Data &&
        f.to === 'receiver' &&
        p.length === 13 + MESSAGE_BYTES &&
        p.readUInt32BE(9) === 1
      ) {
        return record({ type: 'data', msg: p.readUInt32BE(13) });
      }
      const a = announcedLimit(f);
      if (a !== null) {
        const n = a.limit - prev.limit;
        const bytes = a.limitBytes - prev.limitBytes;
        prev = { limit: Math.max(prev.limit, a.limit), limitBytes: Math.max(prev.limitBytes, a.limitBytes) };
        if (bytes !== n * MESSAGE_BYTES)
          return record({ type: 'credit', n, bytes, problem: `grants ${bytes} bytes for ${n} messages` });
        return record({ type: 'credit', n });
      }
      const names: Record<number, string> = {
        [FrameType.Hello]: 'hello',
        [FrameType.Data]: 'data',
        [FrameType.Ack]: 'ack',
        [FrameType.Close]: 'close',
      };
      const name = type === undefined ? 'empty' : (names[type] ?? `unknown frame type ${type}`);
      if (type === FrameType.Close) {
        return record({ type: 'close', to: f.to, reason: p.subarray(2).toString('utf8') });
      }
      return record({ type: name, to: f.to, bytes: p.length });
    }),
  );
}

/** The sender's unused credit, in messages (1-message batches); checks the byte credit agrees. */
export function senderCredit(rt: CreditFlowRuntime): number {
  const s = rt.sender.senderState;
  if (!s.up) return 0;
  const sent = rt.sender.stats;
  const credit = s.limit - sent.sentFrames;
  const bytes = s.limitBytes - sent.sentBytes;
  if (bytes !== credit * MESSAGE_BYTES) {
    throw new Error(
      `the sender's credit is ${credit} messages but ${bytes} bytes (expected ${credit * MESSAGE_BYTES})`,
    );
  }
  return credit;
}

export function creditFlowAdapter(opts: CreditFlowAdapterOptions): ConformanceAdapter<CreditFlowRuntime> {
  const { msgs, capacity, mutation } = opts;
  if (!Number.isSafeInteger(msgs) || msgs < 0)
    throw new RangeError(`CreditFlow adapter: Msgs must be a natural number, got ${msgs}`);
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(
      `CreditFlow adapter: Capacity must be at least 1 (the channel core's window), got ${capacity}; use a model with Capacity >= 1`,
    );
  }
  const core = (worker: Side, peer: Side): DeliveryChannelCore =>
    new DeliveryChannelCore({
      local: { cluster: 'conformance', app: 'credit-flow', worker },
      expectedPeer: peer,
      windowFrames: capacity,
      windowBytes: capacity * MESSAGE_BYTES,
      connection: `credit-flow ${worker} (peer ${peer})`,
      ...(mutation === 'duplicate-data' ? { mutation: 'no-dedup' as const } : {}),
    });

  return {
    // Builds the spec's Init for the model's constants (the only initial state CreditFlow has);
    // the harness compares it with the trace's first state like every other state.
    create(): CreditFlowRuntime {
      const rt: CreditFlowRuntime = {
        sender: core('sender', 'receiver'),
        receiver: core('receiver', 'sender'),
        wire: [],
        toReceiver: new FrameDecoder({ connection: 'credit-flow sender -> receiver' }),
        toSender: new FrameDecoder({ connection: 'credit-flow receiver -> sender' }),
        nextMessage: 1,
        inbox: [],
        taken: 0,
      };
      // Handshake: the sender's HELLO reaches the receiver; the receiver's HELLO, which
      // carries its first credit limit, stays in flight: the spec's initial <<Grant(Capacity)>>.
      rt.sender.step({ type: 'start' });
      pump(rt, mutation);
      rt.receiver.step({ type: 'start' });
      pump(rt, mutation);
      deliverHead(rt, mutation);
      if (rt.sender.state !== 'handshake' || rt.receiver.state !== 'open') {
        throw new Error(
          `handshake did not go as planned: sender ${rt.sender.state}, receiver ${rt.receiver.state}`,
        );
      }
      return rt;
    },

    perform(rt: CreditFlowRuntime, action: SpecAction): void {
      switch (action.name) {
        case 'Send': {
          if (rt.nextMessage > msgs)
            throw new Error(`the sender's application has already sent all ${msgs} messages`);
          rt.sender.step({ type: 'send', body: messageBody(rt.nextMessage), messages: 1 });
          rt.nextMessage++;
          pump(rt, mutation);
          return;
        }
        case 'Receive':
          deliverHead(rt, mutation);
          return;
        case 'Consume': {
          if (rt.inbox.length === 0) throw new Error('the consumer has no delivered message to take');
          rt.inbox.shift();
          rt.taken++;
          return;
        }
        case 'GrantCredit': {
          if (rt.taken === 0) throw new Error('the consumer has taken nothing since the last grant');
          rt.receiver.step({
            type: 'consumed',
            frames: rt.taken,
            messages: rt.taken,
            bytes: rt.taken * MESSAGE_BYTES,
          });
          rt.taken = 0;
          pump(rt, mutation);
          return;
        }
        case 'Done': {
          const s = rt.receiver.stats;
          const consumed = s.receivedMessages - rt.inbox.length;
          if (consumed !== msgs) throw new Error(`Done with ${consumed} of ${msgs} messages consumed`);
          return;
        }
        default:
          throw new Error(
            `CreditFlow has no action ${action.name}; expected Send, Receive, Consume, GrantCredit or Done`,
          );
      }
    },

    abstract(rt: CreditFlowRuntime): SpecState {
      const s = rt.sender.stats;
      const r = rt.receiver.stats;
      if (r.unconsumedMessages !== rt.inbox.length + rt.taken) {
        throw new Error(
          `the receiver core counts ${r.unconsumedMessages} unconsumed messages, the consumer holds ${rt.inbox.length} and has taken ${rt.taken} unreported`,
        );
      }
      const ss = rt.sender.senderState;
      return {
        next: 1 + s.sentMessages,
        credit: senderCredit(rt),
        wire: wireValue(rt.wire, { limit: ss.limit, limitBytes: ss.limitBytes }),
        buffer: tuple(rt.inbox),
        consumed: r.receivedMessages - rt.inbox.length,
        owed: r.owedFrames + rt.taken,
      };
    },
  };
}

function natConstant(c: Readonly<Record<string, Value>>, name: string): number {
  const v = c[name];
  if (typeof v !== 'number')
    throw new TypeError(`CreditFlow model: constant ${name} must be an integer, got ${String(v)}`);
  return v;
}

export const SPECS_DIR = fileURLToPath(new URL('../specs/', import.meta.url));

/** The suite: specs/CreditFlow.tla with a model (default: specs/CreditFlow.cfg). */
export function creditFlowSuite(
  opts: { cfgFile?: string; mutation?: CreditFlowMutation } = {},
): ConformanceSuite<CreditFlowRuntime> {
  return {
    name: opts.mutation ? `credit-flow[mutation ${opts.mutation}]` : 'credit-flow',
    specFile: `${SPECS_DIR}CreditFlow.tla`,
    cfgFile: opts.cfgFile ?? `${SPECS_DIR}CreditFlow.cfg`,
    constants: ['Msgs', 'Capacity'],
    adapter: (c) =>
      creditFlowAdapter({
        msgs: natConstant(c, 'Msgs'),
        capacity: natConstant(c, 'Capacity'),
        ...(opts.mutation ? { mutation: opts.mutation } : {}),
      }),
  };
}
