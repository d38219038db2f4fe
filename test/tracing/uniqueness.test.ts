// Trace uniqueness: reports of one traversal rebuild into exactly that traversal, whatever their
// order; a traversal the flow does not allow is always reported.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../../runtime/flow/ast.ts';
import { parseFlow } from '../../runtime/flow/parse.ts';
import { flowTraversals } from '../../runtime/flow/semantics.ts';
import type { Traversal } from '../../runtime/flow/traversal.ts';
import { canonicalKey, successors } from '../../runtime/flow/traversal.ts';
import { traceHash } from '../../runtime/tracing/hash.ts';
import type { TraceReport } from '../../runtime/tracing/report.ts';
import { TraceReceiver } from '../../runtime/tracing/receiver.ts';
import { permutation, renumber, smallFlow } from '../flow/arbitrary.ts';

/** The reports workers would send for traversal `t` of message `id` (hashes in topological
 * order; instance ids and state indexes from `salt` and the node). */
function reportsOf(t: Traversal, id: string, salt: readonly number[]): TraceReport[] {
  const n = t.types.length;
  const hash = new Array<number>(n);
  const out: TraceReport[] = [];
  const indeg = t.preds.map((p) => p.length);
  const succ = successors(t);
  const queue = indeg.flatMap((d, i) => (d === 0 ? [i] : []));
  while (queue.length > 0) {
    const v = queue.shift()!;
    const preds = t.preds[v]!.map((p) => hash[p]!);
    const instanceId = `w${(salt[v] ?? 0) % 3}`;
    // Distinct per visit: two visits of one worker type for one message id with the same
    // predecessors (a flow's [D||D]) are told apart only by instance or state index; the engine
    // never makes such twins (step names are unique), see runtime/tracing/README.md.
    const stateIndex = ((salt[v] ?? 0) % 5) * 64 + v;
    hash[v] = traceHash(id, t.types[v]!, instanceId, stateIndex, preds);
    out.push({
      messageId: id,
      workerType: t.types[v]!,
      instanceId,
      stateIndex,
      hash: hash[v]!,
      predecessorHashes: preds,
    });
    for (const w of succ[v]!) if (--indeg[w]! === 0) queue.push(w);
  }
  return out;
}

const flowAndTraversal = smallFlow().chain((f) => {
  const ts = [...flowTraversals(f).values()];
  return fc.record({
    flow: fc.constant(f),
    t: fc.constantFrom(...ts),
    salt: fc.array(fc.nat(1000), { minLength: 30, maxLength: 30 }),
    seed: fc.nat(),
  });
});

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const a = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function receive(flow: Flow, reports: readonly TraceReport[]): TraceReceiver {
  const r = new TraceReceiver({ flow });
  for (const x of reports) r.report(x);
  return r;
}

