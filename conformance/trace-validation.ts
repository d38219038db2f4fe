// Trace validation (issue 8): the protocol records of a run (runtime/sim/record.ts; from the
// simulator in memory, from real processes as JSON lines) mapped through the Delivery
// adapter's refinement mapping onto specs/Delivery.tla's variables, and every step checked
// with the checker's step labeller. The design, what is checked and what is not:
// docs/trace-validation.md.
//
// One protocol instance is one direction of one channel: the sender machine of the core at
// one end of a link and the receiver machine (and the application's deliveries) of the core at
// the other. Its records, in the run's order, become a sequence of abstract states:
//
//   next, acked, tx, limit   the sender machine's, after each of its events
//   buf                      the frames it keeps (first..last; not contiguous: a marker value)
//   delivered                the sequence numbers the receiving core handed its application
//   consumed                 the receiver machine's
//   up                       the connection as the spec has it (below)
//   data                     the DATA frames the sender put out since the spec's Connect
//   acks                     the ACKs the receiver put out since the spec's Connect
//   faults                   the spec's Breaks so far
//
// A machine event that is several of the spec's steps (Send of k batches, Transmit of k
// frames, Consume of k frames, an ACK per acknowledgement) becomes k states, each one more
// of what the event did (the last is the machine's state after it); an event that changes no
// spec variable (a duplicate dropped, the receiver's own Connect) is a stuttering step.
//
// The two ends of a connection do not change `up` at the same instant, as the spec's Connect
// and Break do. The mapping checks a linearisation of the run that keeps every end's own order
// and every cause before its effect: the spec's Connect is the sender's (when the receiver's
// HELLO arrives), and what the receiver did between writing that HELLO and the sender taking it
// is moved after it (those events are concurrent with it: nothing of the sender depends on them
// until their frames arrive, after the HELLO); the spec's Break is the later of the two ends'
// (a sender that closed first does nothing the receiver depends on, and frames it wrote may
// still arrive; its own later events move after the receiver's Break). ACKs written on a
// connection the sender never took up are lost with it (the spec's Acknowledge needs up).
//
// Constants are chosen from the record: Msgs = the most frames the sender numbered, Window =
// the receiver's (credit limit - consumed) or the most frames kept, MaxFaults = the Breaks;
// Msgs and MaxFaults rounded up to a power of two (at least 64 and 4), so that instances share
// models (their
// compiled actions, warm): neither changes which recorded steps are steps of Next. Msgs and
// MaxFaults appear in Next only in guards (next <= Msgs in Send, faults < MaxFaults in Break
// and the losses) that every recorded step meets already with the exact values (no recorded
// state numbers more frames or counts more faults), and in Done, a stuttering step, which is
// not labelled. Window is exact: it is the receiver's credit (Granted).
import type { CheckModel, State } from '../tla/index.ts';
import type { Ctx } from '../tla/eval/index.ts';
import { labelStep, parseExpression } from '../tla/index.ts';
import { labelStepLikely } from '../tla/check/label.ts';
import type { Expr } from '../tla/ast.ts';
import {
  EMPTY_SET,
  EMPTY_TUPLE,
  SetEnum,
  TupleValue,
  compare,
  record,
  tuple,
  type Value,
} from '../tla/values.ts';
import type { DeliverRecord, ProtocolRecord, ReceiverRecord, SenderRecord } from '../runtime/sim/record.ts';
import { diagnoseStep, fittedModel, safeEquals, showState } from './trace-validation-check.ts';

/**
 * One protocol instance's abstract state: Delivery's variables as the checker's values (and the
 * kept frames [first, last, count] that `buf` is made of). Consecutive states share the values
 * of the variables a step did not change, and a step builds what it changed from the previous
 * value (one frame appended, one element inserted), so a step costs the size of what it
 * changed, nothing is converted to be checked, and the labeller's UNCHANGED tests are
 * identity tests.
 */
interface DeliveryAbstract {
  readonly next: number;
  readonly kept: readonly [number, number, number];
  readonly buf: Value;
  readonly acked: number;
  readonly tx: number;
  readonly limit: number;
  readonly delivered: TupleValue;
  readonly consumed: number;
  readonly up: boolean;
  readonly data: SetEnum;
  readonly acks: SetEnum;
  readonly faults: number;
}

