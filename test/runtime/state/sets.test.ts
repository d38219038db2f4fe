// G-Set, 2P-Set and OR-Set (add-wins): laws, and their meaning against references computed
// from the operations alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GSet, ORSet, ORSetOp, TwoPSet, TwoPSetOp } from '../../../runtime/state/index.ts';
import { GSetType, ORSetType, TwoPSetType, orSet, seenExceptions } from '../../../runtime/state/index.ts';
import type { Authored } from './harness.ts';
import { checkLaws } from './laws.ts';

const elem = fc.constantFrom('a', 'b', 'c', 'd');
const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

checkLaws<GSet, readonly string[], string, string>({
  name: 'G-Set',
  type: GSetType,
  cmd: elem,
  prepare: (_s, e) => e,
  delivery: 'any',
  exact: true,
  reference: (ops) => sorted(ops.map((a) => a.op)),
});

checkLaws<TwoPSet, readonly string[], TwoPSetOp, TwoPSetOp>({
  name: '2P-Set',
  type: TwoPSetType,
  cmd: fc.oneof(
    elem.map((add) => ({ add })),
    elem.map((remove) => ({ remove })),
  ),
  prepare: (_s, op) => op,
  delivery: 'any',
  exact: true,
  reference: (ops) => {
    const removed = new Set(ops.flatMap((a) => ('remove' in a.op ? [a.op.remove] : [])));
    return sorted(ops.flatMap((a) => ('add' in a.op && !removed.has(a.op.add) ? [a.op.add] : [])));
  },
});

type SetCmd = { t: 'add' | 'rm'; e: string };
const setCmd = fc.record({ t: fc.constantFrom<'add' | 'rm'>('add', 'add', 'rm'), e: elem });

/** Add-wins: an element is in the set iff one of its adds was observed by no later op. */
function addWins(ops: readonly Authored<ORSetOp>[]): string[] {
  const observed = new Set<string>();
  for (const a of ops)
    for (let i = 0; i < a.op.obs.length; i += 3) observed.add(a.op.obs.slice(i, i + 3).join(':'));
  return sorted(
    ops
      .filter((a) => a.op.t === 'add' && !observed.has(`${a.id.source}:${a.id.offset}:${a.id.sub}`))
      .map((a) => a.op.e),
  );
}

const unbounded = orSet({ window: Infinity });
checkLaws<ORSet, readonly string[], ORSetOp, SetCmd>({
  name: 'OR-Set (window Infinity, any order)',
  type: unbounded,
  cmd: setCmd,
  prepare: (s, c) => unbounded.prepare(s, c.t, c.e),
  delivery: 'any',
  exact: true,
  reference: addWins,
});

checkLaws<ORSet, readonly string[], ORSetOp, SetCmd>({
  name: 'OR-Set (window 16, causal)',
  type: ORSetType,
  cmd: setCmd,
  prepare: (s, c) => ORSetType.prepare(s, c.t, c.e),
  delivery: 'causal',
  exact: false,
  reference: addWins,
});

const id = (source: number, offset: number, sub = 0) => ({ source, offset, sub });

describe('sets: meaning', () => {
  it('2P-Set: a removed element never comes back', () => {
    const T = TwoPSetType;
    let s = T.apply(T.empty(), id(0, 1), { add: 'x' });
    s = T.apply(s, id(0, 2), { remove: 'x' });
    s = T.apply(s, id(0, 3), { add: 'x' });
    expect(T.value(s)).toEqual([]);
    expect(s.r).toEqual(['x']);
  });

  it('OR-Set: an add concurrent with a remove wins; a remove of what was seen removes it', () => {
    const T = ORSetType;
    const base = T.add(T.empty(), id(0, 1), 'x');
    const removed = T.remove(base, id(1, 1), 'x'); // replica 1 saw the add
    const readded = T.add(base, id(2, 1), 'x'); // replica 2, concurrently
    expect(T.value(T.merge(removed, readded))).toEqual(['x']);
    expect(T.value(T.merge(removed, base))).toEqual([]);
    // A delayed delivery of the observed add does not bring it back.
    expect(
      T.value(T.apply(T.remove(base, id(1, 1), 'x'), id(0, 1), T.prepare(T.empty(), 'add', 'x'))),
    ).toEqual([]);
  });

  it('OR-Set: with FIFO delivery and window 0 the context keeps one watermark per origin', () => {
    const T = orSet({ window: 0 });
    let s = T.empty();
    for (let o = 0; o < 200; o++)
      s = o % 3 === 2 ? T.remove(s, id(o % 2, o), 'e' + (o % 5)) : T.add(s, id(o % 2, o), 'e' + (o % 5));
    expect(seenExceptions(s.c)).toBe(0);
    expect(s.c.map((a) => a[0])).toEqual([0, 1]);
  });

  it('a foreign or torn state is refused, naming the path', () => {
    expect(() => ORSetType.check({ e: [['x', [0, 1]]], c: [] })).toThrow(
      /or-set\.e\[0\]\[1\]: a dot list holds triples/,
    );
    expect(() => ORSetType.check({ e: [['x', [0, 1, 0]]], c: [] })).toThrow(/not in the state's context/);
    expect(() =>
      ORSetType.check({
        e: [
          ['y', [0, 1, 0]],
          ['x', [0, 2, 0]],
        ],
        c: [[0, 5, 0]],
      }),
    ).toThrow(/or-set\.e\[1\]: elements must be sorted/);
    expect(() => TwoPSetType.check({ a: ['x'], r: ['x'] })).toThrow(/both added and removed/);
    expect(() => GSetType.check(['b', 'a'])).toThrow(/sorted/);
  });
});
