// CLI commands of the cluster layer: `buffy node`, `buffy shutdown`, `buffy send`, `buffy receive`.
// Every flag is validated with zod; errors name the flag. Exit codes: 0 clean, 1 runtime
// failure, 2 bad usage.

import type { Command } from 'commander';
import { z } from 'zod';
import { toAppOptions, AppOptionsError } from '../runtime/api/options.ts';
import { AppLoadError } from '../runtime/api/load.ts';
import { AppConfigError } from '../runtime/api/app.ts';
import { ConnectorError } from '../runtime/connectors/index.ts';
import { parseHostPort, formatAddress } from '../runtime/net/tcp-channel.ts';
import type { HostPort } from '../runtime/net/tcp-channel.ts';
import { startNode } from '../runtime/cluster/node.ts';
import type { NodeHandle } from '../runtime/cluster/node.ts';
import { countOf } from '../runtime/cluster/text.ts';
import { requestShutdown } from '../runtime/cluster/control.ts';
import { ResumeFileError, sendFile, startReceiver } from '../runtime/cluster/tools.ts';
import { nodeTracing } from './trace.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const hostPort = (flag: string) =>
  z.string({ error: `${flag} is required (HOST:PORT)` }).transform((s, ctx): HostPort => {
    try {
      return parseHostPort(s, flag);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const intFlag = (flag: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} must be an integer`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${flag} must be between ${min} and ${max}`);

const workerName = z
  .string({ error: '--name is required' })
  .regex(
    /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/,
    '--name must start with a letter and hold only letters, digits, _ . - (at most 64)',
  );

function parseFlags<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const flag =
      issue.path.length > 0
        ? `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`
        : 'options';
    throw new UsageError(issue.message.startsWith('--') ? issue.message : `${flag}: ${issue.message}`);
  }
  return r.data;
}

function reportError(command: string, err: unknown): number {
  const usage =
    err instanceof UsageError ||
    err instanceof AppOptionsError ||
    err instanceof AppConfigError ||
    err instanceof AppLoadError ||
    err instanceof ConnectorError ||
    err instanceof ResumeFileError;
  // Messages from lower layers may already name the command (`buffy send: cannot connect ...`).
  const prefix = `buffy ${command}: `;
  const message = (err as Error).message;
  process.stderr.write(`${message.startsWith(prefix) ? '' : prefix}${message}\n`);
  return usage ? EXIT_USAGE : EXIT_FAILURE;
}

/** Sets the exit code and makes sure the process ends even if a handle lingers. */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

const nodeSchema = z.object({
  name: workerName,
  initializer: z.boolean().optional(),
  workers: intFlag('--workers', 1, 64),
  control: hostPort('--control'),
  data: hostPort('--data'),
  cluster: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, '--cluster must be letters, digits, _ . - (at most 100)'),
  deadLetters: z.string().min(1).optional(),
  advertise: z
    .string()
    .regex(/^[A-Za-z0-9.:-]+$/, '--advertise must be a host name or IP address')
    .optional(),
  stopWhenDone: z.boolean().optional(),
  latency: z.boolean().optional(),
  latencyWarmup: intFlag('--latency-warmup', 0, 3_600_000).optional(),
  metrics: hostPort('--metrics').optional(),
  exitWithStdin: z.boolean().optional(),
  state: z.string().min(1, '--state needs a directory').optional(),
  protocolLog: z.string().min(1, '--protocol-log needs a file').optional(),
  reconnectTimeout: intFlag('--reconnect-timeout', 1, 86_400_000).optional(),
  idleTimeout: intFlag('--idle-timeout', 30, 86_400_000).optional(),
  durability: z
    .enum(['sync', 'batch', 'none'], { error: '--durability must be sync, batch or none' })
    .optional(),
});

/** How long a worker whose parent is gone may take to stop cleanly before it exits anyway. */
const PARENT_GONE_EXIT_MS = 2000;

/**
 * `--exit-with-stdin`: the process that started this worker holds the other end of its standard
 * input; when that end closes (the parent exited or was killed, even by SIGKILL) or the parent
 * pid changes (re-parented), `onGone` is called once. The returned function stops watching.
 */