/** What made a state: the record (its place in the run, its end and event). */
export interface StepCause {
  readonly n: number;
  readonly end: string;
  readonly role: string;
  readonly ev: string;
  /** Set when the mapping moved the event (see the linearisation above). */
  readonly moved?: string;
}

export interface TraceViolation {
  readonly spec: string;
  /** The protocol instance, e.g. `delivery w0 -> w1 (link w0~w1#1)`. */
  readonly instance: string;
  /** Index of the abstract step (0: the first state is not initial). */
  readonly step: number;
  readonly cause: StepCause | null;
  /** TLA+ syntax, one variable a line. */
  readonly before: string | null;
  readonly after: string;
  /** The variables the step changed: [name, before, after]. */
  readonly changed: readonly (readonly [string, string, string])[];
  /** The actions enabled in the before-state. */
  readonly enabled: readonly string[];
  /** The successors of the before-state nearest the recorded after-state: action and the variables it gets wrong. */
  readonly closest: readonly { readonly action: string; readonly differ: readonly string[] }[];
  /** A problem the runtime itself reported at this step (a machine's protocol violation). */
  readonly note?: string;
}

export interface InstanceValidation {
  readonly spec: string;
  readonly instance: string;
  readonly records: number;
  /** Abstract steps checked (stuttering ones included), and how many were stuttering. */
  readonly steps: number;
  readonly stutters: number;
  readonly constants: Readonly<Record<string, number>>;
  /** How often each action labelled a step. */
  readonly actions: Readonly<Record<string, number>>;
  readonly violation: TraceViolation | null;
}

export interface TraceValidationReport {
  readonly instances: readonly InstanceValidation[];
  readonly steps: number;
  readonly violations: readonly TraceViolation[];
  /** Records that belong to no instance this validator knows (other protocols), by protocol. */
  readonly skipped: number;
  readonly elapsedMs: number;
}

// ---------------------------------------------------------------------------------------
// The mapping: records -> abstract states.

interface Mapped {
  readonly states: DeliveryAbstract[];
  readonly causes: (StepCause | null)[];
  readonly notes: Map<number, string>;
  readonly window: number;
  readonly maxNext: number;
}

type InstanceRecord = SenderRecord | ReceiverRecord | DeliverRecord;

const INITIAL: DeliveryAbstract = {
  next: 1,
  kept: [0, 0, 0],
  buf: EMPTY_TUPLE,
  acked: 0,
  tx: 1,
  limit: 0,
  delivered: EMPTY_TUPLE,
  consumed: 0,
  up: false,
  data: EMPTY_SET,
  acks: EMPTY_SET,
  faults: 0,
};

function keptAfterAppend(kept: readonly [number, number, number], seq: number): [number, number, number] {
  return kept[2] === 0 ? [seq, seq, 1] : [kept[0], seq, kept[2] + 1];
}

/**
 * `buf` for the kept frames ks, given the state before: the same value when ks says the same,
 * one frame appended when it says one more, else built: <<first, ..., last>> when contiguous,
 * and a marker record when not (no state of the spec has it: the step will not be labelled).
 */
function bufOf(before: DeliveryAbstract, ks: readonly [number, number, number]): Value {
  const b = before.kept;
  if (ks[2] === 0) return EMPTY_TUPLE;
  if (ks[0] === b[0] && ks[1] === b[1] && ks[2] === b[2]) return before.buf;
  if (
    before.buf instanceof TupleValue &&
    ks[2] === b[2] + 1 &&
    ks[1] === b[1] + 1 &&
    ks[0] === (b[2] === 0 ? ks[1] : b[0])
  )
    return new TupleValue([...before.buf.elems, ks[1]]);
  return ks[1] - ks[0] + 1 === ks[2]
    ? tuple(Array.from({ length: ks[2] }, (_, i) => ks[0] + i))
    : record({ keptFirst: ks[0], keptLast: ks[1], keptCount: ks[2] });
}

