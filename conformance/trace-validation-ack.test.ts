// Trace validation of the ack tracker (conformance/trace-validation-ack.ts): the commit tracker's
// records, mapped onto specs/Ack.tla's variables, are a behaviour of the spec in simulated runs
// of a 3-worker word count under every fault kind; the tracker's `commit-early` mutation, a
// release no worker's report covers and a tracker driven by hand are reported at the step,
// with its note; records written as JSON lines (buffy node --protocol-log) validate as well.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SIM_FAULTS, simulate } from '../runtime/sim/cluster.ts';
import type { SimOptions } from '../runtime/sim/cluster.ts';
import { JsonLinesRecorder, MemoryRecorder } from '../runtime/sim/record.ts';
import type { ProtocolRecord, TrackerRecord } from '../runtime/sim/record.ts';
import { SourceCommitTracker } from '../runtime/engine/source-commit.ts';
import { CoordinatorCore } from '../runtime/cluster/coordinator-core.ts';
import { formatViolation, parseProtocolLogs } from './trace-validation.ts';
import { compactLabels, formatAckSummary, validateAckRecords } from './trace-validation-ack.ts';

const APP = fileURLToPath(new URL('../examples/word-count.ts', import.meta.url));

async function recordedRun(seed: number, extra: Partial<SimOptions> = {}) {
  const recorder = new MemoryRecorder();
  const report = await simulate({
    appPath: APP,
    params: { top: '0', partitions: '16' },
    workers: 3,
    seed,
    lines: 160,
    faults: [...SIM_FAULTS],
    recorder,
    ...extra,
  });
  return { sim: report, records: recorder.records, v: await validateAckRecords(recorder.records) };
}

type Tracked = TrackerRecord & ProtocolRecord;
const isTracker = (r: ProtocolRecord): r is Tracked => r.p === 'ack';

