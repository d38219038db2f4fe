// The fingerprint set of a parallel search, shared by every worker thread: an open-addressing
// table in a SharedArrayBuffer that threads insert into with compare-and-swap, without locks
// (as TLC's off-heap fingerprint set). A slot is five int32 words: status (0 empty, 1 being
// written, 2 a state with a parent, 3 an initial state), the fingerprint's two halves and the
// parent's. Parents make counterexamples: the chain of parent fingerprints is replayed.
//
// Growing: the table doubles when half full. Two growable buffers are allocated up front and
// the table moves from one to the other, so no buffer ever has to be sent to a thread while it
// runs. A thread that fills the table past half raises GROW; every thread stops touching the
// table at its next insert (or while it waits) and joins in: the last to arrive sizes the other
// buffer, then all rehash a stripe each, then the last flips the active buffer.
//
// The control words (Int32Array over `ctrl`) also hold the search's barrier and stop flag.

export const SLOT_WORDS = 5;
const S_EMPTY = 0;
const S_BUSY = 1;
const S_STATE = 2;
const S_ROOT = 3;

/** Control words. */
export const C = {
  ACTIVE: 0,
  CAP_LOG2: 1,
  COUNT: 2,
  GROW: 3,
  GROW_ARRIVED: 4,
  GROW_PHASE: 5,
  EVENT: 6,
  STOP: 7,
  BARRIER_COUNT: 8,
  BARRIER_GEN: 9,
  EPOCH: 10,
  /** Workers that ran out of states in this level (work stealing; the level ends when all have). */
  IDLE: 11,
  /** Per-worker words start here: frontier sizes at a barrier, then (at PER_WORKER + n) WANT flags. */
  PER_WORKER: 16,
} as const;

export const STOP_NONE = 0;
export const STOP_FOUND = 1;
export const STOP_ERROR = 2;
export const STOP_ABORT = 3;

/** Initial capacity (slots, a power of two). */
export const INITIAL_CAP_LOG2 = 16;
/** The largest table a buffer can hold (4 GiB is the most a growable SharedArrayBuffer reserves). */
const MAX_BUFFER_BYTES = 2 ** 32;
export const MAX_CAP_LOG2 = Math.floor(Math.log2(MAX_BUFFER_BYTES / (SLOT_WORDS * 4)));
/** New states a thread counts locally before adding them to COUNT (fewer contended atomics). */
const COUNT_CHUNK = 64;

/** A growable SharedArrayBuffer (ES2024; node 20 has it, the project's TypeScript lib does not). */
export interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  grow(newByteLength: number): void;
  readonly maxByteLength: number;
}
const GrowableSAB = SharedArrayBuffer as unknown as new (
  byteLength: number,
  opts: { maxByteLength: number },
) => GrowableSharedArrayBuffer;

export interface SharedTableMemory {
  readonly ctrl: SharedArrayBuffer;
  readonly bufs: readonly [GrowableSharedArrayBuffer, GrowableSharedArrayBuffer];
}

export function allocateTable(workers: number): SharedTableMemory {
  const ctrl = new SharedArrayBuffer((C.PER_WORKER + 2 * workers) * 4);
  const bytes = (1 << INITIAL_CAP_LOG2) * SLOT_WORDS * 4;
  const opts = { maxByteLength: (1 << MAX_CAP_LOG2) * SLOT_WORDS * 4 };
  const a = new GrowableSAB(bytes, opts);
  const b = new GrowableSAB(0, opts);
  const c = new Int32Array(ctrl);
  c[C.CAP_LOG2] = INITIAL_CAP_LOG2;
  return { ctrl, bufs: [a, b] };
}

