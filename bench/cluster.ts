// Word count on a local cluster of real `buffy node` processes, fed over TCP by a sender in
// this process. bench/word-count.ts calls `measureClusterWordCount` for its line (d); run alone:
//
//   node --import tsx --conditions=buffy-source bench/cluster.ts [words] [workers]
//        [--latency-words N] [--warmup-ms MS] [--rate WORDS_PER_S] [--latency-only]
//        [--cut-ms M] [--seed S] [--max-batch N]
//
// It prints, in this order:
// 1. Throughput at full speed: `words` (default 2,000,000) words / (time from the first byte
//    sent to the moment the initializer reports the cluster drained, i.e. every word counted and
//    every update at its sink). Skipped with --rate.
// 2. Source-to-sink latency at half that rate (or at --rate): a separate corpus of
//    --latency-words (default 6,000,000) words paced at that rate, so the run lasts about ten
//    seconds; what reaches a worker's sinks in its first --warmup-ms (default 2,000) ms is left
//    out (JIT compilation and heap growth, not the steady state). A message is born when the
//    initializer's source received its line (the wait in the source's buffer counts) and is
//    recorded at the sink of whichever worker owns its word: on the initializer the path is
//    local, on the others it crosses the data channel. Merged over all workers, then each
//    worker's own line.
// 3. Unless --latency-only: the same word count with its data connections going through a proxy
//    in this process (runtime/net/cut-proxy.ts), once without cuts and once with the proxy
//    resetting them every M ms on average (seeded), and the ratio.
// --max-batch N gives the initializer's tcp: source `max-batch=N` (lines per source batch, in
// every run; the default is the source's, 256).
// NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' (for example) passes options to the latency run's
// node processes.
// Every line says the machine's load (1-minute load average): on a shared machine compare runs
// made at the same load, interleaved. Under other people's load the tail is the scheduler's:
// `chrt -f 10 node ... bench/cluster.ts --rate R --latency-only` (real-time priority, paced)
// stands in for a quiet machine. Never the full-speed run under chrt: the two workers then
// take both cores and the sender, at the same priority, never runs again.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUFFY_BIN, eachLine } from '../runtime/cluster/local.ts';
import { sendFile } from '../runtime/cluster/tools.ts';
import { DEFAULT_TCP_MAX_BATCH } from '../runtime/connectors/tcp.ts';
import { parseHostPort } from '../runtime/net/tcp-channel.ts';
import { startCutProxy, type CutProxy } from '../runtime/net/cut-proxy.ts';
import { createSeededRandom } from '../runtime/system.ts';
import type { LatencySummary } from '../runtime/cluster/latency.ts';
import { argValue } from './args.ts';
import { generateCorpus } from './corpus.ts';

/** Words of the latency run's corpus: about ten seconds at half the rate of this machine type. */
export const DEFAULT_LATENCY_WORDS = 6_000_000;
/** What reaches each worker's sinks in its first this many ms is not in the latency figures. */
export const DEFAULT_LATENCY_WARMUP_MS = 2_000;

const WORD_COUNT_APP = fileURLToPath(new URL('../examples/word-count.ts', import.meta.url));

export interface ClusterBenchOptions {
  /** Text file, one message per line. */
  readonly corpusFile: string;
  /** Number of words in it (for words/s). */
  readonly words: number;
  readonly workers?: number;
  /** Application module (default examples/word-count.ts). */
  readonly app?: string;
  /** Messages per write of the sender. */
  readonly sendBatch?: number;
  /** Pace the sender to this many lines per second (default: as fast as possible). */
  readonly linesPerSecond?: number;
  /** Prints the nodes' stderr when set. */
  readonly verbose?: boolean;
  readonly timeoutMs?: number;
  /**
   * Data connections through a proxy in this process (each worker listens on 127.0.0.1 and
   * advertises the proxy on 127.0.0.2, same port); with `meanCutIntervalMs` the proxy resets
   * every connection at seeded random moments.
   */
  readonly proxy?: { readonly seed: number; readonly meanCutIntervalMs?: number };
  /** Latency of what reaches a worker's sinks in its first this many ms is not recorded. */
  readonly latencyWarmupMs?: number;
  /** Options for each node's `node` process (e.g. `--cpu-prof`), before the buffy script. */
  readonly nodeArgs?: readonly string[];
  /** The tcp: source's `max-batch=N` (lines per source batch; default the source's). */
  readonly sourceMaxBatch?: number;
}

