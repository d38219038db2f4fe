// The simulator's clock and event queue (issue 8): one queue of timers in simulated time, run
// in order of due time (then of creation). The simulator's loop runs the next timer once
// nothing else is runnable (every microtask settled), so simulated time moves as fast as the
// CPU allows. Every worker sees it through its own WorkerClock: its timers die with its
// process (a crash cancels them), and with clock skew its wall clock is offset and its timers
// run at a slightly different rate.
import type { Clock, TimerHandle } from '../types.ts';
import type { ManualClock } from '../system.ts';

interface Timer {
  due: number;
  id: number;
  fn: (() => void) | null;
  owner: Owner | null;
}

/** A process's timers: dead once `alive` is false. */
export interface Owner {
  alive: boolean;
}

/** A binary min-heap of timers by (due, id). The timer records are reused (a free list): the
 * hot path (a timer scheduled, run) allocates nothing but the caller's closure. */
class TimerHeap {
  private readonly a: Timer[] = [];
  private readonly free: Timer[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Timer | undefined {
    return this.a[0];
  }
  push(due: number, id: number, fn: () => void, owner: Owner | null): void {
    const t = this.free.pop() ?? { due: 0, id: 0, fn: null, owner: null };
    t.due = due;
    t.id = id;
    t.fn = fn;
    t.owner = owner;
    const a = this.a;
    // Sift up: move parents down into the hole, then put the timer in.
    let i = a.length;
    a.push(t);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const up = a[p]!;
      if (!less(t, up)) break;
      a[i] = up;
      i = p;
    }
    a[i] = t;
  }
  /** Removes the top timer (the caller read it with peek); its record goes back to the free list. */
  pop(): void {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    const n = a.length;
    if (n > 0) {
      // Sift down from the root with `last` as the hole's candidate.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && less(a[r]!, a[l]!) ? r : l;
        if (!less(a[m]!, last)) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    top.fn = null;
    top.owner = null;
    this.free.push(top);
  }
}

function less(x: Timer, y: Timer): boolean {
  return x.due < y.due || (x.due === y.due && x.id < y.id);
}

/** Simulated time: the event queue every worker, link and disk of a simulation shares. */
export class SimScheduler implements ManualClock {
  private mono = 0;
  private nextId = 1;
  private readonly heap = new TimerHeap();
  private readonly cancelled = new Set<number>();
  /** Timers run so far. */
  fired = 0;

  constructor(private readonly epochMs = 1_700_000_000_000) {}

  nowMs(): number {
    return this.epochMs + this.mono;
  }
  nowNs(): bigint {
    return BigInt(Math.round(this.mono * 1e6));
  }
  monotonicMs(): number {
    return this.mono;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.schedule(delayMs, fn, null);
  }

  /** A timer of a process (`owner`): it does not run once the owner is dead. */
  schedule(delayMs: number, fn: () => void, owner: Owner | null): TimerHandle {
    if (!(delayMs >= 0)) throw new RangeError(`setTimer: delayMs ${delayMs} must be >= 0`);
    const id = this.nextId++;
    this.heap.push(this.mono + delayMs, id, fn, owner);
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.cancelled.add(handle);
  }

  /** Due time of the next live timer, or null. */
  nextDue(): number | null {
    const t = this.live();
    return t ? t.due : null;
  }

  /** The next live timer (cancelled and dead ones at the top are dropped), left in the heap. */
  private live(): Timer | undefined {
    const heap = this.heap;
    const cancelled = this.cancelled;
    for (;;) {
      const t = heap.peek();
      if (!t) return undefined;
      if ((cancelled.size > 0 && cancelled.delete(t.id)) || (t.owner && !t.owner.alive)) {
        heap.pop();
        continue;
      }
      return t;
    }
  }

  /** Runs the next live timer (time moves to its due time); false when there is none. */
  runNext(): boolean {
    const t = this.live();
    if (!t) return false;
    const fn = t.fn!;
    if (t.due > this.mono) this.mono = t.due;
    this.heap.pop();
    this.fired++;
    fn();
    return true;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms ${ms} must be >= 0`);
    const end = this.mono + ms;
    for (;;) {
      const due = this.nextDue();
      if (due === null || due > end) break;
      this.runNext();
    }
    this.mono = end;
  }

  /** Timers in the queue (cancelled ones still count until they reach its top). */
  pendingTimers(): number {
    return this.heap.size;
  }
}

/** A worker's view of simulated time: its own timers (dead with its process), and with clock
 * skew a wall clock `offsetMs` off and a rate `rate` (its ms last 1/rate simulated ms). */
export class WorkerClock implements Clock {
  constructor(
    private readonly sched: SimScheduler,
    readonly owner: Owner,
    private readonly offsetMs = 0,
    private readonly rate = 1,
  ) {}
  nowMs(): number {
    return this.sched.nowMs() + this.offsetMs + this.sched.monotonicMs() * (this.rate - 1);
  }
  nowNs(): bigint {
    return BigInt(Math.round(this.monotonicMs() * 1e6));
  }
  monotonicMs(): number {
    return this.sched.monotonicMs() * this.rate;
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.sched.schedule(delayMs / this.rate, fn, this.owner);
  }
  clearTimer(handle: TimerHandle): void {
    this.sched.clearTimer(handle);
  }
}
