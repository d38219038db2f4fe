// Conformance adapter for specs/Delivery.tla: the real channel core (runtime/net/channel.ts,
// DeliveryChannelCore, which runs the Delivery sender and receiver machines) on both ends of a
// connection the adapter controls: it holds what is in flight, as the spec's sets, and loses,
// duplicates, reorders and breaks as the trace says. Each spec action is one operation:
//
//   Send            the sender's application hands the core one batch (1 message, its 4-byte
//                   body is the frame number); the core's machine keeps it (no transmission:
//                   the cores run with policy `manual`, so Transmit and Acknowledge are steps
//                   of their own, as in the spec)
//   Transmit        the sender core's `transmit` event (one frame); the DATA frame it writes
//                   goes into the set in flight
//   Retransmit      the sender core's `retransmit` event (its acknowledgement timer)
//   ReceiveAck(k)   a copy of the ACK frame k in flight is handed to the sender core
//   ReceiveData(s)  a copy of the DATA frame s in flight is handed to the receiver core; what it
//                   delivers goes to the receiving application, in order
//   Consume         the receiving application finishes with its oldest batch (`consumed`)
//   Acknowledge     the receiver core's `acknowledge` event; the ACK it writes goes in flight
//   Connect         a new connection: both cores `start` and write HELLO, and each HELLO (which
//                   carries the resume point and credit) reaches the other side at once
//   Break           the connection is lost (`transportClosed` at both cores); in flight is lost
//   LoseData(s), LoseAck(k)  the frame is taken out of flight
//   Done            nothing (a stuttering step; the adapter checks that everything was acked)
//
// The cores keep their state across connections (option `reconnect`). Window is the cores'
// windowFrames; every body is 4 bytes, and windowBytes = 4 * Window, maxQueuedBytes = 4 *
// Window, so the byte credit binds exactly when the frame credit does.
//
// The refinement mapping (abstract):
//   next, acked, tx, limit = the sender machine's next, acked, tx, limit (its byte credit must
//                            be 4 * limit); buf = the numbers of the frames it keeps
//   delivered = the frame numbers the receiving application got, in order (read from the
//               bodies); consumed = the receiver machine's consumed (and the application's)
//   up = both machines up (if they disagree, a record saying so); faults = the adapter's count
//   data, acks = the frames in flight, decoded (DATA body = its frame number; ACK byte limit =
//               4 * its frame limit), as sets
//
// Probes (`probe`): at every state of a trace, the harness (conformance/probes.ts) also
// tries what the spec disables there and requires the runtime to refuse it.
import { fileURLToPath } from 'node:url';
import {
  DeliveryChannelCore,
  FrameType,
  decodeAck,
  decodeData,
  type DeliveryMutation,
} from '../runtime/net/channel.ts';
import { FrameDecoder } from '../runtime/net/framing.ts';
import { drainSenderOutbox, keptFrames } from '../machines/delivery-sender.ts';
import { drainReceiverOutbox } from '../machines/delivery-receiver.ts';
import { RecordValue, record, setOf, tuple, type Value } from '../tla/values.ts';
import type { ConformanceAdapter, ConformanceSuite, Refusal, SpecAction, SpecState } from './harness.ts';

/** Bytes of one batch body: its frame number, u32 big-endian. */
export const BODY_BYTES = 4;

export const DELIVERY_MUTATIONS: readonly DeliveryMutation[] = [
  'no-dedup',
  'drop-unacked',
  'resend-off-by-one',
  'forget-resume',
];

export interface DeliveryAdapterOptions {
  readonly msgs: number;
  readonly window: number;
  readonly maxFaults: number;
  readonly mutation?: DeliveryMutation;
}

