import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerFlowCommands } from '../../cli/flow.ts';
import { check, loadModel } from '../../tla/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const forkApp = path.join(here, 'fixtures', 'fork-app.ts');
const wordCount = path.join(here, '..', '..', 'examples', 'word-count.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'buffy-flow-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function flow(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const program = new Command('buffy').exitOverride();
  registerFlowCommands(program);
  process.exitCode = undefined;
  await program.parseAsync(['flow', ...args], { from: 'user' });
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  vi.restoreAllMocks();
  return { code, out, err };
}

describe('buffy flow', () => {
  it('show prints the topology flow and its traversals', async () => {
    const r = await flow('show', wordCount, '--traversals');
    expect(r.code).toBe(0);
    expect(r.out).toContain('word-count: topology flow lines;split;counts;updates');
    expect(r.out).toContain('1 traversal:\n  lines;split;counts;updates');
  });

  it('check passes a matching flow, fails (exit 1) a mismatch and names the paths', async () => {
    const ok = await flow('check', forkApp, '--param', 'flow=lines;[length;lengths||split;counts;updates]');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/matches the topology \(1 traversal\)/);
    const bad = await flow('check', forkApp, '--param', 'flow=lines;split;counts;updates');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(
      'topology paths the flow does not allow (1):\n    lines;[length;lengths||split;counts;updates]',
    );
    expect(bad.out).toContain('flow paths the topology cannot produce (1):\n    lines;split;counts;updates');
  });

  it('check without a declared flow, or with a bad one, is a usage error (exit 2)', async () => {
    const none = await flow('check', forkApp);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(
      /declares no flow; add app.flow\('...'\).*topology's flow is lines;\[split;counts;updates\|\|length;lengths\]/,
    );
    const bad = await flow('check', wordCount, '--flow', 'lines;;split');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/column 7: expected a worker type/);
  });

  it('tla writes a module that buffy check checks', async () => {
    const r = await flow('tla', 'A;[B||C];@;D', '--out', dir, '--name', 'Relay');
    expect(r.code).toBe(0);
    const file = path.join(dir, 'Relay.tla');
    expect(readFileSync(file, 'utf8')).toContain('---- MODULE Relay ----');
    const result = check(await loadModel(file));
    expect(result.result).toBe('ok');
    expect((await flow('tla', 'A', '--name', 'bad name', '--out', dir)).code).toBe(2);
  });

  it('traversals lists what a flow allows', async () => {
    const r = await flow('traversals', 'A;[B|C](1,2)');
    expect(r.out).toBe('A;[B|C](1,2): 3 traversals\n  A;B\n  A;C\n  A;[B||C]\n');
  });
});
