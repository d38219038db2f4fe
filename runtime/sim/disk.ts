// A simulated disk for deterministic simulation (issue: the simulator): the Store seam and the
// file a `file:` sink writes, in memory, with the faults a real disk has, every choice drawn
// from one seeded Random and every delay from the injected Clock. It models what the real
// store guarantees and no more, so that a run in the simulator can lose exactly what a run on
// a real machine could:
//
// - A store (SimStore) is LMDB as runtime/store/README.md describes it: a batch is whole or
//   absent after any crash. A process crash keeps every batch whose `writeBatch` resolved; a
//   batch in flight is kept or lost whole (seeded). A power loss (`fsync-loss`) keeps, per
//   durability level: `sync` every resolved batch; `batch` the store as of some earlier
//   resolved batch (seeded: LMDB without the meta-page flush); `none` as of any earlier point
//   (seeded), the only level where LMDB also warns of damage, which is not modelled.
// - A file (SimFile) is a POSIX file: `append` puts bytes in the page cache, which a process
//   crash keeps; only `fsync` makes them survive a power loss. With `torn-write`, the append in
//   progress when the process dies lands as a seeded prefix, and a power loss keeps a seeded
//   prefix of what was not synced (a torn tail: part of a line).
// - `slow-disk` delays each store commit and fsync by a seeded number of simulated ms.
//
// Nothing here reads a real clock, the real disk or Math.random.
import type { Clock, Random, ResumableSink, SinkBatch, SinkConnector, Store, StoreOp } from '../types.ts';

export const DISK_FAULTS = ['torn-write', 'fsync-loss', 'slow-disk'] as const;
export type DiskFault = (typeof DISK_FAULTS)[number];
export type SimDurability = 'sync' | 'batch' | 'none';

export interface SimDiskOptions {
  readonly random: Random;
  readonly clock: Clock;
  readonly faults?: readonly DiskFault[];
  /** Upper bound of a slow commit or fsync, simulated ms (default 20). */
  readonly slowMs?: number;
}

/** What a crash did, for the simulator's event log. */
export interface CrashReport {
  readonly owner: string;
  readonly powerLoss: boolean;
  /** Store batches that were resolved or in flight and are gone after the crash. */
  readonly batchesLost: number;
  /** Per file: bytes lost from its end, and whether its last line is now torn. */
  readonly files: ReadonlyArray<{ path: string; bytesLost: number; torn: boolean }>;
}

type Image = Map<string, Uint8Array>;

function cloneImage(m: Image): Image {
  return new Map(m);
}

/** Applies a batch to an image. The values are the store's own copies (made by writeBatch, and
 * handed out only as copies), never changed: images share them. */
function apply(image: Image, ops: readonly StoreOp[]): void {
  for (const op of ops) {
    if (op.value === null) image.delete(op.key);
    else image.set(op.key, op.value);
  }
}

const HISTORY_BOUND = 16;

/** The images after each of the last resolved batches, as a base image and the batches since
 * (image k = base + batches[0..k-1]): a batch costs its ops, not a copy of the whole store. */
class History {
  private base: Image = new Map();
  private batches: (readonly StoreOp[])[] = [];
  /** Images held (the base's and one per batch). */
  get length(): number {
    return this.batches.length + 1;
  }
  push(ops: readonly StoreOp[]): void {
    this.batches.push(ops);
    if (this.batches.length + 1 > HISTORY_BOUND) apply(this.base, this.batches.shift()!);
  }
  /** Image `k` (a fresh map), and the history cut to end with it. */
  rollBackTo(k: number): Image {
    this.batches = this.batches.slice(0, k);
    const image = cloneImage(this.base);
    for (const b of this.batches) apply(image, b);
    return image;
  }
}

/** The disk of a simulated cluster: one per simulation, shared by every worker's store and files. */
export class SimDisk {
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly faults: ReadonlySet<DiskFault>;
  private readonly slowMs: number;
  private readonly stores = new Map<string, StoreState>();
  private readonly files = new Map<string, FileState>();

