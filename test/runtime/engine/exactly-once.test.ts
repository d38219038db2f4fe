// Exactly-once in the engine, in process over a MemoryStore: recovery from the store (a re-run
// resumes after the committed offset, and a replay from the start changes nothing), file sink
// truncation to its committed length (also after a crash between its write and its commit), the watermark rules on remote batches (duplicate, gap ->
// onGap, partial overlap), range-carrying batches to every worker, file source resume and
// rewind by byte position, and a state -> state topology run embedded.
import { unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineApp } from '../../../runtime/api/app.ts';
import type { Application } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  registerConnector,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { FileSource } from '../../../runtime/connectors/file.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded, startEmbedded } from '../../../runtime/engine/embedded.ts';
import { partitionOfKey } from '../../../runtime/engine/partition.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { probedStore } from './store-probe.ts';
import { MemoryStore, createSystemClock } from '../../../runtime/system.ts';
import type { Logger, RemoteBatch, SourceBatch, Store } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-eo-'));
});
afterEach(() => {
  clearMemoryConnectors();
  rmSync(dir, { recursive: true, force: true });
});

/** Words -> counts, each update "word n" to `sink`. */
function countApp(source: string, sink: string, partitions = 8): Application {
  const app = defineApp('counts', { partitions });
  app
    .source('lines', { uri: source, decode: stringCodec })
    .flatMap('split', (l: string) => l.split(' ').filter((w) => w !== ''))
    .state('count', {
      key: (w: string) => w,
      init: () => 0,
      update: (n: number, w: string, emit: (o: string) => void) => {
        emit(`${w} ${n + 1}`);
        return n + 1;
      },
      codec: stringCodec,
    })
    .sink('out', { uri: sink, encode: stringCodec });
  app.onFinish((v) =>
    [...v.states<number>('count')]
      .map(([k, n]) => `${k}=${n}`)
      .sort()
      .join(','),
  );
  return app.build();
}

const run = (app: Application, store: Store, durability: 'sync' | 'batch' | 'none' = 'batch') =>
  runEmbedded(app, {
    clock,
    log: silent,
    deadLetters: new MemoryDeadLetterSink(silent),
    exactlyOnce: { store, durability, commitIntervalMs: 0 },
  });

function lines(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `w${(from + i) % 7} w${(from + i) % 3} x`);
}

function expectedUpdates(all: readonly string[]): string[] {
  const c = new Map<string, number>();
  const out: string[] = [];
  for (const l of all)
    for (const w of l.split(' ')) {
      const n = (c.get(w) ?? 0) + 1;
      c.set(w, n);
      out.push(`${w} ${n}`);
    }
  return out;
}

/** `paced:NAME`: the lines set with setPaced(NAME), 4 per batch, one batch per timer turn, so
 * that commits (one in flight) interleave with the batches. Replays from the start. */
const pacedLines = new Map<string, readonly string[]>();
registerConnector('paced', {
  createSource: (uri) => ({
    uri: uri.raw,
    async run(ctx) {
      const all = pacedLines.get(uri.rest) ?? [];
      for (let i = 0; i < all.length && !ctx.signal.aborted; i += 4) {
        await new Promise((res) => setTimeout(res, 0));
        await ctx.emit({ payloads: all.slice(i, i + 4), firstOffset: i });
      }
    },
    async stop() {},
  }),
});