export interface ClusterBenchResult {
  readonly workers: number;
  readonly words: number;
  readonly lines: number;
  readonly elapsedMs: number;
  readonly wordsPerSecond: number;
  /** Source-to-sink latency percentiles over all workers, in microseconds. */
  readonly latency: LatencySummary;
  /** Time the sender needed to hand every line to the socket. */
  readonly sendMs: number;
  /** With `proxy`: the cuts made (each reset every connection then through the proxy). */
  readonly cuts: number;
  /** Each worker's own latency line (`w1: p50 ...`), as its node logged it. */
  readonly perWorker: readonly string[];
}

/** A log line's message: the nodes log JSON lines (pino) when stderr is not a terminal. */
function logMessage(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as { msg?: unknown };
    return typeof o.msg === 'string' ? o.msg : line;
  } catch {
    return line;
  }
}

function waitForLine(
  lines: string[],
  pattern: RegExp,
  proc: ChildProcess,
  timeoutMs: number,
  what: string,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      for (const l of lines) {
        const m = pattern.exec(l);
        if (m) return resolve(m);
      }
      if (proc.exitCode !== null)
        return reject(new Error(`${what}: the node exited (${proc.exitCode}):\n${lines.join('\n')}`));
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`${what}: timed out after ${timeoutMs} ms:\n${lines.join('\n')}`));
      setTimeout(tick, 2);
    };
    tick();
  });
}

export async function measureClusterWordCount(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const workers = options.workers ?? 2;
  const app = options.app ?? WORD_COUNT_APP;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const children: ChildProcess[] = [];
  const lines: string[][] = [];
  const lineTimes: number[][] = [];
  const exits: Array<Promise<number>> = [];
  const proxies: CutProxy[] = [];
  /** `--data` of a worker: direct, or behind a cut proxy on 127.0.0.2 (the same port). */
  const dataArgs = async (i: number): Promise<string[]> => {
    if (!options.proxy) return ['--data', '127.0.0.1:0'];
    for (let attempt = 0; ; attempt++) {
      const probe = await startCutProxy({
        listen: { host: '127.0.0.2', port: 0 },
        target: { host: '127.0.0.1', port: 1 },
        random: createSeededRandom(0),
      });
      const port = probe.address.port;
      await probe.close();
      try {
        const proxy = await startCutProxy({
          listen: { host: '127.0.0.2', port },
          target: { host: '127.0.0.1', port },
          random: createSeededRandom(options.proxy.seed * 31 + i),
          ...(options.proxy.meanCutIntervalMs !== undefined
            ? { meanIntervalMs: options.proxy.meanCutIntervalMs }
            : {}),
        });
        proxies.push(proxy);
        return ['--data', `127.0.0.1:${port}`, '--advertise', '127.0.0.2'];
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  };
  const start = (name: string, args: string[]): ChildProcess => {
    const child = spawn(
      process.execPath,
      [
        ...(options.nodeArgs ?? []),
        BUFFY_BIN,
        'node',
        app,
        '--name',
        name,
        '--workers',
        String(workers),
        '--cluster',
        'bench',
        '--sink',
        'count:',
        '--param',
        'top=0',
        '--latency',
        ...(options.latencyWarmupMs ? ['--latency-warmup', String(options.latencyWarmupMs)] : []),
        ...args,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const mine: string[] = [];
    const times: number[] = [];
    lines.push(mine);
    lineTimes.push(times);
    eachLine(child.stderr!, (raw) => {
      const l = logMessage(raw);
      mine.push(l);
      times.push(performance.now());
      if (options.verbose) process.stderr.write(`${l}\n`);
    });
    exits.push(new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1))));
    children.push(child);
    return child;
  };
  try {
    const init = start('w1', [
      ...(await dataArgs(1)),
      '--initializer',
      '--control',
      '127.0.0.1:0',
      '--source',
      `tcp:127.0.0.1:0?end-after=1${options.sourceMaxBatch !== undefined ? `&max-batch=${options.sourceMaxBatch}` : ''}`,
      '--stop-when-done',
    ]);
    const control = (
      await waitForLine(lines[0]!, /control listening on (127\.0\.0\.1:\d+)/, init, timeoutMs, 'initializer')
    )[1]!;
    for (let i = 2; i <= workers; i++) start(`w${i}`, [...(await dataArgs(i)), '--control', control]);
    await waitForLine(lines[0]!, /cluster 'bench' started/, init, timeoutMs, 'cluster start');
    const source = (
      await waitForLine(
        lines[0]!,
        /source tcp:\S+ listening on (127\.0\.0\.1:\d+)/,
        init,
        timeoutMs,
        'source',
      )
    )[1]!;
    const t0 = performance.now();
    const sent = await sendFile({
      to: parseHostPort(source, 'source'),
      file: options.corpusFile,
      batch: options.sendBatch ?? (options.linesPerSecond ? 100 : 2000),
      ...(options.linesPerSecond ? { rate: options.linesPerSecond } : {}),
    });
    const sendMs = performance.now() - t0;
    const drained = await waitForLine(lines[0]!, /cluster drained/, init, timeoutMs, 'drain');
    for (const p of proxies) p.stopCutting();
    const drainedAt = lineTimes[0]![lines[0]!.indexOf(drained.input)]!;
    const summary = await waitForLine(lines[0]!, /cluster summary: (\{.*\})$/, init, timeoutMs, 'summary');
    const codes = await Promise.all(exits);
    if (codes.some((c) => c !== 0))
      throw new Error(`cluster bench: node exit codes ${codes.join(', ')}:\n${lines.flat().join('\n')}`);
    const parsed = JSON.parse(summary[1]!) as {
      latency: LatencySummary | null;
      workers: Array<{ metrics: { sunk: number } | null }>;
    };
    const perWorker: string[] = [];
    for (const mine of lines) {
      for (const l of mine) {
        const m = /^worker '([^']+)' source-to-sink latency: (.*)$/.exec(l);
        if (m) perWorker.push(`${m[1]}: ${m[2]}`);
      }
    }
    const sunk = parsed.workers.reduce((n, w) => n + (w.metrics?.sunk ?? 0), 0);
    if (sunk !== options.words)
      throw new Error(
        `cluster bench: ${sunk} updates reached the sinks, expected ${options.words} (one per word)`,
      );
    const elapsedMs = drainedAt - t0;
    return {
      workers,
      words: options.words,
      lines: sent.messages,
      elapsedMs,
      wordsPerSecond: (options.words * 1000) / elapsedMs,
      latency: parsed.latency ?? { count: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 },
      sendMs,
      cuts: proxies.reduce((n, p) => n + p.cuts, 0),
      perWorker,
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(proxies.map((p) => p.close()));
  }
}