/** A state (every state is made here: one object shape, no spread of partial objects). */
function mk(
  next: number,
  kept: readonly [number, number, number],
  buf: Value,
  acked: number,
  tx: number,
  limit: number,
  delivered: TupleValue,
  consumed: number,
  up: boolean,
  data: SetEnum,
  acks: SetEnum,
  faults: number,
): DeliveryAbstract {
  return { next, kept, buf, acked, tx, limit, delivered, consumed, up, data, acks, faults };
}

/** a with the receiver's consumed (and in-flight ACKs) replaced. */
function withConsumed(a: DeliveryAbstract, consumed: number, acks: SetEnum = a.acks): DeliveryAbstract {
  return mk(
    a.next,
    a.kept,
    a.buf,
    a.acked,
    a.tx,
    a.limit,
    a.delivered,
    consumed,
    a.up,
    a.data,
    acks,
    a.faults,
  );
}

/** s with v (the same set when v is in it already). */
function withElement(s: SetEnum, v: Value): SetEnum {
  const es = s.elems;
  let lo = 0;
  let hi = es.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compare(es[mid]!, v);
    if (c === 0) return s;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  const out = es.slice(0, lo);
  out.push(v);
  for (let i = lo; i < es.length; i++) out.push(es[i]!);
  return new SetEnum(out);
}

