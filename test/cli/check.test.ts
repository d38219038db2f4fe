// `buffy check` and `buffy traces` as a user meets them: inputs that are not a spec and its
// model give one usage line (exit 2); a model without a behaviour is refused, not reported as
// checked; a model too large for memory stops with an error (exit 1) instead of V8's abort.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setHeapBudget } from '../../tla/memory.ts';
import { buffyCheckCli } from './run-in-process.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const bin = path.join(repoRoot, 'bin', 'buffy.mjs');

let dir: string;

function write(rel: string, text: string): string {
  const f = path.join(dir, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  return f;
}
const tla = (name: string, body: string): string => `---- MODULE ${name} ----\n${body}\n====\n`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-check-cli-'));
  const counter = "EXTENDS Naturals\nVARIABLE x\nInit == x = 0\nNext == x < 2 /\\ x' = x + 1";
  write('C.tla', tla('C', counter));
  write('C.cfg', 'INIT Init\nNEXT Next\nCHECK_DEADLOCK FALSE\n');
  write('Empty.tla', tla('Empty', counter));
  write('Empty.cfg', '\\* nothing yet\n');
  write('Half.tla', tla('Half', counter));
  write('Half.cfg', 'INIT Init\n');
  write('Lone.cfg', 'INIT Init\nNEXT Next\n');
  write('cfgdir/README', 'not a model\n');
  write('Big.tla', tla('Big', 'VARIABLE x\nInit == x \\in SUBSET (1..24)\nNext == UNCHANGED x'));
  write('Big.cfg', 'INIT Init\nNEXT Next\n');
  write('Wide.tla', tla('Wide', 'VARIABLE x\nInit == x \\in 1..3000000\nNext == UNCHANGED x'));
  write('Wide.cfg', 'INIT Init\nNEXT Next\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => setHeapBudget(null));

const buffy = buffyCheckCli;

const f = (rel: string): string => path.join(dir, rel);

describe('buffy check: what it is given', () => {
  it('checks a spec named with or without .tla, as TLC does', async () => {
    for (const spec of [f('C.tla'), f('C')]) {
      const r = await buffy('check', spec, '--engine', 'builtin');
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).toMatch(/No error has been found\.\n3 states generated, 3 distinct states found/);
    }
  });

  it('a folder: a usage error that lists its .tla files', async () => {
    const r = await buffy('check', dir, '--engine', 'builtin');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `buffy check: ${dir} is a folder; give the root .tla module of the spec (it has ${f('Big.tla')}, ${f('C.tla')}, ${f('Empty.tla')}, ${f('Half.tla')}, ${f('Wide.tla')})\n`,
    );
  });

  it('a .cfg as the spec: a usage error naming the .tla to give, or --config when there is none', async () => {
    const r = await buffy('check', f('C.cfg'), '--engine', 'builtin');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `buffy check: ${f('C.cfg')} is a model configuration, not a spec; give the .tla module: buffy check ${f('C.tla')} (which reads ${f('C.cfg')} beside it)\n`,
    );
    const lone = await buffy('check', f('Lone.cfg'), '--engine', 'builtin');
    expect(lone.code).toBe(2);
    expect(lone.err).toMatch(/give the \.tla module: buffy check SPEC\.tla --config \S+Lone\.cfg\n$/);
  });

  it('--config naming a folder or a missing file: a usage error naming the flag and the path', async () => {
    const d = await buffy('check', f('C.tla'), '--config', f('cfgdir'), '--engine', 'builtin');
    expect(d).toMatchObject({
      code: 2,
      err: `buffy check: --config ${f('cfgdir')} is a folder; give a .cfg file\n`,
    });
    const m = await buffy('check', f('C.tla'), '--config', f('Nope.cfg'), '--engine', 'builtin');
    expect(m).toMatchObject({ code: 2, err: `buffy check: --config ${f('Nope.cfg')}: file not found\n` });
  });

  it('a missing spec or a missing default .cfg: a usage error', async () => {
    const s = await buffy('check', f('Nope.tla'), '--engine', 'builtin');
    expect(s).toMatchObject({ code: 2, err: `buffy check: spec file ${f('Nope.tla')} not found\n` });
    write('NoCfg.tla', tla('NoCfg', "VARIABLE x\nInit == x = 0\nNext == x' = x"));
    const c = await buffy('check', f('NoCfg.tla'), '--engine', 'builtin');
    expect(c.code).toBe(2);
    expect(c.err).toMatch(
      /^buffy check: configuration file \S+NoCfg\.cfg not found; write it beside the spec or pass --config FILE\n$/,
    );
  });

  it('usage errors in --json are a JSON result "error" with the message', async () => {
    const r = await buffy('check', dir, '--engine', 'builtin', '--json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as { result: string; error: { message: string; location: string | null } };
    expect(j.result).toBe('error');
    expect(j.error.message).toMatch(/is a folder; give the root \.tla module/);
    expect(j.error.location).toBeNull();
  });

  it('a bad number names the option once', async () => {
    let thrown: unknown;
    const r = await buffy('check', f('C.tla'), '--max-states', '0').catch((e: unknown) => {
      thrown = e;
      return null;
    });
    expect(r).toBeNull();
    expect(thrown).toMatchObject({
      code: 'commander.invalidArgument',
      message: "error: option '--max-states <n>' argument '0' is invalid. It must be a positive integer.",
    });
  });

  it('buffy traces gives the same usage errors under its own name, once', async () => {
    const r = await buffy('traces', f('C.cfg'), '--cover', 'edges', '--out', f('out'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^buffy traces: \S+C\.cfg is a model configuration, not a spec; give the \.tla module: buffy traces \S+C\.tla /,
    );
    expect(r.err.match(/buffy traces:/g)).toHaveLength(1);
  });
});

describe('buffy check: a model that checks nothing', () => {
  it('an empty .cfg for a spec with variables is refused with what to add (exit 2)', async () => {
    const r = await buffy('check', f('Empty.tla'), '--engine', 'builtin');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `buffy check: ${f('Empty.cfg')}:1:1: the configuration names neither SPECIFICATION nor INIT and NEXT, so nothing would be checked, ` +
        'but the spec has a variable (x): add `SPECIFICATION Spec` (Spec == Init /\\ [][Next]_vars) or the two lines `INIT Init` and `NEXT Next` ' +
        `to ${f('Empty.cfg')}\n`,
    );
  });

  it('INIT without NEXT is refused, naming the missing line', async () => {
    const r = await buffy('check', f('Half.tla'), '--engine', 'builtin', '--json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as { result: string; error: { message: string; location: string } };
    expect(j.result).toBe('error');
    expect(j.error.message).toBe(
      'INIT given without NEXT: add a line `NEXT <name>` (or use SPECIFICATION instead of both)',
    );
    expect(j.error.location).toBe(`${f('Half.cfg')}:1:6`);
  });
});

describe('buffy check: models too large for memory', () => {
  it('--max-heap: SUBSET (1..24) is refused before it is enumerated (exit 1, --json error)', async () => {
    const r = await buffy('check', f('Big.tla'), '--engine', 'builtin', '--max-heap', '64', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { result: string; error: { message: string; location: string } };
    expect(j.result).toBe('error');
    expect(j.error.location).toBe(`${f('Big.tla')}:3:9`);
    expect(j.error.message).toMatch(
      /^Refusing to enumerate SUBSET \(1\.\.24\): its 16777216 elements need about [\d.]+ GB of heap, .*raise --max-heap \(now 64 MB;/,
    );
  });

  // In a child process whose heap is small: without the guards, V8 aborts (exit 134).
  const small = { ...process.env, NODE_OPTIONS: '--max-old-space-size=128' };
  const run = (spec: string, ...more: string[]) =>
    spawnSync(process.execPath, [bin, 'check', spec, '--engine', 'builtin', ...more], {
      env: small,
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('with node at 128 MB: SUBSET (1..24) stops with the expression, its size and how to raise the limit', () => {
    const r = run(f('Big.tla'));
    expect(r.stderr).not.toMatch(/heap out of memory/);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^Error: ${f('Big.tla').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:9: Refusing to enumerate SUBSET \\(1\\.\\.24\\): its 16777216 elements need about [\\d.]+ GB of heap, ` +
          `more than the \\d+ MB left of the checker's \\d+ MB budget; make the model smaller, or raise node's heap limit \\(now 128 MB; the checker uses 85% of it\\) ` +
          `with NODE_OPTIONS=--max-old-space-size=\\d+`,
      ),
    );
  });

  it('with node at 128 MB: three million initial states stop the search, saying how far it got', () => {
    const r = run(f('Wide.tla'), '--json');
    expect(r.stderr).not.toMatch(/heap out of memory/);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { result: string; statesGenerated: number; error: { message: string } };
    expect(j.result).toBe('error');
    expect(j.error.message).toMatch(
      /^Out of memory: stopped after (\d+) initial states \(the initial predicate has more states than fit\); the search is incomplete: the heap holds \d+ MB, over the checker's budget of \d+ MB; .*NODE_OPTIONS=--max-old-space-size=256/,
    );
    const stated = Number(/after (\d+) initial states/.exec(j.error.message)![1]);
    expect(stated).toBe(j.statesGenerated);
    expect(stated).toBeLessThan(3_000_000);
  });
});
