// The `buffy check` and `buffy traces` commands.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TlaError, formatLoc } from '../tla/errors.ts';
import type { State } from '../tla/eval/index.ts';
import {
  aliasPrinter,
  check,
  searchSystem,
  formatReport,
  modelWarnings,
  toJson,
  type CheckJson,
  type CheckOptions,
  type CheckResult,
} from '../tla/check/checker.ts';
import { defaultCfgFile, loadModel, type CheckModel } from '../tla/check/model.ts';
import { labelStep } from '../tla/check/label.ts';
import { javaAvailable, runTlc, tlcJar, type TlcOutcome } from '../tla/check/tlc.ts';
import { traceToItf, type ItfTrace } from '../tla/check/itf.ts';
import { generateTraces } from '../tla/index.ts';
import { setHeapBudget } from '../tla/memory.ts';
import { coverageLines } from '../tla/check/coverage.ts';
import { SIMULATE_DEFAULTS, simulate, simulationSummary } from '../tla/check/simulate.ts';
import { availableWorkers, checkParallel, oneWorkerReason } from '../tla/check/parallel.ts';
import { stateGraphDot } from '../tla/check/dot.ts';

/** Exit codes: 0 ok, 1 a violation or an evaluation error, 2 bad usage or input. */
const EXIT_VIOLATION = 1;
const EXIT_USAGE = 2;

function exitCodeForError(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof TlaError) return e.kind === 'eval' ? EXIT_VIOLATION : EXIT_USAGE;
  return EXIT_VIOLATION;
}

function errorText(e: unknown): string {
  if (e instanceof TlaError) return e.describe();
  return e instanceof Error ? e.message : String(e);
}

/** Commander's message names the option and the value: "... argument '0' is invalid. It must be ...". */
function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('It must be a positive integer.');
  return n;
}
/** `--workers N|auto`: a positive integer, or auto for the cores there are. */
function workerCount(v: string): number {
  if (v === 'auto') return availableWorkers();
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('It must be a positive integer or auto.');
  return n;
}
function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('It must be a non-negative integer.');
  return n;
}
const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface CheckFlags {
  config?: string;
  lib: string[];
  engine?: 'builtin' | 'tlc';
  json?: boolean;
  workers?: number;
  deadlock: boolean;
  maxStates?: number;
  maxHeap?: number;
  coverage?: boolean;
  simulate?: boolean;
  continue?: boolean;
  dumpGraph?: string;
  depth?: number;
  seed?: number;
  num?: number;
}

const MAX_HEAP_HELP =
  "the built-in checker's heap budget: it stops with an error past MB megabytes (default: 85% of node's heap limit, which NODE_OPTIONS=--max-old-space-size=MB raises)";

