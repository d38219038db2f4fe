// OR-Set (observed-remove, add-wins): each live element carries the dots (message ids) of the
// adds that put it there; a remove takes away the dots its author had observed, so an add
// concurrent with a remove (a dot the remover had not seen) survives it.
//
//   ORSet = { e: [[element, Dots], ...] sorted by element, c: Seen }
//
// `c` (runtime/state/seen.ts) holds every id applied or observed-removed: an operation whose id
// is in it is a duplicate, and a dot in it that no element carries was removed. Operations are
// prepared from their author's state (`prepare`), which records the dots it observed:
//   add(e):    e's dots := (e's dots - observed) + {id}
//   remove(e): e's dots := e's dots - observed
// Both then add their id and the observed dots to `c`, so a delayed delivery of an observed add
// cannot bring the element back. The observed dots are removed even when the op's id is already
// in `c` (an op that a later op observed and overtook), which makes any delivery order converge.
// Merge: per element, the causal join of the dots (a dot survives if both sides have it, or one
// has it and the other has not seen it); `c` is united.
//
// Metadata: the live dots (one per concurrent add of a live element; one after sequential adds)
// and `c`, bounded by its window (see seen.ts) and by `compact`. Cost: the element list is copied
// on each change, O(elements): keep sets small per state.
import type { MessageId } from '../types.ts';
import type { Dots } from './dots.ts';
import { NO_DOTS, checkCovered, checkDots, dotsAdd, dotsJoin, dotsWithout, sameDots } from './dots.ts';
import type { Frontier, Seen } from './seen.ts';
import {
  EMPTY_SEEN,
  checkSeen,
  checkWindow,
  seenAdd,
  seenAddDots,
  seenCompact,
  seenHasId,
  seenMerge,
} from './seen.ts';
import { CrdtShapeError, checkArray, checkKeys, checkPlainObject } from './shape.ts';
import type { CrdtType } from './type.ts';

export interface ORSet {
  /** The live elements with their dots, sorted by element. (An array, not an object keyed by
   * element: V8 copies a large or shrunk frozen object slowly; see README.md, Cost.) */
  readonly e: readonly (readonly [string, Dots])[];
  readonly c: Seen;
}

/** Index of `x` in the sorted entries, or -(insertion point) - 1. */
function find(e: ORSet['e'], x: string): number {
  let lo = 0;
  let hi = e.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = e[mid]![0];
    if (m === x) return mid;
    if (m < x) lo = mid + 1;
    else hi = mid;
  }
  return -lo - 1;
}

export interface ORSetOp {
  readonly t: 'add' | 'rm';
  readonly e: string;
  /** The dots of `e` its author had observed. */
  readonly obs: Dots;
}

export interface SeenOptions {
  /** Out-of-order ids kept per origin before the watermark moves up (default 16; see seen.ts). */
  readonly window?: number;
}

export const DEFAULT_WINDOW = 16;

const EMPTY: ORSet = Object.freeze({ e: Object.freeze([]) as ORSet['e'], c: EMPTY_SEEN });

export type ORSetType = CrdtType<ORSet, readonly string[], ORSetOp> & {
  readonly window: number;
  /** The op for `t` of `e`, as the author of state `s` sees it. */
  prepare(s: ORSet, t: 'add' | 'rm', e: string): ORSetOp;
  add(s: ORSet, id: MessageId, e: string): ORSet;
  remove(s: ORSet, id: MessageId, e: string): ORSet;
  has(s: ORSet, e: string): boolean;
};