describe('recovery from the store', () => {
  it('a re-run over a grown file resumes after the committed line; the sink holds each update once', async () => {
    const input = path.join(dir, 'in.txt');
    const output = path.join(dir, 'out.txt');
    const first = lines(600);
    writeFileSync(input, `${first.join('\n')}\n`);
    const store = new MemoryStore();
    const app = countApp(`file:${input}`, `file:${output}`);
    const r1 = await run(app, store);
    expect(r1.metrics.ingested).toBe(600);
    const more = lines(300, 600);
    appendFileSync(input, `${more.join('\n')}\n`);
    const r2 = await run(countApp(`file:${input}`, `file:${output}`), store);
    expect(r2.metrics.ingested).toBe(300); // resumed at line 600, by byte position
    const want = expectedUpdates([...first, ...more]);
    expect(readFileSync(output, 'utf8')).toBe(`${want.join('\n')}\n`);
    // The states were recovered, then advanced.
    const finals = new Map(want.map((u) => u.split(' ') as [string, string]));
    expect(r2.finishText).toBe(
      [...finals]
        .map(([w, n]) => `${w}=${n}`)
        .sort()
        .join(','),
    );
    // A third run over the same file has nothing to do and writes nothing.
    const r3 = await run(countApp(`file:${input}`, `file:${output}`), store);
    expect(r3.metrics.ingested).toBe(0);
    expect(readFileSync(output, 'utf8')).toBe(`${want.join('\n')}\n`);
  });

  it('a source is told the committed offset it resumes after, at start (not only when it advances)', async () => {
    const commits: number[][] = [];
    const all = lines(50);
    registerConnector('commitprobe', {
      createSource: () => {
        const seen: number[] = [];
        commits.push(seen);
        return {
          uri: 'commitprobe:',
          async run(ctx) {
            const from = ctx.resume?.offset ?? 0;
            if (from < all.length)
              await ctx.emit({ payloads: all.slice(from), firstOffset: from, endPosition: all.length });
          },
          async stop() {},
          commit: (offset: number) => void seen.push(offset),
        };
      },
    });
    const store = new MemoryStore();
    const r1 = await run(countApp('commitprobe:', 'count:'), store);
    expect(r1.metrics.ingested).toBe(50);
    expect(commits[0]!.at(-1)).toBe(49);
    const r2 = await run(countApp('commitprobe:', 'count:'), store);
    expect(r2.metrics.ingested).toBe(0);
    expect(commits[1]).toEqual([49]);
  });

  it('a source that replays from its start (memory:) is dropped as duplicates: state unchanged', async () => {
    const input = lines(100);
    setMemorySource('eo-in', input, 16);
    const store = new MemoryStore();
    const r1 = await run(countApp('memory:eo-in', 'memory:eo-out'), store);
    const again = await run(countApp('memory:eo-in', 'memory:eo-out'), store);
    expect(again.metrics.stateApplied.count).toBe(0);
    expect(again.finishText).toBe(r1.finishText);
    // memory: is not resumable: written at once (at-least-once), once per run here.
    expect(memorySinkPayloads('eo-out')).toHaveLength(expectedUpdates(input).length);
  });

  it('the file sink is cut back to its recorded length; a file shorter than recorded is refused', async () => {
    const input = path.join(dir, 'in.txt');
    const output = path.join(dir, 'out.txt');
    writeFileSync(input, `${lines(50).join('\n')}\n`);
    const store = new MemoryStore();
    await run(countApp(`file:${input}`, `file:${output}`), store);
    const good = readFileSync(output, 'utf8');
    appendFileSync(output, 'torn half-line from a crash');
    await run(countApp(`file:${input}`, `file:${output}`), store);
    expect(readFileSync(output, 'utf8')).toBe(good);
    writeFileSync(output, good.slice(0, 10));
    await expect(run(countApp(`file:${input}`, `file:${output}`), store)).rejects.toThrow(
      /out\.txt holds 10 bytes, fewer than the \d+ its store records as written: it was changed outside this worker/,
    );
  });

  it('a crash between the file write and its commit: the file is cut back to the committed length and the replay writes those outputs once', async () => {
    const output = path.join(dir, 'out.txt');
    const all = lines(200);
    pacedLines.set('crash-in', all);
    const want = `${expectedUpdates(all).join('\n')}\n`;
    for (const keep of [1, 2, 3, 5]) {
      rmSync(output, { force: true });
      // A store that keeps only its first `keep` commits (each a little slow, so the file
      // sink's writes run ahead of them): the worker died with the rest of its file written
      // and never committed.
      const inner = new MemoryStore();
      let commits = 0;
      const store = probedStore(inner, async (ops) => {
        await new Promise((res) => setTimeout(res, 1));
        if (++commits <= keep) await inner.writeBatch(ops);
      });
      await run(countApp('paced:crash-in', `file:${output}`), store);
      expect(readFileSync(output, 'utf8')).toBe(want);
      const recorded = await inner.get('k/out');
      const committedBytes = recorded === undefined ? 0 : (unpack(recorded) as [number, number])[1];
      expect(committedBytes).toBeLessThan(Buffer.byteLength(want)); // outputs beyond the commit
      appendFileSync(output, 'half a li'); // and a torn write at the end
      await run(countApp('paced:crash-in', `file:${output}`), inner);
      expect(readFileSync(output, 'utf8'), `after ${keep} commits`).toBe(want);
    }
  });
});