export function registerTlaCommands(program: Command): void {
  program
    .command('check')
    .description('model-check a TLA+ spec with its .cfg model (built-in checker, or TLC when available)')
    .argument('<spec>', 'the root .tla module (the .tla may be left out, as with TLC)')
    .option('--config <file>', 'the .cfg model (default: the spec with .cfg for .tla)')
    .option('--lib <dir>', 'a folder to look for modules in (repeatable)', collect, [] as string[])
    .addOption(
      new Option(
        '--engine <engine>',
        'builtin or tlc (default: tlc when TLA2TOOLS_JAR and java are available)',
      ).choices(['builtin', 'tlc']),
    )
    .option('--json', 'print the result as JSON on stdout')
    .option(
      '--workers <n|auto>',
      'threads of the breadth-first search, auto: one per core (default 1; with --engine tlc, TLC -workers). ' +
        'Same states, verdict and depth as one worker, shortest counterexamples; liveness, --coverage and ' +
        '--dump-graph run on one worker (the output says so)',
      workerCount,
    )
    .option('--no-deadlock', 'do not report deadlocks (overrides CHECK_DEADLOCK)')
    .option('--max-states <n>', 'stop with an error after N distinct states', positiveInt)
    .option('--max-heap <MB>', MAX_HEAP_HELP, positiveInt)
    .option(
      '--coverage',
      'count, per action, states generated and new distinct states; list actions never enabled',
    )
    .option(
      '--continue',
      'go on after an invariant, action-property or deadlock violation and report every violating state ' +
        '(traces of the 100 shortest, counts of all; as TLC -continue)',
    )
    .option(
      '--dump-graph <file>',
      'write the explored state graph as GraphViz DOT with action labels (as TLC -dump dot,actionlabels)',
    )
    .option(
      '--simulate',
      'check random behaviours instead of every state (as TLC -simulate; built-in checker)',
    )
    .option(
      '--depth <d>',
      `with --simulate: states per behaviour (default ${SIMULATE_DEFAULTS.depth})`,
      positiveInt,
    )
    .option(
      '--seed <s>',
      `with --simulate: seed of the random choices (default ${SIMULATE_DEFAULTS.seed})`,
      nonNegativeInt,
    )
    .option(
      '--num <n>',
      `with --simulate: number of behaviours (default ${SIMULATE_DEFAULTS.num})`,
      positiveInt,
    )
    .action(async (spec: string, flags: CheckFlags) => {
      process.exitCode = await runCheckCommand(spec, flags);
    });

  program
    .command('traces')
    .description('generate ITF traces from a spec: an edge cover of its state graph, or seeded random walks')
    .argument('<spec>', 'the root .tla module (the .tla may be left out, as with TLC)')
    .option('--config <file>', 'the .cfg model (default: the spec with .cfg for .tla)')
    .option('--lib <dir>', 'a folder to look for modules in (repeatable)', collect, [] as string[])
    .addOption(
      new Option('--cover <what>', 'cover every edge of the reachable state graph').choices(['edges']),
    )
    .option('--random <n>', 'number of random walks', positiveInt)
    .option('--depth <d>', 'steps per random walk', nonNegativeInt, 20)
    .option('--seed <s>', 'seed of the random walks', nonNegativeInt, 1)
    .option('--max-steps <n>', 'longest edge-cover trace (steps)', positiveInt)
    .option('--max-states <n>', 'refuse graphs of more than N distinct states (edge cover)', positiveInt)
    .option('--max-heap <MB>', MAX_HEAP_HELP, positiveInt)
    .requiredOption('--out <dir>', 'folder to write trace-0001.itf.json ... into')
    .action(async (spec: string, flags: TraceFlags) => {
      process.exitCode = await runTracesCommand(spec, flags);
    });
}

/** The engine to use: tlc when asked, or by default when a jar and java are available. */
function chooseEngine(flag: 'builtin' | 'tlc' | undefined): 'builtin' | 'tlc' {
  if (flag) return flag;
  return tlcJar() && javaAvailable() ? 'tlc' : 'builtin';
}

/** A command-line input that cannot be used, said the way the user wrote it. */
class UsageError extends Error {}

function statOf(file: string): ReturnType<typeof statSync> | undefined {
  return statSync(file, { throwIfNoEntry: false });
}

/**
 * The spec and configuration files a command line names, as TLC reads them: the spec is a .tla
 * file, named with or without its extension; the model is --config, else the spec's name with
 * .cfg. Throws a UsageError saying what to give instead (a folder, a .cfg given as the spec, a
 * missing file, a folder given to --config).
 */
/** Each --lib must be an existing folder (a typo would otherwise go unnoticed). */
function checkLibDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    const st = statOf(d);
    if (!st) throw new UsageError(`--lib ${d}: no such folder`);
    if (!st.isDirectory()) throw new UsageError(`--lib ${d} is not a folder; give a folder of .tla modules`);
  }
}

/** A file the command will write: its folder must exist, and it must not be a folder. */
function checkOutputFile(flag: string, file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!statOf(dir)?.isDirectory()) throw new UsageError(`${flag} ${file}: no folder ${dir} to write it in`);
  if (statOf(file)?.isDirectory()) throw new UsageError(`${flag} ${file} is a folder; give a file name`);
}

