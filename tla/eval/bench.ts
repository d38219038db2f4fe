// Benchmark of the evaluator's hot path: next-state evaluations per second on the corpus
// model check-22 (Replication), from a few hundred states deep in its state space.
//   node --import tsx tla/eval/bench.ts [corpus-dir]
// The corpus is ../shared/tla-corpus beside the checkout unless given (or BUFFY_TLA_CORPUS).
// Prints figures; asserts nothing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadSpec } from '../parse/index.ts';
import { fingerprintState, modelValue, setOfValues } from '../values.ts';
import type { Value } from '../values.ts';
import { buildModel } from './index.ts';
import type { ConstantAssignment, State } from './index.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const corpus = path.resolve(
  process.argv[2] ?? process.env.BUFFY_TLA_CORPUS ?? path.join(repoRoot, '..', 'shared', 'tla-corpus'),
);
const file = path.join(corpus, 'check-22-bench-replication', 'Replication.tla');
if (!existsSync(file)) {
  process.stderr.write(
    `tla/eval/bench.ts: ${file} not found; give the corpus folder as the argument or in BUFFY_TLA_CORPUS\n`,
  );
  process.exit(2);
}
const spec = await loadSpec(file);
const constants = new Map<string, ConstantAssignment>([
  ['Backups', { kind: 'value', value: setOfValues(['b1', 'b2', 'b3'].map(modelValue)) }],
  ['MaxOps', { kind: 'value', value: 2 }],
]);
const m = buildModel(spec, constants);
const ctx = m.rootCtx;
const next = m.lookup('Next');

// Breadth-first to depth 14, then sample 500 states of that level.
const seen = new Set<bigint>();
let frontier: State[] = [];
m.initStates(m.lookup('Init'), ctx, (s) => {
  seen.add(fingerprintState(s));
  frontier.push(s);
});
for (let d = 0; d < 14; d++) {
  const level: State[] = [];
  for (const s of frontier) {
    m.successors(next, ctx, s, (t) => {
      const f = fingerprintState(t);
      if (!seen.has(f)) {
        seen.add(f);
        level.push(t);
      }
    });
  }
  frontier = level;
}
const step = Math.max(1, Math.floor(frontier.length / 500));
const sample = frontier.filter((_, i) => i % step === 0).slice(0, 500);

const timed = (label: string, ms: number, body: () => number): void => {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) n += body();
  const rate = Math.round((n / (performance.now() - t0)) * 1000);
  console.log(`${label}: ${rate.toLocaleString('en-US')}/s`);
};
let successors = 0;
timed('next-state evaluations (Next from one state)', 3000, () => {
  for (const s of sample) m.successors(next, ctx, s, () => void successors++);
  return sample.length;
});
const invariants = ['TypeOK', 'Consistent', 'CommittedDurable'].map((n) => m.lookup(n));
timed('invariant evaluations', 1500, () => {
  for (const s of sample) for (const e of invariants) m.evalState(e, ctx, s);
  return sample.length * invariants.length;
});
timed('state fingerprints (component hashes cached, as for unchanged variables)', 1000, () => {
  for (const s of sample) fingerprintState(s.map((v: Value) => v));
  return sample.length;
});
console.log(`(${sample.length} states at depth 15; ${seen.size} distinct states seen while sampling)`);
