// Shrinking a failing simulation (issue 8) and the schedule file that replays it.
//
// A run is a function of its options: the seed (which draws the input, the latencies, the
// disk's choices), the input length and the fault schedule. Shrinking keeps the seed and cuts
// the rest down while the run still fails: first the fault schedule (each event dropped in
// turn, kept out when the run still fails), then the input (halved, then trimmed, while it
// still fails). The result is written as a schedule file that `buffy sim --schedule FILE`
// replays: a synthetic stream and a fault schedule that reproduce the failure.
import { z } from 'zod';
import { SIM_FAULTS, SIM_MUTATIONS } from './cluster.ts';
import type { FaultEvent, SimOptions, SimReport } from './cluster.ts';

export interface ShrinkResult {
  readonly options: SimOptions;
  readonly report: SimReport;
  /** Runs tried while shrinking. */
  readonly runs: number;
}

/** Reduces a failing run's schedule and input; `budget` bounds the runs tried. */
export async function shrink(
  failing: SimOptions,
  first: SimReport,
  run: (o: SimOptions) => Promise<SimReport>,
  budget = 80,
): Promise<ShrinkResult> {
  if (first.verdict !== 'fail') throw new Error('shrink: the run to shrink did not fail');
  let best: SimOptions = { ...failing, schedule: [...first.schedule], lines: first.lines };
  let bestReport = first;
  let runs = 0;
  const tryRun = async (o: SimOptions): Promise<boolean> => {
    if (runs >= budget) return false;
    runs++;
    const r = await run(o);
    if (r.verdict !== 'fail') return false;
    best = o;
    bestReport = r;
    return true;
  };
  // 1. The fault schedule: drop one event at a time (from the last: later faults matter less).
  let schedule: FaultEvent[] = [...(best.schedule ?? [])];
  for (let i = schedule.length - 1; i >= 0 && runs < budget; i--) {
    const without = schedule.filter((_, k) => k !== i);
    if (await tryRun({ ...best, schedule: without })) schedule = without;
  }
  // 2. The input: halve while it fails, then smaller steps.
  let lines = best.lines ?? first.lines;
  for (let step = Math.floor(lines / 2); step >= 1 && runs < budget;) {
    const shorter = lines - step;
    if (shorter >= 1 && (await tryRun({ ...best, lines: shorter }))) lines = shorter;
    else step = Math.floor(step / 2);
  }
  return { options: best, report: bestReport, runs };
}

const faultEventSchema = z.discriminatedUnion('kind', [
  z.object({
    atMs: z.number().nonnegative(),
    kind: z.enum(['drop', 'dup']),
    pair: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
  }),
  z.object({
    atMs: z.number().nonnegative(),
    kind: z.literal('partition'),
    side: z.array(z.number().int().nonnegative()),
    forMs: z.number().nonnegative(),
  }),
  z.object({
    atMs: z.number().nonnegative(),
    kind: z.literal('control'),
    worker: z.number().int().nonnegative(),
    forMs: z.number().nonnegative(),
  }),
  z.object({
    atMs: z.number().nonnegative(),
    kind: z.enum(['crash', 'restart']),
    worker: z.number().int().nonnegative(),
    downMs: z.number().nonnegative(),
    powerLoss: z.boolean(),
  }),
]);

const scheduleFileSchema = z.object({
  buffySim: z.literal(1),
  app: z.string().min(1),
  params: z.record(z.string(), z.string()).default({}),
  workers: z.number().int().min(1).max(64),
  seed: z.number().int(),
  lines: z.number().int().min(1),
  batchLines: z.number().int().min(1).optional(),
  intervalMs: z.number().nonnegative().optional(),
  faults: z.array(z.enum(SIM_FAULTS)),
  exactlyOnce: z.boolean(),
  durability: z.enum(['sync', 'batch', 'none']).optional(),
  mutation: z.enum(SIM_MUTATIONS).optional(),
  schedule: z.array(faultEventSchema),
  /** What the run that wrote the file found (for people; not used by the replay). */
  found: z.array(z.string()).optional(),
  hash: z.string().optional(),
});

type ScheduleFile = Omit<z.infer<typeof scheduleFileSchema>, 'schedule'> & {
  schedule: readonly FaultEvent[];
};

export class ScheduleFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleFileError';
  }
}

/** The file text for a run (JSON, one field per line at the top). */
export function scheduleFileText(o: SimOptions, r: SimReport): string {
  const f: ScheduleFile = {
    buffySim: 1,
    app: o.appPath,
    params: { ...(o.params ?? {}) },
    workers: o.workers,
    seed: o.seed,
    lines: r.lines,
    ...(o.batchLines !== undefined ? { batchLines: o.batchLines } : {}),
    ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
    faults: [...r.faults],
    exactlyOnce: r.exactlyOnce,
    ...(o.durability ? { durability: o.durability } : {}),
    ...(o.mutation ? { mutation: o.mutation } : {}),
    schedule: [...r.schedule],
    found: [...r.failures],
    hash: r.hash,
  };
  return `${JSON.stringify(f, null, 2)}\n`;
}

/** Parses a schedule file into the options that replay it; `where` names the file in errors. */
export function parseScheduleFile(text: string, where: string): SimOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ScheduleFileError(`${where}: not JSON (${(err as Error).message})`);
  }
  const r = scheduleFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ScheduleFileError(`${where}: ${i.path.join('.') || 'the file'}: ${i.message}`);
  }
  const f = r.data;
  for (const e of f.schedule) {
    const ws: readonly number[] =
      e.kind === 'partition' ? e.side : 'pair' in e ? e.pair : 'worker' in e ? [e.worker] : [];
    for (const w of ws)
      if (w >= f.workers)
        throw new ScheduleFileError(
          `${where}: a ${e.kind} at ${e.atMs} ms names worker index ${w}, but the run has ${f.workers} workers`,
        );
  }
  return {
    appPath: f.app,
    params: f.params,
    workers: f.workers,
    seed: f.seed,
    lines: f.lines,
    ...(f.batchLines !== undefined ? { batchLines: f.batchLines } : {}),
    ...(f.intervalMs !== undefined ? { intervalMs: f.intervalMs } : {}),
    faults: f.faults,
    exactlyOnce: f.exactlyOnce,
    ...(f.durability ? { durability: f.durability } : {}),
    ...(f.mutation ? { mutation: f.mutation } : {}),
    schedule: f.schedule,
  };
}