describe('watermarks on remote batches', () => {
  function worker2(store: Store, gaps: [number, number][], durable: Record<number, number>[]) {
    const app = countApp('memory:none', 'memory:w2-out', 2);
    // w1 owns partition 0, w2 partition 1.
    const engine = createWorkerEngine({
      app,
      workerName: 'w2',
      partitions: { partitionCount: 2, owners: ['w1', 'w2'] },
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      remote: { send: () => undefined },
      runSources: false,
      exactlyOnce: {
        store,
        durability: 'none',
        commitIntervalMs: 0,
        onDurable: (m) => durable.push({ ...m }),
        onGap: (s, o) => gaps.push([s, o]),
      },
    });
    return { app, engine };
  }
  const keyOn = (p: number): string => {
    for (let i = 0; ; i++) if (partitionOfKey(`k${i}`, 2) === p) return `k${i}`;
  };
  const batch = (offsets: number[], from: number, through: number, key: string): RemoteBatch => ({
    step: 'count',
    fromWorker: 'w1',
    source: offsets.map(() => 0),
    offset: offsets,
    sub: offsets.map(() => 0),
    bornMs: offsets.map(() => 0),
    partition: offsets.map(() => 1),
    payloads: offsets.map(() => key),
    ranges: [{ source: 0, from, through }],
  });

  it('duplicate dropped, gap dropped and reported, partial overlap applies only what is new', async () => {
    const gaps: [number, number][] = [];
    const durable: Record<number, number>[] = [];
    const { engine } = worker2(new MemoryStore(), gaps, durable);
    const k = keyOn(1);
    await engine.start();
    await engine.deliverRemote(batch([0, 3, 5], -1, 9, k));
    await engine.deliverRemote(batch([0, 3, 5], -1, 9, k)); // duplicate
    await engine.deliverRemote(batch([12], 11, 15, k)); // gap: 10..11 missing
    expect(gaps).toEqual([[0, 10]]);
    await engine.deliverRemote(batch([8, 9, 11, 14], 7, 15, k)); // 8, 9 seen: 11 and 14 new
    const n = [...engine.finishView().states<number>('count')];
    expect(n).toEqual([[k, 5]]);
    await engine.deliverRemote(batch([], 15, 20, 'unused')); // empty: carries the range only
    await engine.stop();
    expect(durable.at(-1)).toEqual({ 0: 20 });
  });

  it('a batch without ranges is refused on an exactly-once worker, naming the sender', async () => {
    const { engine } = worker2(new MemoryStore(), [], []);
    await engine.start();
    const { ranges: _r, ...bare } = batch([1], 0, 1, keyOn(1));
    await expect(engine.deliverRemote(bare)).rejects.toThrow(/from "w1" without source ranges/);
  });

  it('the source worker sends every other worker one batch per source batch, with its range', async () => {
    setMemorySource('eo-src', lines(48), 16);
    const sent: RemoteBatch[] = [];
    const workers: string[] = [];
    const app = countApp('memory:eo-src', 'memory:eo-w1', 4);
    const engine = createWorkerEngine({
      app,
      workerName: 'w1',
      partitions: { partitionCount: 4, owners: ['w1', 'w2', 'w1', 'w3'] },
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      remote: {
        send: (w, b) => {
          workers.push(w);
          sent.push(b);
        },
      },
      exactlyOnce: {
        store: new MemoryStore(),
        durability: 'none',
        onDurable: () => undefined,
        onGap: () => undefined,
      },
    });
    await engine.start();
    await engine.sourcesDone();
    await engine.stop();
    expect(workers).toEqual(['w2', 'w3', 'w2', 'w3', 'w2', 'w3']); // 3 source batches x 2 others
    expect(sent.map((b) => b.ranges)).toEqual([
      [{ source: 0, from: -1, through: 15 }],
      [{ source: 0, from: -1, through: 15 }],
      [{ source: 0, from: 15, through: 31 }],
      [{ source: 0, from: 15, through: 31 }],
      [{ source: 0, from: 31, through: 47 }],
      [{ source: 0, from: 31, through: 47 }],
    ]);
    // What w2 and w3 got is exactly what hashes to their partitions.
    for (const b of sent)
      expect(new Set(b.partition)).toEqual(new Set(b.partition.filter((p) => p === 1 || p === 3)));
  });
});