describe('trace validation of the ack tracker against Ack', () => {
  it('simulated runs under every fault kind are behaviours of the spec', async () => {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
      const { sim, records, v } = await recordedRun(seed);
      expect(sim.verdict).toBe('pass');
      expect(v.violations.map((x) => formatViolation(x, seed))).toEqual([]);
      expect(v.instances.map((i) => i.instance)).toEqual(['ack source 0']);
      const i = v.instances[0]!;
      // Every offset of the run read, acknowledged and committed: Msgs is the run's.
      expect(i.constants.Msgs).toBe(160);
      expect(i.actions.SourceCommit).toBe(160);
      expect(i.records).toBe(records.filter(isTracker).length);
      for (const a of Object.keys(i.actions)) seen.add(a);
    }
    for (const a of [
      'SourceRead',
      'SourceSend',
      'WorkerReceive',
      'WorkerPersist',
      'WorkerAck',
      'SourceReceiveAck',
      'SourceCommit',
      'CrashWorker',
      'CrashSource',
    ])
      expect(seen).toContain(a);
  }, 180_000);

  it("the tracker's commit-early mutation is reported at the SourceCommit step", async () => {
    let found: string | null = null;
    for (let seed = 1; seed <= 4 && found === null; seed++) {
      const { v } = await recordedRun(seed, { mutation: 'commit-early' });
      const x = v.violations[0];
      if (!x) continue;
      expect(x.spec).toBe('Ack');
      expect(x.cause?.ev).toBe('SourceCommit');
      expect(x.changed.map((c) => c[0])).toEqual(['offset']);
      expect(x.note).toMatch(/committed while the tracker still keeps it/);
      expect(x.enabled).not.toContain('SourceCommit()');
      found = formatViolation(x, seed);
    }
    expect(found).toMatch(/step \d+ is not a step of Ack's next-state relation/);
  }, 120_000);

  it('a release of an offset no worker reported durable is a step no action allows', async () => {
    const { records } = await recordedRun(4, { faults: [] });
    // The first read of several offsets, before any report: forge it to keep one fewer.
    const i = records.findIndex((r) => isTracker(r) && r.ev === 'SourceRead' && r.kept[2] >= 2);
    expect(i).toBeGreaterThan(0);
    const r = records[i] as Tracked;
    const forged = [...records];
    forged[i] = { ...r, kept: [r.kept[0] + 1, r.kept[1], r.kept[2] - 1] };
    const v = await validateAckRecords(forged);
    expect(v.violations).toHaveLength(1);
    const x = v.violations[0]!;
    expect(x.cause?.n).toBe(r.n);
    expect(x.note).toMatch(new RegExp(`released offset ${r.kept[0]}, which not every registered worker`));
    expect(x.changed.map((c) => c[0])).toEqual(['kept']);
  }, 60_000);

  it('a tracker driven by hand: restarts, rewinds and reports validate; committing early does not', async () => {
    const drive = (): ProtocolRecord[] => {
      const rec = new MemoryRecorder();
      const recorder = rec.forCore({ end: 'w1', peer: '', link: 'tracker', inc: 0 });
      const opts = { sources: 2, workers: ['w1', 'w2'], recorder };
      let t = new SourceCommitTracker(opts);
      t.read(0, 5);
      t.read(1, 2);
      t.report('w1', { 0: 3, 1: 2 });
      t.report('w2', { 0: 1, 1: 2 }); // commits source 0 to 1, source 1 to 2
      t.workerRestarted('w2'); // both sources again from committed + 1
      t.read(0, 4);
      t.report('w2', { 0: 4, 1: 2 }); // source 0 to 3 (w1's mark)
      // The coordinator restarts: a fresh tracker, the workers register with their marks.
      t = new SourceCommitTracker(opts);
      t.read(0, 6);
      t.read(1, 2);
      t.report('w1', { 0: 6, 1: 2 });
      t.report('w2', { 0: 5, 1: 2 });
      return rec.records;
    };
    const ok = await validateAckRecords(drive());
    expect(ok.violations.map((x) => formatViolation(x))).toEqual([]);
    expect(ok.instances.map((i) => [i.instance, i.constants])).toEqual([
      ['ack source 0', { Msgs: 7, MaxCrashes: 3 }],
      ['ack source 1', { Msgs: 3, MaxCrashes: 3 }],
    ]);
    expect(ok.instances[0]!.actions).toMatchObject({ SourceCommit: 6, CrashWorker: 1, CrashSource: 2 });
    expect(formatAckSummary(ok)).toMatch(/^trace validation: Ack: 2 instances, \d+ steps .* 0 violations/);

    const rec = new MemoryRecorder();
    const broken = new SourceCommitTracker({
      sources: 2,
      workers: ['w1', 'w2'],
      recorder: rec.forCore({ end: 'w1', peer: '', link: 'tracker', inc: 0 }),
      mutation: 'commit-early',
    });
    broken.read(0, 5);
    broken.read(1, 2);
    broken.report('w1', { 0: 3, 1: 2 });
    const bad = await validateAckRecords(rec.records);
    // w1's first report commits both sources to what they read, w2 having reported nothing.
    expect(bad.violations.map((x) => [x.instance, x.cause?.ev, x.cause?.n])).toEqual([
      ['ack source 0', 'SourceCommit', expect.any(Number)],
      ['ack source 1', 'SourceCommit', expect.any(Number)],
    ]);
  });

  it("the coordinator's core tells the tracker of the replay after a worker's restart", async () => {
    // Before the core followed the tracker's rewind, the replay's reads below the old read
    // never reached the tracker, and the next commit was beyond what it said it read.
    const rec = new MemoryRecorder();
    const c = new CoordinatorCore({
      sources: 1,
      nowMs: () => 0,
      where: 'the test',
      recorder: rec.forCore({ end: 'w1', peer: '', link: 'tracker', inc: 0 }),
    });
    for (const w of ['w1', 'w2']) c.register(w, `${w}#1`);
    c.formTracker(['w1', 'w2']);
    c.read(0, 9);
    c.report('w1', { 0: 9 });
    c.report('w2', { 0: 3 }); // commits 3
    expect(c.register('w2', 'w2#2')).toBe('restarted');
    expect(c.roundDone({ isUp: () => true, exactlyOnce: true, sourcesStopped: false })).toMatchObject([
      { t: 'rewind', to: { 0: 4 } },
    ]);
    c.read(0, 6); // the replay, below the old read
    expect(c.report('w2', { 0: 6 })).toEqual([{ t: 'committed', committed: { 0: 6 } }]);
    const v = await validateAckRecords(rec.records);
    expect(v.violations.map((x) => formatViolation(x))).toEqual([]);
    expect(v.instances[0]!.actions).toMatchObject({ SourceCommit: 7, CrashWorker: 1, CrashSource: 1 });
  });

  it('protocol logs (JSON lines) validate as the records do', async () => {
    const lines: string[] = [];
    let clock = 0;
    const log = new JsonLinesRecorder(
      (l) => lines.push(l),
      () => clock++,
    );
    const t = new SourceCommitTracker({
      sources: 1,
      workers: ['w1', 'w2'],
      recorder: log.forCore({ worker: 'w1', incarnation: 0 }),
    });
    t.read(0, 9);
    t.report('w2', { 0: 9 });
    t.report('w1', { 0: 9 });
    const records = parseProtocolLogs([{ file: 'w1.jsonl', text: lines.join('') }]);
    const v = await validateAckRecords(records);
    expect(v.violations).toEqual([]);
    expect(v.instances[0]!.actions).toMatchObject({ SourceRead: 10, SourceReceiveAck: 10, SourceCommit: 10 });
  });

  it('an instance too large for explicit states is said not validated, not passed', async () => {
    const { records } = await recordedRun(4, { faults: [] });
    const v = await validateAckRecords(records, { maxElements: 500 });
    expect(v.instances).toEqual([]);
    expect(v.notValidated.map((x) => x.instance)).toEqual(['ack source 0']);
    expect(v.notValidated[0]!.why).toMatch(
      /more than 500 set elements by record \d+ \(the tracker keeps up to \d+ offsets/,
    );
    expect(formatAckSummary(v)).toMatch(/ack source 0 \(\d+ records\) NOT validated/);
  }, 60_000);

  it('folds runs of enabled actions for the report', () => {
    expect(
      compactLabels([
        'SourceRead()',
        'SourceSend(m=1)',
        'SourceSend(m=2)',
        'SourceSend(m=4)',
        'CrashSource()',
      ]),
    ).toEqual(['SourceRead()', 'SourceSend(m=1..2)', 'SourceSend(m=4)', 'CrashSource()']);
  });
});
