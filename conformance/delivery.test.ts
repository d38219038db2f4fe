// The Delivery conformance suite: traces generated from specs/Delivery.tla at test time (edge
// cover of every model, plus seeded random walks) drive the real channel cores
// (runtime/net/channel.ts, running the Delivery machines) over a connection the adapter
// controls; at every distinct state the runtime must also refuse what the spec disables there.
// Deliberately broken variants of the core must fail, and a hostile peer's frames must reset
// the connection with a log line that names the peer and the frame.
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { formatDivergence, formatSuiteReport, runSuite } from './harness.ts';
import { DELIVERY_LARGE_MODEL, DELIVERY_MODELS, DELIVERY_MUTATIONS, deliverySuite } from './delivery.ts';
import { tlcEdgeCoverTraces, tlcUnavailable } from './tlc-traces.ts';
import type { DeliveryMutation } from '../runtime/net/channel.ts';
import { loadModel } from '../tla/index.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-delivery-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

describe('conformance: Delivery on the real channel cores', () => {
  for (const cfgFile of [...DELIVERY_MODELS, DELIVERY_LARGE_MODEL]) {
    it(`${path.basename(cfgFile)}: every edge replayed, seeded random walks too, every disabled action refused`, async () => {
      const r = await runSuite(deliverySuite({ cfgFile }), {
        traceDir,
        random: { count: 50, depth: 60, seed: 6 },
      });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(r.edgesTotal).toBeGreaterThan(0);
      expect(r.edgesCovered).toBe(r.edgesTotal);
      expect(r.tracesReplayed).toBe(r.traces);
      expect(r.randomTraces).toBe(50);
      // Refusals were tried at every distinct state (at least the local actions each time).
      expect(r.refusals).toBeGreaterThan(r.states * 3);
      expect(formatSuiteReport(r)).toMatch(/, \d+ refusals, \d+ ms: CONFORMS$/);
    }, 300_000);
  }

  const expectations: Record<DeliveryMutation, { action: RegExp; variable: string }> = {
    // A duplicate in flight is delivered again: only the refusal attempts can see it (the
    // spec's traces never deliver a duplicate).
    'no-dedup': { action: /^\(refused\) ReceiveData\(s = \d+\) \(a duplicate\)$/, variable: 'delivered' },
    'drop-unacked': { action: /^Transmit$/, variable: 'buf' },
    'resend-off-by-one': { action: /^Connect$/, variable: 'tx' },
    'forget-resume': { action: /^Connect$/, variable: 'tx' },
  };
  for (const mutation of DELIVERY_MUTATIONS) {
    it(`fails when broken: ${mutation}`, async () => {
      const r = await runSuite(deliverySuite({ mutation }), { traceDir });
      expect(r.divergence).not.toBeNull();
      const d = r.divergence!;
      expect(d.action).toMatch(expectations[mutation].action);
      expect(d.diffs.map((x) => x.variable)).toContain(expectations[mutation].variable);
      expect(formatDivergence(d)).toContain(`step ${d.step} of ${d.steps}: ${d.action}`);
      expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
    });
  }
});

// TLC's own traces: cut from its state graph (`-dump dot`), labelled by the step labeller,
// replayed the same way. Needs TLA2TOOLS_JAR and java; says so and skips otherwise.
const noTlc = tlcUnavailable();
if (noTlc !== null) console.warn(`conformance/delivery.test.ts: skipping the TLC traces: ${noTlc}`);
describe.skipIf(noTlc !== null)('conformance: Delivery on traces made by TLC', () => {
  for (const cfgFile of DELIVERY_MODELS) {
    it(`${path.basename(cfgFile)}: TLC's graph equals the built-in one, and its traces conform`, async () => {
      const suite = deliverySuite({ cfgFile });
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
