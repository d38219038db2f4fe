// The engine's trace column is sparse (the traced messages' indexes in a batch and their hashes,
// remapped through every step). A message's reports must not depend on which other messages of
// its batches are traced: tracing a subset of the messages gives exactly the reports of tracing
// all of them, restricted to that subset's roots (same hashes, predecessors, ends, states).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../runtime/api/app.ts';
import { stringCodec } from '../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  setMemorySource,
} from '../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../runtime/engine/dead-letters.ts';
import { roundRobinTable } from '../../runtime/engine/partition.ts';
import { decodeRemoteBatch, encodeRemoteBatch } from '../../runtime/engine/remote-batch.ts';
import { createWorkerEngine } from '../../runtime/engine/worker.ts';
import type { TraceReport } from '../../runtime/tracing/report.ts';
import { rootOf } from '../../runtime/tracing/report.ts';
import type { Sampling } from '../../runtime/tracing/sampling.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger, RemoteBatch } from '../../runtime/types.ts';

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

/** Every kind of step, each able to drop a message: map (throws on "boom"), filter ("skip"),
 * flatMap (empty lines), state (key throws on "badkey"; emits twice on "two"), sink (encode
 * throws on "badout"). */
function app() {
  const a = defineApp('sparse', { partitions: 6 });
  a.source('lines', { uri: 'memory:sp-in', decode: stringCodec })
    .map('trim', (l: string) => {
      if (l === 'boom') throw new Error('boom');
      return l.trim();
    })
    .filter('keep', (l: string) => l !== 'skip')
    .flatMap('words', (l: string) => l.split(' ').filter(Boolean))
    .state('tally', {
      key: (w: string) => {
        if (w === 'badkey') throw new Error('bad key');
        return w;
      },
      init: () => 0,
      update: (n: number, w: string, emit: (s: string) => void) => {
        emit(w);
        if (w === 'two') emit(`${w}${n}`);
        return n + 1;
      },
      codec: stringCodec,
    })
    .sink('out', {
      uri: 'memory:sp-out',
      encode: (w: string) => {
        if (w === 'badout') throw new Error('bad out');
        return w;
      },
    });
  return a.build();
}

const LINE = fc.oneof(
  fc.constantFrom('boom', 'skip', '', 'badkey', 'badout', 'two', 'a two', 'badout x'),
  fc.array(fc.constantFrom('a', 'b', 'c', 'dd', 'two'), { maxLength: 4 }).map((ws) => ws.join(' ')),
);

async function run(
  lines: string[],
  batch: number,
  workers: number,
  sampling: Sampling,
): Promise<TraceReport[]> {
  clearMemoryConnectors();
  setMemorySource('sp-in', lines, batch);
  const built = app();
  const reports: TraceReport[] = [];
  const names = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
  const table = roundRobinTable(names, built.partitionCount);
  const engines = new Map<string, ReturnType<typeof createWorkerEngine>>();
  for (const name of names) {
    engines.set(
      name,
      createWorkerEngine({
        app: built,
        workerName: name,
        partitions: table,
        clock: createSystemClock(),
        log: silent,
        deadLetters: new MemoryDeadLetterSink(),
        runSources: name === 'w1',
        tracing: { sampling, sink: { report: (r) => void reports.push(r) }, withState: true },
        remote: {
          send: (w: string, b: RemoteBatch) =>
            engines.get(w)!.deliverRemote(decodeRemoteBatch(encodeRemoteBatch(b))),
        },
      }),
    );
  }
  for (const e of engines.values()) await e.start();
  await engines.get('w1')!.sourcesDone();
  for (const e of engines.values()) await e.stop();
  return reports;
}

/** Each report's predecessors are reports of the same logical message (the column's indexes
 * point at the right messages after every step that drops or adds some). */
function predecessorsOfSameRoot(rs: readonly TraceReport[]): void {
  const byHash = new Map(rs.map((r) => [r.hash, r]));
  for (const r of rs) {
    for (const h of r.predecessorHashes) {
      const pred = byHash.get(h);
      expect(pred, `predecessor ${h} of ${r.messageId} at ${r.workerType}`).toBeDefined();
      expect(rootOf(pred!.messageId)).toBe(rootOf(r.messageId));
    }
  }
}

const sorted = (rs: readonly TraceReport[]): string[] => rs.map((r) => JSON.stringify(r)).sort();
const offsetOf = (r: TraceReport): number => Number(rootOf(r.messageId).split(':')[1]);

describe('sparse trace column', () => {
  it('tracing a subset of the messages reports exactly what tracing all does for that subset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(LINE, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.uniqueArray(fc.nat(39), { maxLength: 12 }),
        async (lines, batch, workers, picked) => {
          const chosen = new Set(picked);
          const all = await run(lines, batch, workers, { mode: 'all' });
          // Every message written traced: one sink visit (not ended) per payload.
          expect(all.filter((r) => r.workerType === 'out' && r.ended !== true)).toHaveLength(
            memorySinkPayloads('sp-out').length,
          );
          predecessorsOfSameRoot(all);
          const some = await run(lines, batch, workers, {
            mode: 'predicate',
            accept: (_s, o) => chosen.has(o),
          });
          predecessorsOfSameRoot(some);
          expect(sorted(some)).toEqual(sorted(all.filter((r) => chosen.has(offsetOf(r)))));
          // Every chosen line was reported at its source.
          const roots = new Set(some.filter((r) => r.workerType === 'lines').map(offsetOf));
          expect(roots).toEqual(new Set(picked.filter((o) => o < lines.length)));
        },
      ),
      { numRuns: 40 },
    );
  });
});
