// Exactly-once between state steps (runtime/engine/chain.ts), in process: examples/count-of-counts
// (`counts` keyed by word feeding `tally` keyed by count) on three engines whose remote batches
// go through the wire encoding, each with its own MemoryStore, and a small coordinator (the
// source worker commits the least durable mark of the workers and rewinds after a restart or a
// gap). Workers are crashed at seeded moments: the crashed engine is cut off (its sends and
// deliveries dropped, its store writes never complete) and a new one starts on the same store.
// The final states of both steps must equal a fault-free single-process run's: a message of
// `counts` applied twice at `tally`, or lost between them, changes a tally. Also: the outbox
// entries are acknowledged and deleted, duplicates of an entry are dropped, and the sources'
// durable marks wait for the acknowledgements (end to end), and a store naming outboxes of
// another app or table is refused. Not vacuous: without the downstream dedup, or with entries
// sent when their commit starts instead of once it is durable, the crash runs fail.
import { afterEach, describe, expect, it } from 'vitest';
import {
  clearMemoryConnectors,
  registerConnector,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { decodeRemoteBatch, encodeRemoteBatch } from '../../../runtime/engine/remote-batch.ts';
import { roundRobinTable } from '../../../runtime/engine/partition.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { ChainOutbox, MAX_ENTRY_BYTES } from '../../../runtime/engine/chain.ts';
import type { WorkerEngineImpl } from '../../../runtime/engine/worker.ts';
import { MemoryStore, createSeededRandom, createSystemClock } from '../../../runtime/system.ts';
import type { Logger, RemoteBatch, SourcePosition, Store, StoreOp } from '../../../runtime/types.ts';
import countOfCounts from '../../../examples/count-of-counts.ts';
import { splitWords } from '../../../examples/word-count.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
afterEach(() => clearMemoryConnectors());

function corpus(lines: number, seed: number): string[] {
  const rnd = createSeededRandom(seed);
  const vocab = Array.from({ length: 300 }, (_, i) => `w${i}`);
  return Array.from({ length: lines }, () =>
    Array.from({ length: 2 + rnd.nextInt(6) }, () => vocab[Math.floor(vocab.length * rnd.next() ** 3)]).join(
      ' ',
    ),
  );
}

/** A source of `lines` in batches of `batch`, a pause between batches; resumes and rewinds. */
function registerPaced(name: string, lines: readonly string[], batch: number): void {
  registerConnector(name, {
    createSource: () => {
      let stopped = false;
      let rewindTo: number | null = null;
      return {
        uri: `${name}:`,
        async run(ctx) {
          let at = ctx.resume?.offset ?? 0;
          while (!stopped && !ctx.signal.aborted) {
            if (rewindTo !== null) {
              at = rewindTo;
              rewindTo = null;
            }
            if (at >= lines.length) {
              if (rewindTo === null) return;
              continue;
            }
            const end = Math.min(lines.length, at + batch);
            const first = at;
            at = end;
            await ctx.emit({ payloads: lines.slice(first, end), firstOffset: first, endPosition: end });
            await sleep(1);
          }
        },
        stop: async () => void (stopped = true),
        rewind: (to: SourcePosition) => void (rewindTo = to.offset),
      };
    },
  });
}

/** A view of a store that can be cut off: after kill(), its writes never complete (and one in
 * flight is not applied). */
function crashable(base: Store): { store: Store; kill(): void } {
  let dead = false;
  const never = new Promise<void>(() => undefined);
  return {
    kill: () => void (dead = true),
    store: {
      get: (k) => base.get(k),
      scan: (p) => base.scan(p),
      // A write takes a few milliseconds, as LMDB's flush does, so that crashes land inside
      // commits too; one cut off in flight never completes.
      writeBatch: async (ops: readonly StoreOp[]) => {
        await sleep(2);
        if (dead) return never;
        return base.writeBatch(ops);
      },
      close: async () => undefined,
    },
  };
}

interface Incarnation {
  engine: WorkerEngineImpl;
  alive: boolean;
  kill(): void;
}

class Cluster {
  readonly names = ['w1', 'w2', 'w3'];
  readonly table = roundRobinTable(this.names, 16);
  readonly stores = new Map(this.names.map((n) => [n, new MemoryStore()]));
  readonly current = new Map<string, Incarnation>();
  readonly durable = new Map<string, number>();
  readonly errors: string[] = [];
  readonly sent: RemoteBatch[] = [];
  private pairs = new Map<string, Promise<void>>();
  committed = -1;

  constructor(private readonly source: string) {}

  start(name: string): Incarnation {
    const app = countOfCounts({
      source: this.source,
      sink: 'count:',
      params: { top: '0', partitions: '16' },
    });
    const { store, kill } = crashable(this.stores.get(name)!);
    const inc: Incarnation = { engine: null as unknown as WorkerEngineImpl, alive: true, kill };
    inc.kill = () => {
      inc.alive = false;
      kill();
    };
    inc.engine = createWorkerEngine({
      app,
      workerName: name,
      partitions: this.table,
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      runSources: name === 'w1',
      remote: { send: (w, b) => this.deliver(inc, name, w, b) },
      exactlyOnce: {
        store,
        durability: 'none',
        commitIntervalMs: 2,
        onDurable: (m) => {
          if (!inc.alive || m[0] === undefined) return;
          this.durable.set(name, m[0]);
          this.commit();
        },
        onGap: () => {
          if (inc.alive) this.rewind();
        },
      },
    });
    this.current.set(name, inc);
    return inc;
  }

  private deliver(from: Incarnation, fromName: string, to: string, b: RemoteBatch): Promise<void> | void {
    if (!from.alive) return;
    const copy = decodeRemoteBatch(encodeRemoteBatch(b));
    this.sent.push(copy);
    const target = this.current.get(to);
    if (target === undefined || !target.alive) return;
    const key = `${fromName}>${to}`;
    const p = (this.pairs.get(key) ?? Promise.resolve()).then(async () => {
      if (!from.alive || !target.alive) return;
      try {
        await target.engine.deliverRemote(copy);
      } catch (err) {
        if (target.alive) this.errors.push(`${fromName} -> ${to}: ${(err as Error).message}`);
      }
    });
    this.pairs.set(key, p);
    return p;
  }

  private commit(): void {
    if (this.durable.size < this.names.length) return;
    const c = Math.min(...this.durable.values());
    if (c <= this.committed) return;
    this.committed = c;
    const src = this.current.get('w1');
    if (src?.alive) src.engine.commitSources({ 0: c });
  }

  rewind(): void {
    const src = this.current.get('w1');
    if (src?.alive) src.engine.rewindSources({ 0: this.committed + 1 });
  }

  async crash(name: string): Promise<void> {
    this.current.get(name)!.kill();
    await sleep(5);
    const inc = this.start(name);
    await inc.engine.start();
    // The coordinator's word after a restart: every source again from its committed offset + 1.
    if (name !== 'w1') this.rewind();
  }

  /** Until every worker's durable mark is `last` (everything durable and acknowledged). */
  async settled(last: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ([...this.names].some((n) => this.durable.get(n) !== last)) {
      if (Date.now() > until)
        throw new Error(
          `not settled: durable ${JSON.stringify([...this.durable])}, errors ${this.errors.join('; ')}`,
        );
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.current.values()].map((i) => i.engine.stop()));
  }

  merged(step: string): Map<number | string, number> {
    const out = new Map<number | string, number>();
    for (const inc of this.current.values())
      for (const [k, v] of inc.engine.finishView().states<number>(step)) {
        expect(out.has(k), `key ${String(k)} of ${step} on two workers`).toBe(false);
        out.set(k, v);
      }
    return out;
  }
}

