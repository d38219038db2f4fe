// `buffy trace-receiver --listen HOST:PORT`, `buffy trace show ID`, `buffy trace stats`: the trace
// receiver (runtime/tracing) and queries of a running one.
import type { Command } from 'commander';
import { AppConfigError } from '../runtime/api/app.ts';
import type { Application } from '../runtime/api/app.ts';
import { AppLoadError, loadApp } from '../runtime/api/load.ts';
import { AppOptionsError, toAppOptions } from '../runtime/api/options.ts';
import type { Flow } from '../runtime/flow/ast.ts';
import { FlowSyntaxError, parseFlow } from '../runtime/flow/parse.ts';
import { printFlow } from '../runtime/flow/print.ts';
import { FlowLimitError } from '../runtime/flow/semantics.ts';
import { topologyFlow } from '../runtime/flow/topology.ts';
import {
  HttpTraceSink,
  ReceiverClientError,
  receiverClient,
  startReceiverServer,
} from '../runtime/tracing/http.ts';
import { TraceReceiver } from '../runtime/tracing/receiver.ts';
import type { ReceiverStats } from '../runtime/tracing/receiver.ts';
import { SamplingError, parseSampling } from '../runtime/tracing/sampling.ts';
import type { TracingOptions } from '../runtime/tracing/tracer.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class TraceUsageError extends Error {}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function parseHostPort(raw: string, flag: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535)
    throw new TraceUsageError(
      `${flag} ${raw}: expected HOST:PORT, e.g. 127.0.0.1:7070 (port 0 picks a free one)`,
    );
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function positive(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new TraceUsageError(`${flag} ${raw}: must be a positive integer`);
  return n;
}

