import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CoordinatorCore, REWIND_QUIET_MS } from '../../../runtime/cluster/coordinator-core.ts';

/** A core over two sources and the participants w1 (the source worker) and w2, with a clock the test moves. */
function core(participants: string[] = ['w1', 'w2']) {
  const clock = { now: 0 };
  const c = new CoordinatorCore({ sources: 2, nowMs: () => clock.now, where: 'the test' });
  for (const w of ['w1', 'w2', 'w3']) c.register(w, `${w}#1`);
  c.formTracker(participants);
  return { c, clock };
}

const upAll = { isUp: () => true, exactlyOnce: true, sourcesStopped: false };

describe('CoordinatorCore', () => {
  it('commits the least durable watermark of the participants, once it advances', () => {
    const { c } = core();
    expect(c.report('w1', { 0: 5, 1: 2 })).toEqual([]);
    expect(c.report('w2', { 0: 3, 1: 4 })).toEqual([{ t: 'committed', committed: { 0: 3, 1: 2 } }]);
    expect(c.report('w2', { 0: 3, 1: 4 })).toEqual([]); // nothing advanced
    expect(c.report('w3', { 0: 99, 1: 99 })).toEqual([]); // takes part in no source
    expect(c.announced()).toEqual({ 0: 3, 1: 2 });
  });

  it('a gap rewinds its source to committed + 1 (not to the reported offset), once per quiet period', () => {
    const { c, clock } = core();
    c.report('w1', { 0: 7, 1: 7 });
    c.report('w2', { 0: 4, 1: 7 });
    expect(c.gap('w2', 0, 9)).toEqual({
      t: 'rewind',
      to: { 0: 5 },
      why: "worker 'w2' is missing source 0 from offset 9",
    });
    clock.now += REWIND_QUIET_MS - 1;
    expect(c.gap('w2', 0, 9)).toBeNull(); // covered by the rewind just asked for
    expect(c.gap('w2', 0, 12)).toBeNull();
    expect(c.gap('w2', 1, 9)).toMatchObject({ t: 'rewind', to: { 1: 8 } }); // another source: its own period
    expect(c.gap('w2', 0, 3)).toMatchObject({ t: 'rewind', to: { 0: 5 } }); // below the rewind: not covered
    clock.now += REWIND_QUIET_MS;
    expect(c.gap('w2', 0, 9)).toMatchObject({ t: 'rewind', to: { 0: 5 } }); // the quiet period is over
    expect(c.gap('w2', 5, 1)).toBeNull(); // no such source
  });

  it('a restarted member gets every source from the rewind points once its round is done', () => {
    const { c } = core();
    c.report('w1', { 0: 6, 1: 9 });
    c.report('w2', { 0: 6, 1: 2 });
    expect(c.register('w2', 'w2#2')).toBe('restarted');
    expect(c.restartsPending()).toBe(true);
    expect(c.roundDone(upAll)).toEqual([{ t: 'rewind', to: { 0: 7, 1: 3 }, why: "worker 'w2' restarted" }]);
    expect(c.restartsPending()).toBe(false);
    expect(c.roundDone(upAll)).toEqual([]); // once
  });

  it('no rewind for a new member, the same process back, a member still down, or one that reads no source', () => {
    const { c } = core();
    expect(c.register('w4', 'w4#1')).toBe('joined');
    expect(c.register('w1', 'w1#1')).toBe('rejoined');
    expect(c.roundDone(upAll)).toEqual([]);
    c.register('w2', 'w2#2');
    expect(c.roundDone({ ...upAll, isUp: (w) => w !== 'w2' })).toEqual([]);
    expect(c.register('w3', 'w3#2')).toBe('restarted');
    expect(c.roundDone(upAll)).toEqual([]);
    c.forget('w4');
    expect(c.register('w4', 'w4#2')).toBe('joined');
  });

  it('without exactly-once nothing is rewound; with the sources stopped, the restart cannot be replayed', () => {
    const { c } = core();
    c.register('w2', 'w2#2');
    expect(c.roundDone({ ...upAll, exactlyOnce: false })).toEqual([]);
    c.register('w2', 'w2#3');
    expect(c.roundDone({ ...upAll, sourcesStopped: true })).toEqual([{ t: 'cannotReplay', workers: ['w2'] }]);
    const unformed = new CoordinatorCore({ sources: 1, nowMs: () => 0, where: 'the test' });
    unformed.register('w1', 'a');
    unformed.register('w1', 'b');
    expect(unformed.roundDone(upAll)).toEqual([]);
    expect(unformed.report('w1', { 0: 3 })).toEqual([]);
  });

  it('law: every rewind is to the announced committed + 1, and a covered gap rewinds at most once per quiet period', () => {
    const step = fc.oneof(
      fc.record({
        k: fc.constant('report' as const),
        w: fc.constantFrom('w1', 'w2'),
        v: fc.integer({ min: 0, max: 30 }),
      }),
      fc.record({ k: fc.constant('gap' as const), v: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ k: fc.constant('tick' as const), v: fc.integer({ min: 1, max: 2 * REWIND_QUIET_MS }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { c, clock } = core();
        const marks: Record<string, number> = { w1: -1, w2: -1 };
        let last: { to: number; atMs: number } | null = null;
        for (const s of steps) {
          if (s.k === 'tick') clock.now += s.v;
          else if (s.k === 'report') {
            marks[s.w] = Math.max(marks[s.w]!, s.v); // watermarks do not decrease
            c.report(s.w, { 0: marks[s.w]!, 1: marks[s.w]! });
          } else {
            const r = c.gap('w2', 0, s.v);
            const covered = last !== null && last.to <= s.v && clock.now - last.atMs < REWIND_QUIET_MS;
            expect(r === null).toBe(covered);
            if (r && r.t === 'rewind') {
              const committed = Math.min(marks.w1!, marks.w2!);
              expect(r.to).toEqual({ 0: committed + 1 });
              last = { to: committed + 1, atMs: clock.now };
            }
          }
        }
      }),
    );
  });
});
