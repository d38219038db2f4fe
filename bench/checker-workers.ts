// Speed-up of the parallel search (buffy check --workers N) over one worker, on models of 100k
// to 1M states: wall time of the search, CPU time of the process (all threads), and where the
// workers' time went (loading the model, waiting at barriers, states moved between them).
// Each run is its own child process. On a machine shared with other work the wall-clock
// speed-up is bounded by the cores that are actually free: the CPU figures say how much work
// the parallel search adds, the wall figures what the machine gave.
//   node --import tsx bench/checker-workers.ts [--workers 1,2] [--only NAME] [--million]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { check } from '../tla/check/checker.ts';
import { loadModel } from '../tla/check/model.ts';
import { checkParallel } from '../tla/check/parallel.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'tla-corpus');
const models = path.join(repoRoot, 'test', 'tla', 'check', 'models');

const BENCHES = [
  {
    name: 'replication',
    spec: path.join(corpus, 'check-22-bench-replication', 'Replication.tla'),
    cfg: path.join(corpus, 'check-22-bench-replication', 'Replication.cfg'),
  },
  {
    name: 'bank',
    spec: path.join(corpus, 'check-23-bench-bank', 'Bank.tla'),
    cfg: path.join(corpus, 'check-23-bench-bank', 'Bank.cfg'),
  },
  {
    name: 'counters-100k',
    spec: path.join(models, 'Counters.tla'),
    cfg: path.join(models, 'CountersBench.cfg'),
  },
];
const MILLION = {
  name: 'counters-1M',
  spec: path.join(models, 'Counters.tla'),
  cfg: path.join(models, 'CountersMillion.cfg'),
};

interface Report {
  result: string;
  distinctStates: number;
  statesGenerated: number;
  depth: number;
  searchMs: number;
  cpuMs: number;
  maxRssMiB: number;
  timings?: {
    bootMs: number;
    loadMs: number;
    startWaitMs: number;
    searchMs: number;
    idleMs: number;
    moved: number;
  }[];
}

async function runOne(spec: string, cfg: string, workers: number): Promise<void> {
  const cm = await loadModel(spec, cfg);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = workers === 1 ? check(cm) : await checkParallel(cm, { workers, load: { libDirs: [] } });
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const report: Report = {
    result: r.result,
    distinctStates: r.distinctStates,
    statesGenerated: r.statesGenerated,
    depth: r.depth,
    searchMs: Math.round(t1 - t0),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(r.workerTimings ? { timings: [...r.workerTimings] } : {}),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

/**
 * What the machine gives now: wall time of the same pure computation on 1 thread and on N at
 * once (the ceiling of any speed-up with N workers while other work shares the cores).
 */
async function machineCeiling(n: number): Promise<number> {
  const code =
    "let x = 0; for (let i = 0; i < 3e8; i++) x = (x + i) | 0; require('node:worker_threads').parentPort.postMessage(x);";
  const run = async (k: number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: k },
        () =>
          new Promise<void>((resolve) => {
            const w = new Worker(code, { eval: true });
            w.on('message', () => {
              resolve();
              void w.terminate();
            });
          }),
      ),
    );
    return performance.now() - t0;
  };
  const one = await run(1);
  return (n * one) / (await run(n));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    await runOne(args[1]!, args[2]!, Number(args[3]));
    return;
  }
  const flag = (name: string): string | undefined =>
    args.includes(name) ? args[args.indexOf(name) + 1] : undefined;
  const counts = (flag('--workers') ?? '1,2').split(',').map(Number);
  const only = flag('--only');
  const list = [...BENCHES, ...(args.includes('--million') ? [MILLION] : [])].filter(
    (b) => !only || b.name === only,
  );
  console.log(
    `parallel search: ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; node ${process.version}`,
  );
  for (const w of counts.filter((c) => c > 1))
    console.log(
      `the machine now gives ${(await machineCeiling(w)).toFixed(2)}x to ${w} threads of pure computation`,
    );
  for (const b of list) {
    let base: Report | null = null;
    for (const w of counts) {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', b.spec, b.cfg, String(w)],
        { encoding: 'utf8', cwd: repoRoot, maxBuffer: 1 << 24 },
      );
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`${b.name} --workers ${w}: failed (exit ${child.status})\n${child.stderr.slice(-2000)}`);
        continue;
      }
      const r = JSON.parse(line) as Report;
      base ??= r;
      const same =
        r.distinctStates === base.distinctStates &&
        r.statesGenerated === base.statesGenerated &&
        r.depth === base.depth;
      const t = r.timings ?? [];
      const start = t.length ? Math.max(...t.map((x) => x.bootMs + x.loadMs + x.startWaitMs)) : 0;
      const idle = t.length ? t.reduce((a, x) => a + x.idleMs, 0) / t.reduce((a, x) => a + x.searchMs, 0) : 0;
      const moved = t.reduce((a, x) => a + x.moved, 0);
      console.log(
        `${b.name.padEnd(14)} --workers ${w}: ${r.result} ${r.distinctStates} distinct, ${r.statesGenerated} generated, ` +
          `depth ${r.depth}${same ? '' : ' (DIFFERENT FIGURES)'}; ${(r.searchMs / 1000).toFixed(2)} s wall ` +
          `(${(base.searchMs / r.searchMs).toFixed(2)}x), ${(r.cpuMs / 1000).toFixed(2)} s CPU ` +
          `(${(r.cpuMs / base.cpuMs).toFixed(2)}x one worker's), ${Math.round((r.distinctStates * 1000) / r.searchMs)} distinct/s` +
          (t.length
            ? `; workers: start-up (thread, model load) ${(start / 1000).toFixed(2)} s, idle ${(idle * 100).toFixed(0)}% of search, ${moved} states moved`
            : '') +
          `, peak RSS ${r.maxRssMiB} MiB`,
      );
    }
  }
}

await main();
