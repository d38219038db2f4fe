// buffy check --workers, --continue and --dump-graph: the flags, their text and --json output,
// and, where tla2tools.jar and java are present, TLC's own -continue and -dump dot on the same
// model.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { javaAvailable, tlcJar } from '../../tla/check/tlc.ts';
import { repoRoot, sharedDir } from '../tla/shared.ts';
import { buffyCheckCli as buffy } from './run-in-process.ts';

const gridDir = path.join(repoRoot, 'test', 'tla', 'check', 'parallel');
const grid = path.join(gridDir, 'Grid.tla');
const models = path.join(repoRoot, 'test', 'tla', 'check', 'models');
const jar = tlcJar() ?? tlcJar({ TLA2TOOLS_JAR: path.join(sharedDir, 'tools', 'tla2tools.jar') });
const haveTlc = jar !== null && javaAvailable();
const tlcNote = haveTlc ? '' : ' [skipped: no tla2tools.jar (TLA2TOOLS_JAR or ../shared/tools) or no java]';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-check-workers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--workers', () => {
  it('--workers 2 prints the figures one worker prints (text and --json)', async () => {
    const cfg = path.join(gridDir, 'GridDeep.cfg');
    const one = await buffy('check', grid, '--config', cfg, '--engine', 'builtin');
    const two = await buffy('check', grid, '--config', cfg, '--engine', 'builtin', '--workers', '2');
    expect(two.code).toBe(1);
    expect(one.code).toBe(1);
    // The violated invariant and the trace length; counts at the stop depend on the order.
    const states = (out: string) => out.split('\n').filter((l) => /^State \d+:/.test(l)).length;
    expect(states(two.out)).toBe(states(one.out));
    expect(states(two.out)).toBe(25);
    expect(two.out).toContain('Error: Invariant NotAllArrived is violated.');
    const json = await buffy(
      'check',
      grid,
      '--config',
      path.join(gridDir, 'GridBig.cfg'),
      '--engine',
      'builtin',
      '--workers',
      '2',
      '--json',
    );
    const j = JSON.parse(json.out) as {
      result: string;
      distinctStates: number;
      statesGenerated: number;
      depth: number;
      workers: number;
    };
    expect(json.code).toBe(0);
    expect(j).toMatchObject({
      result: 'ok',
      distinctStates: 50701,
      statesGenerated: 146176,
      depth: 76,
      workers: 2,
    });
  });
  it('--workers auto uses the cores there are', async () => {
    const r = await buffy('check', grid, '--engine', 'builtin', '--workers', 'auto', '--json');
    const j = JSON.parse(r.out) as { workers: number; result: string };
    expect(j.result).toBe('invariant');
    expect(j.workers).toBe(Math.max(1, os.availableParallelism()));
  });
  it('--workers 0 and --workers many are usage errors (exit 2)', async () => {
    for (const bad of ['0', 'many', '1.5']) {
      const r = await buffy('check', grid, '--engine', 'builtin', '--workers', bad).catch((e: Error) => ({
        code: 2,
        out: '',
        err: e.message,
      }));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--workers <n\|auto>.*It must be a positive integer or auto/s);
    }
  });
  it('liveness properties are checked with one worker, and the output says so', async () => {
    const spec = path.join(models, 'Counters.tla');
    const cfg = path.join(models, 'CountersFirst.cfg');
    const text = await buffy('check', spec, '--config', cfg, '--engine', 'builtin', '--workers', '2');
    expect(text.out).toMatch(/^Note: --workers 2: liveness properties are checked with one worker/m);
    const json = await buffy(
      'check',
      spec,
      '--config',
      cfg,
      '--engine',
      'builtin',
      '--workers',
      '2',
      '--json',
    );
    const j = JSON.parse(json.out) as { workers: number; notes: string[] };
    expect(j.workers).toBe(1);
    expect(j.notes[0]).toMatch(/liveness properties are checked with one worker/);
    expect(json.code).toBe(text.code);
  });
});

