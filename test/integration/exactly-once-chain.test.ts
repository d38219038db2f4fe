// Exactly-once with two state steps in a row, on real processes: examples/count-of-counts.ts
// (`counts` keyed by word feeds `tally` keyed by count, so most updates cross from one worker's
// `counts` to another worker's `tally` through the outbox between them) on 3 `buffy node`
// processes with stores, fed by `buffy send` (acknowledged, paced), seeded SIGKILLs of workers
// and of the initializer, restarts (the chaos harness, scripts/chaos.ts, with --app). The sink
// files of all workers together must hold, for every count n, the lines `n<n> 1` ... `n<n> K`
// of the fault-free embedded run: a message of `counts` applied twice at `tally` or lost on the
// way shows as a duplicate or a gap.
import { describe, expect, it } from 'vitest';
import { formatChaos, runChaos } from '../../scripts/chaos.ts';

const onLinux = process.platform === 'linux';

describe.skipIf(!onLinux)('exactly-once state -> state (real processes, seeded SIGKILLs)', () => {
  it('count of counts on 3 workers: the tallies equal the fault-free run, no duplicate and no gap, across kills', async () => {
    const lines: string[] = [];
    const r = await runChaos({
      seed: 7,
      app: 'examples/count-of-counts.ts',
      kills: 3,
      lines: 40_000,
      source: 'tcp',
      rate: 5_000,
      log: (l) => lines.push(l),
      timeoutMs: 120_000,
    });
    const report = formatChaos(r);
    expect(r.ok, `${report}\n${lines.join('\n')}`).toBe(true);
    expect(r.kills.length, report).toBeGreaterThanOrEqual(2);
    expect(new Set(r.kills.map((k) => k.worker)).size, report).toBeGreaterThanOrEqual(2);
    // Every word occurrence is one tally update.
    expect(r.updates).toBeGreaterThan(150_000);
  }, 150_000);
});
