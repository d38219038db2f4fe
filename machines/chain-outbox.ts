// The upstream half of exactly-once between state steps (docs/exactly-once.md, "State -> state";
// specs/RecoveryChain.tla, W1's outbox towards W2) as an XState v5 machine: the core that
// runtime/engine/chain.ts runs on every worker whose state steps feed state steps on peers.
// Numbers only: entry numbers (seq), message counts, marks, out-stream and stream indexes; the
// messages, store keys, timers and sends are the shell's.
//
// Per out-stream o (a target state step on one peer, numbered 0..outs-1) the context holds
//   next          the next entry number to give (entries are 0, 1, 2, ...)
//   acked         acked2: the highest entry the downstream acknowledged (NO_SEQ: none)
//   sent          outTx1: the highest entry handed to the network in this round
//   entries       dOut1 minus what is acknowledged: durable entries (seq, messages), ascending
//   inFlight      the entries of the commit being written (out1 \ dOut1): sent once durable
//   progressMs    when an acknowledgement last advanced (or the out-stream was last resent)
//   resendAfterMs how long a silence since progressMs makes W1 assume W2 restarted
// and the end-to-end gate (W1Ack): per commit made durable, a record of the sources' marks, the
// in-streams' marks and the last entry of each out-stream it depends on; per consumer (the
// sources, or the in-streams of one chained step) how many records it has released.
//
// Events are the spec's actions of W1's outbox, refined:
//   W1Persist {entries, marks}  a commit starts: `entries` (out-stream, message count), in the
//                               order the shell made them, are numbered; the in-streams' marks
//                               of the commit are recorded. Queues what the commit writes:
//                               `entry` and `next` per new entry and out-stream, `mark` per
//                               changed in-stream mark, `delete` per acknowledged entry
//   Persisted {now}             (refinement) that commit is durable: its entries join dOut1
//                               (an out-stream that had none starts its silence now)
//   W1SendOut                   every durable entry above `sent` is queued `send` (after a
//                               commit, a recovery or a resend)
//   W1ReceiveAck {out, ack, now} W2 acknowledged entries <= ack: they leave the outbox (queued
//                               `release`; their deletion goes into the next W1Persist), and
//                               the gate may release reports
//   W1Ack {sources}             a commit's sources' durable marks (after each commit, once
//                               after recovery): recorded, and the gate queues `report` (the
//                               sources' marks) and `ack` (an in-stream's mark to its upstream)
//                               for the newest record whose entries are all acknowledged
//   W2Ack {stream}              an entry of in-stream `stream` was dropped (duplicate or gap):
//                               acknowledge again what the gate released (queued `ack`)
//   CrashW1 {outs, marks, now}  the restarted process's view of CrashW1: volatile := durable,
//                               the outboxes and in-stream marks loaded from the store; every
//                               stored entry is to be sent again (sent := acked)
//   CrashW2 {now}               W1 cannot see W2 restart; an out-stream whose acknowledgement
//                               is silent for resendAfterMs is treated as if it had (the spec's
//                               outTx1' = 0: sent := acked), the wait doubling from
//                               RESEND_AFTER_MS up to MAX_RESEND_AFTER_MS while none comes
// A guard that is false leaves the snapshot unchanged. The context's `ready` queue is drained by
// the shell (`drainChainOutboxReady`).
import { assign, setup } from 'xstate';

/** The spec's actions this machine takes (test/machines/chain-outbox.test.ts checks them
 * against specs/RecoveryChain.tla's Next), then the refinement's. */
export const CHAIN_OUTBOX_SPEC_EVENTS = [
  'W1Persist',
  'W1Ack',
  'W1SendOut',
  'W1ReceiveAck',
  'W2Ack',
  'CrashW1',
  'CrashW2',
] as const;
export const CHAIN_OUTBOX_REFINEMENT_EVENTS = ['Persisted'] as const;
export const CHAIN_OUTBOX_EVENTS = [...CHAIN_OUTBOX_SPEC_EVENTS, ...CHAIN_OUTBOX_REFINEMENT_EVENTS] as const;

/** specs/RecoveryChain.tla's actions by who takes them: `outbox` is this machine; `recovery` is
 * machines/recovery-worker.ts (W1's and W2's dedup, persist of state and sink outbox). */
