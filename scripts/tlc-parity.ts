// Parity between the built-in checker and TLC (npm run test:tlc-parity): both engines on
// every model of the repository (specs/*.cfg and the corpus in ../shared/tla-corpus); fails
// on any difference in verdict, or in distinct states and depth where the search completes
// (violations stop early, so their counts depend on exploration order and are not compared;
// their names and, for safety violations, their shortest-trace lengths are).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../tla/check/model.ts';
import { check } from '../tla/check/checker.ts';
import { javaAvailable, runTlc, tlcJar } from '../tla/check/tlc.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'tla-corpus');

interface Pair {
  spec: string;
  cfg: string;
}

function specPairs(): Pair[] {
  const dir = path.join(repoRoot, 'specs');
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir);
  const modules = files.filter((f) => f.endsWith('.tla')).map((f) => f.slice(0, -4));
  const out: Pair[] = [];
  for (const cfg of files.filter((f) => f.endsWith('.cfg')).sort()) {
    const base = cfg.slice(0, -4);
    // X.cfg, X_Name.cfg and X-Name.cfg belong to X.tla (the longest module name that fits).
    const mod = modules
      .filter((m) => base === m || base.startsWith(`${m}_`) || base.startsWith(`${m}-`))
      .sort((a, b) => b.length - a.length)[0];
    if (mod) out.push({ spec: path.join(dir, `${mod}.tla`), cfg: path.join(dir, cfg) });
  }
  return out;
}

function corpusPairs(): Pair[] {
  if (!existsSync(corpus)) return [];
  const out: Pair[] = [];
  for (const d of readdirSync(corpus).sort()) {
    const f = path.join(corpus, d, 'expected.json');
    if (!existsSync(f)) continue;
    const j = JSON.parse(readFileSync(f, 'utf8')) as
      { model: string; config: string } | { model: string; config: string }[];
    for (const e of Array.isArray(j) ? j : [j]) {
      // TLC reads ASCII only: Unicode modules are compared through their ascii/ transliteration.
      const ascii = path.join(corpus, d, 'ascii', e.model);
      const spec = existsSync(ascii) ? ascii : path.join(corpus, d, e.model);
      out.push({ spec, cfg: path.join(path.dirname(spec), e.config) });
    }
  }
  return out;
}

async function main(): Promise<number> {
  const jar = tlcJar();
  if (!jar) {
    console.error(
      'tlc-parity: TLA2TOOLS_JAR is not set to a readable tla2tools.jar; nothing to compare. Set it and run again.',
    );
    return 2;
  }
  if (!javaAvailable()) {
    console.error('tlc-parity: java is not on PATH; install a JRE (11 or later) to run TLC.');
    return 2;
  }
  const pairs = [...specPairs(), ...corpusPairs()];
  let failures = 0;
  for (const p of pairs) {
    const label = path.relative(path.resolve(repoRoot, '..'), p.cfg);
    const diffs: string[] = [];
    let builtin: {
      result: string;
      distinctStates: number | null;
      depth: number | null;
      name: string | null;
      traceLength: number | null;
      kind: string | null;
    };
    try {
      const r = check(await loadModel(p.spec, p.cfg));
      builtin = {
        result: r.result,
        distinctStates: r.distinctStates,
        depth: r.depth,
        name: r.violation?.name ?? null,
        traceLength: r.violation?.trace.steps.length ?? null,
        kind: r.violation?.kind ?? null,
      };
    } catch {
      builtin = {
        result: 'error',
        distinctStates: null,
        depth: null,
        name: null,
        traceLength: null,
        kind: null,
      };
    }
    const run = await runTlc({ specFile: p.spec, cfgFile: p.cfg, jar });
    const t = run.outcome;
    if (builtin.result !== t.result) diffs.push(`verdict: built-in ${builtin.result}, TLC ${t.result}`);
    else if (t.result === 'ok') {
      if (builtin.distinctStates !== t.distinctStates)
        diffs.push(`distinct states: built-in ${builtin.distinctStates}, TLC ${t.distinctStates}`);
      if (builtin.depth !== t.depth) diffs.push(`depth: built-in ${builtin.depth}, TLC ${t.depth}`);
    } else if (t.violation) {
      if (t.violation.name && t.violation.kind === 'invariant' && builtin.name !== t.violation.name) {
        diffs.push(`violated: built-in ${builtin.name}, TLC ${t.violation.name}`);
      }
      if (t.violation.kind !== 'liveness' && builtin.traceLength !== t.trace.length) {
        diffs.push(`trace length: built-in ${builtin.traceLength}, TLC ${t.trace.length}`);
      }
    }
    if (diffs.length > 0) {
      failures++;
      console.log(`DIFF ${label}: ${diffs.join('; ')}`);
    } else {
      console.log(
        `same ${label}: ${t.result}${t.result === 'ok' ? ` (${t.distinctStates} distinct, depth ${t.depth})` : ''}`,
      );
    }
  }
  console.log(`${pairs.length} models, ${failures} with differences`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main();
