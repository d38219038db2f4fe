import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import type { Application } from '../../../runtime/api/app.ts';
import { jsonCodec, stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  registerConnector,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded, startEmbedded } from '../../../runtime/engine/embedded.ts';
import { partitionOfKey, roundRobinTable } from '../../../runtime/engine/partition.ts';
import { decodeRemoteBatch, encodeRemoteBatch } from '../../../runtime/engine/remote-batch.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { createManualClock, createSystemClock } from '../../../runtime/system.ts';
import type {
  Logger,
  RemoteBatch,
  SinkBatch,
  SinkConnector,
  SourceConnector,
  SourceContext,
} from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

afterEach(() => clearMemoryConnectors());

/** key:value lines -> per-key running sum; each update "key=sum". */
function sumApp(tag: string, partitions = 16): Application {
  const app = defineApp('sums', { partitions });
  app
    .source('in', { uri: `memory:${tag}-in`, decode: stringCodec })
    .map('parse', (line: string) => {
      const [k, v] = line.split(':');
      const n = Number(v);
      if (!k || !Number.isFinite(n)) throw new Error(`bad line "${line}"`);
      return { k, n };
    })
    .state('sum', {
      key: (m: { k: string; n: number }) => m.k,
      init: () => ({ total: 0 }),
      update: (s: { total: number }, m: { k: string; n: number }, emit: (o: string) => void) => {
        if (m.n === 13) throw new Error('unlucky 13');
        const next = { total: s.total + m.n };
        emit(`${m.k}=${next.total}`);
        return next;
      },
      codec: jsonCodec<{ k: string; n: number }>(),
    })
    .sink('out', { uri: `memory:${tag}-out`, encode: stringCodec });
  return app.build();
}

/** The reference: what the app must produce, computed directly. */
function referenceSums(lines: readonly string[]): {
  finals: Map<string, number>;
  updates: number;
  bad: number;
} {
  const finals = new Map<string, number>();
  let updates = 0;
  let bad = 0;
  for (const line of lines) {
    const [k, v] = line.split(':');
    const n = Number(v);
    if (!k || !Number.isFinite(n) || n === 13) {
      bad++;
      continue;
    }
    finals.set(k, (finals.get(k) ?? 0) + n);
    updates++;
  }
  return { finals, updates, bad };
}

function finalsOf(payloads: readonly unknown[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of payloads) {
    const [k, v] = String(p).split('=');
    m.set(k!, Number(v));
  }
  return m;
}

const lineArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'b', 'c', 'dd', 'é', 'k9'), fc.integer({ min: 0, max: 20 }))
      .map(([k, n]) => `${k}:${n}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('garbage', ':5', 'x:y') },
);

describe('worker engine, embedded', () => {
  it('applies every message once per key, in order; throwing steps dead-letter only their message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 300 }),
        fc.integer({ min: 1, max: 50 }),
        async (lines, batch) => {
          clearMemoryConnectors();
          setMemorySource('t-in', lines, batch);
          const dead = new MemoryDeadLetterSink();
          const s = await runEmbedded(sumApp('t'), { clock, log: silent, deadLetters: dead });
          const ref = referenceSums(lines);
          const out = memorySinkPayloads('t-out');
          expect(out.length).toBe(ref.updates);
          expect(finalsOf(out)).toEqual(ref.finals);
          expect(dead.count).toBe(ref.bad);
          expect(s.metrics.ingested).toBe(lines.length);
          expect(s.metrics.sunk).toBe(ref.updates);
          for (const l of dead.letters) {
            expect(l.worker).toBe('embedded');
            expect(['parse', 'sum']).toContain(l.step);
            expect(l.messageId).toMatch(/^0:\d+$/);
            expect(lines[Number(l.messageId.split(':')[1])]).toBe(
              l.payloadExcerpt.replace(/^\{"k":"(.*)","n":(\d+)\}$/, '$1:$2'),
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('withdraws outputs emitted before an update threw', async () => {
    const app = defineApp('w');
    app
      .source('in', { uri: 'memory:w-in', decode: stringCodec })
      .state('st', {
        key: (x: string) => x,
        init: () => ({}),
        update: (s: object, x: string, emit: (o: string) => void) => {
          emit(`${x}-1`);
          if (x === 'boom') throw new Error('half done');
          emit(`${x}-2`);
          return s;
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'memory:w-out', encode: stringCodec });
    setMemorySource('w-in', ['a', 'boom', 'b']);
    const dead = new MemoryDeadLetterSink();
    const run = startEmbedded(app.build(), { clock, log: silent, deadLetters: dead });
    await run.done;
    expect(memorySinkPayloads('w-out')).toEqual(['a-1', 'a-2', 'b-1', 'b-2']);
    // The failed first message of "boom" created no state for it.
    expect([...run.engine.finishView().states('st')].map(([k]) => k)).toEqual(['a', 'b']);
    expect(dead.letters.map((l) => [l.step, l.messageId, l.error])).toEqual([
      ['st', '0:1', 'Error: half done'],
    ]);
  });

  it('gives outputs deterministic ids (source, offset, output path)', async () => {
    const app = defineApp('ids');
    const seen: string[] = [];
    registerConnector('idsink', {
      createSink: () => ({
        uri: 'idsink:',
        write(b: SinkBatch) {
          b.payloads.forEach((p, i) => seen.push(`${String(p)}@${b.ids!.offset[i]}.${b.ids!.sub[i]}`));
        },
        flush: async () => undefined,
        close: async () => undefined,
      }),
    });
    app
      .source('in', { uri: 'memory:ids-in', decode: stringCodec })
      .flatMap('split', (l: string) => l.split(' '))
      .sink('out', { uri: 'idsink:', encode: stringCodec });
    setMemorySource('ids-in', ['x y', 'z']);
    await runEmbedded(app.build(), { clock, log: silent, deadLetters: new MemoryDeadLetterSink() });
    expect(seen).toEqual(['x@0.1', 'y@0.2', 'z@1.1']);
  });
});

describe('determinism', () => {
  it('message ids and outputs do not depend on batch boundaries (replay gives the same ids)', async () => {
    let seen: string[] = [];
    registerConnector('idrec', {
      createSink: () => ({
        uri: 'idrec:',
        write(b: SinkBatch) {
          b.payloads.forEach((p, i) =>
            seen.push(`${String(p)}@${b.ids!.source[i]}:${b.ids!.offset[i]}.${b.ids!.sub[i]}`),
          );
        },
        flush: async () => undefined,
        close: async () => undefined,
      }),
    });
    const app = (): Application => {
      const a = defineApp('det');
      a.source('in', { uri: 'memory:det-in', decode: stringCodec })
        .flatMap('split', (l: string) => l.split(' ').filter(Boolean))
        .state('count', {
          key: (w: string) => w,
          init: () => ({ n: 0 }),
          update: (s: { n: number }, w: string, emit: (o: string) => void) => {
            const n = s.n + 1;
            for (let k = 0; k < n % 3; k++) emit(`${w}${n}.${k}`);
            return { n };
          },
          codec: stringCodec,
        })
        .sink('out', { uri: 'idrec:', encode: stringCodec });
      return a.build();
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.constantFrom('x', 'y', 'z', ''), { maxLength: 6 }).map((w) => w.join(' ')),
          { maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        async (lines, b1, b2) => {
          const runs: string[][] = [];
          for (const batch of [b1, b2]) {
            clearMemoryConnectors();
            seen = [];
            setMemorySource('det-in', lines, batch);
            await runEmbedded(app(), {
              clock: createManualClock(),
              log: silent,
              deadLetters: new MemoryDeadLetterSink(),
            });
            runs.push(seen);
          }
          expect(runs[1]).toEqual(runs[0]);
          const ids = runs[0]!.map((x) => x.slice(x.indexOf('@')));
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('worker engine, several workers', () => {
  it('routes each key to the worker owning its partition; results equal the reference', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 200 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        async (lines, workerCount, partitions) => {
          clearMemoryConnectors();
          setMemorySource('r-in', lines, 7);
          const app = sumApp('r', partitions);
          const names = Array.from({ length: workerCount }, (_, i) => `w${i + 1}`);
          const table = roundRobinTable(names, partitions);
          const engines = new Map<string, ReturnType<typeof createWorkerEngine>>();
          const received = new Map<string, string[]>(names.map((n) => [n, []]));
          const dead = new MemoryDeadLetterSink();
          for (const name of names) {
            engines.set(
              name,
              createWorkerEngine({
                app,
                workerName: name,
                partitions: table,
                clock,
                log: silent,
                deadLetters: dead,
                runSources: name === 'w1',
                remote: {
                  // Through the wire format, as the cluster does.
                  send: (worker: string, b: RemoteBatch) => {
                    expect(worker).not.toBe(b.fromWorker);
                    const decoded = decodeRemoteBatch(encodeRemoteBatch(b));
                    for (const p of decoded.payloads) received.get(worker)!.push(JSON.parse(String(p)).k);
                    return engines.get(worker)!.deliverRemote(decoded);
                  },
                },
              }),
            );
          }
          for (const e of engines.values()) await e.start();
          await engines.get('w1')!.sourcesDone();
          for (const e of engines.values()) await e.stop();
          const ref = referenceSums(lines);
          expect(finalsOf(memorySinkPayloads('r-out'))).toEqual(ref.finals);
          expect(memorySinkPayloads('r-out').length).toBe(ref.updates);
          // Each worker received exactly the keys it owns; w1 (running the source) kept its own.
          for (const [w, keys] of received)
            for (const k of keys) expect(table.owners[partitionOfKey(k, partitions)]).toBe(w);
          expect(received.get('w1')).toEqual([]);
          const metrics = names.map((n) => engines.get(n)!.metrics());
          const sent = metrics.reduce((a, m) => a + m.remoteSent, 0);
          expect(metrics.reduce((a, m) => a + m.remoteReceived, 0)).toBe(sent);
          expect(metrics.reduce((a, m) => a + m.stateApplied.sum!, 0)).toBe(ref.updates);
          if (workerCount === 1) expect(sent).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('handles peers calling back synchronously (two state steps bouncing between workers)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 120 }), async (nums) => {
        clearMemoryConnectors();
        setMemorySource('b-in', nums.map(String), 9);
        const app = defineApp('bounce', { partitions: 8 });
        app
          .source('in', { uri: 'memory:b-in', decode: (p) => Number(p) })
          .state('first', {
            key: (n: number) => n,
            init: () => ({ c: 0 }),
            update: (s: { c: number }, n: number, emit: (o: number) => void) => {
              emit(n * 7 + 1);
              return { c: s.c + 1 };
            },
            codec: jsonCodec<number>(),
          })
          .state('second', {
            key: (m: number) => m,
            init: () => ({ c: 0 }),
            update: (s: { c: number }, m: number, emit: (o: string) => void) => {
              emit(`${m} ${s.c + 1}`);
              return { c: s.c + 1 };
            },
            codec: jsonCodec<number>(),
          })
          .sink('out', { uri: 'memory:b-out', encode: stringCodec });
        const built = app.build();
        const table = roundRobinTable(['w1', 'w2'], 8);
        const engines = new Map<string, ReturnType<typeof createWorkerEngine>>();
        for (const name of ['w1', 'w2']) {
          engines.set(
            name,
            createWorkerEngine({
              app: built,
              workerName: name,
              partitions: table,
              clock,
              log: silent,
              deadLetters: new MemoryDeadLetterSink(),
              runSources: name === 'w1',
              remote: { send: (w: string, b: RemoteBatch) => engines.get(w)!.deliverRemote(b) },
            }),
          );
        }
        for (const e of engines.values()) await e.start();
        await engines.get('w1')!.sourcesDone();
        for (const e of engines.values()) await e.stopSources();
        for (const e of engines.values()) await e.stop();
        const expected = new Map<string, number>();
        for (const n of nums) expected.set(String(n * 7 + 1), (expected.get(String(n * 7 + 1)) ?? 0) + 1);
        expect(finalsOf(memorySinkPayloads('b-out').map((p) => String(p).replace(' ', '=')))).toEqual(
          new Map([...expected].map(([k, v]) => [k, v])),
        );
        expect(memorySinkPayloads('b-out')).toHaveLength(nums.length);
      }),
      { numRuns: 40 },
    );
  });

  it('rejects a batch for a partition it does not own, naming both workers, and fails', async () => {
    setMemorySource('x-in', []);
    const app = sumApp('x', 4);
    const table = roundRobinTable(['w1', 'w2'], 4);
    const engine = async () => {
      const e = createWorkerEngine({
        app,
        workerName: 'w1',
        partitions: table,
        clock,
        log: silent,
        deadLetters: new MemoryDeadLetterSink(),
        remote: { send: () => undefined },
        runSources: false,
      });
      await e.start();
      return e;
    };
    const b: RemoteBatch = {
      step: 'sum',
      fromWorker: 'w2',
      source: [0],
      offset: [0],
      sub: [0],
      bornMs: [0],
      partition: [1],
      payloads: ['{"k":"a","n":1}'],
    };
    const e = await engine();
    const disagreement =
      /worker "w1" got a message for step "sum" partition 1 from worker "w2", but partition 1 belongs to "w2"/;
    await expect(e.deliverRemote(b)).rejects.toThrow(disagreement);
    // Workers that disagree on the partition table cannot go on: the engine has failed.
    await expect(e.deliverRemote({ ...b, partition: [0] })).rejects.toThrow(disagreement);
    await expect(e.stop()).rejects.toThrow(disagreement);

    const e2 = await engine();
    await expect(e2.deliverRemote({ ...b, step: 'nope' })).rejects.toThrow(/no such state step/);
    await e2.stop();
    await expect(e2.deliverRemote({ ...b, partition: [0] })).rejects.toThrow(
      /is stopping and its sinks are closed/,
    );
  });
});

/** A source that emits forever (until stopped), one small batch per tick. */
class EndlessSource implements SourceConnector {
  readonly uri = 'endless:';
  stopped = false;
  emitted = 0;
  async run(ctx: SourceContext): Promise<void> {
    while (!this.stopped && !ctx.signal.aborted) {
      const payloads = Array.from({ length: 10 }, (_, i) => `k${(this.emitted + i) % 5}:1`);
      await ctx.emit({ payloads, firstOffset: this.emitted });
      this.emitted += payloads.length;
      await new Promise<void>((r) => setTimeout(r, 1));
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** A sink that takes `delayMs` per write and records flush/close. */
class SlowSink implements SinkConnector {
  readonly uri = 'slow:';
  written = 0;
  inFlight = 0;
  maxInFlight = 0;
  flushed = false;
  closed = false;
  constructor(private readonly delayMs: number) {}
  write(b: SinkBatch): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((r) =>
      setTimeout(() => {
        this.written += b.payloads.length;
        this.inFlight--;
        r();
      }, this.delayMs),
    );
  }
  async flush(): Promise<void> {
    this.flushed = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('graceful stop and backpressure', () => {
  it('stop() ends an endless source, drains in-flight batches, flushes and closes the sink', async () => {
    const source = new EndlessSource();
    const sink = new SlowSink(3);
    registerConnector('endless', { createSource: () => source });
    registerConnector('slow', { createSink: () => sink });
    const app = defineApp('stop');
    app
      .source('in', { uri: 'endless:', decode: stringCodec })
      .state('count', {
        key: (l: string) => l,
        init: () => ({ n: 0 }),
        update: (s: { n: number }, l: string, emit: (o: string) => void) => {
          emit(`${l} ${s.n + 1}`);
          return { n: s.n + 1 };
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'slow:', encode: stringCodec });
    const run = startEmbedded(app.build(), { clock, log: silent, deadLetters: new MemoryDeadLetterSink() });
    await new Promise((r) => setTimeout(r, 60));
    const summary = await run.stop();
    expect(summary.stoppedEarly).toBe(true);
    expect(source.emitted).toBeGreaterThan(0);
    // Everything the source emitted reached the sink: nothing lost in flight.
    expect(sink.written).toBe(source.emitted);
    expect(summary.metrics.sunk).toBe(source.emitted);
    expect(sink.flushed && sink.closed).toBe(true);
    // The source waited for each write: backpressure kept at most one batch in the sink.
    expect(sink.maxInFlight).toBe(1);
  });

  it('stopSources() stops and drains the sources but keeps sinks open for peers until stop()', async () => {
    const source = new EndlessSource();
    const sink = new SlowSink(1);
    registerConnector('endless2', { createSource: () => source });
    registerConnector('slow2', { createSink: () => sink });
    const app = defineApp('two-phase', { partitions: 2 });
    app
      .source('in', { uri: 'endless2:', decode: stringCodec })
      .state('count', {
        key: (l: string) => l,
        init: () => ({ n: 0 }),
        update: (s: { n: number }, l: string, emit: (o: string) => void) => {
          emit(`${l} ${s.n + 1}`);
          return { n: s.n + 1 };
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'slow2:', encode: stringCodec });
    const e = createWorkerEngine({
      app: app.build(),
      workerName: 'w1',
      partitions: { partitionCount: 2, owners: ['w1', 'w1'] },
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(),
      remote: { send: () => undefined },
    });
    await e.start();
    await new Promise((r) => setTimeout(r, 30));
    await e.stopSources();
    const emitted = source.emitted;
    expect(sink.written).toBe(emitted);
    expect(sink.closed).toBe(false);
    await e.sourcesDone();
    await e.deliverRemote({
      step: 'count',
      fromWorker: 'w2',
      source: [0],
      offset: [0],
      sub: [0],
      bornMs: [clock.nowMs()],
      partition: [partitionOfKey('late', 2)],
      payloads: ['late'],
    });
    expect(sink.written).toBe(emitted + 1);
    await e.stop();
    expect(sink.closed).toBe(true);
    expect(source.emitted).toBe(emitted);
  });

  it('a source whose offsets do not increase fails the run, naming the source', async () => {
    for (const [name, batches] of [
      [
        'back',
        [
          { payloads: ['a', 'b'], firstOffset: 5 },
          { payloads: ['c'], firstOffset: 6 },
        ],
      ],
      ['dup', [{ payloads: ['a', 'b'], firstOffset: 0, offsets: [3, 3] }]],
    ] as const) {
      registerConnector(name, {
        createSource: () => ({
          uri: `${name}:`,
          run: async (ctx: SourceContext) => {
            for (const b of batches) await ctx.emit(b);
          },
          stop: async () => undefined,
        }),
      });
      const app = defineApp('offsets');
      app
        .source('in', { uri: `${name}:`, decode: stringCodec })
        .sink('out', { uri: 'count:', encode: stringCodec });
      await expect(
        runEmbedded(app.build(), { clock, log: silent, deadLetters: new MemoryDeadLetterSink() }),
      ).rejects.toThrow(
        new RegExp(`source "in" \\(${name}:\\).*offset.*does not follow.*offsets must increase`),
      );
    }
  });

  it('a failing sink fails the run with its error, and the engine still closes', async () => {
    registerConnector('failing', {
      createSink: () => ({
        uri: 'failing:',
        write: () => Promise.reject(new Error('disk full')),
        flush: async () => undefined,
        close: async () => undefined,
      }),
    });
    setMemorySource('f-in', ['a:1', 'b:2']);
    const app = defineApp('f');
    app
      .source('in', { uri: 'memory:f-in', decode: stringCodec })
      .sink('out', { uri: 'failing:', encode: stringCodec });
    await expect(
      runEmbedded(app.build(), { clock, log: silent, deadLetters: new MemoryDeadLetterSink() }),
    ).rejects.toThrow(/disk full/);
  });
});
