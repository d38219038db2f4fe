// Trace validation against specs/Recovery.tla (conformance/trace-validation-recovery.ts):
// simulated runs of a 3-worker word count record every worker's exactly-once core; mapped per
// (worker, stream) onto Recovery's variables, clean runs under every fault kind are behaviours
// of the spec, and the simulator's broken variants of exactly-once (`no-dedup`: a recovering
// worker forgets its watermarks; `store-not-atomic`: a commit in flight at a crash lands in
// part) produce a step the spec does not allow, reported at the recovery with its states.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SIM_FAULTS, simulate } from '../runtime/sim/cluster.ts';
import type { SimOptions } from '../runtime/sim/cluster.ts';
import { MemoryRecorder } from '../runtime/sim/record.ts';
import type { ProtocolRecord } from '../runtime/sim/record.ts';
import { formatViolation, parseProtocolLogs } from './trace-validation.ts';
import {
  formatRecoverySummary,
  validateRecovery,
  type RecoveryValidation,
} from './trace-validation-recovery.ts';

const APP = fileURLToPath(new URL('../examples/word-count.ts', import.meta.url));

function options(seed: number, extra: Partial<SimOptions> = {}): SimOptions {
  return {
    appPath: APP,
    params: { top: '0', partitions: '16' },
    workers: 3,
    seed,
    lines: 160,
    faults: [...SIM_FAULTS],
    ...extra,
  };
}

async function recordedRun(
  seed: number,
  extra: Partial<SimOptions> = {},
): Promise<{ records: ProtocolRecord[]; report: RecoveryValidation; hash: string }> {
  const recorder = new MemoryRecorder();
  const r = await simulate({ ...options(seed, extra), recorder });
  return { records: recorder.records, report: await validateRecovery(recorder.records), hash: r.hash };
}

/** The first seed in from..to whose run has a Recovery violation. */
async function firstViolating(
  from: number,
  to: number,
  extra: Partial<SimOptions>,
): Promise<{ seed: number; report: RecoveryValidation } | null> {
  for (let seed = from; seed <= to; seed++) {
    const { report } = await recordedRun(seed, extra);
    if (report.violations.length > 0) return { seed, report };
  }
  return null;
}

describe('trace validation of simulated runs against Recovery', () => {
  it('runs under every fault kind (crashes, torn writes and fsync loss included) are behaviours of the spec', async () => {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3]) {
      const { records, report } = await recordedRun(seed);
      expect(report.violations.map((v) => formatViolation(v, seed))).toEqual([]);
      expect(report.records).toBeGreaterThan(100);
      expect(records.filter((r) => r.p === 'recovery').length).toBe(report.records);
      // One instance per (worker, stream): the source worker's own share and the state step's
      // stream on each of the other two workers.
      expect(report.instances.map((i) => i.instance).sort()).toEqual([
        'recovery w1 stream 0',
        'recovery w2 stream 3',
        'recovery w3 stream 3',
      ]);
      for (const i of report.instances) {
        expect(i.constants.Msgs).toBe(160);
        for (const a of Object.keys(i.actions)) seen.add(a);
      }
    }
    for (const a of [
      'SourceSend',
      'WorkerReceive',
      'WorkerPersist',
      'WorkerAck',
      'WorkerSendOut',
      'SinkReceive',
      'WorkerReceiveSinkAck',
      'CrashWorker',
      'CrashSource',
    ])
      expect(seen, `no step was ${a}`).toContain(a);
  }, 120_000);

  it('recording the exactly-once cores does not change the run (same event-log hash)', async () => {
    const plain = await simulate(options(2));
    const { hash } = await recordedRun(2);
    expect(hash).toBe(plain.hash);
  }, 60_000);

  it('finds the mutation no-dedup: the recovery whose mark is not the durable one', async () => {
    const found = await firstViolating(1, 10, { mutation: 'no-dedup' });
    expect(found, 'no-dedup: no violation in seeds 1..10').not.toBeNull();
    const v = found!.report.violations[0]!;
    expect(v.spec).toBe('Recovery');
    expect(v.cause?.ev).toBe('Recover');
    expect(v.note).toMatch(/the recovered mark of stream \d+ is -1, the commit it recovered wrote \d+/);
    expect(v.changed.map((c) => c[0])).toContain('mark');
    expect(v.closest[0]).toEqual({ action: 'CrashWorker()', differ: ['mark'] });
    expect(formatViolation(v, found!.seed)).toMatch(
      /recovery w\d stream \d+: step \d+ is not a step of Recovery's next-state relation \(seed \d+\)/,
    );
  }, 180_000);

  it('finds the mutation store-not-atomic: a recovered store that no commit wrote', async () => {
    const found = await firstViolating(1, 15, { mutation: 'store-not-atomic' });
    expect(found, 'store-not-atomic: no violation in seeds 1..15').not.toBeNull();
    const v = found!.report.violations[0]!;
    expect(v.cause?.ev).toBe('Recover');
    expect(v.note).toMatch(/is not the last durable commit's .* nor the one in flight at the crash's/);
    expect(v.after).toMatch(/state = \[recovered \|-> "a store image no commit wrote"\]/);
    expect(v.closest[0]?.action).toBe('CrashWorker()');
    expect(v.closest[0]?.differ).toContain('state');
  }, 240_000);

  it('an acknowledgement of more than is durable, forged into a record, is a step no action allows', async () => {
    const { records } = await recordedRun(1);
    const i = records.findIndex(
      (r, k) => k > 50 && r.p === 'recovery' && r.ev === 'WorkerAck' && r.end === 'w2',
    );
    expect(i).toBeGreaterThan(0);
    const r = records[i]! as Extract<ProtocolRecord, { ev: 'WorkerAck' }>;
    const marks = Object.fromEntries(Object.entries(r.marks).map(([k, m]) => [k, m + 5]));
    const forged = [...records];
    forged[i] = { ...r, marks };
    const report = await validateRecovery(forged);
    expect(report.violations).toHaveLength(1);
    const v = report.violations[0]!;
    expect(v.instance).toBe('recovery w2 stream 3');
    expect(v.cause?.n).toBe(r.n);
    expect(v.changed.map((c) => c[0])).toEqual(['ackW']);
    expect(v.closest.map((c) => c.action)).toContain('WorkerAck()');
  }, 60_000);

  it('a stream longer than the limit is reported as not checked, never passed', async () => {
    const { records } = await recordedRun(2);
    const r = await validateRecovery(records, { maxOffsets: 100 });
    expect(r.instances).toEqual([]);
    expect(r.unchecked.map((u) => [u.instance, u.offsets]).sort()).toEqual([
      ['recovery w1 stream 0', 160],
      ['recovery w2 stream 3', 160],
      ['recovery w3 stream 3', 160],
    ]);
    expect(formatRecoverySummary(r)).toMatch(/NOT CHECKED: .*longer than 100 offsets/);
  }, 60_000);

  it('the records as per-process JSON lines (real processes) validate as in memory', async () => {
    const { records, report } = await recordedRun(3);
    const byWorker = new Map<string, string[]>();
    records.forEach((r, k) => {
      const lines = byWorker.get(r.end) ?? [];
      lines.push(JSON.stringify({ ...r, t: k }));
      byWorker.set(r.end, lines);
    });
    const merged = parseProtocolLogs(
      [...byWorker].map(([w, ls]) => ({ file: `${w}.jsonl`, text: ls.join('\n') })),
    );
    const again = await validateRecovery(merged);
    expect(again.violations).toEqual([]);
    expect(again.steps).toBe(report.steps);
  }, 60_000);
});
