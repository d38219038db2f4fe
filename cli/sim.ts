// `buffy sim APP --workers N --seed S [--steps N | --sim-seconds T] [--faults LIST]`: every
// worker of the application in this process under deterministic simulation (runtime/sim),
// checked against a fault-free embedded run. Prints the seed, the event-log hash, the faults
// injected and the verdict; a failing run prints the command that replays it, and with
// --shrink writes a short schedule file that `buffy sim --schedule FILE` replays.
// `--seeds A..B` runs many seeds and prints the figures (seeds per second, simulated seconds
// per wall second). Exit 0: pass; 1: a run failed; 2: bad usage.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { SIM_FAULTS, SIM_MUTATIONS, simulate } from '../runtime/sim/cluster.ts';
import type { SimFault, SimOptions, SimReport } from '../runtime/sim/cluster.ts';
import { ScheduleFileError, parseScheduleFile, scheduleFileText, shrink } from '../runtime/sim/shrink.ts';
import { AppLoadError } from '../runtime/api/load.ts';
import { AppConfigError } from '../runtime/api/app.ts';
import { AppOptionsError, toAppOptions } from '../runtime/api/options.ts';
import { registerValidateCommands, withValidation } from './validate.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class SimUsageError extends Error {}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface SimFlags {
  workers: string;
  seed?: string;
  seeds?: string;
  steps?: string;
  simSeconds?: string;
  faults?: string;
  lines?: string;
  intervalMs?: string;
  param: string[];
  exactlyOnce: boolean;
  durability?: 'sync' | 'batch' | 'none';
  schedule?: string;
  shrink?: boolean;
  out?: string;
  mutation?: (typeof SIM_MUTATIONS)[number];
  json?: boolean;
  events?: boolean;
  keep?: string;
  validate?: boolean;
}

function positiveInt(flag: string, raw: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw new SimUsageError(`${flag} ${raw}: must be an integer from 1 to ${max}`);
  return n;
}

function seedOf(raw: string): number {
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Math.abs(Number(raw)) > 2 ** 31)
    throw new SimUsageError(`--seed ${raw}: must be an integer (|seed| <= 2^31)`);
  return Number(raw);
}

function parseFaults(raw: string | undefined): SimFault[] {
  if (raw === undefined || raw === '' || raw === 'none') return [];
  if (raw === 'all') return [...SIM_FAULTS];
  const out: SimFault[] = [];
  for (const f of raw.split(',').map((s) => s.trim())) {
    if (!(SIM_FAULTS as readonly string[]).includes(f))
      throw new SimUsageError(`--faults: unknown fault "${f}"; known: ${SIM_FAULTS.join(', ')} (or all)`);
    out.push(f as SimFault);
  }
  return out;
}

/** The command line that replays a run (the options a seed does not fix). */
export function replayCommand(o: SimOptions, scheduleFile?: string): string {
  if (scheduleFile) return `buffy sim --schedule ${scheduleFile}`;
  const parts = ['buffy sim', o.appPath, `--workers ${o.workers}`, `--seed ${o.seed}`];
  if (o.faults && o.faults.length > 0) parts.push(`--faults ${o.faults.join(',')}`);
  if (o.lines !== undefined) parts.push(`--lines ${o.lines}`);
  if (o.intervalMs !== undefined) parts.push(`--interval-ms ${o.intervalMs}`);
  for (const [k, v] of Object.entries(o.params ?? {})) parts.push(`--param ${k}=${v}`);
  if (o.exactlyOnce === false) parts.push('--no-exactly-once');
  if (o.durability) parts.push(`--durability ${o.durability}`);
  if (o.maxSteps !== undefined) parts.push(`--steps ${o.maxSteps}`);
  if (o.maxSimMs !== undefined) parts.push(`--sim-seconds ${o.maxSimMs / 1000}`);
  if (o.mutation) parts.push(`--mutation ${o.mutation}`);
  return parts.join(' ');
}

/** The fault parameters a shrunk run has, for people (the schedule file has them all). */
function shrunkParams(o: SimOptions): string {
  const parts: string[] = [];
  if (o.slowDiskMs !== undefined) parts.push(`slow disk up to ${o.slowDiskMs} ms`);
  if (o.clockSkewMs !== undefined) parts.push(`clock skew up to ${o.clockSkewMs} ms`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function counts(r: Readonly<Record<string, number>>): string {
  const e = Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1));
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}

