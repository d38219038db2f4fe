// Tracing benchmark: word count on one embedded worker engine (file source, counting sink) with
// tracing absent (the engine as before tracing), off, 1 in 1,000 and all messages. Reports go to
// an in-memory trace receiver (bounded at its defaults) or, for the "counting sink" modes, to a
// sink that only counts them (the engine's cost without the receiver's).
//
// Each run is a fresh process (so one mode's JIT feedback does not slow the next) that first
// warms up on a smaller corpus, then is timed on the full one; the modes take turns (A/B
// interleaved, so a change of load hits every mode alike). The "all" modes are 7x and 20x
// slower, so they run on a fraction of the words (throughput is per word, so the figures
// compare; each mode's run time is printed and should be >= 1.5 s). Prints words/s per mode
// (median of --runs) and its ratio to "absent", by wall-clock time and by the process's CPU
// time (user + system: less sensitive to other processes on a shared machine), with the load
// average before and after.
//
// Options: --words N (default 10,000,000: about 1.5 s per run on a quiet machine),
// --runs N (default 5), --warmup N (words of the warm-up run, default 1,000,000),
// --only K,K (mode numbers from 0, e.g. --only 0,2 for absent against 1 in 1,000).
//
//   node --import tsx --conditions=buffy-source bench/tracing.ts [--words N] [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import wordCount from '../examples/word-count.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { singleWorkerTable } from '../runtime/engine/partition.ts';
import { createWorkerEngine } from '../runtime/engine/worker.ts';
import { parseFlow } from '../runtime/flow/parse.ts';
import { TraceReceiver } from '../runtime/tracing/receiver.ts';
import type { TraceSink } from '../runtime/tracing/report.ts';
import type { TracingOptions } from '../runtime/tracing/tracer.ts';
import { createSystemClock } from '../runtime/system.ts';
import type { Logger } from '../runtime/types.ts';
import { generateCorpus } from './corpus.ts';
import { argValue } from './args.ts';

const WORDS = argValue('--words', 10_000_000);
const RUNS = argValue('--runs', 5);
const WARMUP = argValue('--warmup', 1_000_000);
const clock = createSystemClock();
const log: Logger = { info: () => undefined, warn: (m) => console.error(m), error: (m) => console.error(m) };

interface Mode {
  readonly name: string;
  /** The share of --words (and --warmup) this mode runs on. */
  readonly share: number;
  /** Fresh options per run (a new receiver each time). */
  readonly tracing: () => { opts: TracingOptions | undefined; reports: () => number };
}

const FLOW = parseFlow('lines;split;counts;updates');

function toReceiver(
  sampling: TracingOptions['sampling'],
): () => { opts: TracingOptions; reports: () => number } {
  return () => {
    const receiver = new TraceReceiver({ flow: FLOW });
    let n = 0;
    const sink: TraceSink = {
      report: (r) => {
        n++;
        receiver.report(r);
      },
    };
    return { opts: { sampling, sink }, reports: () => n };
  };
}

function toCounter(
  sampling: TracingOptions['sampling'],
): () => { opts: TracingOptions; reports: () => number } {
  return () => {
    let n = 0;
    return { opts: { sampling, sink: { report: () => void n++ } }, reports: () => n };
  };
}

const MODES: readonly Mode[] = [
  { name: 'tracing absent (no option)', share: 1, tracing: () => ({ opts: undefined, reports: () => 0 }) },
  { name: 'tracing off', share: 1, tracing: toCounter({ mode: 'off' }) },
  { name: '1 in 1,000 (receiver)', share: 1, tracing: toReceiver({ mode: 'oneIn', n: 1000 }) },
  { name: '1 in 1,000 (counting sink)', share: 1, tracing: toCounter({ mode: 'oneIn', n: 1000 }) },
  { name: 'all (counting sink)', share: 1 / 6, tracing: toCounter({ mode: 'all' }) },
  { name: 'all (receiver)', share: 1 / 20, tracing: toReceiver({ mode: 'all' }) },
];

function selected(): number[] {
  const i = process.argv.indexOf('--only');
  if (i < 0) return MODES.map((_, k) => k);
  const ks = (process.argv[i + 1] ?? '').split(',').map(Number);
  for (const k of ks) {
    if (!(Number.isInteger(k) && k >= 0 && k < MODES.length))
      throw new Error(
        `--only ${process.argv[i + 1]}: expected mode numbers 0..${MODES.length - 1}, e.g. 0,2`,
      );
  }
  return ks;
}