  constructor(o: SimDiskOptions) {
    this.random = o.random;
    this.clock = o.clock;
    this.faults = new Set(o.faults ?? []);
    this.slowMs = o.slowMs ?? 20;
  }

  has(fault: DiskFault): boolean {
    return this.faults.has(fault);
  }

  private atomic = true;

  /** Test only (the simulator's mutation `store-not-atomic`): a batch in flight at a crash
   * lands as a seeded prefix of its ops, which LMDB never does. */
  breakAtomicity(): void {
    this.atomic = false;
  }

  /** Keys a store reads as absent (the mutation `no-dedup`). */
  forgotten: ((key: string) => boolean) | null = null;

  /** Test only (the simulator's mutation `no-dedup`): a store reads the engine's dedup
   * watermarks (`m/STREAM`, runtime/engine/exactly-once.ts's layout) as absent, so a recovering
   * worker takes every replayed batch again: exactly-once's duplicate check, broken. */
  breakDedup(): void {
    this.forgotten = (key) => key.startsWith('m/');
  }

  /** The store of `owner` (a worker), opened by its current incarnation. A store of a previous
   * incarnation is closed for good: a crashed process's handle never writes again. */
  openStore(owner: string, durability: SimDurability = 'batch'): SimStore {
    let st = this.stores.get(owner);
    if (!st) {
      st = { durability, committed: new Map(), history: new History(), inFlight: [], epoch: 0 };
      this.stores.set(owner, st);
    }
    st.durability = durability;
    st.epoch++;
    return new SimStore(this, owner, st, st.epoch);
  }

  /** The file at `path` (created empty). Files are shared: one path, one file. */
  openFile(path: string, owner: string): SimFile {
    let f = this.files.get(path);
    if (!f) {
      f = { owner, data: new Uint8Array(0), length: 0, synced: 0, epoch: 0, tornTail: false };
      this.files.set(path, f);
    }
    f.owner = owner;
    f.epoch++;
    return new SimFile(this, path, f, f.epoch);
  }

  /** The bytes of a file now, without a copy: valid until the file is next written. */
  view(path: string): Uint8Array {
    const f = this.files.get(path);
    return f ? f.data.subarray(0, f.length) : new Uint8Array(0);
  }

  /** The bytes of a file as a reader would see them now. */
  contents(path: string): Uint8Array {
    const f = this.files.get(path);
    return f ? f.data.subarray(0, f.length).slice() : new Uint8Array(0);
  }

  /** `owner`'s process dies (and with `powerLoss`, the machine): what survives is decided
   * here, seeded, as the header describes. Handles of the dead incarnation stop working. */
  crash(owner: string, powerLoss = false): CrashReport {
    let batchesLost = 0;
    const st = this.stores.get(owner);
    if (st) {
      st.epoch++; // the dead process's handle is stale from now on
      for (const w of st.inFlight) {
        if (!this.atomic && w.ops.length > 1) {
          const part = w.ops.slice(0, 1 + this.random.nextInt(w.ops.length - 1));
          apply(st.committed, part);
          st.history.push(part);
          batchesLost++;
        } else if (this.random.nextInt(2) === 0) {
          apply(st.committed, w.ops);
          st.history.push(w.ops);
        } else batchesLost++;
        w.settle(false);
      }
      st.inFlight = [];
      if (powerLoss && this.faults.has('fsync-loss') && st.durability !== 'sync') {
        // `batch`: consistent as of an earlier resolved batch; `none`: as of any earlier point.
        const n = st.history.length;
        const keep =
          st.durability === 'batch'
            ? Math.max(0, n - 1 - this.random.nextInt(Math.min(n, 4)))
            : this.random.nextInt(n);
        batchesLost += n - 1 - keep;
        st.committed = st.history.rollBackTo(keep);
      }
    }
    const files: Array<{ path: string; bytesLost: number; torn: boolean }> = [];
    for (const [path, f] of this.files) {
      if (f.owner !== owner) continue;
      f.epoch++;
      const before = f.length;
      let torn = false;
      if (f.pendingAppend && this.faults.has('torn-write')) {
        // The append in progress lands as a prefix of itself.
        const cut = this.random.nextInt(f.pendingAppend + 1);
        f.length = f.length - f.pendingAppend + cut;
        torn = cut > 0 && cut < f.pendingAppend;
      }
      f.pendingAppend = 0;
      if (powerLoss && this.faults.has('fsync-loss') && f.length > f.synced) {
        const unsynced = f.length - f.synced;
        const kept = this.faults.has('torn-write') ? this.random.nextInt(unsynced + 1) : 0;
        f.length = f.synced + kept;
        torn = kept > 0;
      }
      f.tornTail = torn;
      if (f.synced > f.length) f.synced = f.length;
      if (before !== f.length || torn) files.push({ path, bytesLost: before - f.length, torn });
    }
    return { owner, powerLoss, batchesLost, files };
  }

