// A child process for lmdb-store.test.ts: writes batches in a loop until it is killed. Batch n
// puts n under every key w/0..w/(width-1) and under `n`, and deletes d/(n-1) while putting d/n:
// a reopened store holds a whole batch exactly when all these agree. Prints the number of each
// batch once writeBatch has resolved. Arguments: DIR DURABILITY WIDTH.
import { openLmdbStore, type Durability } from '../../../runtime/store/lmdb-store.ts';

const [dir, durability, widthArg] = process.argv.slice(2);
if (!dir || !durability || !widthArg) {
  process.stderr.write('usage: crash-writer.ts DIR DURABILITY WIDTH\n');
  process.exit(2);
}
const width = Number(widthArg);
const store = await openLmdbStore({
  dir,
  app: 'crash',
  version: '1',
  partitions: 1,
  durability: durability as Durability,
});
const enc = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
let last = 0;
for await (const [, v] of store.scan('n')) last = new DataView(v.buffer, v.byteOffset).getUint32(0);
for (let n = last + 1; ; n++) {
  const ops = [
    { key: 'n', value: enc(n) },
    { key: `d/${n - 1}`, value: null },
    { key: `d/${n}`, value: enc(n) },
  ];
  for (let i = 0; i < width; i++) ops.push({ key: `w/${i}`, value: enc(n) });
  await store.writeBatch(ops);
  process.stdout.write(`${n}\n`);
}