export function resolveInputs(
  command: 'check' | 'traces',
  spec: string,
  config: string | undefined,
): { spec: string; cfg: string } {
  const st = statOf(spec);
  if (st?.isDirectory()) {
    const tla = readdirSync(spec)
      .filter((f) => f.endsWith('.tla'))
      .sort();
    const hint =
      tla.length === 0
        ? 'it has no .tla files'
        : `it has ${tla
            .slice(0, 5)
            .map((f) => path.join(spec, f))
            .join(', ')}${tla.length > 5 ? ', ...' : ''}`;
    throw new UsageError(`${spec} is a folder; give the root .tla module of the spec (${hint})`);
  }
  if (spec.endsWith('.cfg')) {
    const tla = spec.slice(0, -'.cfg'.length) + '.tla';
    throw new UsageError(
      `${spec} is a model configuration, not a spec; give the .tla module: ` +
        (statOf(tla)?.isFile()
          ? `buffy ${command} ${tla} (which reads ${spec} beside it)`
          : `buffy ${command} SPEC.tla --config ${spec}`),
    );
  }
  let file = spec;
  if (!st) {
    if (!spec.endsWith('.tla') && statOf(`${spec}.tla`)?.isFile()) file = `${spec}.tla`;
    else throw new UsageError(`spec file ${spec} not found`);
  } else if (!spec.endsWith('.tla')) {
    throw new UsageError(`${spec} is not a .tla file; give the root .tla module of the spec`);
  }
  if (config !== undefined) {
    const cst = statOf(config);
    if (!cst) throw new UsageError(`--config ${config}: file not found`);
    if (cst.isDirectory()) throw new UsageError(`--config ${config} is a folder; give a .cfg file`);
    return { spec: file, cfg: config };
  }
  const cfg = defaultCfgFile(file);
  if (!statOf(cfg)?.isFile())
    throw new UsageError(
      `configuration file ${cfg} not found; write it beside the spec or pass --config FILE`,
    );
  return { spec: file, cfg };
}