/** The runtime objects of one replay. */
export interface DeliveryRuntime {
  readonly sender: DeliveryChannelCore;
  readonly receiver: DeliveryChannelCore;
  /** DATA frames in flight to the receiver, by frame number (a set: one copy each). */
  readonly data: Map<number, Uint8Array>;
  /** ACK frames in flight to the sender, by `ack,limit` (a set). */
  readonly acks: Map<string, Uint8Array>;
  /** Reassemble each core's byte chunks into frames (real framing code), per connection. */
  toReceiver: FrameDecoder;
  toSender: FrameDecoder;
  /** HELLOs written on this connection, not yet handed over. */
  readonly hellos: { toReceiver: Uint8Array[]; toSender: Uint8Array[] };
  /** The sending application's next frame number. */
  nextBatch: number;
  /** Frame numbers the receiving application got, in order, and how many it finished. */
  readonly got: number[];
  consumed: number;
  faults: number;
  /** Something the cores wrote or delivered that the protocol has no place for. */
  readonly unexpected: string[];
}

function bodyOf(n: number): Uint8Array {
  const b = Buffer.alloc(BODY_BYTES);
  b.writeUInt32BE(n, 0);
  return b;
}

function numberIn(body: Uint8Array): number | null {
  if (body.length !== BODY_BYTES) return null;
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).readUInt32BE(0);
}

/** Takes what the cores wrote and delivered and files it: in flight, handshakes, the application. */
export function pump(rt: DeliveryRuntime): void {
  const s = rt.sender.ready();
  for (const chunk of s.writes)
    rt.toReceiver.push(chunk, (p) => {
      const f = Uint8Array.from(p);
      if (f[0] === FrameType.Data) {
        const d = decodeData(f);
        if (typeof d === 'string') rt.unexpected.push(`sender wrote a bad DATA frame: ${d}`);
        else rt.data.set(d.seq, f);
      } else if (f[0] === FrameType.Hello) rt.hellos.toReceiver.push(f);
      else rt.unexpected.push(`sender wrote a frame of type ${f[0]}`);
    });
  if (s.deliveries.length > 0)
    rt.unexpected.push(`the sender's core delivered ${s.deliveries.length} batches`);
  if (s.closed) rt.unexpected.push(`the sender's core closed: ${s.closed.reason}`);
  const r = rt.receiver.ready();
  for (const chunk of r.writes)
    rt.toSender.push(chunk, (p) => {
      const f = Uint8Array.from(p);
      if (f[0] === FrameType.Ack) {
        const a = decodeAck(f);
        if (typeof a === 'string') rt.unexpected.push(`receiver wrote a bad ACK frame: ${a}`);
        else rt.acks.set(`${a.ack},${a.limit}`, f);
      } else if (f[0] === FrameType.Hello) rt.hellos.toSender.push(f);
      else rt.unexpected.push(`receiver wrote a frame of type ${f[0]}`);
    });
  for (const d of r.deliveries) {
    const n = numberIn(d.body);
    if (n === null || n !== d.seq || d.messages !== 1)
      rt.unexpected.push(`the receiver delivered frame ${d.seq} with a body that is not frame ${d.seq}'s`);
    rt.got.push(d.seq);
  }
  if (r.closed) rt.unexpected.push(`the receiver's core closed: ${r.closed.reason}`);
}

function decoders(rt: Pick<DeliveryRuntime, 'toReceiver' | 'toSender'>): void {
  rt.toReceiver = new FrameDecoder({ connection: 'delivery sender -> receiver' });
  rt.toSender = new FrameDecoder({ connection: 'delivery receiver -> sender' });
}

function ackKey(k: Value | undefined): string {
  if (!(k instanceof RecordValue)) throw new Error(`an ACK argument must be a record, got ${String(k)}`);
  const a = k.vals[k.indexOf('ack')];
  const l = k.vals[k.indexOf('limit')];
  return `${String(a)},${String(l)}`;
}

function seqArg(s: Value | undefined): number {
  if (typeof s !== 'number') throw new Error(`a frame argument must be a number, got ${String(s)}`);
  return s;
}