describe('resumable sinks', () => {
  it('without length() (not truncatable to a commit) are written from the outbox (every output once), settled with fsync only for durability sync', async () => {
    const calls: string[] = [];
    let bytes = 0;
    registerConnector('rsink', {
      createSink: (uri, ctx) => ({
        uri: uri.raw,
        write: (b) => {
          calls.push(`write ${b.payloads.length}`);
          bytes += b.payloads.length;
        },
        flush: async () => undefined,
        close: async () => undefined,
        ...(ctx.exactlyOnce
          ? {
              resumable: {
                truncate: async (n: number) => void calls.push(`truncate ${n}`),
                settle: async (fsync: boolean) => {
                  calls.push(`settle ${fsync}`);
                  return bytes;
                },
              },
            }
          : {}),
      }),
    });
    setMemorySource('rs-in', lines(20), 8);
    for (const durability of ['sync', 'batch'] as const) {
      calls.length = 0;
      await run(countApp('memory:rs-in', 'rsink:'), new MemoryStore(), durability);
      expect(calls[0]).toBe('truncate 0');
      const settles = calls.filter((c) => c.startsWith('settle'));
      expect(settles.length).toBeGreaterThan(0);
      expect(new Set(settles)).toEqual(new Set([`settle ${durability === 'sync'}`]));
      // Every output reaches the sink once.
      const written = calls
        .filter((c) => c.startsWith('write'))
        .reduce((n, c) => n + Number(c.split(' ')[1]), 0);
      expect(written).toBe(expectedUpdates(lines(20)).length);
    }
  });
});

describe('lifecycle', () => {
  it('goes starting -> ... -> running -> stopped, and failed with the reason when recovery fails', async () => {
    const input = path.join(dir, 'in.txt');
    writeFileSync(input, 'a b\n');
    const opts = {
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      exactlyOnce: { store: new MemoryStore(), durability: 'none' as const },
    };
    const ok = startEmbedded(countApp(`file:${input}`, `file:${path.join(dir, 'o.txt')}`), opts);
    expect(ok.engine.phase()).toBe('recovering');
    await ok.done;
    expect(ok.engine.phase()).toBe('stopped');
    const broken = new MemoryStore();
    await broken.writeBatch([{ key: 'n/output', value: new Uint8Array([0xc1]) }]); // not msgpack
    const bad = startEmbedded(countApp(`file:${input}`, `file:${path.join(dir, 'o2.txt')}`), {
      ...opts,
      exactlyOnce: { store: broken, durability: 'none' },
    });
    await expect(bad.done).rejects.toThrow(/worker "embedded": the next output id .*the store is corrupt/);
    expect(bad.engine.phase()).toBe('failed');
  });
});

