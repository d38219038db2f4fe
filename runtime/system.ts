// System implementations of the determinism seams: the real clock and timers, a seeded random
// generator, an in-memory store. Tests and the simulator pass their own.
import type { Clock, Logger, Random, Store, StoreOp, TimerHandle } from './types.ts';
import { createLogger } from './log.ts';

export function createSystemClock(): Clock {
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  let nextId = 1;
  const origin = performance.timeOrigin;
  return {
    nowMs: () => origin + performance.now(),
    nowNs: () => process.hrtime.bigint(),
    monotonicMs: () => performance.now(),
    setTimer(delayMs: number, fn: () => void): TimerHandle {
      const id = nextId++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, delayMs);
      timers.set(id, t);
      return id;
    },
    clearTimer(handle: TimerHandle): void {
      const t = timers.get(handle);
      if (t !== undefined) {
        clearTimeout(t);
        timers.delete(handle);
      }
    },
  };
}

/** A clock that only moves when told (`advance`), for deterministic tests and simulation.
 * Timers fire in order of due time (then of creation) during `advance`. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void;
  /** Number of timers still pending. */
  pendingTimers(): number;
}

export function createManualClock(startMs = 0): ManualClock {
  let now = startMs;
  let mono = 0;
  let nextId = 1;
  const timers = new Map<number, { due: number; fn: () => void }>();
  const clock: ManualClock = {
    nowMs: () => now,
    nowNs: () => BigInt(Math.round(mono * 1e6)),
    monotonicMs: () => mono,
    setTimer(delayMs: number, fn: () => void): TimerHandle {
      if (!(delayMs >= 0)) throw new RangeError(`setTimer: delayMs ${delayMs} must be >= 0`);
      const id = nextId++;
      timers.set(id, { due: mono + delayMs, fn });
      return id;
    },
    clearTimer(handle: TimerHandle): void {
      timers.delete(handle);
    },
    advance(ms: number): void {
      if (!(ms >= 0)) throw new RangeError(`advance: ms ${ms} must be >= 0`);
      const end = mono + ms;
      for (;;) {
        let bestId = -1;
        let bestDue = Infinity;
        for (const [id, t] of timers) {
          if (t.due <= end && (t.due < bestDue || (t.due === bestDue && id < bestId))) {
            bestId = id;
            bestDue = t.due;
          }
        }
        if (bestId < 0) break;
        const t = timers.get(bestId)!;
        timers.delete(bestId);
        now += t.due - mono;
        mono = t.due;
        t.fn();
      }
      now += end - mono;
      mono = end;
    },
    pendingTimers: () => timers.size,
  };
  return clock;
}

/** sfc32, seeded: the same seed gives the same sequence on every platform. */
export function createSeededRandom(seed: number): Random {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88;
  let c = 0xb7e15162 ^ Math.imul(seed, 0x85ebca6b);
  let d = 1;
  const nextU32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextU32();
  return {
    nextU32,
    next: () => nextU32() / 4294967296,
    nextInt(bound: number): number {
      if (!Number.isInteger(bound) || bound < 1)
        throw new RangeError(`nextInt: bound ${bound} must be a positive integer`);
      return Math.floor((nextU32() / 4294967296) * bound);
    },
  };
}

/** A Store in memory: atomic batches trivially (single-threaded), nothing survives the process. */
export class MemoryStore implements Store {
  private readonly data = new Map<string, Uint8Array>();
  private closed = false;

  async get(key: string): Promise<Uint8Array | undefined> {
    this.assertOpen();
    return this.data.get(key);
  }

  async writeBatch(ops: readonly StoreOp[]): Promise<void> {
    this.assertOpen();
    for (const op of ops) {
      if (typeof op.key !== 'string')
        throw new TypeError('MemoryStore.writeBatch: every op needs a string key');
    }
    for (const op of ops) {
      if (op.value === null) this.data.delete(op.key);
      else this.data.set(op.key, op.value.slice());
    }
  }

  async *scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]> {
    this.assertOpen();
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const k of keys) {
      const v = this.data.get(k);
      if (v !== undefined) yield [k, v] as const;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryStore: used after close()');
  }
}

/** Logs to stderr through runtime/log.ts (pino): text lines `[prefix] warning: ...` on a
 * terminal, JSON lines otherwise; level and format from BUFFY_LOG_LEVEL / BUFFY_LOG_FORMAT. */
export function createStderrLogger(prefix: string): Logger {
  return createLogger({ worker: prefix });
}
