// Temporal conjuncts of a SPECIFICATION other than [][Next]_v and WF/SF are assumptions of
// the liveness check, as in TLC (tlaplus/Examples' FiniteMonotonic uses <>[][A]_v).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { check } from '../../../tla/check/checker.ts';
import { parseCfg } from '../../../tla/check/cfg.ts';
import { modelFromConfig } from '../../../tla/check/model.ts';
import { loadSpec } from '../../../tla/parse/index.ts';

const specFile = path.join(import.meta.dirname, 'models', 'SpecAssumption.tla');

async function run(spec: string, property: string) {
  const cfg = parseCfg(`SPECIFICATION ${spec}\nPROPERTY ${property}\n`, 'inline.cfg');
  return check(modelFromConfig(await loadSpec(specFile), specFile, null, cfg));
}

describe('temporal assumptions in the SPECIFICATION', () => {
  it('a property that needs the assumption holds under it and fails without it', async () => {
    const assumed = await run('EventuallyMoving', 'ReachesThree');
    expect(assumed).toMatchObject({ result: 'ok', distinctStates: 4, statesGenerated: 5, depth: 4 });
    const unfair = await run('Unfair', 'ReachesThree');
    expect(unfair.result).toBe('property');
  });

  it('a property the assumption does not imply is still violated, by a behaviour that satisfies it', async () => {
    const r = await run('EventuallyMoving', 'SettlesAtZero');
    expect(r.result).toBe('property');
    // The counterexample satisfies the assumption: it ends in a cycle of real steps (not in
    // stuttering, which a lasso without the assumption may do), through all four states.
    const t = r.violation!.trace;
    expect(t.stuttering).toBeUndefined();
    expect(t.loopsTo).toBeDefined();
    const cycle = t.steps.slice(t.loopsTo).map((s) => s.state[0] as number);
    expect(new Set(cycle)).toEqual(new Set([0, 1, 2, 3]));
  });
});
