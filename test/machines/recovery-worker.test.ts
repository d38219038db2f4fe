// The recovery machines against specs/Recovery.tla, mechanically (the spec's Next is parsed with
// the project's parser: every disjunct has a role, and the worker machine's spec events are
// exactly the worker-role actions), then the watermark rules as laws (fast-check): whatever
// ranges arrive, in any order, repeated or with holes, the offsets applied are exactly 0..mark,
// each once; then the commit cycle's guards and the lifecycle.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor } from 'xstate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec } from '../../tla/index.ts';
import type { Expr } from '../../tla/ast.ts';
import {
  NO_MARK,
  RECOVERY_ACTION_ROLES,
  RECOVERY_WORKER_EVENTS,
  RECOVERY_WORKER_SPEC_EVENTS,
  drainRecoveryReady,
  recoveryWorkerMachine,
} from '../../machines/recovery-worker.ts';
import { WORKER_LIFECYCLE_EVENTS, workerLifecycleMachine } from '../../machines/worker-lifecycle.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const specFile = path.join(root, 'specs/Recovery.tla');

function disjunctNames(e: Expr, where: string): string[] {
  if (e.kind === 'or') return e.args.flatMap((a) => disjunctNames(a, where));
  if (e.kind === 'quant' && e.quantifier === 'exists') return disjunctNames(e.body, where);
  if (e.kind === 'name') return [e.name];
  if (e.kind === 'apply') return [e.op];
  throw new Error(`${where}: a disjunct of kind ${e.kind} is not an action name`);
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

function started() {
  const a = createActor(recoveryWorkerMachine).start();
  a.send({ type: 'Recover', marks: {}, nextOutput: 1, outboxFloor: 0 });
  return a;
}

describe('recovery worker machine vs specs/Recovery.tla', () => {
  it("every disjunct of Next has a role, and the machine's spec events are the worker actions", async () => {
    const spec = await loadSpec(specFile);
    const next = spec.root.definitions.find((d) => d.kind === 'opDef' && d.name === 'Next');
    if (!next || next.kind !== 'opDef') throw new Error(`${specFile} defines no Next`);
    const actions = disjunctNames(next.body, `${specFile}: Next`);
    expect(sorted(actions)).toEqual(sorted(Object.keys(RECOVERY_ACTION_ROLES)));
    const worker = Object.entries(RECOVERY_ACTION_ROLES)
      .filter(([, r]) => r === 'worker')
      .map(([a]) => a);
    expect(sorted(RECOVERY_WORKER_SPEC_EVENTS)).toEqual(sorted(worker));
    expect(sorted(recoveryWorkerMachine.events)).toEqual(sorted(RECOVERY_WORKER_EVENTS));
  });

  it('the lifecycle machine takes the events it lists', () => {
    expect(sorted(workerLifecycleMachine.events)).toEqual(sorted(WORKER_LIFECYCLE_EVENTS));
  });
});

describe('watermark rules', () => {
  it('duplicate, gap and partial overlap', () => {
    const a = started();
    const recv = (from: number, through: number) => {
      a.send({ type: 'WorkerReceive', ranges: [{ stream: 0, from, through }] });
      return drainRecoveryReady(a.getSnapshot().context);
    };
    expect(recv(-1, 9)).toEqual([{ kind: 'admit', stream: 0, above: -1 }]);
    expect(recv(-1, 9)).toEqual([{ kind: 'duplicate', stream: 0, from: -1, through: 9 }]);
    expect(recv(3, 7)).toEqual([{ kind: 'duplicate', stream: 0, from: 3, through: 7 }]);
    expect(recv(12, 20)).toEqual([{ kind: 'gap', stream: 0, from: 12, rewindTo: 10 }]);
    expect(a.getSnapshot().context.marks[0]).toBe(9);
    expect(recv(5, 15)).toEqual([{ kind: 'admit', stream: 0, above: 9 }]);
    expect(a.getSnapshot().context.marks[0]).toBe(15);
    expect(a.getSnapshot().context.dropped).toBe(3);
  });

  it('refuses malformed ranges (from > through, a stream twice, none) and events before Recover', () => {
    const fresh = createActor(recoveryWorkerMachine).start();
    fresh.send({ type: 'WorkerReceive', ranges: [{ stream: 0, from: -1, through: 3 }] });
    expect(fresh.getSnapshot().context.marks).toEqual({});
    const a = started();
    for (const ranges of [
      [{ stream: 0, from: 5, through: 3 }],
      [
        { stream: 1, from: -1, through: 3 },
        { stream: 1, from: 3, through: 4 },
      ],
      [],
      [{ stream: 0, from: -2, through: 3 }],
    ]) {
      a.send({ type: 'WorkerReceive', ranges });
      expect(a.getSnapshot().can({ type: 'WorkerReceive', ranges })).toBe(false);
    }
    expect(a.getSnapshot().context.marks).toEqual({});
    expect(a.getSnapshot().context.ready).toEqual([]);
  });

  it('law: whatever ranges arrive, the offsets applied are exactly NO_MARK+1..mark, each once', () => {
    const range = fc
      .tuple(
        fc.integer({ min: -1, max: 40 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 2 }),
      )
      .map(([from, len, stream]) => ({ stream, from, through: from + len }));
    fc.assert(
      fc.property(fc.array(fc.array(range, { minLength: 1, maxLength: 3 }), { maxLength: 40 }), (batches) => {
        const a = started();
        const applied = new Map<number, number[]>();
        for (const batch of batches) {
          // One range per stream per batch (the machine refuses a stream twice).
          const byStream = new Map(batch.map((r) => [r.stream, r]));
          const ranges = [...byStream.values()];
          const before = { ...a.getSnapshot().context.marks };
          a.send({ type: 'WorkerReceive', ranges });
          for (const r of drainRecoveryReady(a.getSnapshot().context)) {
            if (r.kind !== 'admit' && r.kind !== 'gap' && r.kind !== 'duplicate')
              throw new Error(`WorkerReceive queued ${r.kind}`);
            const rg = ranges.find((x) => x.stream === r.stream)!;
            const m = before[r.stream] ?? NO_MARK;
            if (r.kind === 'admit') {
              expect(r.above).toBe(m);
              const list = applied.get(r.stream) ?? [];
              for (let o = Math.max(rg.from, m) + 1; o <= rg.through; o++) list.push(o);
              applied.set(r.stream, list);
            } else if (r.kind === 'gap') {
              expect(rg.from).toBeGreaterThan(m);
              expect(r.rewindTo).toBe(m + 1);
            } else {
              expect(r.kind).toBe('duplicate');
              expect(rg.through).toBeLessThanOrEqual(m);
            }
          }
        }
        const marks = a.getSnapshot().context.marks;
        for (let s = 0; s <= 2; s++) {
          const mark = marks[s] ?? NO_MARK;
          const want = Array.from({ length: mark - NO_MARK }, (_, i) => NO_MARK + 1 + i);
          expect(applied.get(s) ?? []).toEqual(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('commit cycle', () => {
  it('one write in flight; ack only durable marks; outputs go out only once durable', () => {
    const a = started();
    const ctx = () => a.getSnapshot().context;
    a.send({ type: 'WorkerPersist', outputs: 0 });
    expect(ctx().inFlight).toBeNull(); // nothing changed: not taken
    a.send({ type: 'WorkerReceive', ranges: [{ stream: 0, from: -1, through: 4 }] });
    drainRecoveryReady(ctx());
    a.send({ type: 'WorkerAck' }); // nothing durable yet (AckEarly is the broken variant)
    a.send({ type: 'WorkerSendOut' });
    expect(drainRecoveryReady(ctx())).toEqual([]);
    a.send({ type: 'WorkerPersist', outputs: 3 });
    expect(drainRecoveryReady(ctx())).toEqual([
      { kind: 'persist', marks: { 0: 4 }, firstOutput: 1, outputs: 3, nextOutput: 4, outboxFloor: 0 },
    ]);
    a.send({ type: 'WorkerReceive', ranges: [{ stream: 0, from: 4, through: 6 }] });
    a.send({ type: 'WorkerPersist', outputs: 1 }); // one in flight already: not taken
    expect(ctx().nextOutput).toBe(4);
    a.send({ type: 'Persisted' });
    a.send({ type: 'WorkerAck' });
    a.send({ type: 'WorkerSendOut' });
    expect(drainRecoveryReady(ctx()).slice(1)).toEqual([
      { kind: 'durable' },
      { kind: 'ack', marks: { 0: 4 } },
      { kind: 'sendOut', from: 1, through: 3 },
    ]);
    a.send({ type: 'WorkerReceiveSinkAck', through: 4 }); // beyond what was sent: refused
    a.send({ type: 'WorkerReceiveSinkAck', through: 3 });
    expect(drainRecoveryReady(ctx())).toEqual([{ kind: 'sinkAcked', through: 3 }]);
    a.send({ type: 'WorkerPersist', outputs: 1 });
    expect(drainRecoveryReady(ctx())).toEqual([
      { kind: 'persist', marks: { 0: 6 }, firstOutput: 4, outputs: 1, nextOutput: 5, outboxFloor: 3 },
    ]);
  });

  it('Recover resumes from the durable values: marks, output ids, the sinks from the floor', () => {
    const a = createActor(recoveryWorkerMachine).start();
    a.send({ type: 'Recover', marks: { 0: 9 }, nextOutput: 7, outboxFloor: 4 });
    const c = a.getSnapshot().context;
    expect([c.marks[0], c.durableMarks[0], c.nextOutput, c.durableOutput, c.sent]).toEqual([9, 9, 7, 7, 4]);
    a.send({ type: 'WorkerAck' });
    a.send({ type: 'WorkerSendOut' });
    expect(drainRecoveryReady(a.getSnapshot().context)).toEqual([
      { kind: 'ack', marks: { 0: 9 } },
      { kind: 'sendOut', from: 5, through: 6 },
    ]);
    a.send({ type: 'Recover', marks: {}, nextOutput: 1, outboxFloor: 0 }); // once only
    expect(a.getSnapshot().context.marks[0]).toBe(9);
  });
});

describe('worker lifecycle', () => {
  it('goes through its phases in order and keeps the reason of a failure', () => {
    const a = createActor(workerLifecycleMachine).start();
    a.send({ type: 'Run' }); // not from starting
    expect(a.getSnapshot().value).toBe('starting');
    for (const type of ['Recover', 'Replay', 'Run'] as const) a.send({ type });
    expect(a.getSnapshot().value).toBe('running');
    a.send({ type: 'Fail', reason: 'sink gone' });
    expect(a.getSnapshot().value).toBe('failed');
    expect(a.getSnapshot().context.reason).toBe('sink gone');
    const b = createActor(workerLifecycleMachine).start();
    for (const type of ['Recover', 'Stop', 'Stopped'] as const) b.send({ type });
    expect(b.getSnapshot().value).toBe('stopped');
  });
});