describe('trace uniqueness', () => {
  it('one trace, one traversal: the reports of a valid traversal rebuild into it, in any order, and check', () => {
    fc.assert(
      fc.property(flowAndTraversal, ({ flow, t, salt, seed }) => {
        const r = receive(flow, shuffled(reportsOf(t, '0:7', salt), seed));
        const c = r.checkMessage('0:7')!;
        expect(c.traversals).toHaveLength(1);
        expect(canonicalKey(c.traversals[0]!.traversal)).toBe(canonicalKey(t));
        expect(c.violations).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a report sent twice changes nothing', () => {
    fc.assert(
      fc.property(flowAndTraversal, ({ flow, t, salt, seed }) => {
        const reps = reportsOf(t, '0:7', salt);
        const r = receive(flow, shuffled([...reps, ...reps], seed));
        expect(r.duplicateReports).toBe(reps.length);
        expect(r.checkMessage('0:7')!.traversals).toHaveLength(1);
      }),
      { numRuns: 100 },
    );
  });

  it('a traversal that breaks the flow is always detected', () => {
    const mutate = (t: Traversal, kind: number, at: number, type: string): Traversal => {
      const n = t.types.length;
      const v = at % n;
      const succ = successors(t);
      if (kind === 0) return { types: t.types.map((x, i) => (i === v ? type : x)), preds: t.preds };
      if (kind === 1) {
        // Drop a leaf (not the source).
        const leaves = t.types
          .map((_, i) => i)
          .filter((i) => succ[i]!.length === 0 && t.preds[i]!.length > 0);
        if (leaves.length === 0) return t;
        const drop = leaves[at % leaves.length]!;
        const keep = t.types.map((_, i) => i).filter((i) => i !== drop);
        const idx = new Map(keep.map((x, k) => [x, k]));
        return {
          types: keep.map((i) => t.types[i]!),
          preds: keep.map((i) => t.preds[i]!.map((p) => idx.get(p)!)),
        };
      }
      // Add a visit after node v.
      return { types: [...t.types, type], preds: [...t.preds, [v]] };
    };
    fc.assert(
      fc.property(
        flowAndTraversal,
        fc.nat(2),
        fc.nat(),
        fc.constantFrom('A', 'B', 'C', 'D', 'E', 'Z'),
        permutation(31),
        ({ flow, t, salt, seed }, kind, at, type, perm) => {
          const bad = mutate(t, kind, at, type);
          fc.pre(!flowTraversals(flow).has(canonicalKey(bad)));
          const n = bad.types.length;
          const order = perm.filter((x) => x < n);
          const r = receive(flow, shuffled(reportsOf(renumber(bad, order), '3:9', salt), seed));
          const v = r.checkAll();
          expect(v.length).toBeGreaterThan(0);
          expect(v[0]!.messageId).toBe('3:9');
          expect(v[0]!.reason).toMatch(/flow allows no such traversal/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a traversal that ended early is allowed only as a truncation whose ends say they ended', () => {
    const flow = parseFlow('lines;split;[counts;updates||tally;totals]');
    const t: Traversal = { types: ['lines', 'split'], preds: [[], [0]] };
    const reps = reportsOf(t, '0:1', [1, 2]);
    const ended = receive(flow, [reps[0]!, { ...reps[1]!, ended: true }]);
    expect(ended.checkAll()).toEqual([]);
    expect(ended.stats().paths).toEqual([{ path: 'lines;split!', count: 1, allowed: true }]);
    // Without the mark the message vanished at split: a violation.
    const lost = receive(flow, reps);
    expect(lost.checkAll()).toHaveLength(1);
    // Half a fork is no truncation: a fork takes both branches.
    const half: Traversal = { types: ['lines', 'split', 'counts'], preds: [[], [0], [1]] };
    const hr = reportsOf(half, '0:2', [0, 0, 0]);
    expect(receive(flow, [hr[0]!, hr[1]!, { ...hr[2]!, ended: true }]).checkAll()).toHaveLength(1);
  });

  it('one message fanning out (new ids downstream) gives one traversal per output; lost predecessors and evictions are counted', () => {
    const flow = parseFlow('lines;split;counts');
    const h0 = traceHash('0:1', 'lines', 'w0', 0, []);
    const h1 = traceHash('0:1', 'split', 'w0', 0, [h0]);
    const r = new TraceReceiver({ flow, maxMessages: 2 });
    r.report({
      messageId: '0:1',
      workerType: 'lines',
      instanceId: 'w0',
      stateIndex: 0,
      hash: h0,
      predecessorHashes: [],
    });
    r.report({
      messageId: '0:1',
      workerType: 'split',
      instanceId: 'w0',
      stateIndex: 0,
      hash: h1,
      predecessorHashes: [h0],
    });
    for (const k of [1, 2, 3]) {
      const id = `0:1/${k}`;
      r.report({
        messageId: id,
        workerType: 'counts',
        instanceId: 'w1',
        stateIndex: k,
        hash: traceHash(id, 'counts', 'w1', k, [h1]),
        predecessorHashes: [h1],
      });
    }
    const c = r.checkMessage('0:1/2')!;
    expect(c.traversals.map((t) => t.path)).toEqual([
      'lines;split;counts',
      'lines;split;counts',
      'lines;split;counts',
    ]);
    expect(c.violations).toEqual([]);
    r.report({
      messageId: '0:2',
      workerType: 'split',
      instanceId: 'w0',
      stateIndex: 0,
      hash: 99,
      predecessorHashes: [98],
    });
    expect(r.checkMessage('0:2')!.violations[0]!.reason).toMatch(
      /names predecessor #62, which no report holds/,
    );
    r.report({
      messageId: '0:3',
      workerType: 'lines',
      instanceId: 'w0',
      stateIndex: 0,
      hash: 5,
      predecessorHashes: [],
    });
    expect(r.messageIds()).toEqual(['0:2', '0:3']);
    expect(r.stats()).toMatchObject({ messages: 2, evictedMessages: 1, evictedReports: 5, reports: 2 });
  });
});