export interface LatencyRunOptions {
  /** The rate the sender keeps (words per second, by the corpus's words per line). */
  readonly wordsPerSecond: number;
  readonly workers?: number;
  /** Words of the run's corpus (default DEFAULT_LATENCY_WORDS). */
  readonly words?: number;
  /** What reaches each worker's sinks in its first this many ms is left out (default DEFAULT_LATENCY_WARMUP_MS). */
  readonly warmupMs?: number;
  readonly nodeArgs?: readonly string[];
  readonly verbose?: boolean;
  /** The tcp: source's `max-batch=N`. */
  readonly sourceMaxBatch?: number;
}

/** Source-to-sink latency at a given rate, on a corpus of its own (seed 43) long enough that the
 * warm-up left out is a small part of the run. */
export async function measureLatencyAtRate(o: LatencyRunOptions): Promise<ClusterBenchResult> {
  const words = o.words ?? DEFAULT_LATENCY_WORDS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-bench-latency-'));
  try {
    const file = path.join(dir, 'latency-corpus.txt');
    const corpus = generateCorpus({ words, seed: 43 });
    fs.writeFileSync(file, corpus);
    return await measureClusterWordCount({
      corpusFile: file,
      words,
      workers: o.workers ?? 2,
      linesPerSecond: (o.wordsPerSecond * countLines(corpus)) / words,
      latencyWarmupMs: o.warmupMs ?? DEFAULT_LATENCY_WARMUP_MS,
      ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
      ...(o.verbose ? { verbose: true } : {}),
      ...(o.sourceMaxBatch !== undefined ? { sourceMaxBatch: o.sourceMaxBatch } : {}),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function latencyText(l: LatencySummary): string {
  return `p50 ${fmtUs(l.p50Us)}  p99 ${fmtUs(l.p99Us)}  p99.9 ${fmtUs(l.p999Us)}  max ${fmtUs(l.maxUs)}  (${l.count} messages)`;
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`;
}

async function main(): Promise<void> {
  const positional = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  const words = Number(positional[0] ?? 2_000_000);
  const workers = Number(positional[1] ?? 2);
  const cutMs = argValue('--cut-ms', 100);
  const seed = argValue('--seed', 1);
  const latencyWords = argValue('--latency-words', DEFAULT_LATENCY_WORDS);
  const warmupMs = argValue('--warmup-ms', DEFAULT_LATENCY_WARMUP_MS);
  const fixedRate = process.argv.includes('--rate') ? argValue('--rate', 1) : null;
  const latencyOnly = process.argv.includes('--latency-only');
  const maxBatch = process.argv.includes('--max-batch')
    ? argValue('--max-batch', DEFAULT_TCP_MAX_BATCH)
    : undefined;
  const batchOption = maxBatch !== undefined ? { sourceMaxBatch: maxBatch } : {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-bench-cluster-'));
  const load = () => `load ${os.loadavg()[0]!.toFixed(2)}`;
  try {
    const file = path.join(dir, 'corpus.txt');
    fs.writeFileSync(file, generateCorpus({ words, seed: 42 }));
    let rate = fixedRate;
    if (rate === null) {
      const r = await measureClusterWordCount({
        corpusFile: file,
        words,
        workers,
        verbose: process.env.VERBOSE === '1',
        ...batchOption,
      });
      console.log(
        `(d) Buffy ${r.workers}-worker cluster: ${Math.round(r.wordsPerSecond).toLocaleString('en-US')} words/s ` +
          `(${r.words.toLocaleString('en-US')} words, ${r.lines.toLocaleString('en-US')} lines in ${(r.elapsedMs / 1000).toFixed(3)} s; sender done after ${(r.sendMs / 1000).toFixed(3)} s; ${load()})`,
      );
      console.log(`(d) latency source-to-sink, full speed: ${latencyText(r.latency)}`);
      rate = r.wordsPerSecond / 2;
    }
    // The latency run: a longer corpus paced at half the measured rate (or --rate), the first
    // --warmup-ms of every worker left out.
    const half = await measureLatencyAtRate({
      wordsPerSecond: rate,
      workers,
      words: latencyWords,
      warmupMs,
      nodeArgs: (process.env.NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
      verbose: process.env.VERBOSE === '1',
      ...batchOption,
    });
    console.log(
      `(d) latency source-to-sink at ${fixedRate === null ? 'half rate' : '--rate'} (${Math.round(half.wordsPerSecond).toLocaleString('en-US')} words/s, ` +
        `${latencyWords.toLocaleString('en-US')} words, first ${warmupMs} ms of each worker left out; ${load()}): ${latencyText(half.latency)}`,
    );
    for (const w of half.perWorker) console.log(`(d)   ${w}`);
    if (latencyOnly) return;
    // Data connections through the cut proxy: without cuts, then cut every ~cutMs ms.
    const through = await measureClusterWordCount({
      corpusFile: file,
      words,
      workers,
      proxy: { seed },
      ...batchOption,
    });
    const cut = await measureClusterWordCount({
      corpusFile: file,
      words,
      workers,
      proxy: { seed, meanCutIntervalMs: cutMs },
      ...batchOption,
    });
    const wps = (x: ClusterBenchResult) => Math.round(x.wordsPerSecond).toLocaleString('en-US');
    console.log(
      `(d) through a proxy, no cuts: ${wps(through)} words/s (${(through.elapsedMs / 1000).toFixed(3)} s); ` +
        `cut every ~${cutMs} ms (seed ${seed}): ${wps(cut)} words/s (${(cut.elapsedMs / 1000).toFixed(3)} s, ${cut.cuts} cuts); ` +
        `ratio ${(cut.wordsPerSecond / through.wordsPerSecond).toFixed(2)} (${load()})`,
    );
    console.log(`(d) latency with cuts: ${latencyText(cut.latency)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Lines of a corpus (every line ends with a newline). */
function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
