// Recovery benchmark (`npm run bench:recovery`, part of `npm run bench`): how long a worker with
// an exactly-once store takes from its start to caught up, against the store's size.
//
// For each size, an embedded run writes the store through the engine's own commit path: a state
// step keyed by line, each state a string of --value-bytes (default 1000) bytes, from a file of
// that many distinct lines. Then the same application starts again on that store and the same
// file, which it has committed whole: the time from the start of that run to its end is the
// recovery (open the store, check its header, load every state, watermark and outbox, resume
// the source after its committed offset). Options: --mib A,B,... (the input's size; the store takes about twice that; default 64,256,512),
// --value-bytes N. The store directory is removed afterwards.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineApp, stringCodec } from '../runtime/index.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../runtime/engine/embedded.ts';
import { openLmdbStore } from '../runtime/store/lmdb-store.ts';
import { createSystemClock } from '../runtime/system.ts';
import type { Logger } from '../runtime/types.ts';
import { argValue } from './args.ts';

const VALUE_BYTES = argValue('--value-bytes', 1000);
const mibArg = process.argv.indexOf('--mib');
const SIZES_MIB = (mibArg >= 0 ? process.argv[mibArg + 1]! : '64,256,512').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--mib ${s}: sizes are positive integers (MiB)`);
  return n;
});

const clock = createSystemClock();
const quiet: Logger = { info: () => {}, warn: () => {}, error: (m) => console.error(m) };

function app(file: string) {
  const a = defineApp('recovery-bench', { partitions: 128 });
  a.source('lines', { uri: `file:${file}`, decode: stringCodec })
    .state('blobs', {
      key: (line: string) => line.slice(0, 12),
      init: () => '',
      // The state is the line itself (VALUE_BYTES long): the store grows by one value per key.
      update: (_s: string, line: string, emit: (out: string) => void) => {
        emit(line.slice(0, 12));
        return line;
      },
      codec: stringCodec,
    })
    .sink('none', { uri: 'count:', encode: stringCodec });
  return a.build();
}

async function run(file: string, dir: string): Promise<{ ms: number; messages: number }> {
  const a = app(file);
  const store = await openLmdbStore({
    dir,
    app: a.name,
    version: '1',
    partitions: a.partitionCount,
    durability: 'batch',
  });
  const t0 = clock.monotonicMs();
  try {
    const summary = await runEmbedded(a, {
      clock,
      log: quiet,
      deadLetters: new MemoryDeadLetterSink(quiet),
      exactlyOnce: { store, durability: 'batch' },
    });
    return { ms: clock.monotonicMs() - t0, messages: summary.metrics.ingested };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `recovery: a state step of ${VALUE_BYTES}-byte states, LMDB store (batch durability) in ${tmpdir()}`,
  );
  for (const mib of SIZES_MIB) {
    const work = mkdtempSync(join(tmpdir(), 'buffy-recovery-'));
    try {
      const keys = Math.ceil((mib * 1024 * 1024) / VALUE_BYTES);
      const file = join(work, 'input.txt');
      const pad = 'x'.repeat(Math.max(0, VALUE_BYTES - 12));
      writeFileSync(file, '');
      for (let at = 0; at < keys; at += 65536) {
        const lines: string[] = [];
        for (let i = at; i < Math.min(keys, at + 65536); i++)
          lines.push(`${String(i).padStart(12, '0')}${pad}\n`);
        appendFileSync(file, lines.join(''));
      }
      const dir = join(work, 'store');
      mkdirSync(dir);
      const first = await run(file, dir);
      const bytes = statSync(join(dir, 'store.mdb')).size;
      const again = await run(file, dir);
      if (again.messages !== 0)
        throw new Error(
          `the second run read ${again.messages} messages: the first run's commit was not resumed`,
        );
      console.log(
        `  ${keys.toLocaleString('en-US')} keys, store ${(bytes / 1024 / 1024).toFixed(0)} MiB: written in ${(first.ms / 1000).toFixed(1)} s (${Math.round((keys / first.ms) * 1000).toLocaleString('en-US')} states/s); recovery to caught up ${(again.ms / 1000).toFixed(2)} s (${((bytes / 1024 / 1024 / again.ms) * 1000).toFixed(0)} MiB/s)`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

await main();