/** Maps one instance's records (in the run's order) to abstract states. */
function mapDelivery(recs: readonly (InstanceRecord & { n: number; end: string })[]): Mapped {
  const states: DeliveryAbstract[] = [INITIAL];
  const causes: (StepCause | null)[] = [null];
  const notes = new Map<number, string>();
  let cur = INITIAL;
  // One value per acknowledgement [ack |-> a, limit |-> l] of the instance.
  const ackValues = new Map<string, Value>();
  const ackValue = (a: readonly [number, number]): Value => {
    const key = `${a[0]},${a[1]}`;
    let v = ackValues.get(key);
    if (v === undefined) ackValues.set(key, (v = record({ ack: a[0], limit: a[1] })));
    return v;
  };
  let senderUp = false;
  let receiverUp = false;
  let window = 0;
  let maxNext = 1;
  // Receiver events between its Connect and the sender's (moved after the sender's Connect), and
  // sender events from its Break on while the receiver is still up (moved after the receiver's).
  const held: { handshake: (typeof recs)[number][] | null; senderBroke: (typeof recs)[number][] | null } = {
    handshake: null,
    senderBroke: null,
  };

  const emit = (next: DeliveryAbstract, cause: StepCause): void => {
    states.push(next);
    causes.push(cause);
    cur = next;
  };
  const causeOf = (r: (typeof recs)[number], moved?: string): StepCause => ({
    n: r.n,
    end: r.end,
    role: r.role,
    ev: r.ev,
    ...(moved ? { moved } : {}),
  });

  const apply = (r: (typeof recs)[number], moved?: string): void => {
    const cause = causeOf(r, moved);
    if (r.role !== 'app' && r.violation !== undefined)
      notes.set(states.length, `the ${r.role} machine reported: ${r.violation}`);
    if (r.role === 'app') {
      const a = cur;
      const delivered = new TupleValue([...a.delivered.elems, r.seq]);
      emit(
        mk(
          a.next,
          a.kept,
          a.buf,
          a.acked,
          a.tx,
          a.limit,
          delivered,
          a.consumed,
          a.up,
          a.data,
          a.acks,
          a.faults,
        ),
        cause,
      );
      return;
    }
    if (r.role === 'sender') {
      maxNext = Math.max(maxNext, r.next);
      window = Math.max(window, r.kept[2]);
      // The machine's state after the event (the variables it does not hold from the state before).
      const final = (
        data: SetEnum = cur.data,
        up: boolean = cur.up,
        acks: SetEnum = cur.acks,
        faults: number = cur.faults,
      ): DeliveryAbstract => {
        const a = cur;
        const buf = bufOf(a, r.kept);
        return mk(
          r.next,
          r.kept,
          buf,
          r.acked,
          r.tx,
          r.limit,
          a.delivered,
          a.consumed,
          up,
          data,
          acks,
          faults,
        );
      };
      switch (r.ev) {
        case 'Send': {
          // k Send steps: the frames numbered cur.next .. r.next - 1, one at a time.
          let s = cur;
          for (let seq = cur.next; seq < r.next - 1; seq++) {
            const kept = keptAfterAppend(s.kept, seq);
            const b = bufOf(s, kept);
            s = mk(
              seq + 1,
              kept,
              b,
              s.acked,
              s.tx,
              s.limit,
              s.delivered,
              s.consumed,
              s.up,
              s.data,
              s.acks,
              s.faults,
            );
            emit(s, cause);
          }
          emit(final(), cause);
          return;
        }
        case 'Transmit': {
          let s = cur;
          let data = cur.data;
          for (let i = 0; i < r.wrote.length - 1; i++) {
            data = withElement(data, r.wrote[i]!);
            s = mk(
              s.next,
              s.kept,
              s.buf,
              s.acked,
              s.tx + 1,
              s.limit,
              s.delivered,
              s.consumed,
              s.up,
              data,
              s.acks,
              s.faults,
            );
            emit(s, cause);
          }
          if (r.wrote.length > 0) data = withElement(data, r.wrote[r.wrote.length - 1]!);
          emit(final(data), cause);
          return;
        }
        case 'Connect': {
          senderUp = r.up;
          emit(final(cur.data, r.up), cause);
          const moved2 = held.handshake ?? [];
          held.handshake = null;
          for (const m of moved2) apply(m, "after the sender's Connect (the receiver's HELLO was in flight)");
          return;
        }
        case 'Break': {
          if (senderUp && receiverUp && !moved) {
            held.senderBroke = [r];
            return;
          }
          const was = senderUp;
          senderUp = r.up;
          if (!was) {
            emit(final(), cause);
            return;
          }
          emit(final(EMPTY_SET, false, EMPTY_SET, cur.faults + 1), cause);
          return;
        }
        default: {
          let data = cur.data;
          for (const w of r.wrote) data = withElement(data, w);
          emit(final(data), cause);
          return;
        }
      }
    }
    // The receiver.
    if (r.hello) window = Math.max(window, r.hello[1] - r.consumed);
    for (const a of r.acks) window = Math.max(window, a[1] - r.consumed);
    switch (r.ev) {
      case 'Consume': {
        let s = cur;
        for (let c = cur.consumed + 1; c < r.consumed; c++) {
          s = withConsumed(s, c);
          emit(s, cause);
        }
        emit(withConsumed(cur, r.consumed), cause);
        return;
      }
      case 'Acknowledge': {
        if (!cur.up) {
          // Written on a connection the sender never took up: lost with it.
          emit(withConsumed(cur, r.consumed), {
            ...cause,
            moved: 'lost: the sender never took this connection up',
          });
          return;
        }
        let acks = cur.acks;
        for (const a of r.acks) {
          acks = withElement(acks, ackValue(a));
          emit(withConsumed(cur, r.consumed, acks), cause);
        }
        if (r.acks.length === 0) emit(withConsumed(cur, r.consumed), cause);
        return;
      }
      case 'Connect':
        receiverUp = r.up;
        emit(withConsumed(cur, r.consumed), cause);
        return;
      case 'Break':
        receiverUp = r.up;
        emit(withConsumed(cur, r.consumed), cause);
        return;
      default:
        // ReceiveData: what it delivers is the application's records that follow.
        emit(withConsumed(cur, r.consumed), cause);
        return;
    }
  };

  for (const r of recs) {
    if (held.senderBroke !== null) {
      if (r.role === 'sender') {
        held.senderBroke.push(r);
        continue;
      }
      if (r.role === 'receiver' && r.ev === 'Break') {
        apply(r);
        const queued = held.senderBroke;
        held.senderBroke = null;
        for (const q of queued) apply(q, "after the receiver's Break (the sender's end closed first)");
        continue;
      }
      apply(r);
      continue;
    }
    if (held.handshake !== null) {
      if (r.role !== 'sender') {
        if (r.role === 'receiver' && r.ev === 'Break') {
          // The connection died before the sender took it up: what was held back happens now.
          const queued = held.handshake;
          held.handshake = null;
          for (const q of queued) apply(q, 'the connection ended before the sender took it up');
          apply(r);
          continue;
        }
        held.handshake.push(r);
        continue;
      }
      apply(r);
      continue;
    }
    if (r.role === 'receiver' && r.ev === 'Connect' && !cur.up) {
      apply(r);
      held.handshake = [];
      continue;
    }
    apply(r);
  }
  if (held.senderBroke !== null) {
    const queued: (typeof recs)[number][] = held.senderBroke;
    held.senderBroke = null;
    receiverUp = false;
    for (const q of queued) apply(q, 'the run ended with the receiver still up');
  }
  if (held.handshake !== null) {
    const queued: (typeof recs)[number][] = held.handshake;
    held.handshake = null;
    for (const q of queued) apply(q, 'the run ended before the sender took the connection up');
  }
  return { states, causes, notes, window, maxNext };
}

