// Helpers for integration tests that start real `buffy` processes: collect their stderr lines,
// wait for a line, wait for the exit, and kill every process left at the end.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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

export interface StartOptions {
  /** Its own process group (process.kill(-pid, sig) then signals the group, as a terminal's
   * Ctrl-C does). */
  readonly detached?: boolean;
}

export function startBuffy(name: string, args: string[], cwd?: string, options: StartOptions = {}): Proc {
  const child = spawn(process.execPath, [BUFFY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
    ...(options.detached ? { detached: true } : {}),
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

/** The pids of the live child processes of `pid` whose command line has every one of `args`
 * (Linux: from /proc; a loader may have helper processes of its own, e.g. esbuild's). */
export function childPids(pid: number, args: readonly string[] = []): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat || stat.ppid !== pid || stat.state === 'Z') continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (args.every((a) => argv.includes(a))) out.push(Number(entry));
  }
  return out;
}

/** State and parent of a process from /proc/PID/stat, or null when there is no such process. */
function procStat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, ppid: Number(rest[1]) };
}

/** True when `pid` has exited (gone, or a zombie no one has reaped yet). */
export function processGone(pid: number): boolean {
  const stat = procStat(pid);
  return stat === null || stat.state === 'Z' || stat.state === 'X';
}

/** True when a TCP server can listen on 127.0.0.1:port now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
