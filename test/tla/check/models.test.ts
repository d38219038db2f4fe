// The checker and the library API on small models whose figures can be worked out by hand
// (see the comments in test/tla/check/models/*.cfg).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  check,
  evaluate,
  exploreGraph,
  generateTraces,
  itfToTrace,
  labelStep,
  loadModel,
  toJson,
} from '../../../tla/index.ts';
import { equals, fcnApply, fromItf, mkFcn, toItf, tuple, type Value } from '../../../tla/values.ts';
import { Command } from 'commander';
import { registerTlaCommands, tlcToJson } from '../../../cli/check.ts';
import { corpusDir as corpus, itWithCorpus } from '../shared.ts';

/** Runs `buffy <args>` with only the TLA+ commands registered; returns the exit code. */
async function main(args: string[]): Promise<number> {
  const program = new Command('buffy').exitOverride();
  registerTlaCommands(program);
  process.exitCode = undefined;
  await program.parseAsync(args, { from: 'user' });
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = undefined;
  return code;
}
import { parseTlcOutput } from '../../../tla/check/tlc.ts';

const dir = path.join(import.meta.dirname, 'models');
const spec = path.join(dir, 'Counters.tla');
const load = (cfg: string) => loadModel(spec, path.join(dir, cfg));

describe('Counters models', () => {
  it('K=2, M=3: 9 states, 19 generated, depth 5', async () => {
    const r = check(await load('Counters.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 9, statesGenerated: 19, depth: 5 });
  });

  it('an invariant fails at <<2, 2>> with a shortest 5-state trace', async () => {
    const r = check(await load('CountersFull.cfg'));
    expect(r.result).toBe('invariant');
    expect(r.violation!.name).toBe('NotAllFull');
    const steps = r.violation!.trace.steps;
    expect(steps.length).toBe(5);
    const last = steps[4]!.state[0]!;
    expect(equals(last, tuple([2, 2]))).toBe(true);
    for (const st of steps.slice(1)) expect(st.label!.name).toBe('Tick');
  });

  it('liveness that holds under weak fairness of the only action', async () => {
    const r = check(await load('CountersFirst.cfg'));
    expect(r).toMatchObject({ result: 'ok', distinctStates: 3, statesGenerated: 4, depth: 3 });
  });

  it('<>[]P fails on a cycle; <>P fails when fairness is on Next only', async () => {
    const settles = check(await load('CountersSettles.cfg'));
    expect(settles.result).toBe('property');
    expect(settles.violation!.name).toBe('FirstSettles');
    expect(settles.violation!.trace.loopsTo).toBeDefined();
    const any = check(await load('CountersAny.cfg'));
    expect(any.result).toBe('property');
    expect(any.violation!.name).toBe('FirstReachesTop');
    // the lasso keeps c[1] at 0 and loops on c[2]'s cycle
    const t = any.violation!.trace;
    for (const st of t.steps) expect(fcnApply(st.state[0]!, 1)).toBe(0);
    expect(t.stuttering).toBeUndefined();
  });

  it('an action property fails on the 2 -> 0 step of c[1], with a shortest trace', async () => {
    const r = check(await load('CountersDecrease.cfg'));
    expect(r.result).toBe('property');
    expect(r.violation!.kind).toBe('action-property');
    expect(r.violation!.trace.steps.length).toBe(4);
  });

  it('JSON summary carries ITF traces that decode back to the same states', async () => {
    const cm = await load('CountersFull.cfg');
    const r = check(cm);
    const j = toJson(cm, r);
    expect(j.violation!.trace.vars).toEqual(['c']);
    const back = itfToTrace(JSON.parse(JSON.stringify(j.violation!.trace)));
    back.trace.steps.forEach((st, i) =>
      expect(equals(st.state[0]!, r.violation!.trace.steps[i]!.state[0]!)).toBe(true),
    );
    expect(back.trace.steps[1]!.label!.name).toBe('Tick');
  });
});

describe('library API', () => {
  it('exploreGraph: 9 states and 18 labelled edges', async () => {
    const g = exploreGraph(await load('Counters.cfg'));
    expect(g.states.length).toBe(9);
    expect(g.edges.length).toBe(18);
    expect(new Set(g.edges.map((e) => `${e.label.name}(${String(e.label.args.i)})`))).toEqual(
      new Set(['Tick(1)', 'Tick(2)']),
    );
  });

  it('labelStep names the action instance of a step, and none for a non-step', async () => {
    const cm = await load('Counters.cfg');
    const s = [mkFcn([1, 2], [0, 1])];
    const t = [mkFcn([1, 2], [1, 1])];
    const labels = labelStep(cm, s, t);
    expect(labels.map((l) => [l.name, l.args.i])).toEqual([['Tick', 1]]);
    expect(labelStep(cm, s, [mkFcn([1, 2], [2, 2])])).toEqual([]);
  });

  it('evaluate reads expressions in a state', async () => {
    const cm = await load('Counters.cfg');
    expect(await evaluate(cm, 'c[2] + K * 10', [mkFcn([1, 2], [0, 2])])).toBe(22);
  });

  it('generateTraces: edge cover covers all 18 edges; random walks repeat for a seed', async () => {
    const cm = await load('Counters.cfg');
    const cover = generateTraces(cm, { mode: 'cover' });
    expect(cover.edgesTotal).toBe(18);
    expect(cover.edgesCovered).toBe(18);
    const a = generateTraces(cm, { mode: 'random', count: 4, depth: 7, seed: 42 });
    expect(generateTraces(cm, { mode: 'random', count: 4, depth: 7, seed: 42 })).toEqual(a);
    expect(a.traces.every((t) => t.states.length === 8)).toBe(true);
  });
});

describe('edge cover against exploreGraph on real models', () => {
  const models: [string, string][] = [
    [spec, path.join(dir, 'Counters.cfg')],
    [
      path.join(corpus, 'check-07-action-constraint', 'Robot.tla'),
      path.join(corpus, 'check-07-action-constraint', 'Robot.cfg'),
    ],
    [
      path.join(corpus, 'check-19-pluscal-mutex', 'Peterson.tla'),
      path.join(corpus, 'check-19-pluscal-mutex', 'Peterson.cfg'),
    ],
    [
      path.join(corpus, 'expr-22-instance', 'Instances.tla'),
      path.join(corpus, 'expr-22-instance', 'Instances.cfg'),
    ],
  ];
  for (const [specFile, cfgFile] of models) {
    (cfgFile.startsWith(corpus) ? itWithCorpus : it)(
      `${path.basename(cfgFile)}: the traces' steps are exactly the graph's labelled edges`,
      async () => {
        const cm = await loadModel(specFile, cfgFile);
        const g = exploreGraph(cm);
        const key = (s: readonly Value[], action: unknown, t: readonly Value[]): string =>
          JSON.stringify([s.map(toItf), action, t.map(toItf)]);
        const want = new Set(
          g.edges.map((e) =>
            key(
              g.states[e.from]!,
              {
                name: e.label.name,
                args: Object.fromEntries(Object.entries(e.label.args).map(([k, v]) => [k, toItf(v)])),
              },
              g.states[e.to]!,
            ),
          ),
        );
        const cover = generateTraces(cm, { mode: 'cover' });
        const got = new Set<string>();
        for (const t of cover.traces) {
          const states = t.states.map((st) => t.vars.map((v) => fromItf(st[v])));
          for (let k = 1; k < states.length; k++)
            got.add(key(states[k - 1]!, t.states[k]!['#meta'].action, states[k]!));
        }
        expect(got).toEqual(want);
        expect(cover.edgesCovered).toBe(g.edges.length);
      },
    );
  }
});

describe('TLC output as the JSON summary', () => {
  it('labels TLC trace steps with the step labeller', async () => {
    const cm = await load('CountersFull.cfg');
    const text = [
      'Error: Invariant NotAllFull is violated.',
      'Error: The behavior up to this point is:',
      'State 1: <Initial predicate>',
      'c = <<0, 0>>',
      '',
      'State 2: <Tick line 14, col 12 to line 14, col 43 of module Counters>',
      'c = <<0, 1>>',
      '',
      'State 3: <Tick line 14, col 12 to line 14, col 43 of module Counters>',
      'c = <<1, 1>>',
      '',
      '7 states generated, 6 distinct states found, 2 states left on queue.',
    ].join('\n');
    const j = tlcToJson(spec, path.join(dir, 'CountersFull.cfg'), parseTlcOutput(text), 5, cm);
    expect(j).toMatchObject({ engine: 'tlc', result: 'invariant', distinctStates: 6, statesGenerated: 7 });
    expect(j.violation!.name).toBe('NotAllFull');
    const actions = j.violation!.trace.states.map((s) => s['#meta'].action);
    expect(actions[1]).toEqual({ name: 'Tick', args: { i: { '#bigint': '2' } } });
    expect(actions[2]).toEqual({ name: 'Tick', args: { i: { '#bigint': '1' } } });
  });
});

describe('buffy check / buffy traces', () => {
  it('exit codes: 0 ok, 1 violation, 2 bad config', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      process.exitCode = undefined;
      expect(
        await main([
          'check',
          spec,
          '--config',
          path.join(dir, 'Counters.cfg'),
          '--engine',
          'builtin',
          '--json',
        ]),
      ).toBe(0);
      const ok = JSON.parse(out.pop()!);
      expect(ok).toMatchObject({
        engine: 'builtin',
        result: 'ok',
        distinctStates: 9,
        statesGenerated: 19,
        depth: 5,
      });
      process.exitCode = undefined;
      expect(
        await main(['check', spec, '--config', path.join(dir, 'CountersFull.cfg'), '--engine', 'builtin']),
      ).toBe(1);
      expect(out.join('')).toMatch(/Error: Invariant NotAllFull is violated\./);
      process.exitCode = undefined;
      expect(
        await main(['check', spec, '--config', path.join(dir, 'Missing.cfg'), '--engine', 'builtin']),
      ).toBe(2);
    } finally {
      process.stdout.write = write;
      process.exitCode = undefined;
    }
  });

  it('traces --cover edges writes ITF files covering every edge', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'buffy-traces-'));
    const write = process.stdout.write.bind(process.stdout);
    const lines: string[] = [];
    process.stdout.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stdout.write;
    try {
      process.exitCode = undefined;
      expect(
        await main([
          'traces',
          spec,
          '--config',
          path.join(dir, 'Counters.cfg'),
          '--cover',
          'edges',
          '--out',
          outDir,
        ]),
      ).toBe(0);
      const files = readdirSync(outDir).sort();
      expect(files[0]).toBe('trace-0001.itf.json');
      const edges = new Set<string>();
      for (const f of files) {
        const t = JSON.parse(readFileSync(path.join(outDir, f), 'utf8'));
        for (let k = 1; k < t.states.length; k++)
          edges.add(JSON.stringify([t.states[k - 1].c, t.states[k]['#meta'].action]));
      }
      expect(edges.size).toBe(18);
      expect(lines.join('')).toMatch(/edges covered 18\/18/);
    } finally {
      process.stdout.write = write;
      process.exitCode = undefined;
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
