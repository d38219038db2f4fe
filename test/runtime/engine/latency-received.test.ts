// Source-to-sink latency starts when the source received a message (SourceBatch.receivedMs), so
// the time a pushed message waited in its source's buffer counts; without receivedMs it starts
// when the engine took the batch.
import { describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import { registerConnector } from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { createSystemClock } from '../../../runtime/system.ts';
import type { LatencyRecorder, SourceBatch } from '../../../runtime/types.ts';

const clock = createSystemClock();
const WAITED_MS = 40;

/** `stamped:with` emits one batch of three lines, the first two received WAITED_MS ago;
 * `stamped:without` the same lines without receivedMs; `stamped:short` with one time for three
 * lines (a broken source). */
registerConnector('stamped', {
  createSource: (uri) => ({
    uri: uri.raw,
    async run(ctx) {
      const now = ctx.clock.nowMs();
      const batch: SourceBatch = {
        payloads: ['a', 'b', 'c'],
        firstOffset: 0,
        ...(uri.rest === 'with' ? { receivedMs: [now - WAITED_MS, now - WAITED_MS, now] } : {}),
        ...(uri.rest === 'short' ? { receivedMs: [now] } : {}),
      };
      await ctx.emit(batch);
    },
    async stop() {},
  }),
});

async function latenciesUs(source: string): Promise<number[]> {
  const app = defineApp('latency', { partitions: 1 });
  app
    .source('lines', { uri: source, decode: stringCodec })
    .map('same', (l: string) => l)
    .sink('out', { uri: 'count:', encode: stringCodec });
  const got: number[] = [];
  const latency: LatencyRecorder = {
    recordUs: (us) => void got.push(us),
    recordUsWithCount: (us, n) => {
      for (let i = 0; i < n; i++) got.push(us);
    },
  };
  await runEmbedded(app.build(), {
    clock,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    deadLetters: new MemoryDeadLetterSink(),
    latency,
  });
  return got.sort((x, y) => x - y);
}

describe('source-to-sink latency', () => {
  it('counts the time a message waited in its source (receivedMs)', async () => {
    const us = await latenciesUs('stamped:with');
    expect(us).toHaveLength(3);
    expect(us[0]!).toBeLessThan(WAITED_MS * 1000);
    expect(us[1]!).toBeGreaterThanOrEqual(WAITED_MS * 1000);
    expect(us[2]!).toBeGreaterThanOrEqual(WAITED_MS * 1000);
  });

  it('starts when the engine takes the batch without receivedMs', async () => {
    const us = await latenciesUs('stamped:without');
    expect(us).toHaveLength(3);
    for (const u of us) expect(u).toBeLessThan(WAITED_MS * 1000);
  });

  it('refuses a batch whose receivedMs does not give one time per payload, naming the source', async () => {
    await expect(latenciesUs('stamped:short')).rejects.toThrow(
      /source "lines" \(stamped:short\) emitted 3 payloads with 1 receipt times \(receivedMs\)/,
    );
  });
});
