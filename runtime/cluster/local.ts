// `buffy run APP --workers N`: a local cluster of N `buffy node` processes on 127.0.0.1. The
// initializer binds its control port to 0 (a free port) and announces it; the other workers
// are started with that address and bind their data ports to 0 as well (each registers the
// address it got). The run ends when the sources end (or on a signal); the exit code is the
// worst of the nodes'.
//
// Process tree: the workers run in their own process group (so a terminal's Ctrl-C reaches only
// this process, which passes SIGINT/SIGTERM to the initializer, which stops the cluster
// cleanly), and each holds a pipe from this process on its standard input
// (`buffy node --exit-with-stdin`): when this process dies, even by SIGKILL, the pipe closes
// and every worker stops and exits, freeing its ports.
//
// A worker that dies (killed, or exits with an error while the cluster runs) is started again
// with its command, at most MAX_RESTARTS times; the initializer on the control address it had,
// so that the others reconnect to it. Each worker has a store (--state) under a fresh temporary
// directory, removed after a clean end: a restarted worker recovers from it.
//
// Output: the workers' standard output comes through this process, a complete line at a time,
// so that a `stdout:` sink of N workers never mixes parts of lines. A `file:` sink writes one
// file per worker (perWorkerPath: out/c.txt -> out/c.w1.txt ...), and so do dead letters
// (out/dead-letters.w1.jsonl ...); the run ends by saying where they are.

import { spawn } from 'node:child_process';
import fs, { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Application } from '../api/app.ts';
import type { AppOptions } from '../api/options.ts';
import { appForClusterWorker } from '../connectors/index.ts';
import { perWorkerPath } from '../connectors/file.ts';
import { DEFAULT_DEAD_LETTERS } from '../connectors/dead-letter-file.ts';
import { countOf } from './text.ts';
import { parseHostPort } from '../net/tcp-channel.ts';
import type { HostPort } from '../net/tcp-channel.ts';

/** The `buffy` launcher the workers run: bin/buffy.mjs of this package, two folders up from the
 * sources (runtime/cluster/) or three from the compiled code (dist/runtime/cluster/). */
export const BUFFY_BIN = ((): string => {
  const candidates = ['../../bin/buffy.mjs', '../../../bin/buffy.mjs'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
})();

export interface LocalClusterOptions {
  readonly cluster?: string;
  /** Keep running after the sources end (until a signal); default false. */
  readonly untilSignal?: boolean;
  /** Metrics of worker i (1..N) on HOST:PORT+i-1 (port 0: each worker any free port). */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** Where the nodes' stderr goes (default: this process's stderr). */
  readonly onStderr?: (line: string) => void;
  readonly startTimeoutMs?: number;
  /** Where the nodes' standard output goes, complete lines at a time (default: this process's
   * stdout). */
  readonly stdout?: NodeJS.WritableStream;
  /** Dead-letter file; worker W writes perWorkerPath(deadLetters, W) (default
   * out/dead-letters.jsonl -> out/dead-letters.w1.jsonl ...). */
  readonly deadLetters?: string;
  /** The loaded app: used to say, at the end, which files its file: sinks wrote. */
  readonly app?: Application;
  /** Extra arguments of every worker (e.g. --trace S --trace-to HOST:PORT). */
  readonly nodeArgs?: readonly string[];
  /** Give every worker a store (--state) under a fresh temporary directory (default true). */
  readonly state?: boolean;
  /** A worker that dies is started again at most this many times (default MAX_RESTARTS). */
  readonly maxRestarts?: number;
  /** A live view of the run (buffy run's progress line on a terminal): started once the
   * initializer announced its control address, stopped when the initializer has exited. With
   * it, every worker serves metrics (on any free loopback port when `metrics` is not given). */
  readonly watch?: (control: HostPort) => () => void;
}

/** The names of the workers of a local cluster: w1 (the initializer) .. wN. */
export function localWorkerNames(workers: number): string[] {
  return Array.from({ length: workers }, (_, i) => `w${i + 1}`);
}

/** Lines saying where a local cluster's per-worker files are: the file: sinks' files, and the
 * dead-letter files of the workers that wrote any (from the initializer's summary). */