  /** A commit's or fsync's duration in simulated ms (0 without `slow-disk`). */
  delayMs(): number {
    return this.faults.has('slow-disk') ? this.random.nextInt(this.slowMs + 1) : 0;
  }

  after(ms: number, fn: () => void): void {
    if (ms <= 0) queueMicrotask(fn);
    else this.clock.setTimer(ms, fn);
  }
}

interface InFlight {
  readonly ops: readonly StoreOp[];
  settle(ok: boolean): void;
}

interface StoreState {
  durability: SimDurability;
  /** What a reader sees, and what a process crash keeps. */
  committed: Image;
  /** The image after each of the last resolved batches (bounded): what a power loss may fall
   * back to. */
  history: History;
  inFlight: InFlight[];
  /** Bumped by each open and crash: a handle with another epoch belongs to a dead process. */
  epoch: number;
}

export class SimStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimStoreError';
  }
}

/** A worker's store on the simulated disk (the Store seam; atomic batches, like LMDB). */
export class SimStore implements Store {
  private closed = false;

  constructor(
    private readonly disk: SimDisk,
    readonly owner: string,
    private readonly st: StoreState,
    private readonly epoch: number,
  ) {}

  private check(what: string): void {
    if (this.closed) throw new SimStoreError(`store of ${this.owner}: ${what} after close()`);
  }

  private get alive(): boolean {
    return this.st.epoch === this.epoch;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.check('get');
    if (this.disk.forgotten?.(key)) return undefined;
    const v = this.st.committed.get(key);
    return v?.slice();
  }

  writeBatch(ops: readonly StoreOp[]): Promise<void> {
    if (this.closed)
      return Promise.reject(new SimStoreError(`store of ${this.owner}: writeBatch after close()`));
    // A dead process's write never happens (and never resolves: nothing is left to see it).
    if (!this.alive) return new Promise<void>(() => {});
    // A copy of each value (a Buffer's slice() would be a view of the caller's bytes).
    const copy = ops.map((o) => ({ key: o.key, value: o.value === null ? null : new Uint8Array(o.value) }));
    return new Promise<void>((resolve) => {
      const w: InFlight = {
        ops: copy,
        settle: (ok) => {
          const i = this.st.inFlight.indexOf(w);
          if (i >= 0) this.st.inFlight.splice(i, 1);
          if (ok) resolve();
        },
      };
      this.st.inFlight.push(w);
      this.disk.after(this.disk.delayMs(), () => {
        if (!this.alive || !this.st.inFlight.includes(w)) return; // crashed meanwhile: decided there
        apply(this.st.committed, copy);
        this.st.history.push(copy);
        w.settle(true);
      });
    });
  }