describe('file source resume and rewind', () => {
  it('resumes at a recorded byte position, and a rewind re-reads from an earlier batch end', async () => {
    const file = path.join(dir, 'src.txt');
    const text = ['alpha', 'béta', 'gamma', 'δέλτα', 'epsilon', 'zeta', 'eta'].join('\n');
    writeFileSync(file, `${text}\n`);
    const got: SourceBatch[] = [];
    const source = new FileSource('file:src', file, { batchLines: 2, chunkBytes: 5 });
    let rewound = false;
    await source.run({
      sourceName: 'src',
      workerName: 'w',
      clock,
      log: silent,
      signal: new AbortController().signal,
      resume: { offset: 0, position: 0 },
      emit: async (b) => {
        got.push(b);
        if (b.firstOffset === 4 && !rewound) {
          rewound = true;
          source.rewind({ offset: 2, position: got[0]!.endPosition! });
        }
      },
    });
    expect(got.map((b) => [b.firstOffset, ...b.payloads])).toEqual([
      [0, 'alpha', 'béta'],
      [2, 'gamma', 'δέλτα'],
      [4, 'epsilon', 'zeta'],
      [2, 'gamma', 'δέλτα'],
      [4, 'epsilon', 'zeta'],
      [6, 'eta'],
    ]);
    const bytes = readFileSync(file);
    for (const b of got)
      expect(bytes.subarray(0, b.endPosition).toString('utf8').split('\n').length - 1).toBe(
        b.firstOffset + b.payloads.length,
      );
    // Resume from the end of the second batch.
    const resumed: SourceBatch[] = [];
    await new FileSource('file:src', file, { batchLines: 3 }).run({
      sourceName: 'src',
      workerName: 'w',
      clock,
      log: silent,
      signal: new AbortController().signal,
      resume: { offset: 4, position: got[1]!.endPosition! },
      emit: async (b) => void resumed.push(b),
    });
    expect(resumed.map((b) => [b.firstOffset, ...b.payloads])).toEqual([[4, 'epsilon', 'zeta', 'eta']]);
  });
});

describe('state -> state (outboxes between state steps: test/runtime/engine/chain.test.ts)', () => {
  function chained(exactlyOnce?: boolean): Application {
    const app = defineApp('chain', { partitions: 2, ...(exactlyOnce === undefined ? {} : { exactlyOnce }) });
    app
      .source('in', { uri: 'memory:chain-in', decode: stringCodec })
      .state<number, string>('first', {
        key: (s) => s,
        init: () => 0,
        update: (n, s, emit) => (emit(s), n + 1),
      })
      .map('again', (s: string) => s)
      .state('second', { key: (s: string) => s, init: () => 0, update: (n: number) => n + 1 })
      .map('show', (n: unknown) => String(n))
      .sink('out', { uri: 'memory:chain-out', encode: stringCodec });
    app.onFinish((v) => JSON.stringify([...v.states<number>('second')].sort()));
    return app.build();
  }

  it('a state step whose outputs reach another runs exactly-once; a re-run replays nothing', async () => {
    setMemorySource('chain-in', ['a', 'b', 'a']);
    const store = new MemoryStore();
    const opts = { store, durability: 'none' as const };
    const deps = { clock, log: silent, deadLetters: new MemoryDeadLetterSink(silent), exactlyOnce: opts };
    const r = await runEmbedded(chained(), deps);
    expect(r.metrics.stateApplied).toEqual({ first: 3, second: 3 });
    expect(r.finishText).toBe(
      JSON.stringify([
        ['a', 2],
        ['b', 1],
      ]),
    );
    // memory: replays from its start: every batch is a duplicate, both states stay.
    const again = await runEmbedded(chained(), { ...deps, deadLetters: new MemoryDeadLetterSink(silent) });
    expect(again.metrics.stateApplied).toEqual({ first: 0, second: 0 });
    expect(again.finishText).toBe(
      JSON.stringify([
        ['a', 2],
        ['b', 1],
      ]),
    );
    const said: string[] = [];
    const off = await runEmbedded(chained(false), {
      ...deps,
      log: { ...silent, info: (m) => said.push(m) },
      deadLetters: new MemoryDeadLetterSink(silent),
    });
    expect(off.metrics.stateApplied).toEqual({ first: 3, second: 3 });
    expect(said.join('\n')).toMatch(/exactlyOnce: false: at-least-once/);
  });
});
