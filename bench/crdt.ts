// CRDT state benchmark. One process, one run, two parts:
//   1. cost per update of each runtime/state type, committed as the engine commits a state
//      (freezeState on the result), against a plain number state and a mutable Map;
//   2. word count throughput, embedded: examples/word-count-crdt.ts (OR-Map of G-Counters keyed
//      by message id) against examples/word-count.ts (a number per word), taking turns.
// Each figure is the median of `--runs` (default 5). Options: --words N (word count corpus,
// default 2,000,000), --updates N (per type in part 1, default 200,000), --runs N.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wordCountCrdt from '../examples/word-count-crdt.ts';
import wordCount from '../examples/word-count.ts';
import type { Application } from '../runtime/api/app.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../runtime/engine/embedded.ts';
import { freezeState } from '../runtime/engine/frozen-state.ts';
import { childSub } from '../runtime/engine/ids.ts';
import {
  EntryCounterType,
  GCounterType,
  GSetType,
  LWWRegisterType,
  MVRegisterType,
  ORSetType,
  PNCounterType,
  TwoPSetType,
  orMap,
} from '../runtime/state/index.ts';
import type { CrdtType } from '../runtime/state/index.ts';
import { createSystemClock } from '../runtime/system.ts';
import type { Logger, MessageId } from '../runtime/types.ts';
import { generateCorpus } from './corpus.ts';
import { argValue } from './args.ts';

const WORDS = argValue('--words', 2_000_000);
const UPDATES = argValue('--updates', 200_000);
const RUNS = argValue('--runs', 5);
const clock = createSystemClock();
const quietLog: Logger = {
  info: () => undefined,
  warn: (m) => console.error(m),
  error: (m) => console.error(m),
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// ----- part 1: cost per update -----

/** The ids of N messages: one source, a line of 8 words per offset (as flatMap numbers them). */
function ids(n: number): MessageId[] {
  const out: MessageId[] = [];
  for (let i = 0; i < n; i++) out.push({ source: 0, offset: i >> 3, sub: childSub(0, i & 7) });
  return out;
}

interface Case {
  readonly name: string;
  /** Runs `n` updates, returns something derived from the final state (kept alive). */
  run(n: number, ids: readonly MessageId[]): unknown;
}

const KEYS = 64;
const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);

/** `n` updates of one state of `type`, each committed with freezeState; op i from `op(i)`. */
function crdtCase<S, Op>(name: string, type: CrdtType<S, unknown, Op>, op: (i: number, s: S) => Op): Case {
  return {
    name,
    run(n, idList) {
      let s = type.empty();
      for (let i = 0; i < n; i++) s = freezeState(type.apply(s, idList[i]!, op(i, s)), name);
      return type.value(s);
    },
  };
}

const Counters = orMap(GCounterType);

const cases: Case[] = [
  {
    name: 'plain number state (n + 1)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s = freezeState(s + 1, 'n');
      return s;
    },
  },
  {
    name: `plain Map state, ${KEYS} keys (mutated in place)`,
    run(n) {
      const m = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const k = keys[i % KEYS]!;
        m.set(k, (m.get(k) ?? 0) + 1);
      }
      return m.size;
    },
  },
  crdtCase('G-Counter increment', GCounterType, () => 1),
  crdtCase('PN-Counter add (+1/-1)', PNCounterType, (i) => (i % 3 === 0 ? -1 : 1)),
  crdtCase('EntryCounter add (window 16)', EntryCounterType, () => 1),
  crdtCase(`G-Set add (${KEYS} elements)`, GSetType, (i) => keys[i % KEYS]!),
  crdtCase(`2P-Set add/remove (${KEYS} elements)`, TwoPSetType, (i) =>
    i % 4 === 3 ? { remove: keys[i % KEYS]! } : { add: keys[i % KEYS]! },
  ),
  crdtCase(`OR-Set add/remove (${KEYS} elements)`, ORSetType, (i, s) =>
    ORSetType.prepare(s, i % 4 === 3 ? 'rm' : 'add', keys[i % KEYS]!),
  ),
  crdtCase('LWW-Register set', LWWRegisterType, (i) => ({ v: i, ts: i })),
  crdtCase('MV-Register set', MVRegisterType, (i, s) => MVRegisterType.prepare(s, i)),
  {
    name: `OR-Map<G-Counter> whole map, ${KEYS} keys`,
    run(n, idList) {
      let m = Counters.empty();
      for (let i = 0; i < n; i++) m = freezeState(Counters.update(m, idList[i]!, keys[i % KEYS]!, 1), 'map');
      return Object.keys(m).length;
    },
  },
  {
    name: 'OR-Map<G-Counter> entry (one state per key)',
    run(n, idList) {
      let e = Counters.entry.empty();
      for (let i = 0; i < n; i++) e = freezeState(Counters.entry.update(e, idList[i]!, 1), 'entry');
      return Counters.entry.value(e);
    },
  },
  {
    name: 'G-Counter duplicate (dedup check only)',
    run(n, idList) {
      const s = GCounterType.apply(GCounterType.empty(), idList[n - 1]!, 1);
      let same = 0;
      for (let i = 0; i < n; i++) if (GCounterType.apply(s, idList[i]!, 1) === s) same++;
      return same;
    },
  },
];