export const RECOVERY_CHAIN_ACTION_ROLES = {
  SourceSend: 'source',
  SourceReceiveAck: 'source',
  W1Receive: 'recovery',
  W1Persist: 'outbox',
  W1Ack: 'outbox',
  W1SendOut: 'outbox',
  W1ReceiveAck: 'outbox',
  W2Receive: 'recovery',
  W2Persist: 'recovery',
  W2Ack: 'outbox',
  W2SendOut: 'recovery',
  W2ReceiveSinkAck: 'recovery',
  SinkReceive: 'sink',
  CrashW1: 'outbox',
  CrashW2: 'outbox',
  CrashSource: 'crash',
  Done: 'stutter',
} as const;

/** No entry (before entry 0). */
export const NO_SEQ = -1;
/** The first wait of silence before an out-stream is sent again from its oldest entry. */
export const RESEND_AFTER_MS = 1000;
/** The longest such wait while no acknowledgement comes. */
export const MAX_RESEND_AFTER_MS = 4000;

export interface OutboxEntry {
  readonly seq: number;
  readonly messages: number;
}

export interface OutStreamState {
  readonly next: number;
  readonly acked: number;
  readonly sent: number;
  readonly entries: readonly OutboxEntry[];
  readonly inFlight: readonly OutboxEntry[];
  readonly progressMs: number;
  readonly resendAfterMs: number;
}

/** One durable commit, as the gate keeps it. */
export interface GateRecord {
  /** The sources' durable marks (reported to the source worker). */
  readonly sources: Readonly<Record<number, number>>;
  /** The in-streams' durable marks (acknowledged to their upstreams). */
  readonly marks: Readonly<Record<number, number>>;
  /** Per out-stream: the last entry given up to this commit (NO_SEQ: none). */
  readonly need: readonly number[];
}

/** A consumer of the gate: the sources (`step` null) or the in-streams of one chained step. */
export interface GateConsumer {
  readonly step: number | null;
  /** The out-streams whose entries it waits for. */
  readonly outs: readonly number[];
  /** Its in-streams (none for the sources). */
  readonly streams: readonly number[];
}

export interface InStreamState {
  /** The mark last acknowledged upstream. */
  readonly acked: number;
  /** The mark the gate released. */
  readonly released: number;
}

export type ChainOutboxReady =
  /** Write out-stream `out`'s entry `seq` (the i-th of W1Persist's entries). */
  | { readonly kind: 'entry'; readonly out: number; readonly seq: number }
  /** Write out-stream `out`'s next entry number. */
  | { readonly kind: 'next'; readonly out: number; readonly next: number }
  /** Write in-stream `stream`'s mark. */
  | { readonly kind: 'mark'; readonly stream: number; readonly mark: number }
  /** Delete out-stream `out`'s entry `seq` from the store. */
  | { readonly kind: 'delete'; readonly out: number; readonly seq: number }
  /** Send out-stream `out`'s entry `seq`. */
  | { readonly kind: 'send'; readonly out: number; readonly seq: number }
  /** Entries <= through of out-stream `out` are acknowledged: the shell may forget them. */
  | { readonly kind: 'release'; readonly out: number; readonly through: number }
  /** Report the sources' durable marks (end to end). */
  | { readonly kind: 'report'; readonly sources: Readonly<Record<number, number>> }
  /** Acknowledge in-stream `stream` up to `mark` to its upstream. */
  | { readonly kind: 'ack'; readonly stream: number; readonly mark: number };

export interface ChainOutboxContext {
  readonly outs: readonly OutStreamState[];
  readonly ins: Readonly<Record<number, InStreamState>>;
  readonly consumers: readonly GateConsumer[];
  readonly records: readonly GateRecord[];
  /** Per consumer: how many records it released. */
  readonly releasedUpTo: readonly number[];
  /** The need of the last durable commit, and of the one in flight. */
  readonly needAtDurable: readonly number[];
  readonly needInFlight: readonly number[] | null;
  /** The in-streams' marks in the last durable commit, in the one in flight, last written. */
  readonly durableMarks: Readonly<Record<number, number>>;
  readonly marksInFlight: Readonly<Record<number, number>> | null;
  readonly lastMarks: Readonly<Record<number, number>>;
  /** Acknowledged entries whose store copies the next W1Persist deletes. */
  readonly toDelete: readonly { readonly out: number; readonly seq: number }[];
  /** Messages in entries not acknowledged (durable or in flight). */
  readonly unacked: number;
  readonly ready: ChainOutboxReady[];
}