/** The abstract state as the checker's state (the order of Delivery's VARIABLES). */
function specState(a: DeliveryAbstract): State {
  return [a.next, a.buf, a.acked, a.tx, a.limit, a.delivered, a.consumed, a.up, a.data, a.acks, a.faults];
}

function sameValue(x: Value, y: Value): boolean {
  return x === y || safeEquals(x, y);
}

function sameAbstract(x: DeliveryAbstract, y: DeliveryAbstract): boolean {
  return (
    x.next === y.next &&
    x.acked === y.acked &&
    x.tx === y.tx &&
    x.limit === y.limit &&
    x.consumed === y.consumed &&
    x.up === y.up &&
    x.faults === y.faults &&
    sameValue(x.buf, y.buf) &&
    sameValue(x.delivered, y.delivered) &&
    sameValue(x.data, y.data) &&
    sameValue(x.acks, y.acks)
  );
}

// ---------------------------------------------------------------------------------------
// The model, with constants fitted to the run.

function deliveryModel(msgs: number, window: number, maxFaults: number): Promise<CheckModel> {
  return fittedModel('Delivery', [
    ['Msgs', msgs],
    ['Window', window],
    ['MaxFaults', maxFaults],
  ]);
}

// ---------------------------------------------------------------------------------------
// Checking.

/**
 * The disjunct of Next a recorded event is expected to be (by its role and machine event). A
 * step is first labelled against that disjunct alone (its branches only, not every action's);
 * when it is not a step of it, against the whole of Next, so an event may be any action the
 * spec allows, and a violation is a step of no action at all. Where the states say which
 * instance of a quantified disjunct the step must be, the guess is that instance alone (`one`:
 * the operator applied to the witness, bound in the spec's context), so that its quantifier
 * does not try every element: ReceiveData(s) appends s to delivered, so s is the last frame
 * delivered after the step; ReceiveAck(k) raises acked to k.ack or keeps it, and limit to
 * k.limit, so when both rose, k is [ack |-> acked', limit |-> limit']. A wrong witness costs a
 * try of the whole of Next: it never makes a step pass that the spec does not allow.
 */
const EXPECTED: Readonly<
  Record<
    string,
    {
      readonly any: string;
      readonly one?: {
        readonly text: string;
        readonly name: string;
        readonly witness: (before: DeliveryAbstract, after: DeliveryAbstract) => Value | null;
      };
    }
  >
> = {
  'sender Send': { any: 'Send' },
  'sender Transmit': { any: 'Transmit' },
  'sender Retransmit': { any: 'Retransmit' },
  'sender ReceiveAck': {
    any: '\\E k \\in acks : ReceiveAck(k)',
    one: {
      text: 'ReceiveAck(k)',
      name: 'k',
      witness: (b, a) =>
        a.acked > b.acked && a.limit > b.limit ? record({ ack: a.acked, limit: a.limit }) : null,
    },
  },
  'sender Connect': { any: 'Connect' },
  'sender Break': { any: 'Break' },
  'app deliver': {
    any: '\\E s \\in data : ReceiveData(s)',
    one: {
      text: 'ReceiveData(s)',
      name: 's',
      witness: (_, a) => a.delivered.elems[a.delivered.elems.length - 1] ?? null,
    },
  },
  'receiver Consume': { any: 'Consume' },
  'receiver Acknowledge': { any: 'Acknowledge' },
};