/** A run: wall-clock and CPU milliseconds (CPU time is less sensitive to other processes). */
interface Run {
  words: number;
  ms: number;
  cpuMs: number;
  reports: number;
}

async function runOnce(file: string, mode: Mode): Promise<Run> {
  const app = wordCount({ source: `file:${file}`, sink: 'count:', params: { top: '0' } });
  const t = mode.tracing();
  const engine = createWorkerEngine({
    app,
    workerName: 'bench',
    partitions: singleWorkerTable('bench', app.partitionCount),
    clock,
    log,
    deadLetters: new MemoryDeadLetterSink(),
    remote: { send: () => undefined },
    ...(t.opts ? { tracing: t.opts } : {}),
  });
  const t0 = clock.monotonicMs();
  const c0 = process.cpuUsage();
  await engine.start();
  await engine.sourcesDone();
  await engine.stop();
  const ms = clock.monotonicMs() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { words: engine.metrics().stateApplied['counts'] ?? 0, ms, cpuMs, reports: t.reports() };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One measured run in this process, after a warm-up run of the same mode on `warm`. */
async function child(warm: string, file: string, k: number): Promise<void> {
  await runOnce(warm, MODES[k]!);
  console.log(JSON.stringify(await runOnce(file, MODES[k]!)));
}

function inChild(warm: string, file: string, k: number): Run {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, process.argv[1]!, '--child', String(k), '--warm', warm, '--file', file],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const modes = selected();
  const dir = mkdtempSync(join(tmpdir(), 'buffy-bench-tracing-'));
  const started = clock.monotonicMs();
  try {
    // One corpus per share (the smaller ones are prefixes of the same generated text).
    const files = new Map<number, { warm: string; file: string }>();
    for (const share of new Set(modes.map((k) => MODES[k]!.share))) {
      const i = files.size;
      const warm = join(dir, `warm-${i}.txt`);
      const file = join(dir, `corpus-${i}.txt`);
      writeFileSync(warm, generateCorpus({ words: Math.max(1000, Math.round(WARMUP * share)), seed: 2 }));
      writeFileSync(file, generateCorpus({ words: Math.max(1000, Math.round(WORDS * share)) }));
      files.set(share, { warm, file });
    }
    const loadBefore = load();
    const rates = MODES.map(() => [] as number[]);
    const cpuRates = MODES.map(() => [] as number[]);
    const secs = MODES.map(() => [] as number[]);
    const reports = MODES.map(() => 0);
    const words = MODES.map(() => 0);
    for (let r = 0; r < RUNS; r++) {
      for (const k of modes) {
        const f = files.get(MODES[k]!.share)!;
        const res = inChild(f.warm, f.file, k);
        words[k] = res.words;
        reports[k] = res.reports;
        rates[k]!.push(res.words / (res.ms / 1000));
        cpuRates[k]!.push(res.words / (res.cpuMs / 1000));
        secs[k]!.push(res.ms / 1000);
      }
    }
    console.log(
      `word count, one worker engine, median of ${RUNS} runs (each a fresh process, warmed up), modes interleaved`,
    );
    console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${load()} after`);
    const base = modes.includes(0) ? median(rates[0]!) : NaN;
    const cpuBase = modes.includes(0) ? median(cpuRates[0]!) : NaN;
    const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(12);
    const pct = (x: number): string => (Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`).padStart(9);
    console.log(
      `${'mode'.padEnd(28)} ${'words'.padStart(11)} ${'run s'.padStart(6)}  ${'wall words/s'.padStart(12)}  ${'of absent'.padStart(9)}  ${'CPU words/s'.padStart(12)}  ${'of absent'.padStart(9)}  reports`,
    );
    for (const k of modes) {
      const wps = median(rates[k]!);
      const cps = median(cpuRates[k]!);
      console.log(
        `${MODES[k]!.name.padEnd(28)} ${words[k]!.toLocaleString('en-US').padStart(11)} ${median(secs[k]!).toFixed(2).padStart(6)}  ${fmt(wps)}  ${pct(wps / base)}  ${fmt(cps)}  ${pct(cps / cpuBase)}  ${reports[k]!.toLocaleString('en-US')}`,
      );
    }
    console.log(`bench time ${((clock.monotonicMs() - started) / 1000).toFixed(0)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
const argAfter = (name: string): string => process.argv[process.argv.indexOf(name) + 1]!;
if (childAt >= 0) await child(argAfter('--warm'), argAfter('--file'), Number(process.argv[childAt + 1]));
else await main();
