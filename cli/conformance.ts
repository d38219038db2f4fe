// `buffy conformance [SUITE...]`: runs the conformance suites (traces generated from each
// protocol's spec, replayed against the real runtime) and prints, per suite, the traces,
// steps, edges covered and the verdict; a divergence is printed as a diff on stderr.
// Exit codes: 0 every suite conforms and covers every edge, 1 a divergence or an edge left
// uncovered, 2 bad usage or a spec/model that cannot be loaded.
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { TlaError } from '../tla/errors.ts';
import {
  formatDivergence,
  formatSuiteReport,
  runSuite,
  type RunSuiteOptions,
  type SuiteReport,
} from '../conformance/harness.ts';
import {
  CREDIT_FLOW_MUTATIONS,
  creditFlowSuite,
  type CreditFlowMutation,
} from '../conformance/credit-flow.ts';

const EXIT_DIVERGED = 1;
const EXIT_USAGE = 2;

interface SuiteOptions {
  /** Another model (.cfg) of the suite's spec. */
  readonly cfgFile?: string;
  /** A deliberately broken variant of the runtime (mutation testing). */
  readonly mutation?: string;
}

interface SuiteEntry {
  readonly description: string;
  readonly mutations: readonly string[];
  run(opts: SuiteOptions, run: RunSuiteOptions): Promise<SuiteReport>;
}

/** Every suite, by the name `buffy conformance NAME` takes. */
export const CONFORMANCE_SUITES: Readonly<Record<string, SuiteEntry>> = {
  'credit-flow': {
    description: 'specs/CreditFlow.tla against the channel core (runtime/net/channel.ts)',
    mutations: CREDIT_FLOW_MUTATIONS,
    run: (o, r) =>
      runSuite(
        creditFlowSuite({
          ...(o.cfgFile !== undefined ? { cfgFile: o.cfgFile } : {}),
          ...(o.mutation !== undefined ? { mutation: o.mutation as CreditFlowMutation } : {}),
        }),
        r,
      ),
  },
};

interface ConformanceFlags {
  config?: string;
  mutation?: string;
  traceDir?: string;
  maxSteps?: number;
}

const positiveInt =
  (what: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };

export function registerConformanceCommands(program: Command): void {
  program
    .command('conformance')
    .description(
      'replay traces generated from the specs against the real runtime (every edge of each model graph); ' +
        `suites: ${Object.keys(CONFORMANCE_SUITES).join(', ')}`,
    )
    .argument('[suite...]', 'suites to run (default: all)')
    .option('--config <file>', "another .cfg model of the suite's spec (one suite only)")
    .option(
      '--mutation <name>',
      'run a deliberately broken variant of the runtime, to see a divergence (one suite only)',
    )
    .option(
      '--trace-dir <dir>',
      'where to write the ITF file of a diverging trace (default: under the OS temp dir)',
    )
    .option('--max-steps <n>', 'longest generated trace, in steps', positiveInt('--max-steps'))
    .action(async (suites: string[], flags: ConformanceFlags) => {
      process.exitCode = await runConformanceCommand(suites, flags);
    });
}

export async function runConformanceCommand(
  names: readonly string[],
  flags: ConformanceFlags,
): Promise<number> {
  const all = Object.keys(CONFORMANCE_SUITES);
  const chosen = names.length > 0 ? [...names] : all;
  const unknown = chosen.filter((n) => !(n in CONFORMANCE_SUITES));
  if (unknown.length > 0) {
    process.stderr.write(
      `buffy conformance: no suite named ${unknown.map((n) => `'${n}'`).join(', ')}; the suites are: ${all.join(', ')}\n`,
    );
    return EXIT_USAGE;
  }
  if ((flags.config !== undefined || flags.mutation !== undefined) && chosen.length !== 1) {
    process.stderr.write('buffy conformance: --config and --mutation apply to one suite; name exactly one\n');
    return EXIT_USAGE;
  }
  if (flags.mutation !== undefined) {
    const allowed = CONFORMANCE_SUITES[chosen[0]!]!.mutations;
    if (!allowed.includes(flags.mutation)) {
      process.stderr.write(
        `buffy conformance: suite ${chosen[0]} has no mutation '${flags.mutation}'; it has: ${allowed.join(', ') || '(none)'}\n`,
      );
      return EXIT_USAGE;
    }
  }
  const runOpts: RunSuiteOptions = {
    ...(flags.traceDir !== undefined ? { traceDir: path.resolve(flags.traceDir) } : {}),
    ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
  };
  let code = 0;
  for (const name of chosen) {
    let r: SuiteReport;
    try {
      r = await CONFORMANCE_SUITES[name]!.run(
        {
          ...(flags.config !== undefined ? { cfgFile: path.resolve(flags.config) } : {}),
          ...(flags.mutation !== undefined ? { mutation: flags.mutation } : {}),
        },
        runOpts,
      );
    } catch (e) {
      const text = e instanceof TlaError ? e.describe() : e instanceof Error ? e.message : String(e);
      process.stderr.write(`buffy conformance ${name}: ${text}\n`);
      code = Math.max(code, e instanceof TlaError && e.kind !== 'eval' ? EXIT_USAGE : EXIT_DIVERGED);
      continue;
    }
    process.stdout.write(formatSuiteReport(r) + '\n');
    if (r.divergence) {
      process.stderr.write(formatDivergence(r.divergence) + '\n');
      code = Math.max(code, EXIT_DIVERGED);
    } else if (r.edgesCovered !== r.edgesTotal) {
      code = Math.max(code, EXIT_DIVERGED);
    }
  }
  return code;
}
