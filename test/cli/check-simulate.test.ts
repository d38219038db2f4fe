// `buffy check --simulate` (TLC's -simulate): random behaviours checked against the invariants,
// deterministic for a seed; the library's simulate() underneath.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel } from '../../tla/check/model.ts';
import { simulate } from '../../tla/check/simulate.ts';
import { buffyCheckCli } from './run-in-process.ts';

let dir: string;
const f = (rel: string): string => path.join(dir, rel);

// Two counters stepped at random; Safe fails once x reaches 4 (at depth 5 at the earliest).
const WALK = `---- MODULE Walk ----
EXTENDS Naturals
VARIABLES x, y
Init == x = 0 /\\ y = 0
IncX == x' = x + 1 /\\ y' = y
IncY == y' = y + 1 /\\ x' = x
Reset == x > 0 /\\ x' = 0 /\\ y' = y
Next == IncX \\/ IncY \\/ Reset
Safe == x < 4
Bounded == x + y < 1000
====
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'buffy-simulate-'));
  writeFileSync(f('Walk.tla'), WALK);
  writeFileSync(f('Walk.cfg'), 'INIT Init\nNEXT Next\nINVARIANT Safe\n');
  writeFileSync(f('WalkOk.cfg'), 'INIT Init\nNEXT Next\nINVARIANT Bounded\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const buffy = buffyCheckCli;

describe('simulate', () => {
  it('finds an invariant violation and returns the behaviour that reached it', async () => {
    const cm = await loadModel(f('Walk.tla'), f('Walk.cfg'));
    const r = simulate(cm, { seed: 1, depth: 50, num: 200 });
    expect(r.result).toBe('invariant');
    expect(r.violation!.name).toBe('Safe');
    const steps = r.violation!.trace.steps;
    // A behaviour: starts in Init, every step one of the actions, ends in the violating state.
    expect(steps[0]!.label).toBeNull();
    expect(steps[0]!.state).toEqual([0, 0]);
    expect(steps.at(-1)!.state[0]).toBe(4);
    expect(steps.length).toBeGreaterThanOrEqual(5);
    for (const st of steps.slice(1)) expect(['IncX', 'IncY', 'Reset']).toContain(st.label!.name);
    expect(r.statesChecked).toBeGreaterThanOrEqual(steps.length);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const cm = await loadModel(f('Walk.tla'), f('WalkOk.cfg'));
    const a = simulate(cm, { seed: 7, depth: 30, num: 20 });
    const b = simulate(cm, { seed: 7, depth: 30, num: 20 });
    expect(a.result).toBe('ok');
    expect([a.statesChecked, a.distinctStates, a.behaviours]).toEqual([
      b.statesChecked,
      b.distinctStates,
      b.behaviours,
    ]);
    // 20 behaviours of 30 states each (no deadlock: IncX is always enabled).
    expect(a.statesChecked).toBe(600);
    const bad = await loadModel(f('Walk.tla'), f('Walk.cfg'));
    const t1 = simulate(bad, { seed: 3, depth: 60, num: 100 }).violation!.trace;
    const t2 = simulate(bad, { seed: 3, depth: 60, num: 100 }).violation!.trace;
    expect(t2).toEqual(t1);
    const others = [4, 5, 6, 8, 9].map(
      (s) => simulate(bad, { seed: s, depth: 60, num: 100 }).violation!.trace,
    );
    expect(others.some((t) => JSON.stringify(t) !== JSON.stringify(t1))).toBe(true);
  });

  it('buffy check --simulate prints the trace and what it checked; --json as for check', async () => {
    const r = await buffy(
      'check',
      f('Walk.tla'),
      '--simulate',
      '--seed',
      '2',
      '--depth',
      '40',
      '--num',
      '100',
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Error: Invariant Safe is violated\./);
    expect(r.out).toMatch(/State 1: <Initial predicate>/);
    expect(r.out).toMatch(/Simulation: \d+ behaviour\(s\) of at most 40 states, seed 2: \d+ states checked/);
    const ok = await buffy(
      'check',
      f('Walk.tla'),
      '--config',
      f('WalkOk.cfg'),
      '--simulate',
      '--num',
      '10',
      '--depth',
      '5',
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(
      /Simulation completed\. No error has been found\.\nSimulation: 10 behaviour\(s\) of at most 5 states, seed 0: 50 states checked/,
    );
    const j = await buffy(
      'check',
      f('Walk.tla'),
      '--simulate',
      '--seed',
      '2',
      '--depth',
      '40',
      '--num',
      '100',
      '--json',
    );
    const json = JSON.parse(j.out) as {
      result: string;
      violation: { name: string; trace: { states: unknown[] } };
      simulation: { seed: number; behaviours: number; statesChecked: number };
    };
    expect(json.result).toBe('invariant');
    expect(json.violation.name).toBe('Safe');
    expect(json.simulation.seed).toBe(2);
    expect(json.violation.trace.states.length).toBeGreaterThanOrEqual(5);
  });

  it('--seed, --depth, --num without --simulate, or --simulate with --engine tlc: usage errors', async () => {
    const r = await buffy('check', f('Walk.tla'), '--seed', '3', '--engine', 'builtin');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--seed: only with --simulate/);
    const t = await buffy('check', f('Walk.tla'), '--simulate', '--engine', 'tlc');
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/built-in checker/);
  });
});
