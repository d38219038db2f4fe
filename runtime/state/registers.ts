// LWW-Register and MV-Register: a value that is set, not accumulated.
//
//   LWWRegister<T> = { v: T | null, k: [timestamp, source, offset, sub] | [] }
//   MVRegister<T>  = { v: [[source, offset, sub, value], ...] sorted by dot, c: Seen }
//
// LWW: the write with the greatest (timestamp, message id) wins; the id breaks ties, so two
// writes never compare equal unless they are the same message (then they carry the same value):
// applying or merging it again changes nothing. The timestamp comes from the message (an event
// time, a sequence number), never from a clock here. Metadata: one key, constant.
//
// MV (multi-value): a set replaces the values its author observed; concurrent sets are all kept
// (value = the list of them, in dot order) until a later set observes and replaces them. The
// op carries the observed dots (prepare it with `prepare` from the author's state), like an
// OR-Set add. Metadata: one dot per concurrent value and the context `c` (see seen.ts).
import type { MessageId } from '../types.ts';
import type { Dots } from './dots.ts';
import { compareDots, dotsJoin } from './dots.ts';
import type { Frontier, Seen } from './seen.ts';
import {
  EMPTY_SEEN,
  checkSeen,
  checkWindow,
  seenAdd,
  seenAddDots,
  seenCompact,
  seenHas,
  seenHasId,
  seenMerge,
} from './seen.ts';
import type { SeenOptions } from './or-set.ts';
import { DEFAULT_WINDOW } from './or-set.ts';
import { CrdtShapeError, checkArray, checkKeys, checkNumber, checkPlainObject } from './shape.ts';
import type { CrdtType } from './type.ts';

/** A JSON value: what a register may hold. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

// ----- LWW-Register -----

export interface LWWRegister<T extends Json = Json> {
  readonly v: T | null;
  readonly k: readonly number[];
}

export interface LWWSet<T extends Json = Json> {
  readonly v: T;
  /** The write's timestamp (finite number), e.g. the event time carried by the message. */
  readonly ts: number;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return a.length - b.length;
  return a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]! || a[3]! - b[3]!;
}

const EMPTY_LWW: LWWRegister<never> = Object.freeze({ v: null, k: Object.freeze([]) as readonly number[] });

export function lwwSet<T extends Json>(s: LWWRegister<T>, id: MessageId, op: LWWSet<T>): LWWRegister<T> {
  if (typeof op.ts !== 'number' || !Number.isFinite(op.ts)) {
    throw new RangeError(`LWW-Register set: timestamp ${String(op.ts)} must be a finite number`);
  }
  const k = [op.ts, id.source, id.offset, id.sub];
  return compareKeys(k, s.k) > 0 ? { v: op.v, k } : s;
}

export function lwwRegister<T extends Json = Json>(): CrdtType<LWWRegister<T>, T | null, LWWSet<T>> {
  return {
    name: 'lww-register',
    empty: () => EMPTY_LWW,
    apply: lwwSet,
    merge: (a, b) => (compareKeys(a.k, b.k) >= 0 ? a : b),
    value: (s) => s.v,
    compact: (s: LWWRegister<T>, _frontier: Frontier) => s,
    check: (data, path = 'lww-register') => {
      const obj = checkPlainObject(data, path);
      checkKeys(obj, ['v', 'k'], path);
      const k = checkArray(obj.k, `${path}.k`);
      if (k.length !== 0 && k.length !== 4)
        throw new CrdtShapeError(`${path}.k: expected [] or [ts, source, offset, sub]`);
      k.forEach((x, i) => {
        if (i === 0) checkNumber(x, `${path}.k[0]`);
        else if (!Number.isSafeInteger(x) || (x as number) < 0)
          throw new CrdtShapeError(`${path}.k[${i}]: not a message id part`);
      });
      if (k.length === 0 && obj.v !== null)
        throw new CrdtShapeError(`${path}: a register never written holds null`);
      return obj as unknown as LWWRegister<T>;
    },
  };
}

export const LWWRegisterType = lwwRegister();

// ----- MV-Register -----

export interface MVRegister<T extends Json = Json> {
  /** [source, offset, sub, value] per concurrent value, sorted by dot. */
  readonly v: readonly (readonly [number, number, number, T])[];
  readonly c: Seen;
}

export interface MVSet<T extends Json = Json> {
  readonly v: T;
  /** The dots of the values its author had observed (and replaces). */
  readonly obs: Dots;
}

