// A child process for lmdb-store.test.ts, run under a file size limit: writes 2 KB batches
// until writeBatch fails, then prints `committed N` (the last batch whose writeBatch resolved)
// and `error MESSAGE`, and exits 1. Arguments: DIR.
import { openLmdbStore } from '../../../runtime/store/lmdb-store.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: full-writer.ts DIR\n');
  process.exit(2);
}
const store = await openLmdbStore({ dir, app: 'full', version: '1', partitions: 1, durability: 'batch' });
let committed = 0;
try {
  for (let n = 1; n <= 100_000; n++) {
    const count = new Uint8Array(4);
    new DataView(count.buffer).setUint32(0, n);
    await store.writeBatch([
      { key: `k/${String(n).padStart(6, '0')}`, value: new Uint8Array(2000).fill(n % 256) },
      { key: 'n', value: count },
    ]);
    committed = n;
  }
  // exit only once the output is written: a pipe's writes are asynchronous
  process.stdout.write(`committed ${committed}\nerror none: the limit was never reached\n`, () =>
    process.exit(0),
  );
} catch (e) {
  process.stdout.write(`committed ${committed}\nerror ${(e as Error).message}\n`, () => process.exit(1));
}
