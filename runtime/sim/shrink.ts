// Shrinking a failing simulation (issue 8) and the schedule file that replays it.
//
// A run is a function of its options: the seed (which draws the input, the latencies, the
// disk's choices), the input length, the fault kinds and their parameters, and the fault
// schedule. Shrinking keeps the seed and cuts the rest down while the run still fails: the
// fault kinds (each dropped in turn with its events), the fault schedule (each event dropped
// in turn), the input (halved, then trimmed), then the fault parameters: each event's duration
// (a partition's, a down time, a lost control connection's) halved while it fails, power
// losses made plain crashes, the slow disk's and the clock skew's bounds halved. Every step is
// kept only when the run still fails. The result is written as a schedule file that
// `buffy sim --schedule FILE` replays (the same run: the same event-log hash): a synthetic
// stream and a fault schedule that reproduce the failure.
import { z } from 'zod';
import { SIM_FAULTS, SIM_MUTATIONS } from './cluster.ts';
import type { FaultEvent, SimFault, SimOptions, SimReport } from './cluster.ts';

export interface ShrinkResult {
  readonly options: SimOptions;
  readonly report: SimReport;
  /** Runs tried while shrinking. */
  readonly runs: number;
}

/** The fault kinds a schedule event belongs to. */
const EVENT_KINDS: Readonly<Record<FaultEvent['kind'], SimFault>> = {
  drop: 'drop',
  dup: 'dup',
  partition: 'partition',
  control: 'control',
  crash: 'crash',
  restart: 'restart',
};

/** An event's duration (ms), or null when it has none. */
function durationOf(e: FaultEvent): number | null {
  return e.kind === 'partition' || e.kind === 'control'
    ? e.forMs
    : e.kind === 'crash' || e.kind === 'restart'
      ? e.downMs
      : null;
}

function withDuration(e: FaultEvent, ms: number): FaultEvent {
  return e.kind === 'partition' || e.kind === 'control'
    ? { ...e, forMs: ms }
    : e.kind === 'crash' || e.kind === 'restart'
      ? { ...e, downMs: ms }
      : e;
}

/** Reduces a failing run's fault kinds, schedule, input and fault parameters; `budget`
 * bounds the runs tried. */
export async function shrink(
  failing: SimOptions,
  first: SimReport,
  run: (o: SimOptions) => Promise<SimReport>,
  budget = 120,
): Promise<ShrinkResult> {
  if (first.verdict !== 'fail') throw new Error('shrink: the run to shrink did not fail');
  let best: SimOptions = {
    ...failing,
    schedule: [...first.schedule],
    lines: first.lines,
    faults: [...first.faults],
  };
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
  // 1. The fault kinds: drop one at a time, with its events.
  for (const k of [...(best.faults ?? [])]) {
    if (runs >= budget) break;
    await tryRun({
      ...best,
      faults: (best.faults ?? []).filter((f) => f !== k),
      schedule: (best.schedule ?? []).filter((e) => EVENT_KINDS[e.kind] !== k),
    });
  }
  // 2. The fault schedule: drop one event at a time (from the last: later faults matter less).
  for (let i = (best.schedule ?? []).length - 1; i >= 0 && runs < budget; i--)
    await tryRun({ ...best, schedule: (best.schedule ?? []).filter((_, k) => k !== i) });
  // 3. The input: halve while it fails, then smaller steps.
  for (let step = Math.floor((best.lines ?? first.lines) / 2); step >= 1 && runs < budget;) {
    const shorter = (best.lines ?? first.lines) - step;
    if (!(shorter >= 1 && (await tryRun({ ...best, lines: shorter })))) step = Math.floor(step / 2);
  }
  // 4. Each event's parameters: its duration halved while it fails (down to 1 ms), a power
  //    loss made a plain crash.
  for (let i = 0; i < (best.schedule ?? []).length && runs < budget; i++) {
    const at = (o: SimOptions): FaultEvent => o.schedule![i]!;
    const replace = (e: FaultEvent): SimOptions => ({
      ...best,
      schedule: best.schedule!.map((x, k) => (k === i ? e : x)),
    });
    const e0 = at(best);
    if ((e0.kind === 'crash' || e0.kind === 'restart') && e0.powerLoss)
      await tryRun(replace({ ...e0, powerLoss: false }));
    for (;;) {
      const d = durationOf(at(best));
      if (d === null || d <= 1 || runs >= budget) break;
      if (!(await tryRun(replace(withDuration(at(best), Math.max(1, Math.floor(d / 2))))))) break;
    }
  }
  // 5. The fault kinds' rates: the slow disk's and the clock skew's bounds halved while it fails.
  for (const [key, fault, dflt] of [
    ['slowDiskMs', 'slow-disk', 20],
    ['clockSkewMs', 'clock-skew', 1000],
  ] as const) {
    while (runs < budget && (best.faults ?? []).includes(fault)) {
      const cur = best[key] ?? dflt;
      if (cur < 1) break;
      if (!(await tryRun({ ...best, [key]: Math.floor(cur / 2) }))) break;
    }
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
  slowDiskMs: z.number().nonnegative().optional(),
  clockSkewMs: z.number().nonnegative().optional(),
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
    ...(o.slowDiskMs !== undefined ? { slowDiskMs: o.slowDiskMs } : {}),
    ...(o.clockSkewMs !== undefined ? { clockSkewMs: o.clockSkewMs } : {}),
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
    ...(f.slowDiskMs !== undefined ? { slowDiskMs: f.slowDiskMs } : {}),
    ...(f.clockSkewMs !== undefined ? { clockSkewMs: f.clockSkewMs } : {}),
    schedule: f.schedule,
  };
}
