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

/** `off`, `all` or `1/N` (also `1in N`-free spellings are refused with the accepted forms). */
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
  throw new SamplingError(`sampling "${text}": expected off, all or 1/N (one message in N, e.g. 1/1000)`);
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