function printReport(r: SimReport, o: SimOptions, scheduleFile?: string): void {
  const w = (s: string): boolean => process.stdout.write(`${s}\n`);
  w(
    `seed ${r.seed}: ${r.workers} workers, ${r.lines} input lines, exactly-once ${r.exactlyOnce ? 'on' : 'off'}, faults ${r.faults.join(',') || 'none'}`,
  );
  w(`  schedule: ${r.schedule.length} fault events; injected: ${counts(r.injected)}`);
  w(`  event log: ${r.events} events, hash ${r.hash}`);
  w(
    `  simulated ${(r.simMs / 1000).toFixed(3)} s in ${(r.wallMs / 1000).toFixed(3)} s wall (${(r.simMs / Math.max(1, r.wallMs)).toFixed(1)}x), ${r.steps} steps`,
  );
  w(`  verdict: ${r.verdict === 'pass' ? 'PASS' : 'FAIL'}`);
  for (const f of r.failures) w(`    - ${f}`);
  if (r.verdict === 'fail') {
    w(`  replay: ${replayCommand(o, scheduleFile)}`);
    if (r.logTail.length > 0) {
      w('  last log lines:');
      for (const l of r.logTail.slice(-10)) w(`    ${l}`);
    }
  }
}

/** `A..B`, or `A..` (a soak: until interrupted). */
function parseSeedRange(raw: string): [number, number] {
  const m = /^(\d+)\.\.(\d*)$/.exec(raw);
  const to = m?.[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m?.[2]);
  if (!m || !Number.isSafeInteger(Number(m[1])) || Number(m[1]) > to)
    throw new SimUsageError(
      `--seeds ${raw}: must be A..B with A <= B (e.g. 1..100), or A.. to run until interrupted`,
    );
  return [Number(m[1]), to];
}

async function runSim(appArg: string | undefined, flags: SimFlags): Promise<number> {
  let base: SimOptions;
  if (flags.schedule !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.schedule, 'utf8');
    } catch (err) {
      throw new SimUsageError(`--schedule ${flags.schedule}: cannot read it (${(err as Error).message})`);
    }
    base = parseScheduleFile(text, flags.schedule);
    if (appArg !== undefined && appArg !== base.appPath)
      throw new SimUsageError(
        `--schedule ${flags.schedule} replays ${base.appPath}; leave out the app argument (${appArg}) or name the same app`,
      );
  } else {
    if (appArg === undefined)
      throw new SimUsageError('missing the app (buffy sim APP ...) or --schedule FILE');
    if (flags.steps !== undefined && flags.simSeconds !== undefined)
      throw new SimUsageError('--steps and --sim-seconds: give one of them');
    const app = toAppOptions({ param: flags.param });
    const simSeconds = flags.simSeconds === undefined ? undefined : Number(flags.simSeconds);
    if (simSeconds !== undefined && !(simSeconds > 0 && simSeconds <= 86_400))
      throw new SimUsageError(`--sim-seconds ${flags.simSeconds}: must be a number of seconds in (0, 86400]`);
    base = {
      appPath: appArg,
      params: app.params,
      workers: positiveInt('--workers', flags.workers, 64),
      seed: flags.seed === undefined ? 1 : seedOf(flags.seed),
      faults: parseFaults(flags.faults),
      exactlyOnce: flags.exactlyOnce,
      ...(flags.lines !== undefined ? { lines: positiveInt('--lines', flags.lines, 1_000_000) } : {}),
      ...(flags.intervalMs !== undefined
        ? { intervalMs: positiveInt('--interval-ms', flags.intervalMs, 60_000) }
        : {}),
      ...(flags.durability ? { durability: flags.durability } : {}),
      ...(flags.steps !== undefined ? { maxSteps: positiveInt('--steps', flags.steps) } : {}),
      ...(simSeconds !== undefined ? { maxSimMs: simSeconds * 1000 } : {}),
      ...(flags.mutation ? { mutation: flags.mutation } : {}),
    };
  }
  if (flags.events) base = { ...base, onEvent: (l) => process.stderr.write(`${l}\n`) };
  const simulated = (o: SimOptions): Promise<SimReport> =>
    simulate(o).catch((err: unknown) => {
      if (err instanceof RangeError) throw new SimUsageError(err.message);
      throw err;
    });
  // --validate: each run's channel, commit-tracker and exactly-once records checked against specs/Delivery.tla, Ack.tla and Recovery.tla (cli/validate.ts).
  const run = flags.validate
    ? withValidation(
        simulated,
        (t) => (flags.json ? process.stderr : process.stdout).write(`${t}\n`),
        (o) => replayCommand(o),
        flags.seeds !== undefined || flags.json === true,
      )
    : simulated;

  if (flags.seeds !== undefined) {
    const [a, b] = parseSeedRange(flags.seeds);
    if (flags.keep !== undefined) mkdirSync(flags.keep, { recursive: true });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let simMs = 0;
    let steps = 0;
    let n = 0;
    const failing: number[] = [];
    // A soak (A..) runs until SIGINT/SIGTERM; the seed under way finishes, then the figures.
    let interrupted = false;
    const stop = (): void => void (interrupted = true);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for (let seed = a; seed <= b && !interrupted; seed++) {
        const o = { ...base, seed };
        const r = await run(o);
        n++;
        simMs += r.simMs;
        steps += r.steps;
        if (r.verdict === 'fail') {
          failing.push(seed);
          let kept = '';
          if (flags.keep !== undefined) {
            const file = path.join(flags.keep, `sim-failure-seed${seed}.json`);
            writeFileSync(file, scheduleFileText(o, r));
            kept = `\n  kept: ${file}`;
          }
          process.stdout.write(
            `seed ${seed}: FAIL (hash ${r.hash}): ${r.failures[0]}\n  replay: ${replayCommand(o)}${kept}\n`,
          );
        }
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    const wallS = (performance.now() - t0) / 1000;
    // CPU time too: the machine may be shared, and wall time then says little about the simulator.
    const used = process.cpuUsage(cpu0);
    const cpuS = (used.user + used.system) / 1e6;
    process.stdout.write(
      `${n} seeds${interrupted ? ` (${a}..${a + n - 1}, interrupted)` : ''}, ${failing.length} failed${failing.length > 0 ? ` (${failing.join(', ')})` : ''}; ${wallS.toFixed(1)} s wall: ` +
        `${(n / wallS).toFixed(2)} seeds/s, ${(simMs / 1000 / wallS).toFixed(1)} simulated s per wall s, ${(steps / wallS).toFixed(0)} events/s; ` +
        `${cpuS.toFixed(1)} s CPU (this process, every thread): ${(n / cpuS).toFixed(2)} seeds per CPU s, ${(simMs / 1000 / cpuS).toFixed(1)} simulated s per CPU s\n`,
    );
    return failing.length > 0 ? EXIT_FAILURE : 0;
  }

  const report = await run(base);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report, base, flags.schedule);
  if (report.verdict === 'pass') return 0;
  if (flags.shrink) {
    const s = await shrink(base, report, run);
    const file = flags.out ?? `sim-failure-seed${base.seed}.json`;
    writeFileSync(file, scheduleFileText(s.options, s.report));
    process.stdout.write(
      `shrunk in ${s.runs} runs to ${s.report.schedule.length} fault events and ${s.report.lines} input lines, faults ${s.report.faults.join(',') || 'none'}${shrunkParams(s.options)} (still: ${s.report.failures[0]})\n` +
        `  wrote ${file}; replay: ${replayCommand(s.options, file)}\n`,
    );
  }
  return EXIT_FAILURE;
}

