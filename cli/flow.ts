// `buffy flow show APP`, `buffy flow check APP`, `buffy flow traversals FLOW`, `buffy flow tla FLOW`:
// flows of applications (runtime/flow/README.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppConfigError } from '../runtime/api/app.ts';
import type { Application } from '../runtime/api/app.ts';
import { AppLoadError, loadApp } from '../runtime/api/load.ts';
import { AppOptionsError, toAppOptions } from '../runtime/api/options.ts';
import type { Flow } from '../runtime/flow/ast.ts';
import { compareFlows } from '../runtime/flow/compare.ts';
import { FlowSyntaxError, parseFlow } from '../runtime/flow/parse.ts';
import { printFlow } from '../runtime/flow/print.ts';
import { FlowLimitError, flowTraversals } from '../runtime/flow/semantics.ts';
import { flowTlaModule } from '../runtime/flow/tla-module.ts';
import { TopologyFlowError, topologyFlow } from '../runtime/flow/topology.ts';
import type { Traversal } from '../runtime/flow/traversal.ts';
import { formatTraversal } from '../runtime/flow/traversal.ts';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class FlowUsageError extends Error {}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface AppFlags {
  param: string[];
  source?: string;
  sink?: string;
}

async function load(appPath: string, flags: AppFlags): Promise<Application> {
  return loadApp(appPath, toAppOptions({ source: flags.source, sink: flags.sink, param: flags.param }));
}

function parseMaxTraversals(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new FlowUsageError(`--max-traversals ${raw}: must be a positive integer`);
  }
  return n;
}

/** Runs a command body: usage errors exit 2, a failed check 1, with one line on stderr. */
async function run(command: string, body: () => Promise<number> | number): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    const usage =
      err instanceof FlowUsageError ||
      err instanceof FlowSyntaxError ||
      err instanceof FlowLimitError ||
      err instanceof TopologyFlowError ||
      err instanceof AppOptionsError ||
      err instanceof AppConfigError ||
      err instanceof AppLoadError;
    process.stderr.write(`buffy flow ${command}: ${(err as Error).message}\n`);
    process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}

function listTraversals(ts: Iterable<Traversal>, indent = '  '): string {
  return [...ts]
    .map(formatTraversal)
    .sort()
    .map((s) => `${indent}${s}`)
    .join('\n');
}

function appOptions(cmd: Command): Command {
  return cmd
    .option('--param <key=value>', 'application parameter (repeatable)', collect, [] as string[])
    .option('--source <uri>', 'source connector URI (as for buffy run)')
    .option('--sink <uri>', 'sink connector URI (as for buffy run)');
}

export function registerFlowCommands(program: Command): void {
  const flow = program
    .command('flow')
    .description('flows: the paths a message may take through an app (show, check, traversals, tla)');

  appOptions(
    flow
      .command('show')
      .description("print the flow of an app's topology (and its declared flow, if any)")
      .argument('<app>', 'application module')
      .option('--traversals', 'also list the traversals the topology allows'),
  ).action((appPath: string, flags: AppFlags & { traversals?: boolean }) =>
    run('show', async () => {
      const app = await load(appPath, flags);
      const derived = topologyFlow(app);
      const lines = [`${app.name}: topology flow ${printFlow(derived)}`];
      if (app.flow !== undefined) lines.push(`${app.name}: declared flow ${printFlow(parseFlow(app.flow))}`);
      if (flags.traversals) {
        const ts = flowTraversals(derived);
        lines.push(`${ts.size} traversal${ts.size === 1 ? '' : 's'}:`, listTraversals(ts.values()));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    }),
  );

  appOptions(
    flow
      .command('check')
      .description(
        "check an app's declared flow against its topology: every topology path allowed, every flow path realisable",
      )
      .argument('<app>', 'application module (declares its flow with app.flow(...))')
      .option('--flow <flow>', 'check this flow instead of the declared one')
      .option('--max-traversals <n>', 'bound on the traversals enumerated per flow (default 10000)'),
  ).action((appPath: string, flags: AppFlags & { flow?: string; maxTraversals?: string }) =>
    run('check', async () => {
      const max = parseMaxTraversals(flags.maxTraversals);
      const app = await load(appPath, flags);
      const derived = topologyFlow(app);
      const text = flags.flow ?? app.flow;
      if (text === undefined) {
        throw new FlowUsageError(
          `app "${app.name}" (${appPath}) declares no flow; add app.flow('...') beside its pipelines or pass --flow; its topology's flow is ${printFlow(derived)}`,
        );
      }
      const declared: Flow = parseFlow(text);
      const r = compareFlows(declared, derived, max === undefined ? {} : { maxTraversals: max });
      const out: string[] = [];
      if (r.unknownTypes.length > 0) {
        out.push(`  worker types that are no step of the app: ${r.unknownTypes.join(', ')}`);
      }
      if (r.notAllowed.length > 0) {
        out.push(
          `  topology paths the flow does not allow (${r.notAllowed.length}):`,
          listTraversals(r.notAllowed, '    '),
        );
      }
      if (r.notRealisable.length > 0) {
        out.push(
          `  flow paths the topology cannot produce (${r.notRealisable.length}):`,
          listTraversals(r.notRealisable, '    '),
        );
      }
      if (r.ok) {
        process.stdout.write(
          `${app.name}: flow ${printFlow(declared)} matches the topology (${r.declaredCount} traversal${r.declaredCount === 1 ? '' : 's'})\n`,
        );
        return 0;
      }
      process.stdout.write(
        `${app.name}: flow ${printFlow(declared)} does not match the topology ${printFlow(derived)}\n${out.join('\n')}\n`,
      );
      return EXIT_FAILURE;
    }),
  );

  flow
    .command('traversals')
    .description('list the traversals a flow allows')
    .argument('<flow>', 'a flow, e.g. "A;[B||C];@;D"')
    .option('--max-traversals <n>', 'bound on the traversals enumerated (default 10000)')
    .action((text: string, flags: { maxTraversals?: string }) =>
      run('traversals', () => {
        const max = parseMaxTraversals(flags.maxTraversals);
        const ts = flowTraversals(parseFlow(text), max === undefined ? {} : { maxTraversals: max });
        process.stdout.write(
          `${printFlow(parseFlow(text))}: ${ts.size} traversal${ts.size === 1 ? '' : 's'}\n${listTraversals(ts.values())}\n`,
        );
        return 0;
      }),
    );

  flow
    .command('tla')
    .description(
      "write a TLA+ module (and .cfg) whose behaviours are the flow's traversals; check it with buffy check",
    )
    .argument('<flow>', 'a flow, e.g. "A;[B||C];@;D"')
    .option('--out <dir>', 'folder to write NAME.tla and NAME.cfg in', '.')
    .option('--name <module>', 'module name', 'Flow')
    .action((text: string, flags: { out: string; name: string }) =>
      run('tla', () => {
        let m;
        try {
          m = flowTlaModule(parseFlow(text), flags.name);
        } catch (err) {
          if (err instanceof RangeError) throw new FlowUsageError(`--name: ${err.message}`);
          throw err;
        }
        mkdirSync(flags.out, { recursive: true });
        const tla = path.join(flags.out, `${m.moduleName}.tla`);
        writeFileSync(tla, m.tla);
        writeFileSync(path.join(flags.out, `${m.moduleName}.cfg`), m.cfg);
        process.stdout.write(`wrote ${tla} and ${m.moduleName}.cfg; check it with: buffy check ${tla}\n`);
        return 0;
      }),
    );
}
