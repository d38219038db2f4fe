// `buffy conformance [SUITE...]`: runs the conformance suites (traces generated from each
// protocol's spec, replayed against the real runtime) and prints, per suite and model, the
// traces, steps, edges covered, refusals tried and the verdict; a divergence is printed as a
// diff on stderr. `--engine tlc` replays traces cut from TLC's own state graph instead.
// Exit codes: 0 every suite conforms and covers every edge, 1 a divergence or an edge left
// uncovered, 2 bad usage or a spec/model that cannot be loaded.
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { TlaError } from '../tla/errors.ts';
import {
  formatDivergence,
  formatSuiteReport,
  runSuite,
  type ConformanceSuite,
  type RunSuiteOptions,
  type SuiteReport,
} from '../conformance/harness.ts';
import { DELIVERY_MODELS, DELIVERY_MUTATIONS, deliverySuite } from '../conformance/delivery.ts';
import { tlcEdgeCoverTraces, tlcUnavailable } from '../conformance/tlc-traces.ts';
import type { DeliveryMutation } from '../runtime/net/channel.ts';
import { loadModel } from '../tla/index.ts';
import {
  CREDIT_FLOW_MUTATIONS,
  creditFlowSuite,
  type CreditFlowMutation,
} from '../conformance/credit-flow.ts';
import { ACK_MODELS, ACK_MUTATIONS, ackSuite, type AckMutation } from '../conformance/ack.ts';
import {
  RECOVERY_MODELS,
  RECOVERY_MUTATIONS,
  recoverySuite,
  type RecoveryMutation,
} from '../conformance/recovery.ts';
import {
  RECOVERY_CHAIN_MODELS,
  RECOVERY_CHAIN_MUTATIONS,
  recoveryChainSuite,
  type RecoveryChainMutation,
} from '../conformance/recovery-chain.ts';

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
  /** The suite on each model it runs (the given --config, or its default models). */
  suites(opts: SuiteOptions): ConformanceSuite<unknown>[];
}

/** Every suite, by the name `buffy conformance NAME` takes. */
export const CONFORMANCE_SUITES: Readonly<Record<string, SuiteEntry>> = {
  'credit-flow': {
    description: 'specs/CreditFlow.tla against the channel core (runtime/net/channel.ts)',
    mutations: CREDIT_FLOW_MUTATIONS,
    suites: (o) => [
      creditFlowSuite({
        ...(o.cfgFile !== undefined ? { cfgFile: o.cfgFile } : {}),
        ...(o.mutation !== undefined ? { mutation: o.mutation as CreditFlowMutation } : {}),
      }) as ConformanceSuite<unknown>,
    ],
  },
  delivery: {
    description:
      'specs/Delivery.tla against the channel cores (runtime/net/channel.ts running machines/delivery-*.ts), every model',
    mutations: DELIVERY_MUTATIONS,
    suites: (o) =>
      (o.cfgFile !== undefined ? [o.cfgFile] : DELIVERY_MODELS).map(
        (cfgFile) =>
          deliverySuite({
            cfgFile,
            ...(o.mutation !== undefined ? { mutation: o.mutation as DeliveryMutation } : {}),
          }) as ConformanceSuite<unknown>,
      ),
  },
  ack: {
    description:
      'specs/Ack.tla: the source role against the commit tracker (runtime/engine/source-commit.ts), the worker and sink roles on machines/ack-tracker.ts',
    mutations: ACK_MUTATIONS,
    suites: (o) =>
      (o.cfgFile !== undefined ? [o.cfgFile] : ACK_MODELS).map(
        (cfgFile) =>
          ackSuite({
            cfgFile,
            ...(o.mutation !== undefined ? { mutation: o.mutation as AckMutation } : {}),
          }) as ConformanceSuite<unknown>,
      ),
  },
  recovery: {
    description:
      'specs/Recovery.tla: the source role against the commit tracker, the worker role against machines/recovery-worker.ts, every model',
    mutations: RECOVERY_MUTATIONS,
    suites: (o) =>
      (o.cfgFile !== undefined ? [o.cfgFile] : RECOVERY_MODELS).map(
        (cfgFile) =>
          recoverySuite({
            cfgFile,
            ...(o.mutation !== undefined ? { mutation: o.mutation as RecoveryMutation } : {}),
          }) as ConformanceSuite<unknown>,
      ),
  },
  'recovery-chain': {
    description:
      'specs/RecoveryChain.tla: the source role against the commit tracker, W1 and W2 against machines/recovery-worker.ts and machines/chain-outbox.ts, every conformance model',
    mutations: RECOVERY_CHAIN_MUTATIONS,
    suites: (o) =>
      (o.cfgFile !== undefined ? [o.cfgFile] : RECOVERY_CHAIN_MODELS).map(
        (cfgFile) =>
          recoveryChainSuite({
            cfgFile,
            ...(o.mutation !== undefined ? { mutation: o.mutation as RecoveryChainMutation } : {}),
          }) as ConformanceSuite<unknown>,
      ),
  },
};