function partOne(): void {
  const idList = ids(UPDATES);
  for (const c of cases) c.run(Math.min(UPDATES, 20_000), idList); // warm-up
  const ns = cases.map(() => [] as number[]);
  for (let r = 0; r < RUNS; r++) {
    cases.forEach((c, k) => {
      const t0 = clock.monotonicMs();
      c.run(UPDATES, idList);
      ns[k]!.push(((clock.monotonicMs() - t0) * 1e6) / UPDATES);
    });
  }
  const base = median(ns[0]!);
  console.log(
    `cost per update, ${UPDATES.toLocaleString('en-US')} updates, median of ${RUNS} (committed with freezeState)`,
  );
  cases.forEach((c, k) => {
    const m = median(ns[k]!);
    console.log(
      `  ${c.name.padEnd(48)} ${m.toFixed(1).padStart(8)} ns   ${(m / base).toFixed(1).padStart(6)}x number`,
    );
  });
}

// ----- part 2: word count throughput -----

/** One embedded run: words, wall-clock ms, and this process's CPU ms (user + system), which a
 * shared, loaded machine disturbs less than the wall clock. */
async function wordCountRun(app: Application): Promise<{ words: number; ms: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const summary = await runEmbedded(app, {
    clock,
    log: quietLog,
    deadLetters: new MemoryDeadLetterSink(quietLog),
  });
  const cpu = process.cpuUsage(cpu0);
  return { words: summary.metrics.sunk, ms: summary.elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function partTwo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'buffy-bench-crdt-'));
  try {
    const file = join(dir, 'corpus.txt');
    writeFileSync(file, generateCorpus({ words: WORDS, seed: 42 }));
    const warm = join(dir, 'warm.txt');
    writeFileSync(warm, generateCorpus({ words: 200_000, seed: 1 }));
    const options = (f: string) => ({ source: `file:${f}`, sink: 'count:', params: { top: '0' } });
    const contenders = [
      { name: 'word count, number state (examples/word-count.ts)', make: wordCount },
      { name: 'word count, OR-Map<G-Counter> (word-count-crdt.ts)', make: wordCountCrdt },
    ];
    for (const c of contenders) await wordCountRun(c.make(options(warm)));
    const rates = contenders.map(() => [] as number[]);
    const cpuRates = contenders.map(() => [] as number[]);
    let words = 0;
    for (let r = 0; r < RUNS; r++) {
      // Alternate who goes first, so neither always runs after the other's garbage.
      for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const res = await wordCountRun(contenders[k]!.make(options(file)));
        words = res.words;
        rates[k]!.push(res.words / (res.ms / 1000));
        cpuRates[k]!.push(res.words / (res.cpuMs / 1000));
      }
    }
    console.log(
      `\nword count, embedded, ${words.toLocaleString('en-US')} words, median of ${RUNS} alternating runs`,
    );
    const m = rates.map(median);
    const mc = cpuRates.map(median);
    const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(12);
    contenders.forEach((c, k) =>
      console.log(`  ${c.name.padEnd(52)} ${fmt(m[k]!)} words/s   ${fmt(mc[k]!)} words per CPU-second`),
    );
    // Paired: each run's ratio against the plain run next to it (the load of a shared machine
    // moves both), then the median of those.
    const paired = (r: number[][]): number => median(r[1]!.map((x, i) => x / r[0]![i]!));
    console.log(
      `  CRDT / plain: ${(m[1]! / m[0]!).toFixed(2)}x by wall clock, ${(mc[1]! / mc[0]!).toFixed(2)}x by CPU time; paired runs ${paired(rates).toFixed(2)}x wall, ${paired(cpuRates).toFixed(2)}x CPU (target >= 0.5x)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

partOne();
await partTwo();
