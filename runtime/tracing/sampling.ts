// Which logical messages are traced. The decision depends on the message's source and offset
// only (the root of its id), so every worker samples the same logical messages and all of a
// message's descendants are traced with it.
import { fmix32 } from '../engine/partition.ts';

export type Sampling =
  | { readonly mode: 'off' }
  | { readonly mode: 'all' }
  /** One logical message in `n`: exactly one in each block of `n` consecutive offsets of a
   * source, at a place in the block chosen by a hash of (source, block) (deterministic). */
  | { readonly mode: 'oneIn'; readonly n: number }
  /** The messages whose root id (source, offset) the predicate accepts. */
  | { readonly mode: 'predicate'; readonly accept: (source: number, offset: number) => boolean };

export class SamplingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamplingError';
  }
}

/** The offsets a predicate sampling accepts: inclusive ranges, `hi` absent for open-ended. */
export interface OffsetRange {
  readonly lo: number;
  readonly hi?: number;
}

const ACCEPTED =
  'expected off, all, 1/N (one message in N, e.g. 1/1000) or offsets:RANGES (e.g. offsets:0-99,500,1000-)';

function parseOffsets(text: string, list: string): OffsetRange[] {
  const ranges: OffsetRange[] = [];
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:(-)\s*(\d+)?)?\s*$/.exec(part);
    if (!m) {
      throw new SamplingError(
        `sampling "${text}": "${part}" is not an offset or a range (N, LO-HI or LO- for every offset from LO)`,
      );
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : m[3] === undefined ? undefined : Number(m[3]);
    if (!Number.isSafeInteger(lo) || (hi !== undefined && !Number.isSafeInteger(hi)))
      throw new SamplingError(`sampling "${text}": offset "${part}" is too large`);
    if (hi !== undefined && hi < lo)
      throw new SamplingError(`sampling "${text}": range "${part.trim()}" is empty (${hi} < ${lo})`);
    ranges.push(hi === undefined ? { lo } : { lo, hi });
  }
  return ranges;
}

/** A predicate over root offsets (every source): the messages whose source offset lies in one
 * of the ranges, and all their descendants. */
export function offsetsPredicate(
  ranges: readonly OffsetRange[],
): (source: number, offset: number) => boolean {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  const lo = sorted.map((r) => r.lo);
  const hi = sorted.map((r) => r.hi ?? Infinity);
  return (_source, offset) => {
    // The last range starting at or before `offset` (binary search), then any earlier one that
    // still reaches it (ranges may overlap).
    let a = 0;
    let b = lo.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (lo[mid]! <= offset) a = mid + 1;
      else b = mid;
    }
    for (let i = a - 1; i >= 0; i--) if (hi[i]! >= offset) return true;
    return false;
  };
}

/** `off`, `all`, `1/N` or `offsets:RANGES`; anything else is refused with the accepted forms. */
export function parseSampling(text: string): Sampling {
  const t = text.trim();
  if (t === 'off') return { mode: 'off' };
  if (t === 'all') return { mode: 'all' };
  const m = /^1\/(\d+)$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new SamplingError(`sampling "${text}": N must be a positive integer`);
    return n === 1 ? { mode: 'all' } : { mode: 'oneIn', n };
  }
  if (t.startsWith('offsets:')) {
    const list = t.slice('offsets:'.length);
    if (list.trim() === '') throw new SamplingError(`sampling "${text}": no offsets after "offsets:"`);
    return { mode: 'predicate', accept: offsetsPredicate(parseOffsets(text, list)) };
  }
  throw new SamplingError(`sampling "${text}": ${ACCEPTED}`);
}

/** The decision per message and per run of consecutive offsets (a source batch). */
export interface Sampler {
  /** Is the message with this root (source, offset) traced? */
  readonly one: (source: number, offset: number) => boolean;
  /** The traced messages among offsets `first` .. `first + count - 1` of `source`, as indexes
   * from `first` (ascending), or null when none is. For 1 in N this costs one hash per block
   * of N offsets, not one per message. */
  readonly run: (source: number, first: number, count: number) => number[] | null;
}

/** The offset in block `block` (offsets block * n .. block * n + n - 1) of `source` that 1 in
 * `n` traces: a 53-bit hash of (source, block), modulo n. */
function pickInBlock(source: number, block: number, n: number): number {
  const lo = (block % 4294967296) >>> 0;
  const hi = Math.floor(block / 4294967296) >>> 0;
  const h1 = fmix32((fmix32((lo ^ Math.imul(source + 1, 0x9e3779b1)) >>> 0) ^ hi) >>> 0);
  if (n <= 4294967296) return h1 % n;
  const h2 = fmix32((h1 ^ 0x85ebca6b) >>> 0);
  return ((h2 & 0x1fffff) * 4294967296 + h1) % n;
}

function runOf(one: (source: number, offset: number) => boolean) {
  return (source: number, first: number, count: number): number[] | null => {
    let out: number[] | null = null;
    for (let i = 0; i < count; i++) if (one(source, first + i)) (out ??= []).push(i);
    return out;
  };
}

/** The decisions of a sampling, or null when sampling is off (the engine then checks nothing). */
export function samplerOf(s: Sampling): Sampler | null {
  switch (s.mode) {
    case 'off':
      return null;
    case 'all':
      return {
        one: () => true,
        run: (_source, _first, count) => Array.from({ length: count }, (_, i) => i),
      };
    case 'oneIn': {
      const n = s.n;
      if (!(Number.isSafeInteger(n) && n >= 1))
        throw new SamplingError(`sampling 1 in ${n}: N must be a positive integer`);
      return {
        one: (source, offset) => {
          const block = Math.floor(offset / n);
          return offset - block * n === pickInBlock(source, block, n);
        },
        run: (source, first, count) => {
          let out: number[] | null = null;
          const end = first + count;
          for (let block = Math.floor(first / n); block * n < end; block++) {
            const o = block * n + pickInBlock(source, block, n);
            if (o >= first && o < end) (out ??= []).push(o - first);
          }
          return out;
        },
      };
    }
    case 'predicate':
      return { one: s.accept, run: runOf(s.accept) };
  }
}

/** The per-message decision, or null when sampling is off (the engine then checks nothing). */
export function sampler(s: Sampling): ((source: number, offset: number) => boolean) | null {
  return samplerOf(s)?.one ?? null;
}
