// Word count on an OR-Map of counters under at-least-once delivery: two workers in one process,
// the one running the source owns no partition, so every word crosses to the other through a
// remote outlet that delivers batches more than once (at once, and again later: a replay of old
// ids). The CRDT word count still gives the exact counts of a naive reference; the plain word
// count, under the same duplicates, over-counts.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import wordCountCrdt, { AllWords } from '../../examples/word-count-crdt.ts';
import wordCount, { DEFAULT_TEXT, splitWords } from '../../examples/word-count.ts';
import { defineApp } from '../../runtime/api/app.ts';
import type { Application } from '../../runtime/api/app.ts';
import { stringCodec } from '../../runtime/api/codec.ts';
import { toAppOptions } from '../../runtime/api/options.ts';
import { clearMemoryConnectors, setMemorySource } from '../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { runEmbedded, startEmbedded } from '../../runtime/engine/embedded.ts';
import { createWorkerEngine } from '../../runtime/engine/worker.ts';
import { crdtCodec, encodeState } from '../../runtime/state/index.ts';
import { MemoryStore, createSystemClock } from '../../runtime/system.ts';
import type { Logger, RemoteBatch } from '../../runtime/types.ts';
import { rng } from '../runtime/state/harness.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

/** Naive reference, independent of splitWords: lowercase runs of letters, digits, apostrophes. */
function reference(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) {
    for (const raw of l.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
      const w = raw.replace(/^'+|'+$/g, '');
      if (w) m.set(w, (m.get(w) ?? 0) + 1);
    }
  }
  return m;
}

interface DupRun {
  readonly counts: Map<string, number>;
  readonly delivered: number;
  readonly duplicates: number;
  readonly deadLetters: number;
}

/** Runs `app` on two workers; batches to the state's worker are delivered 1-3 times at once
 * and, with probability `replay`, an earlier batch is delivered again. After the source ends,
 * a few old batches are replayed once more. */
async function runWithDuplicates(
  app: Application,
  countsOf: (states: Iterable<readonly [string | number, unknown]>) => Map<string, number>,
  seed: number,
  replay = 0.3,
): Promise<DupRun> {
  const r = rng(seed);
  const owners = new Array<string>(app.partitionCount).fill('back');
  const partitions = { partitionCount: app.partitionCount, owners };
  const dead = new MemoryDeadLetterSink();
  const back = createWorkerEngine({
    app,
    workerName: 'back',
    partitions,
    clock,
    log: silent,
    deadLetters: dead,
    runSources: false,
    remote: { send: () => Promise.reject(new Error('back sends nothing')) },
  });
  const history: RemoteBatch[] = [];
  let delivered = 0;
  let duplicates = 0;
  const deliver = async (b: RemoteBatch, dup: boolean): Promise<void> => {
    delivered += b.payloads.length;
    if (dup) duplicates += b.payloads.length;
    await back.deliverRemote(b);
  };
  const front = createWorkerEngine({
    app,
    workerName: 'front',
    partitions,
    clock,
    log: silent,
    deadLetters: new MemoryDeadLetterSink(),
    remote: {
      async send(worker, b) {
        expect(worker).toBe('back');
        history.push(b);
        const times = 1 + Math.floor(r() * 3);
        for (let i = 0; i < times; i++) await deliver(b, i > 0);
        if (r() < replay) await deliver(history[Math.floor(r() * history.length)]!, true);
      },
    },
  });
  await back.start();
  await front.start();
  await front.sourcesDone();
  for (let i = 0; i < 5 && history.length > 0; i++)
    await deliver(history[Math.floor(r() * history.length)]!, true);
  await front.stop();
  await back.stop();
  return {
    counts: countsOf(back.finishView().states('counts')),
    delivered,
    duplicates,
    deadLetters: dead.letters.length,
  };
}

const crdtCounts = (states: Iterable<readonly [string | number, unknown]>): Map<string, number> => {
  const map = AllWords.fromEntries(
    states as Iterable<readonly [string, ReturnType<typeof AllWords.entry.empty>]>,
  );
  return new Map(Object.entries(AllWords.value(map)));
};
const plainCounts = (states: Iterable<readonly [string | number, unknown]>): Map<string, number> =>
  new Map([...states].map(([k, n]) => [String(k), n as number]));

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));

function apps(
  tag: string,
  lines: readonly string[],
  batch: number,
): { crdt: Application; plain: Application } {
  setMemorySource(tag, lines, batch);
  const options = toAppOptions({ source: `memory:${tag}`, param: ['top=0', 'partitions=16'] });
  return { crdt: wordCountCrdt(options), plain: wordCount(options) };
}

