// Helpers for integration tests that start real `buffy` processes: collect their stderr lines,
// wait for a line, wait for the exit, and kill every process left at the end.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI under test; BUFFY_TEST_BIN may point at another launcher of the same commands. */
export const BUFFY =
  process.env.BUFFY_TEST_BIN ?? fileURLToPath(new URL('../../bin/buffy.mjs', import.meta.url));

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

const all: Proc[] = [];

export function startBuffy(name: string, args: string[], cwd?: string): Proc {
  const child = spawn(process.execPath, [BUFFY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  const lines: string[] = [];
  const watchers: Array<{ pattern: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...watchers]) {
      const m = w.pattern.exec(line);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
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
  }
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 128))),
  );
  const proc: Proc = {
    name,
    child,
    lines,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      for (const l of lines) {
        const m = pattern.exec(l);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `${name}: no line matching ${pattern} within ${timeoutMs} ms; output:\n${lines.join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        void exited.then((code) => {
          clearTimeout(timer);
          setTimeout(
            () =>
              reject(
                new Error(
                  `${name} exited (${code}) without a line matching ${pattern}; output:\n${lines.join('\n')}`,
                ),
              ),
            50,
          );
        });
        watchers.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
  all.push(proc);
  return proc;
}

/** Kills every process started by startBuffy that is still running (afterAll). */
export async function killAll(): Promise<void> {
  const running = all.splice(0).filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  for (const p of running) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
}

export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