export type MVRegisterType<T extends Json> = CrdtType<MVRegister<T>, readonly T[], MVSet<T>> & {
  readonly window: number;
  prepare(s: MVRegister<T>, v: T): MVSet<T>;
  set(s: MVRegister<T>, id: MessageId, v: T): MVRegister<T>;
};

const EMPTY_MV: MVRegister<never> = Object.freeze({
  v: Object.freeze([]) as readonly never[],
  c: EMPTY_SEEN,
});

function dotsOf<T extends Json>(s: MVRegister<T>): Dots {
  const d: number[] = [];
  for (const e of s.v) d.push(e[0], e[1], e[2]);
  return d;
}

export function mvRegister<T extends Json = Json>(options: SeenOptions = {}): MVRegisterType<T> {
  const window = checkWindow(options.window ?? DEFAULT_WINDOW, 'mvRegister');
  const prepare = (s: MVRegister<T>, v: T): MVSet<T> => ({ v, obs: dotsOf(s) });
  const apply = (s: MVRegister<T>, id: MessageId, op: MVSet<T>): MVRegister<T> => {
    // As for an OR-Set add: the observed values go in any case, the op's own value only if its
    // id is new here (not applied, not observed by an op applied before it).
    const fresh = !seenHasId(s.c, id);
    const kept: (readonly [number, number, number, T])[] = [];
    for (const e of s.v) if (!hasDot(op.obs, e[0], e[1], e[2])) kept.push(e);
    let c = fresh ? seenAdd(s.c, id.source, id.offset, id.sub, window) : s.c;
    c = seenAddDots(c, op.obs, window);
    if (!fresh && kept.length === s.v.length && c === s.c) return s;
    const v = fresh ? [...kept, [id.source, id.offset, id.sub, op.v] as const] : kept;
    v.sort((x, y) => compareDots(x as unknown as Dots, 0, y as unknown as Dots, 0));
    return { v, c };
  };
  const merge = (a: MVRegister<T>, b: MVRegister<T>): MVRegister<T> => {
    if (a === b) return a;
    const keep = dotsJoin(dotsOf(a), a.c, dotsOf(b), b.c);
    const byDot = new Map<string, readonly [number, number, number, T]>();
    for (const e of [...a.v, ...b.v]) byDot.set(`${e[0]}:${e[1]}:${e[2]}`, e);
    const v: (readonly [number, number, number, T])[] = [];
    for (let i = 0; i < keep.length; i += 3) v.push(byDot.get(`${keep[i]}:${keep[i + 1]}:${keep[i + 2]}`)!);
    return { v, c: seenMerge(a.c, b.c) };
  };
  return {
    name: window === DEFAULT_WINDOW ? 'mv-register' : `mv-register(window=${window})`,
    window,
    empty: () => EMPTY_MV,
    prepare,
    apply,
    set: (s, id, v) => apply(s, id, prepare(s, v)),
    merge,
    value: (s) => s.v.map((e) => e[3]),
    compact: (s: MVRegister<T>, frontier: Frontier) => {
      const c = seenCompact(s.c, frontier);
      return c === s.c ? s : { v: s.v, c };
    },
    check: (data, path = 'mv-register') => {
      const obj = checkPlainObject(data, path);
      checkKeys(obj, ['v', 'c'], path);
      const c = checkSeen(obj.c, `${path}.c`);
      const v = checkArray(obj.v, `${path}.v`);
      v.forEach((e, i) => {
        const a = checkArray(e, `${path}.v[${i}]`);
        if (a.length !== 4 || ![0, 1, 2].every((j) => Number.isSafeInteger(a[j]) && (a[j] as number) >= 0)) {
          throw new CrdtShapeError(`${path}.v[${i}]: expected [source, offset, sub, value]`);
        }
        if (!seenHas(c, a[0] as number, a[1] as number, a[2] as number)) {
          throw new CrdtShapeError(`${path}.v[${i}]: its dot is not in the state's context`);
        }
        if (i > 0 && compareDots(v[i - 1] as number[], 0, a as number[], 0) >= 0) {
          throw new CrdtShapeError(`${path}.v[${i}]: values must be sorted by dot, distinct`);
        }
      });
      return obj as unknown as MVRegister<T>;
    },
  };
}

function hasDot(d: Dots, s: number, o: number, u: number): boolean {
  for (let i = 0; i < d.length; i += 3) if (d[i] === s && d[i + 1] === o && d[i + 2] === u) return true;
  return false;
}

export const MVRegisterType = mvRegister();
