// The source worker's commit tracker (runtime/engine/source-commit.ts running
// machines/source-commit.ts): committed = the least durable watermark over the registered
// workers, never decreasing; a restarted worker's sources replay from committed + 1; reports
// from strangers and malformed offsets are refused with a message that says who and what.
// The conformance suites (conformance/ack.ts, conformance/recovery.ts) check it against the
// specs; here are its laws over many workers and sources, which the specs' one-worker models
// do not exercise.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SourceCommitTracker } from '../../../runtime/engine/source-commit.ts';

describe('SourceCommitTracker', () => {
  it('commits the least watermark over the workers, and only once every worker reported', () => {
    const t = new SourceCommitTracker({ sources: 2, workers: ['a', 'b'] });
    t.read(0, 10);
    t.read(1, 5);
    expect(t.report('a', { 0: 8, 1: 5 })).toEqual({});
    // Nothing committed: -1, the offset before a source's first (offsets from 0).
    expect(t.committed()).toEqual({ 0: -1, 1: -1 });
    expect(t.report('b', { 0: 6, 1: -1 })).toEqual({ 0: 6 });
    expect(t.committed()).toEqual({ 0: 6, 1: -1 });
    expect(t.kept(0)).toEqual([7, 8, 9, 10]);
    expect(t.report('b', { 0: 10, 1: 3 })).toEqual({ 0: 8, 1: 3 });
    // A late, lower report changes nothing.
    expect(t.report('a', { 0: 2, 1: 1 })).toEqual({});
    expect(t.committed()).toEqual({ 0: 8, 1: 3 });
  });

  it('a source a report does not name is one the worker takes no part in: it no longer holds that commit', () => {
    const t = new SourceCommitTracker({ sources: 2, workers: ['init', 'w'] });
    t.read(0, 4);
    t.read(1, 9);
    expect(t.report('init', { 0: 4, 1: 9 })).toEqual({});
    // w owns no partition that source 1 reaches.
    expect(t.report('w', { 0: 2 })).toEqual({ 0: 2, 1: 9 });
    expect(t.kept(1)).toEqual([]);
    // Alone and taking no part, a worker commits nothing.
    const lone = new SourceCommitTracker({ sources: 1, workers: ['w'] });
    lone.read(0, 3);
    expect(lone.report('w', {})).toEqual({});
    expect(lone.committed()).toEqual({ 0: -1 });
  });

  it('a worker that joins later holds the commit where it is until it reports', () => {
    const t = new SourceCommitTracker({ sources: 1, committed: { 0: 4 }, workers: ['a'] });
    t.read(0, 9);
    expect(t.report('a', { 0: 7 })).toEqual({ 0: 7 });
    t.workerJoined('b');
    expect(t.report('a', { 0: 9 })).toEqual({});
    expect(t.report('b', { 0: 9 })).toEqual({ 0: 9 });
  });

  it('rewinds every source to committed + 1 when a worker restarts, and keeps its acknowledgements', () => {
    const t = new SourceCommitTracker({ sources: 2, committed: { 0: 3, 1: -1 }, workers: ['a', 'b'] });
    t.read(0, 20);
    t.read(1, 2);
    t.report('a', { 0: 12, 1: 2 });
    t.report('b', { 0: 10, 1: -1 });
    expect(t.committed()).toEqual({ 0: 10, 1: -1 });
    expect(t.workerRestarted('b')).toEqual({ 0: 11, 1: 0 });
    expect(t.state.read).toEqual([10, -1]);
    // Its earlier report stands; the replay brings it source 1.
    expect(t.report('b', { 0: 10, 1: 2 })).toEqual({ 1: 2 });
    expect(() => t.read(0, 10)).toThrow(/read through offset 10, but it had read through 10 already/);
    t.read(0, 11);
  });

  it('refuses what no worker of the protocol sends, saying who and what', () => {
    const t = new SourceCommitTracker({ sources: 1, workers: ['a'], where: 'worker init' });
    expect(() => t.report('ghost', { 0: 1 })).toThrow(
      /\(worker init\): worker "ghost" reported progress, but it never registered \(registered: a\)/,
    );
    expect(() => t.report('a', { 3: 1 })).toThrow(/there is no source 3 \(the application has 1\)/);
    expect(() => t.report('a', { 0: -2 })).toThrow(/an offset must be an integer >= -1 \(-1: none\), got -2/);
    expect(() => t.workerJoined('a')).toThrow(/registered already; .* workerRestarted\("a"\)/);
    expect(() => t.workerRestarted('b')).toThrow(/worker "b" restarted, but it never registered/);
    expect(() => t.acknowledge('a', 0, 4, 4)).toThrow(/the empty range \(4, 4\]/);
    expect(t.commit(0, 1)).toBe(false);
    expect(t.committed()).toEqual({ 0: -1 });
  });

  it('laws: committed never decreases, never exceeds any worker report, and is the least mark once all reported', () => {
    const workers = ['a', 'b', 'c'];
    const op = fc.oneof(
      fc.record({ k: fc.constant('report' as const), w: fc.constantFrom(...workers), mark: fc.nat(30) }),
      fc.record({ k: fc.constant('restart' as const), w: fc.constantFrom(...workers) }),
      fc.record({ k: fc.constant('read' as const), n: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const t = new SourceCommitTracker({ sources: 1, workers });
        const best: Record<string, number> = { a: -1, b: -1, c: -1 };
        let last = -1;
        for (const o of ops) {
          if (o.k === 'report') {
            t.report(o.w, { 0: o.mark });
            best[o.w] = Math.max(best[o.w]!, o.mark);
          } else if (o.k === 'restart') {
            const to = t.workerRestarted(o.w);
            expect(to).toEqual({ 0: t.committed()[0]! + 1 });
            expect(t.state.read[0]).toBe(t.committed()[0]);
          } else t.read(0, t.state.read[0]! + o.n);
          const c = t.committed()[0]!;
          expect(c).toBeGreaterThanOrEqual(last);
          expect(c).toBe(Math.max(last, Math.min(...Object.values(best))));
          last = c;
        }
      }),
    );
  });

  it('mutation commit-early commits what was read, acknowledged or not (the conformance suites must catch it)', () => {
    const t = new SourceCommitTracker({ sources: 1, workers: ['a'], mutation: 'commit-early' });
    t.read(0, 5);
    expect(t.report('a', { 0: 1 })).toEqual({ 0: 5 });
  });
});