function watchParent(onGone: (why: string) => void): () => void {
  const ppid = process.ppid;
  let gone = false;
  const fire = (why: string): void => {
    if (gone) return;
    gone = true;
    onGone(why);
  };
  const onEnd = (): void => fire('its standard input closed');
  process.stdin.on('data', () => undefined);
  process.stdin.once('end', onEnd);
  process.stdin.once('error', onEnd);
  const poll = setInterval(() => {
    if (process.ppid !== ppid) fire(`its parent process ${ppid} is gone`);
  }, 500);
  poll.unref();
  return () => {
    clearInterval(poll);
    process.stdin.off('end', onEnd);
    process.stdin.off('error', onEnd);
    process.stdin.destroy();
  };
}

const sendSchema = z.object({
  to: hostPort('--to'),
  file: z.string({ error: '--file is required' }).min(1),
  rate: z
    .string()
    .regex(
      /^\d+(\.\d+)?(\/s)?$/,
      '--rate must be a positive number of messages per second, e.g. 50000 or 50000/s',
    )
    .transform((s) => Number(s.replace('/s', '')))
    .refine((n) => n > 0, '--rate must be positive')
    .optional(),
  batch: intFlag('--batch', 1, 1_000_000).optional(),
  repeat: z.boolean().optional(),
  messages: intFlag('--messages', 1, Number.MAX_SAFE_INTEGER).optional(),
  acks: z.boolean().optional(),
  stream: z.string().min(1).max(200).optional(),
  resumeFile: z.string().min(1).optional(),
  ackTimeout: intFlag('--ack-timeout', 100, 86_400_000).optional(),
});

const receiveSchema = z.object({
  listen: hostPort('--listen'),
  out: z.string().min(1).optional(),
  check: z.boolean().optional(),
});
const shutdownSchema = z.object({
  control: hostPort('--control'),
  timeout: intFlag('--timeout', 1, 3_600_000),
});

