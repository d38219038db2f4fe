import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  createManualClock,
  createSeededRandom,
  createSystemClock,
} from '../../../runtime/system.ts';

describe('system seams', () => {
  it('seeded random: same seed, same sequence; values in range', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 1000 }), (seed, bound) => {
        const a = createSeededRandom(seed);
        const b = createSeededRandom(seed);
        for (let i = 0; i < 50; i++) {
          const x = a.next();
          expect(b.next()).toBe(x);
          expect(x >= 0 && x < 1).toBe(true);
          const k = a.nextInt(bound);
          expect(b.nextInt(bound)).toBe(k);
          expect(Number.isInteger(k) && k >= 0 && k < bound).toBe(true);
        }
      }),
    );
    expect(() => createSeededRandom(1).nextInt(0)).toThrow(/bound 0/);
  });

  it('memory store: batches apply whole, scans are ordered by key, values are copied', async () => {
    const s = new MemoryStore();
    const v = new Uint8Array([1, 2, 3]);
    await s.writeBatch([
      { key: 'b/2', value: v },
      { key: 'a/1', value: new Uint8Array([9]) },
      { key: 'b/1', value: new Uint8Array([7]) },
    ]);
    v[0] = 42;
    expect([...((await s.get('b/2')) ?? [])]).toEqual([1, 2, 3]);
    await s.writeBatch([{ key: 'b/1', value: null }]);
    const seen: string[] = [];
    for await (const [k] of s.scan('b/')) seen.push(k);
    expect(seen).toEqual(['b/2']);
    await expect(
      s.writeBatch([
        { key: 'c', value: new Uint8Array() },
        { key: 3 as unknown as string, value: null },
      ]),
    ).rejects.toThrow(/string key/);
    expect(await s.get('c')).toBeUndefined();
    await s.close();
    await expect(s.get('a/1')).rejects.toThrow(/after close/);
  });

  it('system clock: monotonic time advances; timers fire and can be cleared', async () => {
    const c = createSystemClock();
    const t0 = c.monotonicMs();
    const n0 = c.nowNs();
    let fired = 0;
    const cleared = c.setTimer(5, () => (fired += 100));
    c.clearTimer(cleared);
    await new Promise<void>((r) => c.setTimer(10, () => r()));
    fired++;
    expect(fired).toBe(1);
    expect(c.monotonicMs() - t0).toBeGreaterThanOrEqual(9);
    expect(c.nowNs() > n0).toBe(true);
    expect(Math.abs(c.nowMs() - Date.now())).toBeLessThan(1000);
  });
});

describe('manual clock', () => {
  it('fires timers in due order during advance, including timers set by timers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 150 }),
        (delays, step) => {
          const c = createManualClock(1000);
          const fired: number[] = [];
          delays.forEach((d, i) => c.setTimer(d, () => fired.push(i)));
          c.advance(step);
          const expected = delays
            .map((d, i) => [d, i] as const)
            .filter(([d]) => d <= step)
            .sort((x, y) => x[0] - y[0] || x[1] - y[1])
            .map(([, i]) => i);
          expect(fired).toEqual(expected);
          expect(c.monotonicMs()).toBe(step);
          expect(c.nowMs()).toBe(1000 + step);
          expect(c.pendingTimers()).toBe(delays.length - expected.length);
        },
      ),
    );
    const c = createManualClock();
    const seen: number[] = [];
    c.setTimer(5, () => {
      seen.push(c.monotonicMs());
      c.setTimer(5, () => seen.push(c.monotonicMs()));
    });
    const h = c.setTimer(7, () => seen.push(-1));
    c.clearTimer(h);
    c.advance(20);
    expect(seen).toEqual([5, 10]);
    expect(() => c.advance(-1)).toThrow(/must be >= 0/);
  });
});
