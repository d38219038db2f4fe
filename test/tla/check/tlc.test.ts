import { describe, expect, it } from 'vitest';
import { parseTlcOutput, parseTlcValue } from '../../../tla/check/tlc.ts';
import { equals, fcnFromPairs, mkRecord, modelValue, setOf, toTla, tuple } from '../../../tla/values.ts';

const banner = [
  'TLC2 Version 2.18 of Day Month 20??',
  'Running breadth-first search Model-Checking with fp 46 and seed 123 with 1 worker on 2 cores with 1024MB heap',
  'Parsing file Jugs.tla',
  'Semantic processing of module Jugs',
  'Starting... (2026-11-26 07:00:00)',
  'Computing initial states...',
  'Finished computing initial states: 1 distinct state generated at 2026-11-26 07:00:00.',
];

describe('parseTlcOutput', () => {
  it('reads an ok run', () => {
    const out = parseTlcOutput(
      [
        ...banner,
        'Model checking completed. No error has been found.',
        '  Estimates of the probability that TLC did not check all reachable states',
        '  because two distinct states had the same fingerprint:',
        '  calculated (optimistic):  val = 1.1E-16',
        '59 states generated, 16 distinct states found, 0 states left on queue.',
        'The depth of the complete state graph search is 8.',
        'The average outdegree of the complete state graph is 1 (minimum is 0, the maximum 3 and the 95th percentile is 3).',
        'Finished in 00s at (2026-11-26 07:00:01)',
      ].join('\n'),
    );
    expect(out).toMatchObject({
      result: 'ok',
      statesGenerated: 59,
      distinctStates: 16,
      leftOnQueue: 0,
      depth: 8,
      message: null,
    });
    expect(out.trace).toEqual([]);
  });

  it('reads an invariant violation with its trace', () => {
    const out = parseTlcOutput(
      [
        ...banner,
        'Error: Invariant NotSplit is violated.',
        'Error: The behavior up to this point is:',
        'State 1: <Initial predicate>',
        '/\\ big = 0',
        '/\\ small = 0',
        '',
        'State 2: <FillSmall line 21, col 13 to line 22, col 30 of module Jugs>',
        '/\\ big = 0',
        '/\\ small = 3',
        '',
        '50 states generated, 16 distinct states found, 1 states left on queue.',
        'The depth of the complete state graph search is 8.',
      ].join('\n'),
    );
    expect(out.result).toBe('invariant');
    expect(out.violation).toEqual({ name: 'NotSplit', kind: 'invariant' });
    expect(out.trace.map((s) => s.action)).toEqual([null, 'FillSmall']);
    expect([...out.trace[1]!.vars.entries()]).toEqual([
      ['big', 0],
      ['small', 3],
    ]);
    expect(out.statesGenerated).toBe(50);
  });

  it('reads an invariant violated by an initial state (no State 1 line)', () => {
    const out = parseTlcOutput(
      [
        ...banner,
        'Error: Invariant AliceStartsRich is violated by the initial state:',
        '/\\ alice = 0',
        '/\\ bob = 10',
        '',
        'Finished in 00s',
      ].join('\n'),
    );
    expect(out.result).toBe('invariant');
    expect(out.violation?.name).toBe('AliceStartsRich');
    expect(out.trace.length).toBe(1);
    expect(out.trace[0]!.vars.get('bob')).toBe(10);
  });

  it('reads a liveness lasso and a stuttering counterexample', () => {
    const lasso = parseTlcOutput(
      [
        ...banner,
        'Error: Temporal properties were violated.',
        '',
        'Error: The following behavior constitutes a counter-example:',
        '',
        'State 1: <Initial predicate>',
        'x = 1',
        '',
        'State 2: <Next line 5, col 9 to line 5, col 20 of module M>',
        'x = 2',
        '',
        'Back to state 1: <Next line 5, col 9 to line 5, col 20 of module M>',
        '',
        '14 states generated, 8 distinct states found, 0 states left on queue.',
      ].join('\n'),
    );
    expect(lasso.result).toBe('property');
    expect(lasso.violation?.kind).toBe('liveness');
    expect(lasso.trace.length).toBe(2);
    expect(lasso.loopsTo).toBe(0);
    expect(lasso.stuttering).toBe(false);
    const stutter = parseTlcOutput(
      [
        ...banner,
        'Error: Temporal properties were violated.',
        'Error: The following behavior constitutes a counter-example:',
        'State 1: <Initial predicate>',
        'x = 1',
        '',
        'State 2: Stuttering',
        '',
      ].join('\n'),
    );
    expect(stutter.stuttering).toBe(true);
    expect(stutter.trace.length).toBe(1);
  });

  it('reads deadlock, action property and evaluation errors with their detail', () => {
    expect(
      parseTlcOutput(
        'Error: Deadlock reached.\nError: The behavior up to this point is:\nState 1: <Initial predicate>\nx = 0\n',
      ).violation,
    ).toEqual({
      name: null,
      kind: 'deadlock',
    });
    const ap = parseTlcOutput(
      'Error: Action property line 15, col 17 to line 15, col 31 of module TransferHigh is violated.\n',
    );
    expect(ap.result).toBe('property');
    expect(ap.violation?.name).toBe('line 15, col 17 to line 15, col 31 of module TransferHigh');
    const err = parseTlcOutput(
      [
        'Error: Evaluating invariant Late failed.',
        'TLC expected a boolean value, but did not find one. line 18, col 9 to line 18, col 33 of module Counter',
        'Error: The behavior up to this point is:',
        'State 1: <Initial predicate>',
        'c = 0',
        '',
      ].join('\n'),
    );
    expect(err.result).toBe('error');
    expect(err.message).toBe('Evaluating invariant Late failed.');
    expect(err.detail[0]).toMatch(/^TLC expected a boolean value/);
    expect(err.trace.length).toBe(1);
  });
});

