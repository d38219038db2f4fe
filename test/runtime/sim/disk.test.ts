// The simulated disk (runtime/sim/disk.ts) loses exactly what a real disk may lose: checked
// against a model of each guarantee over random write sequences and seeds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimDisk, SimFileSink, type DiskFault } from '../../../runtime/sim/disk.ts';
import { createManualClock, createSeededRandom } from '../../../runtime/system.ts';
import type { Store } from '../../../runtime/types.ts';

const enc = (n: number) => Uint8Array.of(n & 255, (n >> 8) & 255);

function disk(seed: number, faults: DiskFault[] = []) {
  const clock = createManualClock();
  return { clock, disk: new SimDisk({ random: createSeededRandom(seed), clock, faults, slowMs: 5 }) };
}

async function image(s: Store): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for await (const [k, v] of s.scan('')) out[k] = [...v];
  return out;
}

/** The images after each batch of `batches` (index 0: empty), as plain records. */
function images(batches: Array<Array<[string, number]>>): Array<Record<string, number[]>> {
  const cur: Record<string, number[]> = {};
  const all = [{ ...cur }];
  for (const b of batches) {
    for (const [k, v] of b) cur[k] = [...enc(v)];
    all.push(Object.fromEntries(Object.entries(cur).sort(([a], [b]) => (a < b ? -1 : 1))));
  }
  return all;
}

const batchesArb = fc.array(
  fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(999)), { minLength: 1, maxLength: 4 }),
  {
    minLength: 1,
    maxLength: 12,
  },
);

describe('SimStore', () => {
  it('a process crash keeps every resolved batch; a batch in flight is kept or lost whole', async () => {
    await fc.assert(
      fc.asyncProperty(batchesArb, fc.nat(), async (batches, seed) => {
        const { disk: d } = disk(seed);
        const s = d.openStore('w1', 'none');
        for (const b of batches.slice(0, -1))
          await s.writeBatch(b.map(([key, v]) => ({ key, value: enc(v) })));
        const last = batches[batches.length - 1]!;
        void s.writeBatch(last.map(([key, v]) => ({ key, value: enc(v) }))); // in flight at the crash
        const report = d.crash('w1');
        const after = await image(d.openStore('w1', 'none'));
        const all = images(batches);
        const kept = all[all.length - 1]!;
        const lost = all[all.length - 2]!;
        expect([kept, lost]).toContainEqual(after);
        const same = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);
        if (!same(kept, lost)) expect(report.batchesLost).toBe(same(after, kept) ? 0 : 1);
      }),
      { numRuns: 100 },
    );
  });

  it('a power loss keeps, per level: sync every batch; batch an image after some late batch; none some earlier image', async () => {
    for (const level of ['sync', 'batch', 'none'] as const) {
      await fc.assert(
        fc.asyncProperty(batchesArb, fc.nat(), async (batches, seed) => {
          const { disk: d } = disk(seed, ['fsync-loss']);
          const s = d.openStore('w1', level);
          for (const b of batches) await s.writeBatch(b.map(([key, v]) => ({ key, value: enc(v) })));
          d.crash('w1', true);
          const after = await image(d.openStore('w1', level));
          const all = images(batches).map((x) => JSON.stringify(x));
          const at = all.lastIndexOf(JSON.stringify(after));
          expect(at).toBeGreaterThanOrEqual(0); // always some batch boundary: never a torn batch
          if (level === 'sync') expect(JSON.stringify(after)).toBe(all[all.length - 1]);
          if (level === 'batch') expect(at).toBeGreaterThanOrEqual(all.length - 4 - 1);
        }),
        { numRuns: 60 },
      );
    }
  });

  it('a dead incarnation never writes again; the same seed gives the same losses', async () => {
    const run = async (seed: number) => {
      const { disk: d, clock } = disk(seed, ['slow-disk', 'fsync-loss']);
      const old = d.openStore('w1', 'batch');
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < 6; i++) pending.push(old.writeBatch([{ key: `k${i}`, value: enc(i) }]));
      clock.advance(3);
      await Promise.resolve();
      const report = d.crash('w1', true);
      void old.writeBatch([{ key: 'zombie', value: enc(1) }]);
      clock.advance(100);
      const fresh = d.openStore('w1', 'batch');
      const img = await image(fresh);
      expect(img.zombie).toBeUndefined();
      return JSON.stringify([report, img]);
    };
    for (const seed of [1, 2, 3, 42]) expect(await run(seed)).toBe(await run(seed));
  });
});

describe('SimFile and SimFileSink', () => {
  const line = (s: string) => ({ payloads: [s] });

  it('a process crash keeps written bytes; torn-write tears the append in progress; power loss keeps what was synced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 1, maxLength: 10 }),
        fc.nat(),
        fc.boolean(),
        async (lines, seed, power) => {
          const { disk: d } = disk(seed, ['torn-write', 'fsync-loss']);
          const sink = new SimFileSink('sim:out', d.openFile('out.txt', 'w1'));
          const half = Math.ceil(lines.length / 2);
          for (const l of lines.slice(0, half)) await sink.write(line(l));
          const synced = await sink.resumable.settle(true);
          for (const l of lines.slice(half, -1)) await sink.write(line(l));
          const written = await sink.resumable.settle(false);
          void sink.write(line(lines[lines.length - 1]!)); // in progress at the crash
          const report = d.crash('w1', power);
          const text = new TextDecoder().decode(d.contents('out.txt'));
          const full = lines.map((l) => `${l}\n`).join('');
          expect(full.startsWith(text)).toBe(true); // a prefix: nothing reordered or invented
          expect(text.length).toBeGreaterThanOrEqual(power ? synced : written);
          const f = report.files.find((x) => x.path === 'out.txt');
          // A file that ends inside a line was torn, and the crash report says so.
          if (text.length > 0 && !text.endsWith('\n')) expect(f?.torn).toBe(true);
          // Recovery: cut back to what a store recorded, then the file is whole lines again.
          const reopened = new SimFileSink('sim:out', d.openFile('out.txt', 'w1'));
          await reopened.resumable.truncate(synced);
          expect(new TextDecoder().decode(d.contents('out.txt'))).toBe(full.slice(0, synced));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('truncating beyond the end names the file and both lengths', async () => {
    const { disk: d } = disk(1);
    const f = d.openFile('x.txt', 'w1');
    await f.append(Uint8Array.of(65, 10));
    await expect(f.truncate(10)).rejects.toThrow('x.txt: cannot truncate to 10 bytes, the file has 2');
  });
});
