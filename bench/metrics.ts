// Metrics cost benchmark (`npm run bench:metrics`): word count embedded (examples/word-count.ts,
// file source, counting sink) with metrics off and on, in pairs that take turns (off-on, on-off,
// ...). Metrics on = the StepMeter observing every batch at every step, the dead-letter counter,
// and a Prometheus scrape (registry.metrics()) every 250 ms (4x a 1 s scrape interval, so the
// scrapes land inside runs that last under a second). Prints words/s
// per mode (median) and the median of the paired ratios (on / off), by wall clock and CPU time.
// Options: --words N (default 2,000,000), --pairs N (default 5). Figures, no assertions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wordCount from '../examples/word-count.ts';
import { MemoryDeadLetterSink } from '../runtime/engine/dead-letters.ts';
import { runEmbedded } from '../runtime/engine/embedded.ts';
import { createWorkerMetering } from '../runtime/metrics/index.ts';
import { createSystemClock } from '../runtime/system.ts';
import type { Logger } from '../runtime/types.ts';
import { generateCorpus } from './corpus.ts';
import { argValue } from './args.ts';

const WORDS = argValue('--words', 2_000_000);
const PAIRS = argValue('--pairs', 5);
const clock = createSystemClock();
const quietLog: Logger = {
  info: () => undefined,
  warn: (m) => console.error(m),
  error: (m) => console.error(m),
};

interface Run {
  words: number;
  ms: number;
  cpuMs: number;
  scrapes: number;
  /** Time from starting a scrape to its text (summed). */
  scrapeMs: number;
  /** Metrics on: observer calls (batches entering a step) in the run. */
  observed: number;
}

async function run(file: string, metrics: boolean): Promise<Run> {
  const app = wordCount({ source: `file:${file}`, sink: 'count:', params: { top: '0' } });
  const deadLetters = new MemoryDeadLetterSink(quietLog);
  const metering = metrics ? createWorkerMetering({ app, worker: 'embedded', clock }) : null;
  let scrapes = 0;
  let scrapeMs = 0;
  const timer = metering
    ? setInterval(() => {
        const t0 = clock.monotonicMs();
        void metering.metrics.text().then(() => {
          scrapes++;
          scrapeMs += clock.monotonicMs() - t0;
        });
      }, 250)
    : null;
  const cpu0 = process.cpuUsage();
  const summary = await runEmbedded(app, {
    clock,
    log: quietLog,
    deadLetters: metering ? metering.deadLetters(deadLetters) : deadLetters,
    ...(metering ? { observer: metering.observer } : {}),
  });
  const cpu = process.cpuUsage(cpu0);
  if (timer) clearInterval(timer);
  if (metering) {
    // The counters the scraper would read must agree with the run.
    const sink = metering.observer.steps.find((s) => s.kind === 'sink')!;
    if (sink.messagesIn !== summary.metrics.sunk)
      throw new Error(
        `metrics counted ${sink.messagesIn} messages at the sink, the engine ${summary.metrics.sunk}`,
      );
  }
  const observed = metering ? metering.observer.steps.reduce((n, s) => n + s.batchesIn, 0) : 0;
  return {
    words: summary.metrics.sunk,
    ms: summary.elapsedMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    scrapes,
    scrapeMs,
    observed,
  };
}

/** Nanoseconds per observed batch: enter + exit on a state step then a sink (the sink records
 * the latency to sink of the step before it), batches of `size` messages born together. */
function observerCost(size: number): number {
  const app = wordCount({ source: 'file:unused', sink: 'count:', params: { top: '0' } });
  const meter = createWorkerMetering({ app, worker: 'bench', clock, processMetrics: false }).observer;
  const state = app.nodes.find((n) => n.kind === 'state')!.id;
  const sink = app.nodes.find((n) => n.kind === 'sink')!.id;
  const born = new Array<number>(size).fill(clock.nowMs());
  const rounds = 200_000;
  const t0 = clock.monotonicMs();
  for (let i = 0; i < rounds; i++) {
    meter.enter(-1, state, size, born);
    meter.enter(state, sink, size, born);
    meter.exit(sink);
    meter.exit(state);
  }
  return ((clock.monotonicMs() - t0) * 1e6) / (2 * rounds);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'buffy-bench-metrics-'));
  try {
    const file = join(dir, 'corpus.txt');
    writeFileSync(file, generateCorpus({ words: WORDS, seed: 42 }));
    const warm = join(dir, 'warm.txt');
    writeFileSync(warm, generateCorpus({ words: 200_000, seed: 1 }));
    await run(warm, false);
    await run(warm, true);
    console.log(
      `word count embedded, ${fmt(WORDS)} words, ${PAIRS} pairs (metrics off / on, taking turns)\n`,
    );
    const off: Run[] = [];
    const on: Run[] = [];
    const wallRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let p = 0; p < PAIRS; p++) {
      const order = p % 2 === 0 ? [false, true] : [true, false];
      const r: Record<string, Run> = {};
      for (const m of order) r[String(m)] = await run(file, m);
      const a = r.false!;
      const b = r.true!;
      off.push(a);
      on.push(b);
      // Throughput ratio on/off: > 1 means metrics on was faster.
      wallRatios.push(b.words / b.ms / (a.words / a.ms));
      cpuRatios.push(b.words / b.cpuMs / (a.words / a.cpuMs));
      console.log(
        `  pair ${p + 1}: off ${fmt((a.words / a.ms) * 1000)} words/s, on ${fmt((b.words / b.ms) * 1000)} words/s (${b.scrapes} scrapes), ratio ${wallRatios[p]!.toFixed(3)}`,
      );
    }
    const ns = observerCost(Math.round(WORDS / Math.max(1, on[0]!.observed)));
    const share = median(on.map((r) => (r.observed * ns) / 1e6 / r.cpuMs));
    console.log(
      `\nobserver: ${fmt(on[0]!.observed)} batch arrivals per run, ${ns.toFixed(0)} ns each (measured alone) = ${(share * 100).toFixed(3)}% of a run's CPU time`,
    );
    const scrapes = on.reduce((n, r) => n + r.scrapes, 0);
    const scrapeMs = on.reduce((n, r) => n + r.scrapeMs, 0);
    if (scrapes > 0) console.log(`scrape: ${(scrapeMs / scrapes).toFixed(2)} ms each (${scrapes} scrapes)`);
    const rate = (rs: readonly Run[]) => median(rs.map((r) => (r.words / r.ms) * 1000));
    console.log(`\nmetrics off: ${fmt(rate(off))} words/s (median)`);
    console.log(`metrics on:  ${fmt(rate(on))} words/s (median)`);
    console.log(
      `on / off, median of paired ratios: ${median(wallRatios).toFixed(3)} by wall clock, ${median(cpuRatios).toFixed(3)} by CPU time (target: within 3%, i.e. >= 0.970)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