describe('parseTlcValue', () => {
  it('reads every value form TLC prints', () => {
    const cases: [string, ReturnType<typeof parseTlcValue>][] = [
      ['42', 42],
      ['-7', -7],
      ['"a \\"q\\""', 'a "q"'],
      ['TRUE', true],
      ['p1', modelValue('p1')],
      ['{1, 2, 3}', setOf([3, 1, 2])],
      ['{}', setOf([])],
      ['<<1, "x", <<>>>>', tuple([1, 'x', tuple([])])],
      [
        '[a |-> 1, b |-> {p1}]',
        mkRecord([
          ['a', 1],
          ['b', setOf([modelValue('p1')])],
        ]),
      ],
      ['(p1 :> 0 @@ p2 :> 1)', fcnFromPairs([modelValue('p1'), modelValue('p2')], [0, 1])],
      ['p1 :> "idle"', fcnFromPairs([modelValue('p1')], ['idle'])],
      ['[s |-> 1..3]', mkRecord([['s', setOf([1, 2, 3])]])],
      [
        '[a |-> <<1, 2>>,\n   b |-> 2]',
        mkRecord([
          ['a', tuple([1, 2])],
          ['b', 2],
        ]),
      ],
    ];
    for (const [text, v] of cases) {
      const got = parseTlcValue(text);
      expect(equals(got, v), `${text} -> ${toTla(got)}`).toBe(true);
    }
  });

  it('round-trips values printed by toTla', () => {
    const v = mkRecord([
      ['st', fcnFromPairs([modelValue('p1'), modelValue('p2')], ['idle', 'critical'])],
      ['q', tuple([setOf([1, 2]), 'x'])],
    ]);
    expect(equals(parseTlcValue(toTla(v)), v)).toBe(true);
  });

  it('names what it cannot read', () => {
    expect(() => parseTlcValue('{1, 2')).toThrow(/cannot read TLC's value/);
    expect(() => parseTlcValue('1 2')).toThrow(/unexpected text/);
  });
});

describe('runTlc with a stand-in java', () => {
  it('runs tlc2.TLC -workers 1 with the config in a copy of the spec folder and reads its output', async () => {
    const { mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { runTlc } = await import('../../../tla/check/tlc.ts');
    const dir = mkdtempSync(path.join(tmpdir(), 'buffy-fakejava-'));
    const bin = path.join(dir, 'bin');
    const argsFile = path.join(dir, 'args.txt');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin);
    // A stand-in for java: records its arguments and the files it was given, prints TLC-style output.
    writeFileSync(
      path.join(bin, 'java'),
      [
        '#!/bin/sh',
        `echo "$@" > ${JSON.stringify(argsFile)}`,
        `ls >> ${JSON.stringify(argsFile)}`,
        'echo "Error: Invariant Inv is violated."',
        'echo "Error: The behavior up to this point is:"',
        'echo "State 1: <Initial predicate>"',
        'echo "x = 0"',
        'echo ""',
        'echo "State 2: <Step line 7, col 9 to line 7, col 20 of module M>"',
        'echo "x = 1"',
        'echo ""',
        'echo "3 states generated, 2 distinct states found, 0 states left on queue."',
        'exit 12',
      ].join('\n'),
    );
    chmodSync(path.join(bin, 'java'), 0o755);
    const specDir = path.join(dir, 'spec');
    mkdirSync(specDir);
    writeFileSync(path.join(specDir, 'M.tla'), '---- MODULE M ----\n====\n');
    writeFileSync(path.join(specDir, 'M.cfg'), 'INIT Init NEXT Next\n');
    writeFileSync(path.join(dir, 'tla2tools.jar'), '');
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
    try {
      const run = await runTlc({
        specFile: path.join(specDir, 'M.tla'),
        cfgFile: path.join(specDir, 'M.cfg'),
        jar: path.join(dir, 'tla2tools.jar'),
        checkDeadlock: false,
      });
      expect(run.exitCode).toBe(12);
      expect(run.outcome.result).toBe('invariant');
      expect(run.outcome.violation?.name).toBe('Inv');
      expect(run.outcome.trace.map((s) => s.vars.get('x'))).toEqual([0, 1]);
      const recorded = readFileSync(argsFile, 'utf8');
      expect(recorded).toMatch(
        /-XX:\+UseParallelGC -cp \S+tla2tools\.jar tlc2\.TLC -workers 1 -config \S+\.cfg -metadir \S+ -deadlock M\.tla/,
      );
      expect(recorded).toMatch(/^M\.tla$/m);
    } finally {
      process.env.PATH = oldPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
