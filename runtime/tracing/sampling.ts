// Which logical messages are traced. The decision depends on the message's source and offset
// only (the root of its id), so every worker samples the same logical messages and all of a
// message's descendants are traced with it.
import { fmix32 } from '../engine/partition.ts';

export type Sampling =
  | { readonly mode: 'off' }
  | { readonly mode: 'all' }
  /** One logical message in `n`, chosen by a hash of its id (deterministic). */
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

/** The per-message decision, or null when sampling is off (the engine then checks nothing). */
export function sampler(s: Sampling): ((source: number, offset: number) => boolean) | null {
  switch (s.mode) {
    case 'off':
      return null;
    case 'all':
      return () => true;
    case 'oneIn': {
      const n = s.n;
      if (!(Number.isSafeInteger(n) && n >= 1))
        throw new SamplingError(`sampling 1 in ${n}: N must be a positive integer`);
      return (source, offset) => {
        const lo = (offset % 4294967296) >>> 0;
        const hi = Math.floor(offset / 4294967296) >>> 0;
        return fmix32((fmix32((lo ^ Math.imul(source + 1, 0x9e3779b1)) >>> 0) ^ hi) >>> 0) % n === 0;
      };
    }
    case 'predicate':
      return s.accept;
  }
}