export function describeOutputs(
  app: Application | undefined,
  names: readonly string[],
  deadLetters: string,
  summary: ClusterSummary | null,
): string[] {
  const lines: string[] = [];
  if (app) {
    const perSink = new Map<string, string[]>();
    for (const name of names) {
      for (const r of appForClusterWorker(app, name).rewritten) {
        const files = perSink.get(r.step) ?? [];
        files.push(r.workerUri.replace(/^file:/, ''));
        perSink.set(r.step, files);
      }
    }
    for (const [step, files] of perSink)
      lines.push(`sink "${step}" wrote one file per worker: ${files.join(', ')}`);
  }
  const letters = (summary?.workers ?? []).filter((w) => (w.metrics?.deadLetters ?? 0) > 0);
  if (letters.length > 0) {
    const total = letters.reduce((n, w) => n + w.metrics!.deadLetters, 0);
    lines.push(
      `${countOf(total, 'dead letter')}: ${letters.map((w) => `${perWorkerPath(deadLetters, w.name)} (${w.metrics!.deadLetters})`).join(', ')}`,
    );
  }
  return lines;
}

/** The initializer's `cluster summary: {...}` line, as far as this module reads it. */
export interface ClusterSummary {
  readonly exitCode: number;
  readonly workers: ReadonlyArray<{ name: string; metrics: { deadLetters: number } | null }>;
}

export const CLUSTER_SUMMARY = /cluster summary: (\{.*\})\s*$/;

function parseSummary(line: string): ClusterSummary | null {
  // A JSON log line (runtime/log.ts, when the workers' stderr is not a terminal) holds the
  // text line's message in `msg`.
  let text = line;
  if (line.startsWith('{') && line.includes('cluster summary: ')) {
    try {
      const rec = JSON.parse(line) as { msg?: unknown };
      if (typeof rec.msg === 'string') text = rec.msg;
    } catch {
      return null;
    }
  }
  const m = CLUSTER_SUMMARY.exec(text);
  if (!m) return null;
  try {
    return JSON.parse(m[1]!) as ClusterSummary;
  } catch {
    return null;
  }
}

/** Passes a child's output on a complete line at a time (the rest at its end), so that the
 * outputs of several children never mix within a line; pauses the child while `out` is full. */
export function forwardLines(
  from: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
  onBroken: (err: Error) => void = () => undefined,
): Promise<void> {
  // The start of a line not ended yet (chunks, joined once its newline comes).
  let rest: Buffer[] = [];
  let broken = false;
  // A closed output (EPIPE: `| head`) ends the forwarding quietly: the rest is read and dropped.
  const onError = (err: Error): void => {
    if (broken) return;
    broken = true;
    onBroken(err);
    from.resume();
  };
  out.on('error', onError);
  const write = (b: Buffer): void => {
    if (broken) return;
    if (!out.write(b)) {
      from.pause();
      const resume = (): void => {
        out.off('drain', resume);
        out.off('error', resume);
        from.resume();
      };
      out.once('drain', resume);
      out.once('error', resume);
    }
  };
  return new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('error', onError);
      resolve();
    };
    from.on('data', (chunk: Buffer) => {
      const nl = chunk.lastIndexOf(10);
      if (nl < 0) {
        rest.push(chunk);
        return;
      }
      const head = chunk.subarray(0, nl + 1);
      write(rest.length > 0 ? Buffer.concat([...rest, head]) : head);
      rest = nl + 1 < chunk.length ? [chunk.subarray(nl + 1)] : [];
    });
    from.once('end', () => {
      if (rest.length > 0) write(Buffer.concat(rest));
      rest = [];
      done();
    });
    from.once('error', done);
    from.once('close', done);
  });
}

/** Arguments of `buffy node` for the app options. */
export function appOptionArgs(options: AppOptions): string[] {
  const args: string[] = [];
  if (options.source !== undefined) args.push('--source', options.source);
  if (options.sink !== undefined) args.push('--sink', options.sink);
  for (const [k, v] of Object.entries(options.params)) args.push('--param', `${k}=${v}`);
  return args;
}

/** Calls `onLine` for each complete line of a stream. */
export function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
  });
}

