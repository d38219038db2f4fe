// `buffy dashboard --control HOST:PORT | --metrics HOST:PORT[,HOST:PORT...] [--listen HOST:PORT]`:
// a live web page of a running cluster, built from the workers' metrics endpoints
// (runtime/dashboard); with --control the initializer says where they are, at every poll.
import type { Command } from 'commander';
import { startDashboard } from '../runtime/dashboard/server.ts';
import { parseHostPort } from '../runtime/net/tcp-channel.ts';
import type { HostPort } from '../runtime/net/tcp-channel.ts';
import { createSystemClock } from '../runtime/system.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerDashboardCommands(program: Command): void {
  program
    .command('dashboard')
    .description(
      "serve a live web page of a running cluster (topology, throughput and latency per step and worker, partitions, events) from its workers' --metrics endpoints",
    )
    .option(
      '--control <host:port>',
      "the initializer's control address (buffy node --initializer --control): it says where the workers' metrics are, and follows restarted workers",
    )
    .option(
      '--metrics <host:port,...>',
      "the workers' metrics addresses (buffy node --metrics; buffy run --workers N --metrics H:P gives H:P .. H:P+N-1); repeatable",
      collect,
      [],
    )
    .option(
      '--listen <host:port>',
      'address of the page (host default 127.0.0.1; port 0: any free port)',
      '127.0.0.1:8090',
    )
    .action(async (flags: { control?: string; metrics: string[]; listen: string }) => {
      let targets: HostPort[];
      let control: HostPort | undefined;
      let listen: HostPort;
      try {
        const list = flags.metrics.flatMap((m) => m.split(',')).filter((m) => m.trim() !== '');
        if (list.length === 0 && flags.control === undefined)
          throw new Error(
            "--control or --metrics is required: the initializer's control address (--control 127.0.0.1:7000), or the metrics address of each worker (--metrics 127.0.0.1:9100,127.0.0.1:9101)",
          );
        targets = list.map((m) => parseHostPort(m, '--metrics'));
        if (flags.control !== undefined) control = parseHostPort(flags.control, '--control');
        listen = parseHostPort(flags.listen, '--listen');
      } catch (err) {
        process.stderr.write(`buffy dashboard: ${(err as Error).message}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      try {
        const server = await startDashboard({
          targets,
          ...(control ? { control } : {}),
          listen,
          clock: createSystemClock(),
          log: (m) => process.stderr.write(`[dashboard] ${m}\n`),
        });
        process.stderr.write(
          `[dashboard] listening on ${server.url} (${control ? `workers from the initializer at ${flags.control}` : `${targets.length} workers`}); Ctrl-C stops it\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await server.close();
      } catch (err) {
        process.stderr.write(`buffy dashboard: ${(err as Error).message}\n`);
        process.exitCode = EXIT_FAILURE;
      }
    });
}