interface ConformanceFlags {
  config?: string;
  mutation?: string;
  traceDir?: string;
  maxSteps?: number;
  random?: number;
  depth?: number;
  seed?: number;
  engine?: string;
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
    .option('--random <n>', 'also replay N seeded random walks', positiveInt('--random'))
    .option('--depth <n>', 'steps of each random walk (default 50)', positiveInt('--depth'))
    .option('--seed <n>', 'seed of the random walks (default 1)', positiveInt('--seed'))
    .option(
      '--engine <engine>',
      "builtin: traces from the built-in checker's graph; tlc: from TLC's state graph (needs TLA2TOOLS_JAR and java)",
    )
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
  const engine = flags.engine ?? 'builtin';
  if (engine !== 'builtin' && engine !== 'tlc') {
    process.stderr.write(`buffy conformance: --engine must be builtin or tlc, got '${engine}'\n`);
    return EXIT_USAGE;
  }
  if (engine === 'tlc') {
    const why = tlcUnavailable();
    if (why !== null) {
      process.stderr.write(
        `buffy conformance: --engine tlc needs TLC: ${why} (set TLA2TOOLS_JAR to a tla2tools.jar and put java on PATH)\n`,
      );
      return EXIT_USAGE;
    }
  }
  const runOpts: RunSuiteOptions = {
    ...(flags.traceDir !== undefined ? { traceDir: path.resolve(flags.traceDir) } : {}),
    ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
    ...(flags.random !== undefined
      ? { random: { count: flags.random, depth: flags.depth ?? 50, seed: flags.seed ?? 1 } }
      : {}),
  };
  let code = 0;
  for (const name of chosen) {
    const suites = CONFORMANCE_SUITES[name]!.suites({
      ...(flags.config !== undefined ? { cfgFile: path.resolve(flags.config) } : {}),
      ...(flags.mutation !== undefined ? { mutation: flags.mutation } : {}),
    });
    for (const suite of suites) {
      const where = suites.length > 1 ? ` (${path.basename(suite.cfgFile)})` : '';
      let r: SuiteReport;
      try {
        let opts = runOpts;
        if (engine === 'tlc') {
          const cm = await loadModel(suite.specFile, suite.cfgFile);
          const t = await tlcEdgeCoverTraces(cm, suite.specFile, suite.cfgFile);
          opts = {
            ...runOpts,
            noCover: true,
            moreTraces: t.traces,
            tracesFrom: `TLC's graph of ${t.states} states, ${t.edges} edges`,
          };
        }
        r = await runSuite(suite, opts);
      } catch (e) {
        const text = e instanceof TlaError ? e.describe() : e instanceof Error ? e.message : String(e);
        process.stderr.write(`buffy conformance ${name}${where}: ${text}\n`);
        code = Math.max(code, e instanceof TlaError && e.kind !== 'eval' ? EXIT_USAGE : EXIT_DIVERGED);
        continue;
      }
      process.stdout.write(formatSuiteReport(r) + where + '\n');
      if (r.divergence) {
        process.stderr.write(formatDivergence(r.divergence) + '\n');
        code = Math.max(code, EXIT_DIVERGED);
      } else if (r.edgesCovered !== r.edgesTotal) {
        code = Math.max(code, EXIT_DIVERGED);
      }
    }
  }
  return code;
}
