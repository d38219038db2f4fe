// Word count on a local cluster of real `buffy node` processes, fed over TCP by a sender in
// this process. bench/word-count.ts calls `measureClusterWordCount` for its line (d);
// run alone: `node --import tsx bench/cluster.ts [words] [workers]`.
//
// Measured: words / (time from the first byte sent to the moment the initializer reports the
// cluster drained, i.e. every word counted and every update at its sink). Latency is source-
// to-sink per message (born when the initializer's source emits it, recorded at the sink on
// whichever worker owns the word), merged over all workers.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUFFY_BIN, eachLine } from '../runtime/cluster/local.ts';
import { sendFile } from '../runtime/cluster/tools.ts';
import { parseHostPort } from '../runtime/net/tcp-channel.ts';
import type { LatencySummary } from '../runtime/cluster/latency.ts';
import { generateCorpus } from './corpus.ts';

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
  const start = (name: string, args: string[]): ChildProcess => {
    const child = spawn(
      process.execPath,
      [
        BUFFY_BIN,
        'node',
        app,
        '--name',
        name,
        '--workers',
        String(workers),
        '--cluster',
        'bench',
        '--data',
        '127.0.0.1:0',
        '--sink',
        'count:',
        '--param',
        'top=0',
        '--latency',
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
    eachLine(child.stderr!, (l) => {
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
      '--initializer',
      '--control',
      '127.0.0.1:0',
      '--source',
      'tcp:127.0.0.1:0?end-after=1',
      '--stop-when-done',
    ]);
    const control = (
      await waitForLine(lines[0]!, /control listening on (127\.0\.0\.1:\d+)/, init, timeoutMs, 'initializer')
    )[1]!;
    for (let i = 2; i <= workers; i++) start(`w${i}`, ['--control', control]);
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
    const drainedAt = lineTimes[0]![lines[0]!.indexOf(drained.input)]!;
    const summary = await waitForLine(lines[0]!, /cluster summary: (\{.*\})$/, init, timeoutMs, 'summary');
    const codes = await Promise.all(exits);
    if (codes.some((c) => c !== 0))
      throw new Error(`cluster bench: node exit codes ${codes.join(', ')}:\n${lines.flat().join('\n')}`);
    const parsed = JSON.parse(summary[1]!) as {
      latency: LatencySummary | null;
      workers: Array<{ metrics: { sunk: number } | null }>;
    };
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
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

export function latencyText(l: LatencySummary): string {
  return `p50 ${fmtUs(l.p50Us)}  p99 ${fmtUs(l.p99Us)}  p99.9 ${fmtUs(l.p999Us)}  max ${fmtUs(l.maxUs)}  (${l.count} messages)`;
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} us`;
}

async function main(): Promise<void> {
  const words = Number(process.argv[2] ?? 2_000_000);
  const workers = Number(process.argv[3] ?? 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-bench-cluster-'));
  try {
    const file = path.join(dir, 'corpus.txt');
    fs.writeFileSync(file, generateCorpus({ words, seed: 42 }));
    const r = await measureClusterWordCount({
      corpusFile: file,
      words,
      workers,
      verbose: process.env.VERBOSE === '1',
    });
    console.log(
      `(d) Buffy ${r.workers}-worker cluster: ${Math.round(r.wordsPerSecond).toLocaleString('en-US')} words/s ` +
        `(${r.words.toLocaleString('en-US')} words, ${r.lines.toLocaleString('en-US')} lines in ${(r.elapsedMs / 1000).toFixed(3)} s; sender done after ${(r.sendMs / 1000).toFixed(3)} s)`,
    );
    console.log(`(d) latency source-to-sink, full speed: ${latencyText(r.latency)}`);
    // The same corpus paced at half the measured rate.
    const half = await measureClusterWordCount({
      corpusFile: file,
      words,
      workers,
      linesPerSecond: ((r.wordsPerSecond / 2) * r.lines) / r.words,
    });
    console.log(
      `(d) latency source-to-sink at half rate (${Math.round(half.wordsPerSecond).toLocaleString('en-US')} words/s): ${latencyText(half.latency)}`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
