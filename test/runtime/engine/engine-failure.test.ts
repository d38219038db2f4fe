// A worker engine that fails (a sink whose target went away) stops taking input and says so.
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { clearMemoryConnectors, registerConnector } from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { partitionOfKey, singleWorkerTable } from '../../../runtime/engine/partition.ts';
import { createWorkerEngine } from '../../../runtime/engine/worker.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { Logger, RemoteBatch } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

function batchOf(words: readonly string[], partitions: number, firstOffset: number): RemoteBatch {
  return {
    step: 'count',
    fromWorker: 'w0',
    source: words.map(() => 0),
    offset: words.map((_, i) => firstOffset + i),
    sub: words.map(() => 0),
    bornMs: words.map(() => 0),
    partition: words.map((w) => partitionOfKey(w, partitions)),
    payloads: [...words],
  };
}

describe('engine failure', () => {
  it('a sink that throws while a peer batch is applied fails the engine: later batches are refused, stop() rejects', async () => {
    let writes = 0;
    registerConnector('gone', {
      createSink: () => ({
        uri: 'gone:',
        write: () => {
          writes++;
          throw new Error('gone: connection to 127.0.0.1:9 closed');
        },
        flush: async () => undefined,
        close: async () => undefined,
      }),
    });
    const app = defineApp('fail', { partitions: 4 });
    app
      .state('count', {
        key: (w: string) => w,
        init: () => 0,
        update: (n: number, w: string, emit: (o: string) => void) => {
          emit(`${w} ${n + 1}`);
          return n + 1;
        },
        codec: stringCodec,
      })
      .output.sink('out', { uri: 'gone:', encode: stringCodec });
    app.source('in', { uri: 'memory:fail-in', decode: stringCodec }).into('count');
    const engine = createWorkerEngine({
      app: app.build(),
      workerName: 'w1',
      partitions: singleWorkerTable('w1', 4),
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(),
      remote: { send: () => undefined },
      runSources: false,
    });
    await engine.start();
    let failedWith: Error | null = null;
    void engine.whenFailed().then((e) => (failedWith = e));
    await expect(engine.deliverRemote(batchOf(['a', 'b'], 4, 0))).rejects.toThrow(
      /connection to 127.0.0.1:9/,
    );
    await Promise.resolve();
    expect(failedWith).not.toBeNull();
    expect(failedWith!.message).toContain('gone:');
    // The next batch is refused with the same error instead of being half applied and dropped.
    await expect(engine.deliverRemote(batchOf(['c'], 4, 2))).rejects.toBe(failedWith);
    expect(writes).toBe(1);
    await expect(engine.stop()).rejects.toBe(failedWith);
  });
});