export interface ChainOutboxInput {
  /** How many out-streams (numbered 0..outs-1). */
  readonly outs: number;
  /** The in-streams (recovery machine stream numbers). */
  readonly streams: readonly number[];
  readonly consumers: readonly GateConsumer[];
  readonly nowMs: number;
}

export type ChainOutboxEvent =
  | {
      readonly type: 'W1Persist';
      readonly entries: readonly { readonly out: number; readonly messages: number }[];
      /** The commit's marks (by stream; the in-streams' are kept). */
      readonly marks: Readonly<Record<number, number>>;
    }
  | { readonly type: 'Persisted'; readonly nowMs: number }
  | { readonly type: 'W1SendOut' }
  | { readonly type: 'W1ReceiveAck'; readonly out: number; readonly ack: number; readonly nowMs: number }
  | { readonly type: 'W1Ack'; readonly sources: Readonly<Record<number, number>> }
  | { readonly type: 'W2Ack'; readonly stream: number }
  | {
      readonly type: 'CrashW1';
      /** Per out-stream, from the store: its next entry number and its entries. */
      readonly outs: readonly { readonly next: number; readonly entries: readonly OutboxEntry[] }[];
      readonly marks: Readonly<Record<number, number>>;
      readonly nowMs: number;
    }
  | { readonly type: 'CrashW2'; readonly nowMs: number };

const nat = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const validOut = (c: ChainOutboxContext, o: unknown): o is number => nat(o) && o < c.outs.length;

/** Whether the event is a step from this context (its guard). */
export function chainOutboxEnabled(c: ChainOutboxContext, e: ChainOutboxEvent): boolean {
  switch (e.type) {
    case 'W1Persist':
      return c.needInFlight === null && e.entries.every((x) => validOut(c, x.out) && nat(x.messages));
    case 'Persisted':
      return c.needInFlight !== null;
    case 'W1SendOut':
      return c.outs.some((o) => o.entries.length > 0 && o.entries.at(-1)!.seq > o.sent);
    case 'W1ReceiveAck':
      // An acknowledgement of an entry never made is refused (the shell says why).
      return (
        validOut(c, e.out) &&
        Number.isSafeInteger(e.ack) &&
        e.ack > c.outs[e.out]!.acked &&
        e.ack < c.outs[e.out]!.next
      );
    case 'W1Ack':
      return true;
    case 'W2Ack':
      return Object.hasOwn(c.ins, e.stream) && c.ins[e.stream]!.released !== NO_SEQ;
    case 'CrashW1':
      return (
        e.outs.length === c.outs.length &&
        e.outs.every(
          (o) =>
            nat(o.next) &&
            o.entries.every(
              (x, i) => nat(x.seq) && x.seq < o.next && (i === 0 || o.entries[i - 1]!.seq + 1 === x.seq),
            ) &&
            (o.entries.length === 0 || o.entries.at(-1)!.seq === o.next - 1),
        )
      );
    case 'CrashW2':
      return c.outs.some((o) => o.entries.length > 0 && e.nowMs - o.progressMs >= o.resendAfterMs);
  }
}

/** The gate: per consumer, the newest record whose entries it depends on are all acknowledged
 * is released (queued); records every consumer has passed are dropped but the last released. */
function release(
  c: ChainOutboxContext,
  ready: ChainOutboxReady[],
): Pick<ChainOutboxContext, 'records' | 'releasedUpTo' | 'ins'> {
  const records = c.records;
  const ins: Record<number, InStreamState> = { ...c.ins };
  const upTo = c.releasedUpTo.map((k0, i) => {
    const consumer = c.consumers[i]!;
    let k = k0;
    while (k < records.length && consumer.outs.every((o) => c.outs[o]!.acked >= records[k]!.need[o]!)) k++;
    if (k > k0) {
      const r = records[k - 1]!;
      if (consumer.step === null) ready.push({ kind: 'report', sources: r.sources });
      for (const stream of consumer.streams) {
        const s = ins[stream]!;
        const released = Math.max(s.released, r.marks[stream] ?? NO_SEQ);
        if (released > s.acked) {
          ready.push({ kind: 'ack', stream, mark: released });
          ins[stream] = { acked: released, released };
        } else if (released !== s.released) ins[stream] = { ...s, released };
      }
    }
    return k;
  });
  const lowest = upTo.length === 0 ? records.length : Math.min(...upTo);
  if (lowest <= 1) return { records, releasedUpTo: upTo, ins };
  // Keep the last released record: its marks are what a duplicate is acknowledged with.
  const drop = lowest - 1;
  return { records: records.slice(drop), releasedUpTo: upTo.map((k) => k - drop), ins };
}