interface Guess {
  readonly any: Expr;
  readonly one?: {
    readonly expr: Expr;
    readonly name: string;
    readonly witness: (b: DeliveryAbstract, a: DeliveryAbstract) => Value | null;
  };
}
let expected: Promise<Map<string, Guess>> | null = null;

function expectedActions(): Promise<Map<string, Guess>> {
  expected ??= (async () => {
    const out = new Map<string, Guess>();
    for (const [k, g] of Object.entries(EXPECTED)) {
      const any = await parseExpression(g.any);
      out.set(
        k,
        g.one
          ? {
              any,
              one: { expr: await parseExpression(g.one.text), name: g.one.name, witness: g.one.witness },
            }
          : { any },
      );
    }
    return out;
  })();
  return expected;
}

/** Checks one instance's abstract states against the model. */
function checkStates(
  cm: CheckModel,
  instance: string,
  m: Mapped,
  actions: Record<string, number>,
  guided: ReadonlyMap<string, Guess>,
): { steps: number; stutters: number; violation: TraceViolation | null } {
  const vars = cm.model.variables;
  const first = specState(m.states[0]!);
  const inits: State[] = [];
  cm.model.initStates(cm.init.expr, cm.init.ctx, (s) => inits.push(s));
  if (!inits.some((s) => s.every((v, i) => safeEquals(v, first[i]!))))
    return {
      steps: 0,
      stutters: 0,
      violation: {
        spec: 'Delivery',
        instance,
        step: 0,
        cause: null,
        before: null,
        after: showState(vars, first),
        changed: [],
        enabled: [],
        closest: [],
      },
    };
  let stutters = 0;
  let prev = first;
  for (let i = 1; i < m.states.length; i++) {
    if (sameAbstract(m.states[i - 1]!, m.states[i]!) && !m.notes.has(i)) {
      stutters++;
      continue;
    }
    const t = specState(m.states[i]!);
    const cause = m.causes[i];
    const guess = cause ? guided.get(`${cause.role} ${cause.ev}`) : undefined;
    let likely: { expr: Expr; ctx: Ctx } | null = null;
    if (guess) {
      const w = guess.one?.witness(m.states[i - 1]!, m.states[i]!) ?? null;
      likely =
        w === null || !guess.one
          ? { expr: guess.any, ctx: cm.next.ctx }
          : { expr: guess.one.expr, ctx: cm.model.bind(cm.next.ctx, guess.one.name, w) };
    }
    const labels = m.notes.has(i)
      ? []
      : likely === null
        ? labelStep(cm, prev, t)
        : labelStepLikely(cm.model, likely, cm.next, prev, t);
    if (labels.length > 0) {
      const k = labels[0]!.name;
      actions[k] = (actions[k] ?? 0) + 1;
      prev = t;
      continue;
    }
    const note = m.notes.get(i);
    return {
      steps: i,
      stutters,
      violation: {
        spec: 'Delivery',
        instance,
        step: i,
        cause: m.causes[i] ?? null,
        before: showState(vars, prev),
        after: showState(vars, t),
        ...diagnoseStep(cm, prev, t),
        ...(note !== undefined ? { note } : {}),
      },
    };
  }
  return { steps: m.states.length - 1, stutters, violation: null };
}

type Keyed = InstanceRecord & { n: number; end: string };

/**
 * The Delivery instances in a run's records: per pair of cores, one per direction. A core's
 * records are cut where it restarted (its peer came back as a new incarnation: new machines);
 * each piece belongs with the piece of the peer's core of the incarnation it learned.
 */