async function runCheckCommand(specArg: string, flags: CheckFlags): Promise<number> {
  const engine = flags.simulate && flags.engine === undefined ? 'builtin' : chooseEngine(flags.engine);
  const simOnly = (['depth', 'seed', 'num'] as const).filter((k) => flags[k] !== undefined);
  if (flags.simulate && engine === 'tlc') {
    return usageFailure(
      engine,
      specArg,
      flags.config ?? null,
      flags.json,
      new UsageError('--simulate runs on the built-in checker: leave out --engine tlc'),
    );
  }
  const notWithTlc = [flags.continue ? '--continue' : null, flags.dumpGraph ? '--dump-graph' : null].filter(
    (x): x is string => x !== null,
  );
  if (engine === 'tlc' && notWithTlc.length > 0) {
    return usageFailure(
      engine,
      specArg,
      flags.config ?? null,
      flags.json,
      new UsageError(`${notWithTlc.join(' and ')}: built-in checker only (add --engine builtin)`),
    );
  }
  const notWithSimulate = [...notWithTlc, ...((flags.workers ?? 1) > 1 ? ['--workers'] : [])];
  if (flags.simulate && notWithSimulate.length > 0) {
    return usageFailure(
      engine,
      specArg,
      flags.config ?? null,
      flags.json,
      new UsageError(
        `${notWithSimulate.join(' and ')}: not with --simulate (it runs one behaviour at a time)`,
      ),
    );
  }
  if (!flags.simulate && simOnly.length > 0) {
    return usageFailure(
      engine,
      specArg,
      flags.config ?? null,
      flags.json,
      new UsageError(
        `${simOnly.map((k) => `--${k}`).join(', ')}: only with --simulate (add --simulate or leave it out)`,
      ),
    );
  }
  let spec: string;
  let cfgFile: string;
  try {
    ({ spec, cfg: cfgFile } = resolveInputs('check', specArg, flags.config));
    checkLibDirs(flags.lib);
    if (flags.dumpGraph !== undefined) checkOutputFile('--dump-graph', flags.dumpGraph);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageFailure(engine, specArg, flags.config ?? null, flags.json, e);
  }
  if (flags.maxHeap !== undefined) setHeapBudget(flags.maxHeap * 2 ** 20);
  if (engine === 'tlc') return runTlcCheck(spec, cfgFile, flags);

  let cm: CheckModel;
  const started = Date.now();
  try {
    cm = await loadModel(spec, cfgFile, {
      libDirs: flags.lib,
      ...(flags.deadlock === false ? { checkDeadlock: false } : {}),
    });
  } catch (e) {
    return usageFailure(engine, spec, cfgFile, flags.json, e, Date.now() - started);
  }
  for (const w of modelWarnings(cm)) process.stderr.write(`${w}\n`);
  if (flags.simulate) return runSimulation(cm, flags);
  const tty = process.stderr.isTTY === true;
  const opts: CheckOptions = {
    ...(flags.maxStates !== undefined ? { maxStates: flags.maxStates } : {}),
    ...(flags.coverage ? { coverage: true } : {}),
    ...(flags.continue ? { continueAfterViolation: true } : {}),
    ...(flags.dumpGraph !== undefined ? { keepGraph: true } : {}),
    ...(tty
      ? {
          onProgress: (p) =>
            process.stderr.write(
              `\r${p.distinctStates} distinct states, ${p.statesGenerated} generated, ` +
                `${p.queue > 0 ? `${p.queue} on queue, ` : ''}${p.depth > 0 ? `depth ${p.depth}, ` : ''}` +
                `${Math.round((p.distinctStates * 1000) / Math.max(1, p.elapsedMs))} states/s   `,
            ),
        }
      : {}),
  };
  const workers = flags.workers ?? 1;
  const notes: string[] = [];
  let r: CheckResult;
  const alone = workers > 1 ? oneWorkerReason(cm, opts) : null;
  if (alone) notes.push(`--workers ${workers}: ${alone}; this run uses one worker.`);
  if (workers > 1 && !alone) {
    r = await checkParallel(cm, {
      ...opts,
      workers,
      load: { libDirs: flags.lib, ...(flags.deadlock === false ? { checkDeadlock: false } : {}) },
    });
  } else {
    r = check(cm, opts);
  }
  if (tty) process.stderr.write('\r\x1b[K');
  let dumpError: string | null = null;
  if (flags.dumpGraph !== undefined) {
    if (r.graph) {
      try {
        writeFileSync(
          flags.dumpGraph,
          stateGraphDot(cm.model.variables, r.graph, searchSystem(cm).fingerprint),
        );
      } catch (e) {
        dumpError = `--dump-graph ${flags.dumpGraph}: cannot write it: ${errorText(e)}`;
      }
    } else {
      notes.push(
        `--dump-graph ${flags.dumpGraph}: not written (the search stopped with an error before the graph was complete).`,
      );
    }
  }
  if (flags.json) {
    const json = toJson(cm, r);
    process.stdout.write(
      JSON.stringify({
        ...json,
        ...(notes.length > 0 ? { notes } : {}),
        ...(flags.dumpGraph !== undefined && r.graph && !dumpError
          ? { graph: { file: flags.dumpGraph, states: r.graph.states.length } }
          : {}),
      }) + '\n',
    );
  } else {
    for (const n of notes) process.stdout.write(`Note: ${n}\n`);
    process.stdout.write(formatReport(cm.model.variables, r, aliasPrinter(cm)) + '\n');
    if (r.coverage) process.stdout.write(coverageLines(r.coverage).join('\n') + '\n');
    if (flags.dumpGraph !== undefined && r.graph && !dumpError)
      process.stdout.write(`State graph (${r.graph.states.length} states) written to ${flags.dumpGraph}\n`);
  }
  if (dumpError) {
    process.stderr.write(`buffy check: ${dumpError}\n`);
    return EXIT_USAGE;
  }
  return exitCodeFor(r);
}

