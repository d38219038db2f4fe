// `buffy run APP`: runs an application embedded (one process) or, with --workers N > 1, as a
// local cluster of N node processes (runtime/cluster/local.ts).
import type { Command } from 'commander';
import { AppConfigError } from '../runtime/api/app.ts';
import { AppLoadError, loadApp } from '../runtime/api/load.ts';
import { AppOptionsError, toAppOptions } from '../runtime/api/options.ts';
import type { AppOptions } from '../runtime/api/options.ts';
import { ConnectorError, checkAppConnectors } from '../runtime/connectors/index.ts';
import { registerTcpConnector } from '../runtime/connectors/tcp.ts';
import { DEFAULT_DEAD_LETTERS, FileDeadLetterSink } from '../runtime/connectors/dead-letter-file.ts';
import { startEmbedded } from '../runtime/engine/embedded.ts';
import type { RunSummary } from '../runtime/engine/embedded.ts';
import { createStderrLogger, createSystemClock } from '../runtime/system.ts';
import { registerClusterCommands } from './cluster.ts';
import { runLocalCluster } from '../runtime/cluster/local.ts';
import { parseHostPort } from '../runtime/net/tcp-channel.ts';
import type { HostPort } from '../runtime/net/tcp-channel.ts';
import { EMBEDDED_WORKER } from '../runtime/engine/embedded.ts';
import { createWorkerMetering, serveMetrics } from '../runtime/metrics/index.ts';
import { clusterProgressOptions, startProgress } from './progress.ts';
import { mkdirSync } from 'node:fs';
import { DURABILITY_LEVELS, StoreError, openLmdbStore } from '../runtime/store/lmdb-store.ts';
import type { Durability, LmdbStore } from '../runtime/store/lmdb-store.ts';
import type { Application } from '../runtime/api/app.ts';
import { clusterRunTracing, runTracing } from './trace.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseWorkers(raw: string | undefined): number {
  if (raw === undefined) return 1;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 64) {
    throw new AppOptionsError(`--workers ${raw}: must be an integer from 1 to 64`);
  }
  return Number(raw);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** The summary printed at the end of an embedded run. */
export function formatRunSummary(appName: string, s: RunSummary, deadLetterFile?: string): string {
  const secs = s.elapsedMs / 1000;
  const m = s.metrics;
  const rate = (x: number): string => (secs > 0 ? fmt(x / secs) : 'n/a');
  const lines = [
    `${appName}: ${s.stoppedEarly ? 'stopped' : 'done'} after ${secs.toFixed(3)} s`,
    `  source messages: ${fmt(m.ingested)} (${rate(m.ingested)}/s)`,
    ...Object.entries(m.stateApplied).map(
      ([step, n]) =>
        `  state step ${step}: ${fmt(n)} ${n === 1 ? 'message' : 'messages'} applied (${rate(n)}/s)`,
    ),
    `  sink messages: ${fmt(m.sunk)} (${rate(m.sunk)}/s)`,
    `  dead letters: ${fmt(m.deadLetters)}${m.deadLetters > 0 && deadLetterFile ? ` (in ${deadLetterFile})` : ''}`,
  ];
  if (s.finishText) lines.push(s.finishText);
  return lines.join('\n');
}

interface RunFlags {
  source?: string;
  sink?: string;
  param: string[];
  workers?: string;
  deadLetters: string;
  trace?: string;
  traceTo?: string;
  metrics?: string;
  state?: string;
  durability?: string;
}

function parseDurability(flags: RunFlags): Durability {
  const d = flags.durability ?? 'batch';
  if (!(DURABILITY_LEVELS as readonly string[]).includes(d))
    throw new AppOptionsError(`--durability ${d}: must be one of ${DURABILITY_LEVELS.join(', ')}`);
  if (flags.durability !== undefined && flags.state === undefined)
    throw new AppOptionsError('--durability needs --state DIR (without a store nothing is durable)');
  return d as Durability;
}

