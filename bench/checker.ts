// Throughput and memory of the built-in model checker (npm run bench:checker).
// Each model runs in its own child process so that peak RSS is that model's; when
// TLA2TOOLS_JAR names a jar (and java is on PATH), TLC (-workers 1) runs the same models.
//
// The child runs the checker compiled by tsc (as `buffy check` runs it from dist/), built into
// node_modules/.cache/buffy-bench-checker/ first; --sources runs the TypeScript sources
// through tsx instead (what `buffy` does in a checkout whose dist/ is stale: tsx keeps every
// function's name, which costs the evaluator's closures up to 1.6x).
//
// Figures: wall time of the check (the built-in checker's load and parse excluded, TLC's JVM
// start included, as TLC reports it) and CPU time (user + sys) of each whole process, from
// the kernel's accounting of finished children (/proc, Linux): on a shared machine the wall
// figures follow the load, the CPU figures much less. Both ratios are printed.
//
// Flags: --million also checks a 1,000,000-state model (memory at a million states);
//        --only NAME runs one model (several --only flags run several);
//        --sources runs the sources through tsx.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../tla/check/model.ts';
import { check } from '../tla/check/checker.ts';
import { javaAvailable, runTlc, tlcJar } from '../tla/check/tlc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// Compiled, this file is <cache>/out/bench/checker.js: the repository is found from the cache.
const repoRoot = here.includes(`${path.sep}node_modules${path.sep}`)
  ? here.slice(0, here.indexOf(`${path.sep}node_modules${path.sep}`))
  : path.resolve(here, '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'tla-corpus');
const models = path.join(repoRoot, 'test', 'tla', 'check', 'models');
const benchModels = path.join(repoRoot, 'bench', 'models');

interface Bench {
  name: string;
  spec: string;
  cfg: string;
}

const BENCHES: Bench[] = [
  {
    name: 'replication',
    spec: path.join(corpus, 'check-22-bench-replication', 'Replication.tla'),
    cfg: path.join(corpus, 'check-22-bench-replication', 'Replication.cfg'),
  },
  {
    // The same model reduced by SYMMETRY over 3 backups (permuted fingerprints).
    name: 'replication-symmetry',
    spec: path.join(corpus, 'check-22-bench-replication', 'Replication.tla'),
    cfg: path.join(corpus, 'check-22-bench-replication', 'ReplicationSym.cfg'),
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
  // Large models in the styles of real protocols (bench/models/).
  {
    // PlusCal-style: a pc function, locals as functions, one EXCEPT per assignment (808,800 states).
    name: 'bakery',
    spec: path.join(benchModels, 'Bakery.tla'),
    cfg: path.join(benchModels, 'Bakery.cfg'),
  },
  {
    // Lossy FIFO channels as sequences (Append, Head, Tail, SubSeq, \o).
    name: 'sliding-window',
    spec: path.join(benchModels, 'SlidingWindow.tla'),
    cfg: path.join(benchModels, 'SlidingWindow.cfg'),
  },
  {
    // A growing set of message records, functions per acceptor, quorum invariants.
    name: 'paxos',
    spec: path.join(benchModels, 'Paxos.tla'),
    cfg: path.join(benchModels, 'Paxos.cfg'),
  },
];
const MILLION: Bench = {
  name: 'counters-1M',
  spec: path.join(models, 'Counters.tla'),
  cfg: path.join(models, 'CountersMillion.cfg'),
};

interface ChildReport {
  result: string;
  distinctStates: number;
  statesGenerated: number;
  depth: number;
  checkMs: number;
  /** CPU time (user + sys) of the check alone. */
  checkCpuMs: number;
  loadMs: number;
  maxRssMiB: number;
  heapUsedMiB: number;
}

/** In the child: check one model and print a JSON report. */
async function runOne(spec: string, cfg: string): Promise<void> {
  const t0 = performance.now();
  const cm = await loadModel(spec, cfg);
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const r = check(cm);
  const c2 = process.cpuUsage(c1);
  const t2 = performance.now();
  const report: ChildReport = {
    result: r.result,
    distinctStates: r.distinctStates,
    statesGenerated: r.statesGenerated,
    depth: r.depth,
    loadMs: Math.round(t1 - t0),
    checkMs: Math.round(t2 - t1),
    checkCpuMs: Math.round((c2.user + c2.system) / 1000),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

/** Clock ticks per second of /proc's times (sysconf CLK_TCK). */
function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/**
 * CPU time (ms, user + sys) of this process's finished and waited-for children, from
 * /proc/self/stat (cutime, cstime); null where there is no /proc.
 */
function childrenCpuMs(ticks: number): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5); f[0] is field 3.
    return ((Number(f[13]) + Number(f[14])) * 1000) / ticks;
  } catch {
    return null;
  }
}

const CACHE = path.join(repoRoot, 'node_modules', '.cache', 'buffy-bench-checker');

/**
 * Compiles tla/ and this script with tsc (incrementally) into CACHE/out, with the TLA+
 * standard modules beside the compiled parser; returns the compiled script.
 */
function compileChecker(): string {
  mkdirSync(CACHE, { recursive: true });
  const rel = path.relative(CACHE, repoRoot).split(path.sep).join('/');
  const tsconfig = {
    extends: `${rel}/tsconfig.build.json`,
    compilerOptions: {
      outDir: 'out',
      rootDir: rel,
      declaration: false,
      incremental: true,
      tsBuildInfoFile: 'out/.tsbuildinfo',
    },
    include: [`${rel}/tla`, `${rel}/bench/checker.ts`],
    exclude: [`${rel}/**/*.test.ts`, `${rel}/tla/eval/bench.ts`],
  };
  writeFileSync(path.join(CACHE, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2) + '\n');
  const tsc = path.join(
    path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
    'bin',
    'tsc',
  );
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(CACHE, 'tsconfig.json')], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(
      `bench:checker: compiling the checker with tsc failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}\nFix the type errors, or run with --sources.`,
    );
  }
  const lib = path.join(CACHE, 'out', 'tla', 'lib');
  mkdirSync(lib, { recursive: true });
  for (const name of readdirSync(path.join(repoRoot, 'tla', 'lib'))) {
    if (name.endsWith('.tla')) copyFileSync(path.join(repoRoot, 'tla', 'lib', name), path.join(lib, name));
  }
  return path.join(CACHE, 'out', 'bench', 'checker.js');
}