/** The step the event takes (only called where `chainOutboxEnabled`). */
export function chainOutboxStep(c: ChainOutboxContext, e: ChainOutboxEvent): ChainOutboxContext {
  const ready = c.ready;
  switch (e.type) {
    case 'W1Persist': {
      const outs = c.outs.map((o) => ({ ...o, inFlight: [...o.inFlight] }));
      const touched = new Set<number>();
      let unacked = c.unacked;
      for (const x of e.entries) {
        const o = outs[x.out]!;
        const seq = o.next++;
        o.inFlight.push({ seq, messages: x.messages });
        unacked += x.messages;
        touched.add(x.out);
        ready.push({ kind: 'entry', out: x.out, seq });
      }
      for (const out of [...touched].sort((a, b) => a - b))
        ready.push({ kind: 'next', out, next: outs[out]!.next });
      const mine: Record<number, number> = {};
      const lastMarks: Record<number, number> = { ...c.lastMarks };
      for (const key of Object.keys(c.ins)) {
        const stream = Number(key);
        const m = e.marks[stream];
        if (m === undefined) continue;
        mine[stream] = m;
        if (lastMarks[stream] === m) continue;
        lastMarks[stream] = m;
        ready.push({ kind: 'mark', stream, mark: m });
      }
      for (const d of c.toDelete) ready.push({ kind: 'delete', out: d.out, seq: d.seq });
      return {
        ...c,
        outs,
        unacked,
        lastMarks,
        toDelete: [],
        needInFlight: outs.map((o) => o.next - 1),
        marksInFlight: mine,
      };
    }
    case 'Persisted':
      return {
        ...c,
        needAtDurable: c.needInFlight!,
        durableMarks: c.marksInFlight ?? c.durableMarks,
        needInFlight: null,
        marksInFlight: null,
        outs: c.outs.map((o) =>
          o.inFlight.length === 0
            ? o
            : {
                ...o,
                entries: o.entries.concat(o.inFlight),
                inFlight: [],
                progressMs: o.entries.length === 0 ? e.nowMs : o.progressMs,
              },
        ),
      };
    case 'W1SendOut':
      return {
        ...c,
        outs: c.outs.map((o, out) => {
          const last = o.entries.at(-1);
          if (last === undefined || last.seq <= o.sent) return o;
          for (const x of o.entries) if (x.seq > o.sent) ready.push({ kind: 'send', out, seq: x.seq });
          return { ...o, sent: last.seq };
        }),
      };
    case 'W1ReceiveAck': {
      const o = c.outs[e.out]!;
      let k = 0;
      let unacked = c.unacked;
      const toDelete = [...c.toDelete];
      while (k < o.entries.length && o.entries[k]!.seq <= e.ack) {
        const x = o.entries[k++]!;
        unacked -= x.messages;
        toDelete.push({ out: e.out, seq: x.seq });
      }
      ready.push({ kind: 'release', out: e.out, through: e.ack });
      const outs = c.outs.map((p, i) =>
        i !== e.out
          ? p
          : {
              ...p,
              acked: e.ack,
              sent: Math.max(p.sent, e.ack),
              entries: p.entries.slice(k),
              progressMs: e.nowMs,
              resendAfterMs: RESEND_AFTER_MS,
            },
      );
      const next = { ...c, outs, unacked, toDelete };
      return { ...next, ...release(next, ready) };
    }
    case 'W1Ack': {
      const next = {
        ...c,
        records: [...c.records, { sources: e.sources, marks: c.durableMarks, need: c.needAtDurable }],
      };
      return { ...next, ...release(next, ready) };
    }
    case 'W2Ack': {
      const s = c.ins[e.stream]!;
      ready.push({ kind: 'ack', stream: e.stream, mark: s.released });
      return { ...c, ins: { ...c.ins, [e.stream]: { ...s, acked: s.released } } };
    }
    case 'CrashW1': {
      let unacked = 0;
      const outs = e.outs.map((o) => {
        for (const x of o.entries) unacked += x.messages;
        const first = o.entries[0];
        const acked = first === undefined ? o.next - 1 : first.seq - 1;
        return {
          next: o.next,
          acked,
          sent: acked,
          entries: [...o.entries],
          inFlight: [],
          progressMs: e.nowMs,
          resendAfterMs: RESEND_AFTER_MS,
        };
      });
      const ins: Record<number, InStreamState> = {};
      for (const key of Object.keys(c.ins)) ins[Number(key)] = { acked: NO_SEQ, released: NO_SEQ };
      return {
        ...c,
        outs,
        ins,
        records: [],
        releasedUpTo: c.consumers.map(() => 0),
        needAtDurable: outs.map((o) => o.next - 1),
        needInFlight: null,
        durableMarks: { ...e.marks },
        marksInFlight: null,
        lastMarks: { ...e.marks },
        toDelete: [],
        unacked,
      };
    }
    case 'CrashW2':
      return {
        ...c,
        outs: c.outs.map((o) =>
          o.entries.length === 0 || e.nowMs - o.progressMs < o.resendAfterMs
            ? o
            : {
                ...o,
                sent: o.acked,
                progressMs: e.nowMs,
                resendAfterMs: Math.min(MAX_RESEND_AFTER_MS, o.resendAfterMs * 2),
              },
        ),
      };
  }
}

