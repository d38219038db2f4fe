// specs/RecoveryChain.tla (two stateful workers in a row, the design of runtime/engine/chain.ts):
// the model checks (figures as in specs/README.md), and every deliberately broken variant is
// refuted by the property it breaks. With TLA2TOOLS_JAR set, real TLC must give the same
// verdict and figures.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, loadModel, type CheckResult } from '../../tla/index.ts';
import { javaAvailable, runTlc, tlcJar } from '../../tla/check/tlc.ts';

const specs = fileURLToPath(new URL('../../specs/', import.meta.url));
const spec = path.join(specs, 'RecoveryChain.tla');
const cfg = (name: string) => path.join(specs, `${name}.cfg`);

const holds = { cfg: 'RecoveryChain', distinctStates: 34928, depth: 33 };
const broken = [
  { cfg: 'RecoveryChain-no-dedup2', result: 'invariant', violated: 'StateIsFold' },
  { cfg: 'RecoveryChain-ack-early2', result: 'property', violated: 'EveryMessageOnce' },
  { cfg: 'RecoveryChain-no-gate', result: 'invariant', violated: 'CommittedDurable' },
] as const;

const builtin = async (name: string): Promise<CheckResult> => check(await loadModel(spec, cfg(name)));

describe('RecoveryChain (built-in checker)', () => {
  it(`${holds.cfg}.cfg: no error, ${holds.distinctStates} distinct states, depth ${holds.depth}`, async () => {
    const r = await builtin(holds.cfg);
    expect(r.error).toBeUndefined();
    expect(r.violation).toBeUndefined();
    expect(r).toMatchObject({ result: 'ok', distinctStates: holds.distinctStates, depth: holds.depth });
  }, 300_000);
  for (const m of broken) {
    it(`${m.cfg}.cfg (broken on purpose): ${m.violated} is violated`, async () => {
      const r = await builtin(m.cfg);
      expect(r.result).toBe(m.result);
      expect(r.violation?.name).toBe(m.violated);
      expect(r.violation!.trace.steps.length).toBeGreaterThan(1);
    }, 300_000);
  }
});

const noTlc =
  tlcJar() === null
    ? 'TLA2TOOLS_JAR does not name a readable tla2tools.jar'
    : !javaAvailable()
      ? 'java is not on PATH'
      : null;

describe.skipIf(noTlc !== null)(`RecoveryChain under TLC${noTlc ? ` (skipped: ${noTlc})` : ''}`, () => {
  for (const m of [holds, ...broken]) {
    it(`${m.cfg}.cfg: TLC's verdict and figures equal the built-in checker's`, async () => {
      const mine = await builtin(m.cfg);
      const tlc = await runTlc({ specFile: spec, cfgFile: cfg(m.cfg) });
      expect(tlc.outcome.result).toBe(mine.result);
      if (mine.violation) {
        expect(tlc.outcome.violation?.kind).toBe(mine.violation.kind);
        if (mine.violation.kind === 'invariant') {
          expect(tlc.outcome.violation?.name).toBe(mine.violation.name);
          expect(tlc.outcome.trace.length).toBe(mine.violation.trace.steps.length);
        }
      }
      if (mine.violation?.kind === 'liveness')
        expect(tlc.outcome.distinctStates).toBeLessThanOrEqual(mine.distinctStates);
      else expect(tlc.outcome.distinctStates).toBe(mine.distinctStates);
      if (mine.result === 'ok') expect(tlc.outcome.depth).toBe(mine.depth);
    }, 300_000);
  }
});