describe('--continue', () => {
  it('reports every violating state with the first invariant it violates, and the counts (text and --json)', async () => {
    const text = await buffy('check', grid, '--engine', 'builtin', '--continue');
    expect(text.code).toBe(1);
    expect(text.out.match(/^Error: Invariant NoneArrived is violated\.$/gm)?.length).toBe(90);
    expect(text.out.match(/^Error: Deadlock reached\.$/gm)?.length).toBe(3);
    expect(text.out).toContain('93 violations found: 90 of NoneArrived, 3 deadlock.');
    expect(text.out).toContain('316 states generated, 145 distinct states found, 0 states left on queue.');
    expect(text.out).toContain('The depth of the complete state graph search is 10.');
    for (const workers of ['1', '2']) {
      const json = await buffy(
        'check',
        grid,
        '--engine',
        'builtin',
        '--continue',
        '--json',
        '--workers',
        workers,
      );
      const j = JSON.parse(json.out) as {
        result: string;
        distinctStates: number;
        violation: { name: string; trace: { states: unknown[] } };
        violations: { name: string | null; kind: string; trace: { states: unknown[] } }[];
        violationCounts: Record<string, number>;
      };
      expect(j.result).toBe('invariant');
      expect(j.distinctStates).toBe(145);
      expect(j.violationCounts).toEqual({ NoneArrived: 90, deadlock: 3 });
      expect(j.violations.length).toBe(93);
      expect(j.violation.trace.states.length).toBe(4);
      expect(
        j.violations.filter((v) => v.kind === 'deadlock').every((v) => v.trace.states.length === 10),
      ).toBe(true);
    }
  });
  it('--continue and --dump-graph are built-in only, not with --simulate', async () => {
    const tlc = await buffy('check', grid, '--engine', 'tlc', '--continue');
    expect(tlc.code).toBe(2);
    expect(tlc.err).toContain('--continue: built-in checker only');
    const sim = await buffy('check', grid, '--simulate', '--dump-graph', path.join(dir, 'x.dot'));
    expect(sim.code).toBe(2);
    expect(sim.err).toContain('--dump-graph: not with --simulate');
    const simWorkers = await buffy('check', grid, '--simulate', '--workers', '2');
    expect(simWorkers.code).toBe(2);
    expect(simWorkers.err).toContain('--workers: not with --simulate');
  });
  it(`counts what TLC -continue reports${tlcNote}`, { skip: !haveTlc }, async () => {
    const work = path.join(dir, 'tlc-continue');
    cpSync(gridDir, work, { recursive: true });
    const tlc = runTlcWith(work, ['-continue', '-deadlock', '-config', 'Grid.cfg', 'Grid.tla']);
    const ours = await buffy('check', grid, '--engine', 'builtin', '--continue', '--no-deadlock');
    for (const inv of ['NoneArrived', 'TypeOK']) {
      const re = new RegExp(`^Error: Invariant ${inv} is violated\\.$`, 'gm');
      expect(ours.out.match(re)?.length ?? 0).toBe(tlc.match(re)?.length ?? 0);
    }
    expect(tlc.match(/^Error: Invariant NoneArrived is violated\.$/gm)?.length).toBe(90);
    const line = /^\d+ states generated, \d+ distinct states found, \d+ states left on queue\.$/m;
    expect(ours.out.match(line)?.[0]).toBe(tlc.match(line)?.[0]);
  });
});

