// The engine's trace hooks at every kind of step: map, filter, flatMap, state (local and
// remote), sink; messages that end early (filtered out, no outputs, dead letters) report where
// they ended, so every traversal checks against the topology's flow.
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
import { topologyFlow } from '../../runtime/flow/topology.ts';
import { TraceReceiver } from '../../runtime/tracing/receiver.ts';
import { createSystemClock } from '../../runtime/system.ts';
import type { Logger, RemoteBatch } from '../../runtime/types.ts';

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

/** lines -> trim (map; throws on "boom") -> keep (filter: not "skip") -> words (flatMap) ->
 * tally (state; its key throws on "badkey") -> out (sink; encode throws on "badout"). */
function app() {
  const a = defineApp('hooks', { partitions: 6 });
  a.source('lines', { uri: 'memory:hk-in', decode: stringCodec })
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
      update: (n: number, w: string, emit: (s: string) => void) => (emit(w), n + 1),
      codec: stringCodec,
    })
    .sink('out', {
      uri: 'memory:hk-out',
      encode: (w: string) => {
        if (w === 'badout') throw new Error('bad out');
        return w;
      },
    });
  return a.build();
}

const LINE = fc.oneof(
  fc.constantFrom('boom', 'skip', '', 'badkey', 'badout', 'a b', 'badout x'),
  fc.array(fc.constantFrom('a', 'b', 'c', 'dd', 'e'), { maxLength: 4 }).map((ws) => ws.join(' ')),
);

describe('trace hooks of every step', () => {
  it('random inputs on 1 to 3 workers: every traversal checks, the ends are where messages stopped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(LINE, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        async (lines, workers) => {
          clearMemoryConnectors();
          setMemorySource('hk-in', lines, 5);
          const built = app();
          const receiver = new TraceReceiver({ flow: topologyFlow(built) });
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
                tracing: { sampling: { mode: 'all' }, sink: receiver, withState: true },
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
          expect(receiver.checkAll()).toEqual([]);
          const count = (p: string): number => receiver.stats().paths.find((x) => x.path === p)?.count ?? 0;
          expect(receiver.messageIds()).toHaveLength(lines.length);
          expect(count('lines;trim!')).toBe(lines.filter((l) => l === 'boom').length);
          expect(count('lines;trim;keep!')).toBe(lines.filter((l) => l === 'skip').length);
          expect(count('lines;trim;keep;words!')).toBe(lines.filter((l) => l.trim() === '').length);
          const words = lines
            .filter((l) => l !== 'boom' && l !== 'skip')
            .flatMap((l) => l.split(' ').filter(Boolean));
          expect(count('lines;trim;keep;words;tally!')).toBe(words.filter((w) => w === 'badkey').length);
          expect(count('lines;trim;keep;words;tally;out!')).toBe(words.filter((w) => w === 'badout').length);
          expect(count('lines;trim;keep;words;tally;out')).toBe(memorySinkPayloads('hk-out').length);
        },
      ),
      { numRuns: 40 },
    );
  });
});