/** `--state DIR`: the embedded worker's store (the directory is created if missing). */
async function openRunStore(app: Application, dir: string, durability: Durability): Promise<LmdbStore> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreError(`--state ${dir}: cannot create the directory: ${(err as Error).message}`);
  }
  return openLmdbStore({
    dir,
    app: app.name,
    version: '1',
    partitions: app.partitionCount,
    durability,
    owner: `worker "${EMBEDDED_WORKER}"`,
  });
}

function metricsAddress(flags: RunFlags): HostPort | undefined {
  if (flags.metrics === undefined) return undefined;
  try {
    return parseHostPort(flags.metrics, '--metrics');
  } catch (err) {
    throw new AppOptionsError((err as Error).message);
  }
}

async function runEmbeddedCommand(appPath: string, options: AppOptions, flags: RunFlags): Promise<number> {
  const app = await loadApp(appPath, options);
  checkAppConnectors(app);
  const log = createStderrLogger(app.name);
  const tracing = runTracing(app, flags, AppOptionsError);
  const clock = createSystemClock();
  const metricsAt = metricsAddress(flags);
  const metering = metricsAt ? createWorkerMetering({ app, worker: EMBEDDED_WORKER, clock }) : null;
  const metricsServer =
    metering && metricsAt
      ? await serveMetrics(metering.metrics, metricsAt, clock, 'buffy run --metrics')
      : null;
  if (metricsServer) log.info(`metrics on ${metricsServer.url}`);
  const durability = parseDurability(flags);
  const store = flags.state !== undefined ? await openRunStore(app, flags.state, durability) : null;
  if (store && app.exactlyOnce !== false)
    log.info(
      `exactly-once: store ${flags.state} (durability ${durability}); file sinks exactly-once, stdout: and count: sinks at-least-once across a crash`,
    );
  const deadLetters = new FileDeadLetterSink(flags.deadLetters, log);
  let run: ReturnType<typeof startEmbedded>;
  try {
    run = startEmbedded(app, {
      clock,
      log,
      deadLetters: metering ? metering.deadLetters(deadLetters) : deadLetters,
      ...(metering ? { observer: metering.observer } : {}),
      ...(tracing ? { tracing: tracing.options } : {}),
      ...(store
        ? {
            exactlyOnce: {
              // Metered: commits counted and timed once per commit (runtime/metrics/store-meter.ts).
              store: metering && app.exactlyOnce !== false ? metering.store(store) : store,
              durability,
            },
          }
        : {}),
    });
  } catch (err) {
    await store?.close();
    await metricsServer?.close();
    throw err;
  }
  metering?.attach(run.engine);
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    log.info(`${sig}: stopping sources, draining, flushing sinks`);
    run.stop().catch(() => undefined);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // On a terminal, a live progress line (off when stderr is a pipe or a file).
  const stopProgress =
    process.stderr.isTTY === true
      ? startProgress({
          metrics: () => run.engine.metrics(),
          nowMs: () => clock.monotonicMs(),
          write: (t) => process.stderr.write(t),
        })
      : null;
  try {
    const summary = await run.done;
    stopProgress?.();
    const text = formatRunSummary(app.name, summary, flags.deadLetters);
    const toStderr =
      (options.sink ?? '').startsWith('stdout:') || app.sinks.some((s) => s.uri.startsWith('stdout:'));
    (toStderr ? process.stderr : process.stdout).write(`${text}\n`);
    if (tracing) {
      const t = await tracing.finish();
      (toStderr ? process.stderr : process.stdout).write(`${t.text}\n`);
      if (t.violations > 0) return EXIT_FAILURE;
    }
    return 0;
  } finally {
    stopProgress?.();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await metricsServer?.close();
    await store?.close();
  }
}