/** TLC's output (stdout and stderr) on a spec in `cwd`. */
function runTlcWith(cwd: string, args: string[]): string {
  const r = spawnSync(
    'java',
    ['-XX:+UseParallelGC', '-cp', path.resolve(jar!), 'tlc2.TLC', '-workers', '1', ...args],
    {
      cwd,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  return `${r.stdout}\n${r.stderr}`;
}

/** A DOT file as TLC and Buffy write it: node label per id, edges as (from label, to label, action). */
function readDot(text: string): { nodes: Set<string>; init: Set<string>; edges: Set<string> } {
  const label = new Map<string, string>();
  const init = new Set<string>();
  // A label's lines in a fixed order: TLC and Buffy print the variables in different orders.
  const norm = (l: string) => l.split('\\n').sort().join('\n');
  for (const m of text.matchAll(/^(-?\d+) \[label="((?:[^"\\]|\\.)*)"(,style = filled|,tooltip=)/gm)) {
    label.set(m[1]!, norm(m[2]!));
    if (m[3] === ',style = filled') init.add(norm(m[2]!));
  }
  const edges = new Set<string>();
  for (const m of text.matchAll(/^(-?\d+) -> (-?\d+) \[label="([^"]*)"/gm))
    edges.add(`${label.get(m[1]!)} -> ${label.get(m[2]!)} [${m[3]}]`);
  return { nodes: new Set(label.values()), init, edges };
}

describe('--dump-graph', () => {
  it('writes the state graph as DOT: every state, every edge with its action, initial states filled', async () => {
    const file = path.join(dir, 'grid.dot');
    const r = await buffy(
      'check',
      grid,
      '--engine',
      'builtin',
      '--no-deadlock',
      '--continue',
      '--dump-graph',
      file,
    );
    expect(r.out).toContain(`State graph (145 states) written to ${file}`);
    const g = readDot(readFileSync(file, 'utf8'));
    expect(g.nodes.size).toBe(145);
    expect(g.init.size).toBe(1);
    // 316 generated = 1 initial + 315 steps, each to a distinct (state, successor) pair here.
    expect(g.edges.size).toBe(315);
    expect([...g.edges].every((e) => e.endsWith('[Move]'))).toBe(true);
    const json = await buffy('check', grid, '--engine', 'builtin', '--dump-graph', file, '--json');
    expect((JSON.parse(json.out) as { graph: { file: string; states: number } }).graph.file).toBe(file);
  });
  it('a file that cannot be written is an error (exit 2) naming it', async () => {
    const file = path.join(dir, 'no-such-folder', 'g.dot');
    const r = await buffy('check', grid, '--engine', 'builtin', '--dump-graph', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--dump-graph ${file}`);
  });
  it(`gives the graph TLC -dump dot,actionlabels gives${tlcNote}`, { skip: !haveTlc }, async () => {
    const work = path.join(dir, 'tlc-dump');
    cpSync(gridDir, work, { recursive: true });
    writeFileSync(
      path.join(work, 'Small.cfg'),
      'CONSTANTS N = 2  Procs = {p1, p2}\nINIT Init\nNEXT Next\nINVARIANT TypeOK\n',
    );
    runTlcWith(work, [
      '-deadlock',
      '-dump',
      'dot,actionlabels',
      'tlc.dot',
      '-config',
      'Small.cfg',
      'Grid.tla',
    ]);
    const file = path.join(dir, 'small.dot');
    await buffy(
      'check',
      path.join(work, 'Grid.tla'),
      '--config',
      path.join(work, 'Small.cfg'),
      '--engine',
      'builtin',
      '--no-deadlock',
      '--dump-graph',
      file,
    );
    const ours = readDot(readFileSync(file, 'utf8'));
    const theirs = readDot(readFileSync(path.join(work, 'tlc.dot'), 'utf8'));
    expect(ours.nodes.size).toBeGreaterThan(5);
    expect(ours.nodes).toEqual(theirs.nodes);
    expect(ours.init).toEqual(theirs.init);
    expect(ours.edges).toEqual(theirs.edges);
  });
  it(`self-loops and one-variable labels as TLC writes them${tlcNote}`, { skip: !haveTlc }, async () => {
    const work = path.join(dir, 'tlc-loop');
    cpSync(gridDir, work, { recursive: true });
    writeFileSync(
      path.join(work, 'Loop.tla'),
      "---- MODULE Loop ----\nEXTENDS Naturals\nVARIABLE x\nStay == x' = x\nUp == x < 2 /\\ x' = x + 1\nInit == x = 0\nNext == Stay \\/ Up\n====\n",
    );
    writeFileSync(path.join(work, 'Loop.cfg'), 'INIT Init\nNEXT Next\n');
    runTlcWith(work, ['-dump', 'dot,actionlabels', 'tlc.dot', '-config', 'Loop.cfg', 'Loop.tla']);
    const file = path.join(dir, 'loop.dot');
    await buffy('check', path.join(work, 'Loop.tla'), '--engine', 'builtin', '--dump-graph', file);
    const ours = readDot(readFileSync(file, 'utf8'));
    expect(ours.edges).toEqual(readDot(readFileSync(path.join(work, 'tlc.dot'), 'utf8')).edges);
    expect(ours.edges).toContain('x = 1 -> x = 1 [Stay]');
    expect(ours.edges.size).toBe(5);
  });
});
