// Seen: the set of message ids an object has applied (its causal context), per origin, as a
// watermark plus the ids above it. Every CRDT here that dedups by message id keeps one.
//
// A message id is (source, offset, sub) (runtime/engine/ids.ts). The origin of an operation is
// its message's source; within an origin ids are ordered by (offset, sub). For each origin the
// set is   { every id <= w } ∪ X   with X the ids above w, kept sorted. A Seen is an array of
// one array per origin, sorted by origin: `[[origin, wOff, wSub, o1, s1, o2, s2, ...], ...]`.
// An origin with nothing seen is absent; `w = (-1, 0)` means "nothing below X". (Arrays, not an
// object keyed by origin: V8 copies and walks frozen objects with integer keys on a slow path.)
//
// Bounding X (compaction). The watermark claims "every id <= w has been applied here, or never
// will be delivered here". It moves up two ways:
// - `window` (per type, fixed for all replicas): after an add, while X holds more than `window`
//   ids, its smallest becomes the watermark. This is safe while an operation reaches an object
//   before `window + 1` later ids of its origin have been applied there (reordering depth at
//   most `window`); with per-origin FIFO delivery (the engine: one path from a source to a key)
//   `window = 0` is safe and X stays empty. A later, never-applied id below w would be taken
//   for a duplicate: that is the price of the bound.
// - `seenCompact(s, frontier)`: explicit, safe once every id of the origin <= frontier that will
//   ever be delivered to this object has been (e.g. a source's committed offset after a
//   checkpoint).
// Merge is set union (it never moves a watermark beyond what either side claimed), so it is
// commutative, associative and idempotent on the canonical form (X sorted, above w, no repeats).
import type { MessageId } from '../types.ts';
import { CrdtShapeError, checkArray } from './shape.ts';

/** One array per origin: `[origin, wOffset, wSub, offset, sub, ...]`, sorted by origin. */
export type Seen = readonly (readonly number[])[];

/** Per origin: every id <= `[offset, sub]` has been delivered to the object (see seenCompact). */
export interface Frontier {
  readonly [origin: string]: readonly [offset: number, sub: number];
}

export const EMPTY_SEEN: Seen = Object.freeze([]) as Seen;

/** How many out-of-order ids per origin a type keeps before raising its watermark. */
export type SeenWindow = number;

/** Compare two ids of one origin: negative, zero or positive. */
export function compareIds(o1: number, s1: number, o2: number, s2: number): number {
  return o1 !== o2 ? o1 - o2 : s1 - s2;
}

/** The array of `origin` in `seen`, or undefined. */
export function originOf(seen: Seen, origin: number): readonly number[] | undefined {
  for (let i = 0; i < seen.length; i++) {
    const a = seen[i]!;
    if (a[0] === origin) return a;
    if (a[0]! > origin) return undefined;
  }
  return undefined;
}

/** Whether one origin's array holds (offset, sub). */
export function originHas(arr: readonly number[] | undefined, offset: number, sub: number): boolean {
  if (arr === undefined) return false;
  const wo = arr[1]!;
  if (offset < wo || (offset === wo && sub <= arr[2]!)) return true;
  return findAbove(arr, offset, sub) < 0;
}

/** Binary search of (offset, sub) among the ids above the watermark: -1 if present, else the
 * index where it would go. (Few reads: a frozen array's elements read slowly in V8.) */
function findAbove(arr: readonly number[], offset: number, sub: number): number {
  let lo = 0;
  let hi = (arr.length - 3) / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareIds(arr[3 + 2 * mid]!, arr[4 + 2 * mid]!, offset, sub);
    if (c === 0) return -1;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 3 + 2 * lo;
}

export function seenHas(seen: Seen, source: number, offset: number, sub: number): boolean {
  return originHas(originOf(seen, source), offset, sub);
}

export function seenHasId(seen: Seen, id: MessageId): boolean {
  return originHas(originOf(seen, id.source), id.offset, id.sub);
}

/** One origin's array with (offset, sub) added and the window applied; `arr` if already held. */
function originAdd(
  arr: readonly number[] | undefined,
  source: number,
  offset: number,
  sub: number,
  window: SeenWindow,
): readonly number[] {
  if (arr === undefined) return window === 0 ? [source, offset, sub] : [source, -1, 0, offset, sub];
  const wo = arr[1]!;
  if (offset < wo || (offset === wo && sub <= arr[2]!)) return arr;
  const at = findAbove(arr, offset, sub);
  if (at < 0) return arr;
  // Fast path: nothing above the watermark and a window of 0 (FIFO): the id is the new watermark.
  if (arr.length === 3 && window === 0) return [source, offset, sub];
  const out: number[] = [...arr]; // spread: a frozen array's slice and element reads are slow
  out.splice(at, 0, offset, sub);
  const excess = (out.length - 3) / 2 - window;
  if (excess > 0) {
    // The `excess` smallest ids above the watermark become it.
    const k = 2 * excess;
    out[1] = out[k + 1]!;
    out[2] = out[k + 2]!;
    out.splice(3, k);
  }
  return out;
}

/** `seen` with `arr` (an origin's array) put in its place. */
function withOrigin(seen: Seen, arr: readonly number[]): Seen {
  const origin = arr[0]!;
  const out: (readonly number[])[] = [];
  let placed = false;
  for (let i = 0; i < seen.length; i++) {
    const a = seen[i]!;
    if (!placed && a[0]! >= origin) {
      out.push(arr);
      placed = true;
      if (a[0] === origin) continue;
    }
    out.push(a);
  }
  if (!placed) out.push(arr);
  return out;
}

