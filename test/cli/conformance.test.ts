// `buffy conformance`: the per-suite summary, the exit codes, the diff on a divergence, and
// the answers to bad usage.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerConformanceCommands } from '../../cli/conformance.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-conformance-cli-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function buffy(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const program = new Command('buffy').exitOverride();
  registerConformanceCommands(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    vi.restoreAllMocks();
  }
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = undefined;
  return { code, out, err };
}

describe('buffy conformance', () => {
  it('runs every suite by default and prints traces, steps, edges covered and the verdict', async () => {
    const r = await buffy(['conformance']);
    expect(r.code).toBe(0);
    const m =
      /^credit-flow: (\d+)\/(\d+) traces, (\d+) steps, (\d+)\/(\d+) edges covered \(\d+ states\), \d+ ms: CONFORMS$/m.exec(
        r.out,
      );
    expect(m).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    expect(m![4]).toBe(m![5]);
    expect(r.err).toBe('');
  });

  it('exits 1 with the diff on stderr and the trace written out when the runtime diverges', async () => {
    const r = await buffy([
      'conformance',
      'credit-flow',
      '--mutation',
      'eager-grant',
      '--trace-dir',
      traceDir,
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/DIVERGED/);
    expect(r.err).toMatch(/the runtime diverged from the spec/);
    expect(r.err).toMatch(/step \d+ of \d+: Receive/);
    expect(r.err).toMatch(/expected: .*\n\s+actual: /);
    expect(readdirSync(traceDir).some((f) => f.endsWith('.itf.json'))).toBe(true);
  });

  it('answers bad usage with exit 2 and what is available', async () => {
    const unknown = await buffy(['conformance', 'no-such-suite']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no suite named 'no-such-suite'; the suites are: credit-flow/);
    const mutation = await buffy(['conformance', 'credit-flow', '--mutation', 'bogus']);
    expect(mutation.code).toBe(2);
    expect(mutation.err).toMatch(/has no mutation 'bogus'; it has: duplicate-data, eager-grant, lose-grant/);
    const cfg = await buffy(['conformance', 'credit-flow', '--config', path.join(traceDir, 'missing.cfg')]);
    expect(cfg.code).toBe(2);
    expect(cfg.err).toMatch(/missing\.cfg not found/);
  });
});