export function orSet(options: SeenOptions = {}): ORSetType {
  const window = checkWindow(options.window ?? DEFAULT_WINDOW, 'orSet');

  const prepare = (s: ORSet, t: 'add' | 'rm', e: string): ORSetOp => {
    if (typeof e !== 'string') throw new TypeError(`OR-Set ${t}: elements are strings, got ${typeof e}`);
    const i = find(s.e, e);
    return { t, e, obs: i >= 0 ? s.e[i]![1] : NO_DOTS };
  };

  const apply = (s: ORSet, id: MessageId, op: ORSetOp): ORSet => {
    // The observed dots go whatever happens (removing them twice changes nothing); the op's own
    // dot only if its id is new here: an id already in `c` was applied, or observed (and so
    // superseded) by an op applied before it.
    const i = find(s.e, op.e);
    const cur = i >= 0 ? s.e[i]![1] : NO_DOTS;
    let d = dotsWithout(cur, op.obs);
    let c = s.c;
    if (!seenHasId(c, id)) {
      if (op.t === 'add') d = dotsAdd(d, id.source, id.offset, id.sub);
      c = seenAdd(c, id.source, id.offset, id.sub, window);
    }
    c = seenAddDots(c, op.obs, window);
    if (d === cur && c === s.c) return s;
    let e = s.e;
    if (!sameDots(d, cur)) {
      const next = [...s.e]; // spread: a frozen array's slice is slow
      if (i >= 0 && d.length === 0) next.splice(i, 1);
      else if (i >= 0) next[i] = [op.e, d];
      else next.splice(-i - 1, 0, [op.e, d]);
      e = next;
    }
    return { e, c };
  };

  const merge = (a: ORSet, b: ORSet): ORSet => {
    if (a === b) return a;
    const e: (readonly [string, Dots])[] = [];
    let i = 0;
    let j = 0;
    while (i < a.e.length || j < b.e.length) {
      const x = i < a.e.length ? a.e[i]! : null;
      const y = j < b.e.length ? b.e[j]! : null;
      const k = x !== null && (y === null || x[0] <= y[0]) ? x[0] : y![0];
      const da = x !== null && x[0] === k ? (i++, x[1]) : NO_DOTS;
      const db = y !== null && y[0] === k ? (j++, y[1]) : NO_DOTS;
      const d = dotsJoin(da, a.c, db, b.c);
      if (d.length > 0) e.push(x !== null && x[0] === k && d === da ? x : [k, d]);
    }
    return { e, c: seenMerge(a.c, b.c) };
  };

  return {
    name: window === DEFAULT_WINDOW ? 'or-set' : `or-set(window=${window})`,
    window,
    empty: () => EMPTY,
    prepare,
    apply,
    add: (s, id, e) => apply(s, id, prepare(s, 'add', e)),
    remove: (s, id, e) => apply(s, id, prepare(s, 'rm', e)),
    has: (s, e) => find(s.e, e) >= 0,
    merge,
    value: (s) => s.e.map((x) => x[0]),
    compact: (s: ORSet, frontier: Frontier) => {
      const c = seenCompact(s.c, frontier);
      return c === s.c ? s : { e: s.e, c };
    },
    check: (data, path = 'or-set') => {
      const obj = checkPlainObject(data, path);
      checkKeys(obj, ['e', 'c'], path);
      const elems = checkArray(obj.e, `${path}.e`);
      const c = checkSeen(obj.c, `${path}.c`);
      elems.forEach((x, n) => {
        const p = `${path}.e[${n}]`;
        const pair = checkArray(x, p);
        if (pair.length !== 2 || typeof pair[0] !== 'string')
          throw new CrdtShapeError(`${p}: expected [element, dots]`);
        if (n > 0 && !((elems[n - 1] as [string])[0] < pair[0])) {
          throw new CrdtShapeError(`${p}: elements must be sorted and distinct`);
        }
        const d = checkDots(pair[1], `${p}[1]`);
        if (d.length === 0) throw new CrdtShapeError(`${p}: a live element has at least one dot`);
        checkCovered(d, c, `${p}[1]`);
      });
      return { e: elems as ORSet['e'], c };
    },
  };
}

/** The default OR-Set type (window 16). */
export const ORSetType: ORSetType = orSet();