export function deliveryAdapter(opts: DeliveryAdapterOptions): ConformanceAdapter<DeliveryRuntime> {
  const { msgs, window, mutation } = opts;
  if (!Number.isSafeInteger(window) || window < 1)
    throw new RangeError(`Delivery adapter: Window must be at least 1, got ${window}`);
  const core = (worker: string, peer: string): DeliveryChannelCore =>
    new DeliveryChannelCore({
      local: { cluster: 'conformance', app: 'delivery', worker },
      expectedPeer: peer,
      windowFrames: window,
      windowBytes: window * BODY_BYTES,
      maxQueuedBytes: window * BODY_BYTES,
      policy: 'manual',
      reconnect: true,
      connection: `delivery ${worker} (peer ${peer})`,
      ...(mutation ? { mutation } : {}),
    });

  return {
    // The spec has one initial state (up = FALSE, nothing sent): fresh cores, no connection.
    create(): DeliveryRuntime {
      const rt = {
        sender: core('sender', 'receiver'),
        receiver: core('receiver', 'sender'),
        data: new Map(),
        acks: new Map(),
        hellos: { toReceiver: [], toSender: [] },
        nextBatch: 1,
        got: [],
        consumed: 0,
        faults: 0,
        unexpected: [],
      } as unknown as DeliveryRuntime;
      decoders(rt);
      return rt;
    },

    perform(rt: DeliveryRuntime, action: SpecAction): void {
      switch (action.name) {
        case 'Send':
          if (rt.nextBatch > msgs) throw new Error(`the application has sent all ${msgs} batches`);
          rt.sender.step({ type: 'send', body: bodyOf(rt.nextBatch), messages: 1 });
          rt.nextBatch++;
          break;
        case 'Transmit':
          rt.sender.step({ type: 'transmit', max: 1 });
          break;
        case 'Retransmit':
          rt.sender.step({ type: 'retransmit' });
          break;
        case 'ReceiveAck': {
          const f = rt.acks.get(ackKey(action.args.k));
          if (!f) throw new Error(`no ACK ${ackKey(action.args.k)} is in flight`);
          rt.sender.step({ type: 'frame', payload: Uint8Array.from(f) });
          break;
        }
        case 'ReceiveData': {
          const s = seqArg(action.args.s);
          const f = rt.data.get(s);
          if (!f) throw new Error(`no DATA frame ${s} is in flight`);
          rt.receiver.step({ type: 'frame', payload: Uint8Array.from(f) });
          break;
        }
        case 'Consume':
          if (rt.consumed >= rt.got.length) throw new Error('the application has nothing unconsumed');
          rt.receiver.step({ type: 'consumed', frames: 1, messages: 1, bytes: BODY_BYTES });
          rt.consumed++;
          break;
        case 'Acknowledge':
          rt.receiver.step({ type: 'acknowledge' });
          break;
        case 'Connect': {
          decoders(rt);
          rt.sender.step({ type: 'start' });
          rt.receiver.step({ type: 'start' });
          pump(rt);
          const toR = rt.hellos.toReceiver.splice(0);
          const toS = rt.hellos.toSender.splice(0);
          if (toR.length !== 1 || toS.length !== 1)
            throw new Error(`Connect: ${toR.length} HELLOs to the receiver and ${toS.length} to the sender`);
          rt.receiver.step({ type: 'frame', payload: toR[0]! });
          rt.sender.step({ type: 'frame', payload: toS[0]! });
          break;
        }
        case 'Break':
          rt.sender.step({ type: 'transportClosed', reason: 'conformance: Break' });
          rt.receiver.step({ type: 'transportClosed', reason: 'conformance: Break' });
          rt.data.clear();
          rt.acks.clear();
          rt.faults++;
          break;
        case 'LoseData': {
          const s = seqArg(action.args.s);
          if (!rt.data.delete(s)) throw new Error(`no DATA frame ${s} is in flight`);
          rt.faults++;
          break;
        }
        case 'LoseAck': {
          const k = ackKey(action.args.k);
          if (!rt.acks.delete(k)) throw new Error(`no ACK ${k} is in flight`);
          rt.faults++;
          break;
        }
        case 'Done': {
          const s = rt.sender.senderState;
          if (s.acked !== msgs || rt.consumed !== msgs)
            throw new Error(`Done with ${s.acked} of ${msgs} acknowledged and ${rt.consumed} consumed`);
          break;
        }
        default:
          throw new Error(`Delivery has no action ${action.name}`);
      }
      pump(rt);
    },

    refusals(rt: DeliveryRuntime): Refusal[] {
      return deliveryRefusals(rt, msgs);
    },

    abstract(rt: DeliveryRuntime): SpecState {
      if (rt.unexpected.length > 0) throw new Error(rt.unexpected.join('; '));
      const s = rt.sender.senderState;
      const r = rt.receiver.receiverState;
      if (s.limitBytes !== s.limit * BODY_BYTES)
        throw new Error(
          `the sender's byte credit ${s.limitBytes} is not ${BODY_BYTES} * its frame credit ${s.limit}`,
        );
      if (r.consumed !== rt.consumed)
        throw new Error(`the receiver machine counts ${r.consumed} consumed, the application ${rt.consumed}`);
      const data: Value[] = [];
      for (const f of rt.data.values()) {
        const d = decodeData(f);
        if (typeof d === 'string') throw new Error(d);
        data.push(
          numberIn(d.body) === d.seq ? d.seq : record({ seq: d.seq, problem: 'body of another frame' }),
        );
      }
      const acks: Value[] = [];
      for (const f of rt.acks.values()) {
        const a = decodeAck(f);
        if (typeof a === 'string') throw new Error(a);
        acks.push(
          a.limitBytes === a.limit * BODY_BYTES
            ? record({ ack: a.ack, limit: a.limit })
            : record({ ack: a.ack, limit: a.limit, limitBytes: a.limitBytes }),
        );
      }
      return {
        next: s.next,
        buf: tuple(keptFrames(s).map((f) => f.seq)),
        acked: s.acked,
        tx: s.tx,
        limit: s.limit,
        delivered: tuple(rt.got),
        consumed: r.consumed,
        up: s.up === r.up ? s.up : record({ sender: s.up, receiver: r.up }),
        data: setOf(data),
        acks: setOf(acks),
        faults: rt.faults,
      };
    },
  };
}