export function registerClusterCommands(program: Command): void {
  program
    .command('node')
    .description('run one worker of a multi-process cluster')
    .argument('<app>', 'application module (default export: (options) => Application)')
    .option('--name <name>', "this worker's name, unique in the cluster (required)")
    .option('--initializer', 'this worker coordinates the cluster and runs the sources')
    .option('--workers <n>', 'number of workers in the cluster (required)')
    .option(
      '--control <host:port>',
      'control address (the initializer listens there, the others connect) (required)',
    )
    .option(
      '--data <host:port>',
      'address for data channels from other workers (port 0: any free port)',
      '127.0.0.1:0',
    )
    .option(
      '--advertise <host>',
      "host other workers connect to for --data (default: --data host, or this host's address)",
    )
    .option('--cluster <name>', 'cluster name; workers of other clusters are rejected', 'buffy')
    .option('--source <uri>', 'source connector URI (on the initializer)')
    .option(
      '--sink <uri>',
      'sink connector URI (every worker opens it; a file: sink writes one file per worker: out/c.txt -> out/c.NAME.txt, or {worker} in the path replaced)',
    )
    .option('--param <key=value>', 'application parameter (repeatable)', collect, [])
    .option(
      '--dead-letters <path>',
      'file for messages whose processing threw ({worker} -> NAME; default out/dead-letters.NAME.jsonl)',
    )
    .option('--stop-when-done', 'initializer: stop the cluster once the sources have ended')
    .option(
      '--exit-with-stdin',
      'stop (and exit within 2 s) when standard input closes: the worker ends with the process that started it (buffy run --workers uses it)',
    )
    .option('--latency', 'record source-to-sink latency; the initializer prints the percentiles at the end')
    .option(
      '--protocol-log <file>',
      "append every channel's protocol steps to FILE as JSON lines ({worker} -> NAME), for buffy validate-log",
    )
    .option(
      '--latency-warmup <ms>',
      'with --latency: what reaches the sinks in the first MS ms of this worker is not recorded (JIT warm-up)',
    )
    .option(
      '--metrics <host:port>',
      "serve this worker's metrics in Prometheus text format at http://HOST:PORT/metrics (host default 127.0.0.1; port 0: any free port, logged)",
    )
    .option('--trace <sampling>', 'trace sampled messages (all, 1/N or offsets:RANGES); needs --trace-to')
    .option('--trace-to <host:port>', 'the trace receiver (buffy trace-receiver) to send reports to')
    .option(
      '--state <dir>',
      "this worker's durable store (an existing, writable directory; {worker} -> NAME): exactly-once processing, and a restarted worker recovers from it (without it: exactly-once is off)",
    )
    .option('--durability <level>', 'with --state: sync, batch (default) or none (runtime/store/README.md)')
    .option(
      '--reconnect-timeout <ms>',
      'how long a worker that lost its initializer keeps trying to reach it again before it stops with exit 1 (default 120000)',
    )
    .option(
      '--idle-timeout <ms>',
      'a data connection on which nothing arrives for this long is dropped and re-established, resuming where the receiver stopped (keepalives every third of it; default 15000)',
    )
    .action(async (appPath: string, flags: Record<string, unknown>) => {
      let code: number;
      let unwatch = (): void => undefined;
      try {
        const f = parseFlags(nodeSchema, flags);
        const appOptions = toAppOptions({ source: flags.source, sink: flags.sink, param: flags.param });
        const tracing = nodeTracing(flags, AppOptionsError);
        if (f.durability && !f.state)
          throw new UsageError(
            '--durability needs --state DIR (a worker without a store has nothing to make durable)',
          );
        let handle: NodeHandle | null = null;
        if (f.exitWithStdin) {
          unwatch = watchParent((why) => {
            // Nobody may read our output any more: a closed pipe must not crash the stop.
            process.stdout.on('error', () => undefined);
            process.stderr.on('error', () => undefined);
            process.stderr.write(
              `[${f.name}] the process that started this worker is gone (${why}); stopping\n`,
            );
            setTimeout(() => process.exit(EXIT_FAILURE), handle ? PARENT_GONE_EXIT_MS : 0);
            handle?.requestShutdown(`the process that started worker '${f.name}' is gone`);
          });
        }
        handle = await startNode({
          appPath,
          appOptions,
          name: f.name,
          initializer: f.initializer ?? false,
          workers: f.workers,
          control: f.control,
          data: f.data,
          cluster: f.cluster,
          ...(f.deadLetters ? { deadLetters: f.deadLetters } : {}),
          ...(f.advertise ? { advertise: f.advertise } : {}),
          stopWhenSourcesDone: f.stopWhenDone ?? false,
          recordLatency: f.latency ?? false,
          ...(f.latencyWarmup !== undefined ? { latencyWarmupMs: f.latencyWarmup } : {}),
          ...(f.metrics ? { metrics: f.metrics } : {}),
          ...(tracing ? { tracing } : {}),
          ...(f.state ? { state: f.state } : {}),
          ...(f.protocolLog ? { protocolLog: f.protocolLog.replaceAll('{worker}', f.name) } : {}),
          ...(f.durability ? { durability: f.durability } : {}),
          ...(f.reconnectTimeout ? { reconnectTimeoutMs: f.reconnectTimeout } : {}),
          ...(f.idleTimeout ? { idleTimeoutMs: f.idleTimeout } : {}),
        });
        let signals = 0;
        const node = handle;
        const onSignal = (sig: NodeJS.Signals) => {
          signals++;
          if (signals > 1) {
            process.stderr.write(`[${f.name}] ${sig} again: exiting now\n`);
            process.exit(EXIT_FAILURE);
          }
          node.requestShutdown(`${sig} on worker '${f.name}'`);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        code = await node.done;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      } catch (err) {
        code = reportError('node', err);
      }
      unwatch();
      exitSoon(code);
    });

  program
    .command('shutdown')
    .description('stop a cluster cleanly: stop sources, drain, flush sinks, close; waits until done')
    .option('--control <host:port>', "the initializer's control address (required)")
    .option('--timeout <ms>', 'give up after this long', '60000')
    .action(async (flags: Record<string, unknown>) => {
      try {
        const f = parseFlags(shutdownSchema, flags);
        const workers = await requestShutdown(f.control, f.timeout);
        process.stderr.write(
          `cluster stopped: ${countOf(workers.length, 'worker')} (${workers.join(', ')})\n`,
        );
        process.exitCode = 0;
      } catch (err) {
        process.exitCode = reportError('shutdown', err);
      }
    });

  program
    .command('send')
    .description('send each line of a file as one frame (4-byte length + payload) to a TCP source')
    .option('--to <host:port>', 'address of the tcp: source (required)')
    .option('--file <path>', 'file whose lines are the messages (required)')
    .option('--rate <n>', 'messages per second (token bucket); default: as fast as possible')
    .option('--batch <n>', 'messages per write')
    .option('--repeat', 'start over at the end of the file')
    .option('--messages <n>', 'stop after this many messages')
    .option(
      '--resume-file <path>',
      'record the last acknowledged line there; a new run with the same file skips what was acknowledged',
    )
    .option('--stream <name>', "the stream's name at the source (default: the file's base name)")
    .option('--ack-timeout <ms>', 'give up when the source acknowledges nothing for this long', '60000')
    .option('--no-acks', 'plain frames without the acknowledgement protocol: any receiver, at most once')
    .action(async (flags: Record<string, unknown>) => {
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const f = parseFlags(sendSchema, flags);
        const { ackTimeout, ...rest } = f;
        const r = await sendFile({
          ...rest,
          ...(ackTimeout !== undefined ? { ackTimeoutMs: ackTimeout } : {}),
          signal: controller.signal,
          log: (line) => process.stderr.write(line + '\n'),
        });
        const acks =
          r.acknowledged === undefined
            ? ''
            : `; all acknowledged${r.skipped ? `, ${countOf(r.skipped, 'line')} skipped (already at the source)` : ''}${r.resent ? `, ${countOf(r.resent, 'line')} sent again over ${countOf(r.reconnects ?? 0, 'reconnect')}` : ''}`;
        process.stderr.write(
          `sent ${countOf(r.messages, 'message')} (${countOf(r.bytes, 'byte')}) to ${formatAddress(f.to)} in ${(r.elapsedMs / 1000).toFixed(3)} s: ${Math.round(r.messagesPerSecond)} messages/s${acks}${controller.signal.aborted ? ' (stopped by a signal)' : ''}\n`,
        );
        process.exitCode = 0;
      } catch (err) {
        process.exitCode = reportError('send', err);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program
    .command('receive')
    .description("accept TCP connections; write each frame's payload as a line; stop on SIGINT/SIGTERM")
    .option('--listen <host:port>', 'address to listen on (port 0: any free port) (required)')
    .option('--out <path>', 'output file (default: standard output)')
    .option(
      '--check',
      'frames carry ids (sink tcp:HOST:PORT?ids=1): write each id once, report repeats and gaps at the end (exit 1 on a gap)',
    )
    .action(async (flags: Record<string, unknown>) => {
      try {
        const f = parseFlags(receiveSchema, flags);
        const receiver = await startReceiver({
          listen: f.listen,
          ...(f.out ? { out: f.out } : {}),
          ...(f.check ? { check: true } : {}),
        });
        process.stderr.write(`buffy receive: listening on ${formatAddress(receiver.address)}\n`);
        const sig = await new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        const counts = await receiver.close();
        process.stderr.write(
          `buffy receive: ${sig}: received ${countOf(counts.frames, 'frame')} (${countOf(counts.bytes, 'byte')}) over ${countOf(counts.connections, 'connection')}\n`,
        );
        for (const line of counts.check?.lines ?? []) process.stderr.write(line + '\n');
        exitSoon(counts.check && counts.check.missing > 0 ? EXIT_FAILURE : 0);
      } catch (err) {
        process.exitCode = reportError('receive', err);
      }
    });
}