export function registerSimCommands(program: Command): void {
  program
    .command('sim')
    .description(
      'simulate a whole cluster of an app in one process (seeded network, disk, clock and crashes) and check exactly-once against a fault-free run',
    )
    .argument('[app]', 'the application module (as for buffy run); absent with --schedule')
    .option('--workers <n>', 'number of workers', '3')
    .option('--seed <s>', 'the seed every choice of the run comes from', '1')
    .option(
      '--seeds <a..b>',
      'run every seed from a to b and print the figures; a.. runs until interrupted (a soak)',
    )
    .option('--keep <dir>', 'with --seeds: write a schedule file for each failing seed into this folder')
    .option('--steps <n>', 'give up (a liveness failure) after this many events')
    .option('--sim-seconds <t>', 'give up (a liveness failure) after this many simulated seconds')
    .option('--faults <list>', `faults to inject, comma-separated: ${SIM_FAULTS.join(',')} (or all)`)
    .option('--lines <n>', 'input lines of the synthetic source (default 300)')
    .option('--interval-ms <ms>', 'simulated ms between source batches of 4 lines (default 5)')
    .option('--param <key=value>', 'application parameter (repeatable)', collect, [] as string[])
    .option('--no-exactly-once', 'run at-least-once (no stores): a crash then loses state')
    .addOption(
      new Option('--durability <level>', "the stores' durability").choices(['sync', 'batch', 'none']),
    )
    .option('--schedule <file>', 'replay a schedule file (written by --shrink)')
    .option('--shrink', 'on failure, reduce the fault schedule and input and write a schedule file')
    .option('--out <file>', 'where --shrink writes (default sim-failure-seedS.json)')
    .option('--json', 'print the report as one JSON object')
    .option('--events', 'print the event log (what the hash covers) on stderr as it is written')
    .option(
      '--validate',
      "record the protocol steps of every channel, the commit tracker and every worker's exactly-once core and check each against specs/Delivery.tla, Ack.tla and Recovery.tla (a violation fails the run)",
    )
    .addOption(
      new Option('--mutation <m>', 'test only: run a deliberately broken variant')
        .choices(SIM_MUTATIONS)
        .hideHelp(),
    )
    .action(async (app: string | undefined, flags: SimFlags) => {
      try {
        process.exitCode = await runSim(app, flags);
      } catch (err) {
        const usage =
          err instanceof SimUsageError ||
          err instanceof ScheduleFileError ||
          err instanceof AppOptionsError ||
          err instanceof AppConfigError ||
          err instanceof AppLoadError;
        process.stderr.write(`buffy sim: ${(err as Error).message}\n`);
        process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
      }
    });
  registerValidateCommands(program);
}
