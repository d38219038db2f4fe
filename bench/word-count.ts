// Word count benchmark (`npm run bench`). One process, one deterministic corpus, three ways:
//   (a) a raw single loop in plain TS (read, split, count in a Map);
//   (b) Node.js object-mode streams: Readable(file) -> Transform split -> Transform count -> Writable;
//   (c) Buffy embedded (examples/word-count.ts, file source, counting sink), with source-to-sink
//       latency percentiles at full speed and at half of that rate (rate-limited source).
// Prints words/s, ratios to (b), and latency percentiles. Each figure is the median of `--runs`
// runs (default 3), the contenders taking turns. Then (e) exactly-once: the embedded run with a
// store (LMDB in a temporary directory) at each durability level against the same run without,
// for a counting sink (state and watermarks committed) and a file sink (outputs through the
// outbox too), with the ratios off/on. Options: --words N (default 2,000,000), --runs N,
// --eo-words N (default 1,000,000), --only-eo (part (e) alone, after a warm-up).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as hdr from 'hdr-histogram-js';
import wordCount, { splitWords } from '../examples/word-count.ts';
import { registerConnector } from '../runtime/connectors/index.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../runtime/engine/embedded.ts';
import { createSystemClock } from '../runtime/system.ts';
import { DURABILITY_LEVELS, openLmdbStore } from '../runtime/store/lmdb-store.ts';
import type { Durability } from '../runtime/store/lmdb-store.ts';
import type { Clock, LatencyRecorder, Logger, SourceConnector, SourceContext } from '../runtime/types.ts';
import {
  DEFAULT_LATENCY_WARMUP_MS,
  DEFAULT_LATENCY_WORDS,
  latencyText,
  measureClusterWordCount,
  measureLatencyAtRate,
} from './cluster.ts';
import { generateCorpus } from './corpus.ts';
import { argValue } from './args.ts';

const WORDS = argValue('--words', 2_000_000);
const RUNS = argValue('--runs', 3);
const EO_WORDS = argValue('--eo-words', 1_000_000);
const clock: Clock = createSystemClock();
const quietLog: Logger = {
  info: () => undefined,
  warn: (m) => console.error(m),
  error: (m) => console.error(m),
};

interface Result {
  words: number;
  ms: number;
  /** CPU time of this process during the run (user + system), ms; (e) only. */
  cpuMs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Measured {
  wordsPerSecond: number;
  words: number;
  /** Median words per CPU second (when the runs report their CPU time). */
  wordsPerCpuSecond?: number;
}

interface Contender {
  name: string;
  run: () => Promise<Result>;
}

/** Runs the contenders in turns (a, b, c, a, b, c, ...) so that a burst of load from other
 * processes hits them alike; reports the median words/s of each. */
async function measureInTurns(contenders: readonly Contender[]): Promise<Measured[]> {
  const rates = contenders.map(() => [] as number[]);
  const cpuRates = contenders.map(() => [] as number[]);
  const words = contenders.map(() => 0);
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const res = await contenders[k]!.run();
      words[k] = res.words;
      rates[k]!.push(res.words / (res.ms / 1000));
      if (res.cpuMs !== undefined) cpuRates[k]!.push(res.words / (res.cpuMs / 1000));
    }
  }
  return contenders.map((c, k) => {
    const wps = median(rates[k]!);
    const cpu = cpuRates[k]!.length > 0 ? median(cpuRates[k]!) : undefined;
    const cpuText =
      cpu === undefined ? '' : `  ${Math.round(cpu).toLocaleString('en-US').padStart(12)} words/CPU s`;
    console.log(
      `${c.name.padEnd(44)} ${Math.round(wps).toLocaleString('en-US').padStart(12)} words/s${cpuText}  (${words[k]} words, median of ${RUNS})`,
    );
    return cpu === undefined
      ? { wordsPerSecond: wps, words: words[k]! }
      : { wordsPerSecond: wps, words: words[k]!, wordsPerCpuSecond: cpu };
  });
}

// (a) raw loop
async function rawLoop(file: string): Promise<Result> {
  const t0 = clock.monotonicMs();
  const text = readFileSync(file, 'utf8');
  const counts = new Map<string, number>();
  let words = 0;
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const line = nl < 0 ? text.slice(start) : text.slice(start, nl);
    for (const w of splitWords(line)) {
      counts.set(w, (counts.get(w) ?? 0) + 1);
      words++;
    }
    if (nl < 0) break;
    start = nl + 1;
  }
  return { words, ms: clock.monotonicMs() - t0 };
}