function runSimulation(cm: CheckModel, flags: CheckFlags): number {
  const r = simulate(cm, {
    ...(flags.depth !== undefined ? { depth: flags.depth } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.num !== undefined ? { num: flags.num } : {}),
  });
  if (flags.json) {
    const simulation = {
      behaviours: r.behaviours,
      statesChecked: r.statesChecked,
      seed: r.seed,
      depth: r.maxDepth,
    };
    process.stdout.write(JSON.stringify({ ...toJson(cm, r), simulation }) + '\n');
  } else if (r.result === 'ok') {
    process.stdout.write(
      `Simulation completed. No error has been found.\n${simulationSummary(r)}\nFinished in ${r.durationMs} ms.\n`,
    );
  } else {
    process.stdout.write(
      formatReport(cm.model.variables, r, aliasPrinter(cm)) + '\n' + simulationSummary(r) + '\n',
    );
  }
  return exitCodeFor(r);
}

function exitCodeFor(r: CheckResult): number {
  if (r.result === 'ok') return 0;
  if (r.result === 'error')
    return r.error && ['parse', 'semantic', 'config', 'io', 'unsupported'].includes(r.error.kind)
      ? EXIT_USAGE
      : EXIT_VIOLATION;
  return EXIT_VIOLATION;
}

function usageFailure(
  engine: 'builtin' | 'tlc',
  spec: string,
  cfg: string | null,
  json: boolean | undefined,
  e: unknown,
  durationMs = 0,
): number {
  if (json) {
    const out: CheckJson = {
      engine,
      spec,
      config: cfg,
      result: 'error',
      distinctStates: null,
      statesGenerated: null,
      depth: null,
      durationMs,
      error: {
        message: e instanceof TlaError ? e.message : errorText(e),
        location: e instanceof TlaError && e.loc ? formatLoc(e.loc) : null,
      },
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } else {
    process.stderr.write(`buffy check: ${errorText(e)}\n`);
  }
  return exitCodeForError(e);
}

async function runTlcCheck(spec: string, cfgFile: string, flags: CheckFlags): Promise<number> {
  // TLC reports its own errors; the built-in model only helps label the trace's steps.
  const cm: CheckModel | null = await loadModel(spec, cfgFile, { libDirs: flags.lib }).catch(() => null);
  let run;
  try {
    run = await runTlc({
      specFile: spec,
      cfgFile,
      libDirs: flags.lib,
      ...(flags.deadlock === false ? { checkDeadlock: false } : {}),
      ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
      ...(flags.json ? {} : { onLine: (l: string) => process.stdout.write(l + '\n') }),
    });
  } catch (e) {
    return usageFailure('tlc', spec, cfgFile, flags.json, e);
  }
  const json = tlcToJson(spec, cfgFile, run.outcome, run.durationMs, cm);
  if (flags.json) process.stdout.write(JSON.stringify(json) + '\n');
  if (json.result === 'ok') return 0;
  if (json.result === 'error') return run.exitCode >= 150 && run.exitCode < 255 ? EXIT_USAGE : EXIT_VIOLATION;
  return EXIT_VIOLATION;
}

/** TLC's outcome as the same JSON summary, its trace as ITF (labelled by the step labeller when the model loads). */
export function tlcToJson(
  spec: string,
  cfgFile: string,
  o: TlcOutcome,
  durationMs: number,
  cm: CheckModel | null,
): CheckJson {
  const vars = cm ? [...cm.model.variables] : o.trace.length > 0 ? [...o.trace[0]!.vars.keys()] : [];
  const states: State[] = o.trace.map((st) =>
    vars.map((v) => {
      const x = st.vars.get(v);
      if (x === undefined) throw new TlaError('io', `TLC's trace has no value for variable ${v}`);
      return x;
    }),
  );
  const steps = states.map((s, i) => {
    if (i === 0) return { state: s, label: null };
    const labels = cm ? safeLabels(cm, states[i - 1]!, s) : [];
    const name = o.trace[i]!.action;
    const label = labels.find((l) => l.name === name) ?? labels[0] ?? (name ? { name, args: {} } : null);
    return { state: s, label };
  });
  let trace: ItfTrace | null = null;
  if (steps.length > 0) {
    trace = traceToItf(
      vars,
      {
        steps,
        ...(o.loopsTo !== null ? { loopsTo: o.loopsTo } : o.stuttering ? { loopsTo: steps.length - 1 } : {}),
      },
      {
        source: spec,
        initName: cm?.init.name ?? 'Init',
        ...(o.message ? { description: o.message } : {}),
      },
    );
  }
  let name = o.violation?.name ?? null;
  if (o.violation?.kind === 'liveness' && cm && cm.cfg.properties.length === 1)
    name = cm.cfg.properties[0]!.name;
  return {
    engine: 'tlc',
    spec,
    config: cfgFile,
    result: o.result,
    distinctStates: o.distinctStates,
    statesGenerated: o.statesGenerated,
    depth: o.depth,
    durationMs,
    ...(o.violation && trace
      ? {
          violation: {
            name,
            kind: o.violation.kind,
            trace,
            ...(trace.loop !== undefined ? { loopsTo: trace.loop } : {}),
          },
        }
      : {}),
    ...(o.result === 'error'
      ? {
          error: {
            message: [o.message ?? 'TLC failed', ...o.detail].join('\n'),
            location: null,
            ...(trace ? { trace } : {}),
          },
        }
      : {}),
  };
}

function safeLabels(cm: CheckModel, s: State, t: State): ReturnType<typeof labelStep> {
  try {
    return labelStep(cm.model, cm.next, s, t);
  } catch {
    return [];
  }
}

interface TraceFlags {
  config?: string;
  lib: string[];
  cover?: 'edges';
  random?: number;
  depth: number;
  seed: number;
  maxSteps?: number;
  maxStates?: number;
  maxHeap?: number;
  out: string;
}

async function runTracesCommand(spec: string, flags: TraceFlags): Promise<number> {
  if ((flags.cover ? 1 : 0) + (flags.random !== undefined ? 1 : 0) !== 1) {
    process.stderr.write('buffy traces: give exactly one of --cover edges or --random N\n');
    return EXIT_USAGE;
  }
  let cm: CheckModel;
  try {
    const files = resolveInputs('traces', spec, flags.config);
    checkLibDirs(flags.lib);
    if (flags.maxHeap !== undefined) setHeapBudget(flags.maxHeap * 2 ** 20);
    cm = await loadModel(files.spec, files.cfg, { libDirs: flags.lib });
  } catch (e) {
    process.stderr.write(`buffy traces: ${errorText(e)}\n`);
    return exitCodeForError(e);
  }
  let gen;
  try {
    gen = flags.cover
      ? generateTraces(cm, {
          mode: 'cover',
          ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
          ...(flags.maxStates !== undefined ? { maxStates: flags.maxStates } : {}),
        })
      : generateTraces(cm, { mode: 'random', count: flags.random!, depth: flags.depth, seed: flags.seed });
  } catch (e) {
    process.stderr.write(`buffy traces: ${errorText(e)}\n`);
    return exitCodeForError(e);
  }
  mkdirSync(flags.out, { recursive: true });
  gen.traces.forEach((t, i) => {
    writeFileSync(
      path.join(flags.out, `trace-${String(i + 1).padStart(4, '0')}.itf.json`),
      JSON.stringify(t, null, 1) + '\n',
    );
  });
  const steps = gen.traces.reduce((a, t) => a + t.states.length - 1, 0);
  const summary =
    gen.edgesTotal !== undefined
      ? `${gen.traces.length} traces (${steps} steps) written to ${flags.out}; edges covered ${gen.edgesCovered}/${gen.edgesTotal}`
      : `${gen.traces.length} random traces (${steps} steps, seed ${flags.seed}) written to ${flags.out}`;
  process.stdout.write(summary + '\n');
  return 0;
}