describe('word count on an OR-Map of counters, at-least-once delivery', () => {
  it('gives the exact counts under injected duplicates; the plain word count over-counts', async () => {
    const lines = readFileSync(DEFAULT_TEXT, 'utf8').split('\n').slice(0, 2000);
    const { crdt, plain } = apps('sample', lines, 64);
    const expected = reference(lines);
    const c = await runWithDuplicates(crdt, crdtCounts, 7);
    expect(c.duplicates).toBeGreaterThan(0);
    expect(c.deadLetters).toBe(0);
    expect(sorted(c.counts)).toEqual(sorted(expected));
    const p = await runWithDuplicates(plain, plainCounts, 7);
    expect(p.duplicates).toBe(c.duplicates); // same seed, same duplicates
    let total = 0;
    for (const n of p.counts.values()) total += n;
    let exact = 0;
    for (const n of expected.values()) exact += n;
    expect(total).toBe(exact + p.duplicates);
    expect(sorted(p.counts)).not.toEqual(sorted(expected));
  });

  it('exact for any text, batch size and duplication pattern', async () => {
    const word = fc.constantFrom('a', 'b', 'the', "don't", 'Zoë', 'x1');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(word, { maxLength: 8 }).map((ws) => ws.join(' ')),
          { maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        async (lines, batch, seed) => {
          clearMemoryConnectors();
          const { crdt } = apps('prop', lines, batch);
          const c = await runWithDuplicates(crdt, crdtCounts, seed, 0.5);
          expect(sorted(c.counts)).toEqual(sorted(reference(lines)));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('runs embedded like the plain example, with the same counts and top words', async () => {
    const lines = readFileSync(DEFAULT_TEXT, 'utf8').split('\n').slice(0, 500);
    setMemorySource('emb', lines, 32);
    const options = toAppOptions({ source: 'memory:emb', param: ['top=5'] });
    const opts = () => ({ clock, log: silent, deadLetters: new MemoryDeadLetterSink() });
    const crdt = await runEmbedded(wordCountCrdt(options), opts());
    const plain = await runEmbedded(wordCount(options), opts());
    let total = 0;
    for (const n of reference(lines).values()) total += n;
    expect(crdt.metrics.sunk).toBe(total); // one update per word, no duplicates here
    expect(crdt.finishText).toMatch(/^top 5 words/);
    expect(crdt.finishText).toBe(plain.finishText);
  });

  it('a state moved to another worker through the store, then a replay from offset 0, still counts exactly', async () => {
    const lines = readFileSync(DEFAULT_TEXT, 'utf8').split('\n').slice(0, 800);
    const Entry = AllWords.entry;
    type E = ReturnType<typeof Entry.empty>;
    /** The counting step of the example, with `init` taking a key's state from `loaded`. */
    const app = (tag: string, loaded: Map<string, E>): Application => {
      const a = defineApp(`moved-${tag}`, { partitions: 8 });
      a.source('lines', { uri: `memory:${tag}`, decode: stringCodec })
        .flatMap('split', splitWords)
        .state('counts', {
          key: (w: string) => w,
          init: (k) => loaded.get(String(k)) ?? Entry.empty(),
          update: (e: E, _w: string, emit: (n: number) => void, _k, id) => {
            const next = Entry.update(e, id, 1);
            if (next !== e) emit(1);
            return next;
          },
          codec: stringCodec,
        })
        .sink('out', { uri: 'count:', encode: String });
      return a.build();
    };
    const opts = () => ({ clock, log: silent, deadLetters: new MemoryDeadLetterSink() });
    // Worker 1 counts the first 300 lines, then its states are written to its store.
    setMemorySource('first', lines.slice(0, 300), 50);
    const run1 = startEmbedded(app('first', new Map()), opts());
    await run1.done;
    const store = new MemoryStore();
    const codec = crdtCodec(Entry);
    await store.writeBatch(
      [...run1.engine.finishView().states<E>('counts')].map(([k, e]) => ({
        key: `counts/${String(k)}`,
        value: encodeState(Entry, e),
      })),
    );
    // Worker 2 loads them and the source replays everything from offset 0 (at-least-once).
    const loaded = new Map<string, E>();
    for await (const [k, bytes] of store.scan('counts/'))
      loaded.set(k.slice('counts/'.length), codec.decode(bytes));
    setMemorySource('all', lines, 50);
    const run2 = startEmbedded(app('all', loaded), opts());
    const summary = await run2.done;
    const counts = new Map<string, number>();
    for (const [k, e] of run2.engine.finishView().states<E>('counts')) counts.set(String(k), Entry.value(e)!);
    expect(sorted(counts)).toEqual(sorted(reference(lines)));
    // The replayed words of the first 300 lines were duplicates: identity transitions, no output.
    let replayed = 0;
    for (const n of reference(lines.slice(0, 300)).values()) replayed += n;
    let total = 0;
    for (const n of reference(lines).values()) total += n;
    expect(summary.metrics.stateApplied.counts).toBe(total);
    expect(summary.metrics.sunk).toBe(total - replayed);
  });
});