function mix(hi: number, lo: number): number {
  let h = (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** Wakes every thread waiting on the EVENT word. */
export function signal(ctrl: Int32Array): void {
  Atomics.add(ctrl, C.EVENT, 1);
  Atomics.notify(ctrl, C.EVENT);
}

/** One thread's handle on the shared table. */
export class SharedFingerprintTable {
  readonly ctrl: Int32Array;
  private t!: Int32Array;
  private mask = 0;
  private epoch = -1;
  private pending = 0;
  /** New states this thread added. */
  added = 0;

  constructor(
    private readonly mem: SharedTableMemory,
    private readonly workers: number,
    private readonly me: number,
  ) {
    this.ctrl = new Int32Array(mem.ctrl);
    this.refresh();
  }

  get capacity(): number {
    return this.mask + 1;
  }

  private refresh(): void {
    const c = this.ctrl;
    this.epoch = Atomics.load(c, C.EPOCH);
    const cap = 2 ** Atomics.load(c, C.CAP_LOG2);
    this.t = new Int32Array(this.mem.bufs[Atomics.load(c, C.ACTIVE)]!, 0, cap * SLOT_WORDS);
    this.mask = cap - 1;
  }

  /**
   * Adds the fingerprint with its parent (root: an initial state); true when it was new.
   * Joins a growth first when one was asked for.
   */
  add(hi: number, lo: number, phi: number, plo: number, root: boolean): boolean {
    if (Atomics.load(this.ctrl, C.GROW) !== 0) this.joinGrowth();
    const isNew = insert(this.t, this.mask, hi | 0, lo | 0, phi | 0, plo | 0, root ? S_ROOT : S_STATE);
    if (isNew) {
      this.added++;
      if (++this.pending === COUNT_CHUNK) this.flushCount();
    }
    return isNew;
  }

  /** Adds the locally counted new states to COUNT; asks for growth past half full. */
  flushCount(): void {
    if (this.pending === 0) return;
    const n = Atomics.add(this.ctrl, C.COUNT, this.pending) + this.pending;
    this.pending = 0;
    if (n * 2 > this.capacity && Atomics.compareExchange(this.ctrl, C.GROW, 0, 1) === 0) {
      if (Atomics.load(this.ctrl, C.CAP_LOG2) >= MAX_CAP_LOG2) {
        Atomics.store(this.ctrl, C.GROW, 0);
        throw new Error(
          `the shared fingerprint set is full (${this.capacity / 2} states); check this model with --workers 1`,
        );
      }
      signal(this.ctrl);
    }
  }

  /** Approximate number of states (exact after every thread flushed its count). */
  approxCount(): number {
    return Atomics.load(this.ctrl, C.COUNT) + this.pending;
  }

  /** Called where a thread waits: joins a growth if one was asked for; true when it did. */
  pollGrowth(): boolean {
    if (Atomics.load(this.ctrl, C.GROW) === 0) return false;
    this.joinGrowth();
    return true;
  }

  private waitPhase(phase: number): void {
    const c = this.ctrl;
    for (;;) {
      const e = Atomics.load(c, C.EVENT);
      if (Atomics.load(c, C.GROW_PHASE) >= phase) return;
      if (Atomics.load(c, C.STOP) === STOP_ABORT) throw new Error('aborted');
      Atomics.wait(c, C.EVENT, e, 50);
    }
  }

  /** The three steps of a growth (see the top of the file). */
  private joinGrowth(): void {
    const c = this.ctrl;
    const n = this.workers;
    // Step 1: all arrive; the last sizes the other buffer and clears what it held.
    if (Atomics.add(c, C.GROW_ARRIVED, 1) === n - 1) {
      const capLog2 = Atomics.load(c, C.CAP_LOG2) + 1;
      const other = this.mem.bufs[1 - Atomics.load(c, C.ACTIVE)]!;
      const bytes = 2 ** capLog2 * SLOT_WORDS * 4;
      const used = other.byteLength;
      if (used < bytes) other.grow(bytes);
      new Int32Array(other, 0, Math.min(used, bytes) / 4).fill(0);
      Atomics.store(c, C.GROW_PHASE, 1);
      signal(c);
    }
    this.waitPhase(1);
    // Step 2: each rehashes a stripe of the old table into the new one.
    const capLog2 = Atomics.load(c, C.CAP_LOG2) + 1;
    const newCap = 2 ** capLog2;
    const nt = new Int32Array(this.mem.bufs[1 - Atomics.load(c, C.ACTIVE)]!, 0, newCap * SLOT_WORDS);
    const old = this.t;
    const oldCap = this.capacity;
    const from = Math.floor((oldCap * this.me) / n);
    const to = Math.floor((oldCap * (this.me + 1)) / n);
    for (let i = from; i < to; i++) {
      const b = i * SLOT_WORDS;
      const st = old[b]!;
      if (st === S_EMPTY) continue;
      insert(nt, newCap - 1, old[b + 1]!, old[b + 2]!, old[b + 3]!, old[b + 4]!, st);
    }
    // Step 3: the last to finish its stripe makes the new table the active one.
    if (Atomics.add(c, C.GROW_ARRIVED, 1) === 2 * n - 1) {
      Atomics.store(c, C.ACTIVE, 1 - Atomics.load(c, C.ACTIVE));
      Atomics.store(c, C.CAP_LOG2, capLog2);
      Atomics.store(c, C.GROW_ARRIVED, 0);
      Atomics.add(c, C.EPOCH, 1);
      Atomics.store(c, C.GROW, 0);
      Atomics.store(c, C.GROW_PHASE, 2);
      signal(c);
    }
    this.waitPhase(2);
    // Everyone must have seen phase 2 before the next growth may reset it: a fourth count.
    this.refresh();
    if (Atomics.add(c, C.GROW_ARRIVED, 1) === n - 1) {
      Atomics.store(c, C.GROW_ARRIVED, 0);
      Atomics.store(c, C.GROW_PHASE, 0);
      signal(c);
    }
    // Wait until the reset, so that a new GROW is not mistaken for this one.
    for (;;) {
      const e = Atomics.load(c, C.EVENT);
      if (Atomics.load(c, C.GROW_PHASE) === 0) break;
      if (Atomics.load(c, C.STOP) === STOP_ABORT) throw new Error('aborted');
      Atomics.wait(c, C.EVENT, e, 50);
    }
    if (this.epoch !== Atomics.load(c, C.EPOCH)) this.refresh();
  }

  /** The slot of a fingerprint, or -1 (only when no thread is inserting). */
  private find(hi: number, lo: number): number {
    const t = this.t;
    hi |= 0;
    lo |= 0;
    let slot = mix(hi, lo) & this.mask;
    for (;;) {
      const b = slot * SLOT_WORDS;
      if (t[b] === S_EMPTY) return -1;
      if (t[b + 1] === hi && t[b + 2] === lo) return b;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * The fingerprints from an initial state to this one, as [hi, lo] uint32 pairs (after the
   * search: reads the active table as it stands).
   */
  chain(hi: number, lo: number): [number, number][] {
    this.refresh();
    const out: [number, number][] = [];
    for (;;) {
      const b = this.find(hi, lo);
      if (b < 0)
        throw new Error('internal error: a state of the counterexample is not in the fingerprint set');
      out.push([hi >>> 0, lo >>> 0]);
      if (this.t[b] === S_ROOT) break;
      hi = this.t[b + 3]!;
      lo = this.t[b + 4]!;
      if (out.length > 1 << 24) throw new Error('internal error: the parent chain has a cycle');
    }
    return out.reverse();
  }

  /** Bytes the table's buffers hold. */
  get bytes(): number {
    return this.mem.bufs[0].byteLength + this.mem.bufs[1].byteLength;
  }
}

/** Compare-and-swap insertion; true when the fingerprint was not there. */
function insert(
  t: Int32Array,
  mask: number,
  hi: number,
  lo: number,
  phi: number,
  plo: number,
  status: number,
): boolean {
  let slot = mix(hi >>> 0, lo >>> 0) & mask;
  for (;;) {
    const b = slot * SLOT_WORDS;
    let st = Atomics.load(t, b);
    if (st === S_EMPTY) {
      st = Atomics.compareExchange(t, b, S_EMPTY, S_BUSY);
      if (st === S_EMPTY) {
        t[b + 1] = hi;
        t[b + 2] = lo;
        t[b + 3] = phi;
        t[b + 4] = plo;
        Atomics.store(t, b, status);
        return true;
      }
    }
    while (st === S_BUSY) st = Atomics.load(t, b);
    if (t[b + 1] === hi && t[b + 2] === lo) return false;
    slot = (slot + 1) & mask;
  }
}