/**
 * Takes a machine's outbox after an attempt made on the machine directly: a `violation` is the
 * refusal the attempt should get (the core would log it and reset the connection, which
 * conformance/delivery.test.ts checks on its own); anything else is something the machine did
 * and is filed where the refinement mapping sees it.
 */
function takeRefusal(
  rt: DeliveryRuntime,
  side: 'sender' | 'receiver',
  what: string,
  wantViolation: boolean,
): void {
  const out =
    side === 'sender'
      ? drainSenderOutbox(rt.sender.senderState)
      : drainReceiverOutbox(rt.receiver.receiverState);
  const violations = out.filter((o) => o.kind === 'violation').length;
  if (wantViolation && violations === 0)
    rt.unexpected.push(`${what}: the ${side} machine reported no violation`);
  // A dropped frame (a duplicate, or beyond a gap) is refused too: the spec's stuttering step.
  const other = out.filter((o) => o.kind !== 'violation' && o.kind !== 'dropped');
  if (other.length > 0)
    rt.unexpected.push(`${what}: the ${side} machine queued ${other.map((o) => o.kind).join(', ')}`);
}

/**
 * What the runtime must refuse at a state (the harness tries each spec action instance only
 * where the spec disables it). Through the cores, as in production: the local operations
 * (send, transmit, retransmit, acknowledge) and every DATA frame in flight whose ReceiveData
 * the spec disables (a duplicate, or one from beyond a gap: the receiver drops it). On the
 * machines the cores run, directly: input a peer that follows the spec never sends, which the
 * core answers by resetting the connection (a forged ACK, DATA beyond the credit granted, a
 * handshake resuming from a frame the sender no longer keeps or never sent, a second one), and
 * Consume, Connect and Break where the spec disables them.
 */
