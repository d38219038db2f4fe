// The heap budget: large enumerations are refused before they start, and a search that fills
// the heap stops with an error that says how far it got. The budget is set low (a few tens of
// MB above what the test process already holds) so that these tests stay cheap in memory.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel } from '../../../tla/check/model.ts';
import { check } from '../../../tla/check/checker.ts';
import { search, HEAP_CHECK_EVERY, type SearchSystem } from '../../../tla/check/engine.ts';
import {
  HeapWatch,
  heapBudget,
  heapUsed,
  setHeapBudget,
  watchEnumeration,
  reserveEnumeration,
} from '../../../tla/memory.ts';

const MB = 2 ** 20;
const S = { show: () => 'S' };

afterEach(() => setHeapBudget(null));

async function model(name: string, body: string, cfg = 'INIT Init\nNEXT Next\n') {
  const dir = mkdtempSync(path.join(tmpdir(), 'buffy-memory-'));
  try {
    writeFileSync(path.join(dir, `${name}.tla`), `---- MODULE ${name} ----\n${body}\n====\n`);
    writeFileSync(path.join(dir, `${name}.cfg`), cfg);
    return await loadModel(path.join(dir, `${name}.tla`), path.join(dir, `${name}.cfg`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('setHeapBudget', () => {
  it('lowers the budget, never raises it past the share of the heap limit, and resets', () => {
    const full = heapBudget();
    setHeapBudget(100 * MB);
    expect(heapBudget()).toBe(Math.min(full, 100 * MB));
    setHeapBudget(Number.MAX_SAFE_INTEGER);
    expect(heapBudget()).toBe(full);
    setHeapBudget(null);
    expect(heapBudget()).toBe(full);
    expect(() => setHeapBudget(0)).toThrow(/positive/);
  });
});

describe('enumerations', () => {
  it('refuses SUBSET (1..24) in Init before enumerating it, naming the expression and its size', async () => {
    const cm = await model('Big', 'VARIABLE x\nInit == x \\in SUBSET (1..24)\nNext == UNCHANGED x');
    setHeapBudget(heapUsed() + 64 * MB);
    const before = heapUsed();
    const r = check(cm);
    expect(r.result).toBe('error');
    expect(r.error!.location).toMatch(/Big\.tla:3:9$/);
    expect(r.error!.message).toMatch(
      /^Refusing to enumerate SUBSET \(1\.\.24\): its 16777216 elements need about [\d.]+ GB of heap, more than the \d+ MB left of the checker's \d+ MB budget; .*raise --max-heap/,
    );
    expect(r.error!.message).toMatch(/while computing the initial states/);
    expect(r.statesGenerated).toBe(0);
    // Nothing was enumerated: the heap did not grow by the set's size.
    expect(heapUsed() - before).toBeLessThan(64 * MB);
  });

  it('refuses a function set and a product by the same estimate, and enumerates what fits', async () => {
    setHeapBudget(heapUsed() + 32 * MB);
    const fcn = await model('Fcn', 'VARIABLE x\nInit == x \\in [1..6 -> 1..16]\nNext == UNCHANGED x');
    expect(check(fcn).error?.message).toMatch(
      /^Refusing to enumerate \[\(1\.\.6\) -> \(1\.\.16\)\]: its 16777216 elements/,
    );
    const prod = await model(
      'Prod',
      'VARIABLE x\nInit == x \\in (1..2000) \\X (1..2000)\nNext == UNCHANGED x',
    );
    expect(check(prod).error?.message).toMatch(
      /^Refusing to enumerate \(1\.\.2000\) \\X \(1\.\.2000\): its 4000000 elements/,
    );
    const small = await model('Small', 'VARIABLE x\nInit == x \\in SUBSET (1..12)\nNext == UNCHANGED x');
    expect(check(small)).toMatchObject({ result: 'ok', distinctStates: 4096 });
  });

  it('reserveEnumeration passes small sets without looking and refuses what cannot fit', () => {
    setHeapBudget(heapUsed() + 16 * MB);
    expect(() => reserveEnumeration(1000, 1e9, S)).not.toThrow();
    expect(() => reserveEnumeration(1 << 20, 1024, S)).toThrow(
      /Refusing to enumerate S: its 1048576 elements need about 1\.0 GB/,
    );
    expect(() => reserveEnumeration(1 << 16, 16, S)).not.toThrow();
  });

  it('watchEnumeration stops an enumeration once the heap is over budget', () => {
    setHeapBudget(1);
    expect(() => watchEnumeration(65536, 1_000_000, S)).toThrow(
      /^Stopped enumerating S after 65536 of its 1000000 elements: the heap holds \d+ MB, over the checker's budget of 1 kB/,
    );
    setHeapBudget(null);
    expect(() => watchEnumeration(65536, 1_000_000, S)).not.toThrow();
  });
});

describe('the search', () => {
  it('stops a search whose graph fills the heap, saying how far it got and how to raise the limit', async () => {
    // An unbounded counter whose explored graph is kept (as for liveness): the heap grows with every state.
    const cm = await model('Count', "EXTENDS Naturals\nVARIABLE x\nInit == x = 0\nNext == x' = x + 1");
    setHeapBudget(heapUsed() + 32 * MB);
    const r = check(cm, { keepGraph: true });
    expect(r.result).toBe('error');
    expect(r.error!.kind).toBe('memory');
    expect(r.error!.message).toMatch(
      /^Out of memory: stopped after \d+ distinct states \(\d+ generated, depth \d+, \d+ on the queue\); the search is incomplete: the heap holds \d+ MB, over the checker's budget of \d+ MB; make the model smaller, or raise --max-heap/,
    );
    expect(r.distinctStates).toBeGreaterThan(10_000);
    const stated = Number(/after (\d+) distinct states/.exec(r.error!.message)![1]);
    expect(stated).toBe(r.distinctStates);
  });

  it('stops while computing the initial states when they do not fit', async () => {
    const cm = await model('Wide', 'VARIABLE x\nInit == x \\in 1..1500000\nNext == UNCHANGED x');
    setHeapBudget(heapUsed() + 48 * MB);
    const r = check(cm);
    expect(r.result).toBe('error');
    expect(r.error!.message).toMatch(
      /^Out of memory: stopped after \d+ initial states \(the initial predicate has more states than fit\)/,
    );
  });

  /** An unbounded counter, for the engine alone. */
  const counter: SearchSystem<number, string> = {
    initStates: (emit) => emit(0),
    successors: (s, emit) => {
      emit(s + 1, 'inc');
      emit(s, 'stay');
    },
    fingerprint: (s) => BigInt(s),
    invariants: [],
    initProperties: [],
    actionProperties: [],
  };

  it('looks at the heap once per HEAP_CHECK_EVERY generated states and stops when the watch says so', () => {
    let looks = 0;
    const watch = { over: () => ++looks === 3, describe: () => 'the fake heap is full' };
    const r = search(counter, { checkDeadlock: false, heapWatch: watch });
    expect(r.result).toBe('error');
    expect(looks).toBe(3);
    expect(r.statesGenerated).toBe(3 * HEAP_CHECK_EVERY);
    expect(String((r.error!.error as Error).message)).toBe(
      `Out of memory: stopped after ${r.distinctStates} distinct states (${3 * HEAP_CHECK_EVERY} generated, depth ${r.depth}, ${r.leftOnQueue} on the queue); the search is incomplete: the fake heap is full`,
    );
    // Without a watch the search runs until --max-states.
    const unwatched = search(counter, {
      checkDeadlock: false,
      heapWatch: null,
      maxStates: 5 * HEAP_CHECK_EVERY,
    });
    expect(unwatched.error!.error).toMatchObject({ message: expect.stringMatching(/--max-states/) });
  });

  it('HeapWatch is not over with the default budget in a small process', () => {
    expect(new HeapWatch().over()).toBe(false);
    expect(new HeapWatch(1).over()).toBe(true);
  });
});
