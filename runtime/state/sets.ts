// G-Set and 2P-Set: sets of strings whose operations are idempotent by themselves (adding an
// element twice, or removing it twice, changes nothing), so the message id is not needed to
// dedup them; it is accepted so that every type has the same operation signature.
//
//   GSet    = sorted, distinct strings                      value: the set
//   TwoPSet = { a: added and not removed, r: removed }       value: a  (r are tombstones)
//
// 2P-Set: a removed element can never come back (remove wins, for good). The tombstones are the
// metadata that grows: one per removed element, never safe to drop (a late add of it would
// resurrect it). An element is kept in `a` or in `r`, never both.
import type { MessageId } from '../types.ts';
import type { Frontier } from './seen.ts';
import { checkKeys, checkPlainObject, checkStringSet, CrdtShapeError } from './shape.ts';
import type { CrdtType } from './type.ts';

export type GSet = readonly string[];

export interface TwoPSet {
  readonly a: readonly string[];
  readonly r: readonly string[];
}

export type TwoPSetOp = { readonly add: string } | { readonly remove: string };

const EMPTY_SET: readonly string[] = Object.freeze([]) as readonly string[];
const EMPTY_2P: TwoPSet = Object.freeze({ a: EMPTY_SET, r: EMPTY_SET });

/** Index of `e` in sorted `s`, or -(insertion point) - 1. */
export function sortedIndex(s: readonly string[], e: string): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = s[mid]!;
    if (m === e) return mid;
    if (m < e) lo = mid + 1;
    else hi = mid;
  }
  return -lo - 1;
}

export function sortedInsert(s: readonly string[], e: string): readonly string[] {
  const i = sortedIndex(s, e);
  if (i >= 0) return s;
  const at = -i - 1;
  const out: string[] = [];
  for (let k = 0; k < at; k++) out.push(s[k]!);
  out.push(e);
  for (let k = at; k < s.length; k++) out.push(s[k]!);
  return out;
}

function sortedRemove(s: readonly string[], e: string): readonly string[] {
  const i = sortedIndex(s, e);
  if (i < 0) return s;
  const out: string[] = [];
  for (let k = 0; k < s.length; k++) if (k !== i) out.push(s[k]!);
  return out;
}

export function sortedUnion(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a === b || b.length === 0) return a;
  if (a.length === 0) return b;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!);
    else if (i >= a.length || b[j]! < a[i]!) out.push(b[j++]!);
    else {
      out.push(a[i++]!);
      j++;
    }
  }
  return out.length === a.length ? a : out;
}

function sortedMinus(a: readonly string[], r: readonly string[]): readonly string[] {
  if (r.length === 0) return a;
  const out: string[] = [];
  for (const e of a) if (sortedIndex(r, e) < 0) out.push(e);
  return out.length === a.length ? a : out;
}

function checkElement(e: unknown, where: string): string {
  if (typeof e !== 'string') throw new TypeError(`${where}: elements are strings, got ${typeof e}`);
  return e;
}

// ----- G-Set -----

export function gSetAdd(s: GSet, _id: MessageId | null, e: string): GSet {
  return sortedInsert(s, checkElement(e, 'G-Set add'));
}

export function gSetHas(s: GSet, e: string): boolean {
  return sortedIndex(s, e) >= 0;
}

export const GSetType: CrdtType<GSet, readonly string[], string> = {
  name: 'g-set',
  empty: () => EMPTY_SET,
  apply: gSetAdd,
  merge: sortedUnion,
  value: (s) => s,
  compact: (s: GSet, _frontier: Frontier) => s,
  check: (data, path = 'g-set') => checkStringSet(data, path),
};

// ----- 2P-Set -----

export function twoPSetApply(s: TwoPSet, _id: MessageId | null, op: TwoPSetOp): TwoPSet {
  if ('add' in op) {
    const e = checkElement(op.add, '2P-Set add');
    if (sortedIndex(s.r, e) >= 0) return s;
    const a = sortedInsert(s.a, e);
    return a === s.a ? s : { a, r: s.r };
  }
  const e = checkElement(op.remove, '2P-Set remove');
  const r = sortedInsert(s.r, e);
  return r === s.r ? s : { a: sortedRemove(s.a, e), r };
}

export function twoPSetHas(s: TwoPSet, e: string): boolean {
  return sortedIndex(s.a, e) >= 0;
}

export const TwoPSetType: CrdtType<TwoPSet, readonly string[], TwoPSetOp> = {
  name: '2p-set',
  empty: () => EMPTY_2P,
  apply: twoPSetApply,
  merge: (x, y) => {
    if (x === y) return x;
    const r = sortedUnion(x.r, y.r);
    const a = sortedMinus(sortedUnion(x.a, y.a), r);
    return a === x.a && r === x.r ? x : { a, r };
  },
  value: (s) => s.a,
  compact: (s: TwoPSet, _frontier: Frontier) => s,
  check: (data, path = '2p-set') => {
    const obj = checkPlainObject(data, path);
    checkKeys(obj, ['a', 'r'], path);
    const a = checkStringSet(obj.a, `${path}.a`);
    const r = checkStringSet(obj.r, `${path}.r`);
    for (const e of a) {
      if (sortedIndex(r, e) >= 0) throw new CrdtShapeError(`${path}: "${e}" is both added and removed`);
    }
    return obj as unknown as TwoPSet;
  },
};
