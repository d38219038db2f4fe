// Message ids: (source, offset, sub), three numbers carried in columnar batches.
// `sub` is the path from the source message to a descendant. Each output of a step that emits
// several outputs per input appends one digit (output index + 1) in base 2^20, exactly, while
// the path fits in 53 bits (two to three levels); deeper paths fold the digit in with a
// deterministic 53-bit mix, so ids stay deterministic under replay (collisions between
// descendants of one source message become possible but improbable, about 2^-53 per pair).

import { fmix32 } from './partition.ts';

export const SUB_RADIX = 1 << 20;
const EXACT_LIMIT = 2 ** 33 - 1;

/** The sub of output `index` (0-based) of a message whose sub is `sub`. */
export function childSub(sub: number, index: number): number {
  if (sub < EXACT_LIMIT && index < SUB_RADIX - 1) return sub * SUB_RADIX + index + 1;
  const lo = sub % 4294967296;
  const hi = (sub - lo) / 4294967296;
  const a = fmix32((lo ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const b = fmix32((hi ^ a ^ 0x5bd1e995) >>> 0);
  return (b & 0x1fffff) * 4294967296 + a;
}

/** The path digits of an exactly encoded sub (output indexes, 0-based), or null if hashed. */
export function subPath(sub: number): number[] | null {
  const digits: number[] = [];
  let s = sub;
  while (s > 0) {
    const d = s % SUB_RADIX;
    if (d === 0) return null;
    digits.push(d - 1);
    s = (s - d) / SUB_RADIX;
  }
  return digits.reverse();
}

/** Readable id: `source:offset` then `/i/j` for the output path (or `#hex` when hashed). */
export function formatMessageId(source: number, offset: number, sub: number): string {
  if (sub === 0) return `${source}:${offset}`;
  const path = subPath(sub);
  return path ? `${source}:${offset}/${path.join('/')}` : `${source}:${offset}#${sub.toString(16)}`;
}
