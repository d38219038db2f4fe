// Three workers in one process: worker engines joined by DataPlanes over the deterministic
// in-memory TestNetwork (small windows so credit runs out, batches split, byte streams cut at
// seeded points). Word count must give exactly the counts of a single-process run, whatever
// the seed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { DataPlane } from '../../../runtime/cluster/data-plane.ts';
import { TestNetwork } from '../../../runtime/net/test-transport.ts';
import { loadApp } from '../../../runtime/api/load.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { roundRobinTable } from '../../../runtime/engine/partition.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { memorySinkPayloads, setMemorySource } from '../../../runtime/connectors/index.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';
import { defineApp } from '../../../runtime/api/app.ts';
import type { Application } from '../../../runtime/api/app.ts';
import { jsonCodec, stringCodec } from '../../../runtime/api/codec.ts';

const APP = fileURLToPath(new URL('../../../examples/word-count.ts', import.meta.url));
const VOCAB = [
  'the',
  'of',
  'and',
  'to',
  'a',
  'in',
  'is',
  "don't",
  'river',
  'stone',
  'ünï',
  'x1',
  'y2',
  'zebra',
];

const quiet: Logger = { info: () => {}, warn: () => {}, error: (m) => errors.push(m) };
const errors: string[] = [];

function finalCounts(updates: readonly unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const u of updates) {
    const s = typeof u === 'string' ? u : Buffer.from(u as Uint8Array).toString();
    const sp = s.lastIndexOf(' ');
    const w = s.slice(0, sp);
    out.set(w, Math.max(out.get(w) ?? 0, Number(s.slice(sp + 1))));
  }
  return out;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

interface SimResult {
  updates: number;
  counts: Map<string, number>;
  remoteBatches: number;
  /** Steps at which some sender had batches waiting for credit. */
  stalledSteps: number;
}

type AppMaker = (source: string, sink: string) => Promise<Application>;

const wordCountApp: AppMaker = (source, sink) =>
  loadApp(APP, { source, sink, params: { top: '0', partitions: '16' } });

/** Two state hops: word counts, then (keyed by word length) how many updates per length. Both
 * hops cross workers in every direction. */
const twoHopApp: AppMaker = async (source, sink) => {
  const app = defineApp('two-hop', { partitions: 12 });
  app
    .source('lines', { uri: source, decode: stringCodec })
    .flatMap('split', (line: string) => line.split(' ').filter((w) => w.length > 0))
    .state('counts', {
      key: (w: string) => w,
      init: () => ({ n: 0 }),
      update: (st: { n: number }, w: string, emit: (u: { word: string; count: number }) => void) => {
        emit({ word: w, count: st.n + 1 });
        return { n: st.n + 1 };
      },
      codec: stringCodec,
    })
    .state('by-length', {
      key: (u: { word: string; count: number }) => u.word.length,
      init: () => ({ n: 0 }),
      update: (st: { n: number }, u: { word: string; count: number }, emit: (line: string) => void) => {
        emit(`len${u.word.length} ${st.n + 1}`);
        return { n: st.n + 1 };
      },
      codec: jsonCodec<{ word: string; count: number }>(),
    })
    .sink('out', { uri: sink, encode: (l: string) => l });
  return app.build();
};