function deliveryInstances(records: readonly ProtocolRecord[]): Map<string, Keyed[]> {
  interface Piece {
    peer: string | null;
    peerInc: number | null;
    readonly recs: (ProtocolRecord & InstanceRecord)[];
  }
  // A core is (link, end, incarnation, core number): maps by each, so no key is built per record.
  const cores: Piece[][] = [];
  const byLink = new Map<string, Map<string, Map<number, Map<number | undefined, Piece[]>>>>();
  for (const r of records) {
    if (r.p !== 'delivery') continue;
    let byEnd = byLink.get(r.link);
    if (!byEnd) byLink.set(r.link, (byEnd = new Map()));
    let byInc = byEnd.get(r.end);
    if (!byInc) byEnd.set(r.end, (byInc = new Map()));
    let byCore = byInc.get(r.inc);
    if (!byCore) byInc.set(r.inc, (byCore = new Map()));
    let pieces = byCore.get(r.core);
    if (!pieces) {
      byCore.set(r.core, (pieces = [{ peer: r.peer === '?' ? null : r.peer, peerInc: null, recs: [] }]));
      cores.push(pieces);
    }
    const cur = pieces[pieces.length - 1]!;
    if (r.role === 'core') {
      if (r.ev === 'restart') pieces.push({ peer: r.worker, peerInc: r.incarnation, recs: [] });
      else {
        cur.peerInc ??= r.incarnation;
        cur.peer ??= r.worker;
      }
      continue;
    }
    cur.recs.push(r);
  }
  const name = (w: string | null, inc: number | null): string =>
    inc === 0 ? (w ?? '?') : `${w ?? '?'}@${inc ?? '?'}`;
  const out = new Map<string, Keyed[]>();
  const instance = (key: string): Keyed[] => {
    let a = out.get(key);
    if (!a) out.set(key, (a = []));
    return a;
  };
  // A piece that never took its peer's HELLO does not know the peer's incarnation, but the
  // peer may have taken ours (its Connect then needs our HELLO in the same instance): such a
  // piece pairs with the peer's pieces on the same link that learned our end and incarnation,
  // when they are all of one incarnation.
  for (const pieces of cores)
    for (const piece of pieces) {
      const r0 = piece.recs[0];
      if (r0 === undefined || piece.peer === null || piece.peerInc !== null) continue;
      const incs = new Set<number>();
      for (const other of cores)
        for (const q of other) {
          const q0 = q.recs[0];
          if (q0 === undefined || q0.link !== r0.link || q0.end !== piece.peer) continue;
          if (q.peer === r0.end && q.peerInc === r0.inc) incs.add(q0.inc);
        }
      if (incs.size === 1) piece.peerInc = [...incs][0]!;
    }
  for (const pieces of cores)
    for (const piece of pieces) {
      const r0 = piece.recs[0];
      if (r0 === undefined) continue;
      // Every record of a piece has its core's link, end and incarnation.
      const link = r0.link ? ` (link ${r0.link})` : '';
      const here = name(r0.end, r0.inc);
      const peer = name(piece.peer, piece.peerInc);
      let sending: Keyed[] | null = null;
      let receiving: Keyed[] | null = null;
      for (const r of piece.recs) {
        if (r.role === 'sender') (sending ??= instance(`delivery ${here} -> ${peer}${link}`)).push(r);
        else (receiving ??= instance(`delivery ${peer} -> ${here}${link}`)).push(r);
      }
    }
  for (const a of out.values()) a.sort((x, y) => x.n - y.n);
  return out;
}

/**
 * The records of several processes' protocol logs (JSON lines, `buffy node --protocol-log`)
 * as one run: each log in its own order, merged by the time each process stamped (`t`; the
 * processes of one machine share its clock); `n` renumbered in the merged order.
 */
export function parseProtocolLogs(logs: readonly { file: string; text: string }[]): ProtocolRecord[] {
  const parsed = logs.map(({ file, text }) => {
    const out: ProtocolRecord[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(
          `${file}:${i + 1}: not JSON (${(e as Error).message}); a protocol log has one record a line`,
          { cause: e },
        );
      }
      const o = v as Record<string, unknown>;
      const missing = ['p', 'role', 'ev', 'end', 'peer', 'link', 'inc', 't'].filter(
        (k) => o[k] === undefined,
      );
      if (typeof v !== 'object' || v === null || missing.length > 0)
        throw new Error(
          `${file}:${i + 1}: not a protocol record (missing ${missing.join(', ')}); write logs with buffy node --protocol-log`,
        );
      out.push(o as unknown as ProtocolRecord);
    });
    return out;
  });
  const heads = parsed.map(() => 0);
  const merged: ProtocolRecord[] = [];
  for (;;) {
    let best = -1;
    for (let k = 0; k < parsed.length; k++) {
      const r = parsed[k]![heads[k]!];
      if (r === undefined) continue;
      if (best < 0 || (r.t ?? 0) < (parsed[best]![heads[best]!]!.t ?? 0)) best = k;
    }
    if (best < 0) break;
    const r = parsed[best]![heads[best]!++]!;
    merged.push({ ...r, n: merged.length });
  }
  return merged;
}