/** The fault-free result, computed directly: per word its count, per n how many words reach n. */
function reference(lines: readonly string[]) {
  const counts = new Map<string | number, number>();
  for (const l of lines) for (const w of splitWords(l)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const tally = new Map<string | number, number>();
  for (const c of counts.values()) for (let n = 1; n <= c; n++) tally.set(n, (tally.get(n) ?? 0) + 1);
  return { counts, tally };
}

const sorted = (m: Map<string | number, number>) =>
  [...m].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0));

describe('state -> state across workers (outboxes between them)', () => {
  it('fault-free: the outputs of counts cross to tally only once committed, are acknowledged and deleted', async () => {
    const lines = corpus(2000, 7);
    registerPaced('paced-a', lines, 50);
    const ref = reference(lines);
    const c = new Cluster('paced-a:');
    const incs = c.names.map((n) => c.start(n));
    await Promise.all(incs.map((i) => i.engine.start()));
    await c.settled(lines.length - 1);
    await c.stop();
    expect(c.errors).toEqual([]);
    expect(sorted(c.merged('counts'))).toEqual(sorted(ref.counts));
    expect(sorted(c.merged('tally'))).toEqual(sorted(ref.tally));
    // Entries crossed, with consecutive seqs per (step, sender, receiver), and were acknowledged.
    const entries = c.sent.filter((b) => b.seq !== undefined);
    const acks = c.sent.filter((b) => b.ack !== undefined);
    expect(entries.length).toBeGreaterThan(10);
    expect(acks.length).toBeGreaterThan(0);
    for (const b of entries) expect(b.step).toBe('tally');
    // Every outbox left the stores (the last deletions ride with the final commit).
    for (const [name, store] of c.stores) {
      const left: string[] = [];
      for await (const [k] of store.scan('x/')) left.push(k);
      expect(left, `outbox of ${name}`).toEqual([]);
      const next: string[] = [];
      for await (const [k] of store.scan('y/')) next.push(k);
      expect(next.length, `outboxes of ${name}`).toBe(2);
    }
  }, 60_000);

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: w2 and w3 crashed 4 times at seeded moments (also inside a commit): states equal the fault-free run`, async () => {
      const lines = corpus(4000, 100 + seed);
      registerPaced(`paced-${seed}`, lines, 25);
      const ref = reference(lines);
      const c = new Cluster(`paced-${seed}:`);
      const incs = c.names.map((n) => c.start(n));
      await Promise.all(incs.map((i) => i.engine.start()));
      const rnd = createSeededRandom(seed);
      for (let k = 0; k < 4; k++) {
        await sleep(20 + rnd.nextInt(120));
        await c.crash(rnd.nextInt(2) === 0 ? 'w2' : 'w3');
      }
      await c.settled(lines.length - 1);
      await c.stop();
      expect(c.errors).toEqual([]);
      expect(sorted(c.merged('counts'))).toEqual(sorted(ref.counts));
      expect(sorted(c.merged('tally'))).toEqual(sorted(ref.tally));
    }, 60_000);
  }

  it('a store whose outbox or marks name a worker or step this app and table do not have is refused at start', async () => {
    setMemorySource('none', []);
    const app = () =>
      countOfCounts({ source: 'memory:none', sink: 'count:', params: { top: '0', partitions: '2' } });
    const { Packr } = await import('msgpackr');
    const pack = (v: unknown) => new Packr({ useRecords: false }).pack(v);
    for (const [key, value, said] of [
      ['y/tally/w9', 3, /worker "w2": store key y\/tally\/w9: an outbox to a step or worker/],
      ['u/counts/w1', 4, /store key u\/counts\/w1: the mark of step "counts" from worker "w1"/],
      [
        'x/tally/w1/000000000000000',
        [[], [], [], [], [], []],
        /store key x\/tally\/w1\/0+: seq beyond the next seq 0/,
      ],
    ] as const) {
      const store = new MemoryStore();
      await store.writeBatch([{ key, value: pack(value) }]);
      const engine = createWorkerEngine({
        app: app(),
        workerName: 'w2',
        partitions: { partitionCount: 2, owners: ['w1', 'w2'] },
        clock,
        log: silent,
        deadLetters: new MemoryDeadLetterSink(silent),
        remote: { send: () => undefined },
        runSources: false,
        exactlyOnce: { store, durability: 'none', onDurable: () => undefined, onGap: () => undefined },
      });
      await expect(engine.start()).rejects.toThrow(said);
    }
  });

  it('pending messages are cut into entries the data plane will not split (bytes and messages bounded)', () => {
    const app = countOfCounts({
      source: 'memory:none',
      sink: 'count:',
      params: { top: '0', partitions: '2' },
    });
    const sent: RemoteBatch[] = [];
    const chain = new ChainOutbox({
      app,
      workerName: 'w1',
      workers: ['w1', 'w2'],
      streamBase: 1000,
      clock,
      log: silent,
      remote: { send: (_w, b) => void sent.push(b) },
      onDurable: () => undefined,
    });
    const tally = app.states.find((st) => st.name === 'tally')!;
    const big = 'x'.repeat(1000);
    for (let k = 0; k < 3; k++) {
      const n = 400;
      chain.add(tally.id, 'w2', {
        source: new Array<number>(n).fill(0),
        offset: Array.from({ length: n }, (_, i) => k * n + i),
        sub: new Array<number>(n).fill(0),
        bornMs: new Array<number>(n).fill(0),
        partition: new Array<number>(n).fill(1),
        payloads: new Array<string>(n).fill(big),
      });
    }
    const ops = chain.ops({});
    expect(ops.filter((o) => o.key.startsWith('x/')).length).toBeGreaterThanOrEqual(4);
    chain.persisted();
    chain.close();
    expect(sent.map((b) => b.seq)).toEqual(sent.map((_, i) => i));
    expect(sent.reduce((a, b) => a + b.payloads.length, 0)).toBe(1200);
    for (const b of sent) expect(encodeRemoteBatch(b).length).toBeLessThanOrEqual(MAX_ENTRY_BYTES);
    // In order: the offsets of the entries, one after another, are those added.
    expect(sent.flatMap((b) => b.offset)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
  });

  it('an entry delivered twice is dropped (and acknowledged again); one beyond the mark is dropped as a gap', async () => {
    setMemorySource('none', []);
    const app = countOfCounts({
      source: 'memory:none',
      sink: 'count:',
      params: { top: '0', partitions: '2' },
    });
    const out: RemoteBatch[] = [];
    const durable: Record<number, number>[] = [];
    const engine = createWorkerEngine({
      app,
      workerName: 'w2',
      partitions: { partitionCount: 2, owners: ['w1', 'w2'] },
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      remote: { send: (_w, b) => void out.push(b) },
      runSources: false,
      exactlyOnce: {
        store: new MemoryStore(),
        durability: 'none',
        commitIntervalMs: 0,
        onDurable: (m) => durable.push({ ...m }),
        onGap: () => undefined,
      },
    });
    await engine.start();
    // Keys of tally are counts; find one on w2's partition (1).
    const { partitionOfKey } = await import('../../../runtime/engine/partition.ts');
    let n = 1;
    while (partitionOfKey(n, 2) !== 1) n++;
    const entry = (seq: number, words: string[]): RemoteBatch => ({
      step: 'tally',
      fromWorker: 'w1',
      source: words.map(() => 0),
      offset: words.map((_, i) => seq * 10 + i),
      sub: words.map(() => 0),
      bornMs: words.map(() => 0),
      partition: words.map(() => 1),
      payloads: words.map((w) => `${n} ${w}`),
      seq,
    });
    await engine.deliverRemote(entry(0, ['a', 'b']));
    await engine.deliverRemote(entry(0, ['a', 'b'])); // a resend: dropped
    await engine.deliverRemote(entry(2, ['z'])); // entry 1 missing: dropped
    await engine.deliverRemote(entry(1, ['c']));
    await sleep(20);
    const tally = new Map(engine.finishView().states<number>('tally'));
    expect(tally.get(n)).toBe(3);
    const acks = out.filter((b) => b.ack !== undefined).map((b) => b.ack);
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.at(-1)).toBe(1);
    expect(acks).toContain(0); // the duplicate was acknowledged again with what is durable
    await engine.stop();
  });
});