  async *scan(prefix: string): AsyncIterable<readonly [string, Uint8Array]> {
    this.check('scan');
    const keys = [...this.st.committed.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const k of keys) {
      const v = this.st.committed.get(k);
      if (v !== undefined) yield [k, v.slice()] as const;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface FileState {
  owner: string;
  data: Uint8Array;
  /** Bytes in the file (page cache included). */
  length: number;
  /** Bytes that survive a power loss. */
  synced: number;
  /** Bytes of the last append not yet "returned" to the writer (a crash may tear them). */
  pendingAppend?: number;
  epoch: number;
  /** The last crash left part of a line at the end. */
  tornTail: boolean;
}

/** A file on the simulated disk, as a sink writes it. */
export class SimFile {
  constructor(
    private readonly disk: SimDisk,
    readonly path: string,
    private readonly f: FileState,
    private readonly epoch: number,
  ) {}

  private get alive(): boolean {
    return this.f.epoch === this.epoch;
  }

  get length(): number {
    return this.f.length;
  }

  /** Whether the last crash left a torn line at the end (a reader of the file would see it). */
  get tornTail(): boolean {
    return this.f.tornTail;
  }

  /** Appends bytes; resolves when the write returned. Until then a crash may tear it. */
  append(bytes: Uint8Array): Promise<void> {
    if (!this.alive) return new Promise<void>(() => {});
    const need = this.f.length + bytes.length;
    if (need > this.f.data.length) {
      const grown = new Uint8Array(Math.max(need, this.f.data.length * 2, 1024));
      grown.set(this.f.data.subarray(0, this.f.length));
      this.f.data = grown;
    }
    this.f.data.set(bytes, this.f.length);
    this.f.length = need;
    this.f.pendingAppend = (this.f.pendingAppend ?? 0) + bytes.length;
    return new Promise<void>((resolve) =>
      queueMicrotask(() => {
        if (!this.alive) return;
        this.f.pendingAppend = 0;
        resolve();
      }),
    );
  }

  /** Makes everything appended so far survive a power loss. */
  fsync(): Promise<void> {
    if (!this.alive) return new Promise<void>(() => {});
    const upTo = this.f.length;
    return new Promise<void>((resolve) =>
      this.disk.after(this.disk.delayMs(), () => {
        if (!this.alive) return;
        this.f.synced = Math.max(this.f.synced, Math.min(upTo, this.f.length));
        resolve();
      }),
    );
  }

  /** Cuts the file to `bytes` (a recovering sink's recorded length). */
  async truncate(bytes: number): Promise<void> {
    if (!this.alive) return new Promise<void>(() => {});
    if (bytes > this.f.length) {
      throw new SimStoreError(
        `${this.path}: cannot truncate to ${bytes} bytes, the file has ${this.f.length}`,
      );
    }
    this.f.length = bytes;
    this.f.synced = Math.min(this.f.synced, bytes);
    this.f.tornTail = false;
  }
}

const encoder = new TextEncoder();

/** A `file:` sink on the simulated disk: one line per payload, resumable as the engine's
 * exactly-once sinks are (truncate to the recorded length at recovery; settle = the length). */
export class SimFileSink implements SinkConnector {
  readonly resumable: ResumableSink;
  private writing: Promise<void> = Promise.resolve();
  /** Bytes written so far, appended or queued (ResumableSink.length: the engine records it). */
  private queued: number;

  constructor(
    readonly uri: string,
    private readonly file: SimFile,
  ) {
    this.queued = file.length;
    this.resumable = {
      truncate: async (bytes) => {
        await this.file.truncate(bytes);
        this.queued = bytes;
      },
      settle: async (fsync) => {
        await this.writing;
        if (fsync) await this.file.fsync();
        return this.file.length;
      },
      length: () => this.queued,
    };
  }

  write(batch: SinkBatch): Promise<void> {
    let out: Uint8Array;
    if (batch.payloads.length === 0) out = new Uint8Array(0);
    else if (batch.payloads.every((p) => typeof p === 'string')) {
      // One encoding of the whole batch (the common case: text lines).
      out = encoder.encode(`${(batch.payloads as readonly string[]).join('\n')}\n`);
    } else {
      const parts: Uint8Array[] = [];
      let n = 0;
      for (const p of batch.payloads) {
        const b = typeof p === 'string' ? encoder.encode(p) : p;
        parts.push(b);
        n += b.length + 1;
      }
      out = new Uint8Array(n);
      let at = 0;
      for (const b of parts) {
        out.set(b, at);
        at += b.length;
        out[at++] = 10;
      }
    }
    this.queued += out.length;
    this.writing = this.writing.then(() => this.file.append(out));
    return this.writing;
  }

  flush(): Promise<void> {
    return this.writing;
  }

  async close(): Promise<void> {
    await this.writing;
  }
}