async function run(command: string, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    const usage =
      err instanceof TraceUsageError ||
      err instanceof FlowSyntaxError ||
      err instanceof FlowLimitError ||
      err instanceof AppOptionsError ||
      err instanceof AppConfigError ||
      err instanceof AppLoadError;
    process.stderr.write(`buffy ${command}: ${(err as Error).message}\n`);
    process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

export function formatStats(s: ReceiverStats & { invalidReports?: number; flow?: string | null }): string {
  const lines = [
    `flow: ${s.flow ?? '(none: traversals are not checked)'}`,
    `messages held: ${s.messages}, reports: ${s.reports}, traversals: ${s.traversals}, violations: ${s.violations}`,
    `evicted: ${s.evictedMessages} messages (${s.evictedReports} reports); dropped over the per-message bound: ${s.droppedReports}; duplicates: ${s.duplicateReports}${s.invalidReports !== undefined ? `; malformed: ${s.invalidReports}` : ''}`,
    'traversals per path:',
    ...s.paths.map(
      (p) => `  ${String(p.count).padStart(8)}  ${p.path}${p.allowed === false ? '   VIOLATION' : ''}`,
    ),
  ];
  return lines.join('\n');
}

interface ReceiverFlags {
  listen: string;
  flow?: string;
  app?: string;
  param: string[];
  maxMessages?: string;
  maxReportsPerMessage?: string;
}

export function registerTraceCommands(program: Command): void {
  program
    .command('trace-receiver')
    .description(
      'receive trace reports from workers over HTTP, rebuild traversals and check them against a flow',
    )
    .requiredOption('--listen <host:port>', 'address to listen on (port 0: a free port, printed)')
    .option('--flow <flow>', 'the flow to check traversals against')
    .option('--app <app>', "check against this app's declared flow (else its topology's)")
    .option('--param <key=value>', 'parameter of --app (repeatable)', collect, [] as string[])
    .option('--max-messages <n>', 'logical messages held before the oldest is evicted (default 10000)')
    .option('--max-reports-per-message <n>', 'reports held per logical message (default 1000)')
    .action((flags: ReceiverFlags) =>
      run('trace-receiver', async () => {
        const { host, port } = parseHostPort(flags.listen, '--listen');
        if (flags.flow !== undefined && flags.app !== undefined)
          throw new TraceUsageError('give --flow or --app, not both');
        let flow: Flow | undefined;
        if (flags.flow !== undefined) flow = parseFlow(flags.flow);
        if (flags.app !== undefined) {
          const app = await loadApp(flags.app, toAppOptions({ param: flags.param }));
          flow = app.flow !== undefined ? parseFlow(app.flow) : topologyFlow(app);
        }
        const maxMessages = positive(flags.maxMessages, '--max-messages');
        const maxReports = positive(flags.maxReportsPerMessage, '--max-reports-per-message');
        const receiver = new TraceReceiver({
          ...(flow ? { flow } : {}),
          ...(maxMessages ? { maxMessages } : {}),
          ...(maxReports ? { maxReportsPerMessage: maxReports } : {}),
        });
        const server = await startReceiverServer(receiver, host, port);
        process.stdout.write(
          `trace receiver listening on ${server.host}:${server.port}; flow ${flow ? printFlow(flow) : '(none)'}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await server.close();
        process.stdout.write(
          `${formatStats({ ...receiver.stats(), invalidReports: server.invalidReports(), flow: flow ? printFlow(flow) : null })}\n`,
        );
        return 0;
      }),
    );

  const trace = program.command('trace').description('query a running trace receiver (show, stats)');
  trace
    .command('show')
    .description("print a message's traversals in flow notation, with the workers and ids of each visit")
    .argument('<id>', 'a message id (source:offset, or any id of its descendants)')
    .requiredOption('--receiver <host:port>', 'the trace receiver')
    .action((id: string, flags: { receiver: string }) =>
      run('trace show', async () => {
        parseHostPort(flags.receiver, '--receiver');
        const c = await receiverClient(flags.receiver).message(id);
        if (!c) {
          process.stderr.write(
            `buffy trace show: no reports for message ${id} (not sampled, not yet reported, or evicted)\n`,
          );
          return EXIT_FAILURE;
        }
        const lines = [
          `message ${c.messageId}: ${c.traversals.length} traversal${c.traversals.length === 1 ? '' : 's'}`,
        ];
        for (const t of c.traversals) {
          lines.push(`  ${t.path}`);
          t.traversal.types.forEach((ty, i) =>
            lines.push(
              `    ${ty}${t.ended[i] ? ' (ended)' : ''} on ${t.instanceIds[i]}, message ${t.messageIds[i]}`,
            ),
          );
        }
        for (const v of c.violations)
          lines.push(`  VIOLATION: ${v.reason}: ${v.path} (ends ${v.leafIds.join(', ') || '-'})`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return c.violations.length > 0 ? EXIT_FAILURE : 0;
      }),
    );
  trace
    .command('stats')
    .description(
      'print the counts of a trace receiver and its traversals per path (exit 1 if any violates the flow)',
    )
    .requiredOption('--receiver <host:port>', 'the trace receiver')
    .action((flags: { receiver: string }) =>
      run('trace stats', async () => {
        parseHostPort(flags.receiver, '--receiver');
        const s = await receiverClient(flags.receiver).stats();
        process.stdout.write(`${formatStats(s)}\n`);
        return s.violations > 0 ? EXIT_FAILURE : 0;
      }),
    );
}

export { ReceiverClientError };

/** The tracing of a `buffy run`: options for the engine, and what to do once the run ended. */
export interface RunTracing {
  readonly options: TracingOptions;
  /** Posts what is left (--trace-to) or checks the embedded receiver's traversals; the text to
   * print and whether some traversal violated the flow. */
  finish(): Promise<{ text: string; violations: number }>;
}

/** `--trace SAMPLING [--trace-to HOST:PORT]` of `buffy run`: reports go to a receiver started with
 * `buffy trace-receiver`, or to one embedded in the run that checks them against the app's
 * declared flow (else its topology's) and prints its figures at the end. Null without --trace.
 * Bad values throw `usage` (the caller's usage error class). */
export function runTracing(
  app: Application,
  flags: { trace?: string; traceTo?: string },
  usage: new (message: string) => Error,
): RunTracing | null {
  if (flags.trace === undefined) {
    if (flags.traceTo !== undefined)
      throw new usage('--trace-to needs --trace SAMPLING (all, 1/N or offsets:RANGES)');
    return null;
  }
  let sampling;
  try {
    sampling = parseSampling(flags.trace);
  } catch (err) {
    if (err instanceof SamplingError) throw new usage(`--trace: ${err.message}`);
    throw err;
  }
  if (flags.traceTo !== undefined) {
    let address: string;
    try {
      const hp = parseHostPort(flags.traceTo, '--trace-to');
      address = `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`;
    } catch (err) {
      throw new usage((err as Error).message);
    }
    const sink = new HttpTraceSink(address);
    return {
      options: { sampling, sink },
      finish: async () => {
        await sink.flush();
        const lost = sink.failedPosts > 0 ? `; ${sink.failedPosts} posts failed (${sink.lastError})` : '';
        const dropped = sink.dropped > 0 ? `; ${sink.dropped} reports dropped (receiver too slow)` : '';
        return { text: `trace reports sent to ${address}${lost}${dropped}`, violations: 0 };
      },
    };
  }
  const flow = app.flow !== undefined ? parseFlow(app.flow) : topologyFlow(app);
  const receiver = new TraceReceiver({ flow });
  return {
    options: { sampling, sink: receiver },
    finish: async () => {
      const stats = receiver.stats();
      const v = receiver.checkAll().slice(0, 10);
      const text = [
        `trace (${flags.trace}): ${formatStats({ ...stats, flow: printFlow(flow) })}`,
        ...v.map((x) => `VIOLATION message ${x.messageId}: ${x.reason}: ${x.path}`),
      ].join('\n');
      return { text, violations: stats.violations };
    },
  };
}

/** A cluster worker's tracing (`buffy node --trace SAMPLING --trace-to HOST:PORT`): reports go
 * to the receiver; `flush` posts what is left once the engine has stopped. Null without --trace. */
export function nodeTracing(
  flags: { trace?: unknown; traceTo?: unknown },
  usage: new (message: string) => Error,
): { options: TracingOptions; flush(): Promise<void> } | null {
  if (flags.trace === undefined && flags.traceTo === undefined) return null;
  if (typeof flags.trace !== 'string' || typeof flags.traceTo !== 'string') {
    throw new usage('--trace SAMPLING and --trace-to HOST:PORT go together on a cluster worker');
  }
  let sampling;
  try {
    sampling = parseSampling(flags.trace);
    parseHostPort(flags.traceTo, '--trace-to');
  } catch (err) {
    throw new usage((err as Error).message);
  }
  const sink = new HttpTraceSink(flags.traceTo);
  return { options: { sampling, sink }, flush: () => sink.flush() };
}

/** `buffy run --workers N --trace SAMPLING [--trace-to HOST:PORT]`: the workers' arguments, and
 * (without --trace-to) a receiver in this process on an ephemeral loopback port that checks the
 * reports against the app's flow and prints its figures at the end. */
export async function clusterRunTracing(
  app: Application,
  flags: { trace?: string; traceTo?: string },
  usage: new (message: string) => Error,
): Promise<{ args: string[]; finish(): Promise<{ text: string; violations: number }> } | null> {
  const check = runTracing(app, flags, usage);
  if (check === null) return null;
  if (flags.traceTo !== undefined) {
    return {
      args: ['--trace', flags.trace!, '--trace-to', flags.traceTo],
      finish: async () => ({ text: `trace reports sent to ${flags.traceTo}`, violations: 0 }),
    };
  }
  const receiver = check.options.sink as TraceReceiver;
  const server = await startReceiverServer(receiver, '127.0.0.1', 0);
  return {
    args: ['--trace', flags.trace!, '--trace-to', `127.0.0.1:${server.port}`],
    finish: async () => {
      await server.close();
      const r = await check.finish();
      const bad = server.invalidReports();
      return { text: bad > 0 ? `${r.text}\nmalformed reports: ${bad}` : r.text, violations: r.violations };
    },
  };
}
