// specs/Ack.tla and specs/Recovery.tla: every model of the protocol checks (figures as in
// specs/README.md), and every deliberately broken variant is refuted by the property it
// breaks. With TLA2TOOLS_JAR set, real TLC must give the same verdict and figures.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, loadModel, type CheckResult } from '../../tla/index.ts';
import { javaAvailable, runTlc, tlcJar } from '../../tla/check/tlc.ts';

const specs = fileURLToPath(new URL('../../specs/', import.meta.url));

interface Holds {
  readonly spec: string;
  readonly cfg: string;
  readonly distinctStates: number;
  readonly depth: number;
}
interface Broken {
  readonly spec: string;
  readonly cfg: string;
  readonly result: 'invariant' | 'property';
  readonly violated: string;
}

const holds: readonly Holds[] = [
  { spec: 'Ack', cfg: 'Ack', distinctStates: 601, depth: 20 },
  { spec: 'Ack', cfg: 'Ack-msgs2', distinctStates: 16226, depth: 34 },
  { spec: 'Recovery', cfg: 'Recovery', distinctStates: 1443, depth: 22 },
  { spec: 'Recovery', cfg: 'Recovery-crashes2', distinctStates: 2861, depth: 23 },
];
const broken: readonly Broken[] = [
  { spec: 'Ack', cfg: 'Ack-ack-early', result: 'invariant', violated: 'NothingAckedLost' },
  { spec: 'Ack', cfg: 'Ack-commit-early', result: 'invariant', violated: 'NothingAckedLost' },
  { spec: 'Recovery', cfg: 'Recovery-no-dedup', result: 'invariant', violated: 'StateIsFold' },
  {
    spec: 'Recovery',
    cfg: 'Recovery-sink-no-dedup',
    result: 'invariant',
    violated: 'SinkNoDuplicate',
  },
  { spec: 'Recovery', cfg: 'Recovery-ack-early', result: 'property', violated: 'EveryMessageOnce' },
];

const files = (m: { spec: string; cfg: string }) => ({
  specFile: path.join(specs, `${m.spec}.tla`),
  cfgFile: path.join(specs, `${m.cfg}.cfg`),
});

async function builtin(m: { spec: string; cfg: string }): Promise<CheckResult> {
  const { specFile, cfgFile } = files(m);
  return check(await loadModel(specFile, cfgFile));
}

describe('Ack and Recovery models (built-in checker)', () => {
  for (const m of holds) {
    it(`${m.cfg}.cfg: no error, ${m.distinctStates} distinct states, depth ${m.depth}`, async () => {
      const r = await builtin(m);
      expect(r.error).toBeUndefined();
      expect(r.violation).toBeUndefined();
      expect(r).toMatchObject({ result: 'ok', distinctStates: m.distinctStates, depth: m.depth });
    }, 60_000);
  }
  for (const m of broken) {
    it(`${m.cfg}.cfg (broken on purpose): ${m.violated} is violated`, async () => {
      const r = await builtin(m);
      expect(r.result).toBe(m.result);
      expect(r.violation?.name).toBe(m.violated);
      expect(r.violation!.trace.steps.length).toBeGreaterThan(1);
    }, 60_000);
  }
});

const noTlc =
  tlcJar() === null
    ? 'TLA2TOOLS_JAR does not name a readable tla2tools.jar'
    : !javaAvailable()
      ? 'java is not on PATH'
      : null;

describe.skipIf(noTlc !== null)(
  `Ack and Recovery models under TLC${noTlc ? ` (skipped: ${noTlc})` : ''}`,
  () => {
    for (const m of [...holds, ...broken]) {
      it(`${m.cfg}.cfg: TLC's verdict, distinct states (at most ours for a liveness violation), and depth or counterexample length equal the built-in checker's`, async () => {
        const [mine, tlc] = await Promise.all([builtin(m), runTlc(files(m))]);
        expect(tlc.outcome.result).toBe(mine.result);
        if (mine.violation) {
          expect(tlc.outcome.violation?.kind).toBe(mine.violation.kind);
          if (mine.violation.kind === 'invariant') {
            expect(tlc.outcome.violation?.name).toBe(mine.violation.name);
            // both find a shortest counterexample (breadth-first)
            expect(tlc.outcome.trace.length).toBe(mine.violation.trace.steps.length);
          }
        }
        if (mine.violation?.kind === 'liveness') {
          // TLC also checks temporal properties on the part of the graph found so far, and may
          // report the violation before its search ends; the built-in checker searches first.
          expect(tlc.outcome.distinctStates).toBeLessThanOrEqual(mine.distinctStates);
        } else expect(tlc.outcome.distinctStates).toBe(mine.distinctStates);
        if (mine.result === 'ok') expect(tlc.outcome.depth).toBe(mine.depth);
      }, 120_000);
    }
  },
);
