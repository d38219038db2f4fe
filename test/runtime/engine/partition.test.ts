import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  hashKey,
  hashString,
  ownerOfKey,
  partitionOfKey,
  roundRobinTable,
  singleWorkerTable,
  validatePartitionTable,
} from '../../../runtime/engine/partition.ts';

/** Independent reference: FNV-1a 32 over UTF-16 units, then the murmur3 finaliser, in BigInt. */
function referenceHash(s: string): number {
  const M = 0xffffffffn;
  let h = 0x811c9dc5n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x01000193n) & M;
  }
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) & M;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) & M;
  h ^= h >> 16n;
  return Number(h);
}

describe('partitioning', () => {
  it('hashes strings exactly as the reference definition (stable across processes and runs)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        expect(hashString(s)).toBe(referenceHash(s));
        expect(hashKey(s)).toBe(hashString(s));
      }),
    );
  });

  it('maps every key to exactly one partition in range and one worker of the table', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        fc.integer({ min: 1, max: 1000 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        (key, count, workers) => {
          const p = partitionOfKey(key, count);
          expect(Number.isInteger(p) && p >= 0 && p < count).toBe(true);
          expect(partitionOfKey(key, count)).toBe(p);
          const table = roundRobinTable(workers, count);
          const owner = ownerOfKey(table, key);
          expect(workers.filter((w) => w === owner)).toHaveLength(1);
          expect(table.owners[p]).toBe(owner);
        },
      ),
    );
  });

  it('spreads keys uniformly enough (chi-square over 32 partitions)', () => {
    const parts = 32;
    const n = 32_000;
    for (const make of [
      (i: number) => `word${i}`,
      (i: number) => String.fromCharCode(97 + (i % 26)) + i.toString(36),
      (i: number) => i,
    ]) {
      const counts = new Array<number>(parts).fill(0);
      for (let i = 0; i < n; i++) counts[partitionOfKey(make(i), parts)]!++;
      const expected = n / parts;
      const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
      // 31 degrees of freedom: p = 0.001 at about 61.1.
      expect(chi2).toBeLessThan(61.1);
    }
  });

  it('round-robin tables give every worker an equal share (+-1) and single-worker tables one owner', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 600 }), (w, count) => {
        const workers = Array.from({ length: w }, (_, i) => `w${i}`);
        const t = roundRobinTable(workers, count);
        const shares = workers.map((x) => t.owners.filter((o) => o === x).length);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(count);
        expect(new Set(singleWorkerTable('solo', count).owners)).toEqual(new Set(['solo']));
      }),
    );
  });

  it('rejects malformed tables with a message naming the problem', () => {
    expect(() => validatePartitionTable({ partitionCount: 0, owners: [] })).toThrow(/partitionCount 0/);
    expect(() => validatePartitionTable({ partitionCount: 3, owners: ['a', 'b'] })).toThrow(
      /2 entries, expected 3/,
    );
    expect(() => validatePartitionTable({ partitionCount: 2, owners: ['a', ''] })).toThrow(
      /partition 1 has no owner/,
    );
    expect(() => roundRobinTable([], 4)).toThrow(/at least one worker/);
  });
});
