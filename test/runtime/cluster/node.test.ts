import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import os from 'node:os';
import { advertisedHost } from '../../../runtime/cluster/node.ts';
import { DataPlane, splitRemoteBatch } from '../../../runtime/cluster/data-plane.ts';
import type { RemoteBatch } from '../../../runtime/types.ts';

describe('advertisedHost', () => {
  it('prefers --advertise, then a specific --data host, then the address used to reach the initializer', () => {
    expect(advertisedHost('10.0.0.7', '0.0.0.0', '10.0.0.9')).toBe('10.0.0.7');
    expect(advertisedHost(undefined, '192.168.1.4', '10.0.0.9')).toBe('192.168.1.4');
    expect(advertisedHost(undefined, '0.0.0.0', '10.0.0.9')).toBe('10.0.0.9');
    expect(advertisedHost(undefined, '0.0.0.0', '::ffff:10.0.0.9')).toBe('10.0.0.9');
  });

  it('listening everywhere and reaching the initializer over loopback: an external address of this host, or loopback', () => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(advertisedHost(undefined, '0.0.0.0', '127.0.0.1')).toBe(external ?? '127.0.0.1');
  });
});

describe('splitRemoteBatch', () => {
  it('splits every column at the same index and loses nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 2, maxLength: 50 }), (payloads) => {
        const n = payloads.length;
        const b: RemoteBatch = {
          step: 'counts',
          fromWorker: 'w1',
          source: payloads.map(() => 0),
          offset: payloads.map((_, i) => i),
          sub: payloads.map((_, i) => i * 2),
          bornMs: payloads.map((_, i) => 1000 + i),
          partition: payloads.map((_, i) => i % 7),
          payloads,
        };
        const [x, y] = splitRemoteBatch(b)!;
        expect(x.payloads.length + y.payloads.length).toBe(n);
        expect(x.payloads.length).toBeGreaterThan(0);
        expect(y.payloads.length).toBeGreaterThan(0);
        for (const k of ['source', 'offset', 'sub', 'bornMs', 'partition', 'payloads'] as const) {
          expect([...x[k], ...y[k]]).toEqual(b[k]);
          expect(x[k].length).toBe(x.payloads.length);
        }
        expect(x.step).toBe('counts');
        expect(y.fromWorker).toBe('w1');
      }),
    );
  });
});

describe('splitRemoteBatch with exactly-once ranges', () => {
  const batch = (offsets: number[], extra: Partial<RemoteBatch> = {}): RemoteBatch => ({
    step: 'counts',
    fromWorker: 'w1',
    source: offsets.map(() => 3),
    offset: offsets,
    sub: offsets.map(() => 0),
    bornMs: offsets.map(() => 1),
    partition: offsets.map(() => 0),
    payloads: offsets.map((o) => `m${o}`),
    ranges: [{ source: 3, from: 4, through: 40 }],
    ...extra,
  });

  it('splits between two offsets: the parts claim (from, o] and (o, through], every message of o in the first', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 5, max: 40 }), { minLength: 2, maxLength: 60 })
          .map((xs) => xs.sort((a, b) => a - b)),
        (offsets) => {
          const b = batch(offsets);
          const halves = splitRemoteBatch(b);
          if (offsets[0] === offsets[offsets.length - 1]) {
            expect(halves).toBeNull();
            return;
          }
          const [x, y] = halves!;
          expect([...x.payloads, ...y.payloads]).toEqual(b.payloads);
          const o = x.offset[x.offset.length - 1]!;
          expect(x.ranges).toEqual([{ source: 3, from: 4, through: o }]);
          expect(y.ranges).toEqual([{ source: 3, from: o, through: 40 }]);
          expect(y.offset.every((v) => v > o)).toBe(true);
        },
      ),
    );
  });

  it('keeps an outbox entry, an acknowledgement, several ranges or one offset whole', () => {
    expect(splitRemoteBatch(batch([5, 6, 7], { seq: 2, ranges: undefined }))).toBeNull();
    expect(splitRemoteBatch(batch([5, 6, 7], { ack: 1 }))).toBeNull();
    expect(
      splitRemoteBatch(
        batch([5, 6, 7], {
          ranges: [
            { source: 3, from: 4, through: 40 },
            { source: 4, from: 0, through: 9 },
          ],
        }),
      ),
    ).toBeNull();
    expect(splitRemoteBatch(batch([9, 9, 9, 9]))).toBeNull();
  });
});

describe('DataPlane', () => {
  it('a peer batch that cannot be decoded is reported as lost data, once, naming the batch and the peer', async () => {
    const errors: string[] = [];
    const plane = new DataPlane(
      'w2',
      { info: () => undefined, warn: () => undefined, error: (m) => errors.push(m) },
      1 << 20,
    );
    const lost: string[] = [];
    plane.onLoss = (reason) => lost.push(reason);
    const from = { protocolVersion: 1, cluster: 'c', app: 'a', worker: 'w1' };
    const ep = {} as never;
    await plane.onBatch(ep, { seq: 7, messages: 1, body: Uint8Array.from([1, 2, 3]) }, from);
    await plane.onBatch(ep, { seq: 8, messages: 1, body: Uint8Array.from([4]) }, from);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(
      /^worker 'w2': batch 7 from worker 'w1' could not be decoded: decodeRemoteBatch: bad magic byte/,
    );
    expect(errors).toHaveLength(2);
    expect(plane.failedBatches).toBe(2);
  });
});
