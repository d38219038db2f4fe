import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { startEmbedded } from '../../../runtime/engine/embedded.ts';
import { partitionOfKey } from '../../../runtime/engine/partition.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

describe('pipelines merging into a shared state step', () => {
  it('counts per key across both sources; state index per partition = messages applied there', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 80 }),
        fc.array(fc.constantFrom('A', 'B', 'E'), { maxLength: 80 }),
        async (left, right) => {
          clearMemoryConnectors();
          setMemorySource('left', left, 5);
          setMemorySource('right', right, 3);
          const app = defineApp('merge', { partitions: 4 });
          const counts = app.state('counts', {
            key: (w: string) => w,
            init: () => ({ n: 0 }),
            update: (s: { n: number }, w: string, emit: (o: string) => void) => {
              emit(`${w} ${s.n + 1}`);
              return { n: s.n + 1 };
            },
            codec: stringCodec,
          });
          app.source('l', { uri: 'memory:left', decode: stringCodec }).into(counts);
          app
            .source('r', { uri: 'memory:right', decode: stringCodec })
            .map('lower', (w: string) => w.toLowerCase())
            .into('counts');
          counts.output.sink('out', { uri: 'memory:merged', encode: stringCodec });
          const run = startEmbedded(app.build(), {
            clock,
            log: silent,
            deadLetters: new MemoryDeadLetterSink(),
          });
          const s = await run.done;
          const all = [...left, ...right.map((w) => w.toLowerCase())];
          const expected = new Map<string, number>();
          for (const w of all) expected.set(w, (expected.get(w) ?? 0) + 1);
          const finals = new Map<string, number>();
          for (const p of memorySinkPayloads('merged')) {
            const [w, n] = String(p).split(' ');
            finals.set(w!, Math.max(finals.get(w!) ?? 0, Number(n)));
          }
          expect(finals).toEqual(expected);
          expect(s.metrics.stateApplied.counts).toBe(all.length);
          for (let p = 0; p < 4; p++) {
            expect(run.engine.stateIndexOf('counts', p)).toBe(
              all.filter((w) => partitionOfKey(w, 4) === p).length,
            );
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('dead letters at the edges', () => {
  it('a throwing source decoder and a throwing sink encoder lose only their own messages', async () => {
    setMemorySource('edge-in', ['1', 'x', '2', '-3', '4']);
    const app = defineApp('edges');
    app
      .source('in', {
        uri: 'memory:edge-in',
        decode: (p) => {
          const n = Number(p);
          if (!Number.isFinite(n)) throw new Error(`not a number: ${String(p)}`);
          return n;
        },
      })
      .sink('out', {
        uri: 'memory:edge-out',
        encode: (n: number) => {
          if (n < 0) throw new RangeError('negative');
          return String(n * 10);
        },
      });
    const dead = new MemoryDeadLetterSink();
    const run = startEmbedded(app.build(), { clock, log: silent, deadLetters: dead });
    const s = await run.done;
    expect(memorySinkPayloads('edge-out')).toEqual(['10', '20', '40']);
    expect(dead.letters.map((l) => [l.step, l.messageId, l.error, l.payloadExcerpt])).toEqual([
      ['in (decode)', '0:1', 'Error: not a number: x', 'x'],
      ['out (encode)', '0:3', 'RangeError: negative', '-3'],
    ]);
    expect(s.metrics.deadLetters).toBe(2);
    expect(s.metrics.sunk).toBe(3);
  });

  it('a key function returning a non-key dead-letters the message, naming the problem', async () => {
    setMemorySource('key-in', ['ok', 'nokey', 'ok']);
    const app = defineApp('keys');
    app
      .source('in', { uri: 'memory:key-in', decode: stringCodec })
      .state('st', {
        key: (w: string) => (w === 'nokey' ? (undefined as unknown as string) : w),
        init: () => ({ n: 0 }),
        update: (s: { n: number }, w: string, emit: (o: string) => void) => {
          emit(`${w} ${s.n + 1}`);
          return { n: s.n + 1 };
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'memory:key-out', encode: stringCodec });
    const dead = new MemoryDeadLetterSink();
    await startEmbedded(app.build(), { clock, log: silent, deadLetters: dead }).done;
    expect(memorySinkPayloads('key-out')).toEqual(['ok 1', 'ok 2']);
    expect(dead.letters).toHaveLength(1);
    expect(dead.letters[0]!.step).toBe('st (key)');
    expect(dead.letters[0]!.error).toMatch(
      /key function returned undefined; expected a string or a finite number/,
    );
  });
});