export function deliveryRefusals(rt: DeliveryRuntime, msgs: number): Refusal[] {
  const s = rt.sender.senderState;
  const r = rt.receiver.receiverState;
  const out: Refusal[] = [];
  const spec = (name: string, args: Record<string, Value> = {}): SpecAction => ({ name, args });
  if (rt.nextBatch <= msgs)
    out.push({
      what: 'Send (the sender machine, directly)',
      spec: spec('Send'),
      attempt: () => {
        rt.sender.sender.send({ type: 'Send', batches: [{ body: bodyOf(s.next), messages: 1 }] });
        takeRefusal(rt, 'sender', 'Send', false);
      },
    });
  out.push({ what: 'Transmit', spec: spec('Transmit'), attempt: () => rt.sender.step({ type: 'transmit' }) });
  out.push({
    what: 'Retransmit',
    spec: spec('Retransmit'),
    attempt: () => rt.sender.step({ type: 'retransmit' }),
  });
  out.push({
    what: 'Acknowledge',
    spec: spec('Acknowledge'),
    attempt: () => rt.receiver.step({ type: 'acknowledge' }),
  });
  out.push({
    what: 'Consume (the receiver machine, directly)',
    spec: spec('Consume'),
    attempt: () => {
      rt.receiver.receiver.send({ type: 'Consume', frames: 1, bytes: BODY_BYTES });
      takeRefusal(rt, 'receiver', 'Consume', false);
    },
  });
  for (const [seq, f] of rt.data)
    out.push({
      what: `ReceiveData(s = ${seq}) (${seq <= r.delivered ? 'a duplicate' : 'beyond a gap'})`,
      spec: spec('ReceiveData', { s: seq }),
      attempt: () => rt.receiver.step({ type: 'frame', payload: Uint8Array.from(f) }),
    });
  // Break and Connect where the connection state disables them (the spec's fault budget also
  // disables Break, but that bounds the model, not the runtime).
  if (!s.up)
    out.push({
      what: 'Break (the sender machine, directly)',
      spec: spec('Break'),
      attempt: () => rt.sender.sender.send({ type: 'Break' }),
    });
  if (!r.up)
    out.push({
      what: 'Break (the receiver machine, directly)',
      spec: spec('Break'),
      attempt: () => rt.receiver.receiver.send({ type: 'Break' }),
    });
  if (r.up)
    out.push({
      what: 'Connect (the receiver machine, directly)',
      spec: spec('Connect'),
      attempt: () => {
        rt.receiver.receiver.send({ type: 'Connect' });
        takeRefusal(rt, 'receiver', 'Connect', false);
      },
    });
  if (s.up) {
    out.push({
      what: 'a second handshake on an open connection (the sender machine, directly)',
      attempt: () => {
        rt.sender.sender.send({ type: 'Connect', resume: s.acked, limit: s.limit, limitBytes: s.limitBytes });
        takeRefusal(rt, 'sender', 'a second handshake', true);
      },
    });
    out.push({
      what: `a forged ACK of frame ${s.next} (never sent; the sender machine, directly)`,
      attempt: () => {
        rt.sender.sender.send({
          type: 'ReceiveAck',
          ack: s.next,
          limit: s.limit + 1,
          limitBytes: s.limitBytes + BODY_BYTES,
        });
        takeRefusal(rt, 'sender', 'a forged ACK', true);
      },
    });
  } else {
    if (s.acked > 0)
      out.push({
        what: `a handshake resuming after frame ${s.acked - 1}, which the sender no longer keeps (the sender machine, directly)`,
        attempt: () => {
          rt.sender.sender.send({
            type: 'Connect',
            resume: s.acked - 1,
            limit: s.limit,
            limitBytes: s.limitBytes,
          });
          takeRefusal(rt, 'sender', 'a stale resume point', true);
        },
      });
    out.push({
      what: `a handshake resuming after frame ${s.next}, never sent (the sender machine, directly)`,
      attempt: () => {
        rt.sender.sender.send({ type: 'Connect', resume: s.next, limit: s.limit, limitBytes: s.limitBytes });
        takeRefusal(rt, 'sender', 'a future resume point', true);
      },
    });
  }
  if (r.up) {
    const beyond = r.consumed + r.window + 1;
    out.push({
      what: `DATA frame ${r.delivered + 1} beyond the credit granted (the receiver machine, directly)`,
      attempt: () => {
        // Next in order, but the receiver's window is taken to be full: deliver only if room.
        const seq = r.delivered + 1;
        if (seq <= r.consumed + r.window) return; // within credit: not a violation here
        rt.receiver.receiver.send({ type: 'ReceiveData', frames: [{ seq, messages: 1, body: bodyOf(seq) }] });
        takeRefusal(rt, 'receiver', 'DATA beyond credit', true);
      },
    });
    out.push({
      what: `DATA frame ${beyond} from beyond a gap and the credit (the receiver machine, directly)`,
      attempt: () => {
        rt.receiver.receiver.send({
          type: 'ReceiveData',
          frames: [{ seq: beyond, messages: 1, body: bodyOf(beyond) }],
        });
        takeRefusal(rt, 'receiver', 'DATA from beyond a gap', false);
      },
    });
  }
  // Whatever an attempt made the cores write or deliver is filed where the mapping sees it.
  return out.map((x) => ({
    ...x,
    attempt: () => {
      try {
        x.attempt();
      } finally {
        pump(rt);
      }
    },
  }));
}

