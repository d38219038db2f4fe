// G-Counter and PN-Counter: one entry per origin (message source), each with the origin's
// running total(s) and a watermark, the id of the last message of that origin applied. The
// entries form a list sorted by origin, each entry one small object (frozen objects' named
// fields read fast; a frozen array's elements do not, in V8 here):
//
//   GCounter  = null | { o: origin, n, w: wOffset, s: wSub, r: GCounter }         value = sum(n)
//   PNCounter = null | { o: origin, p, n, w: wOffset, s: wSub, r: PNCounter }   value = sum(p - n)
//
// Delivery they assume: per-origin FIFO, duplicates anywhere. A message whose id is at or below
// its origin's watermark is a duplicate (a no-op); interleavings across origins are free. This
// is what the engine gives a state step: one path from a source to a key, replays re-send old
// ids. The metadata is one watermark per origin, whatever the number of messages: nothing to
// compact. For arbitrary reordering inside an origin use EntryCounter (entry-counter.ts).
//
// Merge keeps, per origin, the entry with the higher watermark (under FIFO, an entry with a
// higher watermark has applied a superset of that origin's messages); ties keep the larger
// totals, so merge is commutative even on states no FIFO run could reach.
import type { MessageId } from '../types.ts';
import type { Frontier } from './seen.ts';
import { compareIds } from './seen.ts';
import { CrdtShapeError, checkKeys, checkPlainObject } from './shape.ts';
import type { CrdtType } from './type.ts';
import { checkAmount } from './type.ts';

export interface GCounterEntry {
  readonly o: number;
  readonly n: number;
  readonly w: number;
  readonly s: number;
  readonly r: GCounter;
}
export type GCounter = GCounterEntry | null;

export interface PNCounterEntry {
  readonly o: number;
  readonly p: number;
  readonly n: number;
  readonly w: number;
  readonly s: number;
  readonly r: PNCounter;
}
export type PNCounter = PNCounterEntry | null;

/** The entries of a list, in order. */
function entries<E extends { readonly r: E | null }>(s: E | null): E[] {
  const out: E[] = [];
  for (let e = s; e !== null; e = e.r) out.push(e);
  return out;
}

/** Rebuilds `prefix` (copies with their `r` re-linked) in front of `tail`. */
function relink<E extends { readonly r: E | null }>(prefix: readonly E[], tail: E | null): E | null {
  let out = tail;
  for (let i = prefix.length - 1; i >= 0; i--) out = Object.freeze({ ...prefix[i]!, r: out });
  return out;
}

function isDuplicate(e: { readonly w: number; readonly s: number }, id: MessageId): boolean {
  return id.offset < e.w || (id.offset === e.w && id.sub <= e.s);
}

/** Applies `make(entry | null)` to the origin of `id`; `s` itself for a duplicate. */
function applyAt<
  E extends { readonly o: number; readonly w: number; readonly s: number; readonly r: E | null },
>(s: E | null, id: MessageId, make: (e: E | null, rest: E | null) => E): E | null {
  // The common case, one origin or the first: no list walk, one new object.
  if (s !== null && s.o === id.source) return isDuplicate(s, id) ? s : make(s, s.r);
  const prefix: E[] = [];
  let e = s;
  while (e !== null && e.o < id.source) {
    prefix.push(e);
    e = e.r;
  }
  if (e !== null && e.o === id.source) {
    if (isDuplicate(e, id)) return s;
    return relink(prefix, make(e, e.r));
  }
  return relink(prefix, make(null, e));
}

function mergeLists<
  E extends { readonly o: number; readonly w: number; readonly s: number; readonly r: E | null },
>(a: E | null, b: E | null, tie: (x: E, y: E) => E): E | null {
  if (a === b || b === null) return a;
  if (a === null) return b;
  const picked: E[] = [];
  let x: E | null = a;
  let y: E | null = b;
  while (x !== null || y !== null) {
    const c = x === null ? 1 : y === null ? -1 : x.o - y.o;
    if (c < 0) {
      picked.push(x!);
      x = x!.r;
    } else if (c > 0) {
      picked.push(y!);
      y = y!.r;
    } else {
      const d = compareIds(x!.w, x!.s, y!.w, y!.s);
      picked.push(d > 0 ? x! : d < 0 ? y! : tie(x!, y!));
      x = x!.r;
      y = y!.r;
    }
  }
  return relink(picked, null);
}