function ratio(a: number | null, b: number | null): string {
  return a !== null && b !== null && b > 0 ? (a / b).toFixed(2) : '-';
}

async function mainBench(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    await runOne(args[1]!, args[2]!);
    return;
  }
  const only = args.flatMap((a, i) => (a === '--only' && args[i + 1] ? [args[i + 1]!] : []));
  const list = [...BENCHES, ...(args.includes('--million') ? [MILLION] : [])].filter(
    (b) => only.length === 0 || only.includes(b.name),
  );
  if (list.length === 0) {
    console.error(
      `bench:checker: no model named ${only.join(', ')}; the models are ${[...BENCHES, MILLION].map((b) => b.name).join(', ')}`,
    );
    process.exitCode = 2;
    return;
  }
  const sources = args.includes('--sources');
  const childArgs = sources ? ['--import', 'tsx', fileURLToPath(import.meta.url)] : [compileChecker()];
  const useTlc = tlcJar() !== null && javaAvailable();
  const ticks = clockTicks();
  console.log(
    `built-in checker (${sources ? 'TypeScript sources through tsx' : 'compiled by tsc, as dist/ runs it'})` +
      `${useTlc ? ' vs TLC (-workers 1)' : ' (TLA2TOOLS_JAR not set: TLC not run)'}; node ${process.version}; ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(2)} at the start`,
  );
  for (const b of list) {
    const cpu0 = childrenCpuMs(ticks);
    const child = spawnSync(process.execPath, [...childArgs, '--one', b.spec, b.cfg], {
      encoding: 'utf8',
      cwd: repoRoot,
      maxBuffer: 1 << 24,
    });
    const cpu1 = childrenCpuMs(ticks);
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      console.log(`${b.name}: failed (exit ${child.status})\n${child.stderr.slice(-2000)}`);
      continue;
    }
    const r = JSON.parse(line) as ChildReport;
    const cpuMs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
    const rate = Math.round((r.distinctStates * 1000) / Math.max(1, r.checkMs));
    const perMillion = r.distinctStates > 0 ? Math.round((r.maxRssMiB * 1e6) / r.distinctStates) : 0;
    console.log(
      `${b.name.padEnd(14)} ${r.result} ${r.distinctStates} distinct, ${r.statesGenerated} generated, depth ${r.depth}: ` +
        `${(r.checkMs / 1000).toFixed(2)} s check (+${r.loadMs} ms load), ${rate} distinct states/s, ` +
        `${Math.round((r.statesGenerated * 1000) / Math.max(1, r.checkMs))} generated/s; ` +
        `CPU ${(r.checkCpuMs / 1000).toFixed(2)} s check, ${cpuMs !== null ? (cpuMs / 1000).toFixed(2) : '-'} s process; ` +
        `peak RSS ${r.maxRssMiB} MiB (${perMillion} MiB per million distinct states); load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    if (useTlc) {
      const t0 = childrenCpuMs(ticks);
      const run = await runTlc({ specFile: b.spec, cfgFile: b.cfg });
      const t1 = childrenCpuMs(ticks);
      const tlcCpuMs = t0 !== null && t1 !== null ? t1 - t0 : null;
      const o = run.outcome;
      const tlcRate =
        o.distinctStates !== null ? Math.round((o.distinctStates * 1000) / Math.max(1, run.durationMs)) : 0;
      const same =
        o.result === r.result &&
        o.distinctStates === r.distinctStates &&
        o.statesGenerated === r.statesGenerated;
      console.log(
        `${''.padEnd(14)} TLC: ${o.result} ${o.distinctStates} distinct, ${o.statesGenerated} generated, depth ${o.depth}: ` +
          `${(run.durationMs / 1000).toFixed(2)} s wall (JVM start included), ${tlcRate} distinct states/s, ` +
          `CPU ${tlcCpuMs !== null ? (tlcCpuMs / 1000).toFixed(2) : '-'} s process${same ? '' : ' (RESULTS DIFFER)'}; ` +
          `built-in/TLC throughput ratio: wall ${(rate / Math.max(1, tlcRate)).toFixed(2)}, ` +
          `CPU ${ratio(tlcCpuMs, cpuMs)}`,
      );
    }
  }
}

await mainBench();