/** How long workers may run on after the initializer has exited. */
const STRAGGLER_MS = 5000;
/** A worker that dies is started again at most this many times. */
export const MAX_RESTARTS = 5;
/** Pause before a dead worker is started again. */
const RESTART_DELAY_MS = 200;

export const CONTROL_LISTENING = /control listening on (\S+?);/;

/** One worker of the local cluster: its process now, and how often it was started again. */
interface Slot {
  readonly name: string;
  /** The arguments that differ between the initializer and the others (computed per start). */
  readonly extra: () => string[];
  child: ChildProcess | null;
  restarts: number;
  /** Resolves with the exit code once the worker has exited and will not be started again. */
  readonly final: Promise<number>;
  end: (code: number) => void;
}

export async function runLocalCluster(
  appPath: string,
  options: AppOptions,
  workers: number,
  local: LocalClusterOptions = {},
): Promise<number> {
  if (!Number.isInteger(workers) || workers < 2 || workers > 64)
    throw new Error(`--workers ${workers}: a local cluster needs 2 to 64 workers`);
  const cluster = local.cluster ?? `local-${process.pid}`;
  const onStderr = local.onStderr ?? ((l: string) => process.stderr.write(l + '\n'));
  const out = local.stdout ?? process.stdout;
  const deadLetters = local.deadLetters ?? DEFAULT_DEAD_LETTERS;
  const names = localWorkerNames(workers);
  const maxRestarts = local.maxRestarts ?? MAX_RESTARTS;
  const outputs: Array<Promise<void>> = [];
  let summary: ClusterSummary | null = null;
  let outputBroken = false;
  /** Set once the initializer printed its summary: the run is ending, nothing is restarted. */
  let over = false;
  let control: string | null = null;
  let announce: (address: string) => void = () => {};
  let announceFailed: (err: Error) => void = () => {};
  // Every worker's store (exactly-once; a restarted worker recovers from it), under a fresh
  // temporary directory removed after a clean end.
  const stateRoot = local.state === false ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'buffy-run-'));
  if (stateRoot) {
    for (const n of names) fs.mkdirSync(path.join(stateRoot, n));
    onStderr(`buffy run: worker stores under ${stateRoot} (removed after a clean end)`);
  }
  const metricsArgs = (name: string): string[] => {
    const m = local.metrics ?? (local.watch ? { host: '127.0.0.1', port: 0 } : undefined);
    if (!m) return [];
    const port = m.port === 0 ? 0 : m.port + names.indexOf(name);
    if (port > 65535) throw new Error(`--metrics: port ${port} for worker '${name}' is out of range`);
    return ['--metrics', `${m.host.includes(':') ? `[${m.host}]` : m.host}:${port}`];
  };
  const launch = (slot: Slot): void => {
    const name = slot.name;
    const args = [
      BUFFY_BIN,
      'node',
      appPath,
      '--name',
      name,
      '--workers',
      String(workers),
      '--cluster',
      cluster,
      '--data',
      '127.0.0.1:0',
      '--dead-letters',
      perWorkerPath(deadLetters, name),
      '--exit-with-stdin',
      ...(stateRoot ? ['--state', path.join(stateRoot, '{worker}')] : []),
      ...metricsArgs(name),
      ...(local.nodeArgs ?? []),
      ...slot.extra(),
      ...appOptionArgs(options),
    ];
    // detached: a process group of its own (see the top of this file); stdin: the watchdog pipe.
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    slot.child = child;
    child.stdin!.on('error', () => undefined); // a worker that exited closes its end
    outputs.push(
      forwardLines(child.stdout!, out, (err) => {
        if (outputBroken) return;
        outputBroken = true;
        onStderr(
          `buffy run: standard output closed (${(err as NodeJS.ErrnoException).code ?? err.message}); further output is dropped`,
        );
      }),
    );
    const initializer = name === names[0];
    eachLine(child.stderr!, (line) => {
      onStderr(line);
      if (!initializer) return;
      const sum = parseSummary(line);
      if (sum) {
        summary = sum;
        over = true;
      }
      const m = CONTROL_LISTENING.exec(line);
      if (m && control === null) {
        control = m[1]!;
        announce(control);
      }
    });
    let settled = false;
    const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      const died = signal !== null || code !== 0;
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      // An initializer that never announced its control address has nothing to come back to.
      const restartable = !over && (!initializer || control !== null);
      if (died && restartable && slot.restarts < maxRestarts) {
        slot.restarts++;
        onStderr(
          `buffy run: worker '${name}' ${how}; starting it again with its command (restart ${slot.restarts} of at most ${maxRestarts})`,
        );
        setTimeout(() => {
          if (over) slot.end(code ?? 1);
          else launch(slot);
        }, RESTART_DELAY_MS);
        return;
      }
      if (died && restartable)
        onStderr(
          `buffy run: worker '${name}' ${how}; not started again (it was restarted ${maxRestarts} times)`,
        );
      if (initializer && control === null)
        announceFailed(
          new Error(`the initializer exited with code ${code ?? signal} before it was listening`),
        );
      slot.end(code ?? 1);
    };
    // 'close': after its output was read (the summary line decides whether it comes back).
    child.once('close', exited);
    child.once('error', (err) => {
      onStderr(`buffy run: cannot start worker '${name}': ${err.message}`);
      exited(1, null);
    });
  };
  const slots: Slot[] = names.map((name, i) => {
    let end: (code: number) => void = () => {};
    const final = new Promise<number>((resolve) => (end = resolve));
    return {
      name,
      extra:
        i === 0
          ? () => [
              '--initializer',
              '--control',
              // Started again: on the control address the others reconnect to.
              control ?? '127.0.0.1:0',
              ...(local.untilSignal ? [] : ['--stop-when-done']),
            ]
          : () => ['--control', control!],
      child: null,
      restarts: 0,
      final,
      end,
    };
  });
  const forward = (sig: NodeJS.Signals) => {
    slots[0]!.child?.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const alive = (): ChildProcess[] =>
    slots
      .map((s) => s.child)
      .filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
  let clean = false;
  try {
    const announced = new Promise<string>((resolve, reject) => {
      announce = resolve;
      announceFailed = reject;
    });
    const timer = setTimeout(
      () =>
        announceFailed(
          new Error(
            `the initializer did not announce its control address within ${local.startTimeoutMs ?? 30_000} ms`,
          ),
        ),
      local.startTimeoutMs ?? 30_000,
    );
    launch(slots[0]!);
    try {
      await announced;
    } finally {
      clearTimeout(timer);
    }
    for (const slot of slots.slice(1)) launch(slot);
    const stopWatch = local.watch?.(parseHostPort(control!, 'the control address'));
    void slots[0]!.final.then(() => stopWatch?.());
    // Once the initializer has exited for good, a worker still running has nothing to join (it
    // may still be trying to reach the initializer): it gets a few seconds to stop on its own,
    // then is killed.
    let straggling: ReturnType<typeof setTimeout> | undefined;
    void slots[0]!.final.then(() => {
      over = true;
      straggling = setTimeout(() => {
        for (const s of slots) {
          const c = s.child;
          if (!c || c.exitCode !== null || c.signalCode !== null) continue;
          onStderr(
            `buffy run: worker '${s.name}' is still running ${STRAGGLER_MS / 1000} s after the initializer exited; killing it`,
          );
          c.kill('SIGKILL');
        }
      }, STRAGGLER_MS);
    });
    const codes = await Promise.all(slots.map((s) => s.final));
    clearTimeout(straggling);
    await Promise.all(outputs);
    for (const line of describeOutputs(local.app, names, deadLetters, summary))
      onStderr(`buffy run: ${line}`);
    const restarted = slots.filter((s) => s.restarts > 0);
    if (restarted.length > 0)
      onStderr(
        `buffy run: restarted ${restarted.map((s) => `'${s.name}' ${countOf(s.restarts, 'time')}`).join(', ')}`,
      );
    const code = Math.max(...codes);
    clean = code === 0;
    return code;
  } catch (err) {
    over = true;
    for (const c of alive()) c.kill('SIGKILL');
    await Promise.all(slots.filter((s) => s.child).map((s) => s.final));
    await Promise.all(outputs);
    throw err;
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    if (stateRoot) {
      if (clean) fs.rmSync(stateRoot, { recursive: true, force: true });
      else onStderr(`buffy run: the worker stores are kept in ${stateRoot} (the run did not end cleanly)`);
    }
  }
}
