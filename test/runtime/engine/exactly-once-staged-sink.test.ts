// Exactly-once with a staged file sink (docs/exactly-once.md, "File sinks without an outbox"):
// the sink's bytes are written at once and its length is committed with the states that
// produced them, after the sink settled. Checked on the simulated disk (runtime/sim/disk.ts),
// which tears the append in progress at a crash and, on a power loss, keeps only what was
// fsynced: the embedded engine is crashed at seeded moments (inside a sink write, i.e. between
// the file write and its commit, and inside a store commit), restarted on the same store and
// file until it finishes, and the file must hold every output exactly once. Also the order
// itself: no commit records a length before the sink has settled it.
import { unpack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { defineApp } from '../../../runtime/api/app.ts';
import type { Application } from '../../../runtime/api/app.ts';
import { stringCodec } from '../../../runtime/api/codec.ts';
import {
  clearMemoryConnectors,
  registerConnector,
  setMemorySource,
} from '../../../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../../../runtime/engine/dead-letters.ts';
import { probedStore } from './store-probe.ts';
import { runEmbedded } from '../../../runtime/engine/embedded.ts';
import { SimDisk, SimFileSink } from '../../../runtime/sim/disk.ts';
import { MemoryStore, createSeededRandom, createSystemClock } from '../../../runtime/system.ts';
import type { Logger, SinkConnector, Store } from '../../../runtime/types.ts';

const clock = createSystemClock();
const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
afterEach(() => clearMemoryConnectors());

function countApp(source: string, sink: string): Application {
  const app = defineApp('counts', { partitions: 4 });
  app
    .source('lines', { uri: source, decode: stringCodec })
    .flatMap('split', (l: string) => l.split(' ').filter((w) => w !== ''))
    .state('count', {
      key: (w: string) => w,
      init: () => 0,
      update: (n: number, w: string, emit: (o: string) => void) => {
        emit(`${w} ${n + 1}`);
        return n + 1;
      },
      codec: stringCodec,
    })
    .sink('out', { uri: sink, encode: stringCodec });
  return app.build();
}

const lines = (n: number): string[] => Array.from({ length: n }, (_, i) => `w${i % 7} w${i % 3} x${i % 11}`);

function expectedText(all: readonly string[]): string {
  const c = new Map<string, number>();
  let out = '';
  for (const l of all)
    for (const w of l.split(' ')) {
      const n = (c.get(w) ?? 0) + 1;
      c.set(w, n);
      out += `${w} ${n}\n`;
    }
  return out;
}

let currentSink: SinkConnector | null = null;
registerConnector('stagedsim', {
  createSink: () => {
    if (currentSink === null) throw new Error('no sink set for this incarnation');
    return currentSink;
  },
});

type Durability = 'sync' | 'batch' | 'none';

/** One seeded history: up to `crashes` crashes, each inside the n-th sink write or store
 * commit of its incarnation (seeded), then a run to the end. Returns the file's text. */
async function crashAndRecover(
  seed: number,
  durability: Durability,
  crashes: number,
  all: readonly string[],
): Promise<{ text: string; crashed: number; inSinkWrite: number }> {
  const random = createSeededRandom(seed);
  const power = durability === 'sync';
  const disk = new SimDisk({
    random: createSeededRandom(seed * 7919 + 1),
    clock,
    faults: power ? ['torn-write', 'fsync-loss'] : ['torn-write'],
  });
  setMemorySource(`staged-in-${seed}-${durability}`, [...all], 1 + random.nextInt(6));
  const app = countApp(`memory:staged-in-${seed}-${durability}`, 'stagedsim:');
  let crashed = 0;
  let inSinkWrite = 0;
  for (let inc = 0; ; inc++) {
    const crashNow = inc < crashes;
    // The crash comes at the n-th sink write or store commit of this incarnation.
    const atWrite = crashNow && random.nextInt(2) === 0;
    const n = 1 + random.nextInt(8);
    let seen = 0;
    let die!: () => void;
    const dead = new Promise<'crashed'>((res) => (die = () => res('crashed')));
    let isDead = false;
    const crash = (): void => {
      if (isDead) return;
      isDead = true;
      crashed++;
      disk.crash('w', power && random.nextInt(2) === 0);
      die();
    };
    const inner = disk.openStore('w', durability);
    const store: Store = {
      get: (k) => inner.get(k),
      scan: (p) => inner.scan(p),
      close: () => inner.close(),
      writeBatch(ops) {
        const p = inner.writeBatch(ops);
        if (crashNow && !atWrite && ++seen === n) crash(); // the commit in flight: kept or lost
        return p;
      },
    };
    const file = new SimFileSink('stagedsim:', disk.openFile('out.txt', 'w'));
    currentSink = {
      uri: 'stagedsim:',
      resumable: file.resumable,
      write(b) {
        const r = file.write(b);
        if (crashNow && atWrite && ++seen === n) {
          inSinkWrite++;
          crash(); // this append is torn; its commit never happens
        }
        return r;
      },
      flush: () => file.flush(),
      close: () => file.close(),
    };
    const done = runEmbedded(app, {
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      exactlyOnce: { store, durability, commitIntervalMs: 0 },
    });
    // A dead incarnation's writes never return: it stalls and is abandoned, as a killed
    // process would be.
    const outcome = await Promise.race([done.then(() => 'finished' as const), dead]);
    if (outcome === 'finished') {
      if (!isDead) break;
    }
    if (inc > crashes + 2) throw new Error(`seed ${seed}: no end after ${inc} incarnations`);
  }
  return { text: new TextDecoder().decode(disk.contents('out.txt')), crashed, inSinkWrite };
}

/** `paced:NAME`: the lines set with setPaced(NAME), 4 per batch, one batch per timer turn, so
 * that commits (one in flight) interleave with the batches. Replays from the start. */
const pacedLines = new Map<string, readonly string[]>();
registerConnector('paced', {
  createSource: (uri) => ({
    uri: uri.raw,
    async run(ctx) {
      const all = pacedLines.get(uri.rest) ?? [];
      for (let i = 0; i < all.length && !ctx.signal.aborted; i += 4) {
        await new Promise((res) => setTimeout(res, 0));
        await ctx.emit({ payloads: all.slice(i, i + 4), firstOffset: i });
      }
    },
    async stop() {},
  }),
});

describe('staged file sink on the simulated disk', () => {
  it('holds every output exactly once after crashes between the file write and the commit, torn writes and power loss', async () => {
    const all = lines(60);
    const want = expectedText(all);
    let crashes = 0;
    let inWrites = 0;
    for (const durability of ['sync', 'batch', 'none'] as const)
      for (let seed = 1; seed <= 25; seed++) {
        const r = await crashAndRecover(seed, durability, 1 + (seed % 3), all);
        expect(r.text, `seed ${seed}, ${durability}`).toBe(want);
        crashes += r.crashed;
        inWrites += r.inSinkWrite;
      }
    // The crashes happened, many of them inside a sink write (the new write order's window).
    expect(crashes).toBeGreaterThan(100);
    expect(inWrites).toBeGreaterThan(30);
  });
});

describe('staged sink write order', () => {
  it('a staged sink write in flight does not hurry the commit: commits keep commitIntervalMs', async () => {
    // Each write ends a turn of the event loop later (as SimFileSink's and any asynchronous
    // file's do): a source then always sees a write in flight. That is a reason for it to wait
    // (backpressure), not for a commit per batch: with a 10 s interval, the first commit (none
    // before it) and the final flush's are all there may be.
    let written = 0;
    registerConnector('slowstaged', {
      createSink: () => ({
        uri: 'slowstaged:',
        write: (b) =>
          new Promise<void>((res) =>
            setImmediate(() => {
              written += Buffer.byteLength(`${(b.payloads as string[]).join('\n')}\n`);
              res();
            }),
          ),
        flush: async () => undefined,
        close: async () => undefined,
        resumable: {
          truncate: async (n) => void (written = n),
          settle: async () => written,
          length: () => written,
        },
      }),
    });
    const inner = new MemoryStore();
    let commits = 0;
    const store = probedStore(inner, (ops) => {
      commits++;
      return inner.writeBatch(ops);
    });
    const all = lines(200);
    pacedLines.set('slow-in', all);
    await runEmbedded(countApp('paced:slow-in', 'slowstaged:'), {
      clock,
      log: silent,
      deadLetters: new MemoryDeadLetterSink(silent),
      exactlyOnce: { store, durability: 'batch', commitIntervalMs: 10_000 },
    });
    expect(written).toBe(Buffer.byteLength(expectedText(all)));
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(4); // 50 source batches: before the fix, about one commit each
  });

  it('a commit records a length only once the sink settled it (fsync with sync), and each output once', async () => {
    for (const durability of ['sync', 'batch'] as const) {
      let written = 0;
      let settled = 0;
      const fsyncs: boolean[] = [];
      const violations: string[] = [];
      const recorded: number[] = [];
      registerConnector('orderprobe', {
        createSink: () => ({
          uri: 'orderprobe:',
          write: (b) => {
            written += Buffer.byteLength(`${(b.payloads as string[]).join('\n')}\n`);
          },
          flush: async () => undefined,
          close: async () => undefined,
          resumable: {
            truncate: async (n) => {
              written = settled = n;
            },
            // A settle that takes a turn of the event loop (an fsync): batches go on meanwhile.
            settle: (fsync) => {
              fsyncs.push(fsync);
              const upTo = written;
              return new Promise<number>((res) =>
                setImmediate(() => {
                  settled = Math.max(settled, upTo);
                  res(upTo);
                }),
              );
            },
            length: () => written,
          },
        }),
      });
      const inner = new MemoryStore();
      const store = probedStore(inner, async (ops) => {
        for (const o of ops) {
          if (o.key !== 'k/out' || o.value === null) continue;
          const [, bytes] = unpack(o.value) as [number, number];
          recorded.push(bytes);
          if (bytes > settled) violations.push(`commit of length ${bytes} with ${settled} settled`);
        }
        await inner.writeBatch(ops);
      });
      const all = lines(200);
      pacedLines.set('order-in', all);
      await runEmbedded(countApp('paced:order-in', 'orderprobe:'), {
        clock,
        log: silent,
        deadLetters: new MemoryDeadLetterSink(silent),
        exactlyOnce: { store, durability, commitIntervalMs: 0 },
      });
      expect(violations).toEqual([]);
      expect(written).toBe(Buffer.byteLength(expectedText(all)));
      // Several commits, each recording more; the last one the whole file.
      expect(recorded.length).toBeGreaterThan(3);
      for (let i = 1; i < recorded.length; i++) expect(recorded[i]!).toBeGreaterThan(recorded[i - 1]!);
      expect(recorded.at(-1)).toBe(written);
      expect(new Set(fsyncs)).toEqual(new Set([durability === 'sync']));
    }
  });
});