/** 0 for n <= 0, else the least power of two >= n. */
function powerOfTwoAtLeast(n: number): number {
  if (n <= 0) return 0;
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Validates every Delivery instance of a run's records (in the run's order). */
export async function validateRecords(records: readonly ProtocolRecord[]): Promise<TraceValidationReport> {
  const t0 = performance.now();
  const instances: InstanceValidation[] = [];
  const violations: TraceViolation[] = [];
  let steps = 0;
  let skipped = 0;
  for (const r of records) if (r.p !== 'delivery') skipped++;
  const guided = await expectedActions();
  for (const [instance, recs] of deliveryInstances(records)) {
    const m = mapDelivery(recs);
    const faults = m.states[m.states.length - 1]!.faults;
    const constants = {
      Msgs: powerOfTwoAtLeast(Math.max(64, m.maxNext - 1)),
      Window: Math.max(1, m.window),
      MaxFaults: powerOfTwoAtLeast(Math.max(4, faults)),
    };
    const cm = await deliveryModel(constants.Msgs, constants.Window, constants.MaxFaults);
    const actions: Record<string, number> = {};
    const r = checkStates(cm, instance, m, actions, guided);
    steps += r.steps;
    if (r.violation) violations.push(r.violation);
    instances.push({
      spec: 'Delivery',
      instance,
      records: recs.length,
      steps: r.steps,
      stutters: r.stutters,
      constants,
      actions,
      violation: r.violation,
    });
  }
  return { instances, steps, violations, skipped, elapsedMs: performance.now() - t0 };
}

/** A violation for people: where, the states before and after, what changed, what was near. */
export function formatViolation(v: TraceViolation, seed?: number): string {
  const lines: string[] = [];
  lines.push(
    `trace validation: ${v.instance}: step ${v.step} is not a step of ${v.spec}'s next-state relation` +
      (seed !== undefined ? ` (seed ${seed})` : ''),
  );
  if (v.cause)
    lines.push(
      `  the step: record ${v.cause.n}, ${v.cause.role} of ${v.cause.end}, event ${v.cause.ev}` +
        (v.cause.moved ? ` (moved: ${v.cause.moved})` : ''),
    );
  if (v.note) lines.push(`  ${v.note}`);
  if (v.before === null) lines.push('  the first state is not an initial state of the spec:');
  else {
    lines.push('  before:');
    for (const l of v.before.split('\n')) lines.push(`    ${l}`);
  }
  if (v.changed.length > 0) {
    lines.push('  changed:');
    for (const [name, a, b] of v.changed) lines.push(`    ${name}: ${a} -> ${b}`);
  } else {
    lines.push('  after:');
    for (const l of v.after.split('\n')) lines.push(`    ${l}`);
  }
  lines.push(`  enabled in the before-state: ${v.enabled.join(', ') || '(none)'}`);
  for (const c of v.closest)
    lines.push(
      `  closest: ${c.action} (differs from the recorded state in ${c.differ.join(', ') || 'nothing'})`,
    );
  return lines.join('\n');
}

/** One line: instances, steps, actions, time. */
export function formatValidationSummary(r: TraceValidationReport): string {
  const byAction: Record<string, number> = {};
  let stutters = 0;
  for (const i of r.instances) {
    stutters += i.stutters;
    for (const [k, n] of Object.entries(i.actions)) byAction[k] = (byAction[k] ?? 0) + n;
  }
  const acts = Object.entries(byAction)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return (
    `trace validation: Delivery: ${r.instances.length} instances, ${r.steps} steps (${stutters} stuttering; ${acts || 'no actions'}), ` +
    `${r.violations.length} violations, ${Math.round(r.elapsedMs)} ms`
  );
}
