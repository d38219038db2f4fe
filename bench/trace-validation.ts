// The cost of trace validation (issue 8): simulated 3-worker word counts under every network
// and process fault, each run without a recorder, with one, and its records validated against
// specs/Delivery.tla (the commit tracker's against specs/Ack.tla, the workers' exactly-once cores' against specs/Recovery.tla). Prints per seed the run's wall time both ways, the records, the steps
// checked, the validation time, ms per 1,000 steps and validation's share of the run; then the
// totals (the first validation includes loading the spec, reported apart). Times are CPU time
// of this process (user + system): on a shared machine wall time says more about the neighbours.
//
//   node --import tsx --conditions=buffy-source bench/trace-validation.ts [--seeds A..B] [--lines N] [--warm K]
//
// --warm K: the first K seeds are reported but not summed (default 1: loading the specs). The
// validator's code warms up over the first few seeds as the simulator's does (the JIT); a soak
// of many seeds runs warm, so `--seeds 1..40 --warm 10` measures what a long run pays per seed.
// The load averages of the machine are printed before and after (a shared machine).
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { simulate } from '../runtime/sim/cluster.ts';
import type { SimFault, SimOptions } from '../runtime/sim/cluster.ts';
import { MemoryRecorder } from '../runtime/sim/record.ts';
import { validateRecords } from '../conformance/trace-validation.ts';
import { validateAckRecords } from '../conformance/trace-validation-ack.ts';
import { validateRecovery } from '../conformance/trace-validation-recovery.ts';

const APP = fileURLToPath(new URL('../examples/word-count.ts', import.meta.url));
const FAULTS: SimFault[] = ['drop', 'dup', 'reorder', 'partition', 'crash', 'restart'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : (process.argv[i + 1] ?? fallback);
}

const m = /^(\d+)\.\.(\d+)$/.exec(arg('--seeds', '1..10'));
if (!m) {
  process.stderr.write('bench/trace-validation: --seeds A..B\n');
  process.exit(2);
}
const lines = Number(arg('--lines', '300'));
const warm = Number(arg('--warm', '1'));
const base = (seed: number): SimOptions => ({
  appPath: APP,
  params: { top: '0', partitions: '16' },
  workers: 3,
  seed,
  lines,
  faults: FAULTS,
});

let runMs = 0;
let recordedMs = 0;
let validateMs = 0;
let steps = 0;
let records = 0;
let first: number | null = null;
let warming = 0;
/** The ack tracker's records against specs/Ack.tla (after the first seed). */
let ackMs = 0;
let ackSteps = 0;
/** The workers' exactly-once records against specs/Recovery.tla (after the first seed). */
let recoveryMs = 0;
let recoverySteps = 0;
const w = (s: string): boolean => process.stdout.write(`${s}\n`);
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
w(`seeds ${m[1]}..${m[2]}, ${lines} lines, faults ${FAULTS.join(',')}; load average ${load()}`);
const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
for (let seed = Number(m[1]); seed <= Number(m[2]); seed++) {
  const t0 = cpuMs();
  await simulate(base(seed));
  const t1 = cpuMs();
  const recorder = new MemoryRecorder();
  await simulate({ ...base(seed), recorder });
  const t2 = cpuMs();
  const v = await validateRecords(recorder.records);
  const t3 = cpuMs();
  const a = await validateAckRecords(recorder.records);
  const t4 = cpuMs();
  const r = await validateRecovery(recorder.records);
  const t5 = cpuMs();
  const bad = v.violations.length + a.violations.length + r.violations.length;
  if (bad > 0) w(`seed ${seed}: ${bad} VIOLATIONS`);
  const vm = t3 - t2;
  w(
    `seed ${seed}: run ${(t1 - t0).toFixed(0)} ms CPU, recorded ${(t2 - t1).toFixed(0)} ms, ${recorder.records.length} records, ` +
      `${v.steps} steps validated in ${vm.toFixed(0)} ms (${((1000 * vm) / Math.max(1, v.steps)).toFixed(0)} ms per 1,000 steps, ` +
      `${((100 * vm) / (t2 - t1)).toFixed(0)}% of the recorded run); Ack: ${a.steps} steps in ${(t4 - t3).toFixed(0)} ms; ` +
      `Recovery: ${r.steps} steps in ${(t5 - t4).toFixed(0)} ms`,
  );
  first ??= vm;
  if (warming++ < warm) continue; // loading the spec and warming up: reported, not averaged
  ackMs += t4 - t3;
  ackSteps += a.steps;
  recoveryMs += t5 - t4;
  recoverySteps += r.steps;
  runMs += t1 - t0;
  recordedMs += t2 - t1;
  validateMs += vm;
  steps += v.steps;
  records += recorder.records.length;
}
w(
  `load average ${load()}; after the first ${warm === 1 ? 'seed' : `${warm} seeds`} (the first took ${first?.toFixed(0)} ms to validate, spec loading included): ` +
    `${steps} steps from ${records} records validated in ${validateMs.toFixed(0)} ms: ` +
    `${((1000 * validateMs) / Math.max(1, steps)).toFixed(0)} ms per 1,000 steps; ` +
    `runs ${runMs.toFixed(0)} ms without a recorder, ${recordedMs.toFixed(0)} ms with one ` +
    `(recording ${(((recordedMs - runMs) / runMs) * 100).toFixed(0)}%); validation ${((100 * validateMs) / recordedMs).toFixed(0)}% of the recorded runs`,
);
w(
  `Ack (the commit tracker): ${ackSteps} steps validated in ${ackMs.toFixed(0)} ms: ` +
    `${((1000 * ackMs) / Math.max(1, ackSteps)).toFixed(0)} ms per 1,000 steps, ${((100 * ackMs) / recordedMs).toFixed(0)}% of the recorded runs`,
);
w(
  `Recovery (the workers' exactly-once cores): ${recoverySteps} steps validated in ${recoveryMs.toFixed(0)} ms: ` +
    `${((1000 * recoveryMs) / Math.max(1, recoverySteps)).toFixed(0)} ms per 1,000 steps, ${((100 * recoveryMs) / recordedMs).toFixed(0)}% of the recorded runs`,
);
const allMs = validateMs + ackMs + recoveryMs;
w(
  `all three: ${steps + ackSteps + recoverySteps} steps in ${allMs.toFixed(0)} ms: ` +
    `${((1000 * allMs) / Math.max(1, steps + ackSteps + recoverySteps)).toFixed(0)} ms per 1,000 steps, ${((100 * allMs) / recordedMs).toFixed(0)}% of the recorded runs`,
);
