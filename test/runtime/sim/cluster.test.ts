// The simulator (runtime/sim/cluster.ts): a 3-worker word count in one process. A run is a
// function of its seed (same seed, same event-log hash); the checks report what a crash does to
// an at-least-once run (state lost, outputs missing or twice); exactly-once runs pass under
// every fault kind; deliberately broken variants are found within a few seeds and shrunk to a
// schedule file that replays the failure.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SIM_FAULTS, drawSchedule, simulate } from '../../../runtime/sim/cluster.ts';
import type { SimOptions, SimReport } from '../../../runtime/sim/cluster.ts';
import { parseScheduleFile, scheduleFileText, shrink } from '../../../runtime/sim/shrink.ts';
import { SimScheduler, WorkerClock } from '../../../runtime/sim/scheduler.ts';
import { MemoryRecorder } from '../../../runtime/sim/record.ts';

const APP = fileURLToPath(new URL('../../../examples/word-count.ts', import.meta.url));
const base = (seed: number, extra: Partial<SimOptions> = {}): SimOptions => ({
  appPath: APP,
  params: { top: '0', partitions: '16' },
  workers: 3,
  seed,
  lines: 160,
  ...extra,
});

/** The first seed in [from, to] whose run fails, with its report. */
async function firstFailing(
  from: number,
  to: number,
  extra: Partial<SimOptions>,
): Promise<{ seed: number; report: SimReport } | null> {
  for (let seed = from; seed <= to; seed++) {
    const report = await simulate(base(seed, extra));
    if (report.verdict === 'fail') return { seed, report };
  }
  return null;
}

describe('SimScheduler', () => {
  it('runs timers in order of due time, then creation; a dead owner’s timers never run', () => {
    const s = new SimScheduler();
    const owner = { alive: true };
    const c = new WorkerClock(s, owner);
    const seen: string[] = [];
    s.setTimer(5, () => seen.push('a5'));
    c.setTimer(1, () => seen.push('w1'));
    s.setTimer(1, () => seen.push('b1'));
    c.setTimer(3, () => seen.push('w3'));
    const h = s.setTimer(2, () => seen.push('cancelled'));
    s.clearTimer(h);
    expect(s.runNext()).toBe(true);
    expect(s.runNext()).toBe(true);
    owner.alive = false;
    while (s.runNext());
    expect(seen).toEqual(['w1', 'b1', 'a5']);
    expect(s.monotonicMs()).toBe(5);
  });
});