function natConstant(c: Readonly<Record<string, Value>>, name: string): number {
  const v = c[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new TypeError(`Delivery model: constant ${name} must be a natural number, got ${String(v)}`);
  return v;
}

export const SPECS_DIR = fileURLToPath(new URL('../specs/', import.meta.url));
export const MODELS_DIR = fileURLToPath(new URL('./models/', import.meta.url));

/** The models `buffy conformance delivery` runs by default: specs/ and conformance/models/. */
export const DELIVERY_MODELS: readonly string[] = [
  `${SPECS_DIR}Delivery.cfg`,
  `${SPECS_DIR}Delivery-faults2.cfg`,
  `${MODELS_DIR}Delivery-window2.cfg`,
];

/** The largest model (15579 states, about a minute): conformance/delivery.test.ts and `--config`. */
export const DELIVERY_LARGE_MODEL = `${MODELS_DIR}Delivery-window2-msgs3.cfg`;

/** The suite: specs/Delivery.tla with a model (default: specs/Delivery.cfg). */
export function deliverySuite(
  opts: { cfgFile?: string; mutation?: DeliveryMutation } = {},
): ConformanceSuite<DeliveryRuntime> {
  return {
    name: opts.mutation ? `delivery[mutation ${opts.mutation}]` : 'delivery',
    specFile: `${SPECS_DIR}Delivery.tla`,
    cfgFile: opts.cfgFile ?? `${SPECS_DIR}Delivery.cfg`,
    constants: ['Msgs', 'Window', 'MaxFaults'],
    adapter: (c) =>
      deliveryAdapter({
        msgs: natConstant(c, 'Msgs'),
        window: natConstant(c, 'Window'),
        maxFaults: natConstant(c, 'MaxFaults'),
        ...(opts.mutation ? { mutation: opts.mutation } : {}),
      }),
  };
}
