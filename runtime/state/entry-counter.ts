// The seed's counter: a counter of (message id, amount) entries. Each message adds one entry
// keyed by its id, so applying a message twice, or merging two replicas that both applied it,
// counts it once, whatever the order of delivery (no FIFO assumption, unlike GCounter). Amounts
// are any finite numbers (it counts up and down).
//
//   EntryCounter = { [origin]: [base, wOffset, wSub, offset, sub, amount, offset, sub, amount, ...] }
//
// Per origin (message source): `base` is the sum of the amounts of every message <= the
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
import { checkWindow, compareIds } from './seen.ts';
import { CrdtShapeError, checkArray, checkPlainObject } from './shape.ts';
import type { CrdtType } from './type.ts';
import { checkAmount } from './type.ts';

export interface EntryCounter {
  readonly [origin: string]: readonly number[];
}

export interface EntryCounterOptions {
  /** Entries kept per origin above its watermark before the oldest are folded (default 16;
   * `Infinity`: only `compact` folds). */
  readonly window?: number;
}

const EMPTY: EntryCounter = Object.freeze({});

function holds(arr: readonly number[], offset: number, sub: number): boolean {
  if (offset < arr[1]! || (offset === arr[1]! && sub <= arr[2]!)) return true;
  for (let i = 3; i < arr.length; i += 3) {
    const c = compareIds(arr[i]!, arr[i + 1]!, offset, sub);
    if (c === 0) return true;
    if (c > 0) return false;
  }
  return false;
}

/** Folds the entries of one origin's array while there are more than `window` of them or while
 * they are <= (fo, fs). */
function fold(out: number[], window: number, fo: number, fs: number): void {
  let k = 3;
  while (k < out.length && ((out.length - k) / 3 > window || compareIds(out[k]!, out[k + 1]!, fo, fs) <= 0)) {
    out[0] = out[0]! + out[k + 2]!;
    out[1] = out[k]!;
    out[2] = out[k + 1]!;
    k += 3;
  }
  if (compareIds(fo, fs, out[1]!, out[2]!) > 0) {
    out[1] = fo;
    out[2] = fs;
  }
  if (k > 3) out.splice(3, k - 3);
}

export function entryCounterValue(s: EntryCounter): number {
  let n = 0;
  for (const k in s) {
    const a = s[k]!;
    n += a[0]!;
    for (let i = 5; i < a.length; i += 3) n += a[i]!;
  }
  return n;
}

/** Entries kept above the watermarks (the metadata the window and compaction bound). */
export function entryCounterEntries(s: EntryCounter): number {
  let n = 0;
  for (const k in s) n += (s[k]!.length - 3) / 3;
  return n;
}

export type EntryCounterType = CrdtType<EntryCounter, number, number> & { readonly window: number };

export function entryCounter(options: EntryCounterOptions = {}): EntryCounterType {
  const window = checkWindow(options.window ?? 16, 'entryCounter');

  const apply = (s: EntryCounter, id: MessageId, amount: number): EntryCounter => {
    checkAmount(amount, 'EntryCounter add', false);
    const arr = s[id.source];
    if (arr !== undefined && holds(arr, id.offset, id.sub)) return s;
    const out: number[] = arr === undefined ? [0, -1, 0] : arr.slice(0, 3);
    let placed = false;
    if (arr !== undefined) {
      for (let i = 3; i < arr.length; i += 3) {
        if (!placed && compareIds(id.offset, id.sub, arr[i]!, arr[i + 1]!) < 0) {
          out.push(id.offset, id.sub, amount);
          placed = true;
        }
        out.push(arr[i]!, arr[i + 1]!, arr[i + 2]!);
      }
    }
    if (!placed) out.push(id.offset, id.sub, amount);
    fold(out, window, -1, 0);
    return { ...s, [id.source]: out };
  };

  const merge = (a: EntryCounter, b: EntryCounter): EntryCounter => {
    if (a === b) return a;
    const out: Record<string, readonly number[]> = {};
    for (const k in a) out[k] = b[k] === undefined ? a[k]! : mergeOrigin(a[k]!, b[k]!);
    for (const k in b) if (!(k in out)) out[k] = b[k]!;
    return out;
  };

  const compact = (s: EntryCounter, frontier: Frontier): EntryCounter => {
    let out: Record<string, readonly number[]> | null = null;
    for (const k in frontier) {
      const arr = s[k];
      const f = frontier[k]!;
      if (arr === undefined || compareIds(f[0], f[1], arr[1]!, arr[2]!) <= 0) continue;
      const next = arr.slice();
      fold(next, Infinity, f[0], f[1]);
      (out ??= { ...s })[k] = next;
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
  const c = compareIds(a[1]!, a[2]!, b[1]!, b[2]!);
  const hi = c > 0 || (c === 0 && a[0]! >= b[0]!) ? a : b;
  const out: number[] = [hi[0]!, hi[1]!, hi[2]!];
  const wo = hi[1]!;
  const ws = hi[2]!;
  let i = 3;
  let j = 3;
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
  const obj = checkPlainObject(data, path);
  for (const k in obj) {
    if (!/^(0|[1-9][0-9]*)$/.test(k)) throw new CrdtShapeError(`${path}: origin "${k}" is not a source id`);
    const a = checkArray(obj[k], `${path}.${k}`) as number[];
    if (a.length < 3 || a.length % 3 !== 0) {
      throw new CrdtShapeError(`${path}.${k}: expected [base, wOffset, wSub, offset, sub, amount, ...]`);
    }
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      const isAmount = i === 0 || i % 3 === 2;
      const ok = isAmount
        ? typeof v === 'number' && Number.isFinite(v)
        : Number.isSafeInteger(v) && (v as number) >= (i === 1 ? -1 : 0);
      if (!ok) throw new CrdtShapeError(`${path}.${k}[${i}]: ${JSON.stringify(v)} is not valid here`);
      const prev = i === 3 ? 1 : i - 3;
      if (i >= 3 && i % 3 === 0 && compareIds(a[i]!, a[i + 1]!, a[prev]!, a[prev + 1]!) <= 0) {
        throw new CrdtShapeError(`${path}.${k}[${i}]: entries must be above the watermark and increase`);
      }
    }
  }
  return obj as EntryCounter;
}

/** The default EntryCounter type (window 16). */
export const EntryCounterType: EntryCounterType = entryCounter();