function checkList<E>(
  data: unknown,
  path: string,
  fields: readonly string[],
  totals: readonly string[],
): E | null {
  let p = path;
  let prev = -1;
  for (let d: unknown = data; d !== null;) {
    const obj = checkPlainObject(d, p);
    checkKeys(obj, fields, p);
    for (const f of ['o', 'w', 's']) {
      const v = obj[f];
      if (!Number.isSafeInteger(v) || (v as number) < 0)
        throw new CrdtShapeError(`${p}.${f}: ${JSON.stringify(v)} is not an id part`);
    }
    for (const f of totals) {
      const v = obj[f];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new CrdtShapeError(`${p}.${f}: ${JSON.stringify(v)} is not a non-negative total`);
      }
    }
    if ((obj.o as number) <= prev) throw new CrdtShapeError(`${p}.o: origins must increase`);
    prev = obj.o as number;
    d = obj.r;
    p = `${p}.r`;
  }
  return data as E | null;
}

// ----- G-Counter -----

export function gCounterValue(s: GCounter): number {
  let n = 0;
  for (let e = s; e !== null; e = e.r) n += e.n;
  return n;
}

/** Adds `amount` (>= 0) for message `id`; a message at or below its origin's watermark is a
 * duplicate and leaves `s` as it is (the same object). */
export function gCounterIncrement(s: GCounter, id: MessageId, amount = 1): GCounter {
  return increment(s, id, amount, true);
}

function increment(s: GCounter, id: MessageId, amount: number, freeze: boolean): GCounter {
  if (!(amount >= 0 && amount !== Infinity)) checkAmount(amount, 'G-Counter increment', true);
  // The hot path (one origin, or the first): no closure, no list walk, one new object.
  if (s !== null && s.o === id.source) {
    if (id.offset < s.w || (id.offset === s.w && id.sub <= s.s)) return s;
    const next = { o: s.o, n: s.n + amount, w: id.offset, s: id.sub, r: s.r };
    return freeze ? Object.freeze(next) : next;
  }
  return applyAt<GCounterEntry>(s, id, (e, r) =>
    Object.freeze({ o: id.source, n: (e === null ? 0 : e.n) + amount, w: id.offset, s: id.sub, r }),
  );
}

export const GCounterType: CrdtType<GCounter, number, number> = {
  name: 'g-counter',
  empty: () => null,
  apply: gCounterIncrement,
  applyNested: (s, id, amount) => increment(s, id, amount, false),
  merge: (a, b) => mergeLists<GCounterEntry>(a, b, (x, y) => (x.n >= y.n ? x : y)),
  value: gCounterValue,
  compact: (s: GCounter, _frontier: Frontier) => s,
  check: (data, path = 'g-counter') => checkList<GCounterEntry>(data, path, ['o', 'n', 'w', 's', 'r'], ['n']),
};

// ----- PN-Counter -----

export function pnCounterValue(s: PNCounter): number {
  let n = 0;
  for (let e = s; e !== null; e = e.r) n += e.p - e.n;
  return n;
}

/** Adds `delta` (any finite number; negative counts down) for message `id`; duplicates (at or
 * below the origin's watermark) leave `s` as it is. */
export function pnCounterAdd(s: PNCounter, id: MessageId, delta: number): PNCounter {
  checkAmount(delta, 'PN-Counter add', false);
  return applyAt<PNCounterEntry>(s, id, (e, r) =>
    Object.freeze({
      o: id.source,
      p: (e === null ? 0 : e.p) + (delta >= 0 ? delta : 0),
      n: (e === null ? 0 : e.n) + (delta < 0 ? -delta : 0),
      w: id.offset,
      s: id.sub,
      r,
    }),
  );
}

export const PNCounterType: CrdtType<PNCounter, number, number> = {
  name: 'pn-counter',
  empty: () => null,
  apply: pnCounterAdd,
  merge: (a, b) =>
    mergeLists<PNCounterEntry>(a, b, (x, y) =>
      x.p >= y.p && x.n >= y.n
        ? x
        : y.p >= x.p && y.n >= x.n
          ? y
          : Object.freeze({ ...x, p: Math.max(x.p, y.p), n: Math.max(x.n, y.n) }),
    ),
  value: pnCounterValue,
  compact: (s: PNCounter, _frontier: Frontier) => s,
  check: (data, path = 'pn-counter') =>
    checkList<PNCounterEntry>(data, path, ['o', 'p', 'n', 'w', 's', 'r'], ['p', 'n']),
};

/** Number of origins a counter holds (its metadata: one watermark each). */
export function counterOrigins(s: GCounter | PNCounter): number {
  return entries<GCounterEntry | PNCounterEntry>(s as GCounterEntry | null).length;
}
