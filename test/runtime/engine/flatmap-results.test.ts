// What a flatMap returns: an array or an iterable; anything else is the message's error.
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  memorySinkPayloads,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

describe('flatMap results', () => {
  it('a number, string or plain object returned by flatMap is dead-lettered, not dropped or split', async () => {
    setMemorySource('fm-in', ['ok', 'num', 'str', 'obj', 'set']);
    const app = defineApp('fm');
    app
      .source('in', { uri: 'memory:fm-in', decode: stringCodec })
      .flatMap('explode', (l: string): readonly string[] => {
        if (l === 'num') return 5 as never;
        if (l === 'str') return 'abc' as never;
        if (l === 'obj') return { a: 1 } as never;
        if (l === 'set') return new Set([`${l}1`, `${l}2`]) as never;
        return [l, l];
      })
      .sink('out', { uri: 'memory:fm-out', encode: stringCodec });
    const dead = new MemoryDeadLetterSink();
    await runEmbedded(app.build(), { clock, log: silent, deadLetters: dead });
    expect(memorySinkPayloads('fm-out')).toEqual(['ok', 'ok', 'set1', 'set2']);
    expect(dead.letters.map((d) => d.error)).toEqual([
      'TypeError: flatMap step "explode" returned a number; it must return an array (or another iterable) of outputs, e.g. [value]',
      'TypeError: flatMap step "explode" returned a string; it must return an array (or another iterable) of outputs, e.g. [value]',
      'TypeError: flatMap step "explode" returned an object that is not iterable; it must return an array (or another iterable) of outputs, e.g. [value]',
    ]);
  });
});
