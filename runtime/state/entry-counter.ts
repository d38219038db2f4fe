// The seed's counter: a counter of (message id, amount) entries. Each message adds one entry
// keyed by its id, so applying a message twice, or merging two replicas that both applied it,
// counts it once, whatever the order of delivery (no FIFO assumption, unlike GCounter). Amounts
// are any finite numbers (it counts up and down).
//
//   EntryCounter = [[origin, base, wOffset, wSub, offset, sub, amount, offset, sub, amount, ...], ...]
//
// One array per origin (message source), sorted by origin: `base` is the sum of the amounts of every message <= the
// watermark (wOffset, wSub); the entries above it are kept one by one, sorted by id. Value =
// sum of bases + sum of entries.
//
// Compaction folds entries into the base and raises the watermark:
// - automatically, when an origin holds more than `window` entries (the type's option, the
//   same on every replica): the smallest entries are folded. Safe while an operation reaches the
//   counter before `window + 1` later messages of its origin have (reordering depth <= window).
// - `compact(s, frontier)`: folds every entry <= frontier[origin]; safe once every message of the
//   origin <= the frontier that will ever reach the counter has.
// A never-applied message below the watermark is taken for a duplicate, so compaction past what
// has been delivered loses it: that is the condition above.
//
// Merge, per origin: the higher watermark wins with its base (the side that compacted further
// had every message below it, by the condition), entries above it are united by id.
import type { MessageId } from '../types.ts';
import type { Frontier } from './seen.ts';
import { checkWindow, compareIds, mergeByOrigin } from './seen.ts';
import { CrdtShapeError, checkArray } from './shape.ts';
import type { CrdtType } from './type.ts';
import { checkAmount } from './type.ts';

export type EntryCounter = readonly (readonly number[])[];

export interface EntryCounterOptions {
  /** Entries kept per origin above its watermark before the oldest are folded (default 16;
   * `Infinity`: only `compact` folds). */
  readonly window?: number;
}

const EMPTY: EntryCounter = Object.freeze([]) as EntryCounter;

/** Binary search of (offset, sub) among the entries: -1 if present or at or below the
 * watermark, else the index where its entry would go. */
function place(arr: readonly number[], offset: number, sub: number): number {
  if (offset < arr[2]! || (offset === arr[2]! && sub <= arr[3]!)) return -1;
  let lo = 0;
  let hi = (arr.length - 4) / 3;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareIds(arr[4 + 3 * mid]!, arr[5 + 3 * mid]!, offset, sub);
    if (c === 0) return -1;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 4 + 3 * lo;
}

/** Folds the entries of one origin's array while there are more than `window` of them or while
 * they are <= (fo, fs); then raises the watermark to (fo, fs) if that is higher. */
function fold(out: number[], window: number, fo: number, fs: number): void {
  let k = 4;
  while (k < out.length && ((out.length - k) / 3 > window || compareIds(out[k]!, out[k + 1]!, fo, fs) <= 0)) {
    out[1] = out[1]! + out[k + 2]!;
    out[2] = out[k]!;
    out[3] = out[k + 1]!;
    k += 3;
  }
  if (compareIds(fo, fs, out[2]!, out[3]!) > 0) {
    out[2] = fo;
    out[3] = fs;
  }
  if (k > 4) out.splice(4, k - 4);
}

export function entryCounterValue(s: EntryCounter): number {
  let n = 0;
  for (const a of s) {
    n += a[1]!;
    for (let i = 6; i < a.length; i += 3) n += a[i]!;
  }
  return n;
}

/** Entries kept above the watermarks (the metadata the window and compaction bound). */
export function entryCounterEntries(s: EntryCounter): number {
  let n = 0;
  for (const a of s) n += (a.length - 4) / 3;
  return n;
}

export type EntryCounterType = CrdtType<EntryCounter, number, number> & { readonly window: number };

/** `s` with `arr` (an origin's array) at position `i` (replacing it when `replace`). */
function put(s: EntryCounter, i: number, arr: readonly number[], replace: boolean): EntryCounter {
  const out: (readonly number[])[] = [];
  for (let k = 0; k < i; k++) out.push(s[k]!);
  out.push(arr);
  for (let k = replace ? i + 1 : i; k < s.length; k++) out.push(s[k]!);
  return out;
}

