// A dropped connection loses nothing: two endpoints with the `reconnect` option over the
// in-memory transport, the connection cut at seeded random moments (losing what was in
// flight) and re-established; the handshake says where to resume and the sender resends. The
// receiving application must get every batch exactly once, in order.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeededRandom, TestNetwork } from '../../../runtime/net/test-transport.ts';
import type { EndpointOptions } from '../../../runtime/net/endpoint.ts';

function opts(worker: string, extra: Partial<EndpointOptions> = {}): EndpointOptions {
  return {
    local: { cluster: 'c1', app: 'wc', worker },
    connection: `test ${worker}`,
    reconnect: true,
    ...extra,
  };
}

function body(n: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(4, size));
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

describe('reconnect on the test transport', () => {
  it('delivers every batch exactly once, in order, across seeded connection cuts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1 << 30 }),
          batches: fc.integer({ min: 1, max: 80 }),
          windowFrames: fc.integer({ min: 1, max: 8 }),
          cuts: fc.integer({ min: 0, max: 6 }),
          slow: fc.boolean(),
        }),
        async (s) => {
          const rng = new SeededRandom(s.seed ^ 0x5bd1e995);
          const net = new TestNetwork({ seed: s.seed });
          const got: number[] = [];
          const release: Array<() => void> = [];
          const logs: string[] = [];
          const link = net.link(
            opts('sender', { windowFrames: s.windowFrames, maxQueuedBytes: 256 }),
            opts('receiver', { windowFrames: s.windowFrames }),
            { log: (m) => logs.push(m) },
            {
              log: (m) => logs.push(m),
              onBatch: (b) => {
                got.push(new DataView(b.body.buffer, b.body.byteOffset).getUint32(0));
                if (!s.slow) return;
                return new Promise<void>((resolve) => release.push(resolve));
              },
            },
          );
          let next = 0;
          let waiting = false;
          let cutsLeft = s.cuts;
          let down = false;
          for (let step = 0; step < 200_000; step++) {
            if (next < s.batches && !waiting) {
              const p = link.a.send(body(next, 4 + (next % 13)), 1 + (next % 3));
              next++;
              if (p) {
                waiting = true;
                void p.then(() => (waiting = false));
              }
            }
            const r = rng.below(100);
            if (down && r < 30) {
              net.reconnect(link);
              down = false;
            } else if (!down && cutsLeft > 0 && r < 3) {
              net.cut(link, 'seeded cut');
              cutsLeft--;
              down = true;
            }
            const moved = net.step();
            if (release.length > 0 && rng.below(3) === 0) release.shift()!();
            await Promise.resolve();
            await Promise.resolve();
            const idle = !moved && release.length === 0 && !waiting && next === s.batches;
            if (idle && down) {
              net.reconnect(link);
              down = false;
            } else if (idle && link.a.core.stats.unackedFrames === 0 && link.a.core.stats.queuedBatches === 0)
              break;
          }
          expect(got).toEqual(Array.from({ length: s.batches }, (_, i) => i));
          expect(link.a.core.stats.unackedFrames).toBe(0);
          expect(link.a.closed).toBeNull();
          expect(link.b.closed).toBeNull();
          // Every lost connection was logged, naming the connection (and the frame a cut split),
          // and nothing else was.
          for (const l of logs)
            expect(l).toMatch(
              /^test (sender|receiver): connection lost: (link .*seeded cut|test \w+: stream ended inside a frame.*\(frame at byte offset \d+\); dropping the connection); waiting for a new connection$/,
            );
        },
      ),
      { numRuns: 80 },
    );
  });
});
