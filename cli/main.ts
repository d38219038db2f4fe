// The `buffy` command line: one program, subcommands registered by the parts that own them.
import { Command, CommanderError } from 'commander';
import { registerTlaCommands } from './check.ts';
import { registerRuntimeCommands } from './run.ts';
import { registerConformanceCommands } from './conformance.ts';

/** Exit codes: 0 success, 1 a violation or runtime failure, 2 bad usage or input. */
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('buffy')
    .description('Buffy: a verified, exactly-once stream processor, and its TLA+ toolchain')
    .showHelpAfterError()
    .exitOverride();
  registerTlaCommands(program);
  registerRuntimeCommands(program);
  registerConformanceCommands(program);
  return program;
}

/** Runs the CLI and returns the process exit code (commands set process.exitCode themselves). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
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
