// The Store contract (runtime/types.ts), run against every implementation: MemoryStore and the
// LMDB store at each durability level. Values are random bytes (fast-check) and compared with a
// model (a Map) after every batch.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createManualClock, createSeededRandom, MemoryStore } from '../../../runtime/system.ts';
import { SimDisk } from '../../../runtime/sim/disk.ts';
import { openLmdbStore } from '../../../runtime/store/lmdb-store.ts';
import type { Store, StoreOp } from '../../../runtime/types.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'buffy-store-'));
  dirs.push(d);
  return d;
}

const makers: Record<string, () => Promise<Store>> = {
  MemoryStore: async () => new MemoryStore(),
  'SimStore (simulated disk)': async () =>
    new SimDisk({ random: createSeededRandom(1), clock: createManualClock() }).openStore('w1', 'batch'),
  'LmdbStore (sync)': () =>
    openLmdbStore({ dir: tempDir(), app: 'contract', version: '1', partitions: 4, durability: 'sync' }),
  'LmdbStore (batch)': () =>
    openLmdbStore({ dir: tempDir(), app: 'contract', version: '1', partitions: 4, durability: 'batch' }),
  'LmdbStore (none)': () =>
    openLmdbStore({ dir: tempDir(), app: 'contract', version: '1', partitions: 4, durability: 'none' }),
};

async function scanAll(s: Store, prefix: string): Promise<Array<[string, number[]]>> {
  const out: Array<[string, number[]]> = [];
  for await (const [k, v] of s.scan(prefix)) out.push([k, [...v]]);
  return out;
}

const keyArb = fc.constantFrom(
  'a',
  'a/1',
  'a/2',
  'a/10',
  'b',
  'b/x',
  'ab',
  'state/p0',
  'state/p1',
  'mark/in0',
);
const opArb: fc.Arbitrary<StoreOp> = fc.record({
  key: keyArb,
  value: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null }),
});

for (const [name, make] of Object.entries(makers)) {
  describe(`Store contract: ${name}`, () => {
    it('get, writeBatch and scan agree with a Map after every batch (random batches)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(opArb, { maxLength: 6 }), { maxLength: 8 }), async (batches) => {
          const s = await make();
          const model = new Map<string, number[]>();
          try {
            for (const batch of batches) {
              await s.writeBatch(batch);
              for (const op of batch) {
                if (op.value === null) model.delete(op.key);
                else model.set(op.key, [...op.value]);
              }
              for (const k of ['a', 'a/1', 'b', 'zz']) {
                const got = await s.get(k);
                expect(got === undefined ? undefined : [...got]).toEqual(model.get(k));
              }
              for (const prefix of ['', 'a', 'a/', 'b', 'state/', 'none']) {
                const want = [...model.entries()]
                  .filter(([k]) => k.startsWith(prefix))
                  .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
                expect(await scanAll(s, prefix)).toEqual(want);
              }
            }
          } finally {
            await s.close();
          }
        }),
        { numRuns: 15 },
      );
    });

    it('a later op on the same key in one batch wins; a delete of a missing key is harmless', async () => {
      const s = await make();
      await s.writeBatch([
        { key: 'k', value: Uint8Array.of(1) },
        { key: 'k', value: Uint8Array.of(2) },
        { key: 'gone', value: null },
      ]);
      expect([...(await s.get('k'))!]).toEqual([2]);
      expect(await s.get('gone')).toBeUndefined();
      await s.close();
    });

    it('keeps a copy: changing the written array afterwards changes nothing stored', async () => {
      const s = await make();
      const v = Uint8Array.of(7, 8, 9);
      await s.writeBatch([{ key: 'k', value: v }]);
      v[0] = 0;
      expect([...(await s.get('k'))!]).toEqual([7, 8, 9]);
      await s.close();
    });

    it('refuses use after close', async () => {
      const s = await make();
      await s.close();
      await expect(s.get('k')).rejects.toThrow(/after close/);
    });
  });
}
