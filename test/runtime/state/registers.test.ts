// LWW-Register and MV-Register: laws, and their meaning against references computed from the
// operations alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LWWRegister, LWWSet, MVRegister, MVSet } from '../../../runtime/state/index.ts';
import {
  LWWRegisterType,
  MVRegisterType,
  compareIds,
  lwwRegister,
  mvRegister,
} from '../../../runtime/state/index.ts';
import type { Authored } from './harness.ts';
import { checkLaws } from './laws.ts';

type V = number | string;
const value = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom('x', 'y'));
const LWW = lwwRegister<V>();

checkLaws<LWWRegister<V>, V | null, LWWSet<V>, LWWSet<V>>({
  name: 'LWW-Register',
  type: LWW,
  cmd: fc.record({ v: value, ts: fc.integer({ min: 0, max: 5 }) }),
  prepare: (_s, c) => c,
  delivery: 'any',
  exact: true,
  reference: (ops) => {
    let best: Authored<LWWSet<V>> | null = null;
    for (const a of ops) {
      const c =
        best === null
          ? 1
          : a.op.ts - best.op.ts ||
            a.id.source - best.id.source ||
            compareIds(a.id.offset, a.id.sub, best.id.offset, best.id.sub);
      if (c > 0) best = a;
    }
    return best === null ? null : best.op.v;
  },
});

/** Multi-value: the values of the sets that no later op observed, in dot order. */
function unobserved(ops: readonly Authored<MVSet<V>>[]): V[] {
  const observed = new Set<string>();
  for (const a of ops)
    for (let i = 0; i < a.op.obs.length; i += 3) observed.add(a.op.obs.slice(i, i + 3).join(':'));
  return ops
    .filter((a) => !observed.has(`${a.id.source}:${a.id.offset}:${a.id.sub}`))
    .sort((x, y) => x.id.source - y.id.source || compareIds(x.id.offset, x.id.sub, y.id.offset, y.id.sub))
    .map((a) => a.op.v);
}

const MVInf = mvRegister<V>({ window: Infinity });
checkLaws<MVRegister<V>, readonly V[], MVSet<V>, V>({
  name: 'MV-Register (window Infinity, any order)',
  type: MVInf,
  cmd: value,
  prepare: (s, v) => MVInf.prepare(s, v),
  delivery: 'any',
  exact: true,
  reference: unobserved,
});

const MV = mvRegister<V>();
checkLaws<MVRegister<V>, readonly V[], MVSet<V>, V>({
  name: 'MV-Register (window 16, causal)',
  type: MV,
  cmd: value,
  prepare: (s, v) => MV.prepare(s, v),
  delivery: 'causal',
  exact: false,
  reference: unobserved,
});

const id = (source: number, offset: number, sub = 0) => ({ source, offset, sub });

describe('registers: meaning', () => {
  it('LWW: the greatest timestamp wins, the message id breaks ties, an older write changes nothing', () => {
    const T = LWWRegisterType;
    const a = T.apply(T.empty(), id(0, 1), { v: 'a', ts: 10 });
    const b = T.apply(a, id(1, 0), { v: 'b', ts: 10 });
    expect(T.value(b)).toBe('b'); // same time, source 1 > source 0
    expect(T.apply(b, id(2, 9), { v: 'old', ts: 3 })).toBe(b);
    expect(() => T.apply(b, id(0, 2), { v: 'c', ts: Number.NaN })).toThrow(/timestamp/);
  });

  it('MV: concurrent sets are all kept until a set that saw them replaces them', () => {
    const T = MVRegisterType;
    const x = T.set(T.empty(), id(0, 1), 'x');
    const y = T.set(T.empty(), id(1, 1), 'y');
    const both = T.merge(x, y);
    expect(T.value(both)).toEqual(['x', 'y']);
    expect(T.value(T.set(both, id(2, 1), 'z'))).toEqual(['z']);
  });
});
