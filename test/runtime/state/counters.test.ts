// G-Counter, PN-Counter and the seed's EntryCounter: laws, and what each delivery assumption
// buys (FIFO watermark vs per-message entries with a reordering window).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntryCounter, GCounter, PNCounter } from '../../../runtime/state/index.ts';
import {
  EntryCounterType,
  GCounterType,
  PNCounterType,
  counterOrigins,
  entryCounter,
  entryCounterEntries,
  gCounterIncrement,
} from '../../../runtime/state/index.ts';
import type { Authored } from './harness.ts';
import { author, rng, run, schedule, stepsArb } from './harness.ts';
import { checkLaws } from './laws.ts';

const sum = (ops: readonly Authored<number>[]): number => ops.reduce((n, a) => n + a.op, 0);
const amount = fc.integer({ min: 0, max: 50 });
const delta = fc.integer({ min: -50, max: 50 });

checkLaws<GCounter, number, number, number>({
  name: 'G-Counter',
  type: GCounterType,
  cmd: amount,
  prepare: (_s, n) => n,
  delivery: 'fifo',
  exact: true,
  reference: sum,
});

checkLaws<PNCounter, number, number, number>({
  name: 'PN-Counter',
  type: PNCounterType,
  cmd: delta,
  prepare: (_s, n) => n,
  delivery: 'fifo',
  exact: true,
  reference: sum,
});

checkLaws<EntryCounter, number, number, number>({
  name: 'EntryCounter (window Infinity, any order)',
  type: entryCounter({ window: Infinity }),
  cmd: delta,
  prepare: (_s, n) => n,
  delivery: 'any',
  exact: true,
  reference: sum,
});

checkLaws<EntryCounter, number, number, number>({
  name: 'EntryCounter (window 16, FIFO)',
  type: EntryCounterType,
  cmd: delta,
  prepare: (_s, n) => n,
  delivery: 'fifo',
  exact: true,
  reference: sum,
});

const id = (source: number, offset: number, sub = 0) => ({ source, offset, sub });

describe('counters: what the dedup metadata assumes and costs', () => {
  it('G-Counter: a duplicate is a no-op, a replay of old ids too; the metadata is one watermark per origin', () => {
    let s = GCounterType.empty();
    for (let o = 0; o < 1000; o++) s = gCounterIncrement(s, id(o % 2, o), 1);
    const again = gCounterIncrement(s, id(0, 998), 1);
    expect(again).toBe(s);
    expect(GCounterType.value(s)).toBe(1000);
    expect(counterOrigins(s)).toBe(2); // two origins: one watermark each
  });

  it('G-Counter needs FIFO: a message overtaken by a later one of its origin is lost (use EntryCounter)', () => {
    const late = gCounterIncrement(gCounterIncrement(GCounterType.empty(), id(0, 5), 1), id(0, 3), 1);
    expect(GCounterType.value(late)).toBe(1);
    const T = entryCounter({ window: 4 });
    expect(T.value(T.apply(T.apply(T.empty(), id(0, 5), 1), id(0, 3), 1))).toBe(2);
  });

  it('EntryCounter: with reordering deeper than its window it drops a late message, within it never', () => {
    fc.assert(
      fc.property(
        stepsArb(delta, 30),
        fc.integer({ min: 0, max: 4 }),
        fc.integer(),
        (steps, window, seed) => {
          const T = entryCounter({ window });
          const ops = author(
            { name: 'e', type: T, cmd: delta, prepare: (_s, n) => n, delivery: 'any', exact: true },
            steps,
          );
          // Reorder each origin's stream at most `window` deep: shuffle blocks of window + 1.
          const r = rng(seed);
          const delivered = [0, 1, 2].flatMap((o) => {
            const list = ops.filter((a) => a.id.source === o);
            const out: Authored<number>[] = [];
            for (let i = 0; i < list.length; i += window + 1) {
              out.push(...list.slice(i, i + window + 1).sort(() => r() - 0.5));
            }
            return out;
          });
          expect(T.value(run(T, schedule(delivered, 'fifo', seed)))).toBe(sum(ops));
          // Entries kept stay within the window, per origin.
          const st = run(T, delivered);
          for (const a of st) expect((a.length - 4) / 3).toBeLessThanOrEqual(window);
        },
      ),
    );
    const T = entryCounter({ window: 1 });
    let s = T.empty();
    for (const o of [5, 6, 7]) s = T.apply(s, id(0, o), 1); // two later ids: 5 is folded
    expect(T.value(T.apply(s, id(0, 3), 1))).toBe(3); // 3 arrives 3 deep: taken for a duplicate
  });

  it('EntryCounter: compact at the delivered frontier leaves no entries and the same value', () => {
    const T = entryCounter({ window: Infinity });
    let s = T.empty();
    for (let o = 0; o < 50; o++) s = T.apply(s, id(o % 3, o), o);
    expect(entryCounterEntries(s)).toBe(50);
    const c = T.compact(s, { 0: [48, 0], 1: [49, 0], 2: [47, 0] });
    expect(entryCounterEntries(c)).toBe(0);
    expect(T.value(c)).toBe(T.value(s));
    expect(T.apply(c, id(1, 10), 5)).toBe(c); // below the watermark: a duplicate
  });

  it('amounts are checked', () => {
    expect(() => gCounterIncrement(GCounterType.empty(), id(0, 1), -1)).toThrow(/non-negative/);
    expect(() => PNCounterType.apply(PNCounterType.empty(), id(0, 1), Number.NaN)).toThrow(/finite/);
  });
});
