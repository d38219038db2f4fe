// G-Counter and PN-Counter: one entry per origin (message source), each with the origin's
// running total and a watermark, the id of the last message of that origin applied.
//
//   GCounter  = [origin, n, wOffset, wSub, origin, n, wOffset, wSub, ...]     (sorted by origin)
//   PNCounter = [origin, p, n, wOffset, wSub, ...]                   value = sum(p) - sum(n)
//
// Delivery they assume: per-origin FIFO, duplicates anywhere. A message whose id is at or below
// its origin's watermark is a duplicate (a no-op); interleavings across origins are free. This
// is what the engine gives a state step: one path from a source to a key, replays re-send old
// ids. The metadata is one watermark per origin, whatever the number of messages: nothing to
// compact. For arbitrary reordering inside an origin use EntryCounter (entry-counter.ts).
//
// Merge keeps, per origin, the entry with the higher watermark (under FIFO, an entry with a
// higher watermark has applied a superset of that origin's messages); ties keep the larger
// total, so merge is commutative even on states no FIFO run could reach.
import type { MessageId } from '../types.ts';
import type { Frontier } from './seen.ts';
import { compareIds } from './seen.ts';
import { CrdtShapeError, checkArray } from './shape.ts';
import type { CrdtType } from './type.ts';
import { checkAmount } from './type.ts';

export type GCounter = readonly number[];
export type PNCounter = readonly number[];

const EMPTY: readonly number[] = Object.freeze([]) as readonly number[];

/** Adds `amount` to slot `slot` of the origin's group for message `id`, or returns `s` for a
 * duplicate. */
function applyAt(
  s: readonly number[],
  width: number,
  id: MessageId,
  slot: number,
  amount: number,
): readonly number[] {
  const src = id.source;
  const w = width - 2;
  for (let i = 0; i < s.length; i += width) {
    const o = s[i]!;
    if (o === src) {
      const wo = s[i + w]!;
      if (id.offset < wo || (id.offset === wo && id.sub <= s[i + w + 1]!)) return s;
      // One origin (the common case): a literal. Else a spread copy, not s.slice(): slicing a
      // frozen array takes V8's slow path (~1 us). Frozen here, so the engine's freeze is a test.
      if (width === 4 && s.length === 4) return Object.freeze([src, s[1]! + amount, id.offset, id.sub]);
      const out = [...s];
      out[i + slot] = out[i + slot]! + amount;
      out[i + w] = id.offset;
      out[i + w + 1] = id.sub;
      return Object.freeze(out);
    }
    if (o > src) return insertGroup(s, i, width, src, slot, amount, id);
  }
  return insertGroup(s, s.length, width, src, slot, amount, id);
}

function insertGroup(
  s: readonly number[],
  at: number,
  width: number,
  src: number,
  slot: number,
  amount: number,
  id: MessageId,
): readonly number[] {
  const g = new Array<number>(width).fill(0);
  g[0] = src;
  g[slot] = amount;
  g[width - 2] = id.offset;
  g[width - 1] = id.sub;
  const out: number[] = [];
  for (let k = 0; k < at; k++) out.push(s[k]!);
  out.push(...g);
  for (let k = at; k < s.length; k++) out.push(s[k]!);
  return out;
}

function mergeVectors(a: readonly number[], b: readonly number[], width: number): readonly number[] {
  if (a === b) return a;
  const w = width - 2;
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const c = i >= a.length ? 1 : j >= b.length ? -1 : a[i]! - b[j]!;
    if (c < 0) {
      for (let k = 0; k < width; k++) out.push(a[i + k]!);
      i += width;
    } else if (c > 0) {
      for (let k = 0; k < width; k++) out.push(b[j + k]!);
      j += width;
    } else {
      const d = compareIds(a[i + w]!, a[i + w + 1]!, b[j + w]!, b[j + w + 1]!);
      // Same watermark: keep the larger totals, slot by slot (equal under FIFO).
      if (d === 0) {
        out.push(a[i]!);
        for (let k = 1; k < width; k++) out.push(k < w ? Math.max(a[i + k]!, b[j + k]!) : a[i + k]!);
      } else {
        const src = d > 0 ? a : b;
        const at = d > 0 ? i : j;
        for (let k = 0; k < width; k++) out.push(src[at + k]!);
      }
      i += width;
      j += width;
    }
  }
  return out;
}

function checkVector(data: unknown, width: number, path: string): readonly number[] {
  const a = checkArray(data, path);
  if (a.length % width !== 0)
    throw new CrdtShapeError(`${path}: length ${a.length} is not a multiple of ${width}`);
  for (let i = 0; i < a.length; i++) {
    const k = i % width;
    const v = a[i];
    const ok =
      k === 0 || k >= width - 2
        ? Number.isSafeInteger(v) && (v as number) >= 0
        : typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (!ok) throw new CrdtShapeError(`${path}[${i}]: ${JSON.stringify(v)} is not valid here`);
    if (k === 0 && i > 0 && (v as number) <= (a[i - width] as number)) {
      throw new CrdtShapeError(`${path}[${i}]: origins must increase`);
    }
  }
  return a as number[];
}

function sumSlot(s: readonly number[], width: number, slot: number): number {
  let n = 0;
  for (let i = slot; i < s.length; i += width) n += s[i]!;
  return n;
}

// ----- G-Counter -----

/** The G-Counter's total. */
export function gCounterValue(s: GCounter): number {
  return sumSlot(s, 4, 1);
}

/** Adds `amount` (>= 0) for message `id`; a message at or below its origin's watermark is a
 * duplicate and leaves `s` as it is (the same object). */
export function gCounterIncrement(s: GCounter, id: MessageId, amount = 1): GCounter {
  return applyAt(s, 4, id, 1, checkAmount(amount, 'G-Counter increment', true));
}

export const GCounterType: CrdtType<GCounter, number, number> = {
  name: 'g-counter',
  empty: () => EMPTY,
  apply: gCounterIncrement,
  merge: (a, b) => mergeVectors(a, b, 4),
  value: gCounterValue,
  compact: (s: GCounter, _frontier: Frontier) => s,
  check: (data, path = 'g-counter') => checkVector(data, 4, path),
};

// ----- PN-Counter -----

export function pnCounterValue(s: PNCounter): number {
  return sumSlot(s, 5, 1) - sumSlot(s, 5, 2);
}

/** Adds `delta` (any finite number; negative counts down) for message `id`; duplicates (at or
 * below the origin's watermark) leave `s` as it is. */
export function pnCounterAdd(s: PNCounter, id: MessageId, delta: number): PNCounter {
  checkAmount(delta, 'PN-Counter add', false);
  return delta >= 0 ? applyAt(s, 5, id, 1, delta) : applyAt(s, 5, id, 2, -delta);
}

export const PNCounterType: CrdtType<PNCounter, number, number> = {
  name: 'pn-counter',
  empty: () => EMPTY,
  apply: pnCounterAdd,
  merge: (a, b) => mergeVectors(a, b, 5),
  value: pnCounterValue,
  compact: (s: PNCounter, _frontier: Frontier) => s,
  check: (data, path = 'pn-counter') => checkVector(data, 5, path),
};