// (b) Node.js object-mode streams
async function nodeStreams(file: string): Promise<Result> {
  const t0 = clock.monotonicMs();
  let carry = '';
  const split = new Transform({
    readableObjectMode: true,
    decodeStrings: false,
    transform(chunk: Buffer, _enc, cb) {
      const text = carry + chunk.toString('utf8');
      const lines = text.split('\n');
      carry = lines.pop()!;
      for (const line of lines) for (const w of splitWords(line)) this.push(w);
      cb();
    },
    flush(cb) {
      for (const w of splitWords(carry)) this.push(w);
      cb();
    },
  });
  const counts = new Map<string, number>();
  const count = new Transform({
    objectMode: true,
    transform(word: string, _enc, cb) {
      const n = (counts.get(word) ?? 0) + 1;
      counts.set(word, n);
      cb(null, { word, count: n });
    },
  });
  let received = 0;
  const sink = new Writable({
    objectMode: true,
    write(_u: unknown, _enc, cb) {
      received++;
      cb();
    },
  });
  await pipeline(createReadStream(file, { highWaterMark: 1 << 16 }), split, count, sink);
  return { words: received, ms: clock.monotonicMs() - t0 };
}

// (c) Buffy embedded
function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

async function buffy(
  sourceUri: string,
  latency?: LatencyRecorder,
  sink = 'count:',
  eo?: { dir: string; durability: Durability },
): Promise<Result> {
  const app = wordCount({ source: sourceUri, sink, params: { top: '0' } });
  // A fresh store per run (a store that holds the run already would skip it all).
  const store = eo
    ? await openLmdbStore({
        dir: mkdtempSync(join(eo.dir, 'store-')),
        app: app.name,
        version: '1',
        partitions: app.partitionCount,
        durability: eo.durability,
      })
    : null;
  try {
    const cpu0 = process.cpuUsage();
    const summary = await runEmbedded(app, {
      clock,
      log: quietLog,
      deadLetters: new MemoryDeadLetterSink(quietLog),
      ...(latency ? { latency } : {}),
      ...(store && eo ? { exactlyOnce: { store, durability: eo.durability } } : {}),
    });
    const cpu = process.cpuUsage(cpu0);
    return { words: summary.metrics.sunk, ms: summary.elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await store?.close();
  }
}

/** (e): exactly-once off and on (each durability), counting and file sinks, in turns. */
async function exactlyOnceComparison(dir: string): Promise<void> {
  const file = join(dir, 'eo-corpus.txt');
  writeFileSync(file, generateCorpus({ words: EO_WORDS, seed: 43 }));
  console.log(
    `\n(e) exactly-once, ${EO_WORDS.toLocaleString('en-US')} words, store on this machine's tmpdir:`,
  );
  const contenders: Contender[] = [];
  for (const sink of ['count:', `file:${join(dir, 'eo-out.txt')}`]) {
    const label = sink === 'count:' ? 'count:' : 'file:';
    contenders.push({
      name: `(e) ${label} sink, exactly-once off`,
      run: () => buffy(`file:${file}`, undefined, sink),
    });
    for (const durability of DURABILITY_LEVELS)
      contenders.push({
        name: `(e) ${label} sink, exactly-once ${durability}`,
        run: () => buffy(`file:${file}`, undefined, sink, { dir, durability }),
      });
  }
  const m = await measureInTurns(contenders);
  const per = 1 + DURABILITY_LEVELS.length;
  // on/off: the issue's target is "exactly-once on (batch) at least 0.7x of off".
  for (let k = 0; k < 2; k++) {
    const off = m[k * per]!;
    const ratio = (on: Measured): string => {
      const cpu =
        on.wordsPerCpuSecond !== undefined && off.wordsPerCpuSecond !== undefined
          ? ` (CPU ${(on.wordsPerCpuSecond / off.wordsPerCpuSecond).toFixed(2)}x)`
          : '';
      return `${(on.wordsPerSecond / off.wordsPerSecond).toFixed(2)}x${cpu}`;
    };
    const ratios = DURABILITY_LEVELS.map((d, i) => `${d} ${ratio(m[k * per + 1 + i]!)}`);
    console.log(`ratios on/off, ${k === 0 ? 'count:' : 'file:'} sink: ${ratios.join('  ')}`);
  }
}

/** `paced:` source: the corpus lines (set below) at `pacedLinesPerSecond`, emitted every ~1 ms.
 * Latency is measured from a message's entry into the engine (its birth) to its sink. */
let pacedLines: string[] = [];
let pacedLinesPerSecond = 0;
class PacedSource implements SourceConnector {
  readonly uri = 'paced:';
  private stopped = false;
  async run(ctx: SourceContext): Promise<void> {
    const c = ctx.clock;
    const t0 = c.monotonicMs();
    let next = 0;
    while (next < pacedLines.length && !this.stopped) {
      // At most 256 lines per batch, like the file source: a late tick does not become one huge batch.
      const due = Math.min(
        pacedLines.length,
        next + 256,
        Math.floor(((c.monotonicMs() - t0) / 1000) * pacedLinesPerSecond),
      );
      if (due > next) {
        await ctx.emit({ payloads: pacedLines.slice(next, due), firstOffset: next });
        next = due;
      } else {
        await new Promise<void>((res) => c.setTimer(1, res));
      }
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}
registerConnector('paced', { createSource: () => new PacedSource() });

function recorder(h: hdr.Histogram): LatencyRecorder {
  return {
    recordUs: (v) => h.recordValue(Math.max(1, Math.round(v))),
    recordUsWithCount: (v, n) => h.recordValueWithCount(Math.max(1, Math.round(v)), n),
  };
}

function latencyLine(name: string, h: hdr.Histogram): string {
  const us = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v} us`);
  return `${name.padEnd(44)} p50 ${us(h.getValueAtPercentile(50))}  p99 ${us(h.getValueAtPercentile(99))}  p99.9 ${us(
    h.getValueAtPercentile(99.9),
  )}  max ${us(h.maxValue)}  (${h.totalCount} messages)`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'buffy-bench-'));
  if (process.argv.includes('--only-eo')) {
    try {
      const warm = join(dir, 'warm.txt');
      writeFileSync(warm, generateCorpus({ words: 200_000, seed: 1 }));
      await buffy(`file:${warm}`);
      await exactlyOnceComparison(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  try {
    const file = join(dir, 'corpus.txt');
    const text = generateCorpus({ words: WORDS, seed: 42 });
    writeFileSync(file, text);
    console.log(
      `corpus: ${WORDS.toLocaleString('en-US')} words, ${(text.length / 1e6).toFixed(1)} MB, ${RUNS} runs each\n`,
    );

    // Warm-up (JIT) on a short prefix for each contender.
    const warm = join(dir, 'warm.txt');
    writeFileSync(warm, generateCorpus({ words: 200_000, seed: 1 }));
    await rawLoop(warm);
    await nodeStreams(warm);
    await buffy(`file:${warm}`);

    const h = histogram();
    const [a, b, c] = (await measureInTurns([
      { name: '(a) raw loop', run: () => rawLoop(file) },
      { name: '(b) Node.js object-mode streams', run: () => nodeStreams(file) },
      {
        name: '(c) Buffy embedded',
        run: () => {
          h.reset();
          return buffy(`file:${file}`, recorder(h));
        },
      },
    ])) as [Measured, Measured, Measured];
    // (d) the same job as a 2-worker local cluster: real processes, fed over TCP by a sender in this process.
    const d = await measureClusterWordCount({ corpusFile: file, words: WORDS, workers: 2 });
    console.log(
      `${'(d) Buffy 2-worker cluster'.padEnd(44)} ${Math.round(d.wordsPerSecond).toLocaleString('en-US').padStart(12)} words/s  (one run)`,
    );
    console.log('');
    console.log(
      `ratios to (b): (a) ${(a.wordsPerSecond / b.wordsPerSecond).toFixed(2)}x  (c) ${(c.wordsPerSecond / b.wordsPerSecond).toFixed(2)}x  (d) ${(d.wordsPerSecond / b.wordsPerSecond).toFixed(2)}x`,
    );
    console.log('');
    console.log(latencyLine('(c) latency, full speed (last run)', h));

    // Half rate: the same lines through a paced source at half of (c)'s measured rate.
    pacedLines = text.split('\n');
    if (pacedLines[pacedLines.length - 1] === '') pacedLines.pop();
    const wordsPerLine = c.words / pacedLines.length;
    pacedLinesPerSecond = c.wordsPerSecond / 2 / wordsPerLine;
    const h2 = histogram();
    const half = await buffy('paced:', recorder(h2));
    console.log(
      latencyLine(
        `(c) latency at half rate (${Math.round(half.words / (half.ms / 1000)).toLocaleString('en-US')} words/s)`,
        h2,
      ),
    );
    console.log(`${'(d) latency, full speed'.padEnd(44)} ${latencyText(d.latency)}`);
    // A corpus of its own, long enough that the warm-up left out is a small part of the run.
    const dHalf = await measureLatencyAtRate({ wordsPerSecond: d.wordsPerSecond / 2, workers: 2 });
    console.log(
      `${`(d) latency at half rate (${Math.round(dHalf.wordsPerSecond).toLocaleString('en-US')} words/s)`.padEnd(44)} ${latencyText(dHalf.latency)}` +
        `  (${(DEFAULT_LATENCY_WORDS / 1e6).toFixed(0)}M words, first ${DEFAULT_LATENCY_WARMUP_MS} ms of each worker left out)`,
    );
    for (const w of dHalf.perWorker) console.log(`${''.padEnd(44)}   ${w}`);
    await exactlyOnceComparison(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
