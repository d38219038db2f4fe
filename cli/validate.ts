// Trace validation on the command line (issue 8, docs/trace-validation.md):
//
//   buffy sim APP ... --validate      each simulated run records its channels' protocol steps
//                                     and checks them against specs/Delivery.tla (the commit
//                                     tracker's against specs/Ack.tla, the workers' exactly-once
//                                     cores' against specs/Recovery.tla); a violation
//                                     fails the run (and prints the replay command)
//   buffy validate-log FILE...        checks protocol logs written by real processes
//                                     (`buffy node --protocol-log FILE`, npm run chaos)
//
// Exit 0: every step is a step of the spec; 1: a violation (or a log that cannot be read);
// 2: bad usage.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { SimOptions, SimReport } from '../runtime/sim/cluster.ts';
import { MemoryRecorder } from '../runtime/sim/record.ts';
import { formatViolation, parseProtocolLogs } from '../conformance/trace-validation.ts';
import { formatRunSummaries, validateRun } from '../conformance/trace-validation-run.ts';

/**
 * Wraps the simulator's run: with a recorder, then the records validated. A violation turns
 * the run's verdict to fail (so that --seeds counts it and --shrink shrinks it); `say` gets
 * the summary line and any violation in full.
 */
export function withValidation(
  run: (o: SimOptions) => Promise<SimReport>,
  say: (text: string) => void,
  replay: (o: SimOptions) => string,
  quiet: boolean,
): (o: SimOptions) => Promise<SimReport> {
  return async (o) => {
    const recorder = new MemoryRecorder();
    const report = await run({ ...o, recorder });
    const v = await validateRun(recorder.records);
    if (!quiet || v.violations.length > 0) {
      for (const line of formatRunSummaries(v)) say(`seed ${o.seed}: ${line}`);
      if (report.wallMs > 0)
        say(
          `seed ${o.seed}: validation of all protocols: ${Math.round(v.elapsedMs)} ms, ` +
            `${((100 * v.elapsedMs) / report.wallMs).toFixed(0)}% of the run's ${Math.round(report.wallMs)} ms`,
        );
    }
    if (v.violations.length === 0) return report;
    for (const x of v.violations.slice(0, 3)) say(formatViolation(x, o.seed));
    if (v.violations.length > 3) say(`(${v.violations.length - 3} more violations)`);
    say(`  replay: ${replay(o)} --validate`);
    const first = v.violations[0]!;
    return {
      ...report,
      verdict: 'fail',
      failures: [
        ...report.failures,
        `trace validation: ${first.instance}: step ${first.step}` +
          (first.cause
            ? ` (record ${first.cause.n}, ${first.cause.role} of ${first.cause.end}, ${first.cause.ev})`
            : '') +
          ` is not a step of ${first.spec}`,
      ],
    };
  };
}

export function registerValidateCommands(program: Command): void {
  program
    .command('validate-log')
    .description(
      'check protocol logs of real processes (buffy node --protocol-log FILE) step by step against specs/Delivery.tla, specs/Ack.tla and specs/Recovery.tla',
    )
    .argument('<files...>', 'the protocol logs (JSON lines), one per process, of one run')
    .action(async (files: string[]) => {
      const texts: { file: string; text: string }[] = [];
      for (const file of files) {
        try {
          texts.push({ file, text: readFileSync(file, 'utf8') });
        } catch (err) {
          process.stderr.write(`buffy validate-log: cannot read ${file}: ${(err as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
      }
      let records;
      try {
        records = parseProtocolLogs(texts);
      } catch (err) {
        process.stderr.write(`buffy validate-log: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const v = await validateRun(records);
      const [first, ...rest] = formatRunSummaries(v);
      process.stdout.write(`${files.length} logs, ${records.length} records: ${first}\n`);
      for (const line of rest) process.stdout.write(`${line}\n`);
      for (const x of v.violations) process.stdout.write(`${formatViolation(x)}\n`);
      process.exitCode = v.violations.length > 0 ? 1 : 0;
    });
}
