// Dots: message ids that tag the live parts of a state (the adds of an OR-Set element, the
// values of an MV-Register, the presence of an OR-Map key). A list of dots is one flat array
// `[source, offset, sub, source, offset, sub, ...]`, sorted, without repeats: plain data that
// freezes and serialises as it is.
import type { Seen } from './seen.ts';
import { seenHas } from './seen.ts';
import { CrdtShapeError, checkArray } from './shape.ts';

export type Dots = readonly number[];

export const NO_DOTS: Dots = Object.freeze([]) as Dots;

export function compareDots(a: Dots, i: number, b: Dots, j: number): number {
  return a[i]! - b[j]! || a[i + 1]! - b[j + 1]! || a[i + 2]! - b[j + 2]!;
}

export function dotsHas(d: Dots, source: number, offset: number, sub: number): boolean {
  for (let i = 0; i < d.length; i += 3) {
    if (d[i] === source && d[i + 1] === offset && d[i + 2] === sub) return true;
  }
  return false;
}

/** `d` without the dots of `remove` (`d` itself when none of them is in it). */
export function dotsWithout(d: Dots, remove: Dots): Dots {
  if (d.length === 0 || remove.length === 0) return d;
  let out: number[] | null = null;
  for (let i = 0; i < d.length; i += 3) {
    const gone = dotsHas(remove, d[i]!, d[i + 1]!, d[i + 2]!);
    if (gone && out === null) {
      out = [];
      for (let k = 0; k < i; k++) out.push(d[k]!);
    } else if (!gone && out !== null) out.push(d[i]!, d[i + 1]!, d[i + 2]!);
  }
  return out ?? d;
}

/** `d` with one dot added in order. */
export function dotsAdd(d: Dots, source: number, offset: number, sub: number): Dots {
  const one = [source, offset, sub];
  const out: number[] = [];
  let placed = false;
  for (let i = 0; i < d.length; i += 3) {
    const c = compareDots(one, 0, d, i);
    if (c === 0) return d;
    if (!placed && c < 0) {
      out.push(source, offset, sub);
      placed = true;
    }
    out.push(d[i]!, d[i + 1]!, d[i + 2]!);
  }
  if (!placed) out.push(source, offset, sub);
  return out;
}

/** The causal join of two dot lists: a dot survives if both sides have it, or one side has it
 * and the other has not seen it (so has not removed it). */
export function dotsJoin(da: Dots, ca: Seen, db: Dots, cb: Seen): Dots {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < da.length || j < db.length) {
    const c = i >= da.length ? 1 : j >= db.length ? -1 : compareDots(da, i, db, j);
    if (c === 0) {
      out.push(da[i]!, da[i + 1]!, da[i + 2]!);
      i += 3;
      j += 3;
    } else if (c < 0) {
      if (!seenHas(cb, da[i]!, da[i + 1]!, da[i + 2]!)) out.push(da[i]!, da[i + 1]!, da[i + 2]!);
      i += 3;
    } else {
      if (!seenHas(ca, db[j]!, db[j + 1]!, db[j + 2]!)) out.push(db[j]!, db[j + 1]!, db[j + 2]!);
      j += 3;
    }
  }
  return out.length === da.length && sameDots(out, da) ? da : out;
}

export function sameDots(a: Dots, b: Dots): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function checkDots(data: unknown, path: string): Dots {
  const a = checkArray(data, path);
  if (a.length % 3 !== 0) throw new CrdtShapeError(`${path}: a dot list holds triples [source, offset, sub]`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isSafeInteger(a[i]) || (a[i] as number) < 0) {
      throw new CrdtShapeError(`${path}[${i}]: ${JSON.stringify(a[i])} is not a message id part`);
    }
  }
  for (let i = 3; i < a.length; i += 3) {
    if (compareDots(a as number[], i - 3, a as number[], i) >= 0) {
      throw new CrdtShapeError(`${path}[${i}]: dots must be sorted and distinct`);
    }
  }
  return a as number[];
}

/** Every live dot is in the state's own context (the invariant merge relies on). */
export function checkCovered(d: Dots, c: Seen, path: string): void {
  for (let i = 0; i < d.length; i += 3) {
    if (!seenHas(c, d[i]!, d[i + 1]!, d[i + 2]!)) {
      throw new CrdtShapeError(`${path}: dot ${d[i]}:${d[i + 1]}/${d[i + 2]} is not in the state's context`);
    }
  }
}
