// The `buffy` command line: one program, subcommands registered by the parts that own them
// (check.ts: check, traces; run.ts and cluster.ts: run, node, shutdown, send, receive;
// conformance.ts: conformance).
//
// Start-up cost: a command loads only the module group that registers it, so `buffy check`
// never loads the runtime (zod, the engine, the cluster) and `buffy run` never loads the
// checker. `buffy --help` loads none of them: it lists COMMANDS, a table of each command's
// usage and summary (its description, or the first part of it) that test/cli/main.test.ts
// compares with what the groups register.
import { createRequire } from 'node:module';
import { Command, CommanderError, Help, Option } from 'commander';
import { LOG_FORMATS, LOG_LEVELS } from '../runtime/log-config.ts';

/** Exit codes: 0 success, 1 a violation or runtime failure, 2 bad usage or input. */
export const EXIT_USAGE = 2;

export const DESCRIPTION =
  'Buffy: a stream processor whose protocols are specified in TLA+, and its TLA+ toolchain.\n' +
  'Today: reliable in-order delivery between workers (reconnect and resend), exactly-once ' +
  'state and file sinks with --state (a durable store), a deterministic cluster simulator, ' +
  'dead letters for bad input.';

type Register = (program: Command) => void;

/** The modules that register commands, loaded on demand. */
export const GROUPS = {
  tla: async (): Promise<Register> => (await import('./check.ts')).registerTlaCommands,
  runtime: async (): Promise<Register> => (await import('./run.ts')).registerRuntimeCommands,
  conformance: async (): Promise<Register> => (await import('./conformance.ts')).registerConformanceCommands,
  flow: async (): Promise<Register> => (await import('./flow.ts')).registerFlowCommands,
  trace: async (): Promise<Register> => (await import('./trace.ts')).registerTraceCommands,
  dashboard: async (): Promise<Register> => (await import('./dashboard.ts')).registerDashboardCommands,
  sim: async (): Promise<Register> => (await import('./sim.ts')).registerSimCommands,
} as const;
export type GroupName = keyof typeof GROUPS;

export interface CommandEntry {
  readonly name: string;
  /** As the general help lists it (commander's `subcommandTerm`). */
  readonly term: string;
  readonly summary: string;
  readonly group: GroupName;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'check',
    term: 'check [options] <spec>',
    summary: 'model-check a TLA+ spec with its .cfg model (built-in checker, or TLC when available)',
    group: 'tla',
  },
  {
    name: 'traces',
    term: 'traces [options] <spec>',
    summary: 'generate ITF traces from a spec: an edge cover of its state graph, or seeded random walks',
    group: 'tla',
  },
  {
    name: 'run',
    term: 'run [options] <app>',
    summary: 'run an application: embedded in this process, or with --workers N as a local cluster',
    group: 'runtime',
  },
  {
    name: 'node',
    term: 'node [options] <app>',
    summary: 'run one worker of a multi-process cluster',
    group: 'runtime',
  },
  {
    name: 'shutdown',
    term: 'shutdown [options]',
    summary: 'stop a cluster cleanly: stop sources, drain, flush sinks, close; waits until done',
    group: 'runtime',
  },
  {
    name: 'send',
    term: 'send [options]',
    summary: 'send each line of a file as one frame (4-byte length + payload) to a TCP source',
    group: 'runtime',
  },
  {
    name: 'receive',
    term: 'receive [options]',
    summary: "accept TCP connections; write each frame's payload as a line; stop on SIGINT/SIGTERM",
    group: 'runtime',
  },
  {
    name: 'conformance',
    term: 'conformance [options] [suite...]',
    summary:
      'replay traces generated from the specs against the real runtime (every edge of each model graph)',
    group: 'conformance',
  },
  {
    name: 'flow',
    term: 'flow',
    summary: 'flows: the paths a message may take through an app (show, check, traversals, tla)',
    group: 'flow',
  },
  {
    name: 'trace-receiver',
    term: 'trace-receiver [options]',
    summary: 'receive trace reports from workers over HTTP, rebuild traversals and check them against a flow',
    group: 'trace',
  },
  { name: 'trace', term: 'trace', summary: 'query a running trace receiver (show, stats)', group: 'trace' },
  {
    name: 'dashboard',
    term: 'dashboard [options]',
    summary:
      "serve a live web page of a running cluster (topology, throughput and latency per step and worker, partitions, events) from its workers' --metrics endpoints",
    group: 'dashboard',
  },
  {
    name: 'sim',
    term: 'sim [options] [app]',
    summary:
      'simulate a whole cluster of an app in one process (seeded network, disk, clock and crashes) and check exactly-once against a fault-free run',
    group: 'sim',
  },
  {
    name: 'validate-log',
    term: 'validate-log <files...>',
    summary:
      'check protocol logs of real processes (buffy node --protocol-log FILE) step by step against specs/Delivery.tla, specs/Ack.tla and specs/Recovery.tla',
    group: 'sim',
  },
];

