// The Ack conformance suite: traces generated from specs/Ack.tla at test time (edge cover of
// every model, plus seeded random walks), the source role replayed against the runtime's commit
// tracker (runtime/engine/source-commit.ts), the worker and sink roles on ackWorkerMachine; at
// every distinct state the spec's disabled actions must be refused. Broken variants must fail:
// the tracker committing before the acknowledgement, the worker acknowledging before its write.
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { formatDivergence, formatSuiteReport, runSuite } from './harness.ts';
import { ACK_LARGE_MODEL, ACK_MODELS, ACK_MUTATIONS, ackSuite, type AckMutation } from './ack.ts';
import { tlcEdgeCoverTraces, tlcUnavailable } from './tlc-traces.ts';
import { loadModel } from '../tla/index.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-ack-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

describe('conformance: Ack on the commit tracker and the worker machine', () => {
  for (const cfgFile of [...ACK_MODELS, ACK_LARGE_MODEL]) {
    it(`${path.basename(cfgFile)}: every edge replayed, seeded random walks too, every disabled action refused`, async () => {
      const r = await runSuite(ackSuite({ cfgFile }), {
        traceDir,
        random: { count: 30, depth: 60, seed: 7 },
      });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(r.edgesTotal).toBeGreaterThan(0);
      expect(r.edgesCovered).toBe(r.edgesTotal);
      expect(r.tracesReplayed).toBe(r.traces);
      expect(r.randomTraces).toBe(30);
      // At every distinct state, at least the disabled instances among 13 actions were tried.
      expect(r.refusals).toBeGreaterThan(r.states * 5);
      expect(formatSuiteReport(r)).toMatch(/, \d+ refusals, \d+ ms: CONFORMS$/);
    }, 300_000);
  }

  const expectations: Record<AckMutation, { action: RegExp; variable: string }> = {
    // Only the refusal attempts can see these: the spec's traces never take a disabled step.
    'commit-early': { action: /^\(refused\) SourceCommit$/, variable: 'offset' },
    'ack-early': { action: /^\(refused\) WorkerAck\(m = \d+\)$/, variable: 'acksW' },
  };
  for (const mutation of ACK_MUTATIONS) {
    it(`fails when broken: ${mutation}`, async () => {
      const r = await runSuite(ackSuite({ mutation }), { traceDir });
      expect(r.divergence).not.toBeNull();
      const d = r.divergence!;
      expect(d.action).toMatch(expectations[mutation].action);
      expect(d.diffs.map((x) => x.variable)).toContain(expectations[mutation].variable);
      expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
    });
  }

  it("refuses the broken variants' models: they are the checker's to refute", async () => {
    const cfgFile = path.join(path.dirname(ACK_MODELS[0]!), 'Ack-commit-early.cfg');
    await expect(runSuite(ackSuite({ cfgFile }), { traceDir })).rejects.toThrow(
      /CommitEarly = TRUE is a broken variant of the spec/,
    );
  });
});

// TLC's own traces: cut from its state graph, labelled by the step labeller, replayed the same
// way. Needs TLA2TOOLS_JAR and java; says so and skips otherwise.
const noTlc = tlcUnavailable();
if (noTlc !== null) console.warn(`conformance/ack.test.ts: skipping the TLC traces: ${noTlc}`);
describe.skipIf(noTlc !== null)('conformance: Ack on traces made by TLC', () => {
  for (const cfgFile of ACK_MODELS) {
    it(`${path.basename(cfgFile)}: TLC's graph equals the built-in one, and its traces conform`, async () => {
      const suite = ackSuite({ cfgFile });
      const cm = await loadModel(suite.specFile, suite.cfgFile);
      const t = await tlcEdgeCoverTraces(cm, suite.specFile, suite.cfgFile);
      const r = await runSuite(suite, { traceDir, noCover: true, moreTraces: t.traces, tracesFrom: 'TLC' });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(t.states).toBe(r.states);
      expect(t.edges).toBe(r.edgesTotal);
      expect(r.givenTraces).toBe(t.traces.length);
      expect(r.edgesCovered).toBe(r.edgesTotal);
    }, 300_000);
  }
});
