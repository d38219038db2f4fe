// The RecoveryChain conformance suite: traces generated from specs/RecoveryChain.tla at test time
// (edge cover of every conformance model, plus seeded random walks) replayed against the
// runtime's commit tracker and, for W1 and W2, runtime/engine/chain.ts (the chain outbox's shell,
// running machines/chain-outbox.ts) and machines/recovery-worker.ts; at every distinct state the spec's
// disabled actions must be refused. Broken variants of the machines and the shell must fail, each
// where the spec says it breaks.
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { formatDivergence, formatSuiteReport, runSuite } from './harness.ts';
import {
  RECOVERY_CHAIN_MODELS,
  RECOVERY_CHAIN_MUTATIONS,
  recoveryChainSuite,
  type RecoveryChainMutation,
} from './recovery-chain.ts';
import { SPECS_DIR } from './ack.ts';
import { tlcEdgeCoverTraces, tlcUnavailable } from './tlc-traces.ts';
import { loadModel } from '../tla/index.ts';

const traceDir = mkdtempSync(path.join(os.tmpdir(), 'buffy-recovery-chain-test-'));
afterAll(() => rmSync(traceDir, { recursive: true, force: true }));

describe('conformance: RecoveryChain on the commit tracker, the chain outbox shell and the recovery worker machine', () => {
  for (const cfgFile of RECOVERY_CHAIN_MODELS) {
    it(`${path.basename(cfgFile)}: every edge replayed, seeded random walks too, every disabled action refused`, async () => {
      const r = await runSuite(recoveryChainSuite({ cfgFile }), {
        traceDir,
        random: { count: 30, depth: 80, seed: 11 },
      });
      if (r.divergence) throw new Error(formatDivergence(r.divergence));
      expect(r.edgesTotal).toBeGreaterThan(0);
      expect(r.edgesCovered).toBe(r.edgesTotal);
      expect(r.tracesReplayed).toBe(r.traces);
      expect(r.randomTraces).toBe(30);
      expect(r.refusals).toBeGreaterThan(r.states * 5);
      expect(formatSuiteReport(r)).toMatch(/^recovery-chain: .*CONFORMS$/);
    }, 300_000);
  }

  it('refuses to replay a broken variant of the spec (that is for the checker to refute)', async () => {
    const suite = recoveryChainSuite({ cfgFile: `${SPECS_DIR}RecoveryChain-no-gate.cfg` });
    await expect(runSuite(suite, { traceDir })).rejects.toThrow(/NoGate = TRUE is a broken variant/);
  });

  // Where each broken runtime must be caught: the step (or the refusal) and the variable.
  const expectations: Record<
    RecoveryChainMutation,
    { action: RegExp; variable: string | null; error?: RegExp }
  > = {
    // A resent entry is applied again at W2.
    'no-dedup2': { action: /^W2Receive$/, variable: 'state2' },
    // W2 acknowledges what is only in memory: W2Ack where the spec has nothing durable to acknowledge.
    'ack-early2': { action: /^\(refused\) W2Ack$/, variable: 'ackW2' },
    // The outbox decides a send in W1Persist, before the commit is durable: chain.ts's ops() refuses it.
    'send-early': { action: /^W1Persist$/, variable: null, error: /W1Persist decided send/ },
    // The entry leaves the outbox as it is sent, not when W2 acknowledges it.
    'release-on-send': { action: /^W1(Persist|SendOut)$/, variable: 'out1' },
    // The sources' marks are reported while W2 has not acknowledged the entries.
    'no-gate': { action: /^\(refused\) W1Ack$/, variable: 'ackW1' },
    // A restarted W1 does not send its stored outbox again: it cannot take W1SendOut.
    'forget-resend': { action: /^W1SendOut$/, variable: null, error: /could not perform W1SendOut/ },
  };
  for (const mutation of RECOVERY_CHAIN_MUTATIONS) {
    it(`fails when broken: ${mutation}`, async () => {
      const r = await runSuite(recoveryChainSuite({ mutation }), { traceDir });
      expect(r.divergence).not.toBeNull();
      const d = r.divergence!;
      const e = expectations[mutation];
      expect(d.action).toMatch(e.action);
      if (e.variable !== null) expect(d.diffs.map((x) => x.variable)).toContain(e.variable);
      if (e.error !== undefined) expect(d.error).toMatch(e.error);
      expect(formatSuiteReport(r)).toMatch(/DIVERGED$/);
    });
  }
});

const noTlc = tlcUnavailable();
if (noTlc !== null) console.warn(`conformance/recovery-chain.test.ts: skipping the TLC traces: ${noTlc}`);
describe.skipIf(noTlc !== null)('conformance: RecoveryChain on traces made by TLC', () => {
  for (const cfgFile of RECOVERY_CHAIN_MODELS) {
    it(`${path.basename(cfgFile)}: TLC's graph equals the built-in one, and its traces conform`, async () => {
      const suite = recoveryChainSuite({ cfgFile });
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
