// Tracing benchmark: word count on one embedded worker engine (file source, counting sink) with
// tracing absent (the engine as before tracing), off, 1 in 1,000 and all messages. Reports go to
// an in-memory trace receiver (bounded at its defaults) or, for the "counting sink" modes, to a
// sink that only counts them (the engine's cost without the receiver's). Each run is a fresh process (so one mode's JIT feedback does not slow
// the next), the modes taking turns; prints words/s per mode (median of --runs) and the ratio to
// "absent", by wall-clock time and by the process's CPU time (less sensitive to other load).
// Options: --words N (default 1,000,000), --runs N (default 5).
//
//   node --import tsx --conditions=buffy-source bench/tracing.ts [--words N] [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

const WORDS = argValue('--words', 1_000_000);
const RUNS = argValue('--runs', 5);
const clock = createSystemClock();
const log: Logger = { info: () => undefined, warn: (m) => console.error(m), error: (m) => console.error(m) };

interface Mode {
  readonly name: string;
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

const MODES: readonly Mode[] = [
  { name: 'tracing absent (no option)', tracing: () => ({ opts: undefined, reports: () => 0 }) },
  {
    name: 'tracing off',
    tracing: () => ({
      opts: { sampling: { mode: 'off' }, sink: { report: () => undefined } },
      reports: () => 0,
    }),
  },
  { name: '1 in 1,000 (receiver)', tracing: toReceiver({ mode: 'oneIn', n: 1000 }) },
  {
    name: '1 in 1,000 (counting sink)',
    tracing: () => {
      let n = 0;
      return {
        opts: { sampling: { mode: 'oneIn', n: 1000 }, sink: { report: () => void n++ } },
        reports: () => n,
      };
    },
  },
  {
    name: 'all (counting sink)',
    tracing: () => {
      let n = 0;
      return { opts: { sampling: { mode: 'all' }, sink: { report: () => void n++ } }, reports: () => n };
    },
  },
  { name: 'all (receiver)', tracing: toReceiver({ mode: 'all' }) },
];

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

/** One measured run in this process (after one warm-up run of the same mode). */
async function child(file: string, k: number): Promise<void> {
  await runOnce(file, MODES[k]!);
  console.log(JSON.stringify(await runOnce(file, MODES[k]!)));
}

function inChild(file: string, k: number): Run {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, process.argv[1]!, '--child', String(k), '--file', file],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'buffy-bench-tracing-'));
  try {
    const file = join(dir, 'corpus.txt');
    writeFileSync(file, generateCorpus({ words: WORDS }));
    const rates = MODES.map(() => [] as number[]);
    const cpuRates = MODES.map(() => [] as number[]);
    const reports = MODES.map(() => 0);
    let words = 0;
    for (let r = 0; r < RUNS; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const res = inChild(file, k);
        words = res.words;
        reports[k] = res.reports;
        rates[k]!.push(res.words / (res.ms / 1000));
        cpuRates[k]!.push(res.words / (res.cpuMs / 1000));
      }
    }
    console.log(
      `word count, one worker engine, ${words.toLocaleString('en-US')} words, median of ${RUNS} runs`,
    );
    const base = median(rates[0]!);
    const cpuBase = median(cpuRates[0]!);
    const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(12);
    console.log(
      `${'mode'.padEnd(28)} ${'wall words/s'.padStart(12)}  ${'of absent'.padStart(9)}  ${'CPU words/s'.padStart(12)}  ${'of absent'.padStart(9)}  reports`,
    );
    MODES.forEach((m, k) => {
      const wps = median(rates[k]!);
      const cps = median(cpuRates[k]!);
      console.log(
        `${m.name.padEnd(28)} ${fmt(wps)}  ${`${((wps / base) * 100).toFixed(1)}%`.padStart(9)}  ${fmt(cps)}  ${`${((cps / cpuBase) * 100).toFixed(1)}%`.padStart(9)}  ${reports[k]!.toLocaleString('en-US')}`,
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0)
  await child(process.argv[process.argv.indexOf('--file') + 1]!, Number(process.argv[childAt + 1]));
else await main();
