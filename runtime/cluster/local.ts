// `buffy run APP --workers N`: a local cluster of N `buffy node` processes on 127.0.0.1. The
// initializer binds its control port to 0 (a free port) and announces it; the other workers
// are started with that address and bind their data ports to 0 as well (each registers the
// address it got). SIGINT/SIGTERM go to the initializer, which stops the cluster cleanly.
// The run ends when the sources end (or on a signal); the exit code is the worst of the nodes'.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppOptions } from '../api/options.ts';

export const BUFFY_BIN = fileURLToPath(new URL('../../bin/buffy.mjs', import.meta.url));

export interface LocalClusterOptions {
  readonly cluster?: string;
  /** Keep running after the sources end (until a signal); default false. */
  readonly untilSignal?: boolean;
  /** Where the nodes' stderr goes (default: this process's stderr). */
  readonly onStderr?: (line: string) => void;
  readonly startTimeoutMs?: number;
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

export const CONTROL_LISTENING = /control listening on (\S+?);/;

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
  const children: ChildProcess[] = [];
  const exits: Array<Promise<number>> = [];
  const spawnNode = (name: string, extra: string[]): ChildProcess => {
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
      ...extra,
      ...appOptionArgs(options),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    children.push(child);
    exits.push(
      new Promise<number>((resolve) => {
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
        child.once('error', (err) => {
          onStderr(`buffy run: cannot start worker '${name}': ${err.message}`);
          resolve(1);
        });
      }),
    );
    return child;
  };
  const forward = (sig: NodeJS.Signals) => {
    children[0]?.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const init = spawnNode('w1', [
      '--initializer',
      '--control',
      '127.0.0.1:0',
      ...(local.untilSignal ? [] : ['--stop-when-done']),
    ]);
    const control = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `the initializer did not announce its control address within ${local.startTimeoutMs ?? 30_000} ms`,
            ),
          ),
        local.startTimeoutMs ?? 30_000,
      );
      eachLine(init.stderr!, (line) => {
        onStderr(line);
        const m = CONTROL_LISTENING.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      init.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the initializer exited with code ${code} before it was listening`));
      });
    });
    for (let i = 2; i <= workers; i++) {
      const child = spawnNode(`w${i}`, ['--control', control]);
      eachLine(child.stderr!, onStderr);
    }
    const codes = await Promise.all(exits);
    return Math.max(...codes);
  } catch (err) {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(exits);
    throw err;
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