/** The version in package.json (found through the package's own name, from src/ or dist/). */
export function version(): string {
  const pkg = createRequire(import.meta.url)('buffy/package.json') as { version: string };
  return pkg.version;
}

/** Option descriptions say "(required)" for options a command cannot run without. */
function optionDescription(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${text} (required)` : text;
}

/** The root program, before any command is added. Subcommands inherit its help and error
 * settings (commander copies them when `program.command()` creates one). */
function rootProgram(): Command {
  return new Command('buffy')
    .description(DESCRIPTION)
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .helpCommand('help [command]', 'print the help of a command')
    .configureHelp({ optionDescription })
    .addOption(
      new Option('--log-level <level>', "workers' log level (every command; workers it starts inherit it)")
        .choices(LOG_LEVELS)
        .env('BUFFY_LOG_LEVEL'),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines as text or JSON; auto: text on a terminal, JSON otherwise',
      )
        .choices(LOG_FORMATS)
        .env('BUFFY_LOG_FORMAT'),
    )
    .hook('preAction', (root) => applyLogOptions(root.opts()))
    .showHelpAfterError()
    .exitOverride();
}

/** The root's log options become the environment that runtime/log.ts and every worker this
 * process starts read; `auto` is decided here, once, from this process's stderr, so workers
 * whose stderr is a pipe to this process log as this process would. */
function applyLogOptions(opts: { logLevel?: string; logFormat?: string }): void {
  if (opts.logLevel !== undefined) process.env.BUFFY_LOG_LEVEL = opts.logLevel;
  const format = opts.logFormat ?? 'auto';
  process.env.BUFFY_LOG_FORMAT = format === 'auto' ? (process.stderr.isTTY ? 'text' : 'json') : format;
}

/** The program with the commands of the given groups (every group when none are given). */
export async function buildProgram(
  groups: readonly GroupName[] = Object.keys(GROUPS) as GroupName[],
): Promise<Command> {
  const program = rootProgram();
  for (const g of groups) (await GROUPS[g]())(program);
  return program;
}

/** The general help's program: every command listed from COMMANDS, none loaded. */
function listingProgram(): Command {
  const program = rootProgram();
  const terms = new Map(COMMANDS.map((c) => [c.name, c.term]));
  program.configureHelp({
    optionDescription,
    subcommandTerm: (cmd) => terms.get(cmd.name()) ?? cmd.name(),
  });
  for (const c of COMMANDS) program.command(c.name).description(c.summary);
  return program;
}

/** The first argument that is not an option: the command word, if any. */
function commandWord(argv: readonly string[]): string | undefined {
  return argv.find((a) => !a.startsWith('-'));
}

/** Edit distance (insertions, deletions, substitutions) between two short words. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

function unknownCommand(word: string): number {
  const names = COMMANDS.map((c) => c.name);
  const near = names.filter((n) => distance(word, n) <= Math.max(1, Math.floor(n.length / 3)));
  const hint = near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : '';
  process.stderr.write(
    `buffy: unknown command '${word}'${hint}; the commands are ${names.join(', ')} (buffy --help describes them)\n`,
  );
  return EXIT_USAGE;
}

async function parse(program: Command, argv: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      return EXIT_USAGE;
    }
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** Runs the CLI and returns the process exit code (commands set process.exitCode themselves). */
export async function main(argv: readonly string[]): Promise<number> {
  let word = commandWord(argv);
  let rest = argv;
  if (word === 'help') {
    // `buffy help CMD` is `buffy CMD --help`; `buffy help` is `buffy --help`.
    const i = argv.indexOf('help');
    rest = [...argv.slice(0, i), ...argv.slice(i + 1)];
    word = commandWord(rest);
    rest = [...rest, '--help'];
  }
  if (word === undefined) return parse(listingProgram(), rest);
  const entry = COMMANDS.find((c) => c.name === word);
  if (!entry) return unknownCommand(word);
  return parse(await buildProgram([entry.group]), rest);
}
