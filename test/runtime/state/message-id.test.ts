// The engine hands a state step's update the id of the message it applies (the key of
// idempotent CRDT updates), and refuses a state that keeps the (reused) id object.
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
import { childSub, formatMessageId } from '../../../runtime/engine/ids.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

describe('update(state, input, emit, key, id)', () => {
  it('gets the id of each message: source, offset and the flatMap output path', async () => {
    const lines = ['a b', 'c', 'd e f'];
    setMemorySource('ids-in', lines, 2);
    const app = defineApp('ids', { partitions: 4 });
    app
      .source('in', { uri: 'memory:ids-in', decode: stringCodec })
      .flatMap('split', (l: string) => l.split(' '))
      .state('st', {
        key: (w: string) => w,
        init: () => 0,
        update: (n: number, w: string, emit: (s: string) => void, _key, id) => {
          emit(`${w} ${formatMessageId(id.source, id.offset, id.sub)}`);
          return n + 1;
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'memory:ids-out', encode: stringCodec });
    const dead = new MemoryDeadLetterSink();
    await startEmbedded(app.build(), { clock, log: silent, deadLetters: dead }).done;
    const expected: string[] = [];
    lines.forEach((l, offset) =>
      l.split(' ').forEach((w, i) => expected.push(`${w} ${formatMessageId(0, offset, childSub(0, i))}`)),
    );
    expect(memorySinkPayloads('ids-out').map(String)).toEqual(expected);
    expect(dead.letters).toEqual([]);
  });

  it('a state that keeps the id object is refused (StateShapeError), the message dead-lettered', async () => {
    setMemorySource('keep-in', ['x', 'y'], 1);
    const app = defineApp('keep', { partitions: 2 });
    app
      .source('in', { uri: 'memory:keep-in', decode: stringCodec })
      .state('st', {
        key: (w: string) => w,
        init: () => ({}),
        update: (_s: object, _w: string, emit: (s: string) => void, _key, id) => {
          emit('kept');
          return { id };
        },
        codec: stringCodec,
      })
      .sink('out', { uri: 'memory:keep-out', encode: stringCodec });
    const dead = new MemoryDeadLetterSink();
    await startEmbedded(app.build(), { clock, log: silent, deadLetters: dead }).done;
    expect(memorySinkPayloads('keep-out')).toEqual([]);
    expect(dead.letters.map((d) => d.error)).toEqual([
      expect.stringMatching(/StateShapeError: .*CurrentMessageId at state\.id/),
      expect.stringMatching(/StateShapeError: .*CurrentMessageId at state\.id/),
    ]);
  });
});