function initialContext(input: ChainOutboxInput): ChainOutboxContext {
  if (!nat(input.outs))
    throw new RangeError(`chain outbox machine: outs must be a natural number, got ${input.outs}`);
  for (const g of input.consumers)
    for (const o of g.outs)
      if (!nat(o) || o >= input.outs)
        throw new RangeError(
          `chain outbox machine: a consumer waits for out-stream ${o}, but there are ${input.outs}`,
        );
  const ins: Record<number, InStreamState> = {};
  for (const s of input.streams) ins[s] = { acked: NO_SEQ, released: NO_SEQ };
  const outs = Array.from({ length: input.outs }, () => ({
    next: 0,
    acked: NO_SEQ,
    sent: NO_SEQ,
    entries: [],
    inFlight: [],
    progressMs: input.nowMs,
    resendAfterMs: RESEND_AFTER_MS,
  }));
  return {
    outs,
    ins,
    consumers: input.consumers,
    records: [],
    releasedUpTo: input.consumers.map(() => 0),
    needAtDurable: outs.map(() => NO_SEQ),
    needInFlight: null,
    durableMarks: {},
    marksInFlight: null,
    lastMarks: {},
    toDelete: [],
    unacked: 0,
    ready: [],
  };
}

export const chainOutboxMachine = setup({
  types: {
    context: {} as ChainOutboxContext,
    events: {} as ChainOutboxEvent,
    input: {} as ChainOutboxInput,
  },
  guards: {
    enabled: ({ context, event }) => chainOutboxEnabled(context, event),
  },
  actions: {
    step: assign(({ context, event }) => chainOutboxStep(context, event)),
  },
}).createMachine({
  id: 'ChainOutbox',
  context: ({ input }) => initialContext(input),
  initial: 'running',
  states: {
    running: {
      on: {
        W1Persist: { guard: 'enabled', actions: 'step' },
        Persisted: { guard: 'enabled', actions: 'step' },
        W1SendOut: { guard: 'enabled', actions: 'step' },
        W1ReceiveAck: { guard: 'enabled', actions: 'step' },
        W1Ack: { guard: 'enabled', actions: 'step' },
        W2Ack: { guard: 'enabled', actions: 'step' },
        CrashW1: { guard: 'enabled', actions: 'step' },
        CrashW2: { guard: 'enabled', actions: 'step' },
      },
    },
  },
});

/** Whether some entry waits for an acknowledgement (the shell keeps a resend timer armed). */
export function chainOutboxWaiting(c: ChainOutboxContext): boolean {
  return c.outs.some((o) => o.entries.length > 0);
}

/** Takes the queued decisions (in order) out of the context. */
export function drainChainOutboxReady(c: ChainOutboxContext): ChainOutboxReady[] {
  if (c.ready.length === 0) return [];
  return c.ready.splice(0, c.ready.length);
}
