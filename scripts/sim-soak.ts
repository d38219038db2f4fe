// A soak of the simulator over several processes (npm run sim:soak -- --seeds A..B [--jobs J]
// [--keep DIR] [-- SIM ARGS...]): the seed range is cut into J contiguous pieces (default: one
// per CPU), each run by its own `buffy sim APP --seeds a..b --keep DIR` process (the word count
// of `npm run sim` unless SIM ARGS name another app and flags). Failing seeds are printed as the
// processes report them, with their replay commands, and kept as schedule files in DIR (default
// out/sim-soak); at the end, the totals: seeds, failures, wall time, the processes' CPU time,
// seeds per second and simulated seconds per wall and per CPU second. SIGINT/SIGTERM stop every
// process after the seed it is running (their figures are then summed as far as they got).
// Exit 0: every seed passed; 1: a seed failed or a process did not finish; 2: bad usage.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_SIM = [
  'examples/word-count.ts',
  '--workers',
  '3',
  '--faults',
  'all',
  '--param',
  'partitions=16',
];

function usage(message: string): never {
  process.stderr.write(
    `sim-soak: ${message}\nusage: npm run sim:soak -- --seeds A..B [--jobs J] [--keep DIR] [-- SIM ARGS...]\n`,
  );
  process.exit(2);
}

interface Args {
  from: number;
  to: number;
  jobs: number;
  keep: string;
  sim: string[];
}

function parseArgs(argv: readonly string[]): Args {
  let seeds: string | undefined;
  let jobs = Math.max(1, os.availableParallelism());
  let keep = path.join('out', 'sim-soak');
  let sim: string[] = DEFAULT_SIM;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') seeds = value();
    else if (a === '--jobs') {
      const v = value();
      jobs = Number(v);
      if (!/^\d+$/.test(v) || jobs < 1 || jobs > 64) usage(`--jobs ${v}: must be an integer from 1 to 64`);
    } else if (a === '--keep') keep = value();
    else if (a === '--') {
      sim = argv.slice(i + 1);
      break;
    } else usage(`unknown argument ${a}`);
  }
  if (seeds === undefined) usage('--seeds A..B is required');
  const m = /^(\d+)\.\.(\d+)$/.exec(seeds);
  if (!m || Number(m[1]) > Number(m[2])) usage(`--seeds ${seeds}: must be A..B with A <= B`);
  if (sim.some((s) => s === '--seeds' || s === '--keep' || s.startsWith('--seeds=')))
    usage('give --seeds and --keep to the soak, not in SIM ARGS');
  return { from: Number(m[1]), to: Number(m[2]), jobs, keep, sim };
}

interface Figures {
  seeds: number;
  failed: number;
  wallS: number;
  cpuS: number;
  simS: number;
}

/** The figures line `buffy sim --seeds` ends with. */
const FIGURES =
  /^(\d+) seeds.*?, (\d+) failed.*?; ([\d.]+) s wall: [\d.]+ seeds\/s, ([\d.]+) simulated s per wall s.*?; ([\d.]+) s CPU/;

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const total = a.to - a.from + 1;
  const jobs = Math.min(a.jobs, total);
  const per = Math.ceil(total / jobs);
  const t0 = performance.now();
  process.stdout.write(
    `sim-soak: seeds ${a.from}..${a.to} in ${jobs} processes; failing seeds kept in ${a.keep}\n`,
  );
  const children: Promise<Figures | null>[] = [];
  const procs: ReturnType<typeof spawn>[] = [];
  for (let j = 0; j < jobs; j++) {
    const lo = a.from + j * per;
    const hi = Math.min(a.to, lo + per - 1);
    if (lo > hi) break;
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin', 'buffy.mjs'), 'sim', ...a.sim, '--seeds', `${lo}..${hi}`, '--keep', a.keep],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(child);
    children.push(
      new Promise<Figures | null>((resolve) => {
        let figures: Figures | null = null;
        let rest = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          rest += chunk;
          const lines = rest.split('\n');
          rest = lines.pop()!;
          for (const line of lines) {
            const f = FIGURES.exec(line);
            if (f) {
              const wallS = Number(f[3]);
              figures = {
                seeds: Number(f[1]),
                failed: Number(f[2]),
                wallS,
                cpuS: Number(f[5]),
                simS: Number(f[4]) * wallS,
              };
            } else process.stdout.write(`[${lo}..${hi}] ${line}\n`);
          }
        });
        child.on('close', (code, signal) => {
          if (figures === null)
            process.stdout.write(
              `[${lo}..${hi}] the process ended (${signal ?? `exit ${code}`}) without its figures\n`,
            );
          resolve(figures);
        });
      }),
    );
  }
  // Ctrl-C reaches every process of the group: each finishes its seed and prints its figures,
  // which this one waits for. A SIGTERM to this process alone is passed on.
  process.on('SIGINT', () => undefined);
  process.once('SIGTERM', () => {
    for (const c of procs) c.kill('SIGTERM');
  });
  const results = await Promise.all(children);
  const wallS = (performance.now() - t0) / 1000;
  const done = results.filter((r): r is Figures => r !== null);
  const sum = (k: keyof Figures): number => done.reduce((n, r) => n + r[k], 0);
  const seeds = sum('seeds');
  const failed = sum('failed');
  const cpuS = sum('cpuS');
  const simS = sum('simS');
  process.stdout.write(
    `sim-soak: ${seeds} of ${total} seeds, ${failed} failed; ${wallS.toFixed(1)} s wall, ${cpuS.toFixed(1)} s CPU: ` +
      `${(seeds / wallS).toFixed(2)} seeds/s, ${(simS / wallS).toFixed(1)} simulated s per wall s, ${(simS / Math.max(cpuS, 1e-9)).toFixed(1)} per CPU s\n`,
  );
  return failed > 0 || done.length < results.length ? 1 : 0;
}

process.exitCode = await main();
