// The chain outbox machine against specs/RecoveryChain.tla, mechanically (the spec's Next is
// parsed with the project's parser: every disjunct has a role, and the machine's spec events are
// exactly the outbox-role actions), then its rules: entries are sent only once their commit is
// durable, acknowledgements release them, a silence resends from the oldest entry (1 s doubling
// to 4 s), a restart resends the stored outbox, and the end-to-end gate (a law under fast-check:
// a commit's report never comes before every entry it put into an outbox is acknowledged).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec } from '../../tla/index.ts';
import type { Expr } from '../../tla/ast.ts';
import {
  CHAIN_OUTBOX_EVENTS,
  CHAIN_OUTBOX_SPEC_EVENTS,
  MAX_RESEND_AFTER_MS,
  RECOVERY_CHAIN_ACTION_ROLES,
  RESEND_AFTER_MS,
  chainOutboxMachine,
  drainChainOutboxReady,
  type ChainOutboxEvent,
  type ChainOutboxReady,
  type GateConsumer,
} from '../../machines/chain-outbox.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specFile = path.join(root, 'specs/RecoveryChain.tla');

function disjunctNames(e: Expr, where: string): string[] {
  if (e.kind === 'or') return e.args.flatMap((a) => disjunctNames(a, where));
  if (e.kind === 'quant' && e.quantifier === 'exists') return disjunctNames(e.body, where);
  if (e.kind === 'name') return [e.name];
  if (e.kind === 'apply') return [e.op];
  throw new Error(`${where}: a disjunct of kind ${e.kind} is not an action name`);
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** Two out-streams; the sources wait for both; step 7's in-stream 100 waits for out-stream 1. */
const consumers: GateConsumer[] = [
  { step: null, outs: [0, 1], streams: [] },
  { step: 7, outs: [1], streams: [100] },
];

function started(nowMs = 0) {
  const a = createActor(chainOutboxMachine, {
    input: { outs: 2, streams: [100], consumers, nowMs },
  }).start();
  const send = (e: ChainOutboxEvent): ChainOutboxReady[] => {
    a.send(e);
    return drainChainOutboxReady(a.getSnapshot().context);
  };
  return { a, send };
}

describe('chain outbox machine vs specs/RecoveryChain.tla', () => {
  it("every disjunct of Next has a role, and the machine's spec events are the outbox actions", async () => {
    const spec = await loadSpec(specFile);
    const next = spec.root.definitions.find((d) => d.kind === 'opDef' && d.name === 'Next');
    if (!next || next.kind !== 'opDef') throw new Error(`${specFile} defines no Next`);
    const actions = disjunctNames(next.body, `${specFile}: Next`);
    expect(sorted(actions)).toEqual(sorted(Object.keys(RECOVERY_CHAIN_ACTION_ROLES)));
    const outbox = Object.entries(RECOVERY_CHAIN_ACTION_ROLES)
      .filter(([, r]) => r === 'outbox')
      .map(([a]) => a);
    expect(sorted(CHAIN_OUTBOX_SPEC_EVENTS)).toEqual(sorted(outbox));
    expect(sorted(chainOutboxMachine.events)).toEqual(sorted(CHAIN_OUTBOX_EVENTS));
  });
});

describe('commit, send, acknowledgement', () => {
  it('numbers entries at the commit, sends them once durable, deletes them after the ack', () => {
    const { a, send } = started();
    const persist = send({
      type: 'W1Persist',
      entries: [
        { out: 0, messages: 3 },
        { out: 0, messages: 2 },
        { out: 1, messages: 4 },
      ],
      marks: { 100: 5, 3: 9 },
    });
    expect(persist).toEqual([
      { kind: 'entry', out: 0, seq: 0 },
      { kind: 'entry', out: 0, seq: 1 },
      { kind: 'entry', out: 1, seq: 0 },
      { kind: 'next', out: 0, next: 2 },
      { kind: 'next', out: 1, next: 1 },
      { kind: 'mark', stream: 100, mark: 5 },
    ]);
    expect(a.getSnapshot().context.unacked).toBe(9);
    // Not durable yet: nothing to send, and a second commit cannot start.
    expect(a.getSnapshot().can({ type: 'W1SendOut' })).toBe(false);
    expect(a.getSnapshot().can({ type: 'W1Persist', entries: [], marks: {} })).toBe(false);
    expect(send({ type: 'Persisted', nowMs: 10 })).toEqual([]);
    expect(send({ type: 'W1SendOut' })).toEqual([
      { kind: 'send', out: 0, seq: 0 },
      { kind: 'send', out: 0, seq: 1 },
      { kind: 'send', out: 1, seq: 0 },
    ]);
    expect(a.getSnapshot().can({ type: 'W1SendOut' })).toBe(false);
    // The gate: the commit's report waits for both out-streams, step 7's ack for out-stream 1.
    expect(send({ type: 'W1Ack', sources: { 0: 41 } })).toEqual([]);
    expect(send({ type: 'W1ReceiveAck', out: 1, ack: 0, nowMs: 20 })).toEqual([
      { kind: 'release', out: 1, through: 0 },
      { kind: 'ack', stream: 100, mark: 5 },
    ]);
    expect(send({ type: 'W1ReceiveAck', out: 0, ack: 0, nowMs: 20 })).toEqual([
      { kind: 'release', out: 0, through: 0 },
    ]);
    expect(send({ type: 'W1ReceiveAck', out: 0, ack: 1, nowMs: 20 })).toEqual([
      { kind: 'release', out: 0, through: 1 },
      { kind: 'report', sources: { 0: 41 } },
    ]);
    expect(a.getSnapshot().context.unacked).toBe(0);
    // An old or unmade entry's ack is no step.
    expect(a.getSnapshot().can({ type: 'W1ReceiveAck', out: 0, ack: 1, nowMs: 30 })).toBe(false);
    expect(a.getSnapshot().can({ type: 'W1ReceiveAck', out: 0, ack: 2, nowMs: 30 })).toBe(false);
    // A dropped duplicate is acknowledged again with what was released.
    expect(send({ type: 'W2Ack', stream: 100 })).toEqual([{ kind: 'ack', stream: 100, mark: 5 }]);
    // The acknowledged entries' store copies go in the next commit; an unchanged mark is not rewritten.
    expect(send({ type: 'W1Persist', entries: [], marks: { 100: 5 } })).toEqual([
      { kind: 'delete', out: 1, seq: 0 },
      { kind: 'delete', out: 0, seq: 0 },
      { kind: 'delete', out: 0, seq: 1 },
    ]);
  });

  it('W2Ack before anything is released is no step', () => {
    const { a } = started();
    expect(a.getSnapshot().can({ type: 'W2Ack', stream: 100 })).toBe(false);
  });
});

describe('resend', () => {
  it('after a silence of 1 s from the oldest entry, the wait doubling to 4 s; an ack resets it', () => {
    const { a, send } = started(0);
    send({ type: 'W1Persist', entries: [{ out: 0, messages: 1 }], marks: {} });
    send({ type: 'Persisted', nowMs: 100 });
    send({ type: 'W1SendOut' });
    send({ type: 'W1Persist', entries: [{ out: 0, messages: 1 }], marks: {} });
    send({ type: 'Persisted', nowMs: 150 });
    expect(send({ type: 'W1SendOut' })).toEqual([{ kind: 'send', out: 0, seq: 1 }]);
    let now = 100;
    for (const wait of [RESEND_AFTER_MS, 2 * RESEND_AFTER_MS, MAX_RESEND_AFTER_MS, MAX_RESEND_AFTER_MS]) {
      expect(a.getSnapshot().can({ type: 'CrashW2', nowMs: now + wait - 1 })).toBe(false);
      now += wait;
      send({ type: 'CrashW2', nowMs: now });
      expect(send({ type: 'W1SendOut' })).toEqual([
        { kind: 'send', out: 0, seq: 0 },
        { kind: 'send', out: 0, seq: 1 },
      ]);
    }
    expect(a.getSnapshot().context.outs[0]!.resendAfterMs).toBe(MAX_RESEND_AFTER_MS);
    send({ type: 'W1ReceiveAck', out: 0, ack: 0, nowMs: now });
    expect(a.getSnapshot().can({ type: 'CrashW2', nowMs: now + RESEND_AFTER_MS - 1 })).toBe(false);
    send({ type: 'CrashW2', nowMs: now + RESEND_AFTER_MS });
    expect(send({ type: 'W1SendOut' })).toEqual([{ kind: 'send', out: 0, seq: 1 }]);
    // Out-stream 1 has nothing unacknowledged: never resent.
    expect(a.getSnapshot().context.outs[1]!.sent).toBe(-1);
  });

  it('after a restart (CrashW1), the stored outbox is sent again and the gate waits for it', () => {
    const { a, send } = started();
    send({
      type: 'CrashW1',
      outs: [
        {
          next: 5,
          entries: [
            { seq: 3, messages: 2 },
            { seq: 4, messages: 1 },
          ],
        },
        { next: 2, entries: [] },
      ],
      marks: { 100: 8 },
      nowMs: 0,
    });
    const c = a.getSnapshot().context;
    expect([c.outs[0]!.acked, c.outs[1]!.acked, c.unacked]).toEqual([2, 1, 3]);
    expect(send({ type: 'W1SendOut' })).toEqual([
      { kind: 'send', out: 0, seq: 3 },
      { kind: 'send', out: 0, seq: 4 },
    ]);
    // Step 7's in-stream waits only for out-stream 1 (all acknowledged): released at once.
    expect(send({ type: 'W1Ack', sources: { 0: 1 } })).toEqual([{ kind: 'ack', stream: 100, mark: 8 }]);
    expect(send({ type: 'W1ReceiveAck', out: 0, ack: 4, nowMs: 1 })).toEqual([
      { kind: 'release', out: 0, through: 4 },
      { kind: 'report', sources: { 0: 1 } },
    ]);
  });

  it('refuses a stored outbox that is not contiguous or ends before its next entry', () => {
    const { a } = started();
    for (const outs of [
      [
        {
          next: 5,
          entries: [
            { seq: 2, messages: 1 },
            { seq: 4, messages: 1 },
          ],
        },
        { next: 0, entries: [] },
      ],
      [
        { next: 5, entries: [{ seq: 3, messages: 1 }] },
        { next: 0, entries: [] },
      ],
      [{ next: 0, entries: [] }],
    ])
      expect(a.getSnapshot().can({ type: 'CrashW1', outs, marks: {}, nowMs: 0 })).toBe(false);
  });
});

describe('the end-to-end gate (law)', () => {
  type Op =
    | { kind: 'commit'; entries: { out: number; messages: number }[] }
    | { kind: 'ack'; out: number; by: number }
    | { kind: 'silence'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('commit' as const),
      entries: fc.array(
        fc.record({ out: fc.integer({ min: 0, max: 1 }), messages: fc.integer({ min: 1, max: 5 }) }),
        { maxLength: 4 },
      ),
    }),
    fc.record({
      kind: fc.constant('ack' as const),
      out: fc.integer({ min: 0, max: 1 }),
      by: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({ kind: fc.constant('silence' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
  );

  it('reports commit k only once every entry of commits <= k is acknowledged; sends only durable entries', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { a, send } = started();
        let now = 0;
        let commits = 0;
        /** Per commit: the last entry per out-stream it made (cumulative). */
        const lastAt: number[][] = [];
        const acked = [-1, -1];
        const durable = [-1, -1];
        let reported = -1;
        const check = (ready: readonly ChainOutboxReady[]): void => {
          for (const r of ready) {
            if (r.kind === 'send') expect(r.seq).toBeLessThanOrEqual(durable[r.out]!);
            if (r.kind === 'report') {
              const k = r.sources[0]!;
              expect(k).toBeGreaterThan(reported);
              reported = k;
              for (const out of [0, 1]) expect(acked[out]).toBeGreaterThanOrEqual(lastAt[k]![out]!);
            }
          }
        };
        for (const o of ops) {
          if (o.kind === 'commit') {
            check(send({ type: 'W1Persist', entries: o.entries, marks: {} }));
            const c = a.getSnapshot().context;
            lastAt.push(c.outs.map((x) => x.next - 1));
            check(send({ type: 'Persisted', nowMs: now }));
            for (const out of [0, 1]) durable[out] = a.getSnapshot().context.outs[out]!.next - 1;
            check(send({ type: 'W1SendOut' }));
            check(send({ type: 'W1Ack', sources: { 0: commits++ } }));
          } else if (o.kind === 'ack') {
            const c = a.getSnapshot().context.outs[o.out]!;
            const ack = Math.min(c.acked + o.by, durable[o.out]!);
            if (ack > c.acked) {
              acked[o.out] = ack;
              check(send({ type: 'W1ReceiveAck', out: o.out, ack, nowMs: now }));
            }
          } else {
            now += o.ms;
            check(send({ type: 'CrashW2', nowMs: now }));
            check(send({ type: 'W1SendOut' }));
          }
        }
        // Everything acknowledged: the last commit is reported.
        for (const out of [0, 1])
          if (durable[out]! > acked[out]!) {
            acked[out] = durable[out]!;
            check(send({ type: 'W1ReceiveAck', out, ack: durable[out]!, nowMs: now }));
          }
        expect(reported).toBe(commits - 1);
        expect(a.getSnapshot().context.unacked).toBe(0);
      }),
    );
  });
});
