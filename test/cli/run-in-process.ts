// Runs `buffy <args>` in this process with the TLA+ commands (check, traces): its exit code and
// what it printed on stdout and stderr. Shared by the check CLI tests.
import { Command } from 'commander';
import { vi } from 'vitest';
import { registerTlaCommands } from '../../cli/check.ts';

export async function buffyCheckCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command('buffy').exitOverride();
  registerTlaCommands(program);
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = undefined;
  return { code, out, err };
}