describe('buffy sim: the simulated cluster', () => {
  it('is a function of its seed: the same seed gives the same event log, another seed another', async () => {
    const faults = [...SIM_FAULTS];
    const a = await simulate(base(11, { faults }));
    const b = await simulate(base(11, { faults }));
    const c = await simulate(base(12, { faults }));
    expect(a.hash).toBe(b.hash);
    expect(a.events).toBe(b.events);
    expect(a.simMs).toBe(b.simMs);
    expect(c.hash).not.toBe(a.hash);
  });

  it('draws a fault schedule from the seed, within the fault window, over the kinds asked for', () => {
    const s = drawSchedule(5, 3, ['crash', 'partition'], 1000);
    expect(s).toEqual(drawSchedule(5, 3, ['crash', 'partition'], 1000));
    expect(s.length).toBeGreaterThan(0);
    for (const e of s) {
      expect(['crash', 'partition']).toContain(e.kind);
      expect(e.atMs).toBeGreaterThanOrEqual(0);
      expect(e.atMs).toBeLessThanOrEqual(1000);
    }
    expect(drawSchedule(5, 3, ['reorder', 'torn-write'], 1000)).toEqual([]);
  });

  it('at-least-once: passes without faults; a crash loses state or writes twice, and the checks say so', async () => {
    const clean = await simulate(base(3, { exactlyOnce: false }));
    expect(clean.failures).toEqual([]);
    const found = await firstFailing(1, 6, { exactlyOnce: false, faults: ['crash', 'restart'] });
    expect(found, 'a crash of an at-least-once run must be caught within 6 seeds').not.toBeNull();
    const f = found!.report.failures.join('\n');
    expect(f).toMatch(/state "counts": \d+ of \d+ keys differ|outputs missing|more than once/);
    expect((found!.report.injected.crash ?? 0) + (found!.report.injected.restart ?? 0)).toBeGreaterThan(0);
  });

  it('checkpoints stop a run at the first output written more often than the fault-free run wrote it', async () => {
    const r = await simulate(base(3, { exactlyOnce: false, faults: ['crash', 'restart'], lines: 300 }));
    expect(r.failures[0]).toMatch(
      /^checkpoint at [\d.]+ simulated ms: sink "updates" on w\d holds ".+" (once|\d+ times), the fault-free run produced it (never|once|\d+ times)$/,
    );
  });

  it('exactly-once: passes under every fault kind, and faults were injected', async () => {
    const injected: Record<string, number> = {};
    for (let seed = 1; seed <= 10; seed++) {
      const r = await simulate(base(seed, { faults: [...SIM_FAULTS] }));
      expect(r.failures, `seed ${seed}`).toEqual([]);
      for (const [k, v] of Object.entries(r.injected)) injected[k] = (injected[k] ?? 0) + v;
    }
    for (const k of ['drop', 'dup', 'partition', 'crash', 'restart', 'control'])
      expect(injected[k] ?? 0, `${k} injected over 10 seeds`).toBeGreaterThan(0);
  });

  it("the data channels run buffy node's timers on the simulated clock: one delayed ACK answers several frames", async () => {
    const recorder = new MemoryRecorder();
    for (let seed = 1; seed <= 4; seed++) {
      const r = await simulate(base(seed, { recorder, faults: [...SIM_FAULTS] }));
      expect(r.failures, `seed ${seed}`).toEqual([]);
    }
    const count = (ev: string): number =>
      recorder.records.filter((x) => x.p === 'delivery' && x.ev === ev).length;
    const received = count('ReceiveData');
    expect(received).toBeGreaterThan(50);
    // Without the channels' clock each frame consumed is acknowledged at once (one ACK per frame);
    // with DATA_ACK_DELAY_MS the frames consumed within a few ms (a resend after a reconnect, a
    // backlog after a slow disk) share one.
    expect(count('Acknowledge')).toBeLessThan(received * 0.8);
  });

  it('the control plane: a lost control connection and a crashed initializer (its coordinator with it) are survived', async () => {
    const log: string[] = [];
    const r = await simulate(
      base(5, {
        faults: ['control', 'crash'],
        // w2 loses its control connection while the input flows (its progress reports are
        // lost), then, after the input was read, the initializer w1 crashes: its coordinator
        // starts afresh and, with no new input to report, must
        // learn every worker's durable watermarks from their registrations again.
        schedule: [
          { atMs: 20, kind: 'control', worker: 1, forMs: 150 },
          { atMs: 400, kind: 'crash', worker: 0, downMs: 80, powerLoss: false },
        ],
        onEvent: (l) => log.push(l),
      }),
    );
    expect(r.failures).toEqual([]);
    expect(r.injected.control).toBe(1);
    const text = log.join('\n');
    expect(text).toMatch(/progress w2 \{.*\} lost \(control connection down\)/);
    expect(text).toMatch(/coordinator down \(the initializer w1 crashed\)/);
    expect(text).toMatch(/coordinator up \(the initializer w1 restarted\)/);
    expect(text).toMatch(/register w3 again \(the coordinator restarted\) durable/);
    expect(text).toMatch(/register w2 again \((its control connection is back|the coordinator restarted)\)/);
  });

  it('exactly-once with more workers than partitions: the workers that own none hold no commit back', async () => {
    const r = await simulate(
      base(2, { workers: 6, params: { top: '0', partitions: '4' }, lines: 60, faults: ['crash'] }),
    );
    expect(r.failures).toEqual([]);
  });

  // Each deliberately broken variant: found within 15 seeds under every fault kind, shrunk
  // (fault kinds, events, input, then the events' durations and the kinds' rates), and the
  // written schedule file replays the failure with the same event-log hash.
  const mutants: ReadonlyArray<[SimOptions['mutation'] & string, string]> = [
    ['commit-early', 'an early commit (the source acknowledged before the workers made it durable)'],
    ['no-dedup', 'a broken dedup (a recovering worker forgets its watermarks)'],
    ['store-not-atomic', 'a non-atomic store write'],
  ];
  for (const [mutation, what] of mutants) {
    it(`finds ${what}, shrinks it, and the schedule file replays the failure`, async () => {
      const extra: Partial<SimOptions> = { faults: [...SIM_FAULTS], mutation };
      const found = await firstFailing(1, 15, extra);
      expect(found, `${mutation}: no failing seed in 1..15`).not.toBeNull();
      const s = await shrink(base(found!.seed, extra), found!.report, simulate, 60);
      expect(s.report.verdict).toBe('fail');
      expect(s.report.schedule.length).toBeLessThanOrEqual(found!.report.schedule.length);
      expect(s.report.lines).toBeLessThanOrEqual(found!.report.lines);
      // Fewer fault kinds: what is left is what the failure needs.
      expect(s.report.faults.length).toBeLessThan(SIM_FAULTS.length);
      for (const e of s.report.schedule) expect(s.report.faults).toContain(e.kind);
      const file = scheduleFileText(s.options, s.report);
      const replayed = await simulate(parseScheduleFile(file, 'shrunk.json'));
      expect(replayed.verdict).toBe('fail');
      expect(replayed.hash).toBe(s.report.hash);
    });
  }

  it('shrinking lowers the fault parameters: fewer kinds, durations halved, power loss off', async () => {
    // An early commit with one long crash under power loss, a slow disk and clock skew: what
    // the failure needs is the crash, neither long nor with power loss.
    const o = base(1, {
      faults: ['crash', 'fsync-loss', 'slow-disk', 'clock-skew'],
      mutation: 'commit-early',
      durability: 'batch',
      schedule: [{ atMs: 60, kind: 'crash', worker: 1, downMs: 1200, powerLoss: true }],
    });
    const first = await simulate(o);
    expect(first.verdict, 'the starting run must fail').toBe('fail');
    const s = await shrink(o, first, simulate, 60);
    expect(s.report.verdict).toBe('fail');
    expect(s.options.faults).toEqual(['crash']);
    expect(s.options.schedule).toHaveLength(1);
    const e = s.options.schedule![0]!;
    expect(e.kind).toBe('crash');
    if (e.kind !== 'crash') return;
    expect(e.downMs).toBeLessThan(1200);
    expect(e.powerLoss).toBe(false);
    const replayed = await simulate(parseScheduleFile(scheduleFileText(s.options, s.report), 'p.json'));
    expect(replayed.hash).toBe(s.report.hash);
  });

  it('shrinking halves the slow disk and clock skew bounds while the run still fails', async () => {
    // The shrinker's logic on a stand-in run that fails while slow-disk is on with commits of
    // at least 3 ms and clock-skew with offsets of at least 100 ms (a partition event is
    // needed too; the input is not).
    const fake = async (x: SimOptions): Promise<SimReport> => {
      const fails =
        (x.faults ?? []).includes('slow-disk') &&
        (x.slowDiskMs ?? 20) >= 3 &&
        (x.faults ?? []).includes('clock-skew') &&
        (x.clockSkewMs ?? 1000) >= 100 &&
        (x.schedule ?? []).some((e) => e.kind === 'partition' && e.forMs >= 40);
      return {
        ...first,
        verdict: fails ? 'fail' : 'pass',
        faults: x.faults ?? [],
        schedule: x.schedule ?? [],
        lines: x.lines ?? 300,
      };
    };
    const o = base(1, {
      faults: ['partition', 'slow-disk', 'clock-skew', 'reorder'],
      schedule: [
        { atMs: 5, kind: 'partition', side: [0], forMs: 400 },
        { atMs: 9, kind: 'partition', side: [1], forMs: 300 },
      ],
    });
    const first: SimReport = {
      seed: 1,
      workers: 3,
      lines: 160,
      faults: o.faults!,
      schedule: o.schedule!,
      exactlyOnce: true,
      verdict: 'fail',
      failures: ['stand-in'],
      hash: '0',
      events: 0,
      injected: {},
      simMs: 0,
      wallMs: 0,
      steps: 0,
      logTail: [],
    };
    const s = await shrink(o, first, fake, 200);
    expect(s.options.faults).toEqual(['partition', 'slow-disk', 'clock-skew']);
    expect(s.options.schedule).toHaveLength(1);
    const p = s.options.schedule![0]!;
    expect(p.kind === 'partition' && p.forMs >= 40 && p.forMs < 80).toBe(true);
    expect(s.options.lines).toBe(1);
    expect(s.options.slowDiskMs).toBeGreaterThanOrEqual(3);
    expect(s.options.slowDiskMs).toBeLessThan(6);
    expect(s.options.clockSkewMs).toBeGreaterThanOrEqual(100);
    expect(s.options.clockSkewMs).toBeLessThan(200);
  });
});