/** `seen` with (source, offset, sub) added; `seen` itself if it already held it. */
export function seenAdd(seen: Seen, source: number, offset: number, sub: number, window: SeenWindow): Seen {
  const arr = originOf(seen, source);
  const next = originAdd(arr, source, offset, sub, window);
  return next === arr ? seen : withOrigin(seen, next);
}

/** `seen` with every dot of a flat `[source, offset, sub, ...]` list added. */
export function seenAddDots(seen: Seen, dots: readonly number[], window: SeenWindow): Seen {
  let s = seen;
  for (let i = 0; i < dots.length; i += 3) s = seenAdd(s, dots[i]!, dots[i + 1]!, dots[i + 2]!, window);
  return s;
}

function mergeOrigin(a: readonly number[], b: readonly number[]): readonly number[] {
  let wo = a[1]!;
  let ws = a[2]!;
  if (compareIds(b[1]!, b[2]!, wo, ws) > 0) {
    wo = b[1]!;
    ws = b[2]!;
  }
  const out: number[] = [a[0]!, wo, ws];
  let i = 3;
  let j = 3;
  for (;;) {
    let o: number;
    let s: number;
    if (i < a.length && j < b.length) {
      const c = compareIds(a[i]!, a[i + 1]!, b[j]!, b[j + 1]!);
      o = c <= 0 ? a[i]! : b[j]!;
      s = c <= 0 ? a[i + 1]! : b[j + 1]!;
      if (c <= 0) i += 2;
      if (c >= 0) j += 2;
    } else if (i < a.length) {
      o = a[i]!;
      s = a[i + 1]!;
      i += 2;
    } else if (j < b.length) {
      o = b[j]!;
      s = b[j + 1]!;
      j += 2;
    } else break;
    if (compareIds(o, s, wo, ws) > 0) out.push(o, s);
  }
  return out;
}

/** Merges two lists of per-origin rows sorted by origin (a row's first number): rows of one
 * origin only are kept as they are, rows of an origin in both are combined by `both`. */
export function mergeByOrigin(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
  both: (x: readonly number[], y: readonly number[]) => readonly number[],
): (readonly number[])[] {
  const out: (readonly number[])[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const c = i >= a.length ? 1 : j >= b.length ? -1 : a[i]![0]! - b[j]![0]!;
    if (c < 0) out.push(a[i++]!);
    else if (c > 0) out.push(b[j++]!);
    else out.push(both(a[i++]!, b[j++]!));
  }
  return out;
}

/** Set union (commutative, associative, idempotent). */
export function seenMerge(a: Seen, b: Seen): Seen {
  if (a === b || b.length === 0) return a;
  if (a.length === 0) return b;
  return mergeByOrigin(a, b, mergeOrigin);
}

/** Raises each origin's watermark to the frontier (if higher) and drops the ids it covers.
 * Safe once every id <= frontier[origin] that will ever reach the object has reached it. */
export function seenCompact(seen: Seen, frontier: Frontier): Seen {
  let out: (readonly number[])[] | null = null;
  for (let k = 0; k < seen.length; k++) {
    const arr = seen[k]!;
    const f = frontier[arr[0]!];
    if (f === undefined || compareIds(f[0], f[1], arr[1]!, arr[2]!) <= 0) continue;
    const next: number[] = [arr[0]!, f[0], f[1]];
    for (let i = 3; i < arr.length; i += 2) {
      if (compareIds(arr[i]!, arr[i + 1]!, f[0], f[1]) > 0) next.push(arr[i]!, arr[i + 1]!);
    }
    (out ??= [...seen])[k] = next;
  }
  return out ?? seen;
}

/** Number of ids kept above the watermarks (the part of the metadata that the window bounds). */
export function seenExceptions(seen: Seen): number {
  let n = 0;
  for (const a of seen) n += (a.length - 3) / 2;
  return n;
}

/** Checks decoded data: one canonical array per origin, origins increasing. */
export function checkSeen(data: unknown, path: string): Seen {
  const a = checkArray(data, path);
  a.forEach((o, i) => {
    checkOrigin(o, `${path}[${i}]`);
    if (i > 0 && (o as number[])[0]! <= (a[i - 1] as number[])[0]!) {
      throw new CrdtShapeError(`${path}[${i}]: origins must increase`);
    }
  });
  return a as Seen;
}

/** One origin's `[origin, wOff, wSub, X...]`: integers, X strictly increasing and above w. */
function checkOrigin(data: unknown, path: string): readonly number[] {
  if (!Array.isArray(data) || data.length < 3 || data.length % 2 !== 1) {
    throw new CrdtShapeError(`${path}: expected [origin, watermarkOffset, watermarkSub, offset, sub, ...]`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isSafeInteger(data[i]) || (data[i] as number) < (i === 1 ? -1 : 0)) {
      throw new CrdtShapeError(`${path}[${i}]: ${JSON.stringify(data[i])} is not a message id part`);
    }
  }
  for (let i = 3; i < data.length; i += 2) {
    if (
      compareIds(data[i] as number, data[i + 1] as number, data[i - 2] as number, data[i - 1] as number) <= 0
    ) {
      throw new CrdtShapeError(`${path}[${i}]: ids above the watermark must increase`);
    }
  }
  return data as number[];
}

export function checkWindow(window: number, where: string): number {
  if (!(window === Infinity || (Number.isSafeInteger(window) && window >= 0))) {
    throw new RangeError(`${where}: window ${window} must be a non-negative integer or Infinity`);
  }
  return window;
}