async function simulate(
  lines: string[],
  seed: number,
  run: number,
  make: AppMaker = wordCountApp,
): Promise<SimResult> {
  const names = ['w1', 'w2', 'w3'];
  setMemorySource(`sim-${run}`, lines, 4);
  const app = await make(`memory:sim-${run}`, `memory:sim-out-${run}`);
  const partitions = roundRobinTable(names, app.partitionCount);
  const net = new TestNetwork({ seed });
  const windowBytes = 512;
  const planes = names.map((n) => new DataPlane(n, quiet, windowBytes / 2, 8));
  const engines = names.map((n, i) =>
    createWorkerEngine({
      app,
      workerName: n,
      partitions,
      clock: createSystemClock(),
      log: quiet,
      deadLetters: new MemoryDeadLetterSink(),
      remote: planes[i]!,
      runSources: n === 'w1',
    }),
  );
  planes.forEach((p, i) => (p.engine = engines[i]!));
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const opts = (k: number, peer: number) => ({
        local: { cluster: 'sim', app: app.name, worker: names[k]! },
        expectedPeer: names[peer]!,
        windowBytes,
        windowFrames: 16,
        maxQueuedBytes: windowBytes,
      });
      const link = net.link(
        opts(i, j),
        opts(j, i),
        { onBatch: (b, from, ep) => planes[i]!.onBatch(ep, b, from), log: quiet.error },
        { onBatch: (b, from, ep) => planes[j]!.onBatch(ep, b, from), log: quiet.error },
      );
      planes[i]!.addChannel(names[j]!, link.a);
      planes[j]!.addChannel(names[i]!, link.b);
    }
  }
  net.run();
  for (let i = 0; i < names.length; i++) {
    await engines[i]!.start();
    planes[i]!.setStarted();
  }
  let sourcesDone = false;
  let stalledSteps = 0;
  let failure: unknown = null;
  engines[0]!.sourcesDone().then(
    () => (sourcesDone = true),
    (err: unknown) => (failure = err),
  );
  for (let guard = 0; ; guard++) {
    if (guard > 200_000) throw new Error('simulation did not finish');
    if (failure) throw failure;
    const moved = net.step() || net.step();
    await tick();
    if (planes.some((p) => [...p.channels.values()].some((c) => c.core.stats.queuedBatches > 0)))
      stalledSteps++;
    const sent = planes.reduce((n, p) => n + p.sentBatches, 0);
    const processed = planes.reduce((n, p) => n + p.processedBatches, 0);
    if (!moved && sourcesDone && sent === processed && planes.every((p) => !p.busy) && net.pendingBytes === 0)
      break;
  }
  for (const e of engines) await e.stop();
  const out = memorySinkPayloads(`sim-out-${run}`);
  return {
    updates: out.length,
    counts: finalCounts(out),
    remoteBatches: planes.reduce((n, p) => n + p.sentBatches, 0),
    stalledSteps,
  };
}

describe('simulated 3-worker cluster on the test transport', () => {
  let run = 0;
  const stats = { remoteBatches: 0, stalledSteps: 0 };
  it('counts like the single-process run for any seed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.constantFrom(...VOCAB), { maxLength: 12 }).map((ws) => ws.join(' ')),
          { minLength: 10, maxLength: 120 },
        ),
        fc.integer({ min: 1, max: 1 << 30 }),
        async (lines, seed) => {
          run++;
          errors.length = 0;
          setMemorySource(`ref-${run}`, lines, 16);
          const refApp = await loadApp(APP, {
            source: `memory:ref-${run}`,
            sink: `memory:ref-out-${run}`,
            params: { top: '0', partitions: '16' },
          });
          await runEmbedded(refApp, {
            clock: createSystemClock(),
            log: quiet,
            deadLetters: new MemoryDeadLetterSink(),
          });
          const ref = memorySinkPayloads(`ref-out-${run}`);
          const got = await simulate(lines, seed, run);
          expect(errors).toEqual([]);
          expect(got.updates).toBe(ref.length);
          expect(got.counts).toEqual(finalCounts(ref));
          stats.remoteBatches += got.remoteBatches;
          stats.stalledSteps += got.stalledSteps;
        },
      ),
      { numRuns: 25 },
    );
    // The runs did cross workers, and credit did run out at times.
    expect(stats.remoteBatches).toBeGreaterThan(50);
    expect(stats.stalledSteps).toBeGreaterThan(0);
  });

  it('drains a two-hop app (traffic between every pair of workers) exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.constantFrom(...VOCAB), { maxLength: 12 }).map((ws) => ws.join(' ')),
          { minLength: 10, maxLength: 80 },
        ),
        fc.integer({ min: 1, max: 1 << 30 }),
        async (lines, seed) => {
          run++;
          errors.length = 0;
          setMemorySource(`ref-${run}`, lines, 16);
          const refApp = await twoHopApp(`memory:ref-${run}`, `memory:ref-out-${run}`);
          await runEmbedded(refApp, {
            clock: createSystemClock(),
            log: quiet,
            deadLetters: new MemoryDeadLetterSink(),
          });
          const ref = memorySinkPayloads(`ref-out-${run}`);
          const got = await simulate(lines, seed, run, twoHopApp);
          expect(errors).toEqual([]);
          expect(got.updates).toBe(ref.length);
          expect(got.counts).toEqual(finalCounts(ref));
        },
      ),
      { numRuns: 15 },
    );
  });
});