export function registerRuntimeCommands(program: Command): void {
  registerTcpConnector();
  program
    .command('run')
    .description('run an application: embedded in this process, or with --workers N as a local cluster')
    .argument('<app>', 'application module (default export: (options) => Application)')
    .option('--source <uri>', 'source connector URI (file:PATH, tcp:HOST:PORT)')
    .option(
      '--sink <uri>',
      'sink connector URI (file:PATH, stdout:, tcp:HOST:PORT, count:); with --workers N a file: sink writes one file per worker (out/c.txt -> out/c.w1.txt ...)',
    )
    .option('--param <key=value>', 'application parameter (repeatable)', collect, [])
    .option('--workers <n>', 'number of worker processes (default 1: embedded)')
    .option(
      '--dead-letters <path>',
      'file for messages whose processing threw (JSON lines; with --workers N one per worker: out/dead-letters.w1.jsonl ...)',
      DEFAULT_DEAD_LETTERS,
    )
    .option(
      '--trace <sampling>',
      "trace sampled messages (all, 1/N or offsets:RANGES) and check them against the app's flow",
    )
    .option('--trace-to <host:port>', 'send the trace reports to buffy trace-receiver instead')
    .option(
      '--state <dir>',
      'embedded: keep state, watermarks and the outbox in a store in DIR (created if missing) and run exactly-once; a re-run with the same DIR resumes where the last one stopped or crashed',
    )
    .option('--durability <level>', 'with --state: sync, batch (default) or none (runtime/store/README.md)')
    .option(
      '--metrics <host:port>',
      'serve metrics in Prometheus text format at http://HOST:PORT/metrics (host default 127.0.0.1); with --workers N, worker i on PORT+i-1 (port 0: each any free port, logged)',
    )
    .option(
      '--protocol-log <file>',
      "with --workers N: every worker appends its channels' protocol steps to FILE ({worker} -> NAME) as JSON lines, for buffy validate-log",
    )
    .action(async (appPath: string, flags: RunFlags & { protocolLog?: string }) => {
      try {
        const options = toAppOptions({ source: flags.source, sink: flags.sink, param: flags.param });
        const workers = parseWorkers(flags.workers);
        if (flags.protocolLog !== undefined && workers < 2)
          throw new AppOptionsError(
            '--protocol-log records the data channels between workers: use it with --workers N (N >= 2)',
          );
        if (workers > 1 && (flags.state !== undefined || flags.durability !== undefined))
          throw new AppOptionsError(
            '--state and --durability apply to embedded runs (without --workers); the workers of a local cluster get their own stores',
          );
        if (workers > 1) {
          // Load the app here first: a module that does not load or a bad --param is one usage
          // error (exit 2), not N worker processes failing one after another.
          const app = await loadApp(appPath, options);
          checkAppConnectors(app);
          const tracing = await clusterRunTracing(app, flags, AppOptionsError);
          process.exitCode = await runLocalCluster(appPath, options, workers, {
            app,
            deadLetters: flags.deadLetters,
            ...(flags.metrics !== undefined ? { metrics: metricsAddress(flags)! } : {}),
            ...(tracing || flags.protocolLog !== undefined
              ? {
                  nodeArgs: [
                    ...(tracing?.args ?? []),
                    ...(flags.protocolLog !== undefined ? ['--protocol-log', flags.protocolLog] : []),
                  ],
                }
              : {}),
            // On a terminal, the progress line of the cluster (off when stderr is not one).
            ...(process.stderr.isTTY === true ? clusterProgressOptions(() => performance.now()) : {}),
          });
          if (tracing) {
            const t = await tracing.finish();
            process.stdout.write(`${t.text}\n`);
            if (t.violations > 0 && process.exitCode === 0) process.exitCode = EXIT_FAILURE;
          }
        } else process.exitCode = await runEmbeddedCommand(appPath, options, flags);
      } catch (err) {
        const usage =
          err instanceof AppOptionsError ||
          err instanceof AppConfigError ||
          err instanceof AppLoadError ||
          err instanceof ConnectorError;
        // A refused store (another app's, corrupt) exits 1 with its message naming the path.
        process.stderr.write(`buffy run: ${(err as Error).message}\n`);
        process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
      }
    });
  registerClusterCommands(program);
}