export function entryCounter(options: EntryCounterOptions = {}): EntryCounterType {
  const window = checkWindow(options.window ?? 16, 'entryCounter');

  const apply = (s: EntryCounter, id: MessageId, amount: number): EntryCounter => {
    checkAmount(amount, 'EntryCounter add', false);
    let i = 0;
    while (i < s.length && s[i]![0]! < id.source) i++;
    const arr = i < s.length && s[i]![0] === id.source ? s[i]! : undefined;
    let out: number[];
    if (arr === undefined) out = [id.source, 0, -1, 0, id.offset, id.sub, amount];
    else {
      const at = place(arr, id.offset, id.sub);
      if (at < 0) return s;
      out = [...arr]; // spread: a frozen array's slice and element reads are slow
      out.splice(at, 0, id.offset, id.sub, amount);
    }
    fold(out, window, -1, 0);
    return put(s, i, out, arr !== undefined);
  };

  const merge = (a: EntryCounter, b: EntryCounter): EntryCounter => {
    if (a === b || b.length === 0) return a;
    if (a.length === 0) return b;
    return mergeByOrigin(a, b, mergeOrigin);
  };

  const compact = (s: EntryCounter, frontier: Frontier): EntryCounter => {
    let out: (readonly number[])[] | null = null;
    for (let k = 0; k < s.length; k++) {
      const arr = s[k]!;
      const f = frontier[arr[0]!];
      if (f === undefined || compareIds(f[0], f[1], arr[2]!, arr[3]!) <= 0) continue;
      const next = [...arr];
      fold(next, Infinity, f[0], f[1]);
      (out ??= [...s])[k] = next;
    }
    return out ?? s;
  };

  return {
    name: window === 16 ? 'entry-counter' : `entry-counter(window=${window})`,
    window,
    empty: () => EMPTY,
    apply,
    merge,
    value: entryCounterValue,
    compact,
    check: (data, path = 'entry-counter') => checkEntryCounter(data, path),
  };
}

function mergeOrigin(a: readonly number[], b: readonly number[]): readonly number[] {
  const c = compareIds(a[2]!, a[3]!, b[2]!, b[3]!);
  const hi = c > 0 || (c === 0 && a[1]! >= b[1]!) ? a : b;
  const out: number[] = [hi[0]!, hi[1]!, hi[2]!, hi[3]!];
  const wo = hi[2]!;
  const ws = hi[3]!;
  let i = 4;
  let j = 4;
  while (i < a.length || j < b.length) {
    const d = i >= a.length ? 1 : j >= b.length ? -1 : compareIds(a[i]!, a[i + 1]!, b[j]!, b[j + 1]!);
    const src = d <= 0 ? a : b;
    const at = d <= 0 ? i : j;
    if (compareIds(src[at]!, src[at + 1]!, wo, ws) > 0) out.push(src[at]!, src[at + 1]!, src[at + 2]!);
    if (d <= 0) i += 3;
    if (d >= 0) j += 3;
  }
  return out;
}

function checkEntryCounter(data: unknown, path: string): EntryCounter {
  const all = checkArray(data, path);
  all.forEach((x, n) => {
    const p = `${path}[${n}]`;
    const a = checkArray(x, p) as number[];
    if (a.length < 4 || (a.length - 4) % 3 !== 0) {
      throw new CrdtShapeError(`${p}: expected [origin, base, wOffset, wSub, offset, sub, amount, ...]`);
    }
    if (n > 0 && !(a[0]! > (all[n - 1] as number[])[0]!))
      throw new CrdtShapeError(`${p}: origins must increase`);
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      const isAmount = i === 1 || (i >= 4 && (i - 4) % 3 === 2);
      const ok = isAmount
        ? typeof v === 'number' && Number.isFinite(v)
        : Number.isSafeInteger(v) && (v as number) >= (i === 2 ? -1 : 0);
      if (!ok) throw new CrdtShapeError(`${p}[${i}]: ${JSON.stringify(v)} is not valid here`);
      const prev = i === 4 ? 2 : i - 3;
      if (i >= 4 && (i - 4) % 3 === 0 && compareIds(a[i]!, a[i + 1]!, a[prev]!, a[prev + 1]!) <= 0) {
        throw new CrdtShapeError(`${p}[${i}]: entries must be above the watermark and increase`);
      }
    }
  });
  return all as EntryCounter;
}

/** The default EntryCounter type (window 16). */
export const EntryCounterType: EntryCounterType = entryCounter();
