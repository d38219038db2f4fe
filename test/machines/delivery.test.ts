// The Delivery machines against specs/Delivery.tla, mechanically: the spec is parsed with the
// project's parser, and the disjuncts of its Next must be exactly the actions that
// machines/delivery.ts assigns a role, and each machine's event types exactly the actions of
// its role. Then the machines' guards: a disabled action is not taken, network input the spec
// never produces is refused with a violation and leaves the protocol state as it was.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec } from '../../tla/index.ts';
import type { Expr } from '../../tla/ast.ts';
import {
  DELIVERY_ACTION_ROLES,
  DELIVERY_ACTIONS,
  DELIVERY_RECEIVER_EVENTS,
  DELIVERY_SENDER_EVENTS,
  DELIVERY_VARIABLES,
} from '../../machines/delivery.ts';
import { deliverySenderMachine, drainSenderOutbox, keptFrames } from '../../machines/delivery-sender.ts';
import { deliveryReceiverMachine, drainReceiverOutbox } from '../../machines/delivery-receiver.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specFile = path.join(root, 'specs/Delivery.tla');

/** The action names a disjunction lists (`A \/ \E s \in S : B(s) \/ ...`). */
function disjunctNames(e: Expr, where: string): string[] {
  if (e.kind === 'or') return e.args.flatMap((a) => disjunctNames(a, where));
  if (e.kind === 'quant' && e.quantifier === 'exists') return disjunctNames(e.body, where);
  if (e.kind === 'name') return [e.name];
  if (e.kind === 'apply') return [e.op];
  throw new Error(`${where}: a disjunct of kind ${e.kind} is not an action name`);
}

function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

const body = (n: number) => new Uint8Array(n);

describe('Delivery machines vs specs/Delivery.tla', () => {
  it('every disjunct of Next has a role, and each machine takes exactly the actions of its role', async () => {
    const spec = await loadSpec(specFile);
    const next = spec.root.definitions.find((d) => d.kind === 'opDef' && d.name === 'Next');
    if (!next || next.kind !== 'opDef') throw new Error(`${specFile} defines no Next`);
    const specActions = disjunctNames(next.body, `${specFile}: Next`);
    expect(new Set(specActions).size).toBe(specActions.length);
    expect(sorted(specActions)).toEqual(sorted(DELIVERY_ACTIONS));
    const ofRole = (...roles: string[]) =>
      DELIVERY_ACTIONS.filter((a) => roles.includes(DELIVERY_ACTION_ROLES[a]));
    expect(sorted(deliverySenderMachine.events)).toEqual(sorted(ofRole('sender', 'both')));
    expect(sorted(DELIVERY_SENDER_EVENTS)).toEqual(sorted(deliverySenderMachine.events));
    expect(sorted(deliveryReceiverMachine.events)).toEqual(sorted(ofRole('receiver', 'both')));
    expect(sorted(DELIVERY_RECEIVER_EVENTS)).toEqual(sorted(deliveryReceiverMachine.events));
  });

  it('lists the spec variables', async () => {
    const spec = await loadSpec(specFile);
    expect(spec.root.variables.map((v) => v.name)).toEqual([...DELIVERY_VARIABLES]);
  });
});

