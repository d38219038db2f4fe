// Throughput and memory of the built-in model checker (npm run bench:checker).
// Each model runs in its own child process so that peak RSS is that model's; when
// TLA2TOOLS_JAR names a jar (and java is on PATH), TLC (-workers 1) runs the same models.
// Flags: --million also checks a 1,000,000-state model (memory at a million states);
//        --only NAME runs one model.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../tla/check/model.ts';
import { check } from '../tla/check/checker.ts';
import { javaAvailable, runTlc, tlcJar } from '../tla/check/tlc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'tla-corpus');
const models = path.join(repoRoot, 'test', 'tla', 'check', 'models');

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
  loadMs: number;
  maxRssMiB: number;
  heapUsedMiB: number;
}

/** In the child: check one model and print a JSON report. */
async function runOne(spec: string, cfg: string): Promise<void> {
  const t0 = performance.now();
  const cm = await loadModel(spec, cfg);
  const t1 = performance.now();
  const r = check(cm);
  const t2 = performance.now();
  const report: ChildReport = {
    result: r.result,
    distinctStates: r.distinctStates,
    statesGenerated: r.statesGenerated,
    depth: r.depth,
    loadMs: Math.round(t1 - t0),
    checkMs: Math.round(t2 - t1),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

async function mainBench(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    await runOne(args[1]!, args[2]!);
    return;
  }
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const list = [...BENCHES, ...(args.includes('--million') ? [MILLION] : [])].filter(
    (b) => !only || b.name === only,
  );
  const useTlc = tlcJar() !== null && javaAvailable();
  console.log(
    `built-in checker${useTlc ? ' vs TLC (-workers 1)' : ' (TLA2TOOLS_JAR not set: TLC not run)'}; node ${process.version}`,
  );
  for (const b of list) {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', b.spec, b.cfg],
      {
        encoding: 'utf8',
        cwd: repoRoot,
        maxBuffer: 1 << 24,
      },
    );
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      console.log(`${b.name}: failed (exit ${child.status})\n${child.stderr.slice(-2000)}`);
      continue;
    }
    const r = JSON.parse(line) as ChildReport;
    const rate = Math.round((r.distinctStates * 1000) / Math.max(1, r.checkMs));
    console.log(
      `${b.name.padEnd(14)} ${r.result} ${r.distinctStates} distinct, ${r.statesGenerated} generated, depth ${r.depth}: ` +
        `${(r.checkMs / 1000).toFixed(2)} s check (+${r.loadMs} ms load), ${rate} distinct states/s, ` +
        `${Math.round((r.statesGenerated * 1000) / Math.max(1, r.checkMs))} generated/s, peak RSS ${r.maxRssMiB} MiB`,
    );
    if (useTlc) {
      const run = await runTlc({ specFile: b.spec, cfgFile: b.cfg });
      const o = run.outcome;
      const tlcRate =
        o.distinctStates !== null ? Math.round((o.distinctStates * 1000) / Math.max(1, run.durationMs)) : 0;
      console.log(
        `${''.padEnd(14)} TLC: ${o.result} ${o.distinctStates} distinct, ${o.statesGenerated} generated, depth ${o.depth}: ` +
          `${(run.durationMs / 1000).toFixed(2)} s wall (JVM start included), ${tlcRate} distinct states/s; ` +
          `built-in/TLC throughput ratio ${(rate / Math.max(1, tlcRate)).toFixed(2)}`,
      );
    }
  }
}

await mainBench();
