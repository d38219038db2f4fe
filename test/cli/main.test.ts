// The command line as a whole: the general help lists every command without loading any
// (cli/main.ts COMMANDS, compared here with what the groups register), --version, required
// options marked in help, unknown commands refused with exit 2.
import { readFileSync } from 'node:fs';
import { Help } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, DESCRIPTION, GROUPS, buildProgram, main } from '../../cli/main.ts';
import type { GroupName } from '../../cli/main.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
};

/** Runs main() and returns its exit code and what it wrote. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const saved = process.exitCode;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    process.exitCode = saved;
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('buffy (cli/main.ts)', () => {
  it('COMMANDS lists exactly the registered commands, with their usage, summary and group', async () => {
    const help = new Help();
    const registered = (await buildProgram()).commands;
    expect(
      registered.map((c) => c.name()).sort(),
      'cli/main.ts COMMANDS must list every registered command (name, term, summary, group)',
    ).toEqual(COMMANDS.map((c) => c.name).sort());
    for (const cmd of registered) {
      const entry = COMMANDS.find((c) => c.name === cmd.name())!;
      const fix = `cli/main.ts COMMANDS: the entry of "${cmd.name()}" must say what its group registers`;
      expect(entry.summary.length, fix).toBeGreaterThan(10);
      // The listed summary is the command's description, or its first part (details such as a
      // list of suites may follow in `buffy CMD --help`).
      expect({ term: entry.term, summary: entry.summary }, fix).toEqual({
        term: help.subcommandTerm(cmd),
        summary: cmd.description().slice(0, entry.summary.length),
      });
    }
    for (const group of Object.keys(GROUPS) as GroupName[]) {
      const names = (await buildProgram([group])).commands.map((c) => c.name()).sort();
      expect(names).toEqual(
        COMMANDS.filter((c) => c.group === group)
          .map((c) => c.name)
          .sort(),
      );
    }
  });

  it('--help lists every command and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toContain(c.term);
    expect((await cli(['help'])).out).toBe(r.out);
  });

  it('--version prints the version in package.json', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    }
  });

  it('an unknown command is named, with the known ones, and exits 2 (also with --help)', async () => {
    for (const argv of [['deploy', '--help'], ['deploy'], ['help', 'deploy']]) {
      const r = await cli(argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^buffy: unknown command 'deploy'; the commands are check, traces, run, /);
    }
    expect((await cli(['chek', 'x.tla'])).err).toMatch(
      /^buffy: unknown command 'chek' \(did you mean check\?\);/,
    );
    expect((await cli(['runn'])).err).toMatch(/^buffy: unknown command 'runn' \(did you mean run\?\);/);
  });

  it("a command's help marks its required options, and `help CMD` is `CMD --help`", async () => {
    const r = await cli(['traces', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--out <dir>\s+folder to write .* \(required\)/);
    expect(r.out).not.toMatch(/--seed .*\(required\)/);
    expect((await cli(['help', 'traces'])).out).toBe(r.out);
  });

  it('no command at all is a usage error (exit 2) that shows the help', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: buffy');
  });

  it('says what is guaranteed today (docs/design.md), not what it was before durability', () => {
    for (const text of [DESCRIPTION, pkg.description]) {
      expect(text).toMatch(/exactly-once/);
      expect(text).toMatch(/reliable .*delivery/);
      expect(text).not.toMatch(/no durability|not yet/);
    }
  });
});
