// The simulator's clock and event queue (issue 8): one queue of timers in simulated time, run
// in order of due time (then of creation). The simulator's loop runs the next timer once
// nothing else is runnable (every microtask settled), so simulated time moves as fast as the
// CPU allows. Every worker sees it through its own WorkerClock: its timers die with its
// process (a crash cancels them), and with clock skew its wall clock is offset and its timers
// run at a slightly different rate.
import type { Clock, TimerHandle } from '../types.ts';
import type { ManualClock } from '../system.ts';

interface Timer {
  readonly due: number;
  readonly id: number;
  readonly fn: () => void;
  readonly owner: Owner | null;
}

/** A process's timers: dead once `alive` is false. */
export interface Owner {
  alive: boolean;
}

/** A binary min-heap of timers by (due, id). */
class TimerHeap {
  private readonly a: Timer[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Timer | undefined {
    return this.a[0];
  }
  push(t: Timer): void {
    const a = this.a;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Timer | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
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
    this.heap.push({ due: this.mono + delayMs, id, fn, owner });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.cancelled.add(handle);
  }

  /** Due time of the next live timer, or null. */
  nextDue(): number | null {
    for (;;) {
      const t = this.heap.peek();
      if (!t) return null;
      if (this.cancelled.has(t.id) || (t.owner && !t.owner.alive)) {
        this.heap.pop();
        this.cancelled.delete(t.id);
        continue;
      }
      return t.due;
    }
  }

  /** Runs the next live timer (time moves to its due time); false when there is none. */
  runNext(): boolean {
    if (this.nextDue() === null) return false;
    const t = this.heap.pop()!;
    this.mono = Math.max(this.mono, t.due);
    this.fired++;
    t.fn();
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
