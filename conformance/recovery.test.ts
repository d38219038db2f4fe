// The Recovery conformance suite: traces generated from specs/Recovery.tla at test time (edge
// cover of every model, plus seeded random walks), the source role replayed against the
// runtime's commit tracker, the worker role against machines/recovery-worker.ts (the core of
// runtime/engine/exactly-once.ts) with the adapter as its shell; at every distinct state the
// spec's disabled actions must be refused. Broken variants of the machine, the shell and the
// tracker must fail.
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { formatDivergence, formatSuiteReport, runSuite } from './harness.ts';
import { RECOVERY_MODELS, RECOVERY_MUTATIONS, recoverySuite, type RecoveryMutation } from './recovery.ts';
import { tlcEdgeCoverTraces, tlcUnavailable } from './tlc-traces.ts';
import { loadModel } from '../tla/index.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-recovery-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

describe('conformance: Recovery on the commit tracker and the recovery worker machine', () => {
  for (const cfgFile of RECOVERY_MODELS) {
    it(`${path.basename(cfgFile)}: every edge replayed, seeded random walks too, every disabled action refused`, async () => {
      const r = await runSuite(recoverySuite({ cfgFile }), {
        traceDir,
        random: { count: 30, depth: 60, seed: 7 },
      });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(r.edgesTotal).toBeGreaterThan(0);
      expect(r.edgesCovered).toBe(r.edgesTotal);
      expect(r.tracesReplayed).toBe(r.traces);
      expect(r.randomTraces).toBe(30);
      expect(r.refusals).toBeGreaterThan(r.states * 3);
      expect(formatSuiteReport(r)).toMatch(/^recovery: .*CONFORMS$/);
    }, 300_000);
  }

  const expectations: Record<RecoveryMutation, { action: RegExp; variable: string | null }> = {
    'no-dedup': { action: /^WorkerReceive$/, variable: 'state' },
    'ack-early': { action: /^\(refused\) WorkerAck$/, variable: 'ackW' },
    'non-atomic-write': { action: /^WorkerPersist$/, variable: 'dState' },
    'commit-early': { action: /^\(refused\) SourceReceiveAck$/, variable: 'committed' },
    // The tracker's rewind point is wrong: the adapter's mapping refuses it (no variable diff).
    'forget-rewind': { action: /^CrashWorker$/, variable: null },
  };
  for (const mutation of RECOVERY_MUTATIONS) {
    it(`fails when broken: ${mutation}`, async () => {
      const r = await runSuite(recoverySuite({ mutation }), { traceDir });
      expect(r.divergence).not.toBeNull();
      const d = r.divergence!;
      expect(d.action).toMatch(expectations[mutation].action);
      const v = expectations[mutation].variable;
      if (v === null) expect(d.error).toMatch(/the rewind point is \d+, not committed \+ 1/);
      else expect(d.diffs.map((x) => x.variable)).toContain(v);
      expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
    });
  }
});

const noTlc = tlcUnavailable();
if (noTlc !== null) console.warn(`conformance/recovery.test.ts: skipping the TLC traces: ${noTlc}`);
describe.skipIf(noTlc !== null)('conformance: Recovery on traces made by TLC', () => {
  for (const cfgFile of RECOVERY_MODELS) {
    it(`${path.basename(cfgFile)}: TLC's graph equals the built-in one, and its traces conform`, async () => {
      const suite = recoverySuite({ cfgFile });
      const cm = await loadModel(suite.specFile, suite.cfgFile);
      const t = await tlcEdgeCoverTraces(cm, suite.specFile, suite.cfgFile);
      const r = await runSuite(suite, { traceDir, noCover: true, moreTraces: t.traces, tracesFrom: 'TLC' });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(t.states).toBe(r.states);
      expect(t.edges).toBe(r.edgesTotal);
      expect(r.edgesCovered).toBe(r.edgesTotal);
    }, 300_000);
  }
});