describe('sender machine', () => {
  const start = (window = 2, maxBufferedBytes = 1000) =>
    createActor(deliverySenderMachine, { input: { window, maxBufferedBytes } }).start();

  it('keeps frames within its window, transmits only within credit and only when up', () => {
    const a = start(2);
    a.send({ type: 'Send', batches: [{ body: body(10), messages: 3 }] });
    a.send({ type: 'Send', batches: [{ body: body(10), messages: 1 }] });
    a.send({ type: 'Send', batches: [{ body: body(10), messages: 1 }] }); // window full: not taken
    expect(a.getSnapshot().context.next).toBe(3);
    a.send({ type: 'Transmit', max: 5 }); // down
    expect(a.getSnapshot().context.tx).toBe(1);
    a.send({ type: 'Connect', resume: 0, limit: 1, limitBytes: 1000 });
    a.send({ type: 'Transmit', max: 5 }); // credit for frame 1 only
    const ctx = a.getSnapshot().context;
    expect(ctx.tx).toBe(2);
    expect(drainSenderOutbox(ctx).map((o) => (o.kind === 'data' ? o.frame.seq : o.kind))).toEqual([1]);
    expect(a.getSnapshot().can({ type: 'Transmit' })).toBe(false);
  });

  it('drops acknowledged frames, resends from the resume point after a reconnect', () => {
    const a = start(3);
    for (let i = 0; i < 3; i++) a.send({ type: 'Send', batches: [{ body: body(4), messages: 1 }] });
    a.send({ type: 'Connect', resume: 0, limit: 3, limitBytes: 1000 });
    a.send({ type: 'Transmit', max: 3 });
    a.send({ type: 'ReceiveAck', ack: 1, limit: 4, limitBytes: 1000 });
    expect(keptFrames(a.getSnapshot().context).map((f) => f.seq)).toEqual([2, 3]);
    a.send({ type: 'Break' });
    a.send({ type: 'Connect', resume: 2, limit: 5, limitBytes: 1000 });
    const ctx = a.getSnapshot().context;
    expect([ctx.acked, ctx.tx, ctx.limit]).toEqual([2, 3, 5]);
    expect(keptFrames(ctx).map((f) => f.seq)).toEqual([3]);
    drainSenderOutbox(ctx);
    a.send({ type: 'Transmit', max: 10 });
    expect(drainSenderOutbox(a.getSnapshot().context).map((o) => o.kind === 'data' && o.frame.seq)).toEqual([
      3,
    ]);
  });

  it('refuses a forged ACK and a resume point it no longer holds, leaving its state as it was', () => {
    const a = start(3);
    a.send({ type: 'Send', batches: [{ body: body(4), messages: 1 }] });
    a.send({ type: 'Connect', resume: 0, limit: 3, limitBytes: 1000 });
    a.send({ type: 'Transmit' });
    drainSenderOutbox(a.getSnapshot().context);
    const { outbox: _o, ...before } = a.getSnapshot().context;
    a.send({ type: 'ReceiveAck', ack: 2, limit: 9, limitBytes: 9000 });
    const { outbox, ...after } = a.getSnapshot().context;
    expect(after).toEqual(before);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]!.kind === 'violation' && outbox[0]!.detail).toMatch(
      /ACK for frame 2, but the last frame sent is 1/,
    );
    a.send({ type: 'ReceiveAck', ack: 1, limit: 3, limitBytes: 1000 });
    a.send({ type: 'Break' });
    drainSenderOutbox(a.getSnapshot().context);
    a.send({ type: 'Connect', resume: 0, limit: 3, limitBytes: 1000 });
    const out = drainSenderOutbox(a.getSnapshot().context);
    expect(out[0]!.kind === 'violation' && out[0]!.detail).toMatch(/no longer kept/);
    expect(a.getSnapshot().context.up).toBe(false);
  });
});

describe('receiver machine', () => {
  const start = (window = 2, windowBytes = 1000) =>
    createActor(deliveryReceiverMachine, { input: { window, windowBytes } }).start();
  const data = (seq: number, n = 4) => ({
    type: 'ReceiveData' as const,
    frames: [{ seq, messages: 1, body: body(n) }],
  });

  it('delivers in order once, drops duplicates and frames beyond a gap without a state change', () => {
    const r = start(3);
    r.send({ type: 'Connect' });
    r.send(data(1));
    r.send(data(1));
    r.send(data(3));
    r.send(data(2));
    const ctx = r.getSnapshot().context;
    expect(ctx.delivered).toBe(2);
    expect(ctx.dropped).toBe(2);
    const out = drainReceiverOutbox(ctx);
    expect(
      out.map((o) => (o.kind === 'deliver' ? o.seq : o.kind === 'dropped' ? `${o.why} ${o.seq}` : o.kind)),
    ).toEqual(['hello', 1, 'duplicate 1', 'gap 3', 2]);
  });

  it('refuses data beyond the credit it granted, with a violation, and grants more as it is consumed', () => {
    const r = start(1, 100);
    r.send({ type: 'Connect' });
    r.send(data(1));
    r.send(data(2));
    let out = drainReceiverOutbox(r.getSnapshot().context);
    expect(r.getSnapshot().context.delivered).toBe(1);
    const last = out.at(-1)!;
    expect(last.kind === 'violation' && last.detail).toMatch(/exceeds the credit granted/);
    r.send({ type: 'Consume', frames: 2, bytes: 4 }); // only one delivered: not taken
    expect(r.getSnapshot().context.consumed).toBe(0);
    r.send({ type: 'Consume', frames: 1, bytes: 4 });
    r.send({ type: 'Acknowledge' });
    out = drainReceiverOutbox(r.getSnapshot().context);
    expect(out).toEqual([{ kind: 'ack', ack: { ack: 1, limit: 2, limitBytes: 104 } }]);
    r.send({ type: 'Break' });
    r.send({ type: 'Acknowledge' }); // down: not taken
    r.send(data(2));
    expect(drainReceiverOutbox(r.getSnapshot().context)).toEqual([]);
    expect(r.getSnapshot().context.delivered).toBe(1);
  });
});
